"""Validation during training: the sets, their AUCs, the selection score and the threshold.

Sets (each real vs fake, carved from the training data; the test split is never used):

* ``ffpp``: held-out FF++ reals vs held-out fakes of the trained methods (grouped split);
* ``ffpp_deg``: the same, each image degraded (JPEG q40 / x0.5 / blur / noise, fixed);
* ``sbi``: the held-out FF++ reals vs their self-blends;
* ``sbi_held``: reals of held-out identities of the real-only folders vs their self-blends
  (made like the training fakes, with the run's part-level share);
* ``lomo``: the held-out FF++ reals vs the ``leave_out`` method, never trained on;
* ``other_<folder>``: held-out reals vs another kind of fake (e.g. StyleGAN faces).

With ``select_on: trust`` the score is the mean AUC of ``ffpp``, ``sbi_held`` and ``lomo`` minus
``flip``: the share of verdicts that change when ``resave_val`` validation crops are re-saved
(train.benign.TARGETED: JPEG q75-95, WebP q80, GIF, x0.5 and x2 resizes). The threshold is the
one that maximises balanced accuracy on the rule's scores together with their re-saved copies,
so that it holds after re-saving.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from jrc.model import TwoBranchCAE
from jrc.preprocess import normalize
from jrc.sbi import self_blend
from train.benign import RESAVES, TARGETED
from train.config import SELECT, TrainConfig
from train.degrade import fixed_degradation
from train.metrics import auc, choose_threshold
from train.pairs import PairedData
from train.splits import fake_folder

Sets = dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (uint8 crops, labels)


@torch.no_grad()
def predict(model: TwoBranchCAE, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """P(fake) for uint8 crops ``[N,S,S,3]``, in eval mode and fp32."""
    model.eval()
    c, dev = model.config, next(model.parameters()).device
    out = []
    for i in range(0, len(crops), batch):
        x = torch.from_numpy(normalize(crops[i:i + batch], c.mean, c.std)).to(dev)
        logit = model(x.contiguous(memory_format=torch.channels_last), decode=False)["logit"]
        out.append(torch.sigmoid(logit.float()).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _cap(idx: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(idx, cap, replace=False)) if len(idx) > cap else idx


def _pair(reals: np.ndarray, fakes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([reals, fakes]), np.r_[np.zeros(len(reals)), np.ones(len(fakes))]


def build_sets(data: PairedData, cfg: TrainConfig, size: int) -> Sets:
    """The validation sets above, fixed by the split seed (the same for every run on the split)."""
    rng = np.random.default_rng(cfg.data_seed + 12345)
    s = data.split
    val_real, val_fake = s.val[s.labels[s.val] == 0], s.val[s.labels[s.val] == 1]
    reals = s.crops[val_real]
    sets: Sets = {}
    sbi = [self_blend(s.crops[i], s.keypoints[i], rng, cfg.sbi_local)[0] for i in val_real]
    sets["sbi"] = _pair(reals, np.stack(sbi))
    if len(val_fake):
        sets["ffpp"] = _pair(reals, s.crops[val_fake])
        both, labels = sets["ffpp"]
        sets["ffpp_deg"] = (np.stack([fixed_degradation(c, i) for i, c in enumerate(both)]), labels)
    if len(s.left_out):
        sets["lomo"] = _pair(reals, s.crops[_cap(s.left_out, cfg.val_cap, rng)])
    held, held_by_path = [], {}
    for f in data.folders:
        idx = _cap(f.held, cfg.val_cap, rng)
        held_by_path[f.path] = f.crops[idx]
        held += [(f.crops[i], f.keypoints[i]) for i in idx]
    if held:
        fakes = [self_blend(c, k, rng, cfg.sbi_local)[0] for c, k in held]
        sets["sbi_held"] = _pair(np.stack([c for c, _ in held]), np.stack(fakes))
    for o in cfg.other_fakes:
        fakes = fake_folder(o, cfg, size)
        fakes = fakes[_cap(np.arange(len(fakes)), cfg.val_cap, rng)]
        sets[f"other_{Path(o['path']).name}"] = _pair(held_by_path[o["against"]], fakes)
    return sets


def resave_subset(sets: Sets, keys: list[str], n: int, seed: int) -> dict[str, np.ndarray]:
    """Indices of ``n`` crops drawn evenly from the rule's sets (fixed seed), per set."""
    rng = np.random.default_rng(seed + 999)
    return {k: _cap(np.arange(len(sets[k][1])), max(1, n // len(keys)), rng) for k in keys}


class Validator:
    """Scores a model on the fixed sets; returns the metrics row, the score and the threshold."""

    def __init__(self, data: PairedData, cfg: TrainConfig, size: int) -> None:
        self.sets = build_sets(data, cfg, size)
        self.keys = [k for k in SELECT[cfg.select_on] if k in self.sets] or list(self.sets)
        self.flips = cfg.select_on == "trust" and cfg.resave_val > 0
        if self.flips:
            self.resave_idx = resave_subset(self.sets, self.keys, cfg.resave_val, cfg.data_seed)
            crops = np.concatenate([self.sets[k][0][i] for k, i in self.resave_idx.items()])
            self.resave_labels = np.concatenate([self.sets[k][1][i] for k, i in self.resave_idx.items()])
            self.resaved = {name: np.stack([RESAVES[name](c) for c in crops]) for name in TARGETED}

    def sizes(self) -> dict[str, int]:
        return {k: len(y) for k, (_, y) in self.sets.items()}

    def __call__(self, model: TwoBranchCAE) -> tuple[dict[str, float], float, float]:
        """(``{"val_<set>": AUC, "val_flip": share, "val_flip_<resave>": share}``, score, threshold)."""
        scores = {k: predict(model, c) for k, (c, _) in self.sets.items()}
        row = {f"val_{k}": auc(self.sets[k][1], scores[k]) for k in self.sets}
        ys = [self.sets[k][1] for k in self.keys]
        ps = [scores[k] for k in self.keys]
        score = float(np.mean([row[f"val_{k}"] for k in self.keys]))
        if not self.flips:
            return row, score, choose_threshold(np.concatenate(ys), np.concatenate(ps))
        orig = np.concatenate([scores[k][i] for k, i in self.resave_idx.items()])  # already scored
        resaved = {n: predict(model, c) for n, c in self.resaved.items()}
        ys += [self.resave_labels] * len(resaved)
        threshold = choose_threshold(np.concatenate(ys), np.concatenate([*ps, *resaved.values()]))
        changed = {n: float(np.mean((p >= threshold) != (orig >= threshold))) for n, p in resaved.items()}
        row["val_flip"] = float(np.mean(list(changed.values())))
        row.update({f"val_flip_{n}": v for n, v in changed.items()})
        return row, score - row["val_flip"], threshold
