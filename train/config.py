"""Training settings: one :class:`TrainConfig`, validated once, loaded from flat YAML files.

A YAML file may start from one other file with ``base: other.yaml`` (a path relative to it) and
override any of its keys; that base may not have a base of its own, so every recipe reads in at
most two files. Unknown keys and out-of-range values are errors that name the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jrc.model import is_number

# selection rules: the validation sets whose mean AUC picks the checkpoint; "trust" also
# subtracts the share of validation verdicts that the benign re-saves flip (train/validation.py)
SELECT = {"ffpp": ["ffpp"], "sbi": ["sbi"], "mean": ["ffpp", "sbi"], "mean_deg": ["ffpp", "sbi", "ffpp_deg"],
          "trust": ["ffpp", "sbi_held", "lomo"]}
PROBABILITIES = ("sbi_ratio", "sbi_local", "degrade", "benign")


@dataclass
class TrainConfig:
    """Every training setting, with its default. See train/configs/default.yaml for a recipe."""

    # data
    data: str = "../shared/data/ffpp-crops/train"  # labelled crop folder (<source>/*.jpg)
    sources: list[str] | None = None  # sub-folders of `data` to use (None = all)
    leave_out: str | None = None  # a method of `data` never trained on; validated as "lomo"
    reals: list[dict] = field(default_factory=list)  # real-only folders: [{path, limit}], SBI-paired
    held_out: float = 0.0  # share of each `reals` folder kept out of training for "sbi_held"
    # other kinds of fakes, validation only: [{path, against: a `reals` path, limit}]; "other_<name>"
    other_fakes: list[dict] = field(default_factory=list)
    # sampling weight of each real source per batch: [data, *reals]; None = by size (every real alike)
    source_weights: list[float] | None = None
    # model
    encoder: str = "efficientnet_lite0"
    pretrained: bool = True  # ImageNet init (bundled for efficientnet_lite0 only)
    encoder_weights: str | None = None  # ImageNet weights for encoders that ship none (xception)
    input_size: int | None = None  # crop side; None = the encoder's native size (Lite0: 224)
    init: str | None = None  # a JRC weights folder to fine-tune from (same encoder and heads)
    freeze_blocks: int = 3  # stem + first N encoder blocks frozen (their BN statistics too)
    mask_head: bool = False
    # loss
    lambda_rec: float = 1.0
    lambda_mask: float = 0.0
    rec_loss: str = "mse"
    rec_on: str = "all"
    # fakes and augmentation
    sbi_ratio: float = 0.0  # P(a `data` real is paired with its self-blend, not a `data` fake)
    sbi_local: float = 0.0  # P(a self-blend covers one part of the face: eyes, nose, mouth, a cheek)
    degrade: float = 0.0  # P(one strong degradation: JPEG q30-60, x0.33-0.7, blur, noise)
    benign: float = 0.0  # P(benign re-saving: resize, JPEG/WebP/palette, sharpen/denoise, grey)
    # weight of the re-save consistency loss: half of each batch is a benign re-save of the other
    # half, and the squared difference of the two logits is added (0 = off)
    consistency: float = 0.0
    # schedule
    epochs: int = 6
    steps_per_epoch: int = 0  # 0 = one pass over the real pool
    batch_size: int = 32
    lr: float = 1e-3
    encoder_lr_mult: float = 0.3
    weight_decay: float = 1e-4
    precision: str = "fp32"  # fp32 | bf16 (autocast for the training forward; validation is fp32)
    # validation and selection
    val_frac: float = 0.1
    val_split: str = "random"  # random (per folder) | grouped (near-duplicate groups kept whole)
    split_size: int | None = None  # grouped: the crop size groups are computed at (None = input_size)
    select_on: str = "mean"  # see SELECT
    val_cap: int = 400  # at most this many images per part of a validation set (held-out reals, ...)
    resave_val: int = 300  # validation crops re-saved for the verdict-change rate ("trust")
    # run
    out: str = "runs/jrc"
    seed: int = 0
    split_seed: int | None = None  # seed of the split and folder subsets; None = seed
    threads: int = 0  # 0 = torch default
    cache_dir: str = "cache"
    face_model: str = "short_range"

    def __post_init__(self) -> None:
        ints = {"epochs": 1, "steps_per_epoch": 0, "batch_size": 2, "freeze_blocks": 0, "threads": 0,
                "val_cap": 1, "resave_val": 0}
        for key, low in ints.items():
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"{key}={v!r}: expected an integer >= {low}")
        for key in ("lr", "encoder_lr_mult", "weight_decay", "lambda_rec", "lambda_mask", "consistency"):
            v = getattr(self, key)
            if not is_number(v) or v < 0 or (key == "lr" and v == 0):
                raise ValueError(f"{key}={v!r}: expected a number {'> 0' if key == 'lr' else '>= 0'}")
        for key in PROBABILITIES:
            v = getattr(self, key)
            if not is_number(v) or not 0 <= v <= 1:
                raise ValueError(f"{key}={v!r}: expected a probability in [0, 1]")
        if self.consistency and self.batch_size % 4:
            raise ValueError(f"batch_size={self.batch_size}: consistency needs a multiple of 4 (real, fake "
                             "and the re-saved twin of each)")
        if not is_number(self.val_frac) or not 0 < self.val_frac < 1:
            raise ValueError(f"val_frac={self.val_frac!r}: expected a fraction in (0, 1); the best epoch "
                             "is chosen on validation, so some is needed")
        if not is_number(self.held_out) or not 0 <= self.held_out < 1:
            raise ValueError(f"held_out={self.held_out!r}: expected a fraction in [0, 1)")
        for key, allowed in (("val_split", ("random", "grouped")), ("select_on", tuple(SELECT)),
                             ("precision", ("fp32", "bf16")), ("rec_loss", ("mse", "l1")),
                             ("rec_on", ("all", "real"))):
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key}={getattr(self, key)!r}: expected one of {', '.join(allowed)}")
        for i, r in enumerate(self.reals):
            if not isinstance(r, dict) or "path" not in r or set(r) - {"path", "limit"}:
                raise ValueError(f"reals[{i}]={r!r}: expected {{path: FOLDER, limit: N}} (limit optional)")
        paths = [r["path"] for r in self.reals]
        for i, o in enumerate(self.other_fakes):
            if not isinstance(o, dict) or not {"path", "against"} <= set(o) <= {"path", "against", "limit"}:
                raise ValueError(f"other_fakes[{i}]={o!r}: expected {{path, against, limit}} "
                                 "(limit optional)")
            if o["against"] not in paths:
                raise ValueError(f"other_fakes[{i}].against={o['against']!r}: must be one of the reals "
                                 f"paths ({paths}), whose held-out part it is validated against")
            if not self.held_out:
                raise ValueError("other_fakes needs held_out > 0: they are validated against held-out reals")
        n_sources = 1 + len(self.reals)
        w = self.source_weights
        if w is not None and (len(w) != n_sources or not all(is_number(x) and x >= 0 for x in w)
                              or not sum(w) > 0):
            raise ValueError(f"source_weights={w!r}: expected {n_sources} weights >= 0 (data, then each "
                             "reals folder) with a positive sum, or null")
        if self.select_on == "trust" and not (self.leave_out and self.held_out):
            raise ValueError("select_on: trust needs leave_out (a method) and held_out > 0 (held-out reals)")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        if unknown := set(d) - {f.name for f in dataclasses.fields(cls)}:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_stored(cls, d: dict[str, Any]) -> TrainConfig:
        """The config stored in a checkpoint's ``config.json``. Settings of older versions that were
        off (0, null, false) are dropped; one that was on raises, since this code cannot rebuild it."""
        known = {f.name for f in dataclasses.fields(cls)}
        on = {k: v for k, v in d.items() if k not in known | {"resume"} and v not in (0, None, False)}
        if on:
            raise ValueError(f"stored training config uses settings this version dropped: {on}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @property
    def data_seed(self) -> int:
        """The seed that picks the split and folder subsets: ``split_seed``, else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed


FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def load_config(path: str | Path) -> dict:
    """The settings a YAML file sets, its one ``base:`` merged in (without the defaults)."""
    loaded = _read(path)
    base = loaded.pop("base", None)
    if base is None:
        return loaded
    parent = _read(Path(path).parent / base)
    if "base" in parent:
        raise ValueError(f"{path}: its base {base} has a base of its own; configs are at most two "
                         "files deep (copy the settings instead)")
    return {**parent, **loaded}


def _read(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config not found: {path}")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
    if unknown := set(loaded) - FIELDS - {"base"}:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    return loaded
