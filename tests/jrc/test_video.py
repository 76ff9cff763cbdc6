import numpy as np
import pytest

from jrc.detector import FaceResult
from jrc.media import MediaError
from jrc.video import (
    Track,
    VideoLimitError,
    aggregate_track,
    check_video,
    iou,
    link_tracks,
    open_video,
    sample_indices,
)


def test_sample_indices_even_and_bounded():
    assert sample_indices(100, 5) == [0, 25, 50, 74, 99]
    assert sample_indices(3, 32) == [0, 1, 2]
    assert sample_indices(0, 4) == []
    assert len(sample_indices(90_000, 32)) == 32  # 1 h at 25 fps: still 32 seeks


def test_aggregate_is_top_half_mean():
    assert aggregate_track([0.1, 0.9, 0.5, 0.7]) == pytest.approx(0.8)
    assert aggregate_track([0.3]) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        aggregate_track([])


def _face(box, score):
    return FaceResult(box, 0.9, score, "real", np.zeros((4, 4, 3), np.uint8))


def test_tracks_follow_faces_by_iou():
    tracks: list[Track] = []
    link_tracks(tracks, 0, [_face((0, 0, 10, 10), 0.1), _face((50, 50, 60, 60), 0.9)])
    ids = link_tracks(tracks, 1, [_face((51, 51, 61, 61), 0.8), _face((1, 0, 11, 10), 0.2)])
    assert ids == [1, 0] and len(tracks) == 2
    assert tracks[1].scores == [0.9, 0.8]
    link_tracks(tracks, 2, [_face((200, 200, 210, 210), 0.5)])
    assert len(tracks) == 3
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_bad_videos_raise_media_error(bad_files):
    with pytest.raises(MediaError, match="not a readable video"):
        open_video(bad_files["text_mp4"])
    with pytest.raises(MediaError, match="empty"):
        open_video(bad_files["empty"])


def test_truncated_video_is_an_error(tmp_path, astronaut_video):
    data = astronaut_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError, match=r"cut\.mp4"):
        open_video(cut)


def test_analyze_video_report(astronaut_video):
    """On the shipped weights (they ship with this repo: without them this fails, not skips)."""
    from jrc.detector import Detector
    from jrc.video import analyze_video

    det = Detector.from_pretrained(backend="torch", with_decoder=False)
    seen = []
    rep = analyze_video(det, astronaut_video, frames=5, progress=lambda k, n: seen.append((k, n)))
    assert seen[-1] == (5, 5) and len(rep.sampled) == 5 and rep.unreadable == []
    assert len(rep.tracks) == 1 and len(rep.tracks[0].frames) == 5
    assert rep.score == pytest.approx(rep.tracks[0].score) and 0 <= rep.score <= 1
    assert rep.label in ("fake", "real")
    assert [t["frame"] for t in rep.timeline] == rep.sampled


def _write_grey_webm(path, n: int = 10):
    """A VP8 WebM whose frame i is uniformly grey at 20 * i."""
    import cv2

    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), 10, (64, 48))
    assert vw.isOpened(), "OpenCV cannot write VP8 WebM here"
    for i in range(n):
        vw.write(np.full((48, 64, 3), 20 * i, np.uint8))
    vw.release()
    return path


def _strip_duration(src, dst):
    """Overwrite the WebM Duration element (EBML id 0x4489) with a Void element of the same length,
    as in files from browser recorders, which are written before their length is known."""
    data = src.read_bytes()
    at = data.find(b"\x44\x89")
    assert at > 0, "no Duration element"
    size = data[at + 2] & 0x7F  # one-byte EBML size
    n = 3 + size
    dst.write_bytes(data[:at] + bytes([0xEC, 0x80 | (n - 2)]) + bytes(n - 2) + data[at + n:])
    return dst


def test_webm_without_duration_is_counted_and_read_in_order(tmp_path):
    from jrc.video import iter_frames

    good = _write_grey_webm(tmp_path / "good.webm")
    bare = _strip_duration(good, tmp_path / "bare.webm")
    for path, seekable in ((good, True), (bare, False)):
        video = open_video(path)
        video.release()
        assert (video.n_frames, video.seekable) == (10, seekable)
        got = [(i, round(float(rgb.mean()) / 20)) for i, rgb in iter_frames(path, 4)]
        assert got == [(0, 0), (3, 3), (6, 6), (9, 9)], path.name  # the frames asked for, not frame 0


def test_check_video_opens_a_video_within_the_limits(astronaut_video):
    video = check_video(astronaut_video, max_mb=10, max_seconds=60)
    video.release()
    assert video.path == astronaut_video and video.n_frames > 0
    check_video(astronaut_video).release()  # no limits by default


def test_check_video_limits(astronaut_video):
    with pytest.raises(VideoLimitError, match=r"astronaut\S*: video too long \(\d+ s; the limit is 0 s\)$"):
        check_video(astronaut_video, max_seconds=0.001)
    with pytest.raises(VideoLimitError, match=r": video too large \(0 MB; the limit is 0 MB\)$"):
        check_video(astronaut_video, max_mb=0.000001)
    assert issubclass(VideoLimitError, MediaError)


def test_check_video_without_a_frame_rate_counts_as_60_fps(astronaut_video, monkeypatch):
    import jrc.video

    real = jrc.video.open_video

    def no_fps(path):
        v = real(path)
        v.fps = 0.0
        return v

    monkeypatch.setattr(jrc.video, "open_video", no_fps)
    msg = r"video too long \(\d+ frames and no frame rate; the limit is 0 s\)"
    with pytest.raises(VideoLimitError, match=msg):
        check_video(astronaut_video, max_seconds=0.001)


@pytest.mark.parametrize(("name", "message"), [
    ("empty", "empty file"), ("truncated", "this is an image, not a video"),
    ("text_mp4", "not a readable video")])
def test_check_video_bad_files(bad_files, name, message):
    with pytest.raises(MediaError, match=message) as e:
        check_video(bad_files[name])
    assert str(e.value).startswith(str(bad_files[name]) + ":") and not isinstance(e.value, VideoLimitError)


def test_check_video_unsupported_type(tmp_path):
    p = tmp_path / "clip.xyz"
    p.write_bytes(b"\0" * 100)
    with pytest.raises(MediaError, match=r"clip\.xyz: unsupported file type '\.xyz' \(expected \.mp4"):
        check_video(p)
