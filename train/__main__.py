"""``python -m train [--config FILE.yaml] [--set key=value ...] [--resume]``: train a JRC model.

The settings and their defaults are :class:`train.config.TrainConfig`; ``train/configs/default.yaml``
is the shipped model's recipe. The best epoch by validation is written to ``OUT/best`` (a JRC
weights folder: ``python -m jrc scan --weights OUT/best``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from train.config import FIELDS, TrainConfig, load_config
from train.loop import train


def parse_overrides(pairs: list[str]) -> dict:
    """``key=value`` pairs; values parsed as YAML; unknown keys are rejected."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        if key not in FIELDS:
            raise SystemExit(f"unknown config key {key!r}; known: {', '.join(sorted(FIELDS))}")
        out[key] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, help="YAML file of settings (train/configs/default.yaml: the "
                                               "shipped recipe); 'base: other.yaml' starts from another")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override a setting")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    args = p.parse_args(argv)
    try:
        settings = load_config(args.config) if args.config else {}
        cfg = TrainConfig.from_dict({**settings, **parse_overrides(args.set)})
        best = train(cfg, resume=args.resume)
    except (OSError, ValueError, yaml.YAMLError) as e:  # settings and inputs; a bug still shows its traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"best weights: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
