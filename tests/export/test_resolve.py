"""export.resolve: the one step that builds missing or stale artifacts (the runtime only loads)."""

import shutil
from pathlib import Path

import pytest
import torch

from export import resolve
from jrc import runtime
from jrc import weights as jrc_weights
from jrc.artifacts import checkpoint_sha256, run_builders
from jrc.model import ModelConfig, TwoBranchCAE

HAVE_EXPORT = all(__import__("importlib").util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))
pytestmark = pytest.mark.skipif(not HAVE_EXPORT, reason="needs onnx, onnxscript and onnxruntime")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    d = tmp_path_factory.mktemp("weights")
    jrc_weights.save(TwoBranchCAE(ModelConfig(decoder_widths=(32, 16, 8, 8, 8))).eval(), d, 0.5)
    return d


@pytest.fixture
def exports(monkeypatch):
    """Record every export (and still do it)."""
    import export.onnx

    calls, real = [], export.onnx.export_and_verify

    def recording(ckpt, target, *a, **k):
        calls.append(Path(target))
        return real(ckpt, target, *a, **k)
    monkeypatch.setattr(export.onnx, "export_and_verify", recording)
    return calls


def copy_weights(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(src / name, dst / name)
    return dst


def test_prepare_builds_next_to_the_weights_once(folder, exports):
    resolve.prepare(folder, "onnx")
    assert exports == [folder / "model.onnx"]
    resolve.prepare(folder, "onnx")  # up to date: nothing rebuilt
    assert exports == [folder / "model.onnx"]
    runner = runtime.create_runner(jrc_weights.load(folder), "onnx", with_decoder=False)
    assert runner.path == folder / "model.onnx"


def test_stale_artifact_is_rebuilt(folder, tmp_path, exports):
    d = tmp_path / "w"
    shutil.copytree(folder, d)
    torch.manual_seed(2)
    jrc_weights.save(TwoBranchCAE(jrc_weights.load(folder).config).eval(), d, 0.5)  # new weights
    resolve.prepare(d, "onnx")
    assert exports == [d / "model.onnx"]


def test_read_only_weights_build_into_the_cache(folder, tmp_path, monkeypatch, exports):
    monkeypatch.setenv("JRC_CACHE", str(tmp_path / "cache"))
    ro = copy_weights(folder, tmp_path / "ro")
    monkeypatch.setattr("jrc.artifacts.writable_dir", lambda p: Path(p) != ro)
    ckpt = jrc_weights.load(ro)
    resolve.prepare(ckpt, "onnx")
    cached = tmp_path / "cache" / checkpoint_sha256(ckpt)[:16] / "model.onnx"
    assert exports == [cached] and not (ro / "model.onnx").exists()


def test_jrc_reaches_the_builder_through_its_entry_point(folder, tmp_path, exports):
    d = copy_weights(folder, tmp_path / "ep")
    run_builders(d, "onnx", with_decoder=True)
    assert exports == [d / "model_decoder.onnx"]


def test_auto_skips_what_cannot_be_built_and_torch_builds_nothing(folder, tmp_path, monkeypatch, exports):
    import export.onnx

    d = copy_weights(folder, tmp_path / "auto")
    resolve.prepare(d, "torch")
    monkeypatch.setattr(export.onnx, "require_export_deps", lambda: (_ for _ in ()).throw(
        ImportError("the exporter needs onnx (test)")))
    resolve.prepare(d, "auto")  # logs, does not raise
    assert exports == []
    with pytest.raises(runtime.BackendUnavailable, match=r"build it with python -m export\.onnx.*"
                                                         r"exporting needs the exporter needs onnx \(test\)"):
        resolve.prepare(d, "onnx")
