"""jrc.detector on the shipped weights (torch backend). They ship with this repo: without them
these tests fail (the loader raises), they do not skip."""

import re

import cv2
import numpy as np
import pytest

import jrc.detector as det_mod
from jrc.detector import Detector, mean_logit


@pytest.fixture(scope="module")
def detector():
    return Detector.from_pretrained(backend="torch")


def test_analyze_image_astronaut(detector, astronaut):
    (face,) = detector.analyze_image(astronaut)
    s = detector.input_size
    assert 0.0 <= face.score <= 1.0 and face.label in ("fake", "real")
    assert face.crop.shape == face.reconstruction.shape == (s, s, 3)
    assert face.residual.shape == (s, s) and 0 <= face.residual.min() <= face.residual.max() <= 1
    assert (face.mask is None) == (not detector.config.mask_head)


def test_analyze_crops_matches_image_path(detector, astronaut):
    (face,) = detector.analyze_image(astronaut)
    (again,) = detector.analyze_crops([face.crop])
    assert again.score == pytest.approx(face.score, abs=1e-5)
    big = np.kron(face.crop, np.ones((2, 2, 1), np.uint8))  # area-resizes back to the exact crop
    (again,) = detector.analyze_crops([big], reframe=False)
    assert again.score == pytest.approx(face.score, abs=1e-5)


def test_missing_face_model_fails_at_load(monkeypatch, tmp_path):
    from jrc import faces
    from jrc.weights import WeightsError

    monkeypatch.setitem(faces.FACE_MODELS, "full_range", tmp_path / "gone.tflite")
    with pytest.raises(WeightsError, match=r"face model 'full_range' not found at .*gone\.tflite"):
        Detector.from_pretrained(backend="torch", with_decoder=False)


def test_weights_root_falls_back_to_the_working_folder(monkeypatch, tmp_path):
    from jrc import paths

    assert paths.weights_root() == paths._CHECKOUT_WEIGHTS  # a checkout: beside the package
    monkeypatch.setattr(paths, "_CHECKOUT_WEIGHTS", tmp_path / "site-packages" / "weights")
    monkeypatch.chdir(tmp_path)
    assert paths.weights_root() == tmp_path / "weights"  # pip install .: ./weights


def test_no_face_returns_empty(detector, no_face_image):
    assert detector.analyze_image(no_face_image) == []


def test_results_carry_the_framing_of_their_crop(detector, astronaut):
    from jrc.faces import FRAMING

    (face,) = detector.analyze_image(astronaut)
    assert face.framing == FRAMING["short_range"]
    assert detector.analyze_crops([face.crop])[0].framing is None


def test_analyze_crops_reframes_when_asked(detector, astronaut, no_face_image):
    (face,) = detector.analyze_image(astronaut)
    x0, y0, x1, _ = (int(v) for v in face.box)
    side = int(1.8 * (x1 - x0))  # a looser, off-centre crop, as another tool might make
    oy, ox = max(0, y0 - side // 3), max(0, x0 - side // 5)
    loose = astronaut[oy:oy + side, ox:ox + side]
    reframed, coffee = detector.analyze_crops([loose, no_face_image], reframe=True)
    assert reframed.reframed is True and reframed.box is not None and reframed.framing is not None
    # the same face, framed alike: far closer to the image path's crop than the tight crop resized
    as_given = cv2.resize(loose, face.crop.shape[:2][::-1], interpolation=cv2.INTER_AREA)
    err_reframed = np.abs(reframed.crop.astype(np.float32) - face.crop).mean()
    assert err_reframed < np.abs(as_given.astype(np.float32) - face.crop).mean() / 2
    assert coffee.reframed is False and coffee.box is None and 0 <= coffee.score <= 1
    assert reframed.to_dict()["reframed"] is True
    (plain,) = detector.analyze_crops([loose])
    assert plain.reframed is None and "reframed" not in plain.to_dict()


def test_mean_logit_known_values():
    p = np.array([0.1, 0.5, 0.97])
    assert np.allclose(mean_logit(p, p), p)
    assert np.allclose(mean_logit(np.array([0.9]), np.array([0.1])), 0.5)
    # logit(0.8) = log 4, logit(0.5) = 0 -> mean log 2 -> P = 2/3
    assert np.allclose(mean_logit(np.array([0.8]), np.array([0.5])), 2 / 3)


def test_tta_averages_the_face_and_its_mirror(detector, astronaut):
    (face,) = detector.analyze_image(astronaut)
    plain, mirrored = detector.analyze_crops([face.crop, face.crop[:, ::-1].copy()])
    assert plain.score != pytest.approx(mirrored.score, abs=1e-4)  # the mirror is a different input
    tta = Detector(detector.runner, detector.threshold, tta=True)
    (both,) = tta.analyze_crops([face.crop])
    expected = mean_logit(np.array([plain.score]), np.array([mirrored.score]))[0]
    assert both.score == pytest.approx(expected, abs=1e-5)
    assert both.label == ("fake" if both.score >= detector.threshold else "real")
    # the overlays are the unmirrored crop's (batch size may move a uint8 level)
    assert np.abs(both.reconstruction.astype(int) - plain.reconstruction).max() <= 1


class Counted:
    """A runner wrapper that counts its calls."""

    def __init__(self, runner) -> None:
        self.runner, self.calls = runner, 0
        self.name, self.config, self.with_decoder = runner.name, runner.config, runner.with_decoder

    def __call__(self, image):
        self.calls += 1
        return self.runner(image)


def counting_create_runner(monkeypatch) -> list[dict]:
    """Record every ``create_runner`` call the detector makes (its keyword arguments)."""
    made, real = [], det_mod.create_runner

    def create(ckpt, backend="auto", **kwargs):
        made.append({"backend": backend, **kwargs})
        return real(ckpt, backend, **kwargs)

    monkeypatch.setattr(det_mod, "create_runner", create)
    return made


def test_one_score_only_runner_built_on_first_use(monkeypatch, astronaut):
    """Mirrors (tta) and decoder-free calls share one score-only runner, built when first needed."""
    made = counting_create_runner(monkeypatch)
    tta = Detector.from_pretrained(backend="torch", tta=True)
    assert [m["with_decoder"] for m in made] == [True]  # nothing else yet
    (face,) = tta.analyze_image(astronaut)
    (fast,) = tta.analyze_image(astronaut, decoder=False)
    assert [m["with_decoder"] for m in made] == [True, False]
    assert made[1]["backend"] == "torch"  # the runner's own backend, so both passes agree
    assert tta.runner.with_decoder and not tta.score_runner.with_decoder
    assert tta.score_runner.name == tta.runner.name
    assert fast.score == pytest.approx(face.score, abs=1e-5)
    assert fast.reconstruction is None and fast.residual is None and fast.mask is None


def test_tta_mirrors_through_the_score_only_runner(detector, astronaut):
    """With the decoder, the mirrored pass runs the score-only runner, and the flip-averaged score
    is what one runner doing both passes gives (onnx: tests/jrc/test_runtime.py)."""
    tta = Detector.from_pretrained(backend="torch", tta=True)
    full, mirror = Counted(tta.runner), Counted(tta.score_runner)
    (face,) = detector.analyze_image(astronaut)
    (fast,) = Detector(full, tta.threshold, tta=True, score_runner=mirror).analyze_crops([face.crop])
    assert (full.calls, mirror.calls) == (1, 1)  # the decoder runs once, for the unmirrored crop
    (slow,) = Detector(tta.runner, tta.threshold, tta=True).analyze_crops([face.crop])
    assert fast.score == pytest.approx(slow.score, abs=1e-5)
    assert fast.reconstruction is not None


def test_a_score_only_detector_is_its_own_score_runner(monkeypatch):
    made = counting_create_runner(monkeypatch)
    det = Detector.from_pretrained(backend="torch", with_decoder=False, tta=True)
    assert det.score_runner is det.runner and len(made) == 1


def test_threads_and_spinning_reach_the_runners(monkeypatch, astronaut):
    made = counting_create_runner(monkeypatch)
    det = Detector.from_pretrained(backend="torch", threads=3, spinning=False)
    det.analyze_image(astronaut, decoder=False)
    assert [(m["threads"], m["spinning"]) for m in made] == [(3, False), (3, False)]
    Detector.from_pretrained(backend="torch")
    assert (made[-1]["threads"], made[-1]["spinning"]) == (None, True)


def test_score_runner_must_share_the_model_config(detector):
    from dataclasses import replace

    other = type("R", (), {"name": "other", "with_decoder": False,
                           "config": replace(detector.config, input_size=detector.input_size + 32)})()
    msg = f"score_runner (other) has another model config than runner ({detector.runner.name})"
    with pytest.raises(ValueError, match=re.escape(msg)):
        Detector(detector.runner, 0.5, tta=True, score_runner=other)


def test_without_a_score_only_runner_the_decoder_runner_scores(monkeypatch, caplog, astronaut):
    """If the backend cannot make the score-only runner, the decoder runner scores everything."""
    from jrc.runtime import BackendUnavailable

    make = det_mod.create_runner

    def no_score_only(ckpt, backend="auto", with_decoder=True, **kwargs):
        if not with_decoder:
            raise BackendUnavailable("no score-only artifact here")
        return make(ckpt, backend, with_decoder=with_decoder, **kwargs)

    monkeypatch.setattr(det_mod, "create_runner", no_score_only)
    tta = Detector.from_pretrained(backend="torch", tta=True)
    (face,) = tta.analyze_image(astronaut, decoder=False)
    assert tta.score_runner is tta.runner and face.reconstruction is None
    assert (f"no score-only runner (no score-only artifact here): {tta.runner.name} also scores the "
            "mirrored crops and the calls without the decoder") in caplog.text


def test_group_photo_every_face_scored(detector, astronaut):
    from test_faces import group_photo

    img, _ = group_photo(astronaut)
    results = detector.analyze_image(img, decoder=False)
    assert 3 <= len(results) <= 4  # the three faces (and test_faces' one known false detection)
    assert all(0.0 <= r.score <= 1.0 and r.box is not None for r in results)
    assert detector.faces.max_faces >= 20
