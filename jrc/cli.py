"""``python -m jrc scan``: score images, videos and folders; one JSON object per input.

Exit code 0 when the run completes (even if some files failed: see each line's ``status``);
1 when the weights or backend cannot be loaded; 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from tqdm import tqdm

from jrc.artifacts import run_builders
from jrc.detector import Detector
from jrc.runtime import BACKENDS, BackendUnavailable
from jrc.scan import collect_paths, output_error, scan
from jrc.weights import WeightsError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jrc", description="JRC deepfake detector.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scan", help="score images, videos or folders -> JSON lines",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("paths", nargs="*", metavar="PATH", help="image, video or folder (recursive)")
    s.add_argument("--list", metavar="FILE", help="file with one path per line")
    s.add_argument("--crops", action="store_true",
                   help="inputs are already face crops (one face each): each is re-cut around its "
                        "detected face with the framing the model was trained on; a crop without "
                        "a detectable face is scored as given")
    s.add_argument("--as-given", action="store_true",
                   help="with --crops: score the crops exactly as given (resized only), no re-framing")
    s.add_argument("--frames", type=int, default=32, metavar="N",
                   help="frames sampled evenly per video (default 32)")
    s.add_argument("--tta", action="store_true",
                   help="also score every face mirrored left-right and average the two (logit mean): "
                        "twice the model time; measured to help the 224-px default, not the 288-px "
                        "model (docs/scan.md; check a model with experiments/benchmarks/flip_tta.py)")
    s.add_argument("--backend", choices=BACKENDS, default="auto", help="inference engine")
    s.add_argument("--weights", metavar="DIR_OR_REPO",
                   help="weights folder or Hub repo id (default: $JRC_WEIGHTS or ./weights)")
    s.add_argument("--output", metavar="OUT.jsonl", help="write JSON lines here (default stdout)")
    s.add_argument("-v", "--verbose", action="store_true", help="log backend choice and timings")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.as_given and not args.crops:
        print("error: --as-given only applies to --crops", file=sys.stderr)
        return 2
    if args.frames < 1:
        print("error: --frames must be >= 1", file=sys.stderr)
        return 2
    paths = collect_paths(args.paths, args.list)
    if not paths:
        print("error: nothing to scan (give PATH ... or --list FILE)", file=sys.stderr)
        return 2
    why = output_error(args.output) if args.output else None
    if why:  # checked before the model loads; an existing report is not touched
        print(f"error: --output {args.output}: {why}", file=sys.stderr)
        return 2
    try:
        run_builders(args.weights, args.backend, with_decoder=False)  # export/: ONNX on first use
        detector = Detector.from_pretrained(args.weights, backend=args.backend,
                                            with_decoder=False, tta=args.tta)
    except (WeightsError, BackendUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    counts: dict[str, int] = {}
    try:
        records = scan(detector, paths, args.crops, args.frames, reframe=not args.as_given)
        for rec in tqdm(records, total=len(paths), unit="file", file=sys.stderr, disable=None):
            counts[rec["status"]] = counts.get(rec["status"], 0) + 1
            out.write(json.dumps(rec) + "\n")
            out.flush()
    finally:
        if args.output:
            out.close()
    print("scanned " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())), file=sys.stderr)
    return 0
