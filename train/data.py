"""Training data: labelled crop folders turned into cached, uniformly framed face crops.

Every image, real or fake, goes through the same path: decode -> BlazeFace on a zero-padded
canvas -> ``jrc.faces.crop`` at the model's input size (``jrc.faces.detect_and_crop``, which
``jrc scan --crops`` also uses) -> uint8 cache. Real and fake therefore share framing, resizing
and (source) JPEG handling; augmentation is applied to both alike.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from tqdm import tqdm

from jrc.faces import FaceDetector, detect_and_crop
from jrc.media import VIDEO_EXTS
from train.benign import random_benign
from train.degrade import jpeg, random_degradation

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# RMS difference of standardised thumbnails below which two crops count as near-duplicates: in the
# FF++ crops a fake and its source frame typically differ by 0.05-0.25, unrelated faces by 0.4-0.7
# (experiments/benchmarks/val_leakage.py measures it).
NEAR_DUPLICATE = 0.3
REAL_DIRS = {"youtube", "original", "original_sequences", "real", "celeb-real", "youtube-real"}


@dataclass
class Sample:
    path: str
    label: int  # 1 = fake
    source: str  # e.g. the FF++ method, "youtube", "utkface", a video dataset name
    group: str = ""  # frames of one video share a group (video-level splits and metrics)
    frame: int | None = None  # frame index for samples cut from a video


def scan_crop_folder(root: str | Path, sources: list[str] | None = None) -> list[Sample]:
    """``root/<source>/*.jpg``; sources named like ``youtube``/``real`` are real, others fake."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    samples = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sources and sub.name not in sources:
            continue
        label = 0 if sub.name.lower() in REAL_DIRS else 1
        for f in sorted(sub.rglob("*")):
            if f.suffix.lower() in IMAGE_EXTS:
                samples.append(Sample(str(f), label, sub.name, group=str(f)))
    if not samples:
        raise FileNotFoundError(f"{root}: no images in sub-folders" + (f" {sources}" if sources else ""))
    return samples


def scan_real_folder(root: str | Path, source: str | None = None, limit: int = 0,
                     seed: int = 0) -> list[Sample]:
    """A folder of real faces (e.g. UTKFace), all labelled real; ``limit`` samples at random."""
    root = Path(root)
    files = sorted(f for f in root.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise FileNotFoundError(f"{root}: no images")
    if limit and limit < len(files):
        idx = np.sort(np.random.default_rng(seed).choice(len(files), limit, replace=False))
        files = [files[i] for i in idx]
    return [Sample(str(f), 0, source or root.name, group=str(f)) for f in files]


def scan_video_dataset(root: str | Path, split: str | None = None) -> list[Sample]:
    """Videos in an official layout, one Sample per video (``frame`` None). Layouts:

    * FaceForensics++: ``original_sequences/<src>/<comp>/videos`` (real),
      ``manipulated_sequences/<method>/<comp>/videos`` (fake);
    * Celeb-DF v2: ``Celeb-real``, ``YouTube-real`` (real), ``Celeb-synthesis`` (fake);
      ``split="test"`` keeps ``List_of_testing_videos.txt``, ``"train"`` the rest;
    * DFDC: folders with ``metadata.json`` (``{"x.mp4": {"label": "FAKE"|"REAL"}}``);
    * generic: ``real/`` and ``fake/`` sub-folders (e.g. ../shared/data/ffpp-videos).
    """
    root = Path(root)
    vids = lambda d: sorted(f for f in d.rglob("*") if f.suffix.lower() in VIDEO_EXTS)  # noqa: E731
    out: list[Sample] = []
    if (root / "original_sequences").is_dir() or (root / "manipulated_sequences").is_dir():
        for f in vids(root / "original_sequences") if (root / "original_sequences").is_dir() else []:
            out.append(Sample(str(f), 0, "original", group=str(f)))
        man = root / "manipulated_sequences"
        for method in sorted(p for p in man.iterdir() if p.is_dir()) if man.is_dir() else []:
            out += [Sample(str(f), 1, method.name, group=str(f)) for f in vids(method)]
    elif (root / "Celeb-synthesis").is_dir():
        listed = root / "List_of_testing_videos.txt"
        test = set()
        if split and listed.is_file():
            test = {ln.split()[-1] for ln in listed.read_text().splitlines() if ln.strip()}
        for sub, label in (("Celeb-real", 0), ("YouTube-real", 0), ("Celeb-synthesis", 1)):
            for f in vids(root / sub) if (root / sub).is_dir() else []:
                rel = f.relative_to(root).as_posix()
                if (split == "test" and rel not in test) or (split == "train" and rel in test):
                    continue
                out.append(Sample(str(f), label, sub, group=str(f)))
    elif list(root.rglob("metadata.json")):
        for meta in sorted(root.rglob("metadata.json")):
            for name, info in sorted(json.loads(meta.read_text()).items()):
                if split and info.get("split") not in (None, split):
                    continue
                f = meta.parent / name
                if f.is_file():
                    label = 1 if str(info.get("label", "")).upper() == "FAKE" else 0
                    out.append(Sample(str(f), label, meta.parent.name, group=str(f)))
    else:
        for sub, label in (("real", 0), ("fake", 1)):
            for f in vids(root / sub) if (root / sub).is_dir() else []:
                out.append(Sample(str(f), label, sub, group=str(f)))
    if not out:
        raise FileNotFoundError(f"{root}: no videos in a known layout (FF++, Celeb-DF, DFDC, real/fake)")
    return out


def _cache_path(cache_dir: str | Path, kind: str, payload: object) -> Path:
    key = hashlib.sha1(json.dumps(payload).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{kind}_{key}.npz"


def cache_crops(samples: list[Sample], size: int, cache_dir: str | Path = "cache",
                face_model: str = "short_range") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crops ``[N,S,S,3]`` uint8, ``found`` mask, keypoints ``[N,6,2]``; cached by the path list."""
    path = _cache_path(cache_dir, f"crops{size}", [[s.path for s in samples], size, face_model, 2])
    if path.is_file():
        data = np.load(path)
        return data["crops"], data["found"], data["keypoints"]
    crops = np.zeros((len(samples), size, size, 3), np.uint8)
    kps = np.zeros((len(samples), 6, 2), np.float32)
    found = np.zeros(len(samples), bool)
    with FaceDetector(face_model) as detector:
        for i, s in enumerate(tqdm(samples, desc="detect + crop", unit="img", leave=False)):
            bgr = cv2.imread(s.path, cv2.IMREAD_COLOR)
            if bgr is None:
                continue
            got = detect_and_crop(detector, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size)
            if got is not None:
                crops[i], kps[i], found[i] = got[0], got[1][:6], True
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, crops=crops, found=found, keypoints=kps)
    return crops, found, kps


def cache_video_crops(videos: list[Sample], size: int, frames: int = 8, cache_dir: str | Path = "cache",
                      face_model: str = "short_range"
                      ) -> tuple[list[Sample], np.ndarray, np.ndarray]:
    """Turn videos into per-frame face-crop samples (largest face of ``frames`` sampled frames).

    Frames come from ``jrc.video.iter_frames`` (the inference sampler) and faces from the same
    detector and crop, so cached training crops match what ``jrc scan`` sees.
    """
    from jrc.video import iter_frames

    path = _cache_path(cache_dir, f"video{size}", [[v.path for v in videos], size, frames, face_model])
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
        return [Sample(**m) for m in meta], data["crops"], data["keypoints"]
    samples, crops, kps = [], [], []
    with FaceDetector(face_model) as detector:
        for v in tqdm(videos, desc="video -> face crops", unit="video", leave=False):
            try:
                for idx, rgb in iter_frames(v.path, frames):
                    got = detect_and_crop(detector, rgb, size, pad_frac=0.0) if rgb is not None else None
                    if got is not None:
                        samples.append(Sample(v.path, v.label, v.source, group=v.path, frame=idx))
                        crops.append(got[0])
                        kps.append(got[1][:6])
            except ValueError as e:  # MediaError: unreadable video, reported and skipped
                tqdm.write(f"skipped {e}")
    crops_a = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    kps_a = np.stack(kps) if kps else np.zeros((0, 6, 2), np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, crops=crops_a, keypoints=kps_a, meta=json.dumps([vars(s) for s in samples]))
    return samples, crops_a, kps_a


def thumbnails(crops: np.ndarray, size: int = 16) -> np.ndarray:
    """``[N, size*size]`` grey thumbnails, each standardised to zero mean and unit variance."""
    if len(crops) == 0:
        return np.zeros((0, size * size), np.float32)
    g = np.stack([cv2.resize(cv2.cvtColor(np.ascontiguousarray(c), cv2.COLOR_RGB2GRAY), (size, size),
                             interpolation=cv2.INTER_AREA) for c in crops]).reshape(len(crops), -1)
    g = g.astype(np.float32)
    return (g - g.mean(1, keepdims=True)) / (g.std(1, keepdims=True) + 1e-6)


def sharpness(crops: np.ndarray, centre: float = 0.6) -> np.ndarray:
    """Variance of the Laplacian of each crop's grey central ``centre`` square (higher = sharper).

    The centre keeps the face and leaves out hair and background, whose focus says nothing about
    the face."""
    out = np.zeros(len(crops), np.float32)
    for n, c in enumerate(crops):
        h, w = c.shape[:2]
        dy, dx = round(h * (1 - centre) / 2), round(w * (1 - centre) / 2)
        grey = cv2.cvtColor(np.ascontiguousarray(c[dy:h - dy, dx:w - dx]), cv2.COLOR_RGB2GRAY)
        out[n] = cv2.Laplacian(grey, cv2.CV_64F).var()
    return out


def _blocked_sq_distances(a: np.ndarray, b: np.ndarray, block: int = 1024):
    """Yield (row offset, mean squared thumbnail differences ``[rows, len(b)]``) a block at a time."""
    sb = (b ** 2).sum(1)
    for i in range(0, len(a), block):
        x = a[i:i + block]
        yield i, ((x ** 2).sum(1)[:, None] + sb[None] - 2 * x @ b.T) / a.shape[1]


def nearest_distances(crops: np.ndarray, others: np.ndarray) -> np.ndarray:
    """RMS thumbnail difference from each crop to its nearest neighbour among ``others``."""
    out = np.full(len(crops), np.inf, np.float32)
    if len(crops) and len(others):
        for i, d2 in _blocked_sq_distances(thumbnails(crops), thumbnails(others)):
            out[i:i + len(d2)] = np.sqrt(np.maximum(d2.min(1), 0))
    return out


def near_duplicate_groups(crops: np.ndarray, threshold: float = NEAR_DUPLICATE) -> np.ndarray:
    """Group ids joining images that are near-duplicates of each other, transitively.

    Two images are linked when the RMS difference of their standardised 16x16 grey thumbnails is
    below ``threshold``. FF++ fakes keep the pose, lighting and most pixels of their source video,
    so a real frame and the fakes made from it (and other frames of that video) share a group.
    """
    n = len(crops)
    g = thumbnails(crops)
    rows, cols = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for i, d2 in _blocked_sq_distances(g, g):
        r, c = np.nonzero(d2 < threshold ** 2)
        rows.append(r + i)
        cols.append(c)
    r_all, c_all = np.concatenate(rows), np.concatenate(cols)
    links = csr_matrix((np.ones(len(r_all), bool), (r_all, c_all)), shape=(n, n))
    return connected_components(links, directed=False)[1].astype(np.int64)


def split_indices(samples: list[Sample], val_frac: float, seed: int,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation split: stratified per source folder at random, or, given ``groups``,
    whole groups at random (no group on both sides) until ``val_frac`` of the samples."""
    rng = np.random.default_rng(seed)
    if groups is not None:
        ids, sizes = np.unique(groups, return_counts=True)
        order = rng.permutation(len(ids))
        target = round(len(samples) * val_frac)
        n_groups = int(np.searchsorted(np.cumsum(sizes[order]), target)) + 1 if target else 0
        in_val = np.isin(groups, ids[order[:n_groups]])
        return np.flatnonzero(~in_val), np.flatnonzero(in_val)
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


def augment(crop: np.ndarray, rng: np.random.Generator, mask: np.ndarray | None = None,
            degrade: float = 0.0, benign: float = 0.0):
    """Label-independent augmentation: flip, mild scale/shift jitter, then either (``benign`` > 0)
    benign re-saving with probability ``benign`` (``train.benign.random_benign``) or a random JPEG
    re-encoding (q60-95, p=0.3), and with probability ``degrade`` one stronger degradation
    (``train.degrade``). The same geometry is applied to ``mask`` when given; returns ``crop`` or
    ``(crop, mask)``.
    """
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        mask = mask[:, ::-1] if mask is not None else None
    s = crop.shape[0]
    if rng.random() < 0.5:
        scale = rng.uniform(0.95, 1.05)
        tx, ty = rng.uniform(-0.03, 0.03, 2) * s
        m = np.array([[scale, 0, (1 - scale) * s / 2 + tx], [0, scale, (1 - scale) * s / 2 + ty]])
        crop = cv2.warpAffine(np.ascontiguousarray(crop), m, (s, s), borderMode=cv2.BORDER_REFLECT)
        if mask is not None:
            mask = cv2.warpAffine(np.ascontiguousarray(mask), m, (s, s), borderMode=cv2.BORDER_REFLECT)
    if benign > 0:
        if rng.random() < benign:
            crop = random_benign(np.ascontiguousarray(crop), rng)
    elif rng.random() < 0.3:
        crop = jpeg(crop, int(rng.integers(60, 96)))
    if degrade > 0 and rng.random() < degrade:
        crop = random_degradation(np.ascontiguousarray(crop), rng)
    crop = np.ascontiguousarray(crop)
    return crop if mask is None else (crop, np.ascontiguousarray(mask))
