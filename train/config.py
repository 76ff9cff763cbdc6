"""Training configs: YAML files of settings, optionally built on another config with ``base:``.

``base: other.yaml`` (a path relative to the file) loads that config first and lets this file
override any of its keys, so a follow-up stage states only what it changes. Bases may chain;
a cycle or an unknown key is an error naming the file.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from train.loop import DEFAULTS


def load_config(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The settings a YAML file sets, its ``base:`` chain merged in (without ``DEFAULTS``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config not found: {path}")
    if path.resolve() in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path.resolve()))
        raise ValueError(f"{path}: base configs form a cycle ({chain})")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
    base = loaded.pop("base", None)
    if unknown := set(loaded) - set(DEFAULTS):
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    if base is None:
        return loaded
    return {**load_config(path.parent / base, (*_seen, path.resolve())), **loaded}
