"""Training batches: each real paired with a fake, sources balanced per batch."""

import numpy as np
from train_fixtures import tiny_cfg

from train.pairs import PairedData


def test_sources_are_weighted_as_asked(tiny_dataset, faces_folder, tmp_path, monkeypatch):
    cfg = tiny_cfg(tiny_dataset, tmp_path, reals=[{"path": str(faces_folder)}],
                   source_weights=[0.25, 0.75], sbi_ratio=0.0)
    data = PairedData(cfg, 128, verbose=False)
    drawn = []
    real_next = data._next
    monkeypatch.setattr(data, "_next", lambda pool, rng: drawn.append(pool) or real_next(pool, rng))
    rng = np.random.default_rng(0)
    for _ in range(50):
        imgs, y, masks, known = data.batch(4, rng)
        assert imgs.shape == (8, 128, 128, 3) and list(y) == [0, 1] * 4
        assert masks.shape == (8, 128, 128) and known.dtype == bool
    share = np.mean(np.array(drawn) == 1)
    assert 0.65 < share < 0.85  # 0.75 asked
    # sbi_ratio 0: a labelled real always gets a labelled fake (mask unknown); reals-only get self-blends
    assert data.weights.tolist() == [0.25, 0.75]


def test_default_weights_follow_the_sources_sizes(tiny_dataset, faces_folder, tmp_path):
    cfg = tiny_cfg(tiny_dataset, tmp_path, reals=[{"path": str(faces_folder)}])
    data = PairedData(cfg, 128, verbose=False)
    sizes = np.array([len(p) for p in data.pools], float)
    assert np.allclose(data.weights, sizes / sizes.sum())


def test_twins_are_re_saved_copies_with_the_same_targets(tiny_dataset, faces_folder, tmp_path):
    cfg = tiny_cfg(tiny_dataset, tmp_path, reals=[{"path": str(faces_folder)}], benign=0.0, degrade=0.0)
    data = PairedData(cfg, 128, verbose=False)
    imgs, y, masks, known = data.batch(3, np.random.default_rng(1), twins=True)
    assert imgs.shape[0] == 12 and list(y) == [0, 1] * 6
    assert np.array_equal(masks[:6], masks[6:]) and np.array_equal(known[:6], known[6:])
    diff = np.abs(imgs[:6].astype(int) - imgs[6:].astype(int)).mean(axis=(1, 2, 3))
    assert (diff < 40).all() and (diff > 0).any()  # the same images, re-saved
