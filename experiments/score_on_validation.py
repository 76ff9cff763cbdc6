"""One-off: score any weights on a training config's validation sets and selection rule.

    python experiments/score_on_validation.py --config train/configs/trust.yaml --weights weights

Used to put v6 (the shipped model before v7) on the same rule as the v7 run (issue 27). The sets,
re-saved copies and seeds are exactly those the run validates on (train/validation.py).
"""

import argparse
import json

from jrc import weights as jrc_weights
from train.config import TrainConfig, load_config
from train.pairs import PairedData
from train.validation import Validator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config", required=True)
    p.add_argument("--weights", required=True)
    args = p.parse_args()
    cfg = TrainConfig.from_dict(load_config(args.config))
    model = jrc_weights.load(args.weights).model
    data = PairedData(cfg, model.config.input_size)
    row, score, threshold = Validator(data, cfg, model.config.input_size)(model)
    print(json.dumps({"weights": args.weights, "score": round(score, 4), "threshold": round(threshold, 4),
                      **{k: round(v, 4) for k, v in row.items()}}))


if __name__ == "__main__":
    main()
