"""Memory over a long simulated webcam session: does the stream handler leak?

    python benchmarks/webcam_memory.py --duration 600      # the 10-minute check
    python benchmarks/webcam_memory.py                     # 60 s default

Feeds webcam-like frames (see ``webcam_fps.py``) through the same per-frame path as the server
(JPEG decode, ``live_frame`` with its per-session state, JPEG encode), paced at ``--fps``, and
samples the process's resident memory. The first ``--warmup`` seconds are excluded (allocator
pools and lazy loads settle there). Exits 1 if memory grew by more than ``--max-growth-mb``
after warm-up. The Gradio transport is not included (the server keeps no per-frame files:
frames come in and go out as inline JPEG data).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webcam_fps import as_browser_jpegs, load_engine, serve_frame, webcam_clip


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, where /proc is absent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60, help="seconds of simulated session (600 = 10 min)")
    ap.add_argument("--fps", type=float, default=15, help="frames offered per second (0: flat out)")
    ap.add_argument("--warmup", type=float, default=10, help="seconds excluded from the growth figure")
    ap.add_argument("--sample-every", type=float, default=5, help="seconds between memory samples")
    ap.add_argument("--overlay", default="residual", choices=["residual", "mask", "none"])
    ap.add_argument("--max-growth-mb", type=float, default=30)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args()
    from jrc.sysinfo import machine_name

    engine = load_engine(args.weights, args.backend)
    jpegs = as_browser_jpegs(webcam_clip())
    state, n = None, 0
    samples: list[tuple[float, float]] = []
    t0 = time.perf_counter()
    next_sample = 0.0
    while (now := time.perf_counter() - t0) < args.duration:
        if now >= next_sample:
            samples.append((now, rss_mb()))
            next_sample += args.sample_every
        _, state = serve_frame(engine, jpegs[n % len(jpegs)], args.overlay, state, 2)
        n += 1
        if args.fps > 0:
            time.sleep(max(0.0, n / args.fps - (time.perf_counter() - t0)))
    samples.append((time.perf_counter() - t0, rss_mb()))
    after = [(t, m) for t, m in samples if t >= args.warmup] or samples[-2:]
    ts, ms = np.array([t for t, _ in after]), np.array([m for _, m in after])
    slope = float(np.polyfit(ts, ms, 1)[0] * 60) if len(after) > 1 else 0.0
    growth = float(ms[-1] - ms[0])
    result = {"machine": machine_name(), "backend": engine.detector.runner.name,
              "duration_s": round(ts[-1], 1), "frames": n, "fps": round(n / ts[-1], 1),
              "rss_start_mb": round(samples[0][1], 1),
              "rss_after_warmup_mb": round(float(ms[0]), 1), "rss_end_mb": round(float(ms[-1]), 1),
              "rss_max_mb": round(max(m for _, m in samples), 1), "growth_after_warmup_mb": round(growth, 1),
              "slope_mb_per_min": round(slope, 2), "load1": round(os.getloadavg()[0], 2)}
    print(json.dumps(result))
    print(f"{n} frames in {ts[-1]:.0f} s ({result['fps']} FPS): RSS {result['rss_after_warmup_mb']} MB after "
          f"warm-up -> {result['rss_end_mb']} MB at the end (max {result['rss_max_mb']}); "
          f"{growth:+.1f} MB, {slope:+.2f} MB/min", file=sys.stderr)
    return 0 if growth <= args.max_growth_mb else 1


if __name__ == "__main__":
    sys.exit(main())
