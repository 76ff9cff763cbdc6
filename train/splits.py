"""Train/validation splits carved from the training data (never the test split).

* The labelled crop folder (FF++): per folder at random, or by near-duplicate groups kept whole
  (a real frame and the fakes made from its video), so validation images have no twin in
  training. A ``leave_out`` method is dropped from training entirely and validated on its own.
* Real-only folders (UTKFace, LFW, FFHQ): a ``held_out`` share of each is never trained on.
  LFW and FFHQ hold one photo per person, so their held-out part is identity-disjoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jrc import weights as jrc_weights
from train.config import TrainConfig
from train.data import (
    Sample,
    cache_crops,
    near_duplicate_groups,
    scan_crop_folder,
    scan_real_folder,
    split_indices,
)


@dataclass
class LabelledSplit:
    """The labelled crop folder, cached as crops, and its split (indices into ``crops``; crops
    without a face are in no part). ``left_out``: crops of the ``leave_out`` method."""

    samples: list[Sample]
    crops: np.ndarray
    found: np.ndarray
    keypoints: np.ndarray
    labels: np.ndarray
    train: np.ndarray
    val: np.ndarray
    left_out: np.ndarray
    groups: np.ndarray | None = None


@dataclass
class RealFolder:
    """A real-only folder's cached crops and keypoints, split into training and held-out parts."""

    path: str
    crops: np.ndarray
    keypoints: np.ndarray
    train: np.ndarray
    held: np.ndarray


def split_key(cfg: TrainConfig, input_size: int) -> dict:
    """What defines a config's FF++ train/validation split (grouped splits also depend on the crop
    size the near-duplicate groups are computed at)."""
    key = {"data": cfg.data, "sources": cfg.sources, "val_frac": cfg.val_frac, "val_split": cfg.val_split,
           "seed": cfg.data_seed}
    if cfg.val_split == "grouped":
        key["split_size"] = cfg.split_size or input_size
    return key


def labelled_split(cfg: TrainConfig, size: int) -> LabelledSplit:
    """Scan, cache and split ``cfg.data``; raises if a part lacks reals, or fakes when it has any."""
    samples = scan_crop_folder(cfg.data, cfg.sources)
    crops, found, kps = cache_crops(samples, size, cfg.cache_dir, cfg.face_model)
    labels = np.array([s.label for s in samples])
    sources = np.array([s.source for s in samples])
    if cfg.leave_out and cfg.leave_out not in set(sources[labels == 1]):
        raise ValueError(f"leave_out={cfg.leave_out!r}: not a fake folder of {cfg.data} "
                         f"({', '.join(sorted(map(str, set(sources[labels == 1]))))})")
    groups = None
    if cfg.val_split == "grouped":
        at = split_key(cfg, size)["split_size"]
        grouped = crops if at == size else cache_crops(samples, at, cfg.cache_dir, cfg.face_model)[0]
        groups = near_duplicate_groups(grouped)
    tr, va = split_indices(samples, cfg.val_frac, cfg.data_seed, groups)
    tr, va = tr[found[tr]], va[found[va]]
    out = np.flatnonzero(found & (sources == cfg.leave_out)) if cfg.leave_out else np.zeros(0, int)
    tr, va = tr[~np.isin(tr, out)], va[~np.isin(va, out)]
    needed = {0, 1} if (labels[tr] == 1).any() or (labels[va] == 1).any() else {0}
    for part, idx in (("training", tr), ("validation", va)):
        if missing := needed - set(labels[idx].tolist()):
            how = (f"{len(set(groups))} near-duplicate group(s), kept whole" if groups is not None
                   else "a random split per folder")
            kind = "real" if 0 in missing else "fake"
            raise ValueError(f"{cfg.data}: the {part} part has no {kind} images "
                             f"({how}, val_frac={cfg.val_frac})")
    return LabelledSplit(samples, crops, found, kps, labels, tr, va, out, groups)


def real_folder(entry: dict, cfg: TrainConfig, size: int) -> RealFolder:
    """One ``reals`` entry cached and split: ``held_out`` of its faces, at random, never trained on."""
    samples = scan_real_folder(entry["path"], limit=entry.get("limit") or 0, seed=cfg.data_seed)
    crops, found, kps = cache_crops(samples, size, cfg.cache_dir, cfg.face_model)
    idx = np.flatnonzero(found)
    order = np.random.default_rng(cfg.data_seed + 7).permutation(idx)
    n_held = round(len(idx) * cfg.held_out)
    return RealFolder(entry["path"], crops, kps, np.sort(order[n_held:]), np.sort(order[:n_held]))


def fake_folder(entry: dict, cfg: TrainConfig, size: int) -> np.ndarray:
    """Cached crops of an ``other_fakes`` folder (validation only)."""
    samples = scan_real_folder(entry["path"], limit=entry.get("limit") or 0, seed=cfg.data_seed)
    crops, found, _ = cache_crops(samples, size, cfg.cache_dir, cfg.face_model)
    return crops[found]


def weights_split(checkpoint: jrc_weights.Checkpoint, name: str | Path) -> tuple[TrainConfig, LabelledSplit]:
    """The training config stored in a checkpoint's ``config.json`` and its rebuilt split at the
    checkpoint's input size; ValueError naming ``name`` or the data folder when it cannot be."""
    trained = (checkpoint.meta.get("training") or {}).get("config")
    if not trained:
        raise ValueError(f"{name}: config.json has no training config to rebuild the split from")
    cfg = TrainConfig.from_stored(trained)
    if not Path(cfg.data).is_dir():
        raise ValueError(f"{cfg.data}: training folder not found (run from the repository root "
                         "with ../shared/data beside it)")
    return cfg, labelled_split(cfg, checkpoint.model.config.input_size)
