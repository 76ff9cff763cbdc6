"""Shared, cached set-up for the export tests: a small random-init model and its exports.

Not a ``conftest.py`` on purpose (a second one would shadow ``tests/conftest.py`` for modules
that ``from conftest import ...``). Test modules wrap these in small fixtures; the caches make
each export (seconds of CPU on the CI box) happen once per session. The model is random:
plumbing and parity only, never a detector.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest


def needs_export_deps() -> None:
    for mod, extra in (("onnx", "export"), ("onnxscript", "export"), ("onnxruntime", "cpu")):
        pytest.importorskip(mod, reason=f"needs {mod} (pip install '.[{extra}]')")


@functools.cache
def workdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="jrc-export-tests-"))
    atexit.register(shutil.rmtree, d, True)
    return d


@functools.cache
def small_ckpt():
    """A random-init Lite0 JRC model with a narrow decoder, saved with jrc.weights.save."""
    import torch

    from jrc import weights
    from jrc.model import ModelConfig, TwoBranchCAE

    torch.manual_seed(0)
    model = TwoBranchCAE(ModelConfig(decoder_widths=(32, 16, 8, 8, 8))).eval()
    weights.save(model, workdir() / "weights", threshold=0.42, note="random init: tests only")
    return weights.load(workdir() / "weights")


@functools.cache
def face_crops() -> np.ndarray:
    """Six 224-px crops of the astronaut's face (jrc framing, rescaled, shifted)."""
    from skimage import data

    from export.samples import astronaut_crops

    return astronaut_crops(224, 6, image=np.ascontiguousarray(data.astronaut()))


def onnx_score() -> tuple[Path, str]:
    """Score-only FP32 export, through the CLI: (path, stdout)."""
    needs_export_deps()
    return _onnx_score()


@functools.cache
def _onnx_score() -> tuple[Path, str]:
    from export.onnx import main

    out = workdir() / "score" / "model.onnx"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["--weights", str(small_ckpt().path), "--output", str(out), "--n-crops", "4"])
    assert rc == 0, buf.getvalue()
    return out, buf.getvalue()


def onnx_decoder():
    needs_export_deps()
    return _onnx_decoder()


@functools.cache
def _onnx_decoder():
    from export.onnx import export_and_verify

    return export_and_verify(small_ckpt(), workdir() / "decoder" / "model_decoder.onnx", with_decoder=True,
                             crops=face_crops(), source="astronaut")


def onnx_fp16():
    needs_export_deps()
    return _onnx_fp16()


@functools.cache
def _onnx_fp16():
    from export.onnx import export_and_verify

    return export_and_verify(small_ckpt(), workdir() / "fp16" / "model_fp16.onnx", fp16=True,
                             crops=face_crops(), source="astronaut", calib=face_crops())


# Pytest fixtures over the caches above; test modules import the ones they use by name.
@pytest.fixture(name="small_ckpt")
def small_ckpt_fixture():
    return small_ckpt()


@pytest.fixture(name="face_crops")
def face_crops_fixture():
    return face_crops()


@pytest.fixture(name="onnx_score")
def onnx_score_fixture():
    return onnx_score()


@pytest.fixture(name="onnx_decoder")
def onnx_decoder_fixture():
    return onnx_decoder()


@pytest.fixture(name="onnx_fp16")
def onnx_fp16_fixture():
    return onnx_fp16()
