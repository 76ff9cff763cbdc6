"""How much of a model's validation score comes from near-duplicates of its training images.

    python benchmarks/val_leakage.py [--weights weights] [--test ../shared/data/ffpp-crops/test]
                                     [--json OUT]

Rebuilds the train/validation split stored in the weights' ``config.json`` (same folders, seed,
``val_split``), finds for every validation crop its nearest training crop (RMS difference of
standardised 16x16 grey thumbnails, ``train.data.nearest_distances``), and reports validation AUC
on all of it, on the crops with a near-duplicate ("twin") in training and on those without, and
per fake folder. The test split's distances to the training folder are printed for comparison (no
test scores: the test split is not used here beyond its pixels).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jrc import weights as jrc_weights
from train.data import NEAR_DUPLICATE, cache_crops, nearest_distances, scan_crop_folder
from train.loop import predict, weights_split
from train.metrics import auc


def describe(d: np.ndarray, threshold: float) -> dict:
    return {"n": len(d), "median_nn": round(float(np.median(d)), 3),
            "with_twin": round(float((d < threshold).mean()), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights")
    ap.add_argument("--test", type=Path, default=Path("../shared/data/ffpp-crops/test"))
    ap.add_argument("--threshold", type=float, default=NEAR_DUPLICATE)
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args()
    loaded = jrc_weights.load(args.weights)
    try:
        cfg, split = weights_split(loaded, args.weights)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    size = loaded.model.config.input_size
    crops, found, tr, va = split.crops, split.found, split.train, split.val
    labels = split.labels[va]
    dist = nearest_distances(crops[va], crops[tr])
    scores = predict(loaded.model, crops[va])
    twin = dist < args.threshold
    out = {"weights": str(args.weights), "val_split": cfg["val_split"], "threshold": args.threshold,
           "val": describe(dist, args.threshold)}
    for name, keep in (("all", np.ones_like(twin)), ("with twin", twin), ("without twin", ~twin)):
        y = labels[keep]
        out[f"val AUC ({name})"] = {"auc": round(auc(y, scores[keep]), 4) if len(set(y)) == 2 else None,
                                    "reals": int((y == 0).sum()), "fakes": int((y == 1).sum())}
    sources = np.array([s.source for s in split.samples])[va]
    for src in sorted(set(sources[labels == 1])):  # each fake folder against all validation reals
        keep = (labels == 0) | (sources == src)
        out[f"val AUC ({src} vs real)"] = {"auc": round(auc(labels[keep], scores[keep]), 4),
                                           "reals": int((labels == 0).sum()),
                                           "fakes": int((sources == src).sum())}
    if args.test.is_dir():
        test = scan_crop_folder(args.test)
        tc, tf, _ = cache_crops(test, size, cfg["cache_dir"], cfg["face_model"])
        out["test"] = describe(nearest_distances(tc[tf], crops[found]), args.threshold)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
