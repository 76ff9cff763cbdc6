"""Where the shipped weights live: beside the package in a checkout, else ``./weights``."""

from __future__ import annotations

from pathlib import Path

_CHECKOUT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def weights_root() -> Path:
    """The repository's ``weights/`` when running from a checkout (or an editable install); the
    current folder's ``weights/`` after a plain ``pip install .``, which copies only the code."""
    if _CHECKOUT_WEIGHTS.is_dir():
        return _CHECKOUT_WEIGHTS
    return Path.cwd() / "weights"
