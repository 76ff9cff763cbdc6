"""Runner interface: torch, onnxruntime (load only, cache, provider check), auto choice."""

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import needs_data

from jrc import runtime
from jrc import weights as jrc_weights
from jrc.model import ModelConfig, TwoBranchCAE
from jrc.preprocess import normalize

ROOT = Path(__file__).resolve().parents[2]
HAVE_EXPORT = all(__import__("importlib").util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))
needs_export = pytest.mark.skipif(not HAVE_EXPORT, reason="needs onnx, onnxscript and onnxruntime "
                                  "(pip install '.[export,cpu]')")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """Random-init Lite0 (plumbing/parity only), saved to a writable folder."""
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("weights")
    jrc_weights.save(TwoBranchCAE(ModelConfig(decoder_widths=(32, 16, 8, 8, 8))).eval(), folder, 0.5)
    return jrc_weights.load(folder)


@pytest.fixture(scope="module")
def crops(astronaut):
    from export.samples import astronaut_crops

    return astronaut_crops(224, 4, image=astronaut)


@pytest.fixture(scope="module")
def onnx_runner(ckpt):
    """The ONNX file built by export's resolve step (the runtime itself only loads)."""
    from export.resolve import prepare

    prepare(ckpt, "onnx")
    return runtime.create_runner(ckpt, "onnx", with_decoder=False)


def test_unknown_backend(ckpt):
    with pytest.raises(ValueError, match="unknown backend 'tflite'"):
        runtime.create_runner(ckpt, "tflite")


def test_torch_runner_named_outputs(ckpt, crops):
    x = normalize(crops, ckpt.config.mean, ckpt.config.std)
    out = runtime.create_runner(ckpt, "torch", with_decoder=True)(x)
    assert set(out) == {"score", "reconstruction", "mask"}
    assert out["score"].shape == (4,) and out["reconstruction"].shape == (4, 3, 224, 224)
    assert out["mask"].shape == (4, 224, 224) and not out["mask"].any()  # no mask head: zeros
    assert set(runtime.create_runner(ckpt, "torch", with_decoder=False)(x)) == {"score"}


@needs_export
def test_onnx_backend_loads_the_file_next_to_the_weights_and_matches_torch(onnx_runner, ckpt, crops):
    assert onnx_runner.name == "onnx-cpu" and onnx_runner.path == Path(ckpt.path) / "model.onnx"
    assert onnx_runner.providers == ["CPUExecutionProvider"]
    assert onnx_runner.threshold == pytest.approx(0.5) and onnx_runner.config == ckpt.config
    x = normalize(crops, ckpt.config.mean, ckpt.config.std)
    ref = runtime.TorchRunner(ckpt, False, device="cpu")(x)["score"]
    got = onnx_runner(x)["score"]
    assert got.dtype == np.float32 and np.abs(got - ref).max() <= 1e-4


def test_missing_onnx_names_the_command_that_builds_it(ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("JRC_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "fresh"
    shutil.copytree(ckpt.path, folder, ignore=shutil.ignore_patterns("*.onnx"))
    with pytest.raises(runtime.BackendUnavailable) as e:
        runtime.create_runner(jrc_weights.load(folder), "onnx", with_decoder=True)
    assert str(e.value) == (f"no up-to-date model_decoder.onnx for {folder}: build it with "
                            f"python -m export.onnx --weights {folder} --with-decoder")
    assert not list(folder.glob("*.onnx"))  # the runtime never exports


@needs_export
def test_stale_onnx_is_refused_with_the_reason(onnx_runner, ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("JRC_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "w"
    shutil.copytree(ckpt.path, folder)
    torch.manual_seed(2)
    jrc_weights.save(TwoBranchCAE(ckpt.config).eval(), folder, 0.5)  # new weights, old model.onnx
    with pytest.raises(runtime.BackendUnavailable, match=r"model\.onnx was exported from other weights"):
        runtime.create_runner(jrc_weights.load(folder), "onnx", with_decoder=False)


@needs_export
def test_read_only_weights_find_the_cached_file(onnx_runner, ckpt, tmp_path, monkeypatch):
    from jrc.artifacts import checkpoint_sha256

    monkeypatch.setenv("JRC_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "ro"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(Path(ckpt.path) / name, folder / name)
    ro = jrc_weights.load(folder)
    cached = tmp_path / "cache" / checkpoint_sha256(ro)[:16] / "model.onnx"
    cached.parent.mkdir(parents=True)
    shutil.copy(onnx_runner.path, cached)  # as an earlier build step would have left it
    assert runtime.create_runner(ro, "onnx", with_decoder=False).path == cached


@needs_export
@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider'")
def test_session_providers_are_checked_not_assumed(onnx_runner, monkeypatch, caplog):
    import onnxruntime as ort

    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: both)
    with caplog.at_level(logging.WARNING, "jrc.runtime"):
        r = runtime.OnnxRunner(onnx_runner.path, providers="auto")
    assert r.name == "onnx-cpu" and "the session got ['CPUExecutionProvider']" in caplog.text
    with pytest.raises(runtime.BackendUnavailable, match="CUDA"):
        runtime.OnnxRunner(onnx_runner.path, providers="cuda")


@needs_export
def test_auto_picks_the_fastest_available_and_logs_why(onnx_runner, ckpt, caplog):
    with caplog.at_level(logging.INFO, "jrc.runtime"):
        r = runtime.create_runner(ckpt, "auto", with_decoder=False)
    if runtime_has_tensorrt():
        pytest.skip("TensorRT present: auto picks it")
    assert r.name == "onnx-cpu"
    assert "auto: chose onnx-cpu (skipped tensorrt: TensorRT" in caplog.text


def test_auto_falls_back_to_torch(ckpt, monkeypatch, caplog):
    def no_ort():
        raise runtime.BackendUnavailable("the onnx backend needs onnxruntime (test)")
    monkeypatch.setattr(runtime, "_import_ort", no_ort)
    monkeypatch.setattr(runtime, "import_tensorrt", lambda: (_ for _ in ()).throw(
        runtime.BackendUnavailable("TensorRT is not installed here (test)")))
    with caplog.at_level(logging.INFO, "jrc.runtime"):
        r = runtime.create_runner(ckpt, "auto", with_decoder=False)
    assert isinstance(r, runtime.TorchRunner)
    assert ("skipped tensorrt: TensorRT is not installed here (test); onnx: the onnx backend needs"
            in caplog.text)
    with pytest.raises(runtime.BackendUnavailable, match="needs onnxruntime"):
        runtime.create_runner(ckpt, "onnx")


def runtime_has_tensorrt() -> bool:
    try:
        runtime.import_tensorrt()
    except runtime.BackendUnavailable:
        return False
    return True


@pytest.mark.skipif(runtime_has_tensorrt(), reason="TensorRT and a GPU are present")
def test_tensorrt_backend_says_what_is_missing(ckpt):
    match = r'TensorRT is not installed.*pip install "\.\[trt\]"'
    with pytest.raises(runtime.BackendUnavailable, match=match):
        runtime.create_runner(ckpt, "tensorrt")


def test_threads():
    assert 1 <= runtime.physical_cores() <= (__import__("os").cpu_count() or 1)
    assert runtime.default_threads() == runtime.physical_cores()


# ------------------------------------------------------------------ acceptance: jrc scan
def scan_weights(tmp_path_factory) -> Path:
    """Shipped weights, else the training run's best, else a random checkpoint (copied: an export
    on first use must not write into the repository)."""
    for src in (ROOT / "weights", ROOT / "runs" / "jrc_lite0" / "best"):
        if (src / "model.safetensors").is_file() and (src / "config.json").is_file():
            dst = tmp_path_factory.mktemp("scan_weights")
            for name in ("config.json", "model.safetensors"):
                shutil.copy(src / name, dst / name)
            return dst
    dst = tmp_path_factory.mktemp("scan_random")
    torch.manual_seed(3)
    jrc_weights.save(TwoBranchCAE(ModelConfig()).eval(), dst, 0.5)
    return dst


def _scan_backends_agree(images, weights, tmp_path) -> None:
    """``jrc scan --crops`` on torch and ONNX Runtime: every crop ok, scores within 1e-3."""
    import cv2

    from jrc.cli import main

    for i, c in enumerate(images):
        cv2.imwrite(str(tmp_path / f"crop{i:02d}.png"), cv2.cvtColor(c, cv2.COLOR_RGB2BGR))
    scores = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / f"{backend}.jsonl"
        assert main(["scan", "--crops", str(tmp_path), "--weights", str(weights), "--backend", backend,
                     "--output", str(out)]) == 0
        recs = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(recs) == len(images) and all(r["status"] == "ok" for r in recs)
        scores[backend] = np.array([r["score"] for r in recs])
    assert (weights / "model.onnx").is_file()
    assert np.abs(scores["onnx"] - scores["torch"]).max() <= 1e-3


@needs_export
def test_scan_onnx_and_torch_agree(tmp_path_factory, crops, tmp_path):
    _scan_backends_agree(list(crops), scan_weights(tmp_path_factory), tmp_path)


@needs_export
@needs_data
def test_scan_onnx_and_torch_agree_on_ffpp_crops(tmp_path_factory, tmp_path):
    from export.samples import SHARED_CROPS, folder_crops

    _scan_backends_agree(list(folder_crops(SHARED_CROPS, 224, 12)), scan_weights(tmp_path_factory),
                         tmp_path)


@pytest.mark.parametrize("name, backend", [("torch-cpu", "torch"), ("torch-cuda-fp16", "torch"),
                                           ("onnx-cpu", "onnx"), ("onnx-cuda-fp16", "onnx"),
                                           ("tensorrt-fp16", "tensorrt")])
def test_backend_of(name, backend):
    assert runtime.backend_of(type("R", (), {"name": name})()) == backend


def test_backend_of_refuses_other_names(ckpt):
    assert runtime.backend_of(runtime.create_runner(ckpt, "torch", with_decoder=False)) == "torch"
    for name in ("tflite-cpu", "auto"):
        with pytest.raises(ValueError, match="not one of the backends"):
            runtime.backend_of(type("R", (), {"name": name})())


@needs_export
@pytest.mark.parametrize("spin", [True, False])
def test_onnx_session_gets_the_spinning_setting(onnx_runner, monkeypatch, spin):
    import onnxruntime as ort

    seen = []
    real = ort.InferenceSession

    def recording(path, so, **kw):
        seen.append(so.get_session_config_entry("session.intra_op.allow_spinning"))
        return real(path, so, **kw)
    monkeypatch.setattr(ort, "InferenceSession", recording)
    runner = runtime.OnnxRunner(onnx_runner.path, threads=1, spinning=spin)
    assert seen == ["1" if spin else "0"] and runner.spinning == spin
