"""The Image tab's event function called directly (no server), on a tiny random model with a mask head."""

import re

import cv2
import numpy as np
import pytest
import scipy.special
from demo_fixtures import no_mask_engine, png, report, shipped_engine, tiny_engine

from demo import image, text
from demo.engine import Engine
from demo.image import analyze_image
from jrc.detector import Detector
from jrc.report import record


@pytest.fixture(scope="module")
def engine():
    return tiny_engine()


def under_badge(verdict: str) -> str:
    """The verdict text under the badge, cautions and the size note left out."""
    return verdict.split("</div>", 1)[1].strip().split("\n\n")[0]


def test_image_one_face(engine, astronaut, tmp_path):
    out = analyze_image(engine, png(tmp_path / "astro.png", astronaut))
    rec = report(out)
    assert rec == out.record and set(rec) == set(record("x", "image", 0.5))  # the `jrc scan` fields
    assert rec["status"] == "ok" and rec["path"] == "astro.png" and len(rec["faces"]) == 1
    assert 0.0 <= rec["score"] <= 1.0
    assert out.faces["P(fake)"].tolist() == [f"{rec['score']:.2f}"]  # one precision everywhere
    assert out.annotated.shape == astronaut.shape
    s = engine.detector.input_size
    assert out.panels.shape == (34 + s + 52 + 6, 4 * s + 5 * 6, 3)
    mask_tile = out.panels[36:36 + s, 6 + 3 * (s + 6):6 + 3 * (s + 6) + s]
    assert (mask_tile == 60).mean() < 0.5  # a real mask overlay, not the "no mask head" placeholder
    assert f"P(fake) {rec['score']:.2f}" in out.verdict
    assert under_badge(out.verdict) == "One face found; the threshold is 0.50."
    assert rec["warnings"] == [] and "Caution" not in out.verdict


def test_verdict_is_short_and_the_rest_is_in_about(engine, astronaut, tmp_path):
    two = np.concatenate([astronaut, astronaut], axis=1)
    out = analyze_image(engine, png(tmp_path / "two.png", two))
    assert len(out.record["faces"]) == 2
    line = under_badge(out.verdict)
    assert len(re.findall(r"[.;](\s|$)", line)) <= 2 and "highest face score" in line
    about = text.about_image(engine)
    assert "threshold 0.50" in about and "Forgery mask" in about and "Residual" in about


def test_image_small_face_is_scored_with_a_caution(engine, astronaut, tmp_path):
    small = cv2.resize(astronaut, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # face ~47 px
    out = analyze_image(engine, png(tmp_path / "small.png", small))
    assert out.record["status"] == "ok" and len(out.record["faces"]) == 1
    (warning,) = out.record["warnings"]
    assert warning.startswith("face #1 is small") and f"**Caution**: {warning}" in out.verdict


def test_image_heavy_jpeg_is_scored_with_a_caution(engine, astronaut, tmp_path):
    path = tmp_path / "astro.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 40])
    out = analyze_image(engine, str(path))
    assert out.record["status"] == "ok" and 0.0 <= out.record["score"] <= 1.0
    (warning,) = out.record["warnings"]
    assert "quality ~40" in warning and f"**Caution**: {warning}" in out.verdict


def test_tta_engine_scores_the_mirror_too_and_says_so(astronaut, tmp_path):
    """``python app.py --tta``: scores are flip-averaged and the report says so (the shipped
    model: the tiny random one scores every input alike)."""
    plain = shipped_engine()
    d = plain.detector
    flip = Engine(Detector(d.runner, d.threshold, face_model=d.face_model, meta=d.meta, tta=True))
    a, b = (analyze_image(e, png(tmp_path / "astro.png", astronaut)) for e in (plain, flip))
    assert (report(a)["tta"], report(b)["tta"]) == (False, True)
    logit = [float(scipy.special.logit(r.record["score"])) for r in (a, b)]
    assert abs(logit[1] - logit[0]) > 1e-3  # logits: scores near 0 or 1 saturate


def test_image_no_face(engine, no_face_image, tmp_path):
    out = analyze_image(engine, png(tmp_path / "coffee.png", no_face_image))
    assert out.record["status"] == "no_face" and out.record["score"] is None
    assert "No face found" in out.verdict and out.panels is None and out.faces.empty
    assert report(out)["status"] == "no_face"


def test_image_nothing_uploaded(engine):
    out = analyze_image(engine, None)
    assert out.annotated is None and out.report is None and out.verdict == text.NO_IMAGE


@pytest.mark.parametrize("name", ["empty", "truncated", "text_mp4"])
def test_image_bad_files_get_messages(engine, bad_files, name):
    path = bad_files[name]
    out = analyze_image(engine, str(path))
    assert out.annotated is None and "Could not analyse" in out.verdict
    assert out.record["status"] == "error" and out.record["error"].startswith(path.name + ":")
    assert str(path.parent) not in out.verdict  # the server's temp path is not shown
    assert report(out)["error"] == out.record["error"]


def test_video_in_the_image_tab(engine, astronaut_video):
    out = analyze_image(engine, str(astronaut_video))
    assert out.record["error"] == f"{astronaut_video.name}: this is a video; use the Video tab"


def test_image_non_image_upload(engine, tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello\n" * 20)
    out = analyze_image(engine, str(p))
    assert "not a readable image" in out.verdict and out.record["status"] == "error"


def test_image_internal_error_is_a_message(engine, astronaut, tmp_path, monkeypatch):
    def broken(rgb, decoder=True):
        raise RuntimeError(f"boom in {tmp_path}/x")

    monkeypatch.setattr(engine, "analyze", broken)
    out = analyze_image(engine, png(tmp_path / "a.png", astronaut))
    assert out.record["error"] == "a.png: internal error (RuntimeError: boom in x)"


def test_image_8k(engine, astronaut, tmp_path):
    big = cv2.resize(astronaut, (7680, 4320), interpolation=cv2.INTER_NEAREST)
    out = analyze_image(engine, png(tmp_path / "8k.jpg", big))
    assert out.record["status"] in ("ok", "no_face")
    assert max(out.annotated.shape[:2]) == image.DISPLAY_SIDE
    assert "Large image (7680×4320)" in out.verdict


def test_image_too_many_pixels(engine, tmp_path, monkeypatch):
    monkeypatch.setattr("jrc.media.MAX_IMAGE_PIXELS", 1000)
    out = analyze_image(engine, png(tmp_path / "a.png", np.zeros((64, 64, 3), np.uint8)))
    assert "image too large" in out.verdict and out.record["status"] == "error"


def test_without_a_mask_head_the_about_text_says_so(astronaut, tmp_path):
    eng = no_mask_engine()
    out = analyze_image(eng, png(tmp_path / "a.png", astronaut))
    assert out.record["status"] == "ok"
    assert "this model has no mask head" in text.about_image(eng)
