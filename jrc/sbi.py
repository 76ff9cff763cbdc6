"""Self-blended fakes: a face blended with a perturbed, slightly shifted copy of itself.

After Self-Blended Images (Shiohara & Yamasaki, CVPR 2022) and Face X-ray (Li et al., CVPR 2020).
From ONE real face crop, :func:`self_blend` returns ``(fake, mask)``:

1. **Region**: a face outline (forehead, temples, jaw, chin) drawn in the crop. With BlazeFace
   keypoints it is fitted to them by an affine map from the canonical keypoint layout of the
   project's crop framing (``CANONICAL_KEYPOINTS``, medians over 300 FF++ crops); without
   keypoints the canonical layout itself is used. One of three shapes: the outline, an
   ellipse fitted to it, or the inner face (brows to below the mouth), with scale jitter.
   Optionally (``local``), a part of the face instead: the mouth and lower face, the eyes
   and brows, the nose or a cheek, as local manipulations (mouth reenactment, photo-editor
   edits) change only that part.
   Any other number of landmarks (e.g. 68) is used through its convex hull.
2. **Source**: a copy of the crop with a colour perturbation (RGB shift p=0.3, HSV shift,
   brightness/contrast) and one frequency perturbation (down-up resampling, sharpening or a
   mild blur), then a small affine shift/scale (x ±3 %, y ±1.5 %, scale 0.95..1.05), which also
   moves the region.
3. **Mask**: the region is elastically deformed (smooth random displacement field), resized
   to a random 192..256 px canvas, blurred, cut to the blur's core (erosion), blurred again
   with a random kernel and sigma, resized back and multiplied by a random blend ratio
   (0.25, 0.5, 0.75 or 1, with 1 three times as likely), as in SBI's ``dynamic_blend``.
4. ``fake = mask * source + (1 - mask) * target``, where the target is the untouched crop.

**Source or target perturbed.** SBI perturbs either the source or the target at random. Perturbing
the target would change every pixel of the fake, including those outside the mask: the
"outside the mask the fake is the real image" property would break, and fakes would differ
from reals by a global colour/sharpness change, a shortcut the classifier could learn instead of
the blending boundary. Only the colour and frequency *mismatch across the boundary* matters, and
blending a pristine source into a target perturbed by ``T`` equals, up to applying ``T`` to the
whole image, blending a source perturbed by ``T⁻¹`` into a pristine target. So the target always
stays pristine and the "target" branch (p=0.5) applies the inverse perturbation to the source:
colour shifts are drawn from symmetric ranges (their inverse has the same distribution), a
down-up resampled target becomes a sharpened source, and a sharpened target a blurred source.
Pixels where ``mask == 0`` are therefore bit-identical to the input.

Everything random comes from the ``numpy.random.Generator`` passed in: the same seed gives the
same output. ``benchmark`` times it on the machine at hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

# BlazeFace keypoints in the project's crop (jrc.faces.crop, short_range framing), as fractions of
# the crop side: right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion.
# Medians over 299 FF++ train crops (detected on a padded canvas as in jrc.faces.detect_and_crop).
CANONICAL_KEYPOINTS = np.array([[0.287, 0.396], [0.699, 0.399], [0.483, 0.615],
                                [0.487, 0.829], [0.085, 0.508], [0.926, 0.514]], np.float32)
# Face outline (forehead -> temples -> jaw -> chin) in the same frame; the crop cuts the chin.
FACE_OUTLINE = np.array([[0.49, 0.10], [0.71, 0.13], [0.85, 0.25], [0.90, 0.40], [0.89, 0.56],
                         [0.84, 0.72], [0.74, 0.88], [0.62, 1.00], [0.49, 1.06], [0.36, 1.00],
                         [0.24, 0.88], [0.14, 0.72], [0.09, 0.56], [0.08, 0.40], [0.13, 0.25],
                         [0.27, 0.13]], np.float32)
OUTLINE_CENTRE = np.array([0.49, 0.58], np.float32)
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # SBI's dynamic_blend
# Parts of the face for part-level self-blends (``local`` > 0), the edits a photo editor makes:
# (centre, half-axes) of an ellipse in the same frame. The mouth and lower face (where
# mouth-reenactment methods such as NeuralTextures change the face), the eyes and brows, the
# nose, and either cheek.
LOCAL_REGIONS = (((0.487, 0.84), (0.25, 0.17)), ((0.49, 0.42), (0.36, 0.14)),
                 ((0.485, 0.58), (0.11, 0.15)), ((0.26, 0.66), (0.12, 0.12)),
                 ((0.72, 0.66), (0.12, 0.12)))
# Keypoints off the crop: a region covering under MIN_REGION_FRAC of the crop AND with under
# MIN_ON_CROP of its own area on it falls back to the canonical layout (a small face on the crop,
# e.g. a local region of a small face, keeps its place).
MIN_REGION_FRAC, MIN_ON_CROP = 0.05, 0.5


def _affine_from_canonical(keypoints: np.ndarray, w: int, h: int) -> np.ndarray | None:
    """2x3 map from canonical pixel keypoints to ``keypoints`` (least squares); None if degenerate."""
    src = CANONICAL_KEYPOINTS * (w, h)
    a = np.hstack([src, np.ones((len(src), 1), np.float32)])
    m, *_ = np.linalg.lstsq(a, keypoints, rcond=None)
    m = m.T  # 2x3
    sv = np.linalg.svd(m[:, :2], compute_uv=False)
    if np.linalg.det(m[:, :2]) <= 0 or sv[1] < 1e-3 or sv[0] / sv[1] > 4:
        return None
    return m.astype(np.float32)


def _local_region(rng: np.random.Generator) -> np.ndarray:
    """A part of the face in canonical crop fractions (one of :data:`LOCAL_REGIONS`)."""
    centre, axes = LOCAL_REGIONS[int(rng.integers(len(LOCAL_REGIONS)))]
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ax, ay = np.float32(axes) * rng.uniform(0.85, 1.15, 2)
    return np.stack([centre[0] + ax * np.cos(t), centre[1] + ay * np.sin(t)], axis=1)


def _region_polygon(keypoints: np.ndarray | None, w: int, h: int,
                    rng: np.random.Generator, local: float = 0.0) -> tuple[np.ndarray, bool]:
    """Face-region polygon in pixels and whether to draw it as a fitted ellipse.

    With probability ``local`` the region is a part of the face (:data:`LOCAL_REGIONS`) instead of
    the whole face; only for BlazeFace's 6 keypoints or the canonical layout, since other landmark
    sets are used through their hull. No random number is drawn for that choice when ``local``
    is 0, so the seeds of runs without it give the same fakes as before.
    """
    hull_landmarks = keypoints is not None and len(keypoints) != len(CANONICAL_KEYPOINTS)
    if local > 0 and not hull_landmarks and rng.random() < local:
        kind, sx, sy = -1, 1.0, 1.0
        poly = _local_region(rng)
    else:
        kind = rng.choice(3, p=(0.5, 0.25, 0.25))  # 0 outline, 1 ellipse, 2 inner face
        sx, sy = rng.uniform(0.85, 1.05, 2)
        centre = OUTLINE_CENTRE
        if kind == 2:
            sx, sy = sx * 0.72, sy * 0.72
            centre = np.array([0.49, 0.62], np.float32)
        poly = (FACE_OUTLINE - centre) * (sx, sy) + centre
    poly += rng.normal(0, 0.012, poly.shape)  # vertex jitter, 1.2 % of the crop
    poly = (poly * (w, h)).astype(np.float32)

    if keypoints is not None and len(keypoints) == len(CANONICAL_KEYPOINTS):
        m = _affine_from_canonical(keypoints, w, h)
        if m is not None:
            poly = poly @ m[:, :2].T + m[:, 2]
    elif hull_landmarks and len(keypoints) >= 3:  # other landmark sets: their hull
        hull = cv2.convexHull(keypoints.astype(np.float32)).reshape(-1, 2)
        c = hull.mean(axis=0)
        poly = (hull - c) * (sx / 0.95, sy / 0.95) + c
    return poly.astype(np.float32), kind == 1 and len(poly) >= 5  # fitEllipse needs 5 points


def _draw_region(poly: np.ndarray, ellipse: bool, w: int, h: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    if ellipse:
        (cx, cy), (aw, ah), angle = cv2.fitEllipse(poly)
        cv2.ellipse(mask, ((cx, cy), (aw, ah), angle), 1, -1, cv2.LINE_AA)
    else:
        hull = cv2.convexHull(np.round(poly * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1, cv2.LINE_8, shift=4)
    return mask.astype(np.float32)


def _off_crop(poly: np.ndarray, ellipse: bool, w: int, h: int) -> bool:
    """Whether the region lies (mostly) off the ``w x h`` crop, per ``MIN_REGION_FRAC``/``MIN_ON_CROP``."""
    drawn = float(_draw_region(poly, ellipse, w, h).sum())
    if drawn >= MIN_REGION_FRAC * w * h:
        return False
    if ellipse:
        _, (aw, ah), _ = cv2.fitEllipse(poly)
        area = np.pi * aw * ah / 4
    else:
        area = cv2.contourArea(cv2.convexHull(poly))
    return drawn < MIN_ON_CROP * area or area < 1


def _elastic(mask: np.ndarray, rng: np.random.Generator, amplitude: float = 0.02,
             grid: int = 12) -> np.ndarray:
    """Smooth random displacement (coarse uniform noise, cubic-upsampled) applied to the mask."""
    h, w = mask.shape
    d = rng.uniform(-1, 1, (2, grid, grid)).astype(np.float32) * amplitude * max(h, w)
    dx = cv2.resize(d[0], (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(d[1], (w, h), interpolation=cv2.INTER_CUBIC)
    gx, gy = _grid(h, w)
    return cv2.remap(mask, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


def _odd(rng: np.random.Generator, lo: int = 5, hi: int = 25) -> int:
    return int(rng.integers(lo // 2, hi // 2 + 1)) * 2 + 1


def _blend_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's ``get_blend_mask``: random canvas, blur, erode to the core, blur again, normalise."""
    h, w = mask.shape
    ch, cw = (int(v) for v in rng.integers(192, 257, 2))
    m = cv2.resize(mask, (cw, ch), interpolation=cv2.INTER_LINEAR)
    k1, k2 = _odd(rng), _odd(rng)
    sigma2 = float(rng.uniform(5, 46))
    b = cv2.GaussianBlur(m, (k1, k1), 0)
    if b.max() > 0:
        core = np.where(b >= b.max() * (1 - 1e-6), 1.0, 0.0).astype(np.float32)
        b = core if core.any() else b
    b = cv2.GaussianBlur(b, (k2, k2), sigma2)
    if b.max() > 0:
        b /= b.max()
    return cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)


def _colour(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB shift (p=0.3), HSV shift, brightness/contrast: all from symmetric ranges (as LUTs)."""
    x = np.arange(256, dtype=np.int16)
    out = img
    if rng.random() < 0.3:
        shift = rng.integers(-20, 21, 3)
        lut = np.stack([np.clip(x + d, 0, 255) for d in shift], axis=-1).astype(np.uint8)
        out = cv2.LUT(out, lut.reshape(256, 1, 3))
    dh, ds, dv = int(rng.integers(-4, 5)), int(rng.integers(-15, 16)), int(rng.integers(-15, 16))
    hue = np.where(x < 180, (x + dh) % 180, x)  # OpenCV's 8-bit hue runs 0..179
    lut = np.stack([hue, np.clip(x + ds, 0, 255), np.clip(x + dv, 0, 255)], axis=-1).astype(np.uint8)
    hsv = cv2.LUT(cv2.cvtColor(out, cv2.COLOR_RGB2HSV), lut.reshape(256, 1, 3))
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    alpha = 1.0 + rng.uniform(-0.1, 0.1)
    beta = rng.uniform(-0.1, 0.1) * 255
    lut = np.clip(np.arange(256, dtype=np.float32) * alpha + beta + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(out, lut)


def _downup(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    r = float(rng.choice((2, 3, 4)))
    small = cv2.resize(img, (max(1, round(w / r)), max(1, round(h / r))), interpolation=cv2.INTER_NEAREST)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _sharpen(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    alpha, lightness = rng.uniform(0.2, 0.5), rng.uniform(0.5, 1.0)
    k = np.full((3, 3), -1.0, np.float32)
    k[1, 1] = 8 + lightness
    ident = np.zeros((3, 3), np.float32)
    ident[1, 1] = 1
    return cv2.filter2D(img, -1, (1 - alpha) * ident + alpha * k, borderType=cv2.BORDER_REFLECT)


def _blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.3))


def _perturb_source(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour + one frequency perturbation; the 'target' branch uses the inverse frequency op."""
    target_branch = rng.random() < 0.5
    out = _colour(img, rng)
    down_up = rng.random() < 0.5
    if not target_branch:
        return _downup(out, rng) if down_up else _sharpen(out, rng)
    return _sharpen(out, rng) if down_up else _blur(out, rng)


def _source_affine(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    tx, ty = rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.015, 0.015) * h
    s = rng.uniform(0.95, 1 / 0.95)
    cx, cy = w / 2, h / 2
    return np.array([[s, 0, (1 - s) * cx + tx], [0, s, (1 - s) * cy + ty]], np.float32)


def self_blend(img: np.ndarray, keypoints: np.ndarray | Sequence | None,
               rng: np.random.Generator, local: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """One self-blended fake from one real face crop.

    ``img``: uint8 ``HxWx3`` RGB face crop (``jrc.faces.crop`` framing). ``keypoints``: ``(K, 2)``
    pixel coordinates in ``img`` (BlazeFace's 6, as ``jrc.faces.detect_and_crop`` returns them,
    or ``jrc.faces.crop_points``), or None to use the canonical layout of the crop framing.
    ``local``: probability that the blended region is a part of the face (mouth and lower face,
    eyes and brows, nose, a cheek) rather than the whole face; for landmark sets other than BlazeFace's 6 it
    is ignored (their hull is the region).
    Returns ``(fake uint8 HxWx3, mask float32 HxW)``, mask in [0, 1]; where ``mask == 0`` the
    fake equals ``img`` exactly.
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("self_blend expects a uint8 HxWx3 RGB image")
    h, w = img.shape[:2]
    kps = None if keypoints is None else np.asarray(keypoints, np.float32).reshape(-1, 2)
    if kps is not None and not np.all(np.isfinite(kps)):
        kps = None

    poly, ellipse = _region_polygon(kps, w, h, rng, local)
    if kps is not None and _off_crop(poly, ellipse, w, h):
        poly, ellipse = _region_polygon(None, w, h, rng, local)  # keypoints off the crop: canonical layout

    m = _source_affine(w, h, rng)
    source = cv2.warpAffine(_perturb_source(img, rng), m, (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    region = _draw_region(poly @ m[:, :2].T + m[:, 2], ellipse, w, h)  # the region moves with it

    mask = _blend_mask(_elastic(region, rng), rng)
    mask *= float(rng.choice(BLEND_RATIOS))
    mask[mask < 1.0 / 255] = 0.0  # a sub-grey-level tail is no change: keep the support honest
    np.clip(mask, 0.0, 1.0, out=mask)

    fake = img.copy()
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows):
        box = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        t = img[box].astype(np.float32)
        fake[box] = (t + mask[box][..., None] * (source[box].astype(np.float32) - t) + 0.5).astype(np.uint8)
    return fake, mask


def sbi_batch(imgs: np.ndarray | Sequence[np.ndarray], keypoints: Sequence | None,
              rng: np.random.Generator, local: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`self_blend` over a batch: ``[N,H,W,3]`` uint8 -> (fakes ``[N,H,W,3]``, masks ``[N,H,W]``).

    ``keypoints``: None, or one entry per image (an array, or None for that image).
    """
    imgs = list(imgs)
    kps = [None] * len(imgs) if keypoints is None else list(keypoints)
    if len(kps) != len(imgs):
        raise ValueError(f"{len(imgs)} images but {len(kps)} keypoint entries")
    pairs = [self_blend(im, k, rng, local) for im, k in zip(imgs, kps, strict=True)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def benchmark(size: int = 224, n: int = 200, seed: int = 0) -> float:
    """Milliseconds per sample on a synthetic ``size`` px crop (single thread)."""
    import time

    prev = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        rng = np.random.default_rng(seed)
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        kps = CANONICAL_KEYPOINTS * size
        self_blend(img, kps, rng)
        t0 = time.perf_counter()
        for _ in range(n):
            self_blend(img, kps, rng)
        return (time.perf_counter() - t0) / n * 1000
    finally:
        cv2.setNumThreads(prev)


__all__ = ["CANONICAL_KEYPOINTS", "sbi_batch", "self_blend"]
