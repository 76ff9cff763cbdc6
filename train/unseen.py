"""``python -m train.unseen``: per-method AUC on manipulations a run never trained on, from
training data only (no test data).

Usage::

    python -m train.unseen --weights runs/sbi_only/best [--against runs/other/best] [--json OUT]

Rebuilds the train/validation split stored in the weights' ``config.json`` and scores, for every
fake folder of the training data, the fakes that the run never trained on against the validation
reals (real frames the run never trained on either):

- a run with ``sbi_ratio: 1`` (self-blended fakes only) never trained on any FF++ fake, so every
  fake folder counts whole (its training and validation parts);
- a run with ``sources`` leaving folders out (leave one method out) never saw those folders.

Folders the run did train on are reported on their validation part only, marked ``seen``. A run
fine-tuned from other weights (``init``) gets a warning: its start model may have seen more. This is
the cross-method measurement the test split's leave-one-method-out table gives, taken on training
data instead, so it can be used to choose recipes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jrc import weights as jrc_weights
from train.data import cache_crops, scan_crop_folder
from train.metrics import auc, auc_interval
from train.splits import weights_split
from train.validation import predict

Scored = tuple[list[str], np.ndarray]  # crop paths and the model's P(fake) for them


def unseen_by_method(weights: str | Path) -> dict:
    """``{"methods": {folder: {"auc", "ci", "fakes", "seen"}}, "val_reals", "unseen_mean"}``; see the
    module doc. ``ci``: 95 % bootstrap interval of the AUC (reals and fakes resampled).

    Raises ValueError (or ``jrc.weights.WeightsError``) naming the weights or data folder at fault.
    """
    return _scored(weights)[0]


@dataclass
class FolderCrops:
    """The face crops of one fake folder that :func:`unseen_by_method` scores, and whether the run saw it."""

    crops: np.ndarray
    paths: list[str]
    seen: bool


@dataclass
class UnseenCrops:
    """What :func:`unseen_by_method` scores: the run's validation reals and, per fake folder, the crops
    it never trained on (or, for a folder it trained on, that folder's validation part)."""

    checkpoint: jrc_weights.Checkpoint
    real_crops: np.ndarray
    real_paths: list[str]
    fakes: dict[str, FolderCrops]
    warning: str | None = None


def unseen_crops(weights: str | Path) -> UnseenCrops:
    """Rebuild the split stored in ``weights`` and gather the crops of the module doc."""
    loaded = jrc_weights.load(weights)
    cfg, split = weights_split(loaded, weights)
    size = loaded.model.config.input_size
    reals = split.val[split.labels[split.val] == 0]
    used = {s.source for s in split.samples} - {cfg.leave_out}
    sbi_only = float(cfg.sbi_ratio) >= 1.0
    everything = scan_crop_folder(cfg.data)
    fakes: dict[str, FolderCrops] = {}
    for src in sorted({s.source for s in everything if s.label == 1}):
        seen = src in used and not sbi_only
        if src == cfg.leave_out:  # never trained on: all of its crops
            idx = split.left_out
            fakes[src] = FolderCrops(split.crops[idx], [split.samples[i].path for i in idx], False)
        elif src in used:  # in the split: validation part only if seen, both parts if not
            pool = split.val if seen else np.r_[split.train, split.val]
            idx = pool[np.array([split.samples[i].source == src for i in pool], bool)]
            fakes[src] = FolderCrops(split.crops[idx], [split.samples[i].path for i in idx], seen)
        else:  # a folder the run's `sources` left out
            samples = [s for s in everything if s.source == src]
            c, found, _ = cache_crops(samples, size, cfg.cache_dir, cfg.face_model)
            paths = [s.path for s, f in zip(samples, found, strict=True) if f]
            fakes[src] = FolderCrops(c[found], paths, seen)
    warning = None
    if cfg.init:  # "unseen" is this run's view only: the start model may have trained on more
        warning = (f"this run started from {cfg.init}; folders that model trained on are "
                   "not unseen, whatever this table says")
    return UnseenCrops(loaded, split.crops[reals], [split.samples[i].path for i in reals], fakes, warning)


def _scored(weights: str | Path) -> tuple[dict, Scored, dict[str, Scored]]:
    """:func:`unseen_by_method`'s result, plus the scores behind it: reals, and fakes per folder."""
    got = unseen_crops(weights)
    model = got.checkpoint.model
    real_scores = predict(model, got.real_crops)
    out: dict = {"weights": str(weights), "val_reals": len(got.real_paths), "methods": {}}
    if got.warning:
        out["warning"] = got.warning
    fakes: dict[str, Scored] = {}
    for src, folder in got.fakes.items():
        scores = predict(model, folder.crops)
        fakes[src] = (folder.paths, scores)
        y = np.r_[np.zeros(len(real_scores)), np.ones(len(scores))]
        both = np.r_[real_scores, scores]
        out["methods"][src] = {"auc": round(auc(y, both), 4),
                               "ci": [round(v, 4) for v in auc_interval(y, both)],
                               "fakes": len(scores), "seen": folder.seen}
    unseen = [m["auc"] for m in out["methods"].values() if not m["seen"]]
    out["unseen_mean"] = round(float(np.mean(unseen)), 4) if unseen else None
    return out, (got.real_paths, real_scores), fakes


def compare(weights: str | Path, against: str | Path) -> dict:
    """:func:`unseen_by_method` for ``weights``, with each folder's AUC difference to ``against``
    (``"diff"``) and its paired 95 % bootstrap interval (``"diff_ci"``): both models score the same
    crops, resampled together. Needs the same validation reals; a folder whose crops differ
    between the two runs (seen by one, not the other) gets no difference."""
    out, (paths, reals), fakes = _scored(weights)
    other, (other_paths, other_reals), other_fakes = _scored(against)
    if paths != other_paths:
        raise ValueError(f"{weights} and {against} have different validation reals (another split); "
                         "their AUCs are not paired")
    out["against"] = str(against)
    for src, m in out["methods"].items():
        if src not in other_fakes or fakes[src][0] != other_fakes[src][0]:
            continue
        y = np.r_[np.zeros(len(reals)), np.ones(len(fakes[src][1]))]
        mine, theirs = np.r_[reals, fakes[src][1]], np.r_[other_reals, other_fakes[src][1]]
        m["diff"] = round(auc(y, mine) - auc(y, theirs), 4)  # from the unrounded AUCs
        m["diff_ci"] = [round(v, 4) for v in auc_interval(y, mine, against=theirs)]
    if out["unseen_mean"] is not None and other["unseen_mean"] is not None:
        out["unseen_mean_diff"] = round(out["unseen_mean"] - other["unseen_mean"], 4)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.unseen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="a JRC weights folder written by `python -m train`")
    ap.add_argument("--against", metavar="WEIGHTS",
                    help="another run on the same split: adds each folder's AUC difference to it, with "
                         "a paired 95%% bootstrap interval (is the difference more than sampling noise?)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)  # now, not after minutes of scoring
    try:
        out = compare(args.weights, args.against) if args.against else unseen_by_method(args.weights)
    except (OSError, ValueError, jrc_weights.WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    vs = " | difference to --against (95% CI) |" if args.against else " |"
    print(f"| method | seen in training | fakes | AUC vs {out['val_reals']} validation reals (95% CI){vs}")
    print("|---|---|---:|---:|" + ("---:|" if args.against else ""))
    for src, m in out["methods"].items():
        row = (f"| {src} | {'yes (validation part)' if m['seen'] else 'no (all crops)'} | {m['fakes']} | "
               f"{m['auc']:.3f} ({m['ci'][0]:.3f}-{m['ci'][1]:.3f}) |")
        if args.against:
            row += (f" {m['diff']:+.3f} ({m['diff_ci'][0]:+.3f} to {m['diff_ci'][1]:+.3f}) |" if "diff" in m
                    else " - (other crops) |")
        print(row)
    diff = out.get("unseen_mean_diff")
    if out["unseen_mean"] is None:
        print("\nno unseen methods: the run trained on every fake folder (rows above: validation parts)")
    else:
        print(f"\nmean over unseen methods: {out['unseen_mean']}"
              + (f" ({diff:+.4f} against {args.against})" if diff is not None else ""))
    if "warning" in out:
        print(f"warning: {out['warning']}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
