"""Test media made in code: a Y4M clip for Chromium's fake webcam."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> Path:
    """Uncompressed 4:2:0 Y4M (``C420jpeg``), the format ``--use-file-for-fake-video-capture`` reads."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())  # Y, then U, then V planes
    return path
