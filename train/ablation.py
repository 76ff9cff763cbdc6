"""Ablation at equal CPU budget: classifier only / JRC / JRC + SBI / JRC + SBI + mask head.

    python -m train.ablation [--config train/configs/ablation.yaml] [--variants ...]
                             [--lomo Deepfakes Face2Face FaceSwap NeuralTextures] [--lomo-variants ...]
                             [--out runs/ablation] [--set key=value ...]

Every variant trains from the same config, seed and number of steps (``epochs`` x
``steps_per_epoch``, batch size), so the budget is equal; only the listed keys change.
Each is evaluated on the FF++ crops test split and the FF++ videos; leave-one-method-out
(LOMO) runs train on youtube + 3 methods and test on test-split reals + the held-out method.
Finished runs (``<out>/<run>/best``) are reused. Writes ``<out>/ablation.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from train.__main__ import parse_overrides
from train.config import TrainConfig, load_config
from train.evaluate import evaluate
from train.loop import train

VARIANTS: dict[str, dict] = {
    "cls_only": {"lambda_rec": 0.0, "lambda_mask": 0.0, "mask_head": False, "sbi_ratio": 0.0, "reals": []},
    "jrc": {"lambda_mask": 0.0, "mask_head": False, "sbi_ratio": 0.0, "reals": []},
    "jrc_sbi": {"lambda_mask": 0.0, "mask_head": False},
    "jrc_sbi_mask": {},
}
METHODS = ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]
TEST = "../shared/data/ffpp-crops/test"
VIDEOS = "../shared/data/ffpp-videos"


def run(name: str, cfg: dict, out: Path, data: list[str], frames: int) -> dict:
    cfg = {**cfg, "out": str(out / name)}
    best = Path(cfg["out"]) / "best"
    t0 = time.time()
    if not (best / "model.safetensors").is_file():
        train(TrainConfig.from_dict(cfg))
    seconds = time.time() - t0
    cached = Path(cfg["out"]) / "eval.json"
    if cached.is_file() and cached.stat().st_mtime > (best / "model.safetensors").stat().st_mtime:
        row = json.loads(cached.read_text())  # evaluated before, weights unchanged since
        print(json.dumps(row), flush=True)
        return row
    res = evaluate(best, data, frames=frames, progress=False)
    meta = json.loads((best / "config.json").read_text())
    row = {"run": name, "train_seconds": round(seconds), "val": meta.get("metrics"),
           "threshold": meta["threshold"],
           "datasets": {d["name"]: {"frame_auc": d["frame"]["auc"],
                                    "video_auc": (d["video"] or {}).get("auc"),
                                    "acc": d["frame"]["acc"], "n_failed": d["n_failed"],
                                    "auc_per_source": d["auc_per_source"]} for d in res["datasets"]}}
    cached.write_text(json.dumps(row, indent=2))
    print(json.dumps(row), flush=True)
    return row


def fmt(v) -> str:
    return "-" if v is None or v != v else f"{v:.3f}"


def write_tables(rows: list[dict], lomo: list[dict], out: Path, budget: str, lomo_budget: str = "") -> str:
    lines = [f"Budget per run: {budget}.", "",
             "| variant | val AUC (ffpp / sbi) | FF++ test frame AUC | DF | F2F | FS | NT | "
             "FF++ videos: video AUC | FF++ videos: frame AUC |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        t, v = r["datasets"].get("ffpp-test", {}), r["datasets"].get("ffpp-videos", {})
        per = t.get("auc_per_source", {})
        val = r["val"] or {}
        lines.append(f"| {r['run']} | {fmt(val.get('val_ffpp'))} / {fmt(val.get('val_sbi'))} | "
                     f"{fmt(t.get('frame_auc'))} | " + " | ".join(fmt(per.get(m)) for m in METHODS) +
                     f" | {fmt(v.get('video_auc'))} | {fmt(v.get('frame_auc'))} |")
    if lomo:
        variants = sorted({r["variant"] for r in lomo}, key=list(VARIANTS).index)
        lines += ["", "Leave one method out (train: youtube + 3 methods; test: test-split reals + the "
                  f"held-out method), frame AUC{lomo_budget}:", "",
                  "| variant | " + " | ".join(METHODS) + " | mean |", "|---|" + "---:|" * (len(METHODS) + 1)]
        for var in variants:
            vals = {r["held_out"]: r["datasets"][f"lomo-{r['held_out']}"]["frame_auc"]
                    for r in lomo if r["variant"] == var}
            got = [vals[m] for m in METHODS if m in vals]
            mean = sum(got) / len(got) if len(got) == len(METHODS) else None
            lines.append(f"| {var} | " + " | ".join(fmt(vals.get(m)) for m in METHODS) + f" | {fmt(mean)} |")
    text = "\n".join(lines) + "\n"
    (out / "ablation.md").write_text(text)
    (out / "ablation.json").write_text(json.dumps({"runs": rows, "lomo": lomo}, indent=2))
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.ablation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("train/configs/ablation.yaml"))
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--lomo", nargs="*", default=METHODS, choices=METHODS, help="held-out methods")
    p.add_argument("--lomo-variants", nargs="*", default=["jrc", "jrc_sbi_mask"], choices=list(VARIANTS))
    p.add_argument("--lomo-epochs", type=int, default=0,
                   help="epochs for the LOMO runs (default: the config's; a smaller LOMO budget is "
                        "the same for every LOMO run)")
    p.add_argument("--frames", type=int, default=16, help="frames per FF++ video")
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    if args.lomo_epochs < 0 or args.frames < 1:
        p.error("--lomo-epochs must be >= 0 and --frames >= 1")
    try:
        base = {**TrainConfig().to_dict(), **load_config(args.config)}
    except (OSError, ValueError) as e:
        p.error(str(e))
    base.update(parse_overrides(args.set))
    try:
        return _run_all(args, base)
    except (ValueError, FileNotFoundError) as e:  # settings and inputs, as `python -m train` reports them
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run_all(args: argparse.Namespace, base: dict) -> int:
    """Every variant, then every leave-one-method-out run; the tables are rewritten after each."""
    args.out.mkdir(parents=True, exist_ok=True)
    e, n, b = base["epochs"], base["steps_per_epoch"], base["batch_size"]
    budget = f"{e} epochs x {n} steps x batch {b} ({e * n * b} images), seed {base['seed']}"
    lomo_budget = f", {args.lomo_epochs} epochs x {n} steps per run" if args.lomo_epochs else ""
    rows, lomo = [], []
    for name in args.variants:
        rows.append(run(name, {**base, **VARIANTS[name]}, args.out,
                        [f"ffpp-test={TEST}", f"ffpp-videos={VIDEOS}"], args.frames))
        write_tables(rows, lomo, args.out, budget, lomo_budget)
    for name in args.lomo_variants:
        for held in args.lomo:
            keep = ["youtube", *[m for m in METHODS if m != held]]
            lomo_cfg = {**base, **VARIANTS[name], "sources": keep}
            if args.lomo_epochs:
                lomo_cfg["epochs"] = args.lomo_epochs
            r = run(f"lomo_{held}_{name}", lomo_cfg, args.out,
                    [f"lomo-{held}={TEST}:youtube,{held}"], args.frames)
            lomo.append({**r, "variant": name, "held_out": held})
            write_tables(rows, lomo, args.out, budget, lomo_budget)
    print(write_tables(rows, lomo, args.out, budget, lomo_budget))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
