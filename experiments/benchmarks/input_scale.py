"""Does a model need the pixels of its input size, or only the scale? (validation data only)

    python benchmarks/input_scale.py [--weights weights/lite0_288] [--from-size 224] [--json OUT]

Rebuilds the train/validation split stored in the weights' ``config.json`` (a grouped split is
kept exactly, whatever the size) and scores the held-out FF++ crops three ways:

* ``native``: crops cut at the model's own input size (what it was trained on);
* ``upsampled``: crops cut at ``--from-size`` (fewer pixels), resized up to the input size;
* ``direct``: the ``--from-size`` crops fed to the fully convolutional model as they are.

If ``upsampled`` stays near ``native`` while ``direct`` drops, the smaller crops hold the
information and what the larger input adds is the scale the network sees the face at (compute
per face pixel), not detail. No test data is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from jrc import weights as jrc_weights
from train.loop import labelled_split, predict, split_key, weights_split
from train.metrics import auc


def compare(weights: str, from_size: int) -> dict:
    """AUCs of ``native`` / ``upsampled`` / ``direct`` scoring on the validation crops found at both sizes."""
    ckpt = jrc_weights.load(weights)
    cfg, split = weights_split(ckpt, weights)
    size = ckpt.config.input_size
    cfg = {**cfg, **split_key(cfg, size)}  # pins a grouped split's groups to the model's own size
    small = labelled_split(cfg, from_size)
    val = split.val[np.isin(split.val, small.val)]  # faces found at both sizes
    labels = split.labels[val]
    up = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_LINEAR) for c in small.crops[val]])
    model = ckpt.model
    scores = {"native": predict(model, split.crops[val]), "upsampled": predict(model, up),
              "direct": predict(model, small.crops[val])}
    return {"weights": weights, "input_size": size, "from_size": from_size,
            "n_real": int((labels == 0).sum()), "n_fake": int(labels.sum()),
            **{name: round(auc(labels, s), 4) for name, s in scores.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights/lite0_288")
    ap.add_argument("--from-size", type=int, default=224, help="the smaller crop size to compare with")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args(argv)
    try:
        out = compare(args.weights, args.from_size)
    except (OSError, ValueError, jrc_weights.WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    s, f = out["input_size"], out["from_size"]
    print(f"{args.weights}: FF++ validation AUC, {out['n_real']} real + {out['n_fake']} fake crops\n")
    print("| crops | AUC |\n|---|---:|")
    print(f"| {s} px (native) | {out['native']:.4f} |")
    print(f"| {f} px, upsampled to {s} | {out['upsampled']:.4f} |")
    print(f"| {f} px, as they are | {out['direct']:.4f} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
