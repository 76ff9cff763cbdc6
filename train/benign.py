"""Benign processing: the re-saves and resizes an ordinary user applies to a photo.

A forensic verdict must survive them. They are used three ways, all on RGB uint8 arrays:

* :func:`random_benign`, a training augmentation applied alike to reals and fakes (after the
  self-blend, so the blend boundary is processed too);
* :data:`RESAVES`, a fixed, named table of re-saves: validation measures how many verdicts they
  flip (the selection rule, ``train.validation``), and ``benchmarks/stability.py`` reports them;
* :func:`rescale`, also used on whole files by the benchmark (a re-saved file is re-cropped).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

KERNELS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
           "lanczos": cv2.INTER_LANCZOS4, "area": cv2.INTER_AREA}


def _pil_roundtrip(rgb: np.ndarray, fmt: str, **options) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, fmt, **options)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def jpeg(rgb: np.ndarray, quality: int, subsampling: str = "4:2:0") -> np.ndarray:
    """JPEG encode/decode (PIL/libjpeg) at ``quality`` with ``4:2:0`` or ``4:4:4`` chroma."""
    return _pil_roundtrip(rgb, "JPEG", quality=int(quality), subsampling=subsampling)


def webp(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Lossy WebP encode/decode at ``quality``."""
    return _pil_roundtrip(rgb, "WEBP", quality=int(quality))


def gif(rgb: np.ndarray) -> np.ndarray:
    """A real GIF save and load (PIL: adaptive 256-colour median-cut palette)."""
    return _pil_roundtrip(rgb, "GIF")


def palette(rgb: np.ndarray, dither: bool = True) -> np.ndarray:
    """Adaptive 256-colour palette (fast octree), remapped with Floyd-Steinberg dithering or none;
    the fast stand-in for GIF-style quantisation in training."""
    img = Image.fromarray(np.ascontiguousarray(rgb))
    pal = img.quantize(256, method=Image.Quantize.FASTOCTREE)
    d = Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE
    return np.asarray(img.quantize(palette=pal, dither=d).convert("RGB"))


def rescale(rgb: np.ndarray, factor: float, kernel: str = "bicubic", back: bool = True) -> np.ndarray:
    """Resize by ``factor`` with ``kernel``; with ``back``, return to the original size the way
    ``jrc.faces.crop`` resizes a face (area when shrinking, bilinear when enlarging), i.e. what
    the model sees after a re-sized file is cropped again."""
    h, w = rgb.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    out = cv2.resize(np.ascontiguousarray(rgb), size, interpolation=KERNELS[kernel])
    if not back:
        return out
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA if factor > 1 else cv2.INTER_LINEAR)


def sharpen(rgb: np.ndarray, amount: float = 0.5, sigma: float = 1.0) -> np.ndarray:
    """Mild unsharp mask (as photo apps apply on export)."""
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma)
    return cv2.addWeighted(rgb, 1 + amount, blurred, -amount, 0)


def denoise(rgb: np.ndarray, strength: float = 20.0) -> np.ndarray:
    """Mild edge-preserving denoise (bilateral filter)."""
    return cv2.bilateralFilter(np.ascontiguousarray(rgb), 5, strength, strength)


def grey(rgb: np.ndarray) -> np.ndarray:
    """Greyscale saved as RGB."""
    g = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return np.repeat(g[..., None], 3, axis=2)


# The fixed re-saves that validation and benchmarks/stability.py apply (name -> transform).
RESAVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "jpeg95": lambda x: jpeg(x, 95),
    "jpeg90": lambda x: jpeg(x, 90),
    "jpeg75": lambda x: jpeg(x, 75),
    "jpeg75_444": lambda x: jpeg(x, 75, "4:4:4"),
    "jpeg50": lambda x: jpeg(x, 50),
    "webp80": lambda x: webp(x, 80),
    "gif": gif,
    "gif_dither": palette,
    "up2x": lambda x: rescale(x, 2.0, "bicubic"),
    "down0.5x": lambda x: rescale(x, 0.5, "area"),
    "sharpen": sharpen,
    "denoise": denoise,
    "grey": grey,
}
# The re-saves whose verdict-change targets issue 27 sets (<= 2 %, GIF <= 5 %).
TARGETED = ("jpeg95", "jpeg90", "jpeg75", "webp80", "gif", "up2x", "down0.5x")


def random_benign(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One to two benign operations of random kind and strength, in a random order (a resize
    first, then an encoder, as a re-shared photo goes)."""
    ops: list[Callable[[np.ndarray], np.ndarray]] = []
    if rng.random() < 0.5:  # resize: down 0.25-1x or up 1-2x, any kernel
        f = float(rng.uniform(0.25, 1.0) if rng.random() < 0.6 else rng.uniform(1.0, 2.0))
        k = str(rng.choice(("nearest", "bilinear", "bicubic", "lanczos", "area")))
        ops.append(lambda x: rescale(x, f, k))
    if rng.random() < 0.2:
        a = float(rng.uniform(0.2, 0.8))
        ops.append(lambda x: sharpen(x, a) if rng.random() < 0.5 else denoise(x, 10 + 30 * a))
    if rng.random() < 0.05:
        ops.append(grey)
    kind = rng.random()  # the encoder of the saved file
    if kind < 0.5:
        q, sub = int(rng.integers(30, 101)), "4:4:4" if rng.random() < 0.3 else "4:2:0"
        ops.append(lambda x: jpeg(x, q, sub))
    elif kind < 0.7:
        q = int(rng.integers(50, 96))
        ops.append(lambda x: webp(x, q))
    elif kind < 0.8:
        d = bool(rng.random() < 0.5)
        ops.append(lambda x: palette(x, d))
    # else: a lossless save (PNG): nothing more
    for op in ops:
        rgb = op(rgb)
    return np.ascontiguousarray(rgb)
