"""``python -m export.trt``: a TensorRT engine (FP16 with ``--fp16``) from the JRC ONNX graph.

    python -m export.trt --fp16 [--onnx PATH | --weights W] [--with-decoder]
                         [--min-batch 1 --opt-batch 8 --max-batch 32] [--workspace GB] [--output PATH]

Builds through the TensorRT Python API (10.x and 11.x): ``Builder``, a network from the
``OnnxParser`` (every parser error is reported), one optimisation profile for the dynamic batch
(min/opt/max), ``set_memory_pool_limit`` for the workspace, ``build_serialized_network``. The
engine file starts with the ONNX metadata as a small header (layout in :mod:`export.formats`),
then the plan. The engine is then run against onnxruntime on real face crops (max |Δ| of every
output <= 1e-2 in FP16, 1e-4 in FP32, at batch N and 1); an engine that fails is deleted.

FP16: by default the network is strongly typed and built from the calibrated mixed FP16 graph
(``python -m export.onnx --fp16``: the few layers that float16 would push past 1e-2 stay
float32). This is TensorRT 11's only mode and the recommended one since 10.12. ``--weak-fp16``
(TensorRT 10 only) builds the FP32 graph with ``BuilderFlag.FP16`` when
``builder.platform_has_fast_fp16``, letting TensorRT choose each layer's precision.

Needs an NVIDIA GPU with CUDA and ``pip install ".[trt]"``; elsewhere it exits with code 1 and
a one-line reason. Exit codes: 0 ok; 1 TensorRT/GPU missing, build or parity failure; 2 usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from export.formats import (
    INPUT_NAME,
    artifact_name,
    read_onnx_metadata,
    write_engine,
)

MAX_BATCH_LIMIT = 4096
log = logging.getLogger("export.trt")


class TrtError(RuntimeError):
    """Parsing, building or verifying an engine failed; the message says why."""


def profile_shapes(min_batch: int, opt_batch: int, max_batch: int, size: int) -> dict[str, tuple[int, ...]]:
    """min/opt/max input shapes of the optimisation profile; ValueError on a bad batch range."""
    for name, v in (("min", min_batch), ("opt", opt_batch), ("max", max_batch)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"--{name}-batch must be a positive integer, got {v!r}")
    if not min_batch <= opt_batch <= max_batch:
        raise ValueError(f"need --min-batch <= --opt-batch <= --max-batch, got {min_batch}, {opt_batch}, "
                         f"{max_batch}")
    if max_batch > MAX_BATCH_LIMIT:
        raise ValueError(f"--max-batch {max_batch} is larger than {MAX_BATCH_LIMIT}")
    if size < 1:
        raise ValueError(f"bad input size {size}")
    return {k: (b, 3, size, size) for k, b in (("min", min_batch), ("opt", opt_batch), ("max", max_batch))}


def workspace_bytes(gb: float) -> int:
    if not 0 < gb <= 1024:
        raise ValueError(f"--workspace {gb}: give GiB in (0, 1024]")
    return int(gb * (1 << 30))


def has_fp16_flag(trt) -> bool:
    """TensorRT 10 has BuilderFlag.FP16 (weak typing); TensorRT 11 removed it."""
    return hasattr(trt.BuilderFlag, "FP16")


def strongly_typed(trt, weak_fp16: bool) -> bool:
    """Build strongly typed (precision from the graph) unless the weak-typing FP16 flag is asked for."""
    if weak_fp16 and not has_fp16_flag(trt):
        raise TrtError(f"--weak-fp16: TensorRT {trt.__version__} has no BuilderFlag.FP16 (TensorRT 11 "
                       "builds strongly typed networks only); drop the option")
    return not weak_fp16


def network_flags(trt, strong: bool) -> int:
    """``create_network`` flags: explicit batch is implied in TensorRT 10; STRONGLY_TYPED when asked."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return (1 << int(flag)) if strong and flag is not None else 0


def parse_onnx(trt, builder, logger, onnx_path: Path, strong: bool):
    """Network from ONNX; TrtError listing every parser error."""
    network = builder.create_network(network_flags(trt, strong))
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse_from_file(str(onnx_path))
    errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
    if not ok or errors:
        raise TrtError(f"{onnx_path}: the TensorRT ONNX parser failed with {len(errors)} error(s): "
                       + " | ".join(errors or ["(no details)"]))
    return network, parser


def build_engine(onnx_path: str | Path, fp16: bool = True, min_batch: int = 1, opt_batch: int = 8,
                 max_batch: int = 32, workspace_gb: float = 2.0,
                 weak_fp16: bool = False) -> tuple[bytes, str]:
    """Serialized engine and the precision it really has (``fp16``/``fp32``).

    Default: a strongly typed network, so the precision is the graph's (the calibrated mixed
    FP16 graph of ``export.onnx --fp16`` for an FP16 engine). ``weak_fp16`` (TensorRT 10 only):
    the FP32 graph with ``BuilderFlag.FP16`` when the GPU has fast FP16, TensorRT choosing the
    precision per layer (fastest; accuracy is then only what the parity check shows).
    """
    from jrc.runtime import import_tensorrt

    trt = import_tensorrt()
    onnx_path = Path(onnx_path)
    graph_precision = read_onnx_metadata(onnx_path).get("precision", "fp32")
    strong = strongly_typed(trt, weak_fp16)
    if strong and fp16 != (graph_precision == "fp16"):
        want = "an FP16 graph (python -m export.onnx --fp16)" if fp16 else "an FP32 graph"
        raise TrtError(f"{onnx_path} is an {graph_precision} graph; a strongly typed "
                       f"{'FP16' if fp16 else 'FP32'} engine needs {want}")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network, _parser = parse_onnx(trt, builder, logger, onnx_path, strong)
    inp = network.get_input(0)
    if inp.name != INPUT_NAME or len(inp.shape) != 4:
        raise TrtError(f"{onnx_path}: expected input {INPUT_NAME} [batch,3,S,S], got {inp.name} {inp.shape}")
    shapes = profile_shapes(min_batch, opt_batch, max_batch, int(inp.shape[-1]))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes(workspace_gb))
    precision = graph_precision
    if fp16 and not strong:
        if builder.platform_has_fast_fp16:
            config.set_flag(trt.BuilderFlag.FP16)
            precision = "fp16"
        else:
            log.warning("this GPU has no fast FP16: building an FP32 engine")
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise TrtError(f"{onnx_path}: TensorRT could not build the engine (see its log above)")
    return bytes(plan), precision


def engine_metadata(onnx_path: Path, precision: str, shapes: dict, workspace_gb: float,
                    strong: bool) -> dict[str, str]:
    """The ONNX metadata plus what this engine is tied to (TensorRT version, GPU, profile)."""
    import tensorrt as trt
    import torch

    meta = dict(read_onnx_metadata(onnx_path))
    meta.update({"precision": precision, "tensorrt_version": trt.__version__,
                 "device": torch.cuda.get_device_name(0), "source_onnx": onnx_path.name,
                 "min_batch": str(shapes["min"][0]), "opt_batch": str(shapes["opt"][0]),
                 "max_batch": str(shapes["max"][0]), "workspace_gb": str(workspace_gb),
                 "typing": "strong" if strong else "weak (BuilderFlag.FP16)"})
    return meta


def build_and_write(onnx_path: Path, output: Path, fp16: bool, min_batch: int, opt_batch: int,
                    max_batch: int, workspace_gb: float,
                    weak_fp16: bool = False) -> tuple[Path, dict[str, str]]:
    meta_in = read_onnx_metadata(onnx_path)
    if "config.json" not in meta_in:
        raise TrtError(f"{onnx_path}: no JRC metadata; export it with python -m export.onnx")
    size = int(meta_in.get("input_size", "0"))
    shapes = profile_shapes(min_batch, opt_batch, max_batch, size)
    plan, precision = build_engine(onnx_path, fp16, min_batch, opt_batch, max_batch, workspace_gb, weak_fp16)
    meta = engine_metadata(onnx_path, precision, shapes, workspace_gb, not weak_fp16)
    return write_engine(output, plan, meta), meta


def verify_engine(engine_path: Path, onnx_path: Path, crops, source: str):
    """Engine vs onnxruntime (same ONNX) on real crops, every output (score, and reconstruction and
    mask when the decoder is in), at batch N and 1; the engine is removed and TrtError raised when any
    output is off by more than the precision's limit. Returns the :class:`export.onnx.Parity`."""
    from export.onnx import SCORE_TOL, compare_runners
    from jrc.preprocess import normalize
    from jrc.runtime import OnnxRunner, TensorRTRunner

    engine = TensorRTRunner(engine_path)
    ref = OnnxRunner(onnx_path, providers="auto")
    x = normalize(crops, engine.config.mean, engine.config.std)
    precision = engine.precision if engine.precision in SCORE_TOL else "fp16"
    report = compare_runners(engine, ref, x, source, precision, "onnxruntime")
    if not report.ok:
        engine_path.unlink(missing_ok=True)
        raise TrtError(f"{engine_path.name}: {report.line()}")
    return report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export.trt", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fp16", action="store_true", help="FP16 engine (FP32 without it)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--onnx", metavar="PATH", help="an ONNX file from python -m export.onnx")
    src.add_argument("--weights", metavar="DIR_OR_REPO",
                     help="export the ONNX from these weights first (default: $JRC_WEIGHTS or ./weights)")
    p.add_argument("--with-decoder", action="store_true", help="with --weights: include the decoder")
    p.add_argument("--min-batch", type=int, default=1, metavar="N")
    p.add_argument("--opt-batch", type=int, default=8, metavar="N")
    p.add_argument("--max-batch", type=int, default=32, metavar="N")
    p.add_argument("--workspace", type=float, default=2.0, metavar="GB", help="builder workspace (GiB)")
    p.add_argument("--weak-fp16", action="store_true",
                   help="TensorRT 10 only: FP32 graph + BuilderFlag.FP16, TensorRT picks each layer's "
                        "precision (default: strongly typed from the calibrated FP16 graph)")
    p.add_argument("--output", metavar="PATH.engine", help="default: next to the ONNX file")
    p.add_argument("--crops", metavar="DIR", help="face crops for the check against onnxruntime")
    return p


def validate(args: argparse.Namespace) -> None:
    """ValueError for bad arguments, before anything heavy is imported."""
    profile_shapes(args.min_batch, args.opt_batch, args.max_batch, 1)
    workspace_bytes(args.workspace)
    if args.output and Path(args.output).suffix not in (".engine", ".plan", ".trt"):
        raise ValueError(f"--output {args.output}: use a .engine file name")
    if args.onnx and Path(args.onnx).suffix != ".onnx":
        raise ValueError(f"--onnx {args.onnx}: expected a .onnx file")
    if args.weak_fp16 and not args.fp16:
        raise ValueError("--weak-fp16 goes with --fp16")
    if args.onnx and args.with_decoder:
        raise ValueError("--with-decoder goes with --weights; an ONNX file already fixes its outputs")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        validate(args)
    except ValueError as e:
        parser.print_usage(sys.stderr)
        print(f"error: {e}", file=sys.stderr)
        return 2
    from jrc.runtime import BackendUnavailable, import_tensorrt

    try:
        trt = import_tensorrt()
    except BackendUnavailable as e:
        print(f"error: export.trt: {e}", file=sys.stderr)
        return 1
    try:
        return _run(args, trt)
    except (TrtError, BackendUnavailable, ValueError, OSError) as e:
        print(f"error: export.trt: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, trt) -> int:
    from export.onnx import ExportError, export_and_verify
    from export.samples import parity_crops
    from jrc import weights as jrc_weights

    t0 = time.perf_counter()
    if args.onnx:
        onnx_path = Path(args.onnx)
        if not onnx_path.is_file():
            raise TrtError(f"--onnx {onnx_path}: no such file")
    else:
        try:
            ckpt = jrc_weights.load(args.weights)
            graph_fp16 = args.fp16 and not args.weak_fp16
            out_dir = Path(args.output).parent if args.output else ckpt.path
            onnx_path = out_dir / artifact_name(args.with_decoder, graph_fp16, ".onnx")
            export_and_verify(ckpt, onnx_path, args.with_decoder, graph_fp16)
        except (jrc_weights.WeightsError, ExportError, ImportError) as e:
            raise TrtError(str(e)) from e
    meta_in = read_onnx_metadata(onnx_path)
    with_decoder = meta_in.get("with_decoder") == "true"
    output = Path(args.output) if args.output else onnx_path.with_name(
        artifact_name(with_decoder, args.fp16, ".engine"))
    path, meta = build_and_write(onnx_path, output, args.fp16, args.min_batch, args.opt_batch,
                                 args.max_batch, args.workspace, args.weak_fp16)
    crops, source = parity_crops(int(meta["input_size"]), 16, args.crops)
    parity = verify_engine(path, onnx_path, crops, source)
    print(f"export.trt: {onnx_path} -> {path} ({path.stat().st_size / 1e6:.1f} MB, {meta['precision']}, "
          f"TensorRT {trt.__version__}, {meta['device']}, {time.perf_counter() - t0:.0f} s)")
    print(f"  profile: batch min {args.min_batch} / opt {args.opt_batch} / max {args.max_batch}; "
          f"workspace {args.workspace} GiB; {meta['typing']} typing")
    print(f"  metadata header: architecture={meta['architecture']} "
          f"input_size={meta['input_size']} threshold={float(meta['threshold']):.4f}")
    print(f"  engine {parity.line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
