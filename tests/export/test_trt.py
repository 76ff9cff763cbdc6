"""export.trt: arguments, profile, engine header and the no-TensorRT path run everywhere; the
build logic runs against a recording stand-in for the TensorRT 10 API; a real build needs a GPU."""

import json
import subprocess
import sys
import types

import pytest
import torch
from export_fixtures import face_crops_fixture, onnx_fp16_fixture, onnx_score_fixture, small_ckpt_fixture  # noqa: F401 - fixtures

from export import trt as export_trt
from export.formats import read_engine


def have_tensorrt() -> bool:
    try:
        import tensorrt  # noqa: F401
    except Exception:  # noqa: BLE001 - stub wheels fail in many ways
        return False
    return torch.cuda.is_available()


def test_profile_shapes():
    shapes = export_trt.profile_shapes(1, 8, 32, 224)
    assert shapes == {"min": (1, 3, 224, 224), "opt": (8, 3, 224, 224), "max": (32, 3, 224, 224)}


@pytest.mark.parametrize("batches, message", [
    ((0, 8, 32), "--min-batch must be a positive integer"),
    ((4, 2, 32), "need --min-batch <= --opt-batch <= --max-batch"),
    ((1, 8, 5000), "larger than 4096"),
])
def test_bad_profiles(batches, message):
    with pytest.raises(ValueError, match=message):
        export_trt.profile_shapes(*batches, 224)


@pytest.mark.parametrize("argv, message", [
    (["--fp16", "--min-batch", "8", "--opt-batch", "4"], "need --min-batch <= --opt-batch"),
    (["--fp16", "--workspace", "0"], "--workspace 0.0"),
    (["--fp16", "--output", "x.onnx"], "use a .engine file name"),
    (["--fp16", "--onnx", "x.pt"], "expected a .onnx file"),
    (["--weak-fp16"], "--weak-fp16 goes with --fp16"),
    (["--onnx", "m.onnx", "--with-decoder"], "--with-decoder goes with --weights"),
])
def test_bad_arguments_exit_2_before_anything_heavy(capsys, argv, message):
    assert export_trt.main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(have_tensorrt(), reason="TensorRT and a GPU are present")
def test_without_tensorrt_one_line_reason(capsys):
    assert export_trt.main(["--fp16"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "TensorRT" in err and 'pip install ".[trt]"' in err


@pytest.mark.skipif(have_tensorrt(), reason="TensorRT and a GPU are present")
def test_cli_without_tensorrt_has_no_traceback():
    r = subprocess.run([sys.executable, "-m", "export.trt", "--fp16"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "TensorRT" in lines[0] and "Traceback" not in r.stderr


# ------------------------------------------------------------ TensorRT 10 API stand-in
class Recorder:
    def __init__(self, parse_ok=True, errors=(), fast_fp16=True, has_fp16=True):
        self.calls: list[tuple] = []
        rec = self

        class Logger:
            WARNING = 2

            def __init__(self, severity):
                rec.calls.append(("Logger", severity))

        class Input:
            name, shape = "image", (-1, 3, 224, 224)

        class Network:
            def get_input(self, i):
                return Input()

        class Profile:
            def set_shape(self, name, lo, opt, hi):
                rec.calls.append(("set_shape", name, lo, opt, hi))

        class Config:
            def set_memory_pool_limit(self, pool, size):
                rec.calls.append(("set_memory_pool_limit", pool, size))

            def set_flag(self, flag):
                rec.calls.append(("set_flag", flag))

            def add_optimization_profile(self, profile):
                rec.calls.append(("add_optimization_profile",))

        class Builder:
            platform_has_fast_fp16 = fast_fp16

            def __init__(self, logger):
                pass

            def create_network(self, flags):
                rec.calls.append(("create_network", flags))
                return Network()

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                rec.calls.append(("build_serialized_network",))
                return b"PLAN"

        class OnnxParser:
            def __init__(self, network, logger):
                self.num_errors = len(errors)

            def parse_from_file(self, path):
                rec.calls.append(("parse_from_file", path))
                return parse_ok

            def get_error(self, i):
                return errors[i]

        flags = {"FP16": "FP16"} if has_fp16 else {}
        self.module = types.SimpleNamespace(
            __version__="10.99.0-standin", Logger=Logger, Builder=Builder, OnnxParser=OnnxParser,
            BuilderFlag=types.SimpleNamespace(**flags),
            NetworkDefinitionCreationFlag=types.SimpleNamespace(STRONGLY_TYPED=1),
            MemoryPoolType=types.SimpleNamespace(WORKSPACE="WORKSPACE"))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


@pytest.fixture
def fake_trt(monkeypatch):
    def install(**kwargs) -> Recorder:
        rec = Recorder(**kwargs)
        monkeypatch.setitem(sys.modules, "tensorrt", rec.module)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Stand-in GPU")
        return rec
    return install


def test_strongly_typed_fp16_build_and_header(fake_trt, onnx_fp16, tmp_path):
    rec = fake_trt()
    path, meta = export_trt.build_and_write(onnx_fp16[0], tmp_path / "m.engine", True, 1, 8, 32, 2.0)
    assert ("create_network", 1 << 1) in rec.calls  # STRONGLY_TYPED
    assert ("set_memory_pool_limit", "WORKSPACE", 2 << 30) in rec.calls
    assert ("set_shape", "image", (1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224)) in rec.calls
    assert not any(c[0] == "set_flag" for c in rec.calls)  # precision comes from the graph
    assert rec.names().index("add_optimization_profile") < rec.names().index("build_serialized_network")
    header, plan = read_engine(path)
    assert plan == b"PLAN" and header == meta
    assert header["precision"] == "fp16" and header["typing"] == "strong"
    assert (header["min_batch"], header["opt_batch"], header["max_batch"]) == ("1", "8", "32")
    assert header["tensorrt_version"] == "10.99.0-standin" and header["device"] == "Stand-in GPU"
    assert json.loads(header["config.json"])["threshold"] == pytest.approx(0.42)


@pytest.mark.parametrize("fast, expected", [(True, "fp16"), (False, "fp32")])
def test_weak_fp16_sets_the_flag_only_with_fast_fp16(fake_trt, onnx_score, fast, expected):
    rec = fake_trt(fast_fp16=fast)
    _plan, precision = export_trt.build_engine(onnx_score[0], True, 1, 8, 32, 1.0, weak_fp16=True)
    assert precision == expected and ("create_network", 0) in rec.calls
    assert (("set_flag", "FP16") in rec.calls) is fast


def test_every_parser_error_is_reported(fake_trt, onnx_score):
    fake_trt(parse_ok=False, errors=["In node 3 (Conv): bad weights", "In node 9 (Clip): unsupported"])
    with pytest.raises(export_trt.TrtError, match=r"2 error\(s\): In node 3 .* \| In node 9"):
        export_trt.build_engine(onnx_score[0], False)


def test_strong_typing_needs_the_matching_graph(fake_trt, onnx_score):
    fake_trt()
    with pytest.raises(export_trt.TrtError, match="needs an FP16 graph"):
        export_trt.build_engine(onnx_score[0], True)


def test_tensorrt_11_has_no_weak_fp16(fake_trt, onnx_score):
    fake_trt(has_fp16=False)
    with pytest.raises(export_trt.TrtError, match=r"no BuilderFlag\.FP16"):
        export_trt.build_engine(onnx_score[0], True, weak_fp16=True)


@pytest.mark.skipif(not have_tensorrt(), reason="needs TensorRT and a CUDA GPU (pip install '.[trt]')")
def test_real_engine_matches_onnxruntime(onnx_fp16, face_crops, tmp_path):
    path, _ = export_trt.build_and_write(onnx_fp16[0], tmp_path / "m.engine", True, 1, 4, 8, 1.0)
    parity = export_trt.verify_engine(path, onnx_fp16[0], face_crops, "astronaut")
    assert parity.ok and parity.tolerance == 1e-2 and set(parity.max_abs) == {"score"}


@pytest.mark.parametrize(("corrupt", "ok"), [(0.0, True), (0.05, False)])
def test_engine_check_compares_every_output(onnx_score, face_crops, tmp_path, monkeypatch, corrupt, ok):
    """verify_engine against onnxruntime, with an 'engine' that is onnxruntime plus an error: off by
    more than the limit, the engine file is removed and the message names the output."""
    import jrc.runtime
    from jrc.runtime import OnnxRunner

    class FakeEngine(OnnxRunner):
        def __init__(self, path):
            super().__init__(onnx_score[0], providers="cpu")
            self.precision = "fp32"

        def __call__(self, x):
            out = super().__call__(x)
            return {**out, "score": out["score"] + corrupt}

    monkeypatch.setattr(jrc.runtime, "TensorRTRunner", FakeEngine)
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    if ok:
        parity = export_trt.verify_engine(engine, onnx_score[0], face_crops, "astronaut")
        assert parity.ok and parity.reference == "onnxruntime" and engine.exists()
    else:
        message = r"m\.engine: parity vs onnxruntime .*Δscore\| 5\.00e-02.*FAILED"
        with pytest.raises(export_trt.TrtError, match=message):
            export_trt.verify_engine(engine, onnx_score[0], face_crops, "astronaut")
        assert not engine.exists()
