"""The Webcam tab: one streamed frame -> the frame with boxes and overlays, and a status line."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from demo import overlays, text
from demo.engine import Engine
from jrc.detector import FaceResult
from jrc.video import iou

log = logging.getLogger("demo")

LIVE_SIDE = 640  # webcam frames are analysed and returned at most this large
LIVE_WINDOW = 15  # frames in the webcam's running mean
OVERLAYS = ["mask", "residual", "none"]


@dataclass
class LiveState:
    """Per-session webcam state; bounded, so memory stays flat however long the session runs."""

    n: int = 0
    ms: float | None = None  # running mean of server-side processing time per frame
    last_arrival: float | None = None
    interval: float | None = None  # running mean of the time between frames received
    scores: deque = field(default_factory=lambda: deque(maxlen=LIVE_WINDOW))
    tiles: list = field(default_factory=list)  # [(box, overlay tile)] from the last decoder pass


def default_overlay(engine: Engine) -> str:
    """The overlay to start with: the forgery mask where the model has a mask head (it marks
    where the face was edited), else the residual (the only map left)."""
    return "mask" if engine.has_mask else "residual"


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
    frame; in between, the detector's score-only runner scores the faces and the last overlay
    of the face with the most overlapping box is reused.
    """
    state = state if isinstance(state, LiveState) else LiveState()
    if frame is None:
        return None, text.WAITING, state
    t0 = time.perf_counter()
    if state.last_arrival is not None:
        state.interval = _ema(state.interval, t0 - state.last_arrival)
    state.last_arrival = t0
    try:
        rgb = overlays.fit(np.ascontiguousarray(frame[..., :3], np.uint8), LIVE_SIDE)
        want_overlay = overlay in ("residual", "mask")
        decode = want_overlay and (state.n % max(1, decoder_every) == 0 or not state.tiles)
        results = engine.analyze(rgb, decoder=decode, fast=True)
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
    note = text.NO_MASK_LIVE if overlay == "mask" and not engine.has_mask else ""
    return text.live_status(word, mean, len(state.scores), top.score, len(results), engine.threshold,
                            speed, note)
