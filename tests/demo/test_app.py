"""The served app through ``gradio_client`` (in-process launch, shipped weights), and app.py."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import pytest
from demo_fixtures import served_url, shipped_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served():
    return served_url()


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served, verbose=False)


def png(path: Path, rgb) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def test_api_names(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {
        "/analyze_image", "/analyze_video"}


def test_analyze_image(client, astronaut, tmp_path):
    from gradio_client import handle_file

    annotated, verdict, faces, panels, report = client.predict(
        handle_file(str(png(tmp_path / "astronaut.png", astronaut))), api_name="/analyze_image")
    assert len(faces["data"]) == 1
    rec = json.loads(Path(report).read_text())
    assert rec["status"] == "ok" and rec["path"] == "astronaut.png" and 0.0 <= rec["score"] <= 1.0
    assert faces["data"][0][1] == f"{rec['score']:.2f}"
    assert f"P(fake) {rec['score']:.2f}" in verdict and "threshold" in verdict
    assert cv2.imread(annotated).shape == astronaut.shape
    size = shipped_engine().detector.input_size  # tiles are at the model's input size
    assert cv2.imread(panels).shape[1] == 4 * size + 5 * 6  # crop | reconstruction | residual | mask


def test_analyze_video(client, astronaut_video):
    from gradio_client import handle_file

    video, _verdict, tracks, timeline, report = client.predict(
        handle_file(str(astronaut_video)), 8, api_name="/analyze_video")
    rec = json.loads(Path(report).read_text())
    assert rec["status"] == "ok" and rec["frames"] == 8 and len(rec["timeline"]) == 8
    assert len(tracks["data"]) == len(rec["tracks"]) >= 1
    series = [row[2] for row in timeline["value"]["data"]]
    assert series.count("threshold") == 2 and len(series) == 10
    path = video["video"] if isinstance(video, dict) else video
    assert path.endswith(".webm") and b"V_VP8" in Path(path).read_bytes()[:4096]


def test_bad_uploads_get_messages(client, bad_files, tmp_path):
    from gradio_client import handle_file

    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    for path in (text, bad_files["empty"], bad_files["truncated"]):
        out = client.predict(handle_file(str(path)), api_name="/analyze_image")
        assert out[0] is None and "Could not analyse" in out[1] and path.name in out[1], out[1]
        assert json.loads(Path(out[4]).read_text())["status"] == "error"
    out = client.predict(handle_file(str(bad_files["text_mp4"])), 8, api_name="/analyze_video")
    assert "not a readable video" in out[1] and out[0] is None


def test_eight_concurrent_clients(served, astronaut, tmp_path):
    from gradio_client import Client, handle_file

    path = str(png(tmp_path / "small.png", cv2.resize(astronaut, (256, 256))))

    def one(_):
        c = Client(served, verbose=False)
        return json.loads(Path(c.predict(handle_file(path), api_name="/analyze_image")[4]).read_text())

    with ThreadPoolExecutor(8) as pool:
        recs = list(pool.map(one, range(8)))
    assert [r["status"] for r in recs] == ["ok"] * 8
    assert len({r["score"] for r in recs}) == 1  # same input, same answer, whatever the interleaving


def jrc_env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("JRC_")}


def test_app_without_weights_fails_clearly(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    import app

    before = jrc_env()
    assert app.main(["--weights", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "cannot load the model" in err and "config.json" in err and "--weights" in err
    assert jrc_env() == before  # settings are arguments, never environment variables


def test_app_builds_artifacts_then_loads_and_launches(tmp_path, monkeypatch):
    """main is wiring: prepare the decoder runner's artifact (only that one before the port is up),
    load the engine with the CLI's settings and a hook that prepares the score-only runner's
    artifact when that runner is first built, build the UI with the examples folder, launch."""
    from demo_fixtures import tiny_engine, tiny_weights

    import demo.engine
    import export.resolve
    from demo import ui

    monkeypatch.syspath_prepend(str(ROOT))
    import app

    engine = tiny_engine()
    calls = []
    monkeypatch.setattr(export.resolve, "prepare",
                        lambda ckpt, backend, with_decoder: calls.append(("prepare", ckpt.path, backend,
                                                                          with_decoder)))

    def load(ckpt, backend, **kwargs):
        calls.append(("load", ckpt.path, backend, kwargs))
        return engine

    monkeypatch.setattr(demo.engine.Engine, "load", staticmethod(load))
    monkeypatch.setattr(ui, "build", lambda engine, examples: calls.append(("build", examples)) or "app")
    monkeypatch.setattr(ui, "launch", lambda blocks, host, port: calls.append(("launch", blocks, host, port)))
    before = jrc_env()
    w = tiny_weights()
    argv = ["--weights", str(w), "--backend", "torch", "--tta", "--threads", "3", "--examples-dir",
            str(tmp_path), "--port", "7999"]
    assert app.main(argv) == 0
    hook = calls[1][3].pop("before_score_runner")  # the score-only graph: built later, on first use
    assert calls == [("prepare", w, "torch", True),
                     ("load", w, "torch", {"tta": True, "threads": 3, "spinning": False}),
                     ("build", str(tmp_path)), ("launch", "app", "127.0.0.1", 7999)]
    hook("torch")
    assert calls[-1] == ("prepare", w, "torch", False)
    assert jrc_env() == before


def test_app_args(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("JRC_WEIGHTS", "someone/jrc-lite0")
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    import app

    a = app.parse_args(["--port", "7999"])
    assert (a.weights, a.backend, a.host, a.port) == ("someone/jrc-lite0", "auto", "127.0.0.1", 7999)
    assert (a.tta, a.threads, a.spin, a.examples_dir) == (False, None, False, None)
    assert app.parse_args(["--weights", "w"]).weights == "w"
    assert app.parse_args(["--tta"]).tta and not app.parse_args(["--tta", "--no-tta"]).tta
    assert app.parse_args(["--spin"]).spin and not app.parse_args(["--no-spin"]).spin
    assert app.parse_args(["--threads", "2"]).threads == 2
    monkeypatch.setenv("JRC_TTA", "1")  # no longer read: --tta is the switch
    assert not app.parse_args([]).tta
    assert __import__("os").environ["GRADIO_ANALYTICS_ENABLED"] == "False"  # set on import, before gradio


@pytest.mark.parametrize(("argv", "message"), [
    (["--threads", "0"], "argument --threads: must be a whole number >= 1, got '0'"),
    (["--threads", "two"], "argument --threads: must be a whole number >= 1, got 'two'"),
    (["--backend", "tpu"], "argument --backend: invalid choice: 'tpu'"),
    (["--port", "http"], "argument --port: invalid int value: 'http'"),
])
def test_app_bad_args_say_what_is_wrong(monkeypatch, capsys, argv, message):
    monkeypatch.syspath_prepend(str(ROOT))
    import app

    with pytest.raises(SystemExit) as e:
        app.parse_args(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_app_listens_on_all_interfaces_on_spaces(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.setenv("SPACE_ID", "someone/jrc")
    import app

    assert app.parse_args([]).host == "0.0.0.0"
