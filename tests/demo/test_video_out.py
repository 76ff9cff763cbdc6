import cv2
import numpy as np
import pytest

from demo.video_out import WebmWriter, playback_fps, write_webm


def test_webm_round_trip_vp8(tmp_path):
    frames = [np.full((101, 151, 3), i * 20, np.uint8) for i in range(6)]  # odd size: made even
    path = write_webm(tmp_path / "clip.mp4", frames, fps=5)
    assert path.suffix == ".webm" and path.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML (WebM)
    assert b"V_VP8" in path.read_bytes()[:4096]  # the codec Chromium plays
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        assert f.shape == (100, 150, 3)
        n += 1
    assert n == 6


def test_writer_downscales_and_resizes(tmp_path):
    with WebmWriter(tmp_path / "big.webm", 4, max_side=64) as w:
        w.write(np.zeros((256, 128, 3), np.uint8))
        w.write(np.zeros((100, 100, 3), np.uint8))  # resized to the first frame's size
    assert w.size == (32, 64) and w.frames == 2


def test_empty_writer(tmp_path):
    w = WebmWriter(tmp_path / "none.webm", 4)
    assert w.close() is None
    with pytest.raises(ValueError):
        write_webm(tmp_path / "x.webm", [], 4)


def test_playback_fps():
    assert playback_fps(32, 10.0) == pytest.approx(3.2)  # real time
    assert playback_fps(32, 600.0) == 2.0 and playback_fps(64, 1.0) == 12.0
    assert playback_fps(10, None) == 4.0
