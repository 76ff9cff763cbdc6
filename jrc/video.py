"""Video: sample frames, detect faces, link them into tracks, aggregate into a video score.

* Sampling: ``n`` frames evenly spaced over the whole video, read by seeking, so time and
  memory stay bounded for long videos (only one frame is held at a time).
* Tracks: greedy IoU matching of each frame's faces to the tracks' last boxes.
* Track score: the mean of the top half of its frame scores. A manipulated face is rarely
  equally visible in every frame (pose, blur, occlusion), so the top half is more sensitive
  than the plain mean, while still averaging over many frames, unlike the max, which one
  false-positive frame would decide.
* Video score: the max over tracks (any manipulated face makes the video fake). Tracks
  seen in fewer than ``min_track_frames`` sampled frames are reported but not counted,
  unless no track is long enough.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from jrc.detector import Detector, FaceResult
from jrc.media import MediaError, check_file, kind_of

MAX_CORRUPT_FRACTION = 0.25
MAX_REPORTED_FRAMES = 10**8  # larger counts are container garbage (no duration), not frames
MAX_COUNTED_FRAMES = 108_000  # 1 h at 30 fps: counting decodes every frame, so it is bounded


@dataclass
class Track:
    id: int
    frames: list[int] = field(default_factory=list)  # sampled-frame positions
    scores: list[float] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    @property
    def score(self) -> float:
        return aggregate_track(self.scores)

    def to_dict(self, threshold: float) -> dict:
        s = self.score
        return {"track": self.id, "score": round(s, 6), "label": "fake" if s >= threshold else "real",
                "n_frames": len(self.frames)}


@dataclass
class VideoReport:
    path: str
    n_frames_total: int
    fps: float
    sampled: list[int]  # frame indices that were sampled and read
    unreadable: list[int]
    tracks: list[Track]
    timeline: list[dict]  # per sampled frame: index, time, faces [{track, score, box}]
    score: float | None  # None when no face was found
    threshold: float

    @property
    def label(self) -> str | None:
        return None if self.score is None else ("fake" if self.score >= self.threshold else "real")


def aggregate_track(scores: list[float]) -> float:
    """Mean of the top half (rounded up) of a track's frame scores."""
    if not scores:
        raise ValueError("empty track")
    s = np.sort(np.asarray(scores, np.float64))[::-1]
    return float(s[: (len(s) + 1) // 2].mean())


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def link_tracks(tracks: list[Track], position: int, results: list[FaceResult],
                min_iou: float = 0.3) -> list[int]:
    """Greedily attach this frame's faces to existing tracks by IoU; new tracks otherwise."""
    pairs = sorted(((iou(t.boxes[-1], r.box), ti, ri) for ti, t in enumerate(tracks)
                    for ri, r in enumerate(results)), reverse=True)
    assigned: dict[int, int] = {}
    used_tracks: set[int] = set()
    for overlap, ti, ri in pairs:
        if overlap < min_iou:
            break
        if ti in used_tracks or ri in assigned:
            continue
        assigned[ri] = ti
        used_tracks.add(ti)
    ids = []
    for ri, r in enumerate(results):
        if ri not in assigned:
            tracks.append(Track(len(tracks)))
            assigned[ri] = len(tracks) - 1
        t = tracks[assigned[ri]]
        t.frames.append(position)
        t.scores.append(r.score)
        t.boxes.append(r.box)
        ids.append(t.id)
    return ids


def sample_indices(n_total: int, n: int) -> list[int]:
    """``n`` frame indices evenly spread over ``[0, n_total)``."""
    if n_total <= 0:
        return []
    n = min(n, n_total)
    return sorted({round(i) for i in np.linspace(0, n_total - 1, n)})


@dataclass
class OpenVideo:
    """An open capture with its frame count and frame rate; ``seekable`` is False when the container
    carries no frame count (then the count came from decoding and frames are read in order)."""

    path: Path
    cap: cv2.VideoCapture
    n_frames: int
    fps: float
    seekable: bool = True

    def release(self) -> None:
        self.cap.release()


def count_frames(path: Path, limit: int = MAX_COUNTED_FRAMES) -> int:
    """Frames of a video counted by decoding, for containers without a usable frame count."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while n <= limit and cap.grab():
            n += 1
    finally:
        cap.release()
    if n > limit:
        raise MediaError(f"{path}: the container carries no frame count and the video is longer than "
                         f"{limit} frames; re-mux it with a duration (e.g. `ffmpeg -i IN -c copy OUT.mkv`)")
    return n


def open_video(path: str | Path) -> OpenVideo:
    """Open a video, or raise MediaError naming the file.

    Containers without a duration (WebM/MKV from browser recorders and live capture) report no
    usable frame count and do not seek reliably: their frames are counted by decoding, and
    :func:`read_sampled` then reads them in order instead of seeking.
    """
    path = check_file(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MediaError(f"{path}: not a readable video (unknown or corrupt container)")
    reported = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
    if 0 < reported <= MAX_REPORTED_FRAMES:
        return OpenVideo(path, cap, int(reported), fps)
    cap.release()
    n = count_frames(path)
    if n == 0:
        raise MediaError(f"{path}: video has no decodable frames (corrupt or unsupported stream)")
    return OpenVideo(path, cv2.VideoCapture(str(path)), n, fps, seekable=False)


class VideoLimitError(MediaError):
    """A video over the size or duration limit of :func:`check_video`."""


def check_video(path: str | Path, max_mb: float | None = None,
                max_seconds: float | None = None) -> OpenVideo:
    """Type, size and duration checks before any decoding work; returns the opened video (whose
    frame count a duration-less WebM needed a decoding pass for, so it is opened once, not twice).

    Raises MediaError naming the file; :class:`VideoLimitError` when it is over ``max_mb``
    megabytes or ``max_seconds`` seconds (None: no limit). A video without a frame rate is
    bounded as if it ran at 60 fps.
    """
    p = check_file(path)
    kind = kind_of(p)
    if kind == "image":
        raise MediaError(f"{p}: this is an image, not a video")
    if kind is None:
        raise MediaError(f"{p}: unsupported file type '{p.suffix or '(none)'}' "
                         "(expected .mp4, .webm, .mov, .avi, .mkv)")
    mb = p.stat().st_size / 1024**2
    if max_mb is not None and mb > max_mb:
        raise VideoLimitError(f"{p}: video too large ({mb:.0f} MB; the limit is {max_mb:.0f} MB)")
    video = open_video(p)
    if max_seconds is None:
        return video
    total, fps = video.n_frames, video.fps
    if fps > 0 and total / fps > max_seconds:
        video.release()
        raise VideoLimitError(f"{p}: video too long ({total / fps:.0f} s; the limit is {max_seconds:.0f} s)")
    if fps <= 0 and total > max_seconds * 60:
        video.release()
        raise VideoLimitError(f"{p}: video too long ({total} frames and no frame rate; the limit is "
                              f"{max_seconds:.0f} s)")
    return video


def read_sampled(video: OpenVideo, indices: list[int]):
    """Yield ``(index, rgb or None)`` for each frame index, ascending (None = unreadable).

    Seeks on seekable videos; otherwise decodes forward (``grab``) to each index.
    """
    cap = video.cap
    pos = 0  # next frame index when reading in order
    for idx in indices:
        if video.seekable:
            if int(cap.get(cv2.CAP_PROP_POS_FRAMES)) != idx:
                cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
        else:
            while pos < idx and cap.grab():
                pos += 1
            if pos < idx:  # stream ended early
                yield idx, None
                continue
            pos += 1
        ok, bgr = cap.read()
        yield idx, (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok and bgr is not None else None)


def iter_frames(path: str | Path, n: int):
    """Yield ``(index, rgb or None)`` for ``n`` evenly sampled frames (None = unreadable)."""
    video = open_video(path)
    try:
        yield from read_sampled(video, sample_indices(video.n_frames, n))
    finally:
        video.release()


def analyze_video(detector: Detector, source: str | Path | OpenVideo, frames: int = 32,
                  min_track_frames: int = 2,
                  progress: Callable[[int, int], None] | None = None,
                  on_frame: Callable[[int, np.ndarray, list[FaceResult]], None] | None = None,
                  ) -> VideoReport:
    """Score a video (a path, or a video :func:`open_video` already opened, which this releases).
    Raises MediaError if it cannot be opened or too many frames fail.

    ``on_frame(index, rgb, results)`` lets callers (the demo) render annotated frames.
    """
    if frames < 1:
        if isinstance(source, OpenVideo):
            source.release()
        raise ValueError("frames must be >= 1")
    video = source if isinstance(source, OpenVideo) else open_video(source)
    path = video.path
    total, fps = video.n_frames, video.fps
    wanted = sample_indices(total, frames)
    tracks: list[Track] = []
    timeline, sampled, unreadable = [], [], []
    try:
        for k, (idx, rgb) in enumerate(read_sampled(video, wanted)):
            if progress:
                progress(k + 1, len(wanted))
            if rgb is None:
                unreadable.append(idx)
                continue
            sampled.append(idx)
            results = detector.analyze_image(rgb)
            ids = link_tracks(tracks, len(sampled) - 1, results)
            faces = [{"track": t, **r.to_dict()} for t, r in zip(ids, results, strict=True)]
            timeline.append({"frame": idx, "time": round(idx / fps, 3) if fps else None, "faces": faces})
            if on_frame:
                on_frame(idx, rgb, results)
    finally:
        video.release()
    if not sampled or len(unreadable) > MAX_CORRUPT_FRACTION * len(wanted):
        raise MediaError(f"{path}: corrupt or truncated video ({len(unreadable)} of {len(wanted)} "
                         "sampled frames could not be decoded)")
    counted = [t for t in tracks if len(t.frames) >= min_track_frames] or tracks
    score = max((t.score for t in counted), default=None)
    return VideoReport(str(path), total, fps, sampled, unreadable, tracks, timeline, score,
                       detector.threshold)
