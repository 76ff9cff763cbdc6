"""demo.video (the Video tab's event function) called directly, on a tiny random model.

Named ``test_video_tab`` because ``tests/jrc/test_video.py`` holds the module name ``test_video``.
"""

import cv2
import pytest
from conftest import write_video
from demo_fixtures import report, tiny_engine

from demo import text
from demo.video import analyze_video_file
from jrc.report import record


@pytest.fixture(scope="module")
def engine():
    return tiny_engine()


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
    line = out.verdict.split("</div>", 1)[1].strip()
    assert line.endswith("The video's score is its highest track score; the threshold is 0.50.")


def test_video_small_face_track_gets_a_caution(engine, astronaut, tmp_path):
    small = cv2.resize(astronaut, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # face ~47 px
    path = write_video(tmp_path / "small.mp4", [small] * 6)
    out = analyze_video_file(engine, str(path), 4)
    assert out.record["status"] == "ok"
    (warning,) = out.record["warnings"]
    assert warning.startswith("face track #") and "median" in warning
    assert f"**Caution**: {warning}" in out.verdict


def test_video_without_faces(engine, no_face_image, tmp_path):
    path = write_video(tmp_path / "coffee.mp4", [no_face_image] * 4)
    out = analyze_video_file(engine, str(path), 4)
    assert out.record["status"] == "no_face" and "No face found" in out.verdict
    assert "no face was detected in any of them" in out.verdict


def test_video_is_opened_once(engine, astronaut_video, monkeypatch):
    """The size/duration check hands its open video on, so a duration-less WebM is counted once."""
    import jrc.video

    opened, real_open = [], jrc.video.open_video

    def counting_open(path):
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(jrc.video, "open_video", counting_open)
    out = analyze_video_file(engine, str(astronaut_video), 4)
    assert report(out)["status"] == "ok" and len(opened) == 1


@pytest.mark.parametrize(("name", "message"), [
    ("empty", "empty.jpg: empty file"), ("text_mp4", "notes.mp4: not a readable video"),
    ("truncated", "truncated.jpg: this is an image; use the Image tab")])
def test_video_bad_files(engine, bad_files, name, message):
    out = analyze_video_file(engine, str(bad_files[name]), 8)
    assert out.record["error"].startswith(message) and out.video is None
    assert message in out.verdict and out.record["status"] == "error"


def test_video_limits(engine, astronaut_video):
    long = analyze_video_file(engine, str(astronaut_video), max_seconds=1).record["error"]
    assert long.startswith(f"{astronaut_video.name}: video too long (")
    assert long.endswith("the limit is 1 s)" + text.LIMIT_HINT)
    big = analyze_video_file(engine, str(astronaut_video), max_mb=0.001).record["error"]
    assert "video too large (" in big and big.endswith("the limit is 0 MB)" + text.LIMIT_HINT)


def test_video_unsupported_type(engine, tmp_path):
    p = tmp_path / "clip.xyz"
    p.write_bytes(b"\0" * 100)
    assert "unsupported file type '.xyz'" in analyze_video_file(engine, str(p)).verdict


def test_video_nothing_uploaded(engine):
    out = analyze_video_file(engine, None)
    assert out.video is None and out.report is None and out.verdict == text.NO_VIDEO


def test_annotated_clip_shows_the_mask_when_the_model_has_one(engine):
    from demo import video

    assert video.overlay_kind(engine) == ("mask" if engine.has_mask else "residual")
    assert ("forgery mask" in video.clip_label(engine)) == engine.has_mask
