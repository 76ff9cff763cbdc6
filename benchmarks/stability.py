"""Does the verdict survive ordinary re-saving? Re-save each file, re-scan it, compare with the original.

    python benchmarks/stability.py [--weights DIR] [--crops DIR] [--limit N] [--json OUT.json]

For every image of a folder of face crops (default: the FF++ test split in ../shared/data) and
for the demo's example photos, each benign re-save of ``train.benign.RESAVES`` (JPEG q50-95 with
4:2:0 or 4:4:4 chroma, WebP q80, a real GIF save, a dithered 256-colour palette, x2 up and x0.5
down, sharpen, denoise, grey) is applied to the whole file, and the result is scanned as
``jrc scan --crops`` scans a file (the face found again and re-cut with the training framing).
Reported per re-save, against the original decoded losslessly (as a PNG would be):

* the share of verdicts that change at the model's threshold;
* the AUC (crops whose folder is ``youtube`` are real, the rest fake);
* the mean |change of the logit|.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.special import logit
from tqdm import tqdm

from export.resolve import prepare
from jrc.detector import Detector
from jrc.media import load_image
from train.benign import RESAVES, TARGETED, rescale
from train.data import REAL_DIRS
from train.metrics import auc

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CROPS = ROOT.parent / "shared" / "data" / "ffpp-crops" / "test"


def resave(name: str, rgb: np.ndarray) -> np.ndarray:
    """A re-saved file: resizes change the file's size (the scan re-crops it), the rest keep it."""
    if name == "up2x":
        return rescale(rgb, 2.0, "bicubic", back=False)
    if name == "down0.5x":
        return rescale(rgb, 0.5, "area", back=False)
    return RESAVES[name](rgb)


def crop_files(folder: Path, limit: int) -> tuple[list[Path], np.ndarray]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    if limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]
    labels = np.array([0 if p.parent.name.lower() in REAL_DIRS else 1 for p in files])
    return files, labels


def score_crops(detector: Detector, images: list[np.ndarray]) -> np.ndarray:
    scores = []
    for i in range(0, len(images), 32):
        scores += [r.score for r in detector.analyze_crops(images[i:i + 32], reframe=True, decoder=False)]
    return np.array(scores, np.float64)


def crops_table(detector: Detector, files: list[Path], labels: np.ndarray) -> dict[str, dict]:
    """Per re-save: verdicts changed, AUC, mean |delta logit| (and the original's AUC as ``png``)."""
    originals = [load_image(p) for p in files]
    base = score_crops(detector, originals)
    t = detector.threshold
    rows = {"png": {"changed": 0.0, "auc": auc(labels, base), "dlogit": 0.0}}
    for name in tqdm(list(RESAVES), desc="re-saves", unit="kind", file=sys.stderr):
        s = score_crops(detector, [resave(name, im) for im in originals])
        eps = 1e-6
        d = np.abs(logit(np.clip(s, eps, 1 - eps)) - logit(np.clip(base, eps, 1 - eps)))
        rows[name] = {"changed": float(np.mean((s >= t) != (base >= t))), "auc": auc(labels, s),
                      "dlogit": float(d.mean())}
    return rows


def example_scores(detector: Detector) -> dict[str, dict[str, float | None]]:
    """The demo's example photos: the image score (max over faces) under each re-save."""
    from demo.examples import image_examples

    out: dict[str, dict[str, float | None]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in image_examples(tmp):
            rgb = load_image(path)
            row = {}
            for name in ["png", *RESAVES]:
                faces = detector.analyze_image(rgb if name == "png" else resave(name, rgb), decoder=False)
                row[name] = max(f.score for f in faces) if faces else None
            out[Path(path).stem] = row
    return out


def markdown(rows: dict[str, dict], examples: dict, threshold: float, n: int, folder: Path) -> str:
    lines = [f"{n} crops of {folder}, threshold {threshold:.3f}; * = issue-27 target re-saves", "",
             "| re-save | verdicts changed | AUC | mean abs. change of logit |", "|---|---|---|---|"]
    for name, r in rows.items():
        star = "*" if name in TARGETED else ""
        lines.append(f"| {name}{star} | {r['changed']:.1%} | {r['auc']:.3f} | {r['dlogit']:.3f} |")
    if examples:
        names = ["png", *RESAVES]
        lines += ["", "Demo examples, P(fake) (no face: -)", "",
                  "| example | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for ex, row in examples.items():
            cells = ["-" if row[k] is None else f"{row[k]:.2f}" for k in names]
            lines.append(f"| {ex} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="weights folder (default: $JRC_WEIGHTS or ./weights)")
    p.add_argument("--crops", type=Path, default=DEFAULT_CROPS, help="folder of face crops (<source>/*.jpg)")
    p.add_argument("--limit", type=int, default=0, help="at most this many crops, evenly spread (0 = all)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.add_argument("--no-examples", action="store_true", help="skip the demo's example photos")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    if not args.crops.is_dir():
        print(f"error: --crops {args.crops}: no such folder", file=sys.stderr)
        return 2
    prepare(args.weights, args.backend)
    detector = Detector.from_pretrained(args.weights, backend=args.backend, with_decoder=False)
    files, labels = crop_files(args.crops, args.limit)
    rows = crops_table(detector, files, labels)
    examples = {} if args.no_examples else example_scores(detector)
    print(markdown(rows, examples, detector.threshold, len(files), args.crops))
    if args.json:
        args.json.write_text(json.dumps({"weights": str(args.weights or "weights"), "n": len(files),
                                         "threshold": detector.threshold, "crops": rows,
                                         "examples": examples}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
