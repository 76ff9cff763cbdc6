"""Checkpoints: ``model.safetensors`` + ``config.json``, from a folder or a Hub repo id.

``config.json`` layout::

    {"format": "jrc", "version": 1,
     "model": {...ModelConfig...}, "threshold": 0.5,
     "face_model": "short_range", "training": {...}, "metrics": {...}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from jrc.model import ModelConfig, TwoBranchCAE, is_number
from jrc.paths import weights_root

DEFAULT_WEIGHTS = weights_root()
CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"
FORMAT_VERSION = 1


class WeightsError(RuntimeError):
    """Weights are missing, unreadable, or do not match the architecture."""


@dataclass
class Checkpoint:
    """A loaded model and the metadata stored with it."""

    model: TwoBranchCAE
    threshold: float
    path: Path
    meta: dict = field(default_factory=dict)

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def save(model: TwoBranchCAE, folder: str | Path, threshold: float, **meta) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (plus any metadata, e.g. training, metrics)."""
    from safetensors.torch import save_file

    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability, got {threshold}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "jrc"})
    config = {"format": "jrc", "version": FORMAT_VERSION, "model": model.config.to_dict(),
              "threshold": float(threshold), **meta}
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    return folder


def resolve(path_or_repo: str | Path | None) -> Path:
    """A local folder, or a Hub repo id fetched offline-first (cache, then network if allowed)."""
    if path_or_repo is None:
        path_or_repo = os.environ.get("JRC_WEIGHTS") or DEFAULT_WEIGHTS
    local = Path(path_or_repo).expanduser()
    if local.exists():
        if not local.is_dir():
            raise WeightsError(f"{local}: expected a folder with {CONFIG_NAME} and {WEIGHTS_NAME}")
        return local
    repo = str(path_or_repo)
    if repo.count("/") != 1 or repo.startswith((".", "/", "~")):
        raise WeightsError(f"{repo}: no such folder, and not a Hub repo id (owner/name)")
    if local.parent.is_dir():  # 'runs/best' with a local runs/: a mistyped folder, not a repo
        raise WeightsError(f"{repo}: no such folder (and '{local.parent}' is a local folder, so it "
                           "is not taken as a Hub repo id)")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:
        raise WeightsError(f"{repo}: loading from the Hub needs huggingface_hub") from e
    patterns = [CONFIG_NAME, WEIGHTS_NAME, "*.onnx", "*.md"]
    try:
        return Path(snapshot_download(repo, allow_patterns=patterns, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached; fall through to the network
        pass
    try:
        return Path(snapshot_download(repo, allow_patterns=patterns))
    except Exception as e:
        raise WeightsError(f"{repo}: not in the local Hub cache and could not be downloaded "
                           f"({type(e).__name__}: {e})") from e


def read_config(folder: str | Path) -> dict:
    """Parse and check ``config.json``."""
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise WeightsError(f"{path.parent}: no {CONFIG_NAME} (not a JRC weights folder; "
                           "train one with `python -m train` or pass --weights)")
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path}: unreadable ({e})") from e
    if not isinstance(config, dict) or config.get("format") != "jrc" or "model" not in config \
            or "threshold" not in config:
        raise WeightsError(f"{path}: not a JRC config (needs format='jrc', model, threshold)")
    version = config.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise WeightsError(f"{path}: format version {version!r} is newer than this jrc reads "
                           f"({FORMAT_VERSION}); update jrc")
    t = config["threshold"]
    if not is_number(t) or not 0.0 <= t <= 1.0:
        raise WeightsError(f"{path}: threshold must be a probability in [0, 1], got {t!r}")
    if not isinstance(config["model"], dict):
        raise WeightsError(f"{path}: 'model' must be an object of model settings")
    return config


def load(path_or_repo: str | Path | None = None, map_location: str = "cpu") -> Checkpoint:
    """Load a checkpoint with strict key and shape matching; errors name the offending keys."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = resolve(path_or_repo)
    config = read_config(folder)
    try:
        model_config = ModelConfig.from_dict(config["model"])
        model = TwoBranchCAE(model_config)
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{folder / CONFIG_NAME}: bad model config ({e})") from e
    wpath = folder / WEIGHTS_NAME
    if not wpath.is_file():
        raise WeightsError(f"{folder}: no {WEIGHTS_NAME}")
    try:
        state = load_file(str(wpath), device=map_location)
    except (SafetensorError, OSError) as e:
        raise WeightsError(f"{wpath}: unreadable safetensors file ({e})") from e
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shape = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or shape:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:8]) + (f" (+{len(keys) - 8} more)" if len(keys) > 8 else "")
        parts = [f"missing keys: {show(missing)}" if missing else "",
                 f"unexpected keys: {show(unexpected)}" if unexpected else "",
                 f"shape mismatch: {show(shape)}" if shape else ""]
        raise WeightsError(f"{wpath} does not match the {model_config.encoder} architecture in "
                           f"{CONFIG_NAME}: " + "; ".join(p for p in parts if p))
    model.load_state_dict(state, strict=True)
    model.eval()
    meta = {k: v for k, v in config.items() if k not in ("model", "threshold")}
    return Checkpoint(model, float(config["threshold"]), folder, meta)


__all__ = ["Checkpoint", "WeightsError", "load", "read_config", "resolve", "save"]
