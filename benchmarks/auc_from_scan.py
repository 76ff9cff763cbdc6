"""AUC / ACC / EER / AP of a `jrc scan` JSONL output, labels taken from the path.

    python -m jrc scan --crops ../shared/data/ffpp-crops/test --output scan.jsonl
    python benchmarks/auc_from_scan.py scan.jsonl [--by-source] [--against other_scan.jsonl]

A path whose parent folder is ``youtube``/``real``/``original`` (or whose name starts with
``original``) is real; any other is fake. Records that are not ``ok`` are counted and excluded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from train.data import REAL_DIRS
from train.metrics import auc, auc_interval, summary


def label_of(path: str) -> int:
    p = Path(path)
    return 0 if p.parent.name.lower() in REAL_DIRS or p.name.lower().startswith("original") else 1


def load_ok(path: Path) -> dict[str, dict]:
    """The JSONL's records by path, and a line naming how many were not scored."""
    recs = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
    ok = {r["path"]: r for r in recs if r["status"] == "ok"}
    print(f"{path}: {len(recs)} records, {len(ok)} ok, {len(recs) - len(ok)} not scored "
          f"({', '.join(sorted({r['status'] for r in recs if r['status'] != 'ok'})) or '-'})")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl", type=Path)
    ap.add_argument("--by-source", action="store_true", help="also one row per fake folder vs all reals")
    ap.add_argument("--against", type=Path, metavar="OTHER.jsonl",
                    help="another model's scan of the same files: adds the AUC difference with a paired "
                         "95%% bootstrap interval, on the files both scored")
    args = ap.parse_args()
    ok = load_ok(args.jsonl)
    other = load_ok(args.against) if args.against else {}
    paths = [p for p in ok if p in other] if args.against else list(ok)
    if args.against and not paths:
        print(f"error: {args.jsonl} and {args.against} have no scored file in common", file=sys.stderr)
        raise SystemExit(2)
    if not paths:
        print(f"error: {args.jsonl} has no record with status ok", file=sys.stderr)
        raise SystemExit(2)
    y = np.array([label_of(p) for p in paths])
    s = np.array([ok[p]["score"] for p in paths])
    t = np.array([other[p]["score"] for p in paths]) if args.against else None
    thr = ok[paths[0]]["threshold"]
    groups = {"all": np.ones(len(paths), bool)}
    if args.by_source:
        src = np.array([Path(p).parent.name for p in paths])
        for name in sorted(set(src[y == 1])):
            groups[f"{name} vs real"] = (y == 0) | (src == name)
    head = "| subset | n | fake | AUC (95% CI) | ACC@thr | EER | AP |"
    print(head + (" AUC - against (95% CI) |" if args.against else ""))
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if args.against else ""))
    for name, m in groups.items():
        r = summary(y[m], s[m], thr)
        lo, hi = auc_interval(y[m], s[m])
        row = (f"| {name} | {r['n']} | {r['n_fake']} | {r['auc']:.4f} ({lo:.3f}-{hi:.3f}) | {r['acc']:.4f} | "
               f"{r.get('eer', float('nan')):.4f} | {r.get('ap', float('nan')):.4f} |")
        if t is not None:
            dlo, dhi = auc_interval(y[m], s[m], against=t[m])
            row += f" {r['auc'] - auc(y[m], t[m]):+.4f} ({dlo:+.3f} to {dhi:+.3f}) |"
        print(row)


if __name__ == "__main__":
    main()
