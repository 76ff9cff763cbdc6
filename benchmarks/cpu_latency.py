"""Face-detection ms/frame and JRC model ms/face on this machine (torch eager and ONNX Runtime).

    python benchmarks/cpu_latency.py [--weights DIR] [--runs 50]

Prints a markdown table naming the machine. Run it on an idle machine. The ONNX rows with the
decoder export ``model_decoder.onnx`` next to the weights on first use (as the demo does).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from skimage import data

from jrc.faces import FaceDetector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()

    from export.bench import bench_frame, timed
    from jrc.artifacts import run_builders
    from jrc.detector import Detector
    from jrc.runtime import create_runner
    from jrc.sysinfo import machine_name
    from jrc.weights import load as load_weights

    frame = bench_frame(data.astronaut())  # 1280x720, face ~230 px (as in export.bench)
    small = np.zeros((720, 1280, 3), np.uint8)
    small[104:616, 384:896] = data.astronaut()  # face ~95 px: only the full-range model finds it
    rows = []
    for model, img, what in (("short_range", frame, "face ~230 px"), ("full_range", frame, "face ~230 px"),
                             ("full_range", small, "face ~95 px")):
        fd = FaceDetector(model)
        assert fd.detect(img), f"{model}: no face found in the benchmark frame"
        p50, p95 = timed(lambda fd=fd, img=img: fd.detect(img), args.runs, 5)
        rows.append((f"face detection, BlazeFace {model}, 1280x720 frame, {what}", p50, p95))
        fd.close()

    for backend in ("torch", "onnx"):
        run_builders(args.weights, backend, with_decoder=False)
        det = Detector.from_pretrained(args.weights, backend=backend, with_decoder=False)
        face = det.analyze_image(frame)[0].crop
        for b in (1, 16):
            crops = [face] * b
            p50, p95 = timed(lambda crops=crops, det=det: det.analyze_crops(crops), max(5, args.runs // b), 5)
            rows.append((f"JRC {det.config.encoder} {det.input_size}px, {det.runner.name}, batch {b} "
                         "(per face)", p50 / b, p95 / b))
        p50, p95 = timed(lambda det=det: det.analyze_image(frame), max(5, args.runs // 2), 5)
        rows.append((f"end to end ({det.runner.name}): detect + crop + score, one 720p frame", p50, p95))
        tta = Detector(det.runner, det.threshold, tta=True)
        p50, p95 = timed(lambda tta=tta: tta.analyze_image(frame), max(5, args.runs // 2), 5)
        rows.append((f"end to end ({det.runner.name}) with --tta (face + its mirror)", p50, p95))
    ckpt = load_weights(args.weights)
    for backend in ("torch", "onnx"):  # the demo's path: the overlays need the decoder
        run_builders(args.weights, backend, with_decoder=True)
        full = Detector.from_pretrained(args.weights, backend=backend, with_decoder=True)
        twin = create_runner(ckpt, backend, with_decoder=False)  # the Detector's score-only runner
        variants = (("", full),
                    (" with --tta, mirror scored with the decoder too",
                     Detector(full.runner, full.threshold, tta=True)),
                    (" with --tta, mirror scored by the score-only runner",
                     Detector(full.runner, full.threshold, tta=True, score_runner=twin)))
        for what, d in variants:
            p50, p95 = timed(lambda d=d: d.analyze_crops([face]), max(5, args.runs // 2), 5)
            rows.append((f"JRC + decoder ({full.runner.name}), batch 1{what}", p50, p95))

    print(f"Machine: {machine_name()}; torch threads {__import__('torch').get_num_threads()}\n")
    print("| step | p50 ms | p95 ms |\n|---|---:|---:|")
    for name, p50, p95 in rows:
        print(f"| {name} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    cv2.setNumThreads(1)
    main()
