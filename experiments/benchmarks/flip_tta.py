"""Does flip averaging (``jrc scan --tta``) help a model, on its own validation data?

    python benchmarks/flip_tta.py [--weights weights] [--json OUT]

Rebuilds the train/validation split stored in the weights' ``config.json`` and scores the FF++
validation crops (held-out reals vs held-out fakes) through the product path
(``jrc.detector.Detector.analyze_crops``), once plain and once with ``tta=True`` (each face and its
mirror, logits averaged). Prints AUC, EER and the balanced accuracy at the stored threshold for
both, so a threshold chosen without flip averaging can be checked with it. No test data is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from jrc import weights as jrc_weights
from jrc.detector import Detector
from jrc.runtime import create_runner
from train.loop import weights_split
from train.metrics import auc, eer


def compare(weights: str) -> dict:
    """``{"plain": {...}, "tta": {...}, "n_real", "n_fake", "threshold"}`` on the validation split."""
    ckpt = jrc_weights.load(weights)
    _, split = weights_split(ckpt, weights)
    val = split.val
    labels, crops = split.labels[val], list(split.crops[val])
    runner = create_runner(ckpt, "torch", with_decoder=False)
    out: dict = {"weights": weights, "threshold": ckpt.threshold,
                 "n_real": int((labels == 0).sum()), "n_fake": int(labels.sum())}
    for name, tta in (("plain", False), ("tta", True)):
        det = Detector(runner, ckpt.threshold, tta=tta, batch_size=32)
        scores = np.array([r.score for r in det.analyze_crops(crops)])
        flagged = scores >= ckpt.threshold
        out[name] = {"auc": round(auc(labels, scores), 4), "eer": round(eer(labels, scores), 4),
                     "balanced_acc": round(float(balanced_accuracy_score(labels, flagged)), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args(argv)
    try:
        out = compare(args.weights)
    except (OSError, ValueError, jrc_weights.WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.weights}: FF++ validation, {out['n_real']} real + {out['n_fake']} fake crops, "
          f"threshold {out['threshold']:.3f}\n")
    print("| scoring | AUC | EER | balanced acc @ threshold |\n|---|---:|---:|---:|")
    for name in ("plain", "tta"):
        r = out[name]
        print(f"| {name} | {r['auc']:.4f} | {r['eer']:.4f} | {r['balanced_acc']:.4f} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
