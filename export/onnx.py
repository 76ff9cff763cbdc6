"""``python -m export.onnx``: JRC model -> one ONNX file, checked, reloaded and compared with torch.

    python -m export.onnx [--weights W] [--with-decoder] [--fp16] [--opset N] [--output PATH]

Graph: ``image [batch,3,S,S]`` float32 (normalised) -> ``score [batch]`` (P(fake)), plus
``reconstruction [batch,3,S,S]`` and ``mask [batch,S,S]`` with ``--with-decoder``. The batch is
dynamic; the file is self-contained (no external data). ``--fp16`` stores weights and computes
in float16, except a calibrated prefix of layers kept in float32 (see :mod:`export.fp16`);
inputs and outputs stay float32 (casts inside the graph), so every runtime feeds it the same
arrays. ``metadata_props`` carry ``config.json`` (architecture, input size, mean/std,
threshold, ...), flat copies of those keys, the precision and the weights' sha256.

After export: ``onnx.checker`` (full check), reload in onnxruntime, and parity with torch on
real face crops: max |Δ| of every output (score; reconstruction and mask with the decoder,
all in [0, 1]) <= 1e-4 (fp32) or 1e-2 (fp16), at batch 1 and batch N.
Exit codes: 0 ok; 1 weights, dependency, export or parity failure; 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.formats import (
    INPUT_NAME,
    artifact_metadata,
    artifact_name,
    atomic_write,
    output_names,
    writable_dir,
)

DEFAULT_OPSET = 18  # TensorRT 10, onnxruntime >= 1.14 and the torch dynamo exporter all support it
MIN_OPSET = 18  # the dynamo exporter's own operator set; lower ones go through a lossy converter
SCORE_TOL = {"fp32": 1e-4, "fp16": 1e-2}
log = logging.getLogger("export.onnx")


class ExportError(RuntimeError):
    """Export, check or parity failed; the message says which and why."""


def max_opset() -> int:
    try:
        from torch.onnx._constants import ONNX_MAX_OPSET

        return int(ONNX_MAX_OPSET)
    except ImportError:  # pragma: no cover - private constant moved
        return 23


def check_opset(opset: int) -> int:
    hi = max_opset()
    if not MIN_OPSET <= opset <= hi:
        raise ValueError(f"--opset {opset} is not supported: choose {MIN_OPSET}..{hi} "
                         f"(default {DEFAULT_OPSET})")
    return opset


def require_export_deps() -> None:
    """ImportError with the install command when onnx / onnxscript are missing."""
    missing = []
    for mod in ("onnx", "onnxscript"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise ImportError(f"ONNX export needs {' and '.join(missing)}: pip install \".[export]\"")


@contextlib.contextmanager
def _quiet():
    """The dynamo exporter prints progress and warns about torchvision; keep our output readable."""
    names = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    buf = io.StringIO()
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
            warnings.simplefilter("ignore")
            yield buf
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)


def export_onnx(checkpoint, path: str | Path, with_decoder: bool = False, fp16: bool = False,
                opset: int = DEFAULT_OPSET, calib: np.ndarray | None = None) -> Path:
    """Export ``ScoreHead(model, with_decoder)`` to one ``.onnx`` file with metadata; full checker pass.

    ``fp16``: mixed float16 graph (:mod:`export.fp16`), calibrated on ``calib`` uint8 crops
    (default: 32 from :func:`export.samples.parity_crops`) to stay within 1/8 of the FP16
    tolerance there: other inputs and other float16 kernels (onnxruntime's came out 1.3-1.5x
    the simulated error) need the room.
    """
    require_export_deps()
    import onnx

    from jrc.model import ScoreHead

    check_opset(opset)
    c = checkpoint.config
    size = c.input_size
    module: nn.Module = ScoreHead(checkpoint.model, with_decoder).eval()
    extra = {}
    if fp16:
        from export.fp16 import calibrate
        from export.samples import parity_crops
        from jrc.preprocess import normalize

        if calib is None:
            calib, _ = parity_crops(size, 32)
        x = torch.from_numpy(normalize(calib, c.mean, c.std))
        module, k, diff = calibrate(module, x, SCORE_TOL["fp16"] / 8)
        extra = {"fp32_layers": k, "fp16_calibration_max_abs_score": f"{diff:.3e}"}
        log.info("fp16: first %d layers kept in float32 (max |Δscore| %.2e in torch)", k, diff)
    example = torch.zeros(2, 3, size, size)  # batch 2: a batch of 1 invites specialisation
    names = list(output_names(with_decoder))
    with _quiet() as chatter:
        try:
            program = torch.onnx.export(
                module, (example,), dynamo=True, input_names=[INPUT_NAME], output_names=names,
                dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=opset,
                external_data=False, verbose=False)
        except Exception as e:
            tail = chatter.getvalue().strip().splitlines()[-3:]
            raise ExportError(f"torch.onnx.export failed: {type(e).__name__}: {e}"
                              + (f" ({' | '.join(tail)})" if tail else "")) from e
    proto = program.model_proto
    meta = artifact_metadata(checkpoint, with_decoder, "fp16" if fp16 else "fp32", opset=opset,
                             exporter=f"torch {torch.__version__}", **extra)
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    proto.doc_string = (f"JRC deepfake detector ({meta['architecture']}, {size}px): image -> "
                        + ", ".join(names))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"onnx.checker rejected the exported graph: {e}") from e
    return atomic_write(path, proto.SerializeToString())


@dataclass
class Parity:
    """Largest |onnx - torch| per output over ``n`` crops, at batch 1 and batch ``n``."""

    n: int
    source: str
    precision: str
    max_abs: dict[str, float] = field(default_factory=dict)
    reference: str = "torch"

    @property
    def tolerance(self) -> float:
        return SCORE_TOL[self.precision]

    @property
    def ok(self) -> bool:
        """Every output within the limit: the score, and the reconstruction and mask (all in [0, 1])
        when the decoder is exported, so a broken decoder graph fails too."""
        return "score" in self.max_abs and all(v <= self.tolerance for v in self.max_abs.values())

    def line(self) -> str:
        parts = [f"max |Δ{k}| {v:.2e}" for k, v in self.max_abs.items()]
        verdict = "ok" if self.ok else "FAILED"
        return (f"parity vs {self.reference} on {self.n} crops ({self.source}), batch 1 and {self.n}: "
                f"{', '.join(parts)} (limit {self.tolerance:.0e} on each, {self.precision}) {verdict}")


def compare(runner, checkpoint, crops: np.ndarray, source: str, precision: str) -> Parity:
    """Scores (and images) of ``runner`` vs torch fp32 eager on CPU, at batch 1 and batch N."""
    from jrc.preprocess import normalize
    from jrc.runtime import TorchRunner

    c = checkpoint.config
    reference = TorchRunner(checkpoint, runner.with_decoder, device="cpu")
    return compare_runners(runner, reference, normalize(crops, c.mean, c.std), source, precision, "torch")


def compare_runners(runner, reference, x: np.ndarray, source: str, precision: str, name: str) -> Parity:
    """Every output of ``runner`` at batch N and batch 1 vs ``reference`` at batch N, on the
    normalised crops ``x``; ``name`` names the reference in the report."""
    ref = reference(x)
    got_all = runner(x)
    got_one = runner(x[:1])
    report = Parity(len(x), source, precision, reference=name)
    for k in ref:
        d = float(np.abs(np.asarray(got_all[k], np.float64) - ref[k]).max())
        d1 = float(np.abs(np.asarray(got_one[k], np.float64) - ref[k][:1]).max())
        report.max_abs[k] = max(d, d1)
    return report


def export_and_verify(checkpoint, path: str | Path, with_decoder: bool = False, fp16: bool = False,
                      opset: int = DEFAULT_OPSET, crops: np.ndarray | None = None,
                      source: str = "", providers: str = "cpu",
                      calib: np.ndarray | None = None) -> tuple[Path, Parity]:
    """Export, reload in onnxruntime, compare with torch on ``crops``; ExportError (file removed)
    on a mismatch. ``calib``: crops for the FP16 calibration (default: 32 real crops)."""
    from export.samples import parity_crops
    from jrc.runtime import OnnxRunner

    if crops is None:
        crops, source = parity_crops(checkpoint.config.input_size, 8)
    path = export_onnx(checkpoint, path, with_decoder, fp16, opset, calib=calib)
    runner = OnnxRunner(path, providers=providers)
    report = compare(runner, checkpoint, crops, source, "fp16" if fp16 else "fp32")
    if not report.ok:
        path.unlink(missing_ok=True)
        raise ExportError(f"{path.name}: {report.line()}")
    return path, report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export.onnx", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", metavar="DIR_OR_REPO",
                   help="weights folder or Hub repo id (default: $JRC_WEIGHTS or ./weights)")
    p.add_argument("--with-decoder", action="store_true",
                   help="include the decoder: outputs reconstruction and mask too")
    p.add_argument("--fp16", action="store_true",
                   help="mixed float16 graph (a calibrated float32 prefix; float32 I/O)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--output", metavar="PATH.onnx",
                   help="output file (default: model[_decoder][_fp16].onnx next to the weights)")
    p.add_argument("--crops", metavar="DIR", help="face crops for the parity check "
                   "(default: ../shared/data FF++ test crops, else the astronaut photo)")
    p.add_argument("--n-crops", type=int, default=16, metavar="N", help="crops for the parity check")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_opset(args.opset)
        if args.output and Path(args.output).suffix != ".onnx":
            raise ValueError(f"--output {args.output}: the file name must end in .onnx")
        if args.n_crops < 1:
            raise ValueError("--n-crops must be >= 1")
    except ValueError as e:
        parser.print_usage(sys.stderr)
        print(f"error: {e}", file=sys.stderr)
        return 2
    from jrc import weights as jrc_weights

    try:
        require_export_deps()
        import onnxruntime
    except ImportError as e:
        msg = str(e) if "pip install" in str(e) else f"{e}: pip install \".[cpu]\""
        print(f"error: {msg}", file=sys.stderr)
        return 1
    try:
        ckpt = jrc_weights.load(args.weights)
    except jrc_weights.WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.output:
        out = Path(args.output)
    else:
        if not writable_dir(ckpt.path):
            print(f"error: {ckpt.path} is read-only: pass --output PATH.onnx", file=sys.stderr)
            return 1
        out = ckpt.path / artifact_name(args.with_decoder, args.fp16, ".onnx")
    from export.samples import parity_crops

    try:
        crops, source = parity_crops(ckpt.config.input_size, args.n_crops, args.crops)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: --crops: {e}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    try:
        path, report = export_and_verify(ckpt, out, args.with_decoder, args.fp16, args.opset, crops, source)
    except (ExportError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    c = ckpt.config
    precision = "fp32"
    if args.fp16:
        from export.formats import read_onnx_metadata

        k = read_onnx_metadata(path).get("fp32_layers", "?")
        precision = f"fp16 with the first {k} layers in fp32"
    outs = ", ".join(f"{n} {shape}" for n, shape in zip(
        output_names(args.with_decoder), ("[batch]", f"[batch,3,{c.input_size},{c.input_size}]",
                                          f"[batch,{c.input_size},{c.input_size}]")))
    print(f"export.onnx: {ckpt.path} -> {path} ({path.stat().st_size / 1e6:.1f} MB, one file, opset "
          f"{args.opset}, {precision}, {time.perf_counter() - t0:.1f} s)")
    print(f"  graph: {INPUT_NAME} [batch,3,{c.input_size},{c.input_size}] float32 -> {outs}")
    print(f"  metadata: architecture={c.encoder} input_size={c.input_size} mean={list(c.mean)} "
          f"std={list(c.std)} threshold={ckpt.threshold:.4f}")
    print(f"  onnx.checker full check: ok; reloaded in onnxruntime {onnxruntime.__version__} "
          "(CPUExecutionProvider)")
    print(f"  {report.line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
