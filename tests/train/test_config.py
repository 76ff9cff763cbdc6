"""``base:`` chains in training configs."""

import pytest

from train.config import load_config


def write(path, text):
    path.write_text(text)
    return path


def test_base_is_loaded_first_and_overridden(tmp_path):
    write(tmp_path / "a.yaml", "data: d\nout: runs/a\nlr: 0.001\nepochs: 3\n")
    write(tmp_path / "b.yaml", "base: a.yaml\nout: runs/b\nepochs: 5\n")
    (tmp_path / "sub").mkdir()
    c = write(tmp_path / "sub" / "c.yaml", "base: ../b.yaml\nlr: 0.0003\n")  # relative to the file
    assert load_config(tmp_path / "b.yaml") == {"data": "d", "out": "runs/b", "lr": 0.001, "epochs": 5}
    assert load_config(c) == {"data": "d", "out": "runs/b", "lr": 0.0003, "epochs": 5}


def test_cycles_unknown_keys_and_missing_bases_name_the_file(tmp_path):
    write(tmp_path / "x.yaml", "base: y.yaml\nlr: 1\n")
    write(tmp_path / "y.yaml", "base: x.yaml\n")
    with pytest.raises(ValueError, match="cycle"):
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
