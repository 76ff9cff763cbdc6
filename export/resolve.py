"""The one resolve-or-build step: make sure the artifacts a backend needs exist and match the weights.

``jrc.runtime`` only loads artifacts. This module finds them the same way (next to the weights,
then the cache: :func:`jrc.runtime.find_artifact`) and, when one is missing or was made from
other weights, exports or builds it and verifies it against torch before it is used
(ultralytics' exporter vs autobackend split). ``jrc scan``, ``app.py`` and the demo call
:func:`prepare` before they create runners; ``jrc`` reaches it through the
``jrc.artifact_builders`` entry point, so the library never imports this package.
"""

from __future__ import annotations

import logging
from pathlib import Path

from export.formats import artifact_name, read_onnx_metadata
from jrc import weights as jrc_weights
from jrc.artifacts import build_target, candidates, checkpoint_sha256
from jrc.runtime import BackendUnavailable, engine_problem, find_artifact, import_tensorrt
from jrc.weights import Checkpoint

log = logging.getLogger("export.resolve")


def ensure_onnx(checkpoint: Checkpoint, with_decoder: bool, fp16: bool = False) -> Path:
    """The checkpoint's ONNX file; exported and parity-checked when missing or stale."""
    name = artifact_name(with_decoder, fp16, ".onnx")
    precision = "fp16" if fp16 else "fp32"

    def usable(path: Path, sha: str) -> str | None:
        try:
            meta = read_onnx_metadata(path)
        except (ValueError, OSError) as e:
            return f"cannot be read ({e})"
        if meta.get("weights_sha256") != sha:
            return "was exported from other weights"
        return None if meta.get("precision", "fp32") == precision else f"is not {precision}"

    try:
        return find_artifact(checkpoint, "onnx", name, usable)
    except BackendUnavailable as missing:
        from export.onnx import ExportError, export_and_verify, require_export_deps

        try:
            require_export_deps()
        except ImportError as e:
            raise BackendUnavailable(f"{missing}; exporting needs {e}") from e
        target = build_target(candidates(checkpoint.path, name, checkpoint_sha256(checkpoint)))
        log.warning("onnx: exporting %s (first use, once per model: export and a check against torch; "
                    "10-20 s on a 2-core CPU, up to a minute on a shared one)", target)
        try:
            path, report = export_and_verify(checkpoint, target, with_decoder, fp16)
        except ExportError as e:
            raise BackendUnavailable(f"ONNX export failed: {e}") from e
        log.info("onnx: %s", report.line())
        return path


def ensure_engine(checkpoint: Checkpoint, with_decoder: bool, fp16: bool = True, min_batch: int = 1,
                  opt_batch: int = 8, max_batch: int = 32, workspace_gb: float = 2.0) -> Path:
    """The checkpoint's TensorRT engine; built from its ONNX file and verified when missing or stale."""
    trt = import_tensorrt()
    name = artifact_name(with_decoder, fp16, ".engine")
    try:
        return find_artifact(checkpoint, "tensorrt", name, lambda path, sha: engine_problem(trt, path, sha))
    except BackendUnavailable:
        from export.samples import parity_crops
        from export.trt import build_and_write, verify_engine

        onnx_path = ensure_onnx(checkpoint, with_decoder, fp16)
        target = build_target(candidates(checkpoint.path, name, checkpoint_sha256(checkpoint)))
        log.warning("tensorrt: building %s (first use; takes a minute or two)", target)
        path, _ = build_and_write(onnx_path, target, fp16, min_batch, opt_batch, max_batch, workspace_gb)
        crops, source = parity_crops(checkpoint.config.input_size, 8)
        verify_engine(path, onnx_path, crops, source)
        return path


def prepare(weights: str | Path | Checkpoint | None, backend: str = "auto",
            with_decoder: bool = False) -> None:
    """Build what ``backend`` needs for ``weights`` (a folder, Hub id, None = default weights).

    ``onnx`` / ``tensorrt``: BackendUnavailable when it cannot be built here. ``auto``: builds
    the engines this machine can run (TensorRT with a GPU and TensorRT installed, ONNX with
    onnxruntime and the exporter installed) and only logs what it skips; the runtime then picks
    the fastest that loads. ``torch``: nothing to build.
    """
    if backend == "torch":
        return
    checkpoint = weights if isinstance(weights, Checkpoint) else jrc_weights.load(weights)
    if backend == "onnx":
        ensure_onnx(checkpoint, with_decoder)
    elif backend == "tensorrt":
        ensure_engine(checkpoint, with_decoder)
    elif backend == "auto":
        for name, ensure in (("tensorrt", ensure_engine), ("onnx", ensure_onnx)):
            try:
                ensure(checkpoint, with_decoder)
            except BackendUnavailable as e:
                log.info("auto: no %s artifact (%s)", name, e)
    else:
        raise ValueError(f"unknown backend {backend!r}")
