"""The loaded detector behind the demo: one lock around it, and a folder for the files it serves.

mediapipe's face detector is not documented as thread-safe, and on a small CPU two interleaved
forward passes are slower than two queued ones, so every event takes the lock.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from jrc.detector import Detector, FaceResult
from jrc.weights import Checkpoint

OUTPUT_TTL_S = 3600  # outputs (annotated media, reports) are kept this long for download


class Engine:
    """The detector (with its decoder: reconstruction, residual, mask) and the demo's outputs.

    Webcam frames between decoder passes are scored by the detector's score-only runner
    (``analyze(rgb, decoder=False)``), as are the mirrored crops with ``tta``.
    """

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.lock = threading.RLock()
        self.tmp = Path(tempfile.mkdtemp(prefix="jrc-demo-"))
        self._made = 0

    @classmethod
    def load(cls, weights: str | Path | Checkpoint | None = None, backend: str = "auto", tta: bool = False,
             threads: int | None = None, spinning: bool = False,
             before_score_runner: Callable[[str], object] | None = None) -> Engine:
        """Raises ``jrc.weights.WeightsError`` / ``jrc.runtime.BackendUnavailable`` with a clear message.

        ``tta``: score every face and its mirror (``jrc scan --tta``). ``threads``, ``spinning``:
        onnxruntime's intra-op threads and whether they spin after a run (off by default: the
        decoder runner and the score-only runner alternate on webcam frames).
        ``before_score_runner``: see :meth:`jrc.detector.Detector.from_pretrained`.
        """
        return cls(Detector.from_pretrained(weights, backend=backend, with_decoder=True, tta=tta,
                                            threads=threads, spinning=spinning,
                                            before_score_runner=before_score_runner))

    @property
    def tta(self) -> bool:
        """Flip averaging (``python app.py --tta``)."""
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

    def analyze(self, rgb: np.ndarray, decoder: bool = True, fast: bool = False) -> list[FaceResult]:
        """``fast``: webcam frames (one large face: no search for small ones)."""
        with self.lock:
            return self.detector.analyze_image(rgb, decoder=decoder, fast=fast)

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

    def save_rgb(self, rgb: np.ndarray | None, name: str) -> str | None:
        """Write an RGB image to a fresh file for download; None for None."""
        if rgb is None:
            return None
        path = self.out_path(name)
        # each format its own flag: a JPEG flag on a PNG makes OpenCV warn on every write
        flags = ([cv2.IMWRITE_JPEG_QUALITY, 92] if path.suffix.lower() in (".jpg", ".jpeg")
                 else [cv2.IMWRITE_PNG_COMPRESSION, 1] if path.suffix.lower() == ".png" else [])
        if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), flags):
            raise RuntimeError(f"cannot write {path}")
        return str(path)

    def write_report(self, rec: dict, stem: str) -> str:
        """Write ``rec``, tagged like ``jrc scan``'s records with ``"tta"``, for download."""
        rec["tta"] = self.tta
        path = self.out_path(f"{Path(stem).stem or 'report'}.jrc.json")
        path.write_text(json.dumps(rec, indent=2) + "\n")
        return str(path)


class _Locked:
    """What :func:`jrc.video.analyze_video` needs from a detector, one frame at a time under the lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.threshold = engine.threshold

    def analyze_image(self, rgb: np.ndarray) -> list[FaceResult]:
        return self._engine.analyze(rgb)
