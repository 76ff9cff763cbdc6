"""Inputs/s of the local scan against the Ray scan (1 and 2 workers, and 2 simulated nodes).

The same 200 mixed inputs for every row: face crops (FF++ test crops when ../shared/data is there,
else crops of scikit-image's astronaut), whole photos, and 10 short videos written here. Every
row's records are checked against the local scan's (same statuses, scores within 1e-5).

    python benchmarks/scale_scan.py [--json out.json]

The 2-node row runs on ``ray.cluster_utils.Cluster`` (two raylets on this machine, 1 CPU each),
so object transfer and scheduling across nodes are exercised, not extra hardware. Wall times
include starting the actors (each loads the detector once).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import ray
from skimage import data

from jrc.artifacts import run_builders
from jrc.detector import Detector
from jrc.distributed import Cluster, ScanOptions, scan_distributed
from jrc.scan import scan

CROPS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "ffpp-crops" / "test"
FRAMES = 8


def make_inputs(folder: Path, n_crops: int = 150, n_photos: int = 40, n_videos: int = 10) -> list[Path]:
    """``n_crops`` crops, ``n_photos`` photos (the astronaut, shifted and scaled) and ``n_videos``
    2-s clips, written to ``folder``."""
    astro = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(0)
    paths: list[Path] = []
    real = sorted(CROPS.rglob("*.jpg")) if CROPS.is_dir() else []
    real = real[:: max(1, len(real) // n_crops)]
    for i in range(n_crops):
        p = folder / f"crop{i:03d}.jpg"
        if i < len(real):
            p.write_bytes(real[i].read_bytes())
        else:
            y, x, s = int(rng.integers(10, 60)), int(rng.integers(130, 180)), int(rng.integers(120, 200))
            cv2.imwrite(str(p), cv2.resize(astro[y:y + s + 60, x:x + s], (224, 224)))
        paths.append(p)
    for i in range(n_photos):
        scale = float(rng.uniform(0.8, 2.0))
        img = cv2.resize(astro, None, fx=scale, fy=scale)
        p = folder / f"photo{i:03d}.jpg"
        cv2.imwrite(str(p), img)
        paths.append(p)
    for i in range(n_videos):
        p = folder / f"clip{i:02d}.mp4"
        vw = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (512, 512))
        for k in range(20):
            m = np.float32([[1, 0, 2 * k + i], [0, 1, 0]])
            vw.write(cv2.warpAffine(astro, m, (512, 512), borderMode=cv2.BORDER_REFLECT))
        vw.release()
        paths.append(p)
    return paths


def run_local(paths: list[Path]) -> tuple[float, dict[str, dict]]:
    t0 = time.perf_counter()
    detector = Detector.from_pretrained(None, with_decoder=False)
    recs = {r["path"]: r for r in scan(detector, paths, frames=FRAMES)}
    return time.perf_counter() - t0, recs


def run_ray(paths: list[Path], workers: int, cpus: float) -> tuple[float, dict[str, dict]]:
    recs: dict[str, dict] = {}
    t0 = time.perf_counter()
    scan_distributed(paths, ScanOptions(frames=FRAMES, threads=max(1, int(cpus))),
                     Cluster("auto", workers, cpus), lambda r: recs.__setitem__(r["path"], r))
    return time.perf_counter() - t0, recs


def same(got: dict[str, dict], want: dict[str, dict]) -> bool:
    return sorted(got) == sorted(want) and all(
        got[p]["status"] == w["status"] and (w["score"] is None or abs(got[p]["score"] - w["score"]) <= 1e-5)
        for p, w in want.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON here")
    args = ap.parse_args()
    run_builders(None, "auto", with_decoder=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_inputs(Path(tmp))
        seconds, want = run_local(paths)
        rows.append(("local scan (1 process)", 1, seconds, True))
        cpus = os.cpu_count() or 2
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        try:
            for workers in (1, 2):
                seconds, got = run_ray(paths, workers, cpus / workers)
                name = f"Ray, {workers} worker(s) x {cpus / workers:g} CPU"
                rows.append((name, 1, seconds, same(got, want)))
        finally:
            ray.shutdown()
        from ray.cluster_utils import Cluster as SimulatedCluster

        sim = SimulatedCluster(initialize_head=True, head_node_args={"num_cpus": cpus // 2,
                                                                     "include_dashboard": False})
        sim.add_node(num_cpus=cpus - cpus // 2)
        ray.init(address=sim.address, log_to_driver=False)
        try:
            sim.wait_for_nodes()
            seconds, got = run_ray(paths, 2, cpus // 2)
            rows.append((f"Ray, 2 simulated nodes x 1 worker x {cpus // 2} CPU", len(ray.nodes()), seconds,
                         same(got, want)))
        finally:
            ray.shutdown()
            sim.shutdown()
    n = len(paths)
    print(f"{n} inputs (150 crops, 40 photos, 10 videos of 20 frames, {FRAMES} sampled); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs\n")
    print("| run | nodes | seconds | inputs/s | records = local |\n|---|---|---|---|---|")
    for name, nodes, seconds, ok in rows:
        print(f"| {name} | {nodes} | {seconds:.1f} | {n / seconds:.2f} | {'yes' if ok else 'NO'} |")
    if args.json:
        Path(args.json).write_text(json.dumps([{"run": r[0], "nodes": r[1], "seconds": r[2],
                                                "inputs_per_s": n / r[2], "same_records": r[3]}
                                               for r in rows], indent=2))


if __name__ == "__main__":
    main()
