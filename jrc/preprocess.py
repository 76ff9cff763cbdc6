"""Tensor normalisation: the one place pixels become model input (and back)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def normalize(crops: np.ndarray | Sequence[np.ndarray], mean: Sequence[float],
              std: Sequence[float]) -> np.ndarray:
    """uint8 RGB crops ``[N,S,S,3]`` (or a list of them) -> float32 ``[N,3,S,S]``."""
    batch = np.stack(list(crops)) if not isinstance(crops, np.ndarray) else crops
    if batch.ndim == 3:
        batch = batch[None]
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
        raise ValueError(f"expected uint8 [N,S,S,3] crops, got {batch.dtype} {batch.shape}")
    x = batch.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    m = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray((x - m) / s)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0,1], ``[N,3,S,S]`` or ``[N,S,S]`` -> uint8 HWC / HW."""
    x = np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0 + 0.5
    if x.ndim == 4:
        x = x.transpose(0, 2, 3, 1)
    return x.astype(np.uint8)
