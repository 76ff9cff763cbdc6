"""Rendering only: boxes, residual heatmaps, mask overlays, per-face panels, the timeline table.

Everything here takes what :mod:`jrc` computed (``FaceResult``, ``VideoReport``) and draws it;
no scores are computed here.
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from jrc.detector import FaceResult
from jrc.faces import crop_box

REAL_RGB = (34, 160, 70)
FAKE_RGB = (220, 38, 38)
# Residuals are shown on one fixed scale (black 0 -> yellow >= RESIDUAL_VMAX, mean |crop - recon|
# per pixel, 0..1) so that faces and frames can be compared; a per-face stretch would make
# every face look equally "hot" and make the live view flicker.
RESIDUAL_VMAX = 0.4
NO_MASK_NOTE = "no mask head"
PANEL_TITLES = ("crop", "reconstruction", "residual", "forgery mask")
MASK_MARKED = 0.5  # a mask pixel at or above this counts as marked
NOTHING_MARKED = "nothing marked"


def verdict_color(label: str) -> tuple[int, int, int]:
    return FAKE_RGB if label == "fake" else REAL_RGB


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color=(255, 255, 255),
          thickness: int = 1) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)


def tag(img: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int], scale: float) -> None:
    """A filled tag with white text whose bottom-left corner sits at ``(x, y)`` (kept inside)."""
    th = max(1, round(scale * 2))
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    pad = max(2, round(4 * scale))
    h, w = img.shape[:2]
    x = int(min(max(0, x), max(0, w - tw - 2 * pad)))
    y = int(max(tht + base + 2 * pad, min(y, h)))
    cv2.rectangle(img, (x, y - tht - base - 2 * pad), (x + tw + 2 * pad, y), color, -1)
    _text(img, text, (x + pad, y - base - pad), scale, thickness=th)


def heatmap(residual: np.ndarray, vmax: float = RESIDUAL_VMAX) -> np.ndarray:
    """Residual ``[S,S]`` in [0,1] -> RGB uint8 (inferno colour map, fixed scale)."""
    v = np.clip(np.asarray(residual, np.float32) / vmax, 0.0, 1.0)
    bgr = cv2.applyColorMap((v * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def mask_overlay(crop: np.ndarray, mask: np.ndarray, alpha: float = 0.65) -> np.ndarray:
    """Tint the crop red where the predicted forgery mask is high."""
    m = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)[..., None] * alpha
    red = np.zeros_like(crop, np.float32)
    red[...] = FAKE_RGB
    return (crop.astype(np.float32) * (1 - m) + red * m).astype(np.uint8)


def placeholder(size: int, lines: tuple[str, ...]) -> np.ndarray:
    tile = np.full((size, size, 3), 60, np.uint8)
    scale = size / 400
    for i, line in enumerate(lines):
        (tw, _), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = size // 2 + round((i - (len(lines) - 1) / 2) * 26 * scale * 2)
        _text(tile, line, ((size - tw) // 2, y), scale, (210, 210, 210))
    return tile


def face_tiles(r: FaceResult) -> list[np.ndarray]:
    """crop | reconstruction | residual heatmap | mask overlay (placeholders where absent)."""
    s = r.crop.shape[0]
    recon = r.reconstruction if r.reconstruction is not None else placeholder(s, ("no decoder",))
    resid = heatmap(r.residual) if r.residual is not None else placeholder(s, ("no decoder",))
    if r.mask is not None:
        mask = mask_overlay(r.crop, r.mask)
        if not mask_marks(r.mask):
            tag(mask, NOTHING_MARKED, 4, s - 4, (70, 70, 70), s / 400)
    else:
        mask = placeholder(s, ("this model has", NO_MASK_NOTE, "(see residual)"))
    return [r.crop, recon, resid, mask]


def mask_marks(mask: np.ndarray) -> bool:
    """Whether a predicted forgery mask marks anything (a pixel at or above ``MASK_MARKED``)."""
    return bool(np.max(mask) >= MASK_MARKED) if np.size(mask) else False


def residual_legend(width: int, height: int = 12) -> np.ndarray:
    """The residual's colour scale, 0 (left) to ``RESIDUAL_VMAX`` and above (right), as RGB."""
    ramp = np.tile(np.linspace(0.0, RESIDUAL_VMAX, max(2, width), dtype=np.float32), (height, 1))
    return heatmap(ramp)


def face_panel(r: FaceResult, title: str) -> np.ndarray:
    """One row per face: a title bar, then the four tiles with their names; under the residual,
    its colour scale (mean |crop - reconstruction|, 0 to ``RESIDUAL_VMAX`` and above)."""
    tiles = face_tiles(r)
    s = tiles[0].shape[0]
    gap, head, foot = 6, 34, 52
    w = len(tiles) * s + (len(tiles) + 1) * gap
    panel = np.full((head + s + foot + gap, w, 3), 255, np.uint8)
    color = verdict_color(r.label)
    panel[:head] = color
    _text(panel, title, (gap + 2, head - 11), 0.6, thickness=2)
    for i, (tile, name) in enumerate(zip(tiles, PANEL_TITLES, strict=True)):
        x = gap + i * (s + gap)
        panel[head + 2:head + 2 + s, x:x + s] = tile[: s, : s]
        _text(panel, name, (x + 2, head + s + 18), 0.5, (40, 40, 40))
        if name == "residual" and r.residual is not None:  # the colour scale, tile-wide
            panel[head + s + 24:head + s + 32, x:x + s] = residual_legend(s, 8)
            _text(panel, "0", (x, head + s + 46), 0.4, (40, 40, 40))
            _text(panel, f"{RESIDUAL_VMAX:g}+", (x + s - 30, head + s + 46), 0.4, (40, 40, 40))
    return panel


def stack_panels(panels: list[np.ndarray], gap: int = 8) -> np.ndarray | None:
    """Face panels one under the other (all have the same width)."""
    if not panels:
        return None
    w = panels[0].shape[1]
    rows = []
    for p in panels:
        rows += [p, np.full((gap, w, 3), 255, np.uint8)]
    return np.vstack(rows[:-1])


def draw_faces(rgb: np.ndarray, results: list[FaceResult], numbered: bool = True) -> np.ndarray:
    """A copy of ``rgb`` with one box per face, coloured by verdict, tagged with P(fake)."""
    out = rgb.copy()
    h, w = out.shape[:2]
    scale = max(0.6, min(3.0, max(h, w) / 700))
    th = max(2, round(max(h, w) / 350))
    for i, r in enumerate(results):
        if r.box is None:
            continue
        x0, y0, x1, y1 = (round(v) for v in r.box)
        color = verdict_color(r.label)
        cv2.rectangle(out, (x0, y0), (x1, y1), color, th)
        text = f"{r.label.upper()} {r.score:.2f}"
        if numbered:
            text = f"#{i + 1} {text}"
        tag(out, text, x0 - th // 2, y0 - th // 2, color, scale)
    return out


def blend_in_crop(frame: np.ndarray, box: tuple[float, float, float, float], tile: np.ndarray,
                  scale: float, shift: float, alpha: float = 0.5) -> None:
    """Blend ``tile`` (crop coordinates) back over the crop square it came from, in place.

    The square is :func:`jrc.faces.crop_box` with the detector's framing, so the overlay
    lands exactly on the pixels the model saw.
    """
    h, w = frame.shape[:2]
    x0, y0, side = crop_box(box, scale, shift)
    tile = cv2.resize(tile, (side, side), interpolation=cv2.INTER_LINEAR)
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    part = tile[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0].astype(np.float32)
    roi = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = (roi * (1 - alpha) + part * alpha).astype(np.uint8)


def overlay_tile(r: FaceResult, kind: str) -> np.ndarray | None:
    """The crop-sized image to blend for ``kind`` ('residual' | 'mask'), or None."""
    if kind == "residual" and r.residual is not None:
        return heatmap(r.residual)
    if kind == "mask" and r.mask is not None:
        return mask_overlay(r.crop, r.mask, alpha=1.0)
    return None


def annotate_frame(rgb: np.ndarray, results: list[FaceResult], overlay: str = "residual",
                   framing: tuple[float, float] = (1.0, 0.0), alpha: float = 0.5,
                   tiles: list[np.ndarray | None] | None = None) -> np.ndarray:
    """Boxes plus an optional residual/mask overlay inside each face's crop square.

    Each result's own ``framing`` places its overlay; ``framing`` is for results without one.

    ``tiles`` (one per result) overrides the overlay images, e.g. the last computed
    residual reused on a frame that was scored without the decoder.
    """
    out = rgb.copy()
    if overlay != "none":
        for i, r in enumerate(results):
            tile = tiles[i] if tiles is not None else overlay_tile(r, overlay)
            if tile is not None and r.box is not None:  # the framing of the model that found it
                blend_in_crop(out, r.box, tile, *(r.framing or framing), alpha=alpha)
    return draw_faces(out, results, numbered=False)


def fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most ``max_side``."""
    h, w = rgb.shape[:2]
    f = max_side / max(h, w)
    if f >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


TRACK_PALETTE = ("#2563eb", "#ea580c", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4d7c0f", "#7c2d12")
THRESHOLD_COLOR = "#6b7280"


def series_colors(df: pd.DataFrame) -> dict[str, str]:
    """A colour for every series of :func:`timeline_frame` (the plot draws only mapped series)."""
    tracks = [s for s in dict.fromkeys(df["series"]) if s != "threshold"]
    colors = {s: TRACK_PALETTE[i % len(TRACK_PALETTE)] for i, s in enumerate(tracks)}
    return {**colors, "threshold": THRESHOLD_COLOR}


def timeline_frame(timeline: list[dict], threshold: float) -> pd.DataFrame:
    """Long-form table for the timeline plot: one row per (sampled frame, track), plus the
    threshold drawn as its own two-point series."""
    rows = []
    use_time = all(t.get("time") is not None for t in timeline)
    for t in timeline:
        x = t["time"] if use_time else t["frame"]
        rows += [{"x": x, "P(fake)": f["score"], "series": f"track {f['track']}"} for f in t["faces"]]
    if timeline:
        xs = [t["time"] if use_time else t["frame"] for t in timeline]
        rows += [{"x": min(xs), "P(fake)": threshold, "series": "threshold"},
                 {"x": max(xs), "P(fake)": threshold, "series": "threshold"}]
    return pd.DataFrame(rows, columns=["x", "P(fake)", "series"])
