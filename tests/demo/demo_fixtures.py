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
    from demo.engine import Engine

    return Engine.load(str(tiny_weights()), "torch")


@functools.cache
def no_mask_engine():
    """Like :func:`tiny_engine`, without a mask head."""
    import torch

    from demo.engine import Engine
    from jrc import weights as jrc_weights
    from jrc.model import ModelConfig, TwoBranchCAE

    torch.manual_seed(0)
    model = TwoBranchCAE(ModelConfig(decoder_widths=(32, 16, 8, 8, 8))).eval()
    path = jrc_weights.save(model, tempfile.mkdtemp(prefix="jrc-nomask-"), threshold=0.5)
    return Engine.load(str(path), "torch")


def png(path: Path, rgb) -> str:
    import cv2

    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return str(path)


def report(out) -> dict:
    """The JSON record a handler wrote for download."""
    import json

    with open(out.report) as f:
        return json.load(f)


def webcam_frame(astronaut):
    """What the browser sends with mirror=True: the mirror image, letterboxed to 640x480."""
    import cv2
    import numpy as np

    frame = np.full((480, 640, 3), 30, np.uint8)
    frame[:, 80:560] = cv2.resize(astronaut[:, ::-1], (480, 480), interpolation=cv2.INTER_AREA)
    return frame


def shipped_engine():
    """The shipped model (torch backend: tests write no ONNX files into weights/). Fails, not
    skips, without it: this repo ships its weights."""
    if not (WEIGHTS / "model.safetensors").is_file():
        pytest.fail(f"no trained weights in {WEIGHTS}: this repository ships them")
    return _shipped_engine()


@functools.cache
def _shipped_engine():
    from demo.engine import Engine

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
