"""Export formats, artifact names, and the metadata every artifact carries.

One table of formats (:data:`FORMATS`), one naming rule (:func:`artifact_name`), and one
metadata dict (:func:`artifact_metadata`) written into the ONNX ``metadata_props`` and into
the header of a TensorRT engine file, so an artifact always says what it is.

TensorRT engine file (``*.engine``), format version 1, all integers little-endian::

    offset 0       8 bytes   magic  b"JRCTRT\\x00\\x01"  (name, NUL, format version)
    offset 8       4 bytes   uint32 N: length of the metadata
    offset 12      N bytes   metadata: UTF-8 JSON object, string keys -> string values
                             (the same keys as the ONNX metadata_props)
    offset 12+N    rest      the serialized TensorRT engine (``build_serialized_network``)

A plain TensorRT plan has no such header; :func:`read_engine` rejects it with a message.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENGINE_MAGIC = b"JRCTRT\x00\x01"
_LEN = struct.Struct("<I")
MAX_HEADER = 16 << 20  # a metadata header larger than this is a corrupt file

INPUT_NAME = "image"
OUTPUTS_SCORE = ("score",)
OUTPUTS_FULL = ("score", "reconstruction", "mask")
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class Format:
    """One export format: CLI, file suffix, what it needs, where it runs."""

    name: str
    module: str
    suffix: str
    requires: str  # pip extra that brings its dependencies
    gpu: bool
    precisions: tuple[str, ...]


FORMATS = (
    Format("torch", "-", ".safetensors", "(core)", False, ("fp32", "fp16")),
    Format("onnx", "python -m export.onnx", ".onnx", '".[export,cpu]" or ".[export,gpu]"', False,
           ("fp32", "fp16")),
    Format("tensorrt", "python -m export.trt", ".engine", '".[trt]" on a CUDA machine', True,
           ("fp16", "fp32")),
)


def artifact_name(with_decoder: bool, fp16: bool, suffix: str) -> str:
    """``model[_decoder][_fp16].<suffix>``: the name runtimes look for next to the weights."""
    return "model" + ("_decoder" if with_decoder else "") + ("_fp16" if fp16 else "") + suffix


def output_names(with_decoder: bool) -> tuple[str, ...]:
    return OUTPUTS_FULL if with_decoder else OUTPUTS_SCORE


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checkpoint_sha256(checkpoint) -> str:
    """Hash of the checkpoint's ``model.safetensors``; of its tensors when it has no such file."""
    folder = getattr(checkpoint, "path", None)
    if folder is not None and (Path(folder) / WEIGHTS_FILE).is_file():
        return file_sha256(Path(folder) / WEIGHTS_FILE)
    h = hashlib.sha256()
    for name, t in checkpoint.model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


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


def config_from_metadata(meta: dict[str, str], source: str | Path) -> tuple[object, float, bool]:
    """``(ModelConfig, threshold, with_decoder)`` from artifact metadata; ValueError names ``source``."""
    from jrc.model import ModelConfig

    try:
        config = json.loads(meta["config.json"])
        return (ModelConfig.from_dict(config["model"]), float(config["threshold"]),
                json.loads(meta.get("with_decoder", "false")))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{source}: no usable JRC metadata ({type(e).__name__}: {e}); "
                         "export it with python -m export.onnx") from e


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """``metadata_props`` of an ONNX file (with onnx when installed, else onnxruntime)."""
    try:
        import onnx
    except ImportError:
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return dict(sess.get_modelmeta().custom_metadata_map)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable ONNX file ({type(e).__name__}: {e})") from e
    return {p.key: p.value for p in model.metadata_props}


# ------------------------------------------------------------------ TensorRT engine files
def pack_engine(engine: bytes, meta: dict[str, str]) -> bytes:
    """Header + serialized engine (see the module docstring for the layout)."""
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise TypeError("engine metadata must map str -> str")
    header = json.dumps(meta, sort_keys=True).encode("utf-8")
    if len(header) > MAX_HEADER:
        raise ValueError(f"engine metadata too large ({len(header)} bytes)")
    return ENGINE_MAGIC + _LEN.pack(len(header)) + header + bytes(engine)


def unpack_engine(blob: bytes, source: str | Path = "<bytes>") -> tuple[dict[str, str], bytes]:
    """Inverse of :func:`pack_engine`; ValueError names ``source`` and what is wrong."""
    start = len(ENGINE_MAGIC) + _LEN.size
    if blob[:len(ENGINE_MAGIC)] != ENGINE_MAGIC:
        raise ValueError(f"{source}: not a JRC TensorRT engine (no {ENGINE_MAGIC[:6].decode()} header; "
                         "a plain TensorRT plan carries no model config): rebuild it with "
                         "python -m export.trt")
    if len(blob) < start:
        raise ValueError(f"{source}: truncated engine file ({len(blob)} bytes)")
    (n,) = _LEN.unpack_from(blob, len(ENGINE_MAGIC))
    if n > MAX_HEADER or start + n > len(blob):
        raise ValueError(f"{source}: corrupt engine header (metadata length {n}, file {len(blob)} bytes)")
    try:
        meta = json.loads(blob[start:start + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{source}: corrupt engine metadata ({e})") from e
    if not isinstance(meta, dict):
        raise ValueError(f"{source}: corrupt engine metadata (not a JSON object)")
    engine = blob[start + n:]
    if not engine:
        raise ValueError(f"{source}: engine file has a header but no engine")
    return meta, engine


def write_engine(path: str | Path, engine: bytes, meta: dict[str, str]) -> Path:
    return atomic_write(path, pack_engine(engine, meta))


def read_engine(path: str | Path) -> tuple[dict[str, str], bytes]:
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: cannot read engine ({e.strerror})") from e
    return unpack_engine(blob, path)


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


def cache_dir() -> Path:
    """``$JRC_CACHE``, else ``$XDG_CACHE_HOME/jrc``, else ``~/.cache/jrc``."""
    if os.environ.get("JRC_CACHE"):
        return Path(os.environ["JRC_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jrc"


def writable_dir(folder: str | Path) -> bool:
    """True when a file can be created in ``folder`` (tried, not guessed from mode bits).

    Folders inside the Hugging Face cache count as read-only: artifacts go to our cache.
    """
    folder = Path(folder)
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        if Path(HF_HUB_CACHE).resolve() in folder.resolve().parents:
            return False
    except ImportError:
        pass
    try:
        fd, tmp = tempfile.mkstemp(prefix=".jrc-write-test.", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


__all__ = [
    "ENGINE_MAGIC",
    "FORMATS",
    "INPUT_NAME",
    "artifact_metadata",
    "artifact_name",
    "cache_dir",
    "checkpoint_sha256",
    "config_from_metadata",
    "pack_engine",
    "read_engine",
    "read_onnx_metadata",
    "unpack_engine",
    "writable_dir",
    "write_engine",
]
