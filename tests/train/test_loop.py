"""Training smoke tests: a 2-step run writes weights jrc loads; the same under torchrun (gloo)."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import ROOT

from jrc import weights
from jrc.preprocess import normalize
from train import loop
from train.__main__ import parse_overrides
from train.config import load_config
from train.data import nearest_distances, sharpness
from train.loop import (
    DEFAULTS,
    LabelledSplit,
    PairedData,
    labelled_split,
    load_teacher,
    recipe_changes,
    split_key,
    teacher_logits,
    train,
    twin_fakes,
)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory, astronaut):
    """youtube/ (real) and Deepfakes/ (fake) folders of astronaut variants, 6 images each."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for sub in ("youtube", "Deepfakes"):
        (root / sub).mkdir()
        for i in range(6):
            m = np.float32([[1, 0, rng.integers(-20, 20)], [0, 1, rng.integers(-20, 20)]])
            img = cv2.warpAffine(astronaut, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
            if sub == "Deepfakes":  # a crude manipulation: blur the face region
                img[80:200, 160:280] = cv2.GaussianBlur(img[80:200, 160:280], (9, 9), 3)
            cv2.imwrite(str(root / sub / f"{i}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


def tiny_cfg(root, out, **kw):
    return {**DEFAULTS, "data": str(root), "out": str(out), "cache_dir": str(out / "cache"),
            "epochs": 1, "steps_per_epoch": 2, "batch_size": 4, "val_frac": 0.34,
            "mask_head": True, "lambda_mask": 1.0, "sbi_ratio": 0.5, **kw}


def test_two_step_run_writes_loadable_weights(tiny_dataset, tmp_path):
    best = train(tiny_cfg(tiny_dataset, tmp_path))
    ckpt = weights.load(best)
    assert ckpt.config.mask_head and 0.0 <= ckpt.threshold <= 1.0
    assert set(ckpt.meta["metrics"]) >= {"val_ffpp", "val_sbi", "val_ffpp_deg", "val"}
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,steps,loss,bce,rec,mask") and len(log) == 2
    assert (tmp_path / "last.pt").is_file()


def test_input_size_overrides_the_encoder_default(tiny_dataset, tmp_path):
    """``input_size`` trains (crops, decoder, stored config) at that size instead of Lite0's 224."""
    best = train(tiny_cfg(tiny_dataset, tmp_path, input_size=160))
    ckpt = weights.load(best)
    assert ckpt.config.input_size == 160
    with torch.no_grad():
        out = ckpt.model.eval()(torch.zeros(1, 3, 160, 160))
    assert out["reconstruction"].shape[-2:] == (160, 160)
    assert list((tmp_path / "cache").glob("crops160_*.npz"))


def test_resume_continues_from_last_epoch(tiny_dataset, tmp_path):
    train(tiny_cfg(tiny_dataset, tmp_path, epochs=1))
    train(tiny_cfg(tiny_dataset, tmp_path, epochs=2, resume=True))
    rows = (tmp_path / "log.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["1", "2"]
    with pytest.raises(ValueError, match=r"saved with other settings \(sbi_local: 0.0 -> 0.5; twin_pairs"):
        train(tiny_cfg(tiny_dataset, tmp_path, epochs=3, resume=True, sbi_local=0.5, twin_pairs=1.0))
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 3  # nothing trained


def test_ema_validates_and_saves_the_weight_average(tiny_dataset, tmp_path):
    """With ``ema``, the saved best is the moving average (not the raw weights), and the raw
    weights' validation is logged beside it as ``val_raw``; the average resumes with the run."""
    best = train(tiny_cfg(tiny_dataset, tmp_path, ema=0.5))
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    saved = weights.load(best).model.state_dict()
    averaged = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    assert all(torch.equal(saved[k], averaged[k]) for k in saved)
    assert not torch.equal(saved["classifier.fc2.weight"], state["model"]["classifier.fc2.weight"])
    header, row = (tmp_path / "log.csv").read_text().splitlines()
    assert 0.0 <= float(dict(zip(header.split(","), row.split(","), strict=True))["val_raw"]) <= 1.0
    assert int(state["ema"]["n_averaged"]) == 2
    train(tiny_cfg(tiny_dataset, tmp_path, ema=0.5, epochs=2, resume=True))
    assert int(torch.load(tmp_path / "last.pt", weights_only=False)["ema"]["n_averaged"]) == 4
    with pytest.raises(ValueError, match=r"saved with ema=0\.5"):
        train(tiny_cfg(tiny_dataset, tmp_path, epochs=3, resume=True))  # the average would be lost
    for bad in (1.0, -0.1, True, None, "0.9"):
        with pytest.raises(ValueError, match="ema="):
            train(tiny_cfg(tiny_dataset, tmp_path / "bad", ema=bad))


def test_init_fine_tunes_and_keeps_the_start_as_a_candidate(tiny_dataset, tmp_path):
    start = train(tiny_cfg(tiny_dataset, tmp_path / "a"))
    best = train(tiny_cfg(tiny_dataset, tmp_path / "b", init=str(start), degrade=1.0, select_on="mean_deg"))
    rows = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]  # epoch 0 = the starting weights
    epoch0 = dict(zip(rows[0].split(","), rows[1].split(","), strict=True))
    start_val = weights.load(start).meta["metrics"]["val_ffpp"]
    assert float(epoch0["val_ffpp"]) == pytest.approx(start_val, abs=1e-4)
    meta = weights.load(best).meta["training"]
    assert meta["epoch"] in (0, 1) and meta["init"]["path"] == str(start)
    assert meta["init"]["metrics"] == weights.load(start).meta["metrics"]
    with pytest.raises(ValueError, match="mask_head"):
        train(tiny_cfg(tiny_dataset, tmp_path / "c", init=str(start), mask_head=False))
    with pytest.raises(ValueError, match="another train/validation split"):
        train(tiny_cfg(tiny_dataset, tmp_path / "d", init=str(start), seed=1))


def test_init_from_another_input_size_fine_tunes_at_the_new_size(tiny_dataset, tmp_path):
    """A fully convolutional encoder/decoder starts at another size; epoch 0 scores the start at it."""
    start = train(tiny_cfg(tiny_dataset, tmp_path / "a", input_size=160))
    best = train(tiny_cfg(tiny_dataset, tmp_path / "b", init=str(start), input_size=128))
    ckpt = weights.load(best)
    assert ckpt.config.input_size == 128 and ckpt.meta["training"]["init"]["path"] == str(start)
    rows = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]


def test_distillation_from_a_teacher_at_another_size(tiny_dataset, tmp_path):
    """A frozen teacher (here at 160 px) scores each training image resized to its size; the
    distillation term is logged; a teacher from another split is refused, and so is resuming with
    other distillation settings."""
    teacher_dir = train(tiny_cfg(tiny_dataset, tmp_path / "t", input_size=160))
    cfg = tiny_cfg(tiny_dataset, tmp_path / "s", input_size=128, teacher=str(teacher_dir), lambda_distill=1.0)
    best = train(cfg)
    assert weights.load(best).config.input_size == 128
    header, row = (tmp_path / "s" / "log.csv").read_text().splitlines()
    assert float(dict(zip(header.split(","), row.split(","), strict=True))["distill"]) > 0

    teacher, size = load_teacher(cfg, 128, torch.device("cpu"))
    assert size == 160 and not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    files = sorted((tiny_dataset / "youtube").glob("*.jpg"))[:3]
    imgs = np.stack([cv2.resize(cv2.imread(str(f))[..., ::-1], (128, 128), interpolation=cv2.INTER_AREA)
                     for f in files])
    got = teacher_logits(teacher, 160, imgs, torch.device("cpu"))
    c = teacher.config
    x = normalize(imgs, c.mean, c.std).transpose(0, 2, 3, 1)  # bilinear resize by OpenCV, in float
    up = np.stack([cv2.resize(im, (160, 160), interpolation=cv2.INTER_LINEAR) for im in x])
    with torch.no_grad():
        want = teacher(torch.from_numpy(up.transpose(0, 3, 1, 2).copy()), decode=False)["logit"]
        at_128 = teacher(torch.from_numpy(normalize(imgs, c.mean, c.std)), decode=False)["logit"]
    assert torch.allclose(got, want, atol=1e-3)
    assert not torch.allclose(got, at_128, atol=0.02)  # the resize matters

    with pytest.raises(ValueError, match="saved with teacher, lambda_distill"):
        train({**cfg, "epochs": 2, "resume": True, "lambda_distill": 0.5})
    with pytest.raises(ValueError, match="another train/validation split"):
        train(tiny_cfg(tiny_dataset, tmp_path / "x", teacher=str(teacher_dir), lambda_distill=1.0, seed=1))


@pytest.mark.parametrize(("settings", "match"), [
    ({"lambda_distill": 1.0}, "needs a teacher"),
    ({"teacher": "weights", "lambda_distill": -1.0}, "lambda_distill=-1.0"),
    ({"teacher": "weights"}, "would be ignored"),
    ({"teacher_size": 288}, "would be ignored"),
])
def test_distillation_settings_that_would_be_ignored_are_refused(tiny_dataset, tmp_path, settings, match):
    with pytest.raises(ValueError, match=match):
        train(tiny_cfg(tiny_dataset, tmp_path, **settings))


@pytest.mark.parametrize("settings", [{"sbi_local": 1.5}, {"sbi_ratio": -0.1}, {"degrade": "often"},
                                      {"sbi_local": True}, {"twin_pairs": 2}])
def test_probabilities_outside_0_1_are_refused(tiny_dataset, tmp_path, settings):
    with pytest.raises(ValueError, match="expected a probability in"):
        train(tiny_cfg(tiny_dataset, tmp_path, **settings))


@pytest.mark.parametrize("settings, match", [
    ({"lr": -1}, r"lr=-1: expected a number > 0"),
    ({"lr": "abc"}, "lr='abc'"),
    ({"epochs": 0}, r"epochs=0: expected an integer >= 1"),
    ({"epochs": "abc"}, "epochs='abc'"),
    ({"batch_size": 1}, r"batch_size=1: expected an integer >= 2"),
    ({"steps_per_epoch": -1}, "steps_per_epoch=-1"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"val_frac": 0}, r"val_frac=0: expected a fraction in \(0, 1\)"),
    ({"val_frac": 1.5}, "val_frac=1.5"),
    ({"batch_size": 64}, "cannot fill one batch"),
    ({"sources": ["youtube"], "sbi_ratio": 0.5}, "set sbi_ratio: 1"),
])
def test_bad_numbers_and_impossible_runs_are_refused_and_write_nothing(tiny_dataset, tmp_path, settings,
                                                                       match):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=match):
        train({**tiny_cfg(tiny_dataset, out), "cache_dir": str(tmp_path / "cache"), **settings})
    assert not out.exists()


def test_missing_data_and_resume_without_a_checkpoint_are_named(tiny_dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data=.*nowhere: no such folder"):
        train(tiny_cfg(tmp_path / "nowhere", tmp_path / "run"))
    with pytest.raises(FileNotFoundError, match=r"--resume: no .*last\.pt"):
        train(tiny_cfg(tiny_dataset, tmp_path / "typo", resume=True))


def test_cli_reports_bad_settings_without_a_traceback(tiny_dataset, tmp_path, capsys):
    from train.__main__ import main

    assert main(["--set", f"data={tiny_dataset}", f"out={tmp_path / 'o'}", "lr=-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: lr=-1") and "Traceback" not in err


def test_split_key_ties_a_grouped_split_to_the_size_its_groups_were_computed_at():
    grouped = {**DEFAULTS, "val_split": "grouped"}
    assert split_key(grouped, 288) != split_key(grouped, 224)  # groups differ slightly by size
    assert split_key({**grouped, "split_size": 288}, 224) == split_key(grouped, 288)
    assert split_key(DEFAULTS, 288) == split_key(DEFAULTS, 224)  # a random split ignores size
    assert split_key({"data": DEFAULTS["data"]}, 224) == split_key(DEFAULTS, 160)  # older configs
    assert split_key({**DEFAULTS, "seed": 1, "split_seed": 0}, 224) == split_key(DEFAULTS, 224)
    assert split_key({**DEFAULTS, "split_seed": 3}, 224) != split_key(DEFAULTS, 224)
    assert split_key({**grouped, "val_buffer": 0.45}, 224) != split_key(grouped, 224)
    assert split_key({**grouped, "val_buffer": 0.0}, 224) == split_key(grouped, 224)  # older runs


def test_val_buffer_drops_training_crops_near_validation(tiny_dataset, tmp_path, monkeypatch):
    """Training crops closer than val_buffer to a validation crop are in neither part."""
    monkeypatch.setattr(loop, "near_duplicate_groups", lambda crops: np.arange(len(crops)))  # all apart
    cfg = tiny_cfg(tiny_dataset, tmp_path, val_split="grouped")
    plain = labelled_split(cfg, 128)
    d = nearest_distances(plain.crops[plain.train], plain.crops[plain.val])
    labels = plain.labels[plain.train]
    # the largest buffer that keeps a real and a fake: it drops at least the nearest crop
    buffer = float(min(np.sort(d[labels == 0])[-1], np.sort(d[labels == 1])[-1]))
    buffered = labelled_split({**cfg, "val_buffer": buffer}, 128)
    assert np.array_equal(buffered.val, plain.val)
    assert np.array_equal(buffered.train, plain.train[d >= buffer])
    assert 0 < len(buffered.train) < len(plain.train)
    with pytest.raises(ValueError, match=r"training part has no real.*within 1000\.0 of validation"):
        labelled_split({**cfg, "val_buffer": 1e3}, 128)
    for bad, match in (({"val_buffer": 0.4}, "needs val_split: grouped"),
                       ({"val_split": "grouped", "val_buffer": -1}, "val_buffer=-1")):
        with pytest.raises(ValueError, match=match):
            train(tiny_cfg(tiny_dataset, tmp_path / "refused", **bad))
    assert not (tmp_path / "refused").exists()


def test_grouped_split_refuses_a_folder_of_near_duplicates(tiny_dataset, tmp_path):
    """Every tiny image is a shifted astronaut: one group, so no whole group can be held out."""
    with pytest.raises(ValueError, match="near-duplicate group"):
        train(tiny_cfg(tiny_dataset, tmp_path, val_split="grouped"))
    with pytest.raises(ValueError, match="val_split"):
        train(tiny_cfg(tiny_dataset, tmp_path, val_split="by_video"))


def test_reals_only_folder_trains_on_self_blended_fakes(tiny_dataset, tmp_path):
    """The SBI paper's setting: real faces only, every fake self-blended; validation is SBI only."""
    best = train(tiny_cfg(tiny_dataset, tmp_path, sources=["youtube"], sbi_ratio=1.0))
    assert set(weights.load(best).meta["metrics"]) == {"val_sbi", "val"}


def test_sbi_local_reaches_the_training_batches(tiny_dataset, tmp_path):
    """With sbi_local=1 every self-blend covers a part of the face: far less area than whole-face ones."""
    area = {}
    for local in (0.0, 1.0):
        data = PairedData(tiny_cfg(tiny_dataset, tmp_path, sbi_local=local), 128)
        _, y, masks, _ = data.batch(list(range(len(data.real))), 1.0, np.random.default_rng(0))
        area[local] = float((masks[y == 1] > 0).mean())
    assert 0 < area[1.0] < 0.6 * area[0.0]


def test_twin_fakes_are_training_fakes_of_the_same_group():
    """Real -> fakes of its near-duplicate group, training part only; reals without one are left out."""
    labels = np.array([0, 1, 1, 0, 1, 0, 1])
    groups = np.array([0, 0, 0, 1, 2, 2, 2])
    split = LabelledSplit([], np.zeros(0), np.ones(7, bool), np.zeros(0), labels,
                          train=np.array([0, 1, 2, 3, 4, 5]), val=np.array([6]), groups=groups)
    twins = twin_fakes(split)
    assert set(twins) == {0, 5}
    assert twins[0].tolist() == [1, 2] and twins[5].tolist() == [4]  # 6 is a validation fake
    assert twin_fakes(LabelledSplit([], np.zeros(0), np.ones(7, bool), np.zeros(0), labels,
                                    train=np.arange(6), val=np.array([6]))) == {}


def test_twin_pairs_pair_each_real_with_a_fake_of_its_own_group(tiny_dataset, tmp_path, monkeypatch):
    """twin_pairs=1: every FF++ real with a twin gets a fake from its twins, not a random fake."""
    assert PairedData(tiny_cfg(tiny_dataset, tmp_path), 128).twins == {}  # off: nothing computed
    data = PairedData(tiny_cfg(tiny_dataset, tmp_path, twin_pairs=1.0), 128)
    assert data.twins and all(set(t.tolist()) <= set(data.fake.tolist()) for t in data.twins.values())
    assert set(data.twins) <= {i for _, i in data.real}
    ids = [k for k, (_, i) in enumerate(data.real) if i in data.twins]  # reals that have twins
    data.twins = {data.real[k][1]: np.array([data.fake[n % len(data.fake)]]) for n, k in enumerate(ids)}
    monkeypatch.setattr("train.loop.augment", lambda img, rng, mask, degrade: (img, mask))
    for seed in range(3):
        images, labels, _, _ = data.batch(ids, 0.0, np.random.default_rng(seed))
        assert labels.tolist() == [0, 1] * len(ids)
        for n, k in enumerate(ids):
            assert np.array_equal(images[2 * n + 1], data.crops[0][data.twins[data.real[k][1]][0]])


def test_sharp_match_pairs_each_real_with_a_fake_of_like_sharpness(tiny_dataset, tmp_path, monkeypatch):
    """sharp_match=1: every FF++ fake partner is one of the SHARP_WINDOW fakes nearest its real in
    sharpness; off, nothing is computed and the random stream is that of earlier versions."""
    assert not hasattr(PairedData(tiny_cfg(tiny_dataset, tmp_path), 128), "real_sharpness")
    data = PairedData(tiny_cfg(tiny_dataset, tmp_path, sharp_match=1.0), 128)
    ffpp = [k for k, (pool, _) in enumerate(data.real) if pool == 0]
    monkeypatch.setattr(loop, "SHARP_WINDOW", 2)
    monkeypatch.setattr("train.loop.augment", lambda img, rng, mask, degrade: (img, mask))
    fake_sharp = sharpness(data.crops[0][data.fake])
    assert np.array_equal(np.sort(fake_sharp), data.sorted_sharpness)
    for seed in range(3):
        images, labels, _, _ = data.batch(ffpp, 0.0, np.random.default_rng(seed))
        assert labels.tolist() == [0, 1] * len(ffpp)
        for n, k in enumerate(ffpp):
            s_real = data.real_sharpness[data.real[k][1]]
            s_fake = float(sharpness(images[2 * n + 1][None])[0])
            # the partner is one of the two fakes nearest s_real in the sorted order
            rank = np.searchsorted(data.sorted_sharpness, s_real)
            window = data.sorted_sharpness[max(0, min(rank - 1, len(fake_sharp) - 2)):][:2]
            assert np.isclose(window, s_fake).any()
    with pytest.raises(ValueError, match=r"sharp_match=2"):
        train(tiny_cfg(tiny_dataset, tmp_path / "refused", sharp_match=2))


def test_recipe_changes_counts_settings_added_later_as_their_defaults():
    """A last.pt saved before a setting existed resumes, unless the setting is now changed."""
    saved = {k: v for k, v in DEFAULTS.items() if k != "sharp_match"}
    assert recipe_changes(saved, dict(DEFAULTS)) == []
    assert recipe_changes(saved, {**DEFAULTS, "sharp_match": 0.5}) == ["sharp_match: 0.0 -> 0.5"]


def test_overrides_reject_unknown_keys():
    assert parse_overrides(["lr=0.01", "sources=[youtube, FaceSwap]"], DEFAULTS) == {
        "lr": 0.01, "sources": ["youtube", "FaceSwap"]}
    with pytest.raises(SystemExit, match="unknown config key"):
        parse_overrides(["lrr=1"], DEFAULTS)


def test_torchrun_two_cpu_processes_gloo(tiny_dataset, tmp_path):
    cfg = tiny_cfg(tiny_dataset, tmp_path, threads=1)
    cfg = {k: v for k, v in cfg.items() if k in DEFAULTS}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29517", "-m", "train", "--config", str(tmp_path / "cfg.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert weights.load(tmp_path / "best").config.mask_head


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "train" / "configs").glob("*.yaml")))
def test_shipped_configs_load_with_known_keys(name):
    cfg = load_config(ROOT / "train" / "configs" / name)  # raises on an unknown key or a bad base
    assert cfg["data"] and cfg["out"] and set(cfg) <= set(DEFAULTS)


def test_xception_config_cpu_smoke(tiny_dataset, tmp_path):
    """The paper-faithful config runs a couple of steps on CPU and writes loadable weights."""
    cfg = yaml.safe_load((ROOT / "train" / "configs" / "jrc_xception.yaml").read_text())
    cfg.update(reals=[], epochs=1, steps_per_epoch=1, batch_size=2)
    best = train(tiny_cfg(tiny_dataset, tmp_path, **{k: v for k, v in cfg.items()
                                                      if k not in ("data", "out")}))
    ckpt = weights.load(best)
    assert (ckpt.config.encoder, ckpt.config.input_size) == ("xception", 299)
