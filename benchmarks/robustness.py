"""Frame AUC on the FF++ crops test split under degradations the model was not tuned for.

    python benchmarks/robustness.py [--weights weights] [--data ../shared/data/ffpp-crops/test]
                                    [--backend onnx] [--as-given] [--json OUT]

Each degradation is applied to every crop (real and fake alike) before the crop is scored as
``jrc scan --crops`` would score it (re-framed around the detected face; ``--as-given``: resized
only, as ``jrc scan --crops --as-given``): JPEG re-compression, down-then-up resampling (lost
resolution), Gaussian blur and Gaussian noise. A stand-in for "other compressions" only: the
hidden datasets differ in far more than this. Test data: never used to pick a model.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jrc.artifacts import run_builders
from jrc.detector import Detector
from jrc.media import load_image
from train.data import scan_crop_folder
from train.degrade import blur, jpeg, noise, resample
from train.metrics import summary

DEGRADATIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {  # (image, index) -> image
    "none": lambda rgb, i: rgb,
    "JPEG q75": lambda rgb, i: jpeg(rgb, 75),
    "JPEG q50": lambda rgb, i: jpeg(rgb, 50),
    "JPEG q30": lambda rgb, i: jpeg(rgb, 30),
    "resample x0.5": lambda rgb, i: resample(rgb, 0.5),
    "resample x0.33": lambda rgb, i: resample(rgb, 1 / 3),
    "blur sigma 1": lambda rgb, i: blur(rgb, 1.0),
    "noise std 5": lambda rgb, i: noise(rgb, 5.0, np.random.default_rng(i)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="weights")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/ffpp-crops/test"))
    ap.add_argument("--backend", default="onnx", choices=["auto", "torch", "onnx", "tensorrt"])
    ap.add_argument("--as-given", action="store_true", help="score crops as given, without re-framing")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"error: {args.data}: no such folder (the FF++ crops test split)")
    samples = scan_crop_folder(args.data)
    images = [load_image(s.path) for s in tqdm(samples, desc="load", unit="img")]
    labels = np.array([s.label for s in samples])
    run_builders(args.weights, args.backend, with_decoder=False)
    det = Detector.from_pretrained(args.weights, backend=args.backend, with_decoder=False)
    rows = []
    for name, fn in DEGRADATIONS.items():
        scores = np.array([r.score for r in det.analyze_crops([fn(im, i) for i, im in enumerate(images)],
                                                            reframe=not args.as_given)])
        r = summary(labels, scores, det.threshold)
        rows.append({"degradation": name, **r})
        print(f"{name}: AUC {r['auc']:.4f}", flush=True)
    print(f"\nweights: {args.weights}; {len(samples)} crops ({int(labels.sum())} fake); "
          f"threshold {det.threshold:.3f}\n")
    print(f"| degradation | AUC | ACC@{det.threshold:.3f} | reals called real | fakes called fake | EER |\n"
          "|---|---:|---:|---:|---:|---:|")
    for r in rows:
        shares = " | ".join(f"{r.get(k, float('nan')):.3f}" for k in ("tnr", "tpr"))  # nan: one class only
        print(f"| {r['degradation']} | {r['auc']:.3f} | {r['acc']:.3f} | {shares} | "
              f"{r.get('eer', float('nan')):.3f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
