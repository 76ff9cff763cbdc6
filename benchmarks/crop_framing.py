"""Measure how BlazeFace boxes relate to the FF++ crops' framing (sets jrc.faces.FRAMING).

    python benchmarks/crop_framing.py [--n 300]

For each sampled FF++ crop (299x299, tight), the face is detected on a zero-padded canvas and
the crop side / box side ratio and the box-centre offset are reported as 10/50/90 percentiles.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import cv2
import numpy as np

from jrc.faces import FaceDetector

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ffpp-crops" / "train"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    files = sorted(args.data.glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no FF++ crops under {args.data}")
    random.Random(0).shuffle(files)
    files = files[: args.n]
    print("| face model | found (padded) | found (raw) | crop/box side p10 / p50 / p90 | "
          "box centre below crop centre (x side) p10 / p50 / p90 |\n|---|---|---|---|---|")
    for model in ("short_range", "full_range"):
        det = FaceDetector(model)
        ratios, dys, raw = [], [], 0
        for f in files:
            im = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
            raw += bool(det.detect(im))
            s = im.shape[0]
            p = s // 2
            faces = det.detect(cv2.copyMakeBorder(im, p, p, p, p, cv2.BORDER_CONSTANT, value=0))
            if not faces:
                continue
            x0, y0, x1, y1 = (v - p for v in faces[0].box)
            ratios.append(s / max(x1 - x0, y1 - y0))
            dys.append(((y0 + y1) / 2 - (s - 1) / 2) / s)
        q = lambda a: " / ".join(f"{v:.3f}" for v in np.percentile(a, [10, 50, 90]))  # noqa: E731
        print(f"| {model} | {len(ratios)}/{len(files)} | {raw}/{len(files)} | {q(ratios)} | {q(dys)} |")
        det.close()


if __name__ == "__main__":
    main()
