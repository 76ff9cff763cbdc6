"""The functions behind the demo's events, testable without a browser or a Gradio server.

Each handler turns one request into display values (annotated images, tables, Markdown) and
the same JSON record ``jrc scan`` writes. Bad input never raises: it becomes a message and an
``"error"`` record. All scoring is :mod:`jrc`'s; this module only schedules and renders.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from demo import overlays
from demo.video_out import WebmWriter, playback_fps
from jrc.detector import Detector, FaceResult
from jrc.media import MediaError, check_file, kind_of, load_image
from jrc.report import image_record, record, video_record
from jrc.video import OpenVideo, VideoReport, analyze_video, iou, open_video, sample_indices

log = logging.getLogger("demo")

MAX_VIDEO_MB = 200
MAX_VIDEO_SECONDS = 600
MAX_FRAMES = 64
DEFAULT_FRAMES = 32  # frames sampled per video unless the user picks another number
DISPLAY_SIDE = 1600  # annotated images larger than this are shown downscaled
LIVE_SIDE = 640  # webcam frames are analysed and returned at most this large
OUTPUT_TTL_S = 3600  # outputs (annotated media, reports) are kept this long for download
LIVE_WINDOW = 15  # frames in the webcam's running mean
FACE_COLUMNS = ["face", "P(fake)", "verdict", "box (x0, y0, x1, y1)", "detector score"]
TRACK_COLUMNS = ["track", "P(fake)", "verdict", "frames", "first (s)", "last (s)"]


class Engine:
    """The loaded detector(s) plus a lock: mediapipe's detector is not documented as thread-safe,
    and on a small CPU two interleaved forward passes are slower than two queued ones."""

    def __init__(self, detector: Detector, fast: Detector | None = None, weights: str | None = None,
                 backend: str = "auto") -> None:
        self.detector = detector  # with decoder: reconstruction, residual, mask
        self._fast = fast  # score only, for webcam frames between decoder passes
        self.weights, self.backend = weights, backend
        if fast is not None and fast.tta != detector.tta:
            raise ValueError("both detectors must flip-average (tta) alike: the reports say which")
        self.lock = threading.RLock()
        self.tmp = Path(tempfile.mkdtemp(prefix="jrc-demo-"))
        self._made = 0

    @classmethod
    def load(cls, weights: str | None = None, backend: str = "auto", tta: bool = False) -> Engine:
        """Raises ``jrc.weights.WeightsError`` / ``jrc.runtime.BackendUnavailable`` with a clear message.

        Both runners load now, so a first-use ONNX export happens at start-up, not on the first
        webcam frame. ``tta``: score every face and its mirror (``jrc scan --tta``); the full
        detector then scores the mirrors with the fast detector's score-only runner (no decoder).
        """
        fast = Detector.from_pretrained(weights, backend=backend, with_decoder=False, tta=tta)
        shared = {"mirror_runner": fast.runner} if tta else {}  # used if full got the same backend
        full = Detector.from_pretrained(weights, backend=backend, with_decoder=True, tta=tta, **shared)
        return cls(full, fast, weights=weights, backend=backend)

    @property
    def fast(self) -> Detector:
        if self._fast is None:
            self._fast = Detector.from_pretrained(self.weights, backend=self.backend, with_decoder=False,
                                                  tta=self.tta)
        return self._fast

    @property
    def tta(self) -> bool:
        """Flip averaging (``python app.py --tta``); both detectors agree (checked at construction)."""
        return self.detector.tta

    @property
    def threshold(self) -> float:
        return self.detector.threshold

    @property
    def has_mask(self) -> bool:
        return bool(self.detector.config.mask_head)

    @property
    def framing(self) -> tuple[float, float]:
        f = self.detector.faces
        return f.scale, f.shift

    def analyze(self, rgb: np.ndarray, decoder: bool = True) -> list[FaceResult]:
        with self.lock:
            return (self.detector if decoder else self.fast).analyze_image(rgb)

    def locked(self) -> _Locked:
        return _Locked(self)

    def out_path(self, name: str) -> Path:
        """A fresh file name in this engine's temp folder (Gradio copies outputs into its cache).

        Folders older than ``OUTPUT_TTL_S`` are removed now and then, so disk use stays bounded.
        """
        self._made += 1
        if self._made % 50 == 0:
            self.prune()
        return Path(tempfile.mkdtemp(dir=self.tmp)) / name

    def prune(self, ttl_s: float = OUTPUT_TTL_S) -> int:
        cutoff, n = time.time() - ttl_s, 0
        for d in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                if d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
                    n += 1
        return n


class _Locked:
    """What :func:`jrc.video.analyze_video` needs from a detector, one frame at a time under the lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.threshold = engine.threshold

    def analyze_image(self, rgb: np.ndarray) -> list[FaceResult]:
        return self._engine.analyze(rgb)


# ---------------------------------------------------------------- text

def public_message(err: Exception | str, path: str | Path | None) -> str:
    """The error text with the server-side upload folder left out (only the file's name remains)."""
    msg = str(err)
    if path is not None:
        msg = msg.replace(str(Path(path).parent) + os.sep, "")
    return msg


def threshold_note(engine: Engine) -> str:
    auc = (engine.detector.meta.get("metrics") or {}).get("val_auc")
    auc_txt = f" (validation AUC {auc:.3f})" if isinstance(auc, (int, float)) else ""
    return (f"**Threshold {engine.threshold:.3f}**: a face is called *fake* when its P(fake) is at or "
            f"above {engine.threshold:.3f}. The threshold was chosen on this model's validation data"
            f"{auc_txt} and is stored with the weights. P(fake) is the model's estimate, not proof.")


def default_overlay(engine: Engine) -> str:
    """The webcam overlay to start with: the forgery mask where the model has a mask head (it marks
    blended regions: pixel AUC 0.99 on self-blends), else the residual (0.52, but the only map left)."""
    return "mask" if engine.has_mask else "residual"


def overlay_note(engine: Engine) -> str:
    mask = ("**Forgery mask**: the model's per-pixel estimate of where the face was manipulated (red)."
            if engine.has_mask else
            "**Forgery mask**: not available: this model has no mask head. The mask overlay needs a "
            "model trained with one (self-blended fakes give it a ground-truth mask); until then, "
            "read the residual.")
    return ("**Residual**: |crop − reconstruction|, where the autoencoder could not rebuild the face. "
            "It is not a map of manipulation: on self-blended fakes it marks the blended region no "
            "better than chance (default model: pixel AUC 0.52, against 0.99 for the forgery mask; "
            "`benchmarks/head_signals.py`). " + mask)


def cautions_md(warnings: list[str]) -> str:
    """A record's ``warnings`` (heavy JPEG, small faces) as paragraphs of the verdict."""
    return "".join(f"**Caution**: {w}.\n\n" for w in warnings)


def badge(label: str | None, text: str) -> str:
    cls = {"fake": "jrc-fake", "real": "jrc-real"}.get(label or "", "jrc-none")
    return f'<div class="jrc-verdict {cls}">{text}</div>'


def error_md(msg: str) -> str:
    return badge(None, "Could not analyse this file") + f"\n\n{msg}"


# ---------------------------------------------------------------- image

@dataclass
class ImageOutput:
    annotated: np.ndarray | None
    verdict: str
    faces: pd.DataFrame
    panels: np.ndarray | None  # per face, one under the other: crop | recon | residual | mask
    report: str | None  # path of the JSON record
    record: dict

    def as_tuple(self) -> tuple:
        return self.annotated, self.verdict, self.faces, self.panels, self.report

    def as_files(self, engine: Engine) -> tuple:
        """Like :meth:`as_tuple`, with the images written to files of their own.

        Gradio writes returned arrays to a cache path named by their content, non-atomically:
        two requests returning the same picture at once (8 users clicking one example) can
        serve each other a truncated file. Files are copied into its cache atomically.
        """
        return (save_rgb(engine, self.annotated, "annotated.jpg"), self.verdict, self.faces,
                save_rgb(engine, self.panels, "faces.png"), self.report)


def save_rgb(engine: Engine, rgb: np.ndarray | None, name: str) -> str | None:
    if rgb is None:
        return None
    path = engine.out_path(name)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]):
        raise RuntimeError(f"cannot write {path}")
    return str(path)


def write_report(engine: Engine, rec: dict, stem: str) -> str:
    """Write ``rec``, tagged like ``jrc scan``'s records with ``"tta"``, for download."""
    rec["tta"] = engine.tta
    path = engine.out_path(f"{Path(stem).stem or 'report'}.jrc.json")
    path.write_text(json.dumps(rec, indent=2) + "\n")
    return str(path)


def face_table(results: list[FaceResult]) -> pd.DataFrame:
    rows = [[i + 1, round(r.score, 4), r.label.upper(),
             ", ".join(f"{v:.0f}" for v in r.box) if r.box else "", round(r.det_score or 0.0, 3)]
            for i, r in enumerate(results)]
    return pd.DataFrame(rows, columns=FACE_COLUMNS)


def analyze_image(engine: Engine, path: str | None) -> ImageOutput:
    """Upload path -> annotated image, verdict, per-face table, per-face panels, JSON report."""
    empty = pd.DataFrame(columns=FACE_COLUMNS)
    if not path:
        return ImageOutput(None, "Upload or paste an image, or pick an example below.", empty, None, None, {})
    name = Path(path).name
    t = engine.threshold
    try:
        if kind_of(path) == "video":
            raise MediaError(f"{name}: this is a video; use the Video tab")
        rgb = load_image(path)
        results = engine.analyze(rgb)
    except MediaError as e:
        msg = public_message(e, path)
        rec = record(name, kind_of(path), t, error=msg)
        return ImageOutput(None, error_md(msg), empty, None, write_report(engine, rec, name), rec)
    except Exception as e:
        log.exception("image analysis failed for %s", name)
        msg = f"{name}: internal error ({type(e).__name__}: {public_message(e, path)})"
        rec = record(name, "image", t, error=msg)
        return ImageOutput(None, error_md(msg), empty, None, write_report(engine, rec, name), rec)
    rec = image_record(name, results, t, file=path)
    annotated = overlays.fit(overlays.draw_faces(rgb, results), DISPLAY_SIDE)
    h, w = rgb.shape[:2]
    size_note = (f"\n\nLarge image ({w}×{h}): faces were analysed at full resolution; the picture "
                 f"is shown downscaled." if max(h, w) > DISPLAY_SIDE else "")
    if not results:
        verdict = (badge(None, "No face found") +
                   "\n\nNo face was detected, so nothing was scored (no score is made up). The face "
                   "detector works best when the face takes up a good part of the picture; crop around "
                   "a small face and try again." + size_note)
        return ImageOutput(annotated, verdict, face_table([]), None, write_report(engine, rec, name), rec)
    n_fake = sum(r.label == "fake" for r in results)
    head = f"{rec['label'].upper()} · P(fake) {rec['score']:.2f}"
    count = (f"{n_fake} of {len(results)} faces scored at or above the threshold."
             if len(results) > 1 else "One face found.")
    verdict = (badge(rec["label"], head) + f"\n\n{count} The image's score is its highest face score.\n\n"
               + cautions_md(rec["warnings"]) + threshold_note(engine) + "\n\n" + overlay_note(engine)
               + size_note)
    panels = overlays.stack_panels([
        overlays.face_panel(r, f"#{i + 1}  {r.label.upper()}  P(fake) {r.score:.3f}")
        for i, r in enumerate(results)])
    return ImageOutput(annotated, verdict, face_table(results), panels,
                       write_report(engine, rec, name), rec)


# ---------------------------------------------------------------- video

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


def check_video(path: str | Path, max_mb: float | None = None,
                max_seconds: float | None = None) -> OpenVideo:
    """Size, type and duration limits before any decoding work; returns the opened video (whose frame
    count a duration-less WebM needed a decoding pass for, so it is opened once, not twice)."""
    max_mb = MAX_VIDEO_MB if max_mb is None else max_mb
    max_seconds = MAX_VIDEO_SECONDS if max_seconds is None else max_seconds
    p = check_file(path)
    kind = kind_of(p)
    if kind == "image":
        raise MediaError(f"{p}: this is an image; use the Image tab")
    if kind is None:
        raise MediaError(f"{p}: unsupported file type '{p.suffix or '(none)'}' "
                         "(expected .mp4, .webm, .mov, .avi, .mkv)")
    mb = p.stat().st_size / 1024**2
    if mb > max_mb:
        raise MediaError(f"{p}: video too large ({mb:.0f} MB; this demo accepts up to {max_mb:.0f} MB)")
    video = open_video(p)
    total, fps = video.n_frames, video.fps
    if fps > 0 and total / fps > max_seconds:
        video.release()
        raise MediaError(f"{p}: video too long ({total / fps:.0f} s; this demo accepts up to "
                         f"{max_seconds:.0f} s; trim it, or use `python -m jrc scan`)")
    if fps <= 0 and total > max_seconds * 60:  # no frame rate: bound it as if it were 60 fps
        video.release()
        raise MediaError(f"{p}: video too long ({total} frames and no frame rate; this demo accepts up "
                         f"to {max_seconds:.0f} s; trim it, or use `python -m jrc scan`)")
    return video


def track_table(report: VideoReport) -> pd.DataFrame:
    times = [t["time"] for t in report.timeline]
    rows = []
    for tr in report.tracks:
        d = tr.to_dict(report.threshold)
        first, last = times[tr.frames[0]], times[tr.frames[-1]]
        rows.append([tr.id, round(d["score"], 4), d["label"].upper(), d["n_frames"], first, last])
    return pd.DataFrame(rows, columns=TRACK_COLUMNS)


def analyze_video_file(engine: Engine, path: str | None, frames: int = 32,
                       progress: Callable[[int, int], None] | None = None) -> VideoOutput:
    """Upload path -> annotated WebM of the sampled frames, verdict, tracks, timeline, JSON report."""
    empty_tracks = pd.DataFrame(columns=TRACK_COLUMNS)
    empty_tl = overlays.timeline_frame([], engine.threshold)
    if not path:
        return VideoOutput(None, "Upload a video, or pick an example below.", empty_tracks, empty_tl,
                           None, {})
    name = Path(path).name
    t = engine.threshold
    frames = int(max(1, min(MAX_FRAMES, frames)))
    writer = opened = None
    try:
        opened = check_video(path)
        total, fps = opened.n_frames, opened.fps
        n = len(sample_indices(total, frames))
        writer = WebmWriter(engine.out_path(f"{Path(name).stem}.annotated.webm"),
                            playback_fps(n, total / fps if fps else None))
        framing = engine.framing

        def on_frame(idx: int, rgb: np.ndarray, results: list[FaceResult]) -> None:
            img = overlays.annotate_frame(overlays.fit(rgb, 960) if max(rgb.shape[:2]) > 960 else rgb,
                                          _scale_results(results, rgb, 960), "residual", framing, 0.4)
            stamp = f"frame {idx}" + (f"  {idx / fps:.2f} s" if fps else "")
            overlays.tag(img, stamp, 4, img.shape[0] - 4, (30, 30, 30), 0.5)
            writer.write(img)

        report = analyze_video(engine.locked(), opened, frames=frames, progress=progress, on_frame=on_frame)
        video = writer.close()
    except MediaError as e:
        if writer is not None:
            writer.close()
        msg = public_message(e, path)
        rec = record(name, kind_of(path), t, error=msg)
        return VideoOutput(None, error_md(msg), empty_tracks, empty_tl, write_report(engine, rec, name), rec)
    except Exception as e:
        if writer is not None:
            writer.close()
        log.exception("video analysis failed for %s", name)
        msg = f"{name}: internal error ({type(e).__name__}: {public_message(e, path)})"
        rec = record(name, "video", t, error=msg)
        return VideoOutput(None, error_md(msg), empty_tracks, empty_tl, write_report(engine, rec, name), rec)
    finally:
        if opened is not None:  # analyze_video releases it too; a second release is a no-op
            opened.release()
    report.path = name
    rec = video_record(report)
    timeline = overlays.timeline_frame(report.timeline, t)
    x_title = "time (s)" if all(x.get("time") is not None for x in report.timeline) else "frame"
    n_s = len(report.sampled)
    sampled = (f"{n_s} of {report.n_frames_total} frames ({report.n_frames_total / report.fps:.1f} s) "
               "sampled evenly" if report.fps else f"{n_s} frames sampled")
    if report.unreadable:
        sampled += f"; {len(report.unreadable)} could not be decoded and were skipped"
    if report.score is None:
        verdict = (badge(None, "No face found") + f"\n\n{sampled}; no face was detected in any of them, "
                   "so nothing was scored.")
    else:
        verdict = (badge(rec["label"], f"{rec['label'].upper()} · P(fake) {rec['score']:.2f}")
                   + f"\n\n{sampled}; {len(report.tracks)} face track(s). A track's score is the mean of "
                   "its top half of frame scores; the video's score is its highest track score "
                   "(tracks seen in a single sampled frame count only when no longer track exists)."
                   "\n\n" + cautions_md(rec["warnings"])
                   + threshold_note(engine) + "\n\nThe annotated clip shows the sampled frames "
                   "with the residual overlay inside each face's crop square.")
    return VideoOutput(str(video) if video else None, verdict, track_table(report), timeline,
                       write_report(engine, rec, name), rec, x_title)


def _scale_results(results: list[FaceResult], rgb: np.ndarray, max_side: int) -> list[FaceResult]:
    """Results with boxes in the coordinates of ``overlays.fit(rgb, max_side)``."""
    f = max_side / max(rgb.shape[:2])
    if f >= 1:
        return results
    return [dataclasses.replace(r, box=tuple(v * f for v in r.box) if r.box is not None else None)
            for r in results]


# ---------------------------------------------------------------- webcam

@dataclass
class LiveState:
    """Per-session webcam state; bounded, so memory stays flat however long the session runs."""

    n: int = 0
    ms: float | None = None  # running mean of server-side processing time per frame
    last_arrival: float | None = None
    interval: float | None = None  # running mean of the time between frames received
    scores: deque = field(default_factory=lambda: deque(maxlen=LIVE_WINDOW))
    tiles: list = field(default_factory=list)  # [(box, overlay tile)] from the last decoder pass


def _ema(old: float | None, new: float, a: float = 0.1) -> float:
    return new if old is None else old + a * (new - old)


def live_frame(engine: Engine, frame: np.ndarray | None, overlay: str = "residual",
               state: LiveState | None = None, decoder_every: int = 2,
               ) -> tuple[np.ndarray | None, str, LiveState]:
    """One webcam frame -> (annotated frame, status line, state).

    Mirroring: with ``WebcamOptions(mirror=True)`` Gradio's browser code draws the video onto
    its capture canvas flipped (``scale(-1, 1)``) before sending it, so ``frame`` is already
    the mirror image the user sees in the preview. Boxes are drawn on it as received and the
    output is shown unflipped: they land on the face where the user sees it, and their text
    reads normally. The model scores the mirrored face, which is as valid a face as the
    original (training used horizontal flips).

    Speed: the decoder (reconstruction, residual, mask) runs on every ``decoder_every``-th
    frame; in between, faces are scored without it and the last overlay of the face with
    the most overlapping box is reused.
    """
    state = state if isinstance(state, LiveState) else LiveState()
    if frame is None:
        return None, "Waiting for the webcam…", state
    t0 = time.perf_counter()
    if state.last_arrival is not None:
        state.interval = _ema(state.interval, t0 - state.last_arrival)
    state.last_arrival = t0
    try:
        rgb = overlays.fit(np.ascontiguousarray(frame[..., :3], np.uint8), LIVE_SIDE)
        want_overlay = overlay in ("residual", "mask")
        decode = want_overlay and (state.n % max(1, decoder_every) == 0 or not state.tiles)
        results = engine.analyze(rgb, decoder=decode)
    except Exception as e:
        log.exception("webcam frame failed")
        return frame, f"Frame skipped: {type(e).__name__}: {e}", state
    state.n += 1
    if decode:
        state.tiles = [(r.box, overlays.overlay_tile(r, overlay)) for r in results]
    tiles = [_nearest_tile(r.box, state.tiles) for r in results] if want_overlay else None
    out = overlays.annotate_frame(rgb, results, overlay if want_overlay else "none", engine.framing,
                                  0.45, tiles)
    if results:
        state.scores.append(max(r.score for r in results))
    state.ms = _ema(state.ms, (time.perf_counter() - t0) * 1000)
    return out, live_status(engine, results, state, overlay), state


def _nearest_tile(box, tiles: list) -> np.ndarray | None:
    best, tile = 0.3, None
    for b, t in tiles:
        o = iou(box, b)
        if o >= best:
            best, tile = o, t
    return tile


def live_status(engine: Engine, results: list[FaceResult], state: LiveState, overlay: str) -> str:
    speed = f"server {state.ms:.0f} ms/frame (≈{1000 / state.ms:.0f} FPS)" if state.ms else ""
    if state.interval:
        speed += f" · receiving {1 / state.interval:.1f} FPS"
    if not results:
        return f"No face in view · {speed}"
    top = max(results, key=lambda r: r.score)
    mean = float(np.mean(state.scores))
    word = "fake" if mean >= engine.threshold else "real"
    note = ""
    if overlay == "mask" and not engine.has_mask:
        note = "<br>This model has no mask head, so there is no mask overlay; choose *residual*."
    return (badge(word, f"{word.upper()} · P(fake) {mean:.2f}")
            + f" &nbsp;mean of the last {len(state.scores)} frames · now {top.score:.2f} · "
            f"{len(results)} face(s) · threshold {engine.threshold:.2f} · {speed}{note}")
