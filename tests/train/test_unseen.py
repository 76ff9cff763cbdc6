"""``train.unseen``: which fakes count as unseen, and AUCs computed from the model's own scores."""

import cv2
import numpy as np
import pytest

from jrc import weights
from train.config import TrainConfig
from train.data import cache_crops, scan_crop_folder
from train.loop import train
from train.metrics import auc
from train.splits import labelled_split
from train.unseen import compare, main, unseen_by_method
from train.validation import predict


@pytest.fixture(scope="module")
def three_folders(tmp_path_factory, astronaut):
    """youtube/ (real), Deepfakes/ and Face2Face/ (fake) astronaut variants, 6 images each."""
    root = tmp_path_factory.mktemp("three")
    rng = np.random.default_rng(1)
    for sub, blur in (("youtube", 0), ("Deepfakes", 9), ("Face2Face", 5)):
        (root / sub).mkdir()
        for i in range(6):
            m = np.float32([[1, 0, rng.integers(-20, 20)], [0, 1, rng.integers(-20, 20)]])
            img = cv2.warpAffine(astronaut, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
            if blur:
                img[80:200, 160:280] = cv2.GaussianBlur(img[80:200, 160:280], (blur, blur), 3)
            cv2.imwrite(str(root / sub / f"{i}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


def run(root, out, **kw):
    cfg = TrainConfig(**{"data": str(root), "out": str(out), "cache_dir": str(out / "cache"), "epochs": 1,
                         "steps_per_epoch": 1, "batch_size": 4, "val_frac": 0.34, "sbi_ratio": 0.5, **kw})
    return train(cfg), cfg


def test_left_out_folder_is_unseen_and_scored_whole(three_folders, tmp_path):
    best, cfg = run(three_folders, tmp_path, sources=["youtube", "Deepfakes"])
    got = unseen_by_method(best)
    df, f2f = got["methods"]["Deepfakes"], got["methods"]["Face2Face"]
    assert df["seen"] and not f2f["seen"] and got["unseen_mean"] == f2f["auc"]

    # the same AUCs by hand: validation reals against the held-out folder's every face crop
    model = weights.load(best).model
    split = labelled_split(cfg, 224)
    reals = split.val[split.labels[split.val] == 0]
    assert got["val_reals"] == len(reals)
    c, found, _ = cache_crops(scan_crop_folder(three_folders, ["Face2Face"]), 224, cfg.cache_dir)
    r, f = predict(model, split.crops[reals]), predict(model, c[found])
    assert f2f["fakes"] == int(found.sum())
    assert f2f["auc"] == pytest.approx(auc(np.r_[np.zeros(len(r)), np.ones(len(f))], np.r_[r, f]), abs=1e-4)
    val_df = [i for i in split.val if split.samples[i].source == "Deepfakes"]
    assert df["fakes"] == len(val_df)  # a folder it trained on: its validation part only


def test_left_out_method_is_unseen_and_scored_whole(three_folders, tmp_path):
    best, cfg = run(three_folders, tmp_path, leave_out="Face2Face")
    got = unseen_by_method(best)
    f2f = got["methods"]["Face2Face"]
    assert not f2f["seen"] and got["methods"]["Deepfakes"]["seen"]
    assert f2f["fakes"] == len(labelled_split(cfg, 224).left_out) == 6


def test_self_blends_only_run_has_seen_no_fake_folder(three_folders, tmp_path):
    best, cfg = run(three_folders, tmp_path, sbi_ratio=1.0)
    got = unseen_by_method(best)
    split = labelled_split(cfg, 224)
    for src, m in got["methods"].items():
        assert not m["seen"]
        both = np.r_[split.train, split.val]
        assert m["fakes"] == sum(split.samples[i].source == src for i in both)
    assert "warning" not in got


def test_a_fine_tuned_run_warns_that_its_start_saw_more(three_folders, tmp_path):
    start, _ = run(three_folders, tmp_path / "a")
    best, _ = run(three_folders, tmp_path / "b", init=str(start), sbi_ratio=1.0)
    assert str(start) in unseen_by_method(best)["warning"]


def test_cli_names_weights_without_training_config(tmp_path, capsys):
    assert main(["--weights", str(tmp_path / "nothing")]) == 2
    assert "nothing" in capsys.readouterr().err


def test_compare_pairs_two_runs_on_one_split(three_folders, tmp_path):
    """Seed 0 vs seed 1 on split seed 0: same validation reals, so every folder gets a paired difference."""
    a, _ = run(three_folders, tmp_path / "a", sbi_ratio=1.0)
    b, _ = run(three_folders, tmp_path / "b", sbi_ratio=1.0, seed=1, split_seed=0)
    got, alone_a, alone_b = compare(a, b), unseen_by_method(a), unseen_by_method(b)
    assert got["against"] == str(b)
    for src, m in got["methods"].items():
        lo, hi = m["ci"]
        assert lo <= m["auc"] <= hi
        by_hand = alone_a["methods"][src]["auc"] - alone_b["methods"][src]["auc"]
        assert m["diff"] == pytest.approx(by_hand, abs=2e-4)
        assert m["diff_ci"][0] <= m["diff"] <= m["diff_ci"][1]
    assert all(m["diff_ci"] == [0.0, 0.0] for m in compare(a, a)["methods"].values())

    mix, _ = run(three_folders, tmp_path / "c")  # trained on FF++ fakes: seen, validation part only
    mixed = compare(mix, a)  # the self-blend run scores each folder's every crop: other crops
    assert mixed["methods"] and not any("diff" in m for m in mixed["methods"].values())

    other_split, _ = run(three_folders, tmp_path / "d", sbi_ratio=1.0, split_seed=5)
    with pytest.raises(ValueError, match="different validation reals"):
        compare(a, other_split)
