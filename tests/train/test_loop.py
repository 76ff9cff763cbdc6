"""The training loop end to end on a tiny real-photo dataset (astronaut variants), a few steps each."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import ROOT
from train_fixtures import tiny_cfg

from jrc import weights
from train.config import TrainConfig, load_config
from train.loop import train


def test_two_step_run_writes_loadable_weights(tiny_dataset, tmp_path):
    best = train(tiny_cfg(tiny_dataset, tmp_path))
    ckpt = weights.load(best)
    assert ckpt.config.mask_head and 0.0 <= ckpt.threshold <= 1.0
    assert set(ckpt.meta["metrics"]) >= {"val_ffpp", "val_sbi", "val_ffpp_deg", "val"}
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,steps,loss,bce,rec,mask") and len(log) == 2
    assert (tmp_path / "last.pt").is_file()


def test_trust_regime_two_steps(tiny_dataset, faces_folder, tmp_path):
    """The v7 regime in 2 steps: all sources balanced, benign re-saves, part-level blends, a left-out
    method, held-out reals, another kind of fake, bf16, the re-save consistency loss, and the trust
    rule with its flip rate."""
    faces = str(faces_folder)
    cfg = tiny_cfg(tiny_dataset, tmp_path, sources=None, leave_out="NeuralTextures",
                   reals=[{"path": faces}], held_out=0.34, source_weights=[0.5, 0.5],
                   other_fakes=[{"path": str(tiny_dataset / "Deepfakes"), "against": faces}],
                   sbi_local=0.5, benign=1.0, degrade=0.2, precision="bf16", select_on="trust",
                   resave_val=6, consistency=0.5, batch_size=8)
    ckpt = weights.load(train(cfg))
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert float(log[1].split(",")[log[0].split(",").index("cons")]) > 0
    m = ckpt.meta["metrics"]
    assert {"val_ffpp", "val_sbi_held", "val_lomo", "val_other_Deepfakes", "val_flip",
            "val_flip_jpeg75", "val_flip_gif", "val_flip_down0.5x"} <= set(m)
    assert m["val"] == pytest.approx(np.mean([m["val_ffpp"], m["val_sbi_held"], m["val_lomo"]])
                                     - m["val_flip"], abs=2e-4)
    assert ckpt.meta["training"]["validation"]["lomo"] > 0


def test_input_size_overrides_the_encoder_default(tiny_dataset, tmp_path):
    best = train(tiny_cfg(tiny_dataset, tmp_path, input_size=160))
    ckpt = weights.load(best)
    assert ckpt.config.input_size == 160
    with torch.no_grad():
        out = ckpt.model.eval()(torch.zeros(1, 3, 160, 160))
    assert out["reconstruction"].shape[-2:] == (160, 160)


def test_resume_continues_and_refuses_other_settings(tiny_dataset, tmp_path):
    train(tiny_cfg(tiny_dataset, tmp_path, epochs=1))
    train(tiny_cfg(tiny_dataset, tmp_path, epochs=2), resume=True)
    rows = (tmp_path / "log.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["1", "2"]
    with pytest.raises(ValueError, match=r"saved with other settings \(sbi_local: 0.0 -> 0.5\)"):
        train(tiny_cfg(tiny_dataset, tmp_path, epochs=3, sbi_local=0.5), resume=True)
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 3  # nothing trained


def test_init_fine_tunes_on_the_same_split_only(tiny_dataset, tmp_path):
    start = train(tiny_cfg(tiny_dataset, tmp_path / "a"))
    assert weights.load(train(tiny_cfg(tiny_dataset, tmp_path / "b", init=str(start)))).config.mask_head
    with pytest.raises(ValueError, match="trained on another train/validation split"):
        train(tiny_cfg(tiny_dataset, tmp_path / "c", init=str(start), split_seed=5))


def test_missing_data_and_resume_without_a_checkpoint_are_named(tiny_dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data=.*nowhere: no such folder"):
        train(tiny_cfg(tmp_path / "nowhere", tmp_path / "run"))
    with pytest.raises(FileNotFoundError, match=r"--resume: no .*last\.pt"):
        train(tiny_cfg(tiny_dataset, tmp_path / "typo"), resume=True)
    with pytest.raises(ValueError, match="cannot fill one batch"):
        train(tiny_cfg(tiny_dataset, tmp_path / "big", batch_size=64, cache_dir=str(tmp_path / "cache")))
    assert not (tmp_path / "big").exists()  # a refused run writes nothing


def test_reals_only_folder_trains_on_self_blended_fakes(tiny_dataset, tmp_path):
    """The SBI paper's setting: real faces only, every fake self-blended; validation is SBI only."""
    best = train(tiny_cfg(tiny_dataset, tmp_path, sources=["youtube"], sbi_ratio=1.0))
    assert set(weights.load(best).meta["metrics"]) == {"val_sbi", "val"}


def test_grouped_split_refuses_a_folder_of_near_duplicates(tiny_dataset, tmp_path):
    """Every tiny image is a shifted astronaut: one group, so no whole group can be held out."""
    with pytest.raises(ValueError, match="near-duplicate group"):
        train(tiny_cfg(tiny_dataset, tmp_path, val_split="grouped"))


def test_cli_reports_bad_settings_without_a_traceback(tiny_dataset, tmp_path, capsys):
    from train.__main__ import main

    assert main(["--set", f"data={tiny_dataset}", f"out={tmp_path / 'o'}", "lr=-1"]) == 2
    assert capsys.readouterr().err == "error: lr=-1: expected a number > 0\n"
    with pytest.raises(SystemExit, match="unknown config key 'lrr'"):
        main(["--set", "lrr=1"])


def test_torchrun_two_cpu_processes_gloo(tiny_dataset, tmp_path):
    cfg = tiny_cfg(tiny_dataset, tmp_path, threads=1).to_dict()
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29517", "-m", "train", "--config", str(tmp_path / "cfg.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert weights.load(tmp_path / "best").config.mask_head


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "train" / "configs").glob("*.yaml")))
def test_shipped_configs_are_valid_recipes(name):
    cfg = TrainConfig.from_dict(load_config(ROOT / "train" / "configs" / name))  # validates every key
    assert cfg.data and cfg.out


def test_xception_config_cpu_smoke(tiny_dataset, tmp_path):
    """The paper-faithful config runs a step on CPU and writes loadable weights."""
    path = ROOT / "train" / "configs" / "xception.yaml"
    if not path.is_file():
        path = ROOT / "train" / "configs" / "jrc_xception.yaml"
    cfg = load_config(path)
    keep = {k: v for k, v in cfg.items() if k in ("encoder", "input_size", "pretrained", "mask_head",
                                                 "freeze_blocks", "lambda_rec")}
    best = train(tiny_cfg(tiny_dataset, tmp_path, **keep, epochs=1, steps_per_epoch=1, batch_size=2))
    ckpt = weights.load(best)
    assert (ckpt.config.encoder, ckpt.config.input_size) == ("xception", 299)
