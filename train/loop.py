"""A short, readable JRC training loop (nanoGPT style).

loss = BCE(logit, y) + lambda_rec * MSE(reconstruction, input)

Checkpoints every epoch (``last.pt``, resumable); the best epoch by *validation* AUC is
written as a JRC weights folder (``model.safetensors`` + ``config.json``) with the decision
threshold chosen on that validation split.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from jrc import weights as jrc_weights
from jrc.model import ModelConfig, TwoBranchCAE
from jrc.preprocess import normalize
from train.data import augment, cache_crops, scan_crop_folder, split_indices
from train.metrics import auc, choose_threshold

DEFAULTS: dict = {
    "data": "../shared/data/ffpp-crops/train",
    "out": "runs/jrc_lite0",
    "encoder": "efficientnet_lite0",
    "pretrained": True,
    "freeze_blocks": 3,  # stem + first N MBConv blocks frozen (CPU budget)
    "lambda_rec": 1.0,
    "epochs": 6,
    "batch_size": 32,
    "lr": 1e-3,
    "encoder_lr_mult": 0.3,
    "weight_decay": 1e-4,
    "val_frac": 0.1,
    "seed": 0,
    "max_steps_per_epoch": 0,  # 0 = full epoch
    "threads": 0,  # 0 = torch default
    "cache_dir": "cache",
    "face_model": "short_range",
}


def make_model(cfg: dict) -> TwoBranchCAE:
    model = TwoBranchCAE(ModelConfig.for_encoder(cfg["encoder"]), pretrained_encoder=cfg["pretrained"])
    enc = model.encoder
    frozen = []
    if cfg["freeze_blocks"] > 0 and hasattr(enc, "blocks"):
        frozen = [enc.stem, *enc.blocks[: cfg["freeze_blocks"]]]
    for module in frozen:
        module.requires_grad_(False)
    model.frozen_modules = frozen  # kept in eval mode (BN statistics fixed)
    return model


def set_train_mode(model: TwoBranchCAE) -> None:
    model.train()
    for module in getattr(model, "frozen_modules", []):
        module.eval()


@torch.no_grad()
def predict(model: TwoBranchCAE, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """P(fake) for uint8 crops, in eval mode."""
    model.eval()
    c = model.config
    out = []
    for i in range(0, len(crops), batch):
        x = torch.from_numpy(normalize(crops[i:i + batch], c.mean, c.std))
        out.append(torch.sigmoid(model(x.contiguous(memory_format=torch.channels_last),
                                       decode=False)["logit"]).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def balanced_batches(labels: np.ndarray, batch: int, steps: int, rng: np.random.Generator):
    """Index batches with half real, half fake (sampling each class without replacement)."""
    pools = [np.flatnonzero(labels == k) for k in (0, 1)]
    orders = [rng.permutation(p) for p in pools]
    pos = [0, 0]
    for _ in range(steps):
        idx = []
        for k, n in ((0, batch // 2), (1, batch - batch // 2)):
            if pos[k] + n > len(orders[k]):
                orders[k], pos[k] = rng.permutation(pools[k]), 0
            idx += orders[k][pos[k]:pos[k] + n].tolist()
            pos[k] += n
        yield np.array(idx)


def train(cfg: dict) -> Path:
    """Train, validate each epoch, keep the best by validation AUC. Returns the weights folder."""
    cfg = {**DEFAULTS, **cfg}
    torch.manual_seed(cfg["seed"])
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    out = Path(cfg["out"])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg["seed"])

    model = make_model(cfg).to(memory_format=torch.channels_last)
    size = model.config.input_size
    samples = scan_crop_folder(cfg["data"])
    crops, found = cache_crops(samples, size, cfg["cache_dir"], cfg["face_model"])
    labels = np.array([s.label for s in samples])
    tr, va = split_indices(samples, cfg["val_frac"], cfg["seed"])
    tr, va = tr[found[tr]], va[found[va]]
    print(f"data: {len(samples)} images, {int((~found).sum())} without a face dropped; "
          f"train {len(tr)} (fake {int(labels[tr].sum())}), val {len(va)} (fake {int(labels[va].sum())})")

    enc_params = [p for p in model.encoder.parameters() if p.requires_grad]
    head_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": cfg["lr"] * cfg["encoder_lr_mult"]},
                             {"params": head_params, "lr": cfg["lr"]}], weight_decay=cfg["weight_decay"])
    steps = len(tr) // cfg["batch_size"]
    if cfg["max_steps_per_epoch"]:
        steps = min(steps, cfg["max_steps_per_epoch"])
    total = steps * cfg["epochs"]
    base_lrs = [g["lr"] for g in opt.param_groups]

    start_epoch, best_auc, history = 0, -1.0, []
    last = out / "last.pt"
    if cfg.get("resume") and last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start_epoch, best_auc, history = state["epoch"] + 1, state["best_auc"], state["history"]
        print(f"resumed from {last} at epoch {start_epoch}")

    log = (out / "log.csv").open("a", newline="")
    writer = csv.writer(log)
    step = start_epoch * steps
    for epoch in range(start_epoch, cfg["epochs"]):
        set_train_mode(model)
        t0 = time.time()
        sums = {"loss": 0.0, "bce": 0.0, "rec": 0.0}
        bar = tqdm(balanced_batches(labels[tr], cfg["batch_size"], steps, rng), total=steps,
                   desc=f"epoch {epoch + 1}/{cfg['epochs']}", unit="step")
        for batch_idx in bar:
            lr_scale = 0.5 * (1 + math.cos(math.pi * step / total))  # cosine to zero
            for g, base in zip(opt.param_groups, base_lrs, strict=True):
                g["lr"] = base * lr_scale
            idx = tr[batch_idx]
            batch = np.stack([augment(crops[i], rng) for i in idx])
            x = torch.from_numpy(normalize(batch, model.config.mean, model.config.std))
            x = x.contiguous(memory_format=torch.channels_last)
            y = torch.from_numpy(labels[idx].astype(np.float32))
            outp = model(x)
            bce = F.binary_cross_entropy_with_logits(outp["logit"], y)
            rec = F.mse_loss(outp["reconstruction"], model.denormalize(x))
            loss = bce + cfg["lambda_rec"] * rec
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            for k, v in (("loss", loss), ("bce", bce), ("rec", rec)):
                sums[k] += v.item()
            bar.set_postfix(loss=f"{float(loss):.3f}", bce=f"{float(bce):.3f}", rec=f"{float(rec):.4f}")
        scores = predict(model, crops[va])
        val_auc = auc(labels[va], scores)
        row = {"epoch": epoch + 1, **{k: v / max(steps, 1) for k, v in sums.items()},
               "val_auc": val_auc, "seconds": time.time() - t0}
        history.append(row)
        writer.writerow([row[k] for k in ("epoch", "loss", "bce", "rec", "val_auc", "seconds")])
        log.flush()
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
        if val_auc > best_auc:
            best_auc = val_auc
            threshold = choose_threshold(labels[va], scores)
            jrc_weights.save(model, out / "best", threshold, face_model=cfg["face_model"],
                             training={"config": cfg, "epoch": epoch + 1, "n_train": len(tr),
                                       "n_val": len(va)},
                             metrics={"val_auc": round(val_auc, 4)})
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch,
                    "best_auc": best_auc, "history": history}, last)
    log.close()
    (out / "history.json").write_text(json.dumps(history, indent=2))
    return out / "best"
