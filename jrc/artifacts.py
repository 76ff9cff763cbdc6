"""The artifact contract (read side): formats, names, metadata, engine header, sha, cache dir.

One table of formats (:data:`FORMATS`) drives runtime dispatch, export, ``--backend`` choices
and the benchmark. One naming rule (:func:`artifact_name`). Every artifact carries the metadata
that ``export.formats.artifact_metadata`` writes (ONNX ``metadata_props``, or the header of a
TensorRT engine file), so it always says what it is and which weights it came from.
``jrc.runtime`` only loads artifacts found here; building them is ``export``'s job
(``export.resolve.prepare``, ``python -m export.onnx``, ``python -m export.trt``).

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
from importlib.metadata import entry_points
from pathlib import Path

ENGINE_MAGIC = b"JRCTRT\x00\x01"
_LEN = struct.Struct("<I")
MAX_HEADER = 16 << 20  # a metadata header larger than this is a corrupt file

INPUT_NAME = "image"
OUTPUTS_SCORE = ("score",)
OUTPUTS_FULL = ("score", "reconstruction", "mask")
WEIGHTS_FILE = "model.safetensors"
BUILDERS_GROUP = "jrc.artifact_builders"  # entry points that build missing artifacts (export/)


@dataclass(frozen=True)
class Format:
    """One artifact format: its backend name, file suffix, the command that builds it, the pip
    extra that brings its dependencies, whether it needs a GPU, and its precisions."""

    name: str
    build: str
    suffix: str
    requires: str
    gpu: bool
    precisions: tuple[str, ...]


FORMATS = (
    Format("torch", "-", ".safetensors", "(core)", False, ("fp32", "fp16")),
    Format("onnx", "python -m export.onnx", ".onnx", '".[export,cpu]" or ".[export,gpu]"', False,
           ("fp32", "fp16")),
    Format("tensorrt", "python -m export.trt --fp16", ".engine", '".[trt]" on a CUDA machine', True,
           ("fp16", "fp32")),
)
FORMAT = {f.name: f for f in FORMATS}
BACKENDS = ("auto", *FORMAT)  # --backend choices: auto picks the fastest that loads here


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


def read_engine(path: str | Path) -> tuple[dict[str, str], bytes]:
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: cannot read engine ({e.strerror})") from e
    return unpack_engine(blob, path)


# ------------------------------------------------------------------ files and folders
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


def candidates(folder: str | Path | None, name: str, sha: str) -> list[Path]:
    """Where an artifact may live: next to the weights (``folder``), then the cache by weights sha."""
    near = [Path(folder) / name] if folder is not None else []
    return [*near, cache_dir() / sha[:16] / name]


def build_target(paths: list[Path]) -> Path:
    """Where a new artifact goes: next to the weights when that folder is writable, else the cache."""
    first = paths[0]
    return first if len(paths) > 1 and first.parent.is_dir() and writable_dir(first.parent) else paths[-1]


def run_builders(weights: str | Path | None, backend: str, with_decoder: bool) -> None:
    """Let the installed exporters (entry point group :data:`BUILDERS_GROUP`, i.e. ``export``)
    build or refresh the artifacts ``backend`` needs. Without them nothing is built, and the
    runtime says which command would build what is missing."""
    for ep in entry_points(group=BUILDERS_GROUP):
        ep.load()(weights, backend, with_decoder)
