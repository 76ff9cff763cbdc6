"""Server-side FPS of the demo's webcam stream handler on this machine.

    python benchmarks/webcam_fps.py [--weights DIR_OR_REPO] [--backend auto] [--frames 300]

Each frame goes through what the server does per webcam frame: decode the browser's JPEG,
``demo.live.live_frame`` (face detection, scoring, the decoder on every
``--decoder-every``-th frame, drawing) and the JPEG encode of the reply. Frames are a 640x480
webcam-like clip of scikit-image's astronaut photo (one face, moving slightly). Network and
browser time are not included: this is the rate the server can sustain for one stream.
Run it on an idle machine; the load average is printed with the result.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np


def webcam_clip(n: int = 30, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """The astronaut letterboxed into 640x480 frames, swaying left and right (already mirrored,
    as the browser sends it)."""
    from skimage import data

    from demo.examples import webcam_frames

    return webcam_frames(np.ascontiguousarray(data.astronaut()[:, ::-1]), n, size, sway=40)


def as_browser_jpegs(frames: list[np.ndarray]) -> list[bytes]:
    q = [cv2.IMWRITE_JPEG_QUALITY, 80]
    return [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), q)[1].tobytes() for f in frames]


def serve_frame(engine, jpeg: bytes, overlay: str, state, decoder_every: int):
    """Decode the incoming JPEG, run the handler, encode the reply (as ``ui.inline_jpeg`` does)."""
    from demo.live import live_frame

    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    out, status, state = live_frame(engine, rgb, overlay, state, decoder_every=decoder_every)
    ok, _buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return status, state


def load_engine(weights: str | None, backend: str):
    from demo.engine import Engine

    return Engine.load(weights, backend)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="default: $JRC_WEIGHTS or ./weights")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--decoder-every", type=int, default=2)
    ap.add_argument("--overlays", default="residual,none", help="comma-separated: residual, mask, none")
    ap.add_argument("--json", action="store_true", help="print one JSON line per setting")
    args = ap.parse_args()
    from jrc.sysinfo import machine_name

    engine = load_engine(args.weights, args.backend)
    jpegs = as_browser_jpegs(webcam_clip())
    rows = []
    for overlay in args.overlays.split(","):
        state = None
        for j in jpegs[:10]:  # warm-up (lazy loads, first-call set-up)
            _, state = serve_frame(engine, j, overlay, state, args.decoder_every)
        ts = []
        for i in range(args.frames):
            t = time.perf_counter()
            status, state = serve_frame(engine, jpegs[i % len(jpegs)], overlay, state, args.decoder_every)
            ts.append(time.perf_counter() - t)
        assert "face(s)" in status, f"no face found in the benchmark clip: {status}"
        ms = np.array(ts) * 1000
        rows.append({"overlay": overlay, "decoder_every": args.decoder_every if overlay != "none" else None,
                     "fps": round(1000 / ms.mean(), 1), "ms_p50": round(float(np.percentile(ms, 50)), 1),
                     "ms_p95": round(float(np.percentile(ms, 95)), 1)})
    load = os.getloadavg()[0]
    runner = engine.detector.runner.name
    if args.json:
        for r in rows:
            print(json.dumps({**r, "backend": runner, "machine": machine_name(), "load1": round(load, 2)}))
        return
    print(f"Machine: {machine_name()}; backend {runner}; 640x480 frames; load average {load:.2f} "
          f"(~0 on an idle machine)\n")
    print("| overlay | decoder | FPS | p50 ms | p95 ms |\n|---|---|---:|---:|---:|")
    for r in rows:
        dec = "off" if r["decoder_every"] is None else f"every {r['decoder_every']} frames"
        print(f"| {r['overlay']} | {dec} | {r['fps']} | {r['ms_p50']} | {r['ms_p95']} |")


if __name__ == "__main__":
    main()
