"""``python -m export.bench``: every runtime and precision available here, exported, checked, timed.

    python -m export.bench [--weights W] [--runs 30] [--json OUT] [--runtimes torch,onnx,...]
                           [--no-reference] [--no-e2e]

For each runtime (torch eager FP32; onnxruntime CPU FP32 and FP16; with CUDA: torch FP32/FP16,
onnxruntime-CUDA FP32/FP16; TensorRT FP16 when installed): export, reload, check parity with
torch FP32 on real face crops, then time after a warm-up: p50/p95 ms per face at batch 1 and
16, faces/s at batch 16, the artifact's size, and end to end: face detection + scoring on a
1280x720 frame and scanning a 10-s clip (32 sampled frames). The paper-faithful Xception-299 is
the reference row (random init unless --reference-weights: timing only). The score-only graph
is timed (what ``jrc scan`` runs). A markdown table goes to stdout, naming the machine; the
same numbers go to ``--json``. Timings taken while the machine is busy are marked contended.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from jrc.artifacts import FORMATS

# from the formats table: each CPU-capable format on the CPU and on CUDA, then the GPU-only ones
RUNTIMES = (*(f.name for f in FORMATS if not f.gpu), *(f"{f.name}-cuda" for f in FORMATS if not f.gpu),
            *(f.name for f in FORMATS if f.gpu))
ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("export.bench")


@dataclass
class Row:
    model: str
    runtime: str
    precision: str
    file_mb: float | None = None
    parity: float | None = None  # max |Δscore| vs torch fp32
    parity_ok: bool | None = None
    b1_p50: float | None = None  # ms per face
    b1_p95: float | None = None
    b16_p50: float | None = None
    b16_p95: float | None = None
    faces_per_s: float | None = None
    speedup_b1: float | None = None  # vs torch-cpu fp32 of the same model
    frame_ms: float | None = None  # detect + crop + score, one 720p frame (p50)
    clip_s: float | None = None  # 10-s clip, 32 sampled frames
    export_s: float | None = None
    notes: list[str] = field(default_factory=list)


def timed(fn: Callable[[], object], runs: int, warmup: int) -> tuple[float, float]:
    """p50, p95 in ms after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(max(1, runs)):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return float(np.percentile(ts, 50)), float(np.percentile(ts, 95))


def machine() -> dict:
    from jrc.runtime import physical_cores
    from jrc.sysinfo import machine_name

    info = {"name": machine_name(), "logical_cpus": os.cpu_count(), "physical_cores": physical_cores(),
            "python": platform.python_version()}
    with contextlib.suppress(ValueError, OSError, AttributeError):
        info["ram_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    for mod in ("torch", "onnxruntime", "tensorrt", "mediapipe"):
        with contextlib.suppress(Exception):  # a missing or broken optional package is not listed
            info[mod] = __import__(mod).__version__
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    info["load_avg_1min"] = round(load, 2)
    info["contended"] = load > 0.5 * (os.cpu_count() or 1)
    return info


def default_weights() -> tuple[str | None, str]:
    """The shipped weights, else the training run's best checkpoint, else none (random init)."""
    for folder in (os.environ.get("JRC_WEIGHTS"), ROOT / "weights", ROOT / "runs" / "jrc_lite0" / "best"):
        if folder and (Path(folder) / "model.safetensors").is_file():
            return str(folder), str(folder)
    return None, "random init (timing only)"


def random_checkpoint(encoder: str, folder: Path):
    """A random-init model of ``encoder``, saved to ``folder`` (reference timing rows only)."""
    import torch

    from jrc import weights as jrc_weights
    from jrc.model import ModelConfig, TwoBranchCAE

    torch.manual_seed(0)
    model = TwoBranchCAE(ModelConfig.for_encoder(encoder)).eval()
    jrc_weights.save(model, folder, threshold=0.5, note="random init: timing only")
    return jrc_weights.load(folder)


# ------------------------------------------------------------------------- end to end
def bench_frame(astronaut: np.ndarray, scale: float = 2.5) -> np.ndarray:
    """A 1280x720 webcam-like frame: the astronaut photo enlarged 2.5x, her face (~230 px) centred.

    (BlazeFace short-range, the default face model, is made for faces near the camera: it misses
    the 95-px face of the photo pasted at its own size into a 720p frame.)
    """
    import cv2

    big = cv2.resize(astronaut, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    frame = np.full((720, 1280, 3), 118, np.uint8)
    h, w = big.shape[:2]
    x0, y0 = 640 - int(225 * scale), 360 - int(130 * scale)  # face centre in the photo: (225, 130)
    src = big[max(0, -y0):min(h, 720 - y0), max(0, -x0):min(w, 1280 - x0)]
    frame[max(0, y0):max(0, y0) + src.shape[0], max(0, x0):max(0, x0) + src.shape[1]] = src
    return frame


def write_clip(path: Path, frame: np.ndarray, seconds: float = 10.0, fps: float = 25.0) -> Path:
    """A ``seconds`` clip of ``frame`` panning slowly (mp4v), for the video scan timing."""
    import cv2

    h, w = frame.shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not vw.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v video here")
    n = int(seconds * fps)
    for i in range(n):
        m = np.float32([[1, 0, 80 * np.sin(2 * np.pi * i / n)], [0, 1, 0]])
        vw.write(cv2.cvtColor(cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REFLECT),
                              cv2.COLOR_RGB2BGR))
    vw.release()
    return path


def time_e2e(row: Row, runner, threshold: float, frame: np.ndarray | None, clip: Path | None,
             runs: int) -> None:
    from jrc.detector import Detector
    from jrc.video import analyze_video

    if frame is None:
        return
    det = Detector(runner, threshold)
    if not det.analyze_image(frame):
        row.notes.append("no face found in the 720p frame")
        return
    row.frame_ms, _ = timed(lambda: det.analyze_image(frame), max(3, runs // 3), 2)
    if clip is not None:
        t = time.perf_counter()
        report = analyze_video(det, clip, frames=32)
        row.clip_s = time.perf_counter() - t
        if report.score is None:
            row.notes.append("no face found in the clip")
    det.faces.close()


# ------------------------------------------------------------------------- runtimes
def make_runners(ckpt, wanted: set[str], workdir: Path, fp16_cpu: bool) -> list[tuple[str, str, Callable]]:
    """``(runtime, precision, factory)``; a factory returns ``(runner, artifact path or None)``."""
    import torch

    from export.formats import artifact_name
    from export.onnx import export_onnx
    from jrc.runtime import BackendUnavailable, OnnxRunner, TorchRunner, import_tensorrt

    def onnx(fp16: bool, providers: str):
        def make():
            import onnxruntime as ort

            if providers == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailable("onnxruntime has no CUDA provider here (onnxruntime-gpu on a CUDA "
                                         "machine)")
            path = workdir / artifact_name(False, fp16, ".onnx")
            if not path.is_file():
                export_onnx(ckpt, path, with_decoder=False, fp16=fp16)
            return OnnxRunner(path, providers=providers), path
        return make

    def trt():
        from export.trt import build_and_write

        import_tensorrt()
        onnx_path = workdir / artifact_name(False, True, ".onnx")
        if not onnx_path.is_file():
            export_onnx(ckpt, onnx_path, with_decoder=False, fp16=True)
        from jrc.runtime import TensorRTRunner

        path, _ = build_and_write(onnx_path, workdir / "model_fp16.engine", True, 1, 16, 32, 2.0)
        return TensorRTRunner(path), path

    cuda = torch.cuda.is_available()
    out: list[tuple[str, str, Callable]] = []
    if "torch" in wanted:
        out.append(("torch-cpu", "fp32", lambda: (TorchRunner(ckpt, False, device="cpu"), None)))
    if "onnx" in wanted:
        out.append(("onnx-cpu", "fp32", onnx(False, "cpu")))
        if fp16_cpu:
            out.append(("onnx-cpu", "fp16", onnx(True, "cpu")))
    if "torch-cuda" in wanted and not cuda:
        out.append(("torch-cuda", "fp32/fp16", _unavailable("torch sees no CUDA device")))
    if "torch-cuda" in wanted and cuda:
        out.append(("torch-cuda", "fp32", lambda: (TorchRunner(ckpt, False, device="cuda"), None)))
        out.append(("torch-cuda", "fp16", lambda: (TorchRunner(ckpt, False, device="cuda", half=True), None)))
    if "onnx-cuda" in wanted:
        out.append(("onnx-cuda", "fp32", onnx(False, "cuda")))
        out.append(("onnx-cuda", "fp16", onnx(True, "cuda")))
    if "tensorrt" in wanted:
        out.append(("tensorrt", "fp16", trt))
    return out


def _unavailable(reason: str) -> Callable:
    def make():
        from jrc.runtime import BackendUnavailable

        raise BackendUnavailable(reason)
    return make


def bench_model(label: str, ckpt, wanted: set[str], runs: int, crops: np.ndarray, source: str,
                frame: np.ndarray | None, clip: Path | None, fp16_cpu: bool,
                skipped: list[str]) -> list[Row]:
    from export.onnx import compare
    from jrc.preprocess import normalize
    from jrc.runtime import BackendUnavailable

    c = ckpt.config
    x16 = normalize(crops[:16], c.mean, c.std)
    if len(x16) < 16:
        x16 = np.concatenate([x16] * (16 // len(x16) + 1))[:16]
    x1 = np.ascontiguousarray(x16[:1])
    weights_file = Path(ckpt.path) / "model.safetensors"
    rows: list[Row] = []
    base_b1 = None
    with tempfile.TemporaryDirectory(prefix="jrc-bench-") as tmp:
        for runtime, precision, make in make_runners(ckpt, wanted, Path(tmp), fp16_cpu):
            row = Row(label, runtime, precision)
            print(f"  {label}: {runtime} {precision} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            try:
                runner, path = make()
            except (BackendUnavailable, ImportError, RuntimeError, ValueError) as e:
                skipped.append(f"{label} {runtime} {precision}: {e}")
                continue
            row.export_s = round(time.perf_counter() - t, 1)
            size_of = path if path is not None else weights_file
            row.file_mb = round(size_of.stat().st_size / 1e6, 1) if size_of.is_file() else None
            p = compare(runner, ckpt, crops, source, precision)
            row.parity, row.parity_ok = p.max_abs["score"], p.ok
            warm = max(3, runs // 10)
            row.b1_p50, row.b1_p95 = timed(lambda r=runner: r(x1), runs, warm)
            p50, p95 = timed(lambda r=runner: r(x16), max(3, runs // 4), max(2, warm // 2))
            row.b16_p50, row.b16_p95, row.faces_per_s = p50 / 16, p95 / 16, 16000 / p50
            if runtime == "torch-cpu" and precision == "fp32":
                base_b1 = row.b1_p50
            if base_b1:
                row.speedup_b1 = base_b1 / row.b1_p50
            time_e2e(row, runner, ckpt.threshold, frame, clip, runs)
            rows.append(row)
            del runner
    return rows


# ------------------------------------------------------------------------- report
def fmt(v, spec: str = ".1f") -> str:
    return "–" if v is None else format(v, spec)


def markdown(rows: list[Row], info: dict, settings: dict, skipped: list[str]) -> str:
    lines = [f"Machine: {info['name']} ({info['physical_cores']} physical cores"
             + (f", {info['ram_gib']} GiB RAM" if "ram_gib" in info else "") + "); "
             + ", ".join(f"{k} {info[k]}" for k in ("torch", "onnxruntime", "tensorrt") if k in info),
             f"Load average at start: {info['load_avg_1min']}"
             + (" - machine busy: timings are contended, not final" if info["contended"] else " (idle)"),
             f"Model: {settings['model']} ({settings['weights']}); score-only graph; parity on "
             f"{settings['parity_crops']}; {settings['runs']} runs at batch 1, "
             f"{max(3, settings['runs'] // 4)} at batch 16, after warm-up; "
             f"onnxruntime threads {settings['ort_threads']}, torch threads "
             f"{settings['torch_threads']}", "",
             "| model | runtime | precision | file MB | max abs Δscore | b1 p50 ms | b1 p95 ms | "
             "b16 p50 ms/face | b16 p95 ms/face | faces/s (b16) | × torch b1 | 720p frame ms | "
             "10-s clip (32 fr) s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        parity = "–" if r.parity is None else f"{r.parity:.1e}" + ("" if r.parity_ok else " FAIL")
        lines.append(f"| {r.model} | {r.runtime} | {r.precision} | {fmt(r.file_mb)} | {parity} | "
                     f"{fmt(r.b1_p50, '.2f')} | {fmt(r.b1_p95, '.2f')} | {fmt(r.b16_p50, '.2f')} | "
                     f"{fmt(r.b16_p95, '.2f')} | {fmt(r.faces_per_s, '.0f')} | {fmt(r.speedup_b1, '.2f')} | "
                     f"{fmt(r.frame_ms)} | {fmt(r.clip_s, '.2f')} |")
    notes = [f"- {r.model} {r.runtime} {r.precision}: {n}" for r in rows for n in r.notes]
    if skipped:
        notes += [f"- not run: {s}" for s in skipped]
    return "\n".join(lines + (["", *notes] if notes else []))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", metavar="DIR_OR_REPO",
                   help="Lite0 weights (default: ./weights, else runs/jrc_lite0/best, else random init)")
    p.add_argument("--runs", type=int, default=30, metavar="N",
                   help="timed runs at batch 1 (batch 16: N/4); default 30")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON here")
    p.add_argument("--runtimes", default=",".join(RUNTIMES),
                   help=f"comma-separated subset of {','.join(RUNTIMES)} (unavailable ones are skipped)")
    p.add_argument("--no-reference", action="store_true", help="skip the Xception-299 reference rows")
    p.add_argument("--no-e2e", action="store_true", help="skip the 720p frame and 10-s clip timings")
    p.add_argument("--no-fp16-cpu", action="store_true", help="skip onnxruntime FP16 on CPU")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    wanted = {s.strip() for s in args.runtimes.split(",") if s.strip()}
    if args.runs < 1 or not wanted or wanted - set(RUNTIMES):
        parser.print_usage(sys.stderr)
        print(f"error: --runs must be >= 1 and --runtimes a subset of {','.join(RUNTIMES)}", file=sys.stderr)
        return 2
    import torch

    from export.samples import parity_crops
    from jrc import weights as jrc_weights
    from jrc.runtime import default_threads

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    info = machine()
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="jrc-bench-") as tmp:
        tmp = Path(tmp)
        weights, label = (args.weights, args.weights) if args.weights else default_weights()
        try:
            ckpt = jrc_weights.load(weights) if weights else random_checkpoint("efficientnet_lite0",
                                                                               tmp / "lite0")
        except jrc_weights.WeightsError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        crops, source = parity_crops(ckpt.config.input_size, 16)
        frame = clip = None
        if not args.no_e2e:
            try:
                from skimage import data

                frame = bench_frame(np.ascontiguousarray(data.astronaut()))
                clip = write_clip(tmp / "clip.mp4", frame)
            except (ImportError, RuntimeError) as e:
                skipped.append(f"end-to-end timings: {e}")
        settings = {"model": f"{ckpt.config.encoder} {ckpt.config.input_size}px", "weights": label,
                    "parity_crops": source, "runs": args.runs, "ort_threads": default_threads(),
                    "torch_threads": torch.get_num_threads(), "runtimes": sorted(wanted)}
        rows = bench_model(f"JRC {ckpt.config.encoder}", ckpt, wanted, args.runs, crops, source,
                           frame, clip, not args.no_fp16_cpu, skipped)
        if not args.no_reference:
            ref = random_checkpoint("xception", tmp / "xception")
            xcrops, xsource = parity_crops(ref.config.input_size, 16)
            rows += bench_model("Xception-299 reference (random init, timing only)", ref, wanted,
                                args.runs, xcrops, xsource, frame, clip, False, skipped)
    table = markdown(rows, info, settings, skipped)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "settings": settings,
                                               "rows": [asdict(r) for r in rows], "skipped": skipped},
                                              indent=2) + "\n")
    failed = [r for r in rows if r.parity_ok is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
