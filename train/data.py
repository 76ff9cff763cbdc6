"""Training data: labelled crop folders turned into cached, uniformly framed face crops.

Every image, real or fake, goes through the same path: decode -> BlazeFace on a zero-padded
canvas -> ``jrc.faces.crop`` at the model's input size -> uint8 cache. Real and fake therefore
share framing, resizing and (source) JPEG handling; augmentation is applied to both alike.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from jrc.faces import FaceDetector, crop

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
REAL_DIRS = {"youtube", "original", "original_sequences", "real", "celeb-real", "youtube-real"}


@dataclass
class Sample:
    path: str
    label: int  # 1 = fake
    source: str  # sub-folder, e.g. the FF++ method


def scan_crop_folder(root: str | Path) -> list[Sample]:
    """``root/<source>/*.jpg``; sources named like ``youtube``/``real`` are real, others fake."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    samples = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        label = 0 if sub.name.lower() in REAL_DIRS else 1
        for f in sorted(sub.rglob("*")):
            if f.suffix.lower() in IMAGE_EXTS:
                samples.append(Sample(str(f), label, sub.name))
    if not samples:
        raise FileNotFoundError(f"{root}: no images in sub-folders")
    return samples


def detect_and_crop(detector: FaceDetector, rgb: np.ndarray, size: int,
                    pad_frac: float = 0.5) -> np.ndarray | None:
    """Largest face of an (already roughly cropped) image, framed by ``jrc.faces.crop``.

    Detection runs on a zero-padded canvas so faces that fill the image are still found
    (BlazeFace misses ~2% of the tight FF++ crops without it); the crop itself is taken from
    the original image, so its border handling is exactly the one used at inference.
    """
    p = int(max(rgb.shape[:2]) * pad_frac)
    canvas = cv2.copyMakeBorder(rgb, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    faces = detector.detect(canvas)
    if not faces:
        return None
    face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    box = (face.box[0] - p, face.box[1] - p, face.box[2] - p, face.box[3] - p)
    return crop(rgb, box, size, detector.scale, detector.shift)


def cache_crops(samples: list[Sample], size: int, cache_dir: str | Path = "cache",
                face_model: str = "short_range") -> tuple[np.ndarray, np.ndarray]:
    """Crops ``[N,size,size,3]`` uint8 and a ``found`` mask; cached by content of the list."""
    key = hashlib.sha1(json.dumps([[s.path for s in samples], size, face_model]).encode())
    path = Path(cache_dir) / f"crops_{size}_{key.hexdigest()[:12]}.npz"
    if path.is_file():
        data = np.load(path)
        return data["crops"], data["found"]
    detector = FaceDetector(face_model)
    crops = np.zeros((len(samples), size, size, 3), np.uint8)
    found = np.zeros(len(samples), bool)
    for i, s in enumerate(tqdm(samples, desc="detect + crop",
                               unit="img", leave=False)):
        bgr = cv2.imread(s.path, cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        c = detect_and_crop(detector, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size)
        if c is not None:
            crops[i], found[i] = c, True
    detector.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, crops=crops, found=found)
    return crops, found


def split_indices(samples: list[Sample], val_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (per source folder) random train/validation split."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    by_source: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        by_source.setdefault(s.source, []).append(i)
    for idx in by_source.values():
        idx = rng.permutation(idx)
        n_val = round(len(idx) * val_frac)
        val += idx[:n_val].tolist()
        train += idx[n_val:].tolist()
    return np.array(sorted(train)), np.array(sorted(val))


def augment(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Label-independent augmentation: flip, mild scale/shift jitter, random JPEG re-encoding."""
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    s = crop.shape[0]
    if rng.random() < 0.5:
        scale = rng.uniform(0.95, 1.05)
        tx, ty = rng.uniform(-0.03, 0.03, 2) * s
        m = np.array([[scale, 0, (1 - scale) * s / 2 + tx], [0, scale, (1 - scale) * s / 2 + ty]])
        crop = cv2.warpAffine(np.ascontiguousarray(crop), m, (s, s), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.3:
        q = int(rng.integers(60, 96))
        bgr = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2BGR)
        _ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, q])
        crop = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(crop)
