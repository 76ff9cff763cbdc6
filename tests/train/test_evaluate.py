import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import write_video

from jrc.detector import Detector
from jrc.model import ModelConfig
from jrc.video import analyze_video
from train import evaluate as ev

THRESHOLD = 0.45


class MeanRunner:
    """Stub runner: P(fake) = mean brightness of the crop (so a test controls every score)."""

    name = "stub"
    with_decoder = False

    def __init__(self):
        self.config = ModelConfig()  # 224 px, mean = std = 0.5

    def __call__(self, image):
        return {"score": (image * 0.5 + 0.5).mean(axis=(1, 2, 3)).astype(np.float32)}


@pytest.fixture
def detector():
    d = Detector(MeanRunner(), THRESHOLD)
    yield d
    if d._faces is not None:
        d._faces.close()


# grey levels -> scores v/255: reals 0.102, 0.400, 0.349; fakes 0.302, 0.800 | 0.902, 0.502
GREYS = {"youtube": [26, 102, 89], "Deepfakes": [77, 204], "FaceSwap": [230, 128]}


@pytest.fixture
def grey_crops(tmp_path):
    root = tmp_path / "crops"
    for source, levels in GREYS.items():
        (root / source).mkdir(parents=True)
        for k, v in enumerate(levels):
            cv2.imwrite(str(root / source / f"{k}.png"), np.full((64, 64, 3), v, np.uint8))
    return root


def test_crop_metrics_match_hand_computation(detector, grey_crops, tmp_path):
    res = ev.evaluate(detector, [f"toy={grey_crops}"], detect=False, cache_dir=tmp_path, progress=False)
    assert res["threshold"] == THRESHOLD and res["crop_mode"] == "as_is"
    (d,) = res["datasets"]
    assert d["name"] == "toy" and d["kind"] == "crops" and d["n_failed"] == 0 and d["video"] is None
    f = d["frame"]
    assert (f["n"], f["n_fake"]) == (7, 4)
    # fake > real pairs: 77 beats 26 only (1), 204, 230 and 128 beat all three reals (9): 10 of 12
    assert f["auc"] == pytest.approx(10 / 12, abs=1e-6)
    # at 0.45: the three reals and 204/230/128 are right, 77 (0.302) is missed
    assert f["acc"] == pytest.approx(6 / 7, abs=1e-6)
    assert (f["tnr"], f["tpr"]) == pytest.approx((1.0, 3 / 4), abs=1e-6)  # which side the error is on
    # FNR = 1/4 on the flat ROC stretch FPR 0..2/3 (between the fakes 128 and 77): crossing at 1/4
    assert f["eer"] == pytest.approx(0.25, abs=1e-6)
    # precision at each fake, in score order: 1, 1, 1, 4/6 -> AP = (3 + 4/6) / 4
    assert f["ap"] == pytest.approx((3 + 4 / 6) / 4, abs=1e-6)
    assert d["auc_per_source"] == pytest.approx({"Deepfakes": 4 / 6, "FaceSwap": 1.0}, abs=1e-6)
    by_path = {i["path"].split("crops/")[1]: i["score"] for i in d["items"]}
    assert by_path["youtube/1.png"] == pytest.approx(102 / 255, abs=1e-5)


def test_source_restriction_for_leave_one_method_out(detector, grey_crops, tmp_path):
    res = ev.evaluate(detector, [f"{grey_crops}:youtube,FaceSwap"], detect=False, cache_dir=tmp_path,
                      progress=False)
    (d,) = res["datasets"]
    assert d["name"].endswith("crops:youtube,FaceSwap") and d["sources"] == ["youtube", "FaceSwap"]
    assert (d["frame"]["n"], d["frame"]["n_fake"], d["frame"]["auc"]) == (5, 2, 1.0)
    with pytest.raises(ValueError, match="NeuralTextures"):
        ev.evaluate(detector, [f"{grey_crops}:youtube,NeuralTextures"], detect=False, progress=False)


def test_detect_path_counts_failures_and_never_scores_them(detector, astronaut, no_face_image,
                                                           bad_files, tmp_path):
    root = tmp_path / "faces"
    for sub in ("youtube", "NeuralTextures"):
        (root / sub).mkdir(parents=True)
    face = np.ascontiguousarray(astronaut[20:240, 80:300])  # a tight face crop, like the FF++ crops
    dark = (face * 0.6).astype(np.uint8)
    cv2.imwrite(str(root / "youtube" / "astro_dark.jpg"), cv2.cvtColor(dark, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "youtube" / "coffee.jpg"), cv2.cvtColor(no_face_image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "NeuralTextures" / "astro.jpg"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    shutil.copy(bad_files["empty"], root / "NeuralTextures" / "empty.jpg")
    res = ev.evaluate(detector, [str(root)], cache_dir=tmp_path / "cache", progress=False)
    (d,) = res["datasets"]
    assert res["crop_mode"] == "detect"
    assert (d["n_total"], d["n_scored"], d["n_failed"]) == (4, 2, 2)
    reasons = {f["path"].rsplit("/", 1)[1]: f["reason"] for f in d["failures"]}
    assert reasons == {"coffee.jpg": "no face detected", "empty.jpg": "unreadable image"}
    assert {i["path"].rsplit("/", 1)[1]: i["score"] for i in d["items"]}["coffee.jpg"] is None
    assert (d["frame"]["n"], d["frame"]["auc"]) == (2, 1.0)  # the brighter face scores higher


def test_video_aggregation(detector, astronaut_video, astronaut, bad_files, tmp_path):
    root = tmp_path / "videos"
    (root / "real").mkdir(parents=True)
    (root / "fake").mkdir()
    shutil.copy(astronaut_video, root / "real" / "astronaut.mp4")
    bright = [cv2.convertScaleAbs(cv2.warpAffine(astronaut, np.float32([[1, 0, 2 * i], [0, 1, 0]]),
                                                 (512, 512), borderMode=cv2.BORDER_REFLECT), beta=40)
              for i in range(20)]
    write_video(root / "fake" / "bright.mp4", bright)
    shutil.copy(bad_files["text_mp4"], root / "fake" / "notes.mp4")
    res = ev.evaluate(detector, [f"vids={root}"], frames=5, progress=False)
    (d,) = res["datasets"]
    assert d["kind"] == "videos" and (d["n_total"], d["n_scored"], d["n_failed"]) == (3, 2, 1)
    assert "notes.mp4" in d["failures"][0]["path"] and d["failures"][0]["reason"]
    v, f = d["video"], d["frame"]
    assert (v["n"], v["n_fake"], v["auc"]) == (2, 1, 1.0)
    assert (f["n"], f["n_fake"]) == (10, 5)  # 5 sampled frames per video, one face each
    scores = {i["path"].rsplit("/", 1)[1]: i["score"] for i in d["items"]}
    direct = analyze_video(detector, root / "real" / "astronaut.mp4", frames=5).score
    assert scores["astronaut.mp4"] == pytest.approx(direct, abs=1e-6)
    assert scores["bright.mp4"] > scores["astronaut.mp4"] and scores["notes.mp4"] is None


def test_markdown_table():
    result = {"threshold": 0.5, "datasets": [
        {"name": "crops", "n_failed": 1, "video": None,
         "frame": {"n": 7, "n_fake": 4, "auc": 10 / 12, "acc": 6 / 7, "tnr": 1.0, "tpr": 0.75, "eer": 0.25,
                   "ap": 0.9166667}},
        {"name": "vids", "n_failed": 0,
         "frame": {"n": 10, "n_fake": 10, "auc": float("nan"), "acc": 1.0, "tpr": 1.0},
         "video": {"n": 2, "n_fake": 1, "auc": 1.0, "acc": 0.5, "tnr": 0.0, "tpr": 1.0, "eer": 0.0,
                   "ap": 1.0}}]}
    lines = ev.markdown_table(result).splitlines()
    assert lines[0] == ("| dataset | level | n | fake | failed | AUC | ACC@0.500 | reals called real | "
                        "fakes called fake | EER | AP |")
    assert lines[1] == "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    assert lines[2] == "| crops | frame | 7 | 4 | 1 | 0.8333 | 0.8571 | 1.0000 | 0.7500 | 0.2500 | 0.9167 |"
    assert lines[3] == "| vids | frame | 10 | 10 | 0 | - | 1.0000 | - | 1.0000 | - | - |"  # no reals: "-"
    assert lines[4] == "| vids | video | 2 | 1 | 0 | 1.0000 | 0.5000 | 0.0000 | 1.0000 | 0.0000 | 1.0000 |"
    assert len(lines) == 5


def test_cli_prints_table_and_writes_json(detector, grey_crops, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ev, "load_detector", lambda weights, backend: detector)
    out = tmp_path / "out" / "eval.json"
    rc = ev.main(["--weights", "stub", "--data", f"toy={grey_crops}", "--as-is", "--json", str(out)])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert "| toy | frame | 7 | 4 | 0 | 0.8333 | 0.8571 | 1.0000 | 0.7500 | 0.2500 | 0.9167 |" in stdout
    saved = json.loads(out.read_text())
    assert saved["weights"] == "stub" and saved["datasets"][0]["frame"]["auc"] == pytest.approx(10 / 12)


def test_cli_errors(grey_crops, tmp_path, capsys):
    assert ev.main(["--data", str(tmp_path / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert ev.main(["--data", f"{grey_crops}:youtube,Nope"]) == 2
    assert "no source(s) ['Nope']" in capsys.readouterr().err
    assert ev.main(["--weights", str(tmp_path / "no_weights"), "--data", str(grey_crops)]) == 1
    assert "no_weights" in capsys.readouterr().err


def test_threshold_comes_from_the_weights_config(grey_crops, tmp_path):
    """A (random, untrained) model saved with a threshold: evaluate reads it, never picks one."""
    from jrc import weights
    from jrc.model import TwoBranchCAE

    weights.save(TwoBranchCAE(ModelConfig()), tmp_path / "w", threshold=0.37, metrics={"val_auc": 0.5})
    res = ev.evaluate(tmp_path / "w", [str(grey_crops)], backend="torch", detect=False, progress=False)
    assert res["threshold"] == 0.37 and res["weights_metrics"] == {"val_auc": 0.5}
    (d,) = res["datasets"]
    items = d["items"]
    labels = np.array([i["label"] for i in items])
    scores = np.array([i["score"] for i in items])
    assert d["frame"]["acc"] == pytest.approx(((scores >= 0.37) == labels).mean(), abs=1e-6)
