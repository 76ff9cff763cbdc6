"""Does a model take blur for manipulation? Scores against image sharpness, on a scan and on validation.

    python -m jrc scan --crops ../shared/data/ffpp-crops/test --weights W --output scan.jsonl
    python benchmarks/sharpness_bias.py scan.jsonl [--weights W]
    python benchmarks/sharpness_bias.py --weights W       # validation only: no test data read

Sharpness is the variance of the Laplacian of each source image in grey (higher = sharper). For the
scan (labels from the path, as in ``auc_from_scan.py``) and, with ``--weights``, for that model's
own validation split (rebuilt from its ``config.json``): median sharpness of reals and fakes, the
rank correlation of sharpness and score among reals and among fakes, the AUC of blur alone as a
fake score, and the AUC of all fakes against the blurrier and the sharper reals, cut at the scan's
median real sharpness so both sets are split at the same value (with ``--weights`` alone, at the
validation reals' own median, so that a recipe can be judged on training data only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import spearmanr

from jrc import weights as jrc_weights
from train.loop import predict, weights_split
from train.metrics import auc

try:
    from benchmarks.auc_from_scan import label_of, load_ok
except ImportError:  # run as a script: benchmarks/ is on sys.path
    from auc_from_scan import label_of, load_ok


def file_sharpness(path: str | Path) -> float:
    """Laplacian variance of the whole image file in grey (unlike ``train.data.sharpness``, which
    reads only the central face of a crop)."""
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise SystemExit(f"error: {path}: cannot be read as an image")
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def report(name: str, labels: np.ndarray, scores: np.ndarray, sharp: np.ndarray, cut: float) -> None:
    real, fake = labels == 0, labels == 1
    print(f"\n{name}: {int(real.sum())} real, {int(fake.sum())} fake")
    print(f"  median sharpness: reals {np.median(sharp[real]):.1f}, fakes {np.median(sharp[fake]):.1f}")
    print(f"  rank correlation of sharpness and score: reals {spearmanr(sharp[real], scores[real])[0]:+.3f}, "
          f"fakes {spearmanr(sharp[fake], scores[fake])[0]:+.3f}")
    print(f"  AUC of blur alone (-sharpness) as the fake score: {auc(labels, -sharp):.3f}")
    for part, keep_real in ((f"blurrier reals (< {cut:.1f})", real & (sharp < cut)),
                            (f"sharper reals (>= {cut:.1f})", real & (sharp >= cut))):
        keep = fake | keep_real
        print(f"  all fakes vs {part}, {int(keep_real.sum())}: AUC {auc(labels[keep], scores[keep]):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl", type=Path, nargs="?", help="a `jrc scan --crops` output")
    ap.add_argument("--weights", help="also (or only) report this model's validation split")
    args = ap.parse_args()
    if args.jsonl is None and not args.weights:
        ap.error("give a scan JSONL, --weights, or both")
    cut = None
    if args.jsonl is not None:
        ok = load_ok(args.jsonl)
        paths = sorted(ok)
        labels = np.array([label_of(p) for p in paths])
        if len(set(labels.tolist())) < 2:
            raise SystemExit(f"error: {args.jsonl}: needs both real and fake records")
        scores = np.array([ok[p]["score"] for p in paths])
        sharp = np.array([file_sharpness(p) for p in paths])
        cut = float(np.median(sharp[labels == 0]))
        report(str(args.jsonl), labels, scores, sharp, cut)
    if args.weights:
        loaded = jrc_weights.load(args.weights)
        try:
            _, split = weights_split(loaded, args.weights)
        except ValueError as e:
            raise SystemExit(f"error: {e}") from None
        va = split.val
        labels, sharp = split.labels[va], np.array([file_sharpness(split.samples[i].path) for i in va])
        if cut is None:
            cut = float(np.median(sharp[labels == 0]))
        report(f"{args.weights} validation split", labels, predict(loaded.model, split.crops[va]), sharp, cut)


if __name__ == "__main__":
    main()
