"""Which output of the JRC heads tells real from fake, on fakes a run never trained on?

    python benchmarks/head_signals.py [--weights weights] [--json OUT]

Takes the crops of ``python -m train.unseen`` (the run's validation reals; per fake folder, the
validation part of a method it trained on, or every crop of a method it never saw; training data
only) and reports, per folder, the AUC of four per-crop signals:

- ``classifier``: the classifier's logit, i.e. the product's score;
- ``mask``: the mean of the top 5 % of the forgery-mask head's logits. The mask head learns from
  self-blends only (an FF++ fake's manipulated region is unknown, so its mask loss is masked out);
- ``reconstruction``: the decoder's reconstruction error (mean squared, RGB in [0, 1]);
- ``classifier+mask``: the two standardised by their spread over the validation reals and summed,
  equal weights, so no label chooses the mix.

The question: does a head other than the classifier carry signal that transfers to unseen methods?

Then, where does each map point? Every validation real is self-blended once (seeded; the blend
mask is the truth), and per fake the pixel AUC of the demo's two overlays is averaged: the residual
``|crop - reconstruction|`` and the mask head's P(manipulated), against "blend weight >= half its
maximum".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from jrc import weights as jrc_weights
from jrc.model import TwoBranchCAE
from jrc.preprocess import normalize
from jrc.sbi import self_blend
from train.loop import weights_split
from train.metrics import auc
from train.unseen import unseen_crops

SIGNALS = ("classifier", "mask", "reconstruction", "classifier+mask")
TOP_FRACTION = 0.05


@torch.no_grad()
def head_signals(model: TwoBranchCAE, crops: np.ndarray, batch: int = 32) -> dict[str, np.ndarray]:
    """Per crop: classifier logit, top-5 % mean mask logit, reconstruction MSE (uint8 crops in)."""
    model.eval()
    c = model.config
    out: dict[str, list[np.ndarray]] = {"classifier": [], "mask": [], "reconstruction": []}
    for i in range(0, len(crops), batch):
        x = torch.from_numpy(normalize(crops[i:i + batch], c.mean, c.std))
        o = model(x)
        if "mask_logit" not in o:
            raise ValueError("this model has no mask head (config mask_head: false)")
        mask = o["mask_logit"].flatten(1)
        top = max(1, round(mask.shape[1] * TOP_FRACTION))
        out["classifier"].append(o["logit"].numpy())
        out["mask"].append(mask.topk(top, dim=1).values.mean(1).numpy())
        err = (o["reconstruction"] - model.denormalize(x)) ** 2
        out["reconstruction"].append(err.flatten(1).mean(1).numpy())
    return {k: np.concatenate(v) if v else np.zeros(0, np.float32) for k, v in out.items()}


def with_sum(signals: dict[str, np.ndarray], spread: dict[str, float]) -> dict[str, np.ndarray]:
    """``signals`` plus ``classifier+mask``: both divided by their spread over the reals, summed."""
    summed = signals["classifier"] / spread["classifier"] + signals["mask"] / spread["mask"]
    return {**signals, "classifier+mask": summed}


def compare(weights: str | Path) -> dict:
    """``{"val_reals", "methods": {folder: {"seen", "fakes", SIGNAL: AUC, ...}}, "unseen_mean": {...}}``."""
    got = unseen_crops(weights)
    model = got.checkpoint.model
    reals = head_signals(model, got.real_crops)
    spread = {k: float(v.std()) or 1.0 for k, v in reals.items()}
    reals = with_sum(reals, spread)
    out: dict = {"weights": str(weights), "val_reals": len(got.real_paths), "methods": {}}
    if got.warning:
        out["warning"] = got.warning
    for src, folder in got.fakes.items():
        fakes = with_sum(head_signals(model, folder.crops), spread)
        y = np.r_[np.zeros(len(got.real_paths)), np.ones(len(folder.paths))]
        row = {"seen": folder.seen, "fakes": len(folder.paths)}
        row.update({k: round(auc(y, np.r_[reals[k], fakes[k]]), 4) for k in SIGNALS})
        out["methods"][src] = row
    unseen = [m for m in out["methods"].values() if not m["seen"]]
    out["unseen_mean"] = ({k: round(float(np.mean([m[k] for m in unseen])), 4) for k in SIGNALS}
                          if unseen else None)
    return out


@torch.no_grad()
def localisation(weights: str | Path, seed: int = 0, batch: int = 32) -> dict:
    """Mean per-image pixel AUC of the residual and of the mask head on self-blends of the
    validation reals (truth: blend weight >= half its maximum)."""
    loaded = jrc_weights.load(weights)
    _, split = weights_split(loaded, weights)
    model, rng = loaded.model.eval(), np.random.default_rng(seed)
    reals = split.val[split.labels[split.val] == 0]
    blends = [self_blend(split.crops[i], split.keypoints[i], rng) for i in reals]
    c = model.config
    scores: dict[str, list[float]] = {"residual": [], "mask": []}
    for i in range(0, len(blends), batch):
        part = blends[i:i + batch]
        x = torch.from_numpy(normalize(np.stack([f for f, _ in part]), c.mean, c.std))
        o = model(x)
        residual = (o["reconstruction"] - model.denormalize(x)).abs().mean(1).numpy()
        mask = torch.sigmoid(o["mask_logit"]).numpy()
        for (_, truth), res, msk in zip(part, residual, mask, strict=True):
            inside = (truth >= 0.5 * truth.max()).ravel()
            if inside.all() or not inside.any():
                continue
            scores["residual"].append(auc(inside, res.ravel()))
            scores["mask"].append(auc(inside, msk.ravel()))
    return {"blends": len(scores["mask"]), **{k: round(float(np.mean(v)), 4) for k, v in scores.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights", help="JRC weights with a mask head and a training config")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args(argv)
    try:
        out = compare(args.weights)
    except (OSError, ValueError, jrc_weights.WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.weights}: AUC against {out['val_reals']} validation reals\n")
    print("| fake folder | seen in training | fakes | " + " | ".join(SIGNALS) + " |")
    print("|---|---|---:|" + "---:|" * len(SIGNALS))
    for src, m in out["methods"].items():
        seen = "yes (validation part)" if m["seen"] else "no (all crops)"
        print(f"| {src} | {seen} | {m['fakes']} | " + " | ".join(f"{m[k]:.3f}" for k in SIGNALS) + " |")
    if out["unseen_mean"]:
        print("| mean of unseen | | | " + " | ".join(f"{out['unseen_mean'][k]:.3f}" for k in SIGNALS) + " |")
    loc = localisation(args.weights)
    out["localisation"] = loc
    print(f"\nPixel AUC on {loc['blends']} self-blends of the validation reals (mean per image): "
          f"residual {loc['residual']:.3f}, mask head {loc['mask']:.3f}")
    if "warning" in out:
        print(f"warning: {out['warning']}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
