"""A config for a few CPU training steps on the tiny dataset of tests/train/conftest.py."""

from train.config import TrainConfig


def tiny_cfg(root, out, **kw) -> TrainConfig:
    d = {"data": str(root), "sources": ["youtube", "Deepfakes"], "out": str(out),
         "cache_dir": str(out / "cache"), "epochs": 1, "steps_per_epoch": 2, "batch_size": 4,
         "val_frac": 0.34, "mask_head": True, "lambda_mask": 1.0, "sbi_ratio": 0.5, **kw}
    return TrainConfig.from_dict(d)
