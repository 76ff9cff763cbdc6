"""How face resolution moves scores: FF++ test crops resampled to less detail, re-framed, scored.

    python benchmarks/face_size.py [--weights weights] [--data ../shared/data/ffpp-crops/test]
                                   [--factors 1 0.5 0.4 0.3333 0.3 0.25 0.2] [--backend onnx]

Each crop is down-scaled by a factor and scaled back up (``train.degrade.resample``), so the face
keeps its size in the picture but carries only ``factor`` x its detail, like a small face in a
large photo. Reported per factor: the median detected face side times the factor (pixels of
detail across the face), AUC, and at the stored threshold the shares of reals called real and of
fakes called fake. This sets ``jrc.report.SMALL_FACE_PX``, under which ``jrc scan`` and the demo
attach a caution. Test data: never used to pick a model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jrc.artifacts import run_builders
from jrc.detector import Detector
from jrc.faces import box_side
from jrc.media import load_image
from train.data import scan_crop_folder
from train.degrade import resample
from train.metrics import summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/ffpp-crops/test"))
    ap.add_argument("--factors", type=float, nargs="+", default=[1.0, 0.5, 0.4, 1 / 3, 0.3, 0.25, 0.2])
    ap.add_argument("--backend", default="onnx", choices=["auto", "torch", "onnx", "tensorrt"])
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"error: {args.data}: no such folder (the FF++ crops test split)")
    if not all(0 < f <= 1 for f in args.factors):
        raise SystemExit("error: --factors must lie in (0, 1]")
    samples = scan_crop_folder(args.data)
    images = [load_image(s.path) for s in tqdm(samples, desc="load", unit="img")]
    labels = np.array([s.label for s in samples])
    run_builders(args.weights, args.backend, with_decoder=False)
    det = Detector.from_pretrained(args.weights, backend=args.backend, with_decoder=False)
    print(f"weights: {args.weights}; {len(samples)} crops ({int(labels.sum())} fake); "
          f"threshold {det.threshold:.3f}\n")
    print("| factor | face px of detail (median) | AUC | reals called real | fakes called fake |\n"
          "|---:|---:|---:|---:|---:|")
    for f in args.factors:
        results = det.analyze_crops([im if f == 1 else resample(im, f) for im in images], reframe=True)
        sides = [box_side(r.box) for r in results if r.box]
        r = summary(labels, np.array([r.score for r in results]), det.threshold)
        shares = " | ".join(f"{r.get(k, float('nan')):.3f}" for k in ("tnr", "tpr"))  # nan: one class only
        print(f"| x{f:g} | {np.median(sides) * f:.0f} | {r['auc']:.3f} | {shares} |", flush=True)


if __name__ == "__main__":
    main()
