"""``python -m train.unseen``: per-method AUC on manipulations a run never trained on, from
training data only (no test data).

Usage::

    python -m train.unseen --weights runs/sbi_only/best [--json OUT]

Rebuilds the train/validation split stored in the weights' ``config.json`` and scores, for every
fake folder of the training data, the fakes that the run never trained on against the validation
reals (real frames the run never trained on either):

- a run with ``sbi_ratio: 1`` (self-blended fakes only) never trained on any FF++ fake, so every
  fake folder counts whole (its training and validation parts);
- a run with ``sources`` leaving folders out (leave one method out) never saw those folders.

Folders the run did train on are reported on their validation part only, marked ``seen``. A run
fine-tuned from other weights (``init``) gets a warning: its start model may have seen more. This is
the cross-method measurement the test split's leave-one-method-out table gives, taken on training
data instead, so it can be used to choose recipes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from jrc import weights as jrc_weights
from train.data import cache_crops, scan_crop_folder
from train.loop import predict, weights_split
from train.metrics import auc


def unseen_by_method(weights: str | Path) -> dict:
    """``{"methods": {folder: {"auc", "fakes", "seen"}}, "val_reals", "unseen_mean"}``; see the module doc.

    Raises ValueError (or ``jrc.weights.WeightsError``) naming the weights or data folder at fault.
    """
    loaded = jrc_weights.load(weights)
    cfg, split = weights_split(loaded, weights)
    size = loaded.model.config.input_size
    reals = split.val[split.labels[split.val] == 0]
    real_scores = predict(loaded.model, split.crops[reals])
    used = {s.source for s in split.samples}
    sbi_only = float(cfg["sbi_ratio"]) >= 1.0
    everything = scan_crop_folder(cfg["data"])
    out: dict = {"weights": str(weights), "val_reals": len(reals), "methods": {}}
    if cfg["init"]:  # "unseen" is this run's view only: the start model may have trained on more
        out["warning"] = (f"this run started from {cfg['init']}; folders that model trained on are "
                          "not unseen, whatever this table says")
    for src in sorted({s.source for s in everything if s.label == 1}):
        seen = src in used and not sbi_only
        if src in used:  # in the split: validation part only if seen, both parts if not
            pool = split.val if seen else np.r_[split.train, split.val]
            idx = pool[np.array([split.samples[i].source == src for i in pool], bool)]
            crops = split.crops[idx]
        else:  # a folder the run's `sources` left out
            samples = [s for s in everything if s.source == src]
            c, found, _ = cache_crops(samples, size, cfg["cache_dir"], cfg["face_model"])
            crops = c[found]
        scores = predict(loaded.model, crops)
        y = np.r_[np.zeros(len(real_scores)), np.ones(len(scores))]
        out["methods"][src] = {"auc": round(auc(y, np.r_[real_scores, scores]), 4),
                               "fakes": len(scores), "seen": seen}
    unseen = [m["auc"] for m in out["methods"].values() if not m["seen"]]
    out["unseen_mean"] = round(float(np.mean(unseen)), 4) if unseen else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.unseen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="a JRC weights folder written by `python -m train`")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args(argv)
    try:
        out = unseen_by_method(args.weights)
    except (OSError, ValueError, jrc_weights.WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"| method | seen in training | fakes | AUC vs {out['val_reals']} validation reals |")
    print("|---|---|---:|---:|")
    for src, m in out["methods"].items():
        print(f"| {src} | {'yes (validation part)' if m['seen'] else 'no (all crops)'} | {m['fakes']} | "
              f"{m['auc']:.3f} |")
    print(f"\nmean over unseen methods: {out['unseen_mean']}")
    if "warning" in out:
        print(f"warning: {out['warning']}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
