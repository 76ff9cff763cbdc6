"""AUC / ACC / EER / AP of a `jrc scan` JSONL output, labels taken from the path.

    python -m jrc scan --crops ../shared/data/ffpp-crops/test --output scan.jsonl
    python benchmarks/auc_from_scan.py scan.jsonl [--by-source]

A path whose parent folder is ``youtube``/``real``/``original`` (or whose name starts with
``original``) is real; any other is fake. Records that are not ``ok`` are counted and excluded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from train.data import REAL_DIRS
from train.metrics import summary


def label_of(path: str) -> int:
    p = Path(path)
    return 0 if p.parent.name.lower() in REAL_DIRS or p.name.lower().startswith("original") else 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl", type=Path)
    ap.add_argument("--by-source", action="store_true", help="also one row per fake folder vs all reals")
    args = ap.parse_args()
    recs = [json.loads(s) for s in args.jsonl.read_text().splitlines() if s.strip()]
    ok = [r for r in recs if r["status"] == "ok"]
    print(f"{len(recs)} records, {len(ok)} ok, {len(recs) - len(ok)} not scored "
          f"({', '.join(sorted({r['status'] for r in recs if r['status'] != 'ok'})) or '-'})")
    y = np.array([label_of(r["path"]) for r in ok])
    s = np.array([r["score"] for r in ok])
    thr = ok[0]["threshold"] if ok else 0.5
    groups = {"all": np.ones(len(ok), bool)}
    if args.by_source:
        src = np.array([Path(r["path"]).parent.name for r in ok])
        for name in sorted(set(src[y == 1])):
            groups[f"{name} vs real"] = (y == 0) | (src == name)
    print("| subset | n | fake | AUC | ACC@thr | EER | AP |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, m in groups.items():
        r = summary(y[m], s[m], thr)
        print(f"| {name} | {r['n']} | {r['n_fake']} | {r['auc']:.4f} | {r['acc']:.4f} | "
              f"{r.get('eer', float('nan')):.4f} | {r.get('ap', float('nan')):.4f} |")


if __name__ == "__main__":
    main()
