import json

import numpy as np
import pytest
from export_fixtures import (  # noqa: F401 - fixtures
    face_crops_fixture,
    onnx_decoder_fixture,
    onnx_fp16_fixture,
    onnx_score_fixture,
    small_ckpt_fixture,
)

onnx = pytest.importorskip("onnx", reason="needs onnx (pip install '.[export]')")
pytest.importorskip("onnxscript", reason="needs onnxscript (pip install '.[export]')")
ort = pytest.importorskip("onnxruntime", reason="needs onnxruntime (pip install '.[cpu]')")

from export import onnx as export_onnx  # noqa: E402
from export.formats import read_onnx_metadata  # noqa: E402
from jrc.runtime import OnnxRunner  # noqa: E402


def dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_score_graph_is_one_checked_file_with_dynamic_batch(onnx_score):
    path, stdout = onnx_score
    assert [p.name for p in path.parent.iterdir()] == ["model.onnx"]  # no external data
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    (inp,), outs = model.graph.input, model.graph.output
    assert inp.name == "image" and dims(inp) == ["batch", 3, 224, 224]
    assert [o.name for o in outs] == ["score"] and dims(outs[0]) == ["batch"]
    assert "parity vs torch" in stdout and " ok" in stdout and "onnx.checker full check: ok" in stdout


def test_metadata_carries_config(onnx_score, small_ckpt):
    meta = read_onnx_metadata(onnx_score[0])
    config = json.loads(meta["config.json"])
    assert config["threshold"] == pytest.approx(0.42)
    assert config["model"] == small_ckpt.config.to_dict()
    assert meta["architecture"] == "efficientnet_lite0" and meta["input_size"] == "224"
    assert json.loads(meta["mean"]) == [0.5] * 3 and json.loads(meta["std"]) == [0.5] * 3
    assert meta["precision"] == "fp32" and meta["with_decoder"] == "false"
    from export.formats import checkpoint_sha256

    assert meta["weights_sha256"] == checkpoint_sha256(small_ckpt)


def test_fp32_parity_on_face_crops_any_batch(onnx_score, small_ckpt, face_crops):
    runner = OnnxRunner(onnx_score[0], providers="cpu")
    report = export_onnx.compare(runner, small_ckpt, face_crops, "astronaut", "fp32")
    assert report.max_abs["score"] <= 1e-4, report.line()
    from jrc.preprocess import normalize

    x = normalize(face_crops, small_ckpt.config.mean, small_ckpt.config.std)
    three = runner(x[:3])["score"]
    assert three.shape == (3,) and np.allclose(three, runner(x)["score"][:3], atol=1e-6)


def test_decoder_graph_outputs_and_parity(onnx_decoder):
    path, report = onnx_decoder
    model = onnx.load(str(path))
    assert [o.name for o in model.graph.output] == ["score", "reconstruction", "mask"]
    assert dims(model.graph.output[1]) == ["batch", 3, 224, 224]
    assert dims(model.graph.output[2]) == ["batch", 224, 224]
    assert report.max_abs["score"] <= 1e-4 and report.max_abs["reconstruction"] <= 1e-4
    assert read_onnx_metadata(path)["with_decoder"] == "true"


def test_fp16_graph_keeps_float32_io_and_parity(onnx_fp16):
    path, report = onnx_fp16
    model = onnx.load(str(path))
    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    assert model.graph.input[0].type.tensor_type.elem_type == f32
    assert model.graph.output[0].type.tensor_type.elem_type == f32
    assert any(t.data_type == f16 for t in model.graph.initializer), "no float16 weights in the graph"
    meta = read_onnx_metadata(path)
    assert meta["precision"] == "fp16" and int(meta["fp32_layers"]) >= 0
    assert report.max_abs["score"] <= 1e-2, report.line()


def test_failed_parity_removes_the_file(monkeypatch, tmp_path, onnx_score, small_ckpt, face_crops):
    def fake_export(ckpt, path, *args, **kwargs):
        path.write_bytes(onnx_score[0].read_bytes())
        return path

    monkeypatch.setattr(export_onnx, "export_onnx", fake_export)
    monkeypatch.setattr(export_onnx, "compare", lambda *a, **k: export_onnx.Parity(
        6, "astronaut", "fp32", {"score": 0.5}))
    out = tmp_path / "bad.onnx"
    with pytest.raises(export_onnx.ExportError, match=r"max \|Δscore\| 5.00e-01 .*FAILED"):
        export_onnx.export_and_verify(small_ckpt, out, crops=face_crops, source="astronaut")
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--opset", "12"], "--opset 12 is not supported"),
    (["--output", "model.pt"], "must end in .onnx"),
    (["--n-crops", "0"], "--n-crops must be >= 1"),
])
def test_bad_arguments_exit_2(capsys, argv, message):
    assert export_onnx.main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_weights_exit_1(capsys, tmp_path):
    assert export_onnx.main(["--weights", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nowhere" in err and "Traceback" not in err


def test_parity_checks_every_output():
    ok = export_onnx.Parity(4, "x", "fp32", {"score": 1e-6, "reconstruction": 2e-6, "mask": 2e-6})
    broken_decoder = export_onnx.Parity(4, "x", "fp32", {"score": 1e-6, "reconstruction": 0.3, "mask": 2e-6})
    assert ok.ok and not broken_decoder.ok
    assert "FAILED" in broken_decoder.line() and not export_onnx.Parity(4, "x", "fp32", {}).ok
