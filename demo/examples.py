"""Example inputs made in code from permissively licensed sources (never the research data sets).

* ``astronaut.png``: scikit-image's ``astronaut()`` (Eileen Collins, NASA, public domain).
* ``astronaut_selfblended.png``: a self-blended fake of it, made by the project's own
  :func:`jrc.sbi.self_blend` (the face blended with a perturbed, shifted copy of itself).
* ``coffee.png``: scikit-image's ``coffee()`` (CC0), a photo without a face.
* ``astronaut_drift.webm``: the astronaut photo panning slowly, a short video with one face track.
* ``astronaut_drift_selfblended.webm``: the same pan over the self-blended fake (a fake video).

They are written once into a folder (the ``root`` argument, else one in the system temp dir).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from demo.video_out import write_webm

SBI_SEED = 1  # a seed whose blend (a smoothed face) is plainly visible in the example


LABELS = {"astronaut": "astronaut (real photo)", "astronaut_selfblended": "astronaut, self-blended fake",
          "coffee": "coffee (no face)", "astronaut_drift": "astronaut (panning)",
          "astronaut_drift_selfblended": "astronaut, self-blended fake (panning)"}


def label(path: str | Path) -> str:
    return LABELS.get(Path(path).stem, Path(path).stem)


def examples_dir(root: str | Path | None = None) -> Path:
    """``root`` (created if needed), else ``jrc-demo-examples`` in the system temp dir."""
    d = Path(root) if root is not None else Path(tempfile.gettempdir()) / "jrc-demo-examples"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _skimage(name: str) -> np.ndarray | None:
    try:
        from skimage import data
    except ImportError:
        return None
    return np.ascontiguousarray(getattr(data, name)())


def _save_png(path: Path, rgb: np.ndarray) -> Path:
    if not path.is_file():
        tmp = path.with_suffix(".tmp.png")
        cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        tmp.replace(path)  # atomic: concurrent starts never see half a file
    return path


def drift_frames(rgb: np.ndarray, n: int = 24, step: float = 3.0, side: int = 384) -> list[np.ndarray]:
    """``n`` frames of ``rgb`` panning right by ``step`` px per frame, downscaled to ``side``."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (side, round(h * side / w)), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        m = np.float32([[1, 0, step * i], [0, 1, 0]])
        out.append(cv2.warpAffine(small, m, (small.shape[1], small.shape[0]), borderMode=cv2.BORDER_REFLECT))
    return out


def self_blended(rgb: np.ndarray, seed: int = SBI_SEED) -> np.ndarray | None:
    """``rgb`` with its first face replaced by a self-blended fake (None without a face or
    without ``train.sbi``).

    The crop square is taken at native resolution with the detector's framing (what
    ``self_blend`` expects), blended, and pasted back where it came from.
    """
    try:
        from jrc.sbi import self_blend
    except ImportError:
        return None
    from jrc.faces import FaceDetector, crop, crop_box, crop_points

    with FaceDetector() as det:
        faces = det.detect(rgb)
    if not faces:
        return None
    f = faces[0]
    x0, y0, side = crop_box(f.box, *f.framing)
    h, w = rgb.shape[:2]
    if x0 < 0 or y0 < 0 or x0 + side > w or y0 + side > h:
        return None
    face = crop(rgb, f.box, side, *f.framing)
    kps = crop_points(f.keypoints, f.box, side, *f.framing)
    fake, _mask = self_blend(face, kps, np.random.default_rng(seed))
    out = rgb.copy()
    out[y0:y0 + side, x0:x0 + side] = fake
    return out


def image_examples(root: str | Path | None = None) -> list[str]:
    """Paths of the example images in :func:`examples_dir` (empty without scikit-image)."""
    astronaut, coffee = _skimage("astronaut"), _skimage("coffee")
    out = []
    if astronaut is not None:
        d = examples_dir(root)
        out.append(str(_save_png(d / "astronaut.png", astronaut)))
        path = d / "astronaut_selfblended.png"
        fake = None if path.is_file() else self_blended(astronaut)
        if path.is_file() or fake is not None:
            out.append(str(path if fake is None else _save_png(path, fake)))
    if coffee is not None:
        out.append(str(_save_png(examples_dir(root) / "coffee.png", coffee)))
    return out


def _save_webm(path: Path, frames: list[np.ndarray]) -> Path:
    tmp = write_webm(path.with_name(path.stem + "_tmp.webm"), frames, fps=8)
    tmp.replace(path)  # atomic, as _save_png
    return path


def video_examples(root: str | Path | None = None) -> list[str]:
    """Paths of the example videos in :func:`examples_dir`: the panning astronaut, real, and the
    same pan over her self-blended fake (empty without scikit-image)."""
    rgb = _skimage("astronaut")
    if rgb is None:
        return []
    d = examples_dir(root)
    path = d / "astronaut_drift.webm"
    if not path.is_file():
        _save_webm(path, drift_frames(rgb))
    out = [str(path)]
    fake_path = d / "astronaut_drift_selfblended.webm"
    if not fake_path.is_file():
        fake = self_blended(rgb)
        if fake is not None:
            _save_webm(fake_path, drift_frames(fake))
    if fake_path.is_file():
        out.append(str(fake_path))
    return out


def webcam_frames(rgb: np.ndarray, n: int = 8, size: tuple[int, int] = (640, 480),
                  sway: int = 6) -> list[np.ndarray]:
    """``rgb`` letterboxed into webcam-sized frames, swaying ``sway`` px left and right over ``n``."""
    w, h = size
    face = cv2.resize(rgb, (h, h), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        canvas = np.full((h, w, 3), 40, np.uint8)
        x = (w - h) // 2 + round(sway * np.sin(2 * np.pi * i / n))
        canvas[:, x:x + h] = face
        out.append(canvas)
    return out
