"""The JRC training loop: short and readable (nanoGPT style).

Each step draws B/2 real faces and pairs every real with a fake partner:
* a real from a labelled crop folder (FF++ ``youtube``) gets an FF++ fake with probability
  ``1 - sbi_ratio``, else its own self-blended fake (SBI; with probability ``sbi_local`` the
  blend covers only the mouth or the eyes, see train/sbi.py). With probability ``twin_pairs``
  that FF++ fake is one of the real's own "twins" (a fake of the same source frame: its
  near-duplicate group), where the training part holds one, so the pair differs only by the
  manipulation, as an SBI pair does. With probability ``sharp_match`` it is instead one of the
  ``SHARP_WINDOW`` training fakes nearest the real in sharpness (``train.data.sharpness``), so
  that across pairs the fakes are no blurrier than the reals (three of the four FF++ methods are);
* a real from a real-only folder (``reals``, e.g. UTKFace) always gets its SBI fake.
So every image source is exactly half real, half fake: the model cannot learn the source.

loss = BCE + lambda_rec * L_rec + lambda_mask * BCE(mask)  (train/losses.py)
  [+ lambda_distill * BCE(logit, teacher probability): a ``teacher`` model scores each training
  image, upsampled to ``teacher_size``, e.g. the 288-px model teaching a 224-px one]

Validation (carved from the training folders, never the test split) every epoch:
``val_ffpp`` = held-out FF++ reals vs held-out FF++ fakes of the training methods,
``val_sbi`` = the same reals vs their SBI fakes (fixed seed; made like the training ones, so
with the run's ``sbi_local``), ``val_ffpp_deg`` = ``val_ffpp``
with every image degraded (JPEG q40 / half resolution / blur / noise, fixed). The best epoch by
``select_on`` is written as a JRC weights folder with the threshold chosen on validation scores.
With ``init`` (fine-tuning), the starting weights are validated first as "epoch 0" and stay
the best unless an epoch beats them.
Runs under ``torchrun`` (DDP; reals sharded with DistributedSampler).
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from jrc import weights as jrc_weights
from jrc.model import ModelConfig, TwoBranchCAE, is_number
from jrc.preprocess import normalize
from train.data import (
    Sample,
    augment,
    cache_crops,
    near_duplicate_groups,
    nearest_distances,
    scan_crop_folder,
    scan_real_folder,
    sharpness,
    split_indices,
)
from train.degrade import fixed_degradation
from train.losses import jrc_loss
from train.metrics import auc, choose_threshold
from train.sbi import self_blend

DEFAULTS: dict = {
    "data": "../shared/data/ffpp-crops/train",  # labelled crop folder (<source>/*.jpg)
    "sources": None,  # sub-folders of `data` to use (None = all); leave-one-out drops one
    "reals": [],  # real-only folders for SBI: [{"path": ..., "limit": N}]
    "out": "runs/jrc_lite0",
    "encoder": "efficientnet_lite0",
    "pretrained": True,  # ImageNet init (bundled for efficientnet_lite0 only)
    "encoder_weights": None,  # path to ImageNet weights for encoders that ship none (xception)
    "input_size": None,  # crop side in pixels; None = the encoder's native size (Lite0: 224)
    "init": None,  # a JRC weights folder to start from (fine-tuning); same encoder and heads required
    "freeze_blocks": 3,  # stem + first N MBConv blocks frozen (CPU budget)
    "mask_head": False,
    "lambda_rec": 1.0,
    "lambda_mask": 0.0,
    "rec_loss": "mse",
    "rec_on": "all",
    "sbi_ratio": 0.0,  # P(an FF++ real's partner is its SBI fake rather than an FF++ fake)
    "sbi_local": 0.0,  # P(a self-blend covers part of the face, mouth or eyes, not the whole face)
    # P(an FF++ real's FF++ fake partner is a fake of its own near-duplicate group, when it has one)
    "twin_pairs": 0.0,
    # P(an FF++ real's FF++ fake partner is drawn from the SHARP_WINDOW fakes nearest it in
    # sharpness rather than from all fakes; twin_pairs, when it applies, goes first)
    "sharp_match": 0.0,
    "degrade": 0.0,  # P(an image also gets one strong degradation: JPEG q30-60, x0.33-0.7, blur, noise)
    "epochs": 6,
    "steps_per_epoch": 0,  # 0 = one pass over the real pool
    "batch_size": 32,
    "lr": 1e-3,
    "encoder_lr_mult": 0.3,
    "weight_decay": 1e-4,
    # decay of an exponential moving average of the weights (0 = off). With it, validation, selection
    # and the saved weights use the average; the raw weights' validation mean is logged as val_raw.
    "ema": 0.0,
    # knowledge distillation: a JRC weights folder whose P(fake) on each training image is a soft
    # target (weight lambda_distill); it sees the same augmented image resized to teacher_size
    # (None = the teacher's own input size). It must share this config's train/validation split.
    "teacher": None,
    "teacher_size": None,
    "lambda_distill": 0.0,
    "val_frac": 0.1,
    # random: per-folder random split (older recipes); grouped: near-duplicate groups (a real frame
    # and the fakes made from its video) kept whole, so validation images have no twin in training
    "val_split": "random",
    # grouped only: the crop size the near-duplicate groups are computed at; None = input_size. Set it
    # to a start model's size to fine-tune at another size on exactly that model's split.
    "split_size": None,
    # grouped only: training crops whose thumbnail distance (train.data.nearest_distances) to some
    # validation crop is below this are dropped from training as well (in neither part), so that
    # validation crops sit as far from training as the test split's do. 0 = off. The grouped split
    # alone leaves validation closer (median 0.43) than the test split (0.59); 0.45 moves its lower
    # quartile to the test split's and drops ~14% of training crops; tried on two recipes (runs 9
    # and 10 in MODEL_CARD.md), it changed no decision.
    "val_buffer": 0.0,
    "select_on": "mean",  # ffpp | sbi | mean (of ffpp and sbi) | mean_deg (of ffpp, sbi, ffpp_deg)
    "seed": 0,
    # seed of the train/validation split and of the real-folder subsets; None = seed. Set it to vary
    # only the training randomness (order, augmentation, fakes, dropout) on a fixed split.
    "split_seed": None,
    "threads": 0,  # 0 = torch default
    "cache_dir": "cache",
    "face_model": "short_range",
}
SHARP_WINDOW = 64  # sharp_match draws from this many training fakes, centred on the real's sharpness
LOG_FIELDS = ["epoch", "steps", "loss", "bce", "rec", "mask", "distill", "val_ffpp", "val_sbi",
              "val_ffpp_deg", "val", "val_raw", "seconds"]
# settings that may differ when a run is resumed: the schedule's length and where things live
RESUMABLE = {"epochs", "resume", "threads", "cache_dir", "out"}
SELECT = {"ffpp": ["ffpp"], "sbi": ["sbi"], "mean": ["ffpp", "sbi"], "mean_deg": ["ffpp", "sbi", "ffpp_deg"]}


def make_model(cfg: dict) -> TwoBranchCAE:
    """Model from the config; the stem and first ``freeze_blocks`` blocks are frozen."""
    size = {"input_size": int(cfg["input_size"])} if cfg["input_size"] else {}
    mc = ModelConfig.for_encoder(cfg["encoder"], mask_head=bool(cfg["mask_head"]), **size)
    model = TwoBranchCAE(mc, pretrained_encoder=cfg["pretrained"], encoder_weights=cfg["encoder_weights"])
    enc = model.encoder
    frozen = [enc.stem, *enc.blocks[: cfg["freeze_blocks"]]] if cfg["freeze_blocks"] > 0 and hasattr(
        enc, "blocks") else []
    for module in frozen:
        module.requires_grad_(False)
    model.frozen_modules = frozen  # kept in eval mode: BN statistics stay ImageNet's
    if cfg["init"]:
        start = jrc_weights.load(cfg["init"])
        got = start.model
        trained = start.meta.get("training") or {}
        before = check_same_split(start, "init", cfg, mc.input_size)
        if (got.config.encoder, got.config.mask_head) != (mc.encoder, mc.mask_head):
            raise ValueError(f"init {cfg['init']}: {got.config.encoder} mask_head={got.config.mask_head}, "
                             f"but the config trains {mc.encoder} mask_head={mc.mask_head}")
        model.load_state_dict(got.state_dict())
        model.init_meta = {"path": str(cfg["init"]), "epoch": trained.get("epoch"),
                           "steps": trained.get("steps"), "config": before,
                           "metrics": start.meta.get("metrics"), "threshold": start.threshold}
    return model


def check_same_split(checkpoint: jrc_weights.Checkpoint, role: str, cfg: dict, input_size: int) -> dict:
    """The training config stored in ``checkpoint`` (``cfg[role]``); ValueError if it was trained on
    another train/validation split than ``cfg``'s, i.e. it may have learned this run's validation
    images. A checkpoint without a stored config passes only as ``init``."""
    before = (checkpoint.meta.get("training") or {}).get("config") or {}
    if not before and role != "init":
        raise ValueError(f"{role} {cfg[role]}: its config.json has no training config, so it cannot be "
                         "checked for this run's validation images")
    theirs, ours = split_key(before, checkpoint.model.config.input_size), split_key(cfg, input_size)
    if before and theirs != ours:
        risk = ("validating it would score images it was trained on" if role == "init" else
                "its soft targets would carry what it learned from this run's validation images")
        raise ValueError(f"{role} {cfg[role]} was trained with another train/validation split "
                         f"({theirs}, this config: {ours}); {risk}")
    return before


def check_settings(cfg: dict) -> None:
    """ValueError/FileNotFoundError for numeric settings out of range and missing inputs, before any
    work (a refused run writes nothing)."""
    ints = {"epochs": 1, "steps_per_epoch": 0, "batch_size": 2, "freeze_blocks": 0, "threads": 0}
    for key, low in ints.items():
        v = cfg[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ValueError(f"{key}={v!r}: expected an integer >= {low}")
    for key in ("lr", "encoder_lr_mult", "weight_decay", "lambda_rec", "lambda_mask"):
        v = cfg[key]
        if not is_number(v) or v < 0 or (key == "lr" and v == 0):
            raise ValueError(f"{key}={v!r}: expected a number {'> 0' if key == 'lr' else '>= 0'}")
    v = cfg["val_frac"]
    if not is_number(v) or not 0 < v < 1:
        raise ValueError(f"val_frac={v!r}: expected a fraction in (0, 1); the best epoch is chosen on "
                         "validation, so some is needed")
    if not Path(cfg["data"]).is_dir():
        raise FileNotFoundError(f"data={cfg['data']}: no such folder (a labelled crop folder, "
                                "<source>/*.jpg)")
    if cfg.get("resume") and not (Path(cfg["out"]) / "last.pt").is_file():
        raise FileNotFoundError(f"--resume: no {Path(cfg['out']) / 'last.pt'} to continue from "
                                "(check out=, or start without --resume)")


def check_distill(cfg: dict) -> None:
    """ValueError for distillation settings that would be ignored or make no sense."""
    lam = cfg["lambda_distill"]
    if not is_number(lam) or lam < 0:
        raise ValueError(f"lambda_distill={lam!r}: expected a weight >= 0 (0 = no distillation)")
    if lam and not cfg["teacher"]:
        raise ValueError(f"lambda_distill={lam} needs a teacher: set teacher: to a JRC weights folder")
    if not lam and (cfg["teacher"] or cfg["teacher_size"]):
        raise ValueError("teacher/teacher_size are set but lambda_distill is 0: the teacher would be "
                         "ignored (set lambda_distill > 0, or remove them)")


def load_teacher(cfg: dict, input_size: int, device: torch.device) -> tuple[TwoBranchCAE, int] | None:
    """The frozen ``teacher`` model (eval mode) and the size it sees images at; None without one."""
    if not cfg["lambda_distill"]:
        return None
    with torch.random.fork_rng(devices=[]):  # building it must not shift the run's dropout masks
        checkpoint = jrc_weights.load(cfg["teacher"])
    check_same_split(checkpoint, "teacher", cfg, input_size)
    teacher = checkpoint.model.to(device).to(memory_format=torch.channels_last).eval()
    teacher.requires_grad_(False)
    return teacher, int(cfg["teacher_size"] or teacher.config.input_size)


@torch.no_grad()
def teacher_logits(teacher: TwoBranchCAE, size: int, imgs: np.ndarray, device: torch.device) -> torch.Tensor:
    """The teacher's logits for uint8 images ``[B,S,S,3]``, bilinearly resized to ``size``."""
    c = teacher.config
    x = torch.from_numpy(normalize(imgs, c.mean, c.std)).to(device)
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=size < x.shape[-1])
    return teacher(x.contiguous(memory_format=torch.channels_last), decode=False)["logit"].float()


def data_seed(cfg: dict) -> int:
    """The seed that picks the split and real-folder subsets: ``split_seed``, else ``seed``."""
    split_seed = cfg.get("split_seed")
    return cfg.get("seed", DEFAULTS["seed"]) if split_seed is None else split_seed


def split_key(cfg: dict, input_size: int) -> dict:
    """What defines a config's train/validation split (grouped splits also depend on the crop size
    the near-duplicate groups are computed at)."""
    key = {k: cfg.get(k, DEFAULTS[k]) for k in ("data", "sources", "val_frac", "val_split")}
    key["seed"] = data_seed(cfg)
    if key["val_split"] == "grouped":
        key["split_size"] = cfg.get("split_size") or input_size
        if cfg.get("val_buffer"):  # only when set, so older runs' keys stay as they were
            key["val_buffer"] = cfg["val_buffer"]
    return key


def recipe_changes(saved: dict | None, cfg: dict) -> list[str]:
    """``"key: saved -> now"`` for each setting (all but :data:`RESUMABLE`) that differs between a
    ``last.pt``'s stored config and ``cfg``; empty when they agree or nothing was stored."""
    if saved is None:
        return []
    saved = {**DEFAULTS, **saved}  # settings added since it was saved count as their defaults
    keys = sorted((set(saved) | set(cfg)) - RESUMABLE)
    return [f"{k}: {saved.get(k)!r} -> {cfg.get(k)!r}" for k in keys if saved.get(k) != cfg.get(k)]


def set_train_mode(model: TwoBranchCAE) -> None:
    model.train()
    for module in getattr(model, "frozen_modules", []):
        module.eval()


@torch.no_grad()
def predict(model: TwoBranchCAE, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """P(fake) for uint8 crops, in eval mode."""
    model.eval()
    c, dev = model.config, next(model.parameters()).device
    out = []
    for i in range(0, len(crops), batch):
        x = torch.from_numpy(normalize(crops[i:i + batch], c.mean, c.std)).to(dev)
        logit = model(x.contiguous(memory_format=torch.channels_last), decode=False)["logit"]
        out.append(torch.sigmoid(logit.float()).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


@dataclass
class LabelledSplit:
    """The labelled crop folder of a config, cached as crops, and its train/validation split
    (indices into ``crops``; crops without a face are in neither)."""

    samples: list[Sample]
    crops: np.ndarray
    found: np.ndarray
    keypoints: np.ndarray
    labels: np.ndarray
    train: np.ndarray
    val: np.ndarray
    groups: np.ndarray | None = None  # near-duplicate group ids of a grouped split


def labelled_split(cfg: dict, size: int) -> LabelledSplit:
    """Scan and cache ``cfg["data"]`` and split it by ``val_split``/``val_frac``/:func:`data_seed`; raises
    if a part lacks reals, or fakes when the folder has any."""
    samples = scan_crop_folder(cfg["data"], cfg["sources"])
    crops, found, kps = cache_crops(samples, size, cfg["cache_dir"], cfg["face_model"])
    labels = np.array([s.label for s in samples])
    groups, buffer = None, 0.0
    if cfg["val_split"] == "grouped":
        at = split_key(cfg, size)["split_size"]
        grouped = crops if at == size else cache_crops(samples, at, cfg["cache_dir"], cfg["face_model"])[0]
        groups = near_duplicate_groups(grouped)
        buffer = cfg.get("val_buffer") or 0.0  # measured at the groups' size too
    tr, va = split_indices(samples, cfg["val_frac"], data_seed(cfg), groups)
    tr, va = tr[found[tr]], va[found[va]]
    if buffer and len(va):
        tr = tr[nearest_distances(grouped[tr], grouped[va]) >= buffer]
    needed = {0, 1} if (labels[found] == 1).any() else {0}  # a reals-only folder: SBI fakes only
    parts = {"training": tr, **({"validation": va} if cfg["val_frac"] else {})}
    for part, idx in parts.items():
        if missing := needed - set(labels[idx].tolist()):
            how = (f"{len(set(groups))} near-duplicate group(s), kept whole" if groups is not None
                   else "a random split per folder")
            if buffer:
                how += f", training crops within {buffer} of validation dropped"
            kind = "real" if 0 in missing else "fake"
            raise ValueError(f"{cfg['data']}: the {part} part has no {kind} images "
                             f"({how}, val_frac={cfg['val_frac']})")
    return LabelledSplit(samples, crops, found, kps, labels, tr, va, groups)


def twin_fakes(split: LabelledSplit) -> dict[int, np.ndarray]:
    """Training real index -> the training fakes of its near-duplicate group (reals with none left out)."""
    if split.groups is None:
        return {}
    tr, labels, groups = split.train, split.labels, split.groups
    fakes = tr[labels[tr] == 1]
    by_group: dict[int, list[int]] = {}
    for i in fakes:
        by_group.setdefault(int(groups[i]), []).append(int(i))
    return {int(i): np.array(by_group[int(groups[i])]) for i in tr[labels[tr] == 0]
            if int(groups[i]) in by_group}


def weights_split(checkpoint: jrc_weights.Checkpoint, name: str | Path) -> tuple[dict, LabelledSplit]:
    """The full training config stored in a checkpoint's ``config.json`` and its rebuilt split at
    the checkpoint's input size; ValueError naming ``name`` or the data folder when it cannot be."""
    trained = (checkpoint.meta.get("training") or {}).get("config")
    if not trained:
        raise ValueError(f"{name}: config.json has no training config to rebuild the split from")
    cfg = {**DEFAULTS, **trained}
    if not Path(cfg["data"]).is_dir():
        raise ValueError(f"{cfg['data']}: training folder not found (run from the repository root "
                         "with ../shared/data beside it)")
    return cfg, labelled_split(cfg, checkpoint.model.config.input_size)


class PairedData:
    """Real pool + FF++ fake pool (uint8 crops, keypoints) and the pairing rule above."""

    def __init__(self, cfg: dict, size: int, rank: int = 0) -> None:
        split = labelled_split(cfg, size)
        crops, kps, labels, tr, va = split.crops, split.keypoints, split.labels, split.train, split.val
        self.crops, self.kps = [crops], [kps]
        self.degrade, self.sbi_local, self.twin_pairs = cfg["degrade"], cfg["sbi_local"], cfg["twin_pairs"]
        if self.twin_pairs and split.groups is None:  # a random split: groups for pairing only
            split = replace(split, groups=near_duplicate_groups(crops))
        self.twins = twin_fakes(split) if self.twin_pairs else {}
        self.sharp_match = cfg["sharp_match"]
        ffpp_reals = tr[labels[tr] == 0]
        self.real = [(0, i) for i in ffpp_reals]  # (pool, index); FF++ reals first
        self.n_paired_reals = len(self.real)
        self.fake = tr[labels[tr] == 1]
        self.val_real, self.val_fake = va[labels[va] == 0], va[labels[va] == 1]
        if self.sharp_match:  # training fakes sorted by sharpness, and each training real's sharpness
            fake_sharp = sharpness(crops[self.fake])
            order = np.argsort(fake_sharp, kind="stable")
            self.fakes_by_sharpness, self.sorted_sharpness = self.fake[order], fake_sharp[order]
            self.real_sharpness = dict(zip(ffpp_reals.tolist(), sharpness(crops[ffpp_reals]).tolist()))
        for k, extra in enumerate(cfg["reals"], start=1):
            rs = scan_real_folder(extra["path"], limit=extra.get("limit", 0), seed=data_seed(cfg))
            c2, f2, k2 = cache_crops(rs, size, cfg["cache_dir"], cfg["face_model"])
            self.crops.append(c2)
            self.kps.append(k2)
            self.real += [(k, i) for i in np.flatnonzero(f2)]
        if rank == 0:
            print(f"data: {len(split.samples)} labelled crops ({int((~split.found).sum())} without a face "
                  "dropped); "
                  f"train reals {len(self.real)} ({self.n_paired_reals} with FF++ fakes), "
                  f"FF++ fakes {len(self.fake)}; val reals {len(self.val_real)}, "
                  f"val fakes {len(self.val_fake)}"
                  + (f"; {len(self.twins)} train reals with twin fakes" if self.twin_pairs else ""))

    def batch(self, real_ids: list[int], sbi_ratio: float, rng: np.random.Generator):
        """(images uint8 [B,S,S,3], labels [B], mask targets [B,S,S], mask valid [B])."""
        rows = []  # (image, label, mask target, mask known)
        for rid in real_ids:
            pool, i = self.real[rid]
            real = self.crops[pool][i]
            zero = np.zeros(real.shape[:2], np.float32)
            rows.append((real, 0, zero, True))
            if pool == 0 and rng.random() >= sbi_ratio:
                twins = self.twins.get(i)  # drawn only with twin_pairs: older runs keep their stream
                pick = (self.fake if twins is None or rng.random() >= self.twin_pairs else twins)
                if pick is self.fake and self.sharp_match and rng.random() < self.sharp_match:
                    pick = self.sharpness_neighbours(i)
                rows.append((self.crops[0][rng.choice(pick)], 1, zero, False))  # region unknown
            else:
                fake, mask = self_blend(real, self.kps[pool][i], rng, self.sbi_local)
                rows.append((fake, 1, mask, True))
        aug = [augment(img, rng, mask, self.degrade) for img, _, mask, _ in rows]
        return (np.stack([a for a, _ in aug]), np.array([r[1] for r in rows], np.float32),
                np.stack([m for _, m in aug]), np.array([r[3] for r in rows]))

    def sharpness_neighbours(self, real: int) -> np.ndarray:
        """The SHARP_WINDOW training fakes nearest FF++ real ``real`` in sharpness."""
        n = len(self.fakes_by_sharpness)
        pos = int(np.searchsorted(self.sorted_sharpness, self.real_sharpness[real]))
        lo = min(max(pos - SHARP_WINDOW // 2, 0), max(n - SHARP_WINDOW, 0))
        return self.fakes_by_sharpness[lo:lo + SHARP_WINDOW]

    def validation(self, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(seed + 12345)
        reals = self.crops[0][self.val_real]
        sbi = np.stack([self_blend(reals[j], self.kps[0][i], rng, self.sbi_local)[0]
                        for j, i in enumerate(self.val_real)])
        out = {"sbi": (np.concatenate([reals, sbi]), np.r_[np.zeros(len(reals)), np.ones(len(sbi))])}
        if len(self.val_fake):
            fakes = self.crops[0][self.val_fake]
            both = np.concatenate([reals, fakes])
            labels = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
            out["ffpp"] = (both, labels)
            out["ffpp_deg"] = (np.stack([fixed_degradation(c, i) for i, c in enumerate(both)]), labels)
        return out


def setup_distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if world > 1 and not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo")
    return (dist.get_rank() if world > 1 else 0), world, device


def train(cfg: dict) -> Path:
    """Train, validate each epoch, keep the best by validation. Returns the weights folder."""
    cfg = {**DEFAULTS, **cfg}
    unknown = set(cfg) - set(DEFAULTS) - {"resume"}
    if unknown:
        raise ValueError(f"unknown config keys: {sorted(unknown)}")
    for key, allowed in (("val_split", ("random", "grouped")), ("select_on", tuple(SELECT))):
        if cfg[key] not in allowed:
            raise ValueError(f"{key}={cfg[key]!r}: expected one of {', '.join(allowed)}")
    for key in ("sbi_ratio", "sbi_local", "twin_pairs", "sharp_match", "degrade"):
        v = cfg[key]
        if not is_number(v) or not 0 <= v <= 1:
            raise ValueError(f"{key}={v!r}: expected a probability in [0, 1]")
    buffer = cfg["val_buffer"]
    if not is_number(buffer) or buffer < 0:
        raise ValueError(f"val_buffer={buffer!r}: expected a thumbnail distance >= 0, 0 = off")
    if buffer and cfg["val_split"] != "grouped":
        raise ValueError(f"val_buffer={buffer} needs val_split: grouped (a random split keeps "
                         "near-duplicates on both sides, which no buffer can remove)")
    decay = cfg["ema"]
    if not is_number(decay) or not 0 <= decay < 1:
        raise ValueError(f"ema={decay!r}: expected a decay in [0, 1), 0 = off")
    check_settings(cfg)
    check_distill(cfg)
    rank, world, device = setup_distributed()
    torch.manual_seed(cfg["seed"])
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    rng = np.random.default_rng(cfg["seed"] + 1000 * rank)
    out = Path(cfg["out"])

    raw = make_model(cfg).to(device).to(memory_format=torch.channels_last)
    teacher = load_teacher(cfg, raw.config.input_size, device)
    data = PairedData(cfg, raw.config.input_size, rank)
    if len(data.real) < world * (cfg["batch_size"] // 2):
        raise ValueError(f"{len(data.real)} training reals cannot fill one batch of batch_size="
                         f"{cfg['batch_size']} (half reals) on {world} process(es)")
    if not len(data.fake) and data.n_paired_reals and cfg["sbi_ratio"] < 1:
        raise ValueError(f"no FF++ fakes in the training part of {cfg['data']} (sources="
                         f"{cfg['sources']}): set sbi_ratio: 1 to train on self-blended fakes only")
    out.mkdir(parents=True, exist_ok=True)  # after the checks above, so a refused run leaves nothing
    model = DistributedDataParallel(raw, find_unused_parameters=True) if world > 1 else raw
    decode = bool(cfg["lambda_rec"] or cfg["lambda_mask"])  # classifier-only skips the decoder
    enc = [p for p in raw.encoder.parameters() if p.requires_grad]
    head = [p for n, p in raw.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": enc, "lr": cfg["lr"] * cfg["encoder_lr_mult"]},
                             {"params": head, "lr": cfg["lr"]}], weight_decay=cfg["weight_decay"])
    base_lrs = [g["lr"] for g in opt.param_groups]
    half = cfg["batch_size"] // 2
    sampler = DistributedSampler(range(len(data.real)), num_replicas=world, rank=rank,
                                 shuffle=True, seed=cfg["seed"], drop_last=True)
    steps = len(sampler) // half
    if cfg["steps_per_epoch"]:
        steps = min(steps, cfg["steps_per_epoch"]) if steps else cfg["steps_per_epoch"]
    total = max(1, steps * cfg["epochs"])
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext())
    ema = (AveragedModel(raw, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
           if decay and rank == 0 else None)  # only rank 0 validates and saves
    scored = ema.module if ema else raw  # the weights that are validated, selected and saved

    start, best, history = 0, -1.0, []
    distill = [cfg["teacher"] and str(cfg["teacher"]), cfg["lambda_distill"]]
    last = out / "last.pt"
    if cfg.get("resume") and last.is_file():
        state = torch.load(last, map_location=device, weights_only=False)
        saved = state.get("ema_decay", "unknown" if "ema" in state else 0.0)
        if saved != decay:
            raise ValueError(f"{last}: saved with ema={saved}, but this config has ema={decay}; "
                             "resume with the same setting or start a new run")
        if state.get("distill", distill) != distill:  # older last.pt files do not record it
            raise ValueError(f"{last}: saved with teacher, lambda_distill = {state['distill']}, but this "
                             f"config has {distill}; resume with the same settings or start a new run")
        if changed := recipe_changes(state.get("recipe"), cfg):  # older last.pt files lack it
            raise ValueError(f"{last}: saved with other settings ({'; '.join(changed)}); resume with "
                             "the same settings (only epochs may grow) or start a new run")
        raw.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if ema:
            ema.load_state_dict(state["ema"])
        start, best, history = state["epoch"] + 1, state["best"], state["history"]
        if rank == 0:
            print(f"resumed from {last} at epoch {start + 1}")
    val = data.validation(data_seed(cfg)) if rank == 0 else {}  # fixed by the split, not the run
    keys = [k for k in SELECT[cfg["select_on"]] if k in val] or list(val)

    def validate_and_keep(row: dict, t0: float) -> None:
        """Add validation AUCs and the seconds since ``t0`` to ``row``, log it, and save ``best/``
        if it is the best so far."""
        nonlocal best
        scores = {name: predict(scored, c) for name, (c, _) in val.items()}
        for name, (_, yv) in val.items():
            row[f"val_{name}"] = auc(yv, scores[name])
        row["val"] = float(np.mean([row[f"val_{k}"] for k in keys]))
        if ema:  # the raw weights too (at epoch 0 they are the average)
            row["val_raw"] = float(np.mean([auc(val[k][1], predict(raw, val[k][0])) for k in keys])
                                   if row["steps"] else row["val"])
        row["seconds"] = time.time() - t0
        history.append(row)
        write_log(out / "log.csv", row)
        print(json.dumps({n: round(v, 4) if isinstance(v, float) else v for n, v in row.items()}))
        if row["val"] > best:
            best = row["val"]
            ys = np.concatenate([val[k][1] for k in keys])
            threshold = choose_threshold(ys, np.concatenate([scores[k] for k in keys]))
            metrics = {n: round(float(row[n]), 4) for n in row if n.startswith("val")}
            jrc_weights.save(scored, out / "best", threshold, face_model=cfg["face_model"],
                             training={"config": cfg, "epoch": row["epoch"], "steps": row["steps"],
                                       "n_train_reals": len(data.real),
                                       "n_train_ffpp_fakes": len(data.fake),
                                       "n_val_reals": len(data.val_real),
                                       "n_val_fakes": len(data.val_fake),
                                       **({"init": raw.init_meta} if cfg["init"] else {})},
                             metrics=metrics)

    if rank == 0 and cfg["init"] and start == 0:  # the starting weights are a candidate too
        validate_and_keep({"epoch": 0, "steps": 0}, time.time())

    step = start * steps
    for epoch in range(start, cfg["epochs"]):
        set_train_mode(raw)
        sampler.set_epoch(epoch)
        order = list(sampler)
        while len(order) < steps * half:  # steps_per_epoch larger than one pass: wrap around
            order += list(np.random.default_rng(epoch + len(order)).permutation(order))
        t0, sums = time.time(), dict.fromkeys(("loss", "bce", "rec", "mask", "distill"), 0.0)
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg['epochs']}", unit="step",
                   disable=rank != 0)
        for k in bar:
            lr_scale = 0.5 * (1 + math.cos(math.pi * step / total))  # cosine to zero
            for g, base in zip(opt.param_groups, base_lrs, strict=True):
                g["lr"] = base * lr_scale
            imgs, y, masks, valid = data.batch(order[k * half:(k + 1) * half], cfg["sbi_ratio"], rng)
            x = torch.from_numpy(normalize(imgs, raw.config.mean, raw.config.std)).to(device)
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast:
                outputs = model(x, decode=decode)
                soft = teacher_logits(*teacher, imgs, device) if teacher else None
            outputs = {n: t.float() for n, t in outputs.items()}
            mask_t = torch.from_numpy(masks).to(device) if cfg["mask_head"] else None
            loss, parts = jrc_loss(outputs, x, torch.from_numpy(y).to(device), raw, mask_t, cfg,
                                   torch.from_numpy(valid).to(device), soft)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema:
                ema.update_parameters(raw)
            step += 1
            for n in sums:
                sums[n] += parts[n]
            bar.set_postfix({n: f"{v:.3f}" for n, v in parts.items()})
        if rank == 0:
            row = {"epoch": epoch + 1, "steps": step, **{n: v / max(steps, 1) for n, v in sums.items()}}
            validate_and_keep(row, t0)
            torch.save({"model": raw.state_dict(), "opt": opt.state_dict(), "epoch": epoch,
                        "best": best, "history": history, "ema_decay": decay, "distill": distill,
                        "recipe": {k: v for k, v in cfg.items() if k not in RESUMABLE},
                        **({"ema": ema.state_dict()} if ema else {})}, last)
        if world > 1:
            dist.barrier()
    if rank == 0:
        (out / "history.json").write_text(json.dumps(history, indent=2))
    if world > 1:
        dist.destroy_process_group()
    return out / "best"


def write_log(path: Path, row: dict) -> None:
    """Append ``row`` to the CSV log, keeping the columns of an existing log (older runs)."""
    new = not path.is_file()
    fields = LOG_FIELDS
    if not new:
        with path.open(newline="") as f:
            fields = next(csv.reader(f), LOG_FIELDS)
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)
