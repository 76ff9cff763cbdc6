"""Shared, cached set-up for the demo tests.

Not a ``conftest.py`` on purpose: pytest imports every ``conftest.py`` under the module name
``conftest``, and a second one would shadow ``tests/conftest.py`` for the modules that do
``from conftest import ...``. Each test module wraps these in small fixtures; the caches make
the model and the server load once per session.
"""

from __future__ import annotations

import atexit
import functools
import tempfile
from pathlib import Path

import pytest

WEIGHTS = Path(__file__).resolve().parents[2] / "weights"


@functools.cache
def tiny_weights() -> Path:
    """A random lite0 model WITH a mask head, so the mask code paths run. Scores mean nothing."""
    import torch

    from jrc import weights as jrc_weights
    from jrc.model import ModelConfig, TwoBranchCAE

    torch.manual_seed(0)
    model = TwoBranchCAE(ModelConfig(decoder_widths=(32, 16, 8, 8, 8), mask_head=True)).eval()
    return jrc_weights.save(model, tempfile.mkdtemp(prefix="jrc-tiny-"), threshold=0.5)


@functools.cache
def tiny_engine():
    from demo.handlers import Engine

    return Engine.load(str(tiny_weights()), "torch")


def shipped_engine():
    """The shipped model (torch backend: tests write no ONNX files into weights/)."""
    if not (WEIGHTS / "model.safetensors").is_file():
        pytest.skip("no trained weights in weights/")
    return _shipped_engine()


@functools.cache
def _shipped_engine():
    from demo.handlers import Engine

    return Engine.load(None, "torch")


def served_url() -> str:
    """The app on the shipped model, launched in-process on a free local port."""
    pytest.importorskip("gradio", reason="the demo needs the [demo] extra (gradio)")
    return _served(shipped_engine())


@functools.cache
def _served(engine) -> str:
    from demo import ui

    app = ui.build(engine)
    _, url, _ = ui.launch(app, port=None, prevent_thread_lock=True, quiet=True)
    atexit.register(app.close)
    return url
