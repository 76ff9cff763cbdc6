"""The JRC training loop, short and readable (after nanoGPT's train.py).

loss = BCE + lambda_rec * L_rec + lambda_mask * BCE(mask)   (train/losses.py)
       [+ consistency * (logit - logit of its re-saved twin)^2]

Batches come from train/pairs.py (each real paired with a fake, sources balanced), validation
from train/validation.py (sets carved from the training data, never the test split). Every
epoch is validated; the best by ``select_on`` is written as a JRC weights folder (``best/``)
with the threshold chosen on validation, and ``last.pt`` lets ``--resume`` continue a run.
Runs under ``torchrun`` too (DDP; each process draws its own batches).
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from jrc import weights as jrc_weights
from jrc.model import ModelConfig, TwoBranchCAE
from jrc.preprocess import normalize
from train.config import TrainConfig
from train.losses import consistency_loss, jrc_loss
from train.pairs import PairedData
from train.splits import split_key
from train.validation import Validator

# settings that may differ when a run is resumed: the schedule's length and where things live
RESUMABLE = {"epochs", "threads", "cache_dir", "out"}


def make_model(cfg: TrainConfig) -> TwoBranchCAE:
    """Model from the config; the stem and first ``freeze_blocks`` blocks are frozen (eval mode)."""
    size = {"input_size": int(cfg.input_size)} if cfg.input_size else {}
    mc = ModelConfig.for_encoder(cfg.encoder, mask_head=cfg.mask_head, **size)
    model = TwoBranchCAE(mc, pretrained_encoder=cfg.pretrained, encoder_weights=cfg.encoder_weights)
    enc = model.encoder
    blocks = getattr(enc, "blocks", None)
    frozen = [enc.stem, *blocks[:cfg.freeze_blocks]] if cfg.freeze_blocks and blocks is not None else []
    for module in frozen:
        module.requires_grad_(False)
    model.frozen_modules = frozen
    if cfg.init:
        start = jrc_weights.load(cfg.init)
        got = start.model.config
        if (got.encoder, got.mask_head) != (mc.encoder, mc.mask_head):
            raise ValueError(f"init {cfg.init}: {got.encoder} mask_head={got.mask_head}, but the config "
                             f"trains {mc.encoder} mask_head={mc.mask_head}")
        before = (start.meta.get("training") or {}).get("config")
        theirs = before and split_key(TrainConfig.from_stored(before), got.input_size)
        if theirs and theirs != split_key(cfg, mc.input_size):
            raise ValueError(f"init {cfg.init} was trained on another train/validation split; validating "
                             "it would score images it was trained on")
        model.load_state_dict(start.model.state_dict())
    return model


def set_train_mode(model: TwoBranchCAE) -> None:
    model.train()
    for module in getattr(model, "frozen_modules", []):
        module.eval()


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


def autocast_for(cfg: TrainConfig, device: torch.device):
    """bf16 autocast for the training forward when asked for (CUDA always uses it), else none."""
    if device.type == "cuda" or cfg.precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def train_one_epoch(model, raw: TwoBranchCAE, opt, data: PairedData, cfg: TrainConfig, steps: int,
                    step0: int, total: int, rng: np.random.Generator, device: torch.device,
                    desc: str, show: bool) -> dict[str, float]:
    """``steps`` optimiser steps on cosine-decayed learning rates; the mean loss parts."""
    set_train_mode(raw)
    base = [g["initial_lr"] for g in opt.param_groups]
    decode = bool(cfg.lambda_rec or cfg.lambda_mask)  # classifier-only skips the decoder
    sums = dict.fromkeys(("loss", "bce", "rec", "mask", "cons"), 0.0)
    twins = bool(cfg.consistency)
    bar = tqdm(range(steps), desc=desc, unit="step", disable=not show)
    for k in bar:
        for g, lr in zip(opt.param_groups, base, strict=True):
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step0 + k) / total))
        imgs, y, masks, valid = data.batch(cfg.batch_size // (4 if twins else 2), rng, twins)
        x = torch.from_numpy(normalize(imgs, raw.config.mean, raw.config.std)).to(device)
        x = x.contiguous(memory_format=torch.channels_last)
        with autocast_for(cfg, device):
            outputs = model(x, decode=decode)
        outputs = {n: t.float() for n, t in outputs.items()}
        mask_t = torch.from_numpy(masks).to(device) if cfg.mask_head else None
        loss, parts = jrc_loss(outputs, x, torch.from_numpy(y).to(device), raw, mask_t, cfg.to_dict(),
                               torch.from_numpy(valid).to(device))
        if twins:
            cons = consistency_loss(outputs["logit"])
            loss = loss + cfg.consistency * cons
            parts.update(cons=float(cons.detach()), loss=float(loss.detach()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for n in sums:
            sums[n] += parts.get(n, 0.0)
        bar.set_postfix({n: f"{v:.3f}" for n, v in parts.items() if n in sums})
    return {n: v / max(steps, 1) for n, v in sums.items()}


def save_best(model: TwoBranchCAE, out: Path, threshold: float, cfg: TrainConfig, row: dict,
              data: PairedData, validator: Validator) -> None:
    metrics = {n: round(float(v), 4) for n, v in row.items() if n.startswith("val")}
    jrc_weights.save(model, out / "best", threshold, face_model=cfg.face_model,
                     training={"config": cfg.to_dict(), "epoch": row["epoch"], "steps": row["steps"],
                               "n_train_reals": data.n_reals, "n_train_fakes": len(data.fake),
                               "validation": validator.sizes()},
                     metrics=metrics)


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train, validate each epoch, keep the best by validation. Returns the weights folder."""
    if not Path(cfg.data).is_dir():
        raise FileNotFoundError(f"data={cfg.data}: no such folder (a labelled crop folder, <source>/*.jpg)")
    out, last = Path(cfg.out), Path(cfg.out) / "last.pt"
    if resume and not last.is_file():
        raise FileNotFoundError(f"--resume: no {last} to continue from (check out=, or start without "
                                "--resume)")
    rank, world, device = setup_distributed()
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed + 1000 * rank)
    raw = make_model(cfg).to(device).to(memory_format=torch.channels_last)
    size = raw.config.input_size
    data = PairedData(cfg, size, verbose=rank == 0)
    if data.n_reals < cfg.batch_size // 2:
        raise ValueError(f"{data.n_reals} training reals cannot fill one batch of "
                         f"batch_size={cfg.batch_size}")
    validator = Validator(data, cfg, size) if rank == 0 else None
    out.mkdir(parents=True, exist_ok=True)  # after the checks above, so a refused run leaves nothing
    model = DistributedDataParallel(raw, find_unused_parameters=True) if world > 1 else raw
    enc = [p for p in raw.encoder.parameters() if p.requires_grad]
    head = [p for n, p in raw.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": enc, "lr": cfg.lr * cfg.encoder_lr_mult, "initial_lr": cfg.lr *
                              cfg.encoder_lr_mult}, {"params": head, "lr": cfg.lr, "initial_lr": cfg.lr}],
                            weight_decay=cfg.weight_decay)
    steps = cfg.steps_per_epoch or max(1, data.n_reals // (cfg.batch_size // 2 * world))
    start, best, history = 0, -math.inf, []
    if resume:
        start, best, history = load_last(last, raw, opt, cfg, device)
        if rank == 0:
            print(f"resumed from {last} at epoch {start + 1}")
    for epoch in range(start, cfg.epochs):
        t0 = time.time()
        row = {"epoch": epoch + 1, "steps": (epoch + 1) * steps,
               **train_one_epoch(model, raw, opt, data, cfg, steps, epoch * steps, steps * cfg.epochs, rng,
                                 device, f"epoch {epoch + 1}/{cfg.epochs}", rank == 0)}
        if rank == 0:
            metrics, score, threshold = validator(raw)
            row.update(metrics, val=score, threshold=threshold, seconds=time.time() - t0)
            history.append(row)
            write_log(out / "log.csv", row)
            print(json.dumps({n: round(v, 4) if isinstance(v, float) else v for n, v in row.items()}))
            if score > best:
                best = score
                save_best(raw, out, threshold, cfg, row, data, validator)
            torch.save({"model": raw.state_dict(), "opt": opt.state_dict(), "epoch": epoch, "best": best,
                        "history": history, "recipe": recipe(cfg)}, last)
        if world > 1:
            dist.barrier()
    if rank == 0:
        (out / "history.json").write_text(json.dumps(history, indent=2))
    if world > 1:
        dist.destroy_process_group()
    return out / "best"


def recipe(cfg: TrainConfig) -> dict:
    """The settings a resumed run must share with the saved one."""
    return {k: v for k, v in cfg.to_dict().items() if k not in RESUMABLE}


def load_last(last: Path, raw: TwoBranchCAE, opt, cfg: TrainConfig, device) -> tuple[int, float, list]:
    """Restore ``last.pt`` into the model and optimiser: (next epoch, best score, history)."""
    state = torch.load(last, map_location=device, weights_only=False)
    saved = state.get("recipe") or {}
    if changed := [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in recipe(cfg).items() if saved.get(k) != v]:
        raise ValueError(f"{last}: saved with other settings ({'; '.join(changed)}); resume with the same "
                         "settings (only epochs may grow) or start a new run")
    raw.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    return state["epoch"] + 1, state["best"], state["history"]


def write_log(path: Path, row: dict) -> None:
    """Append ``row`` to the CSV log; the first row fixes the columns."""
    new = not path.is_file()
    fields = list(row)
    if not new:
        with path.open(newline="") as f:
            fields = next(csv.reader(f), fields)
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)
