import json

import pytest
import torch

from jrc import weights
from jrc.model import ModelConfig, TwoBranchCAE


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TwoBranchCAE(ModelConfig(decoder_widths=(32, 16, 8, 8, 8))).eval()


def test_round_trip(tmp_path, model):
    weights.save(model, tmp_path, threshold=0.42, metrics={"val_auc": 0.9})
    ckpt = weights.load(tmp_path)
    assert ckpt.threshold == pytest.approx(0.42)
    assert ckpt.config == model.config
    assert ckpt.meta["metrics"]["val_auc"] == 0.9
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        a, b = model(x), ckpt.model(x)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_mismatched_checkpoint_names_keys(tmp_path, model):
    weights.save(model, tmp_path, threshold=0.5)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["model"]["mask_head"] = True  # architecture now expects decoder.mask_head.*
    cfg["model"]["classifier_hidden"] = 128
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(weights.WeightsError) as e:
        weights.load(tmp_path)
    msg = str(e.value)
    assert "missing keys: decoder.mask_head.bias" in msg
    assert "shape mismatch: classifier.fc1.bias" in msg


def test_unexpected_keys_are_named(tmp_path, model):
    from safetensors.torch import save_file

    weights.save(model, tmp_path, threshold=0.5)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["extra.layer.weight"] = torch.zeros(3)
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(weights.WeightsError, match=r"unexpected keys: extra\.layer\.weight"):
        weights.load(tmp_path)


def test_missing_folder_and_bad_files(tmp_path):
    with pytest.raises(weights.WeightsError, match=r"no config\.json"):
        weights.load(tmp_path)
    with pytest.raises(weights.WeightsError, match="not a Hub repo id"):
        weights.load(tmp_path / "nope")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(weights.WeightsError, match="unreadable"):
        weights.load(tmp_path)


def test_corrupt_safetensors(tmp_path, model):
    weights.save(model, tmp_path, threshold=0.5)
    (tmp_path / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(weights.WeightsError, match="unreadable safetensors"):
        weights.load(tmp_path)


def test_hub_repo_offline_fails_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(weights.WeightsError, match="someone/not-cached"):
        weights.load("someone/not-cached")


def test_threshold_must_be_probability(tmp_path, model):
    with pytest.raises(ValueError):
        weights.save(model, tmp_path, threshold=1.5)


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c.update(threshold=1.5), "threshold must be a probability"),
    (lambda c: c.update(threshold=None), "threshold must be a probability"),
    (lambda c: c.update(threshold="high"), "threshold must be a probability"),
    (lambda c: c.update(version=99), "newer than this jrc reads"),
    (lambda c: c["model"].update(mean=[0.5, 0.5]), "mean must be 3 numbers"),
    (lambda c: c["model"].update(std=[0.5, 0.0, 0.5]), "std must be positive"),
    (lambda c: c["model"].update(input_size="224"), "input_size must be an integer"),
    (lambda c: c.update(model=[1, 2]), "'model' must be an object"),
])
def test_bad_config_values_are_weights_errors(tmp_path, model, edit, fragment):
    weights.save(model, tmp_path, threshold=0.5)
    cfg = json.loads((tmp_path / "config.json").read_text())
    edit(cfg)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(weights.WeightsError, match=fragment) as e:
        weights.load(tmp_path)
    assert str(tmp_path) in str(e.value)


def test_config_that_is_not_an_object(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(weights.WeightsError, match="not a JRC config"):
        weights.load(tmp_path)


def test_mistyped_local_folder_is_not_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(weights.WeightsError, match="no such folder"):
        weights.load("runs/best")
