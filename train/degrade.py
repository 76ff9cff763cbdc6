"""Image degradations: JPEG re-compression, lost resolution, blur, sensor noise.

Used three ways: as a random training augmentation (``random_degradation``), as a fixed
degraded copy of the validation split (``fixed_degradation``), and by
``benchmarks/robustness.py`` to measure how the test AUC holds up. All take and return
RGB uint8 arrays of unchanged shape.
"""

from __future__ import annotations

import cv2
import numpy as np


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    _, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def resample(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Down-scale by ``factor`` (area) and back up (bilinear): detail lost, size kept."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(w * factor)), max(1, round(h * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def noise(rgb: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(rgb + rng.normal(0, std, rgb.shape), 0, 255).astype(np.uint8)


def random_degradation(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One degradation of random kind and strength (stronger than the mild JPEG augmentation)."""
    kind = int(rng.integers(4))
    if kind == 0:
        return jpeg(rgb, int(rng.integers(30, 61)))
    if kind == 1:
        return resample(rgb, rng.uniform(0.33, 0.7))
    if kind == 2:
        return blur(rgb, rng.uniform(0.5, 1.5))
    return noise(rgb, rng.uniform(2.0, 8.0), rng)


def fixed_degradation(rgb: np.ndarray, index: int) -> np.ndarray:
    """A deterministic degradation chosen by ``index`` (cycles JPEG q40, x0.5, blur 1, noise 5)."""
    kind = index % 4
    if kind == 0:
        return jpeg(rgb, 40)
    if kind == 1:
        return resample(rgb, 0.5)
    if kind == 2:
        return blur(rgb, 1.0)
    return noise(rgb, 5.0, np.random.default_rng(index))
