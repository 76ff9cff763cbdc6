"""One Runner interface over inference engines: torch, onnxruntime (CUDA/CPU) and TensorRT.

A runner takes normalised float32 ``image [N,3,S,S]`` and returns named numpy outputs:
``score [N]`` (P(fake)) and, when it includes the decoder, ``reconstruction [N,3,S,S]``
(RGB in [0,1]) and ``mask [N,S,S]`` (P(manipulated) per pixel; zeros when the model has
no mask head).

``create_runner(checkpoint, "auto")`` picks TensorRT > onnxruntime-CUDA > onnxruntime-CPU >
torch, whichever loads here, and logs the choice and why the faster ones were skipped. The
runtime only LOADS artifacts: the onnx and tensorrt backends find theirs next to the weights
(``model[_decoder].onnx``, ``model[_decoder]_fp16.engine``) or in the cache
(:func:`jrc.artifacts.cache_dir`). A missing artifact, or one made from other weights, raises
:class:`BackendUnavailable` naming the command that builds it; ``jrc scan`` and the demo run
that build step first (``export.resolve.prepare``), so a user gets ONNX Runtime on first run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from jrc.artifacts import (
    BACKENDS,
    FORMAT,
    artifact_name,
    candidates,
    checkpoint_sha256,
    config_from_metadata,
    read_engine,
)
from jrc.model import ModelConfig, ScoreHead
from jrc.weights import Checkpoint

log = logging.getLogger("jrc.runtime")
ORT_INSTALL = 'pip install ".[cpu]" (or ".[gpu]" for CUDA)'
TRT_INSTALL = 'pip install ".[trt]" on a machine with an NVIDIA GPU and CUDA'


class Runner(Protocol):
    name: str
    config: ModelConfig
    with_decoder: bool

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]: ...


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says why and what to install."""


def _named(outputs: list[np.ndarray], names: list[str], with_decoder: bool) -> dict[str, np.ndarray]:
    out = dict(zip(names, outputs, strict=True))
    keep = ("score", "reconstruction", "mask") if with_decoder else ("score",)
    return {k: np.asarray(out[k], np.float32) for k in keep}


class TorchRunner:
    """PyTorch eager (CPU, or CUDA when available); ``half=True`` runs float16 on CUDA."""

    def __init__(self, checkpoint: Checkpoint, with_decoder: bool = True,
                 device: str | None = None, half: bool = False) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if half and self.device.type != "cuda":
            raise ValueError("float16 torch inference needs a CUDA device")
        self.config = checkpoint.config
        self.with_decoder = with_decoder
        self.precision = "fp16" if half else "fp32"
        self.name = f"torch-{self.device.type}" + ("-fp16" if half else "")
        self.dtype = torch.float16 if half else torch.float32
        module = ScoreHead(checkpoint.model, with_decoder).eval()
        if half or self.device.type != "cpu":  # a copy: the checkpoint's model stays fp32 on the CPU
            import copy

            module = copy.deepcopy(module)
        self.module = module.to(self.device, self.dtype).to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(image, np.float32)).to(self.device, self.dtype)
        out = self.module(x.contiguous(memory_format=torch.channels_last))
        if not self.with_decoder:
            return {"score": out.float().cpu().numpy()}
        score, recon, mask = (t.float().cpu().numpy() for t in out)
        return {"score": score, "reconstruction": recon, "mask": mask}


# ------------------------------------------------------------------------- onnxruntime
def physical_cores() -> int:
    """Physical cores this process may use (hyper-threads counted once)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cpus:
        return os.cpu_count() or 1
    cores = set()
    for c in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{c}/topology")
        try:
            cores.add(((topo / "physical_package_id").read_text().strip(),
                       (topo / "core_id").read_text().strip()))
        except OSError:
            return len(cpus)
    return max(1, len(cores))


def default_threads() -> int:
    """The number of physical cores (onnxruntime's intra-op threads unless told otherwise)."""
    return physical_cores()


def _import_ort():
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise BackendUnavailable(f"the onnx backend needs onnxruntime ({e}): {ORT_INSTALL}") from e
    return ort


class OnnxRunner:
    """onnxruntime session over an exported JRC ``.onnx`` file (config read from its metadata).

    ``providers``: ``"auto"`` (CUDA when onnxruntime-gpu sees a GPU, else CPU), ``"cuda"`` (fail
    unless the session really got CUDA) or ``"cpu"``. The provider is checked on the created
    session (``get_providers()``), never on the list of available ones. ``threads``: intra-op
    threads (default: the physical cores). ``spinning``: whether idle threads spin after a run;
    faster for one session called back to back, slower where two sessions alternate on the
    same cores, which should turn it off.
    """

    def __init__(self, path: str | Path, providers: str = "auto", threads: int | None = None,
                 spinning: bool = True) -> None:
        ort = _import_ort()
        if providers not in ("auto", "cuda", "cpu"):
            raise ValueError(f"providers must be auto, cuda or cpu, got {providers!r}")
        self.path = Path(path)
        want = ["CPUExecutionProvider"]
        if providers != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
            want.insert(0, "CUDAExecutionProvider")
        elif providers == "cuda":
            raise BackendUnavailable("onnxruntime has no CUDA provider here: pip install "
                                     '".[gpu]" (onnxruntime-gpu) on a CUDA machine')
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = threads or default_threads()
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.spinning = bool(spinning)
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spinning else "0")
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=want)
        except Exception as e:
            raise BackendUnavailable(f"{self.path}: onnxruntime cannot load it "
                                     f"({type(e).__name__}: {e})") from e
        got = self.session.get_providers()
        if want[0] not in got[:1]:
            msg = f"{self.path.name}: asked onnxruntime for {want[0]}, the session got {got}"
            if providers == "cuda":
                raise BackendUnavailable(msg + " (CUDA/cuDNN libraries missing?)")
            log.warning("%s; running on CPU", msg)
        self.providers = got
        self.meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.config, self.threshold, has_decoder = config_from_metadata(self.meta, self.path)
        self.with_decoder = bool(has_decoder)
        self.precision = self.meta.get("precision", "fp32")
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.name = "onnx-" + ("cuda" if got[0] == "CUDAExecutionProvider" else "cpu")
        if self.precision != "fp32":
            self.name += f"-{self.precision}"

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(image, np.float32)
        outs = self.session.run(self.output_names, {self.input_name: x})
        return _named(outs, self.output_names, self.with_decoder)


def find_artifact(checkpoint: Checkpoint, backend: str, name: str, usable) -> Path:
    """The first of the checkpoint's artifacts ``name`` (next to the weights, then the cache) for
    which ``usable(path, sha)`` returns None; BackendUnavailable with the build command otherwise.
    ``usable`` returns why a file cannot be used (a string) or None."""
    sha = checkpoint_sha256(checkpoint)
    why = []
    for path in candidates(checkpoint.path, name, sha):
        if path.is_file():
            reason = usable(path, sha)
            if reason is None:
                log.info("%s: using %s", backend, path)
                return path
            why.append(f"{path} {reason}")
    fmt = FORMAT[backend]
    found = f" ({'; '.join(why)})" if why else ""
    raise BackendUnavailable(f"no up-to-date {name} for {checkpoint.path}{found}: build it with "
                             f"{fmt.build} --weights {checkpoint.path}"
                             + (" --with-decoder" if "_decoder" in name else ""))


def onnx_runner(checkpoint: Checkpoint, with_decoder: bool, providers: str = "auto",
                threads: int | None = None, spinning: bool = True) -> OnnxRunner:
    """Runner over the checkpoint's fp32 ONNX file (``python -m export.onnx`` builds it)."""
    _import_ort()
    loaded: dict[Path, OnnxRunner] = {}

    def usable(path: Path, sha: str) -> str | None:
        try:
            runner = OnnxRunner(path, providers, threads, spinning)
        except (BackendUnavailable, ValueError) as e:
            return f"cannot be loaded ({e})"
        if runner.meta.get("weights_sha256") != sha:
            return "was exported from other weights"
        if runner.precision != "fp32":
            return f"is {runner.precision}, not fp32"
        loaded[path] = runner
        return None

    return loaded[find_artifact(checkpoint, "onnx", artifact_name(with_decoder, False, ".onnx"), usable)]


# ---------------------------------------------------------------------------- TensorRT
def import_tensorrt():
    """The ``tensorrt`` module and a CUDA GPU, or BackendUnavailable naming what is missing."""
    try:
        import tensorrt as trt
    except Exception as e:
        raise BackendUnavailable(f"TensorRT is not installed here ({type(e).__name__}: {e}); "
                                 f"{TRT_INSTALL}") from e
    if not torch.cuda.is_available():
        raise BackendUnavailable(f"TensorRT {trt.__version__} needs a CUDA GPU that torch can see "
                                 "(CUDA build of torch, NVIDIA driver)")
    return trt


class TensorRTRunner:
    """A JRC TensorRT engine file (header + plan, see :mod:`export.formats`), TensorRT 10 API.

    Batches larger than the engine's optimisation profile are split; smaller ones padded.
    """

    def __init__(self, path: str | Path) -> None:
        trt = import_tensorrt()
        self.path = Path(path)
        try:
            self.meta, plan = read_engine(self.path)
            self.config, self.threshold, has_decoder = config_from_metadata(self.meta, self.path)
        except ValueError as e:
            raise BackendUnavailable(str(e)) from e
        self.with_decoder = bool(has_decoder)
        self.precision = self.meta.get("precision", "fp16")
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise BackendUnavailable(f"{self.path}: TensorRT {trt.__version__} cannot deserialize it "
                                     "(built by another TensorRT version or for another GPU?): "
                                     "rebuild it with python -m export.trt")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        lo, _opt, hi = self.engine.get_tensor_profile_shape(self.input_name, 0)
        self.min_batch, self.max_batch = int(lo[0]), int(hi[0])
        self._dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}
        self.device = torch.device("cuda")
        self.stream = torch.cuda.Stream()
        self.name = f"tensorrt-{self.precision}"

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        n = len(x)
        if n < self.min_batch:
            x = np.concatenate([x, np.zeros((self.min_batch - n, *x.shape[1:]), x.dtype)])
        ctx = self.context
        with torch.cuda.stream(self.stream):
            inp = torch.from_numpy(x).to(self.device, self._dtypes[self.input_name], non_blocking=False)
            ctx.set_input_shape(self.input_name, tuple(inp.shape))
            ctx.set_tensor_address(self.input_name, inp.data_ptr())
            outs = []
            for name in self.output_names:
                shape = tuple(ctx.get_tensor_shape(name))
                t = torch.empty(shape, dtype=self._dtypes[name], device=self.device)
                ctx.set_tensor_address(name, t.data_ptr())
                outs.append(t)
            if not ctx.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeError(f"{self.path}: TensorRT execution failed")
        self.stream.synchronize()
        return [o[:n].float().cpu().numpy() for o in outs]

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(image, np.float32)
        parts = [self._run(x[i:i + self.max_batch]) for i in range(0, len(x), self.max_batch)]
        outs = [np.concatenate(col) for col in zip(*parts)]
        return _named(outs, self.output_names, self.with_decoder)


def _torch_dtype(trt, dtype) -> torch.dtype:
    table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16,
             trt.DataType.INT32: torch.int32, trt.DataType.BOOL: torch.bool}
    if dtype not in table:
        raise BackendUnavailable(f"unsupported TensorRT I/O type {dtype}")
    return table[dtype]


def engine_key(trt) -> tuple[str, str]:
    """What an engine must have been built with to run here: TensorRT version and GPU name."""
    return trt.__version__, torch.cuda.get_device_name(0)


def engine_problem(trt, path: Path, sha: str) -> str | None:
    """Why the engine file ``path`` cannot run the weights with hash ``sha`` here, or None."""
    try:
        meta, _ = read_engine(path)
    except ValueError as e:
        return f"cannot be read ({e})"
    if meta.get("weights_sha256") != sha:
        return "was built from other weights"
    if (meta.get("tensorrt_version"), meta.get("device")) != engine_key(trt):
        return "was built by another TensorRT version or for another GPU"
    return None


def tensorrt_runner(checkpoint: Checkpoint, with_decoder: bool) -> TensorRTRunner:
    """Runner over the checkpoint's FP16 engine (``python -m export.trt --fp16`` builds it)."""
    trt = import_tensorrt()
    name = artifact_name(with_decoder, True, ".engine")
    return TensorRTRunner(find_artifact(checkpoint, "tensorrt", name,
                                        lambda path, sha: engine_problem(trt, path, sha)))


# ---------------------------------------------------------------------------- selection
def create_runner(checkpoint: Checkpoint, backend: str = "auto", with_decoder: bool = True,
                  threads: int | None = None, spinning: bool = True) -> Runner:
    """Load the runner for ``backend`` (one of :data:`jrc.artifacts.BACKENDS`); ``auto`` picks the
    fastest one that loads here and logs why the others were skipped. ``threads`` and
    ``spinning`` configure onnxruntime (see :class:`OnnxRunner`)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    loaders = {"torch": lambda: TorchRunner(checkpoint, with_decoder),
               "onnx": lambda: onnx_runner(checkpoint, with_decoder, "auto", threads, spinning),
               "tensorrt": lambda: tensorrt_runner(checkpoint, with_decoder)}
    runner = loaders[backend]() if backend != "auto" else _auto(loaders)
    log.info("backend: %s", runner.name)
    return runner


def backend_of(runner: Runner) -> str:
    """The ``create_runner`` backend that made ``runner`` (``onnx-cpu`` -> ``onnx``). Precision is
    not kept: ``create_runner`` builds ``torch`` in fp32 even for a ``torch-cuda-fp16`` runner."""
    backend = runner.name.split("-")[0]
    if backend not in BACKENDS[1:]:
        raise ValueError(f"runner {runner.name!r} is not one of the backends {', '.join(BACKENDS[1:])}")
    return backend


def _auto(loaders: dict) -> Runner:
    """The first of tensorrt, onnx, torch that loads (torch always does)."""
    skipped = []
    for name in ("tensorrt", "onnx"):
        try:
            runner = loaders[name]()
        except BackendUnavailable as e:
            skipped.append(f"{name}: {e}")
            continue
        except Exception as e:  # noqa: BLE001 - auto must still give a working runner
            log.warning("auto: %s backend failed (%s: %s); trying the next", name, type(e).__name__, e)
            skipped.append(f"{name}: failed ({type(e).__name__}: {e})")
            continue
        log.info("auto: chose %s%s", runner.name, f" (skipped {'; '.join(skipped)})" if skipped else "")
        return runner
    runner = loaders["torch"]()
    log.info("auto: chose %s (skipped %s)", runner.name, "; ".join(skipped))
    return runner


__all__ = ["BACKENDS", "BackendUnavailable", "OnnxRunner", "Runner", "TensorRTRunner", "TorchRunner",
           "backend_of", "create_runner", "engine_problem", "find_artifact", "onnx_runner", "tensorrt_runner"]
