import contextlib
import io
import json

import cv2
from export_fixtures import onnx_score_fixture, small_ckpt_fixture  # noqa: F401 - fixtures

from export import bench


def test_bench_frame_is_720p_with_a_detectable_face(astronaut):
    from jrc.faces import FaceDetector

    frame = bench.bench_frame(astronaut)
    assert frame.shape == (720, 1280, 3)
    fd = FaceDetector()
    try:
        faces = fd.detect(frame)
    finally:
        fd.close()
    assert faces, "BlazeFace short-range finds no face in the benchmark frame"
    x0, y0, x1, y1 = faces[0].box
    assert x0 < 640 < x1 and y0 < 360 < y1


def test_write_clip(tmp_path, astronaut):
    path = bench.write_clip(tmp_path / "c.mp4", astronaut[:256, :256], seconds=1.0, fps=10)
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    cap.release()


def test_markdown_names_the_machine_and_flags_failures():
    info = {"name": "Test CPU, 2 cores", "physical_cores": 2, "torch": "2.x", "load_avg_1min": 3.0,
            "contended": True}
    settings = {"model": "m", "weights": "w", "parity_crops": "c", "runs": 8, "ort_threads": 2,
                "torch_threads": 2}
    rows = [bench.Row("JRC", "torch-cpu", "fp32", 17.6, 0.0, True, 20.0, 25.0, 10.0, 12.0, 100.0, 1.0),
            bench.Row("JRC", "onnx-cpu", "fp16", 9.5, 0.05, False, 10.0, 11.0, 5.0, 6.0, 200.0, 2.0,
                      notes=["a note"])]
    md = bench.markdown(rows, info, settings, ["JRC tensorrt fp16: TensorRT is not installed"])
    assert "Machine: Test CPU, 2 cores" in md and "timings are contended" in md
    assert "| JRC | onnx-cpu | fp16 | 9.5 | 5.0e-02 FAIL | 10.00 |" in md
    assert "- not run: JRC tensorrt fp16: TensorRT is not installed" in md
    assert "- JRC onnx-cpu fp16: a note" in md


def test_bad_arguments(capsys):
    want = "error: --runs must be >= 1 and --runtimes a subset of " + ",".join(bench.RUNTIMES)
    for argv in (["--runtimes", "torch,tflite"], ["--runs", "0"]):
        assert bench.main(argv) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == want


def test_smoke_torch_and_onnx(small_ckpt, onnx_score, tmp_path, monkeypatch):
    import export.onnx

    def exported(ckpt, path, **kwargs):  # the session's export of this model, not a new one
        path.write_bytes(onnx_score[0].read_bytes())
        return path
    monkeypatch.setattr(export.onnx, "export_onnx", exported)
    out = tmp_path / "bench.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        rc = bench.main(["--weights", str(small_ckpt.path), "--runs", "2", "--runtimes", "torch,onnx",
                         "--no-reference", "--no-e2e", "--no-fp16-cpu", "--json", str(out)])
    assert rc == 0, buf.getvalue()
    data = json.loads(out.read_text())
    rows = {r["runtime"]: r for r in data["rows"]}
    assert set(rows) == {"torch-cpu", "onnx-cpu"}
    assert rows["onnx-cpu"]["parity_ok"] and rows["onnx-cpu"]["parity"] <= 1e-4
    assert all(r["b1_p50"] > 0 and r["b16_p50"] > 0 and r["faces_per_s"] > 0 for r in rows.values())
    assert data["machine"]["physical_cores"] >= 1
    assert "| JRC efficientnet_lite0 | onnx-cpu |" in buf.getvalue()
