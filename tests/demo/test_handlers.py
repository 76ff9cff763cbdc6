"""The event functions called directly (no server), on a tiny random model with a mask head."""

import json

import cv2
import numpy as np
import pytest
import scipy.special
from conftest import write_video
from demo_fixtures import shipped_engine, tiny_engine, tiny_weights

from demo import handlers, overlays
from demo.handlers import Engine, LiveState, analyze_image, analyze_video_file, live_frame
from jrc.report import record
from jrc.detector import Detector


@pytest.fixture(scope="module")
def engine():
    return tiny_engine()


def png(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return str(path)


def report(out) -> dict:
    with open(out.report) as f:
        return json.load(f)


def test_image_one_face(engine, astronaut, tmp_path):
    out = analyze_image(engine, png(tmp_path / "astro.png", astronaut))
    rec = report(out)
    assert rec == out.record and set(rec) == set(record("x", "image", 0.5))  # the `jrc scan` fields
    assert rec["status"] == "ok" and rec["path"] == "astro.png" and len(rec["faces"]) == 1
    assert 0.0 <= rec["score"] <= 1.0
    assert out.faces["P(fake)"].tolist() == [round(rec["score"], 4)]
    assert out.annotated.shape == astronaut.shape
    s = engine.detector.input_size
    assert out.panels.shape == (34 + s + 24 + 6, 4 * s + 5 * 6, 3)
    mask_tile = out.panels[36:36 + s, 6 + 3 * (s + 6):6 + 3 * (s + 6) + s]
    assert (mask_tile == 60).mean() < 0.5  # a real mask overlay, not the "no mask head" placeholder
    assert "Threshold 0.500" in out.verdict and "fake</i>" not in out.verdict
    assert rec["warnings"] == [] and "Caution" not in out.verdict


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


def test_engine_load_tta_reaches_both_detectors():
    flip = Engine.load(str(tiny_weights()), "torch", tta=True)
    assert flip.tta and flip.detector.tta and flip.fast.tta
    # the full detector's mirrored pass shares the fast detector's score-only runner (no decoder)
    assert flip.detector.mirror_runner is flip.fast.runner and not flip.fast.runner.with_decoder
    with pytest.raises(ValueError, match="tta"):
        Engine(flip.detector, tiny_engine().fast)


def test_tta_engine_scores_the_mirror_too_and_says_so(astronaut, tmp_path):
    """``python app.py --tta``: scores are flip-averaged and the report says so (the shipped
    model: the tiny random one scores every input alike)."""
    plain = shipped_engine()
    flip = Engine(*(Detector(d.runner, d.threshold, face_model=d.face_model, meta=d.meta, tta=True)
                    for d in (plain.detector, plain.fast)))
    a, b = (analyze_image(e, png(tmp_path / "astro.png", astronaut)) for e in (plain, flip))
    assert (report(a)["tta"], report(b)["tta"]) == (False, True)
    logit = [float(scipy.special.logit(r.record["score"])) for r in (a, b)]
    assert abs(logit[1] - logit[0]) > 1e-3  # logits: scores near 0 or 1 saturate


def test_image_no_face(engine, no_face_image, tmp_path):
    out = analyze_image(engine, png(tmp_path / "coffee.png", no_face_image))
    assert out.record["status"] == "no_face" and out.record["score"] is None
    assert "No face found" in out.verdict and out.panels is None and out.faces.empty


def test_image_nothing_uploaded(engine):
    out = analyze_image(engine, None)
    assert out.annotated is None and out.report is None and "Upload" in out.verdict


@pytest.mark.parametrize("name", ["empty", "truncated", "text_mp4"])
def test_image_bad_files_get_messages(engine, bad_files, name):
    path = bad_files[name]
    out = analyze_image(engine, str(path))
    assert out.annotated is None and "Could not analyse" in out.verdict
    assert out.record["status"] == "error" and out.record["error"].startswith(path.name + ":")
    assert str(path.parent) not in out.verdict  # the server's temp path is not shown
    assert report(out)["error"] == out.record["error"]


def test_image_non_image_upload(engine, tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello\n" * 20)
    out = analyze_image(engine, str(p))
    assert "not a readable image" in out.verdict and out.record["status"] == "error"


def test_image_8k(engine, astronaut, tmp_path):
    big = cv2.resize(astronaut, (7680, 4320), interpolation=cv2.INTER_NEAREST)
    out = analyze_image(engine, png(tmp_path / "8k.jpg", big))
    assert out.record["status"] in ("ok", "no_face")
    assert max(out.annotated.shape[:2]) == handlers.DISPLAY_SIDE
    assert "Large image (7680×4320)" in out.verdict


def test_image_too_many_pixels(engine, tmp_path, monkeypatch):
    monkeypatch.setattr("jrc.media.MAX_IMAGE_PIXELS", 1000)
    out = analyze_image(engine, png(tmp_path / "a.png", np.zeros((64, 64, 3), np.uint8)))
    assert "image too large" in out.verdict and out.record["status"] == "error"


def test_video(engine, astronaut_video):
    calls = []
    out = analyze_video_file(engine, str(astronaut_video), 8, lambda k, n: calls.append((k, n)))
    rec = report(out)
    assert rec["status"] == "ok" and rec["frames"] == 8 and 0 <= rec["score"] <= 1
    assert set(record("x", "video", 0.5)) <= set(rec) and {"tracks", "timeline"} <= set(rec)
    assert rec["warnings"] == [] and "Caution" not in out.verdict  # the astronaut's face is ~95 px
    assert calls == [(k, 8) for k in range(1, 9)]
    assert len(out.tracks) == len(rec["tracks"]) >= 1 and out.tracks["frames"].sum() == 8
    assert (out.timeline["series"] == "threshold").sum() == 2
    assert len(out.timeline) == 8 + 2
    cap = cv2.VideoCapture(out.video)
    n = 0
    while cap.read()[0]:
        n += 1
    assert out.video.endswith(".webm") and n == 8  # one annotated frame per sampled frame


def test_video_small_face_track_gets_a_caution(engine, astronaut, tmp_path):
    small = cv2.resize(astronaut, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # face ~47 px
    path = write_video(tmp_path / "small.mp4", [small] * 6)
    out = analyze_video_file(engine, str(path), 4)
    assert out.record["status"] == "ok"
    (warning,) = out.record["warnings"]
    assert warning.startswith("face track #") and "median" in warning
    assert f"**Caution**: {warning}" in out.verdict


def test_video_is_opened_once(engine, astronaut_video, monkeypatch):
    """The size/duration check hands its open video on, so a duration-less WebM is counted once."""
    import jrc.video

    opened, real_open = [], jrc.video.open_video

    def counting_open(path):
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(handlers, "open_video", counting_open)
    monkeypatch.setattr(jrc.video, "open_video", counting_open)
    out = analyze_video_file(engine, str(astronaut_video), 4)
    assert report(out)["status"] == "ok" and len(opened) == 1


@pytest.mark.parametrize(("name", "message"), [("empty", "empty file"), ("text_mp4", "not a readable video"),
                                               ("truncated", "this is an image")])
def test_video_bad_files(engine, bad_files, name, message):
    out = analyze_video_file(engine, str(bad_files[name]), 8)
    assert message in out.verdict and out.video is None and out.record["status"] == "error"


def test_video_limits(engine, astronaut_video, monkeypatch):
    monkeypatch.setattr(handlers, "MAX_VIDEO_SECONDS", 1)
    assert "video too long" in analyze_video_file(engine, str(astronaut_video)).verdict
    monkeypatch.setattr(handlers, "MAX_VIDEO_MB", 0.001)
    assert "video too large" in analyze_video_file(engine, str(astronaut_video)).verdict


def test_video_unsupported_type(engine, tmp_path):
    p = tmp_path / "clip.xyz"
    p.write_bytes(b"\0" * 100)
    assert "unsupported file type '.xyz'" in analyze_video_file(engine, str(p)).verdict


def webcam_frame(astronaut):
    """What the browser sends with mirror=True: the mirror image, letterboxed to 640x480."""
    frame = np.full((480, 640, 3), 30, np.uint8)
    frame[:, 80:560] = cv2.resize(astronaut[:, ::-1], (480, 480), interpolation=cv2.INTER_AREA)
    return frame


def test_live_boxes_land_on_the_face_as_received(engine, astronaut):
    frame = webcam_frame(astronaut)
    out, status, state = live_frame(engine, frame, "none", None)
    (face,) = engine.detector.detect(frame)
    x0, y0, x1, y1 = (round(v) for v in face.box)
    color = overlays.FAKE_RGB if "FAKE" in status else overlays.REAL_RGB
    assert tuple(out[(y0 + y1) // 2, x0]) == color and tuple(out[(y0 + y1) // 2, x1]) == color
    # not re-flipped: away from the face, the output is the received frame pixel for pixel
    assert np.array_equal(out[:, :60], frame[:, :60]) and np.array_equal(out[400:], frame[400:])
    assert "1 face(s)" in status and isinstance(state, LiveState)


def test_live_decoder_schedule_and_bounded_state(engine, astronaut, monkeypatch):
    frame = webcam_frame(astronaut)
    decoded = []
    real = engine.analyze
    monkeypatch.setattr(engine, "analyze",
                        lambda rgb, decoder=True: decoded.append(decoder) or real(rgb, decoder))
    state = None
    for _ in range(20):
        out, status, state = live_frame(engine, frame, "residual", state, decoder_every=2)
    assert decoded == [True, False] * 10
    assert len(state.scores) == handlers.LIVE_WINDOW and len(state.tiles) == 1
    assert state.ms > 0 and "ms/frame" in status
    plain = live_frame(engine, frame, "none", LiveState())[0]
    assert not np.array_equal(out, plain)  # the reused residual is blended in
    _, _, state = live_frame(engine, frame, "none", state)
    assert decoded[-1] is False  # no overlay: never decode


def test_live_mask_overlay(engine, astronaut):
    frame = webcam_frame(astronaut)
    mask = live_frame(engine, frame, "mask", None)[0]
    resid = live_frame(engine, frame, "residual", None)[0]
    assert not np.array_equal(mask, resid)
    assert handlers.default_overlay(engine) == "mask"  # the map that localises blends comes first


def test_live_without_mask_head_says_so(tmp_path, astronaut):
    import torch

    from demo.handlers import Engine
    from jrc import weights
    from jrc.model import ModelConfig, TwoBranchCAE

    torch.manual_seed(0)
    model = TwoBranchCAE(ModelConfig(decoder_widths=(32, 16, 8, 8, 8))).eval()
    eng = Engine.load(str(weights.save(model, tmp_path, threshold=0.5)), "torch")
    _, status, _ = live_frame(eng, webcam_frame(astronaut), "mask", None)
    assert "no mask head" in status
    assert handlers.default_overlay(eng) == "residual"
    out = analyze_image(eng, png(tmp_path / "a.png", astronaut))
    assert "this model has no mask head" in out.verdict


def test_live_no_frame_and_no_face(engine, no_face_image):
    out, status, state = live_frame(engine, None, "residual", None)
    assert out is None and "Waiting" in status
    out, status, _ = live_frame(engine, no_face_image, "residual", state)
    assert "No face" in status and out.shape == no_face_image.shape


def test_outputs_are_pruned(engine):
    import os

    old = engine.out_path("a.json")
    old.write_text("{}")
    os.utime(old.parent, (0, 0))
    new = engine.out_path("b.json")
    assert engine.prune() >= 1 and not old.parent.exists() and new.parent.exists()
