"""The Video tab: an uploaded video -> annotated WebM of the sampled frames, verdict, tracks,
timeline and report. Sampling, tracking and scoring are :mod:`jrc.video`'s."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demo import overlays, text
from demo.engine import Engine
from demo.video_out import WebmWriter, playback_fps
from jrc.detector import FaceResult
from jrc.media import MediaError, check_file, kind_of
from jrc.report import record, video_record
from jrc.video import VideoLimitError, VideoReport, analyze_video, check_video, sample_indices

log = logging.getLogger("demo")

MAX_VIDEO_MB = 200
MAX_VIDEO_SECONDS = 600
MAX_FRAMES = 64
DEFAULT_FRAMES = 32  # frames sampled per video unless the user picks another number
CLIP_SIDE = 960  # annotated frames are drawn at most this large
TRACK_COLUMNS = ["track", "P(fake)", "verdict", "frames", "first (s)", "last (s)"]


@dataclass
class VideoOutput:
    video: str | None
    verdict: str
    tracks: pd.DataFrame
    timeline: pd.DataFrame
    report: str | None
    record: dict
    x_title: str = "time (s)"

    def as_tuple(self) -> tuple:
        return self.video, self.verdict, self.tracks, self.timeline, self.report


def track_table(report: VideoReport) -> pd.DataFrame:
    times = [t["time"] for t in report.timeline]
    rows = []
    for tr in report.tracks:
        d = tr.to_dict(report.threshold)
        first, last = times[tr.frames[0]], times[tr.frames[-1]]
        rows.append([tr.id, text.fmt(d["score"]), d["label"].upper(), d["n_frames"], first, last])
    return pd.DataFrame(rows, columns=TRACK_COLUMNS)


def analyze_video_file(engine: Engine, path: str | None, frames: int = DEFAULT_FRAMES,
                       progress: Callable[[int, int], None] | None = None,
                       max_mb: float = MAX_VIDEO_MB, max_seconds: float = MAX_VIDEO_SECONDS) -> VideoOutput:
    """Upload path -> annotated WebM of the sampled frames, verdict, tracks, timeline, JSON report.

    Bad input never raises: it becomes a message and an ``"error"`` record.
    """
    empty_tracks = pd.DataFrame(columns=TRACK_COLUMNS)
    empty_tl = overlays.timeline_frame([], engine.threshold)
    if not path:
        return VideoOutput(None, text.NO_VIDEO, empty_tracks, empty_tl, None, {})
    name = Path(path).name
    t = engine.threshold
    frames = int(max(1, min(MAX_FRAMES, frames)))

    def failed(msg: str, kind: str | None) -> VideoOutput:
        rec = record(name, kind, t, error=msg)
        report = engine.write_report(rec, name)
        return VideoOutput(None, text.error_md(msg), empty_tracks, empty_tl, report, rec)

    writer = opened = None
    try:
        if kind_of(check_file(path)) == "image":  # an empty file is "empty" first, as in jrc
            raise MediaError(f"{name}: this is an image; use the Image tab")
        opened = check_video(path, max_mb, max_seconds)
        total, fps = opened.n_frames, opened.fps
        n = len(sample_indices(total, frames))
        writer = WebmWriter(engine.out_path(f"{Path(name).stem}.annotated.webm"),
                            playback_fps(n, total / fps if fps else None))
        framing = engine.framing
        shown = overlay_kind(engine)

        def on_frame(idx: int, rgb: np.ndarray, results: list[FaceResult]) -> None:
            small = overlays.fit(rgb, CLIP_SIDE) if max(rgb.shape[:2]) > CLIP_SIDE else rgb
            img = overlays.annotate_frame(small, _scale_results(results, rgb, CLIP_SIDE), shown,
                                          framing, 0.4)
            stamp = f"frame {idx}" + (f"  {idx / fps:.2f} s" if fps else "")
            overlays.tag(img, stamp, 4, img.shape[0] - 4, (30, 30, 30), 0.5)
            writer.write(img)

        report = analyze_video(engine.locked(), opened, frames=frames, progress=progress, on_frame=on_frame)
        video = writer.close()
    except MediaError as e:
        if writer is not None:
            writer.close()
        msg = text.public_message(e, path) + (text.LIMIT_HINT if isinstance(e, VideoLimitError) else "")
        return failed(msg, kind_of(path))
    except Exception as e:
        if writer is not None:
            writer.close()
        log.exception("video analysis failed for %s", name)
        return failed(text.internal_error(name, e, path), "video")
    finally:
        if opened is not None:  # analyze_video releases it too; a second release is a no-op
            opened.release()
    report.path = name
    rec = video_record(report)
    timeline = overlays.timeline_frame(report.timeline, t)
    x_title = "time (s)" if all(x.get("time") is not None for x in report.timeline) else "frame"
    sampled = text.sampled_line(len(report.sampled), report.n_frames_total, report.fps,
                                len(report.unreadable))
    if report.score is None:
        verdict = text.badge(None, "No face found") + "\n\n" + text.no_face_video(sampled)
    else:
        verdict = (text.headline(rec["label"], rec["score"]) + "\n\n"
                   + text.video_summary(sampled, len(report.tracks), t) + text.cautions_md(rec["warnings"]))
    return VideoOutput(str(video) if video else None, verdict, track_table(report), timeline,
                       engine.write_report(rec, name), rec, x_title)


def overlay_kind(engine: Engine) -> str:
    """What the annotated clip shows in each face box: the forgery mask when the model has a mask
    head (as the webcam does by default), else the residual."""
    return "mask" if engine.has_mask else "residual"


def clip_label(engine: Engine) -> str:
    shown = "forgery mask" if overlay_kind(engine) == "mask" else "residual"
    return f"Annotated sampled frames ({shown} in each face box)"


def _scale_results(results: list[FaceResult], rgb: np.ndarray, max_side: int) -> list[FaceResult]:
    """Results with boxes in the coordinates of ``overlays.fit(rgb, max_side)``."""
    f = max_side / max(rgb.shape[:2])
    if f >= 1:
        return results
    return [dataclasses.replace(r, box=tuple(v * f for v in r.box) if r.box is not None else None)
            for r in results]
