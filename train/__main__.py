"""``python -m train [--config FILE.yaml] [--set key=value ...] [--resume]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from train.config import load_config
from train.loop import DEFAULTS, train


def parse_overrides(pairs: list[str], base: dict) -> dict:
    """``key=value`` pairs; values parsed as YAML; unknown keys are rejected."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        if key not in base:
            raise SystemExit(f"unknown config key {key!r}; known: {', '.join(sorted(base))}")
        out[key] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__ + "\n\nTrain JRC.")
    p.add_argument("--config", type=Path,
                   help="YAML file of settings (see train/loop.py DEFAULTS); 'base: other.yaml' "
                        "in it starts from another config")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override a setting")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    args = p.parse_args(argv)
    cfg = dict(DEFAULTS)
    if args.config:
        try:
            cfg.update(load_config(args.config))
        except (OSError, ValueError, yaml.YAMLError) as e:
            raise SystemExit(str(e)) from None
    cfg.update(parse_overrides(args.set, DEFAULTS))
    cfg["resume"] = args.resume
    try:
        best = train(cfg)
    except (ValueError, FileNotFoundError) as e:  # settings and inputs; a bug still shows its traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"best weights: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
