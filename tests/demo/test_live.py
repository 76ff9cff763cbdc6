"""demo.live (the webcam stream's frame function) called directly, on a tiny random model."""

import numpy as np
import pytest
from demo_fixtures import no_mask_engine, tiny_engine, webcam_frame

from demo import live, overlays, text
from demo.live import LiveState, live_frame


@pytest.fixture(scope="module")
def engine():
    return tiny_engine()


def test_live_boxes_land_on_the_face_as_received(engine, astronaut):
    frame = webcam_frame(astronaut)
    out, status, state = live_frame(engine, frame, "none", None)
    (face,) = engine.detector.detect(frame, fast=True)  # the webcam's path
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
                        lambda rgb, decoder=True, fast=False: decoded.append(decoder)
                        or real(rgb, decoder, fast))
    state = None
    for _ in range(20):
        out, status, state = live_frame(engine, frame, "residual", state, decoder_every=2)
    assert decoded == [True, False] * 10
    assert len(state.scores) == live.LIVE_WINDOW and len(state.tiles) == 1
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
    assert live.default_overlay(engine) == "mask"  # the map that marks edits comes first


def test_live_without_mask_head_says_so(astronaut):
    eng = no_mask_engine()
    _, status, _ = live_frame(eng, webcam_frame(astronaut), "mask", None)
    assert status.endswith(text.NO_MASK_LIVE)
    assert live.default_overlay(eng) == "residual"


def test_live_no_frame_and_no_face(engine, no_face_image):
    out, status, state = live_frame(engine, None, "residual", None)
    assert out is None and status == text.WAITING
    out, status, _ = live_frame(engine, no_face_image, "residual", state)
    assert status.startswith("No face in view") and out.shape == no_face_image.shape


def test_live_frame_errors_skip_the_frame(engine, astronaut, monkeypatch):
    def broken(rgb, decoder=True, fast=False):
        raise RuntimeError("camera hiccup")

    monkeypatch.setattr(engine, "analyze", broken)
    frame = webcam_frame(astronaut)
    out, status, _ = live_frame(engine, frame, "none", None)
    assert out is frame and status == "Frame skipped: RuntimeError: camera hiccup"
