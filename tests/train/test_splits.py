"""Validation carved from the training data: a left-out method, held-out real identities."""

import numpy as np
import pytest
from train_fixtures import tiny_cfg

from train.splits import labelled_split, real_folder


def test_left_out_method_is_in_no_part(tiny_dataset, tmp_path):
    cfg = tiny_cfg(tiny_dataset, tmp_path, sources=None, leave_out="NeuralTextures")
    s = labelled_split(cfg, 128)
    src = np.array([x.source for x in s.samples])
    assert set(src[s.left_out]) == {"NeuralTextures"} and len(s.left_out) == 6
    assert "NeuralTextures" not in set(src[s.train]) | set(src[s.val])
    assert not set(s.train) & set(s.val)
    with pytest.raises(ValueError, match=r"leave_out='FaceSwap': not a fake folder of .* \(Deepfakes, "
                                         r"NeuralTextures\)"):
        labelled_split(tiny_cfg(tiny_dataset, tmp_path, sources=None, leave_out="FaceSwap"), 128)


def test_held_out_reals_are_not_trained_on_and_fixed_by_the_split_seed(tiny_dataset, faces_folder, tmp_path):
    entry = {"path": str(faces_folder)}
    a = real_folder(entry, tiny_cfg(tiny_dataset, tmp_path, held_out=0.34), 128)
    assert len(a.held) == 2 and len(a.train) == 4 and not set(a.held) & set(a.train)
    again = real_folder(entry, tiny_cfg(tiny_dataset, tmp_path, held_out=0.34, seed=9, split_seed=0), 128)
    assert np.array_equal(a.held, again.held)
