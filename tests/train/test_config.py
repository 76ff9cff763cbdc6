"""TrainConfig (validated once) and flat YAML configs (at most one ``base:``)."""

import pytest

from train.config import TrainConfig, load_config


def write(path, text):
    path.write_text(text)
    return path


def test_base_is_loaded_first_and_overridden(tmp_path):
    write(tmp_path / "a.yaml", "data: d\nout: runs/a\nlr: 0.001\nepochs: 3\n")
    (tmp_path / "sub").mkdir()
    b = write(tmp_path / "sub" / "b.yaml", "base: ../a.yaml\nout: runs/b\nepochs: 5\n")  # relative
    assert load_config(b) == {"data": "d", "out": "runs/b", "lr": 0.001, "epochs": 5}


def test_chains_unknown_keys_and_missing_bases_name_the_file(tmp_path):
    write(tmp_path / "x.yaml", "base: y.yaml\nlr: 1\n")
    write(tmp_path / "y.yaml", "base: z.yaml\n")
    with pytest.raises(ValueError, match=r"x\.yaml: its base y\.yaml has a base of its own"):
        load_config(tmp_path / "x.yaml")
    write(tmp_path / "typo.yaml", "data: d\nlearning_rate: 1\n")
    with pytest.raises(ValueError, match=r"typo\.yaml: unknown keys \['learning_rate'\]"):
        load_config(tmp_path / "typo.yaml")
    write(tmp_path / "orphan.yaml", "base: gone.yaml\n")
    with pytest.raises(FileNotFoundError, match=r"gone\.yaml"):
        load_config(tmp_path / "orphan.yaml")
    write(tmp_path / "list.yaml", "- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        load_config(tmp_path / "list.yaml")


@pytest.mark.parametrize("settings, message", [
    ({"lr": -1}, "lr=-1: expected a number > 0"),
    ({"lr": "abc"}, "lr='abc': expected a number > 0"),
    ({"epochs": 0}, "epochs=0: expected an integer >= 1"),
    ({"batch_size": 1}, "batch_size=1: expected an integer >= 2"),
    ({"steps_per_epoch": -1}, "steps_per_epoch=-1: expected an integer >= 0"),
    ({"weight_decay": -0.1}, "weight_decay=-0.1: expected a number >= 0"),
    ({"val_frac": 0}, "val_frac=0: expected a fraction in (0, 1); the best epoch is chosen on "
                      "validation, so some is needed"),
    ({"sbi_ratio": 1.5}, "sbi_ratio=1.5: expected a probability in [0, 1]"),
    ({"benign": -0.1}, "benign=-0.1: expected a probability in [0, 1]"),
    ({"held_out": 1}, "held_out=1: expected a fraction in [0, 1)"),
    ({"val_split": "by_video"}, "val_split='by_video': expected one of random, grouped"),
    ({"precision": "fp8"}, "precision='fp8': expected one of fp32, bf16"),
    ({"reals": [{"dir": "x"}]}, "reals[0]={'dir': 'x'}: expected {path: FOLDER, limit: N} (limit optional)"),
    ({"source_weights": [1, 2]}, "source_weights=[1, 2]: expected 1 weights >= 0 (data, then each "
                                 "reals folder) with a positive sum, or null"),
    ({"select_on": "trust"}, "select_on: trust needs leave_out (a method) and held_out > 0 "
                             "(held-out reals)"),
    ({"reals": [{"path": "r"}], "held_out": 0.1, "other_fakes": [{"path": "g", "against": "q"}]},
     "other_fakes[0].against='q': must be one of the reals paths (['r']), whose held-out part it "
     "is validated against"),
])
def test_bad_settings_are_refused_with_a_message_naming_the_key(settings, message):
    with pytest.raises(ValueError) as e:
        TrainConfig(**settings)
    assert str(e.value) == message


def test_unknown_keys_and_stored_configs_of_older_versions():
    with pytest.raises(ValueError, match=r"unknown config keys: \['lrr'\]"):
        TrainConfig.from_dict({"lrr": 1})
    old = {"data": "d", "twin_pairs": 0.0, "ema": 0.0, "teacher": None, "resume": False, "lr": 0.01}
    assert TrainConfig.from_stored(old).lr == 0.01  # settings that were off are dropped
    with pytest.raises(ValueError, match=r"settings this version dropped: \{'twin_pairs': 0.5\}"):
        TrainConfig.from_stored({**old, "twin_pairs": 0.5})
    assert TrainConfig(seed=3).data_seed == 3 and TrainConfig(seed=3, split_seed=0).data_seed == 0


def test_consistency_needs_batches_of_four():
    from train.config import TrainConfig

    with pytest.raises(ValueError, match="batch_size=6: consistency needs a multiple of 4"):
        TrainConfig(consistency=0.5, batch_size=6)
    with pytest.raises(ValueError, match="consistency=-1"):
        TrainConfig(consistency=-1)
