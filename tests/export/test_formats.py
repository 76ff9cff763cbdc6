import json
import os
import stat

import pytest

from export import formats


def test_artifact_names():
    assert formats.artifact_name(False, False, ".onnx") == "model.onnx"
    assert formats.artifact_name(True, True, ".engine") == "model_decoder_fp16.engine"
    assert {f.name for f in formats.FORMATS} == {"torch", "onnx", "tensorrt"}


def test_engine_header_round_trip(tmp_path):
    meta = {"architecture": "efficientnet_lite0", "threshold": "0.42", "config.json": json.dumps({"a": 1})}
    path = formats.write_engine(tmp_path / "m.engine", b"\x00plan-bytes\xff", meta)
    blob = path.read_bytes()
    assert blob[:8] == formats.ENGINE_MAGIC
    n = int.from_bytes(blob[8:12], "little")
    assert json.loads(blob[12:12 + n]) == meta and blob[12 + n:] == b"\x00plan-bytes\xff"
    assert formats.read_engine(path) == (meta, b"\x00plan-bytes\xff")


@pytest.mark.parametrize("blob, message", [
    (b"ftyp-plain-tensorrt-plan", "not a JRC TensorRT engine"),
    (formats.ENGINE_MAGIC + b"\x01", "truncated engine file"),
    (formats.ENGINE_MAGIC + (1000).to_bytes(4, "little") + b"{}", "corrupt engine header"),
    (formats.ENGINE_MAGIC + (2).to_bytes(4, "little") + b"[]plan", "not a JSON object"),
    (formats.ENGINE_MAGIC + (3).to_bytes(4, "little") + b"{x}plan", "corrupt engine metadata"),
    (formats.pack_engine(b"", {"a": "b"}), "no engine"),
])
def test_bad_engine_files_are_named(blob, message):
    with pytest.raises(ValueError, match=message) as e:
        formats.unpack_engine(blob, "x.engine")
    assert "x.engine" in str(e.value)


def test_engine_metadata_must_be_strings():
    with pytest.raises(TypeError):
        formats.pack_engine(b"plan", {"batch": 8})


def test_atomic_write_leaves_an_ordinary_file(tmp_path):
    path = formats.atomic_write(tmp_path / "sub" / "a.bin", b"123")
    assert path.read_bytes() == b"123" and [p.name for p in path.parent.iterdir()] == ["a.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_cache_dir_and_writable(monkeypatch, tmp_path):
    monkeypatch.setenv("JRC_CACHE", str(tmp_path / "c"))
    assert formats.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("JRC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert formats.cache_dir() == tmp_path / "jrc"
    assert formats.writable_dir(tmp_path)
    assert not formats.writable_dir(tmp_path / "missing")


def test_config_from_metadata_errors_name_the_file():
    with pytest.raises(ValueError, match=r"m\.onnx: no usable JRC metadata"):
        formats.config_from_metadata({"architecture": "x"}, "m.onnx")
