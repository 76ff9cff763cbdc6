"""demo.engine: one detector behind a lock, the score-only runner it shares, the output folder."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from demo_fixtures import tiny_engine, tiny_weights

from demo.engine import Engine


def test_one_detector_with_a_lazy_score_only_runner(astronaut, monkeypatch):
    """Webcam frames between decoder passes and the mirrors of --tta share one score-only runner,
    built on first use (there is no second detector)."""
    import jrc.detector

    made, real = [], jrc.detector.create_runner

    def counting(*args, **kwargs):
        made.append(kwargs.get("with_decoder"))
        return real(*args, **kwargs)

    monkeypatch.setattr(jrc.detector, "create_runner", counting)
    engine = Engine.load(str(tiny_weights()), "torch", tta=True)
    assert made == [True] and engine.tta and engine.detector.runner.with_decoder
    (face,) = engine.analyze(astronaut)  # tta: the mirror needs the score-only runner
    (fast,) = engine.analyze(astronaut, decoder=False)
    assert made == [True, False]  # built once, used twice
    assert not engine.detector.score_runner.with_decoder
    assert face.reconstruction is not None and fast.reconstruction is None and fast.mask is None
    assert fast.score == pytest.approx(face.score, abs=1e-5)


def test_reports_say_whether_tta_was_on():
    plain = tiny_engine()
    rec = json.loads(Path(plain.write_report({"status": "ok"}, "clip.mp4")).read_text())
    assert rec == {"status": "ok", "tta": False}
    assert plain.write_report({}, "clip.mp4").endswith("clip.jrc.json")


def test_outputs_are_pruned():
    engine = tiny_engine()
    old = engine.out_path("a.json")
    old.write_text("{}")
    os.utime(old.parent, (0, 0))
    new = engine.out_path("b.json")
    assert engine.prune() >= 1 and not old.parent.exists() and new.parent.exists()


def test_save_rgb(astronaut):
    import cv2

    engine = tiny_engine()
    assert engine.save_rgb(None, "x.jpg") is None
    path = engine.save_rgb(astronaut, "a.jpg")
    assert cv2.imread(path).shape == astronaut.shape


def test_save_rgb_png_without_a_jpeg_flag(astronaut, capfd):
    """faces.png was written with a JPEG quality flag: OpenCV warned `imwrite_ An unsupported key`."""
    import cv2

    engine = tiny_engine()
    path = engine.save_rgb(astronaut, "faces.png")
    back = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    assert path.endswith(".png") and np.array_equal(back, astronaut)  # PNG: lossless
    assert "unsupported key" not in capfd.readouterr().err
