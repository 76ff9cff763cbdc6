"""Annotated videos that play in Chromium: VP8 in WebM, written by OpenCV (no system ffmpeg needed).

OpenCV's ``mp4v`` MP4 files do not play in browsers; its ``VP80`` WebM files do.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from jrc.faces import quiet_native_stderr

FOURCC = "VP80"
MAX_SIDE = 960  # larger frames are downscaled: VP8 encoding time grows with the pixel count


class WebmWriter:
    """Write RGB frames of any size to a VP8 ``.webm``; the first frame fixes the size."""

    def __init__(self, path: str | Path, fps: float, max_side: int = MAX_SIDE) -> None:
        self.path = Path(path).with_suffix(".webm")
        self.fps = float(fps)
        self.max_side = max_side
        self.size: tuple[int, int] | None = None
        self._vw: cv2.VideoWriter | None = None
        self.frames = 0

    def _open(self, w: int, h: int) -> None:
        f = min(1.0, self.max_side / max(w, h))
        # even sizes: the encoder works on 2x2 chroma blocks
        self.size = (max(2, round(w * f) // 2 * 2), max(2, round(h * f) // 2 * 2))
        with quiet_native_stderr():  # OpenCV's FFmpeg backend warns that WebM has no codec tags
            self._vw = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*FOURCC), self.fps, self.size)
        if not self._vw.isOpened():
            raise RuntimeError(f"OpenCV cannot write {FOURCC} video to {self.path}")

    def write(self, rgb: np.ndarray) -> None:
        if self._vw is None:
            self._open(rgb.shape[1], rgb.shape[0])
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        self._vw.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> Path | None:
        """Finish the file; None when no frame was written."""
        if self._vw is not None:
            self._vw.release()
            self._vw = None
        return self.path if self.frames else None

    def __enter__(self) -> WebmWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_webm(path: str | Path, frames: list[np.ndarray], fps: float) -> Path:
    """Convenience: all frames at once."""
    with WebmWriter(path, fps) as w:
        for f in frames:
            w.write(f)
    if not w.frames:
        raise ValueError("no frames to write")
    return w.path


def playback_fps(n_frames: int, duration_s: float | None, lo: float = 2.0, hi: float = 12.0) -> float:
    """Frame rate for a clip of evenly sampled frames: real time when possible, clamped to [lo, hi]."""
    if not duration_s or duration_s <= 0:
        return lo * 2
    return float(min(hi, max(lo, n_frames / duration_s)))
