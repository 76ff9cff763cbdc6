"""The training batches: each real face paired with a fake, sources balanced per batch.

A batch holds B/2 reals and B/2 fakes. Each real is drawn from a source (the labelled folder's
reals, then each ``reals`` folder) with probability ``source_weights`` (by default in proportion
to the source's size), cycling through a shuffled order of that source. Its fake partner:

* a real of the labelled folder (FF++ ``youtube``) gets a fake of that folder (an FF++ method)
  with probability ``1 - sbi_ratio``, else its own self-blend (jrc/sbi.py);
* a real of a real-only folder always gets its own self-blend.

So every source is half real, half fake: the model cannot learn the source instead of the
manipulation. Both images then get the same kind of augmentation (train.data.augment),
after the blend, so the blend boundary is re-saved too. With ``twins``, the batch is followed by
a benign re-save of each of its images (``train.benign.random_benign``), for the consistency loss.
"""

from __future__ import annotations

import numpy as np

from jrc.sbi import self_blend
from train.benign import random_benign
from train.config import TrainConfig
from train.data import augment
from train.splits import LabelledSplit, RealFolder, labelled_split, real_folder


class PairedData:
    """Real pools, the labelled folder's fake pool, and the pairing rule above."""

    def __init__(self, cfg: TrainConfig, size: int, verbose: bool = True) -> None:
        self.cfg = cfg
        self.split: LabelledSplit = labelled_split(cfg, size)
        self.folders: list[RealFolder] = [real_folder(r, cfg, size) for r in cfg.reals]
        s = self.split
        self.crops = [s.crops, *(f.crops for f in self.folders)]
        self.kps = [s.keypoints, *(f.keypoints for f in self.folders)]
        self.pools = [s.train[s.labels[s.train] == 0], *(f.train for f in self.folders)]
        self.fake = s.train[s.labels[s.train] == 1]
        sizes = np.array([len(p) for p in self.pools], float)
        w = np.array(cfg.source_weights, float) if cfg.source_weights else sizes
        w[sizes == 0] = 0
        if not w.sum():
            raise ValueError("no training reals in any source")
        self.weights = w / w.sum()
        self._order = [np.zeros(0, int) for _ in self.pools]
        self._pos = [0] * len(self.pools)
        if verbose:
            names = ["labelled", *(f.path for f in self.folders)]
            mix = ", ".join(f"{n} {len(p)} ({w:.0%})" for n, p, w in zip(names, self.pools, self.weights,
                                                                         strict=True))
            print(f"data: train reals by source (share of batch reals): {mix}; labelled fakes "
                  f"{len(self.fake)}; val reals {int((s.labels[s.val] == 0).sum())}, val fakes "
                  f"{int((s.labels[s.val] == 1).sum())}; left out ({cfg.leave_out}) {len(s.left_out)}; "
                  f"held-out reals {sum(len(f.held) for f in self.folders)}")

    @property
    def n_reals(self) -> int:
        return int(sum(len(p) for p in self.pools))

    def _next(self, pool: int, rng: np.random.Generator) -> int:
        if self._pos[pool] >= len(self._order[pool]):
            self._order[pool], self._pos[pool] = rng.permutation(self.pools[pool]), 0
        self._pos[pool] += 1
        return int(self._order[pool][self._pos[pool] - 1])

    def batch(self, n_reals: int, rng: np.random.Generator, twins: bool = False):
        """(images uint8 [B,S,S,3], labels [B], mask targets [B,S,S], mask known [B]), B = 2 n_reals;
        with ``twins``, B = 4 n_reals and image ``B/2 + i`` is a re-saved copy of image ``i``."""
        cfg, rows = self.cfg, []  # (image, label, mask target, mask known)
        for pool in rng.choice(len(self.pools), n_reals, p=self.weights):
            i = self._next(int(pool), rng)
            real = self.crops[pool][i]
            zero = np.zeros(real.shape[:2], np.float32)
            rows.append((real, 0, zero, True))
            if pool == 0 and len(self.fake) and rng.random() >= cfg.sbi_ratio:
                rows.append((self.crops[0][rng.choice(self.fake)], 1, zero, False))  # region unknown
            else:
                fake, mask = self_blend(real, self.kps[pool][i], rng, cfg.sbi_local)
                rows.append((fake, 1, mask, True))
        aug = [augment(img, rng, mask, cfg.degrade, cfg.benign) for img, _, mask, _ in rows]
        if twins:  # a re-save keeps the geometry, so the label and mask target carry over
            aug += [(random_benign(img, rng), mask) for img, mask in aug]
            rows += rows
        return (np.stack([a for a, _ in aug]), np.array([r[1] for r in rows], np.float32),
                np.stack([m for _, m in aug]), np.array([r[3] for r in rows]))
