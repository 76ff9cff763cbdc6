"""Artifact metadata and engine files, write side (the read side is :mod:`jrc.artifacts`).

:func:`artifact_metadata` is the one metadata dict written into the ONNX ``metadata_props`` and
into the header of a TensorRT engine file (layout in :mod:`jrc.artifacts`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from jrc.artifacts import (
    _LEN,
    ENGINE_MAGIC,
    FORMATS,
    INPUT_NAME,
    MAX_HEADER,
    OUTPUTS_FULL,
    OUTPUTS_SCORE,
    artifact_name,
    cache_dir,
    checkpoint_sha256,
    config_from_metadata,
    file_sha256,
    output_names,
    read_engine,
    read_onnx_metadata,
    unpack_engine,
    writable_dir,
)


def artifact_metadata(checkpoint, with_decoder: bool, precision: str, **extra) -> dict[str, str]:
    """String metadata for an artifact: the checkpoint's ``config.json`` plus flat summary keys."""
    from jrc.weights import FORMAT_VERSION

    c = checkpoint.config
    config = {"format": "jrc", "version": FORMAT_VERSION, "model": c.to_dict(),
              "threshold": float(checkpoint.threshold), **checkpoint.meta}
    meta = {
        "config.json": json.dumps(config, sort_keys=True),
        "architecture": c.encoder,
        "input_size": str(c.input_size),
        "mean": json.dumps(list(c.mean)),
        "std": json.dumps(list(c.std)),
        "threshold": repr(float(checkpoint.threshold)),
        "mask_head": json.dumps(bool(c.mask_head)),
        "with_decoder": json.dumps(bool(with_decoder)),
        "precision": precision,
        "input": f"{INPUT_NAME} [batch,3,{c.input_size},{c.input_size}] float32, normalised",
        "outputs": ",".join(output_names(with_decoder)),
        "weights_sha256": checkpoint_sha256(checkpoint),
    }
    meta.update({k: str(v) for k, v in extra.items()})
    return meta


# ------------------------------------------------------------------ TensorRT engine files
def pack_engine(engine: bytes, meta: dict[str, str]) -> bytes:
    """Header + serialized engine (see the module docstring for the layout)."""
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise TypeError("engine metadata must map str -> str")
    header = json.dumps(meta, sort_keys=True).encode("utf-8")
    if len(header) > MAX_HEADER:
        raise ValueError(f"engine metadata too large ({len(header)} bytes)")
    return ENGINE_MAGIC + _LEN.pack(len(header)) + header + bytes(engine)


def write_engine(path: str | Path, engine: bytes, meta: dict[str, str]) -> Path:
    return atomic_write(path, pack_engine(engine, meta))


# ------------------------------------------------------------------ files and folders
def atomic_write(path: str | Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder, then rename (no half-written artifacts)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; artifacts are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = [
    "ENGINE_MAGIC", "FORMATS", "INPUT_NAME", "MAX_HEADER", "OUTPUTS_FULL", "OUTPUTS_SCORE", "_LEN",
    "artifact_metadata", "artifact_name", "atomic_write", "cache_dir", "checkpoint_sha256",
    "config_from_metadata", "file_sha256", "output_names", "pack_engine", "read_engine",
    "read_onnx_metadata", "unpack_engine", "writable_dir", "write_engine",
]
