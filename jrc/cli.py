"""``python -m jrc scan``: score images, videos and folders; one JSON object per input.

Exit code 0 when the run completes (even if some files failed: see each line's ``status``);
1 when the weights or backend cannot be loaded (or the Ray cluster cannot be used); 2 for usage
errors; 130 when stopped with Ctrl-C (the lines written so far stay valid: rerun with --resume).

With --ray the same records come from a Ray cluster (``pip install ".[distributed]"``; see
docs/distributed.md); their order is the order they finish in.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable
from typing import TextIO

from tqdm import tqdm

from jrc.artifacts import run_builders
from jrc.detector import Detector
from jrc.report import completed_paths
from jrc.runtime import BACKENDS, BackendUnavailable
from jrc.scan import Inputs, collect_paths, output_error, scan
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
    s.add_argument("--resume", action="store_true",
                   help="with --output: skip the inputs the file already has a record for and append "
                        "the rest (after a crash, Ctrl-C or a stopped job)")
    r = s.add_argument_group("distributed scan (Ray; pip install \".[distributed]\")")
    r.add_argument("--ray", metavar="ADDRESS", help="scan on Ray: 'local' starts Ray on this machine; an "
                   "address (e.g. 10.0.0.1:6379, or 'auto') joins a running cluster")
    r.add_argument("--workers", type=int, metavar="N",
                   help="detector actors (default: cluster CPUs / --cpus-per-worker)")
    r.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="C",
                   help="CPUs reserved per actor, also its inference threads (default 1)")
    s.add_argument("-v", "--verbose", action="store_true", help="log backend choice and timings")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if problem := usage_problem(args):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    inputs = collect_paths(args.paths, args.list, args.output)
    if not inputs.paths:
        print("error: nothing to scan (give PATH ... or --list FILE)", file=sys.stderr)
        return 2
    why = output_error(args.output) if args.output else None
    if why:  # checked before the model loads; an existing report is not touched
        print(f"error: --output {args.output}: {why}", file=sys.stderr)
        return 2
    try:
        done = completed_paths(args.output) if args.resume else set()
    except ValueError as e:
        print(f"error: --resume: {e}", file=sys.stderr)
        return 2
    todo = [p for p in inputs.paths if str(p) not in done]
    if args.ray:
        try:
            from jrc import distributed
        except ImportError:
            print('error: --ray needs Ray: pip install "jrc-deepfake[distributed]"', file=sys.stderr)
            return 2
    else:
        try:
            run_builders(args.weights, args.backend, with_decoder=False)  # export/: ONNX on first use
            detector = Detector.from_pretrained(args.weights, backend=args.backend,
                                                with_decoder=False, tta=args.tta)
        except (WeightsError, BackendUnavailable) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    out = open(args.output, "a" if args.resume else "w") if args.output else sys.stdout  # noqa: SIM115
    writer = Writer(out, len(todo))
    try:
        if args.ray:
            options = distributed.ScanOptions(weights=args.weights, backend=args.backend, tta=args.tta,
                                              crops=args.crops, reframe=not args.as_given,
                                              frames=args.frames, threads=max(1, int(args.cpus_per_worker)))
            cluster = distributed.Cluster(args.ray, args.workers, args.cpus_per_worker)
            distributed.scan_distributed(todo, options, cluster, writer, problems=inputs.problems)
        else:
            writer.write_all(scan(detector, todo, args.crops, args.frames, reframe=not args.as_given,
                                  problems=inputs.problems))
    except KeyboardInterrupt:
        writer.close()
        print(f"stopped: {writer.summary(inputs, done)}; rerun with --resume to continue", file=sys.stderr)
        return 130
    except (WeightsError, BackendUnavailable) as e:  # raised on the workers with --ray
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        if not (args.ray and isinstance(e, distributed.FAILURES)):
            raise
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        writer.close()
        if args.output:
            out.close()
    print(f"scanned {writer.summary(inputs, done)}", file=sys.stderr)
    return 0


def usage_problem(args: argparse.Namespace) -> str | None:
    if args.as_given and not args.crops:
        return "--as-given only applies to --crops"
    if args.frames < 1:
        return "--frames must be >= 1"
    if args.resume and not args.output:
        return "--resume needs --output (the report to continue)"
    if not args.ray and (args.workers is not None or args.cpus_per_worker != 1.0):
        return "--workers and --cpus-per-worker apply to --ray only"
    if args.workers is not None and args.workers < 1:
        return "--workers must be >= 1"
    if args.cpus_per_worker <= 0:
        return "--cpus-per-worker must be > 0"
    return None


class Writer:
    """Writes records as JSON lines, one flushed line each, with a progress bar and counts."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out, self.counts = out, {}
        self.bar = tqdm(total=total, unit="file", file=sys.stderr, disable=None, smoothing=0.05)

    def __call__(self, rec: dict) -> None:
        self.counts[rec["status"]] = self.counts.get(rec["status"], 0) + 1
        self.out.write(json.dumps(rec) + "\n")
        self.out.flush()
        self.bar.update()

    def write_all(self, records: Iterable[dict]) -> None:
        for rec in records:
            self(rec)

    def close(self) -> None:
        self.bar.close()

    def summary(self, inputs: Inputs, done: set[str]) -> str:
        parts = [f"{v} {k}" for k, v in sorted(self.counts.items())] or ["nothing"]
        resumed = f" ({len(done)} already in the report)" if done else ""
        return ", ".join(parts) + resumed + inputs.summary()
