"""How far validation crops sit from training, against the test split: does a split look like the test?

    python benchmarks/split_distances.py [--config train/configs/jrc_lite0_224_buffered.yaml]
                                         [--test ../shared/data/ffpp-crops/test]

For the config's split and the same split without ``val_buffer``, prints percentiles (10/25/50/75/90)
of each validation crop's distance to its nearest training crop, and of each test crop's distance to
the nearest crop of the training folder, in two spaces:
* ``thumbnail``: RMS difference of standardised 16x16 grey thumbnails (``train.data.nearest_distances``,
  the distance behind ``val_split: grouped`` and ``val_buffer``);
* ``imagenet``: cosine distance of the ImageNet EfficientNet-Lite0 encoder's pooled features (generic
  appearance, not trained on this data).
Test pixels only: no test label or score is read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from jrc.model import ModelConfig, TwoBranchCAE
from jrc.preprocess import normalize
from train.config import load_config
from train.data import cache_crops, nearest_distances, scan_crop_folder
from train.loop import DEFAULTS, labelled_split

PERCENTILES = (10, 25, 50, 75, 90)


def imagenet_features(crops: np.ndarray, model: TwoBranchCAE, batch: int = 64) -> np.ndarray:
    """L2-normalised global-average-pooled encoder features, ``[N, C]``."""
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            x = torch.from_numpy(normalize(crops[i:i + batch], model.config.mean, model.config.std))
            out.append(torch.nn.functional.normalize(model.encode(x).mean((2, 3)), dim=1).numpy())
    return np.concatenate(out)


def cosine_nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine distance from each row of ``a`` to its nearest row of ``b`` (rows unit length)."""
    return 1 - np.concatenate([(a[i:i + 512] @ b.T).max(1) for i in range(0, len(a), 512)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="train/configs/jrc_lite0_224_buffered.yaml")
    ap.add_argument("--test", type=Path, default=Path("../shared/data/ffpp-crops/test"))
    args = ap.parse_args()
    cfg = {**DEFAULTS, **load_config(args.config)}
    if not Path(cfg["data"]).is_dir() or not args.test.is_dir():
        raise SystemExit(f"error: needs {cfg['data']} and {args.test} (run from the repository root "
                         "with ../shared/data beside it)")
    size = cfg["input_size"] or ModelConfig.for_encoder(cfg["encoder"]).input_size
    splits = {"as configured": labelled_split(cfg, size)}
    if cfg["val_buffer"]:
        splits["without val_buffer"] = labelled_split({**cfg, "val_buffer": 0.0}, size)
    crops, found = splits["as configured"].crops, splits["as configured"].found
    test = scan_crop_folder(args.test)
    tc, tf, _ = cache_crops(test, size, cfg["cache_dir"], cfg["face_model"])
    tc = tc[tf]
    config = ModelConfig.for_encoder(cfg["encoder"], input_size=size)
    model = TwoBranchCAE(config, pretrained_encoder=True).eval()
    feats, test_feats = imagenet_features(crops, model), imagenet_features(tc, model)

    def row(name: str, thumb: np.ndarray, feat: np.ndarray) -> None:
        fmt = " / ".join
        print(f"| {name} | {len(thumb)} | {fmt(f'{v:.3f}' for v in np.percentile(thumb, PERCENTILES))} "
              f"| {fmt(f'{v:.3f}' for v in np.percentile(feat, PERCENTILES))} |")

    print(f"| nearest training crop ({args.config}) | crops | thumbnail, percentiles "
          f"{'/'.join(map(str, PERCENTILES))} | imagenet |\n|---|---:|---|---|")
    for name, s in splits.items():
        row(f"validation, {name}", nearest_distances(crops[s.val], crops[s.train]),
            cosine_nearest(feats[s.val], feats[s.train]))
    row("test split, to any training-folder crop", nearest_distances(tc, crops[found]),
        cosine_nearest(test_feats, feats[found]))


if __name__ == "__main__":
    main()
