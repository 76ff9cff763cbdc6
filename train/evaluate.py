"""``python -m train.evaluate``: frame/video AUC, ACC at the stored threshold, EER and AP per dataset.

Usage::

    python -m train.evaluate --weights runs/jrc_lite0/best \\
        --data ffpp-test=../shared/data/ffpp-crops/test \\
               lomo-FaceSwap=../shared/data/ffpp-crops/test:youtube,FaceSwap \\
               ../shared/data/ffpp-videos \\
        --json eval.json

A dataset SPEC is ``[NAME=]PATH[:SOURCE,SOURCE...]``, one of:

* a crop folder in the FF++ crops layout, ``PATH/<source>/*.jpg``: ``youtube``/``real`` (see
  ``train.data.REAL_DIRS``) are real, every other source is fake. Each image goes through the
  detect + crop of training (``train.data.cache_crops``), as ``python -m jrc scan --crops`` does
  (which, unlike this, scores a crop without a detectable face as given); ``--as-is`` scores the
  images as given instead, like ``jrc scan --crops --as-given``. Crops have no video ids: frame
  level only.
* a video dataset (any folder holding videos), read by ``train.data.scan_video_dataset``: FF++
  official layout, Celeb-DF v2 (its test list when present), DFDC ``metadata.json``, or ``real/`` +
  ``fake/`` (as ``../shared/data/ffpp-videos``). Each video is scored by ``jrc.video.analyze_video``
  (face tracks, track score, video score = max over tracks); the frame level uses each sampled
  frame's highest face score, labelled with its video's label.

``:SOURCE,...`` keeps only those sources (crop sub-folders, for leave-one-method-out testing;
or a video layout's sources, e.g. ``real,fake``). NAME defaults to the last two path parts.
Inputs that cannot be scored (unreadable, no face) are counted as failed, listed with a reason,
and left out of the metrics: never given a default score.

The decision threshold is the one stored in the weights' ``config.json`` (chosen on validation
data by the training loop); nothing here picks a threshold.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from jrc.artifacts import run_builders
from jrc.detector import Detector
from jrc.media import VIDEO_EXTS, MediaError, load_image
from jrc.runtime import BACKENDS, BackendUnavailable
from jrc.video import analyze_video
from jrc.weights import WeightsError
from train.data import Sample, cache_crops, scan_crop_folder, scan_video_dataset
from train.metrics import auc, summary

LOAD_BATCH = 64


@dataclass
class DataSpec:
    name: str
    path: Path
    sources: tuple[str, ...] | None
    kind: str  # "crops" | "videos"


def parse_spec(spec: str) -> DataSpec:
    """``[NAME=]PATH[:SOURCE,...]`` -> DataSpec; ValueError with the reason if it is not usable."""
    name, rest = None, spec
    head, sep, tail = spec.partition("=")
    if sep and head and "/" not in head:
        name, rest = head, tail
    sources = None
    if ":" in rest:
        p, _, s = rest.rpartition(":")
        if "/" not in s and Path(p).is_dir():
            rest, sources = p, tuple(x for x in s.split(",") if x)
            if not sources:
                raise ValueError(f"{spec}: empty source list after ':'")
    path = Path(rest)
    if not path.is_dir():
        raise ValueError(f"{spec}: {path} is not a folder")
    has_video = any(f.suffix.lower() in VIDEO_EXTS for f in path.rglob("*"))
    if name is None:
        name = "/".join(path.resolve().parts[-2:]) + (f":{','.join(sources)}" if sources else "")
    return DataSpec(name, path, sources, "videos" if has_video else "crops")


def _samples(spec: DataSpec) -> list[Sample]:
    if spec.kind == "videos":
        split = "test" if (spec.path / "List_of_testing_videos.txt").is_file() else None  # Celeb-DF
        samples = scan_video_dataset(spec.path, split)
    else:
        samples = scan_crop_folder(spec.path)
    if spec.sources is not None:
        known = sorted({s.source for s in samples})
        unknown = [s for s in spec.sources if s not in known]
        if unknown:
            raise ValueError(f"{spec.name}: no source(s) {unknown} in {spec.path}; available: "
                             f"{', '.join(known)}")
        samples = [s for s in samples if s.source in spec.sources]
    return samples


def _score_crops(detector: Detector, samples: list[Sample], cache_dir: str | Path, detect: bool,
                 progress: bool) -> tuple[list[float | None], list[str | None]]:
    """Score per sample (None = failed) and the failure reason."""
    scores: list[float | None] = [None] * len(samples)
    reasons: list[str | None] = [None] * len(samples)
    if detect:
        crops, found, *_ = cache_crops(samples, detector.input_size, cache_dir, detector.face_model)
        for i in np.flatnonzero(~found):
            unreadable = cv2.imread(samples[i].path, cv2.IMREAD_COLOR) is None
            reasons[i] = "unreadable image" if unreadable else "no face detected"
        idx = np.flatnonzero(found)
        for j in tqdm(range(0, len(idx), LOAD_BATCH), desc="score crops", leave=False, disable=not progress):
            chunk = idx[j:j + LOAD_BATCH]
            for i, r in zip(chunk, detector.analyze_crops(crops[chunk]), strict=True):
                scores[i] = r.score
        return scores, reasons
    for j in tqdm(range(0, len(samples), LOAD_BATCH), desc="score crops", leave=False, disable=not progress):
        good, images = [], []
        for i in range(j, min(j + LOAD_BATCH, len(samples))):
            try:
                images.append(load_image(samples[i].path))
                good.append(i)
            except MediaError as e:
                reasons[i] = str(e)
        for i, r in zip(good, detector.analyze_crops(images) if images else [], strict=True):
            scores[i] = r.score
    return scores, reasons


def _score_videos(detector: Detector, samples: list[Sample], frames: int, progress: bool):
    """Per video: score (None = failed), reason, and its sampled frames' scores."""
    scores, reasons, frame_scores = [], [], []
    for s in tqdm(samples, desc="score videos", leave=False, disable=not progress):
        score, reason, fs = None, None, []
        try:
            report = analyze_video(detector, s.path, frames=frames)
            fs = [max(f["score"] for f in t["faces"]) for t in report.timeline if t["faces"]]
            score = report.score
            if score is None:
                reason = f"no face in {len(report.sampled)} sampled frames"
        except MediaError as e:
            reason = str(e)
        scores.append(score)
        reasons.append(reason)
        frame_scores.append(fs)
    return scores, reasons, frame_scores


def _metrics(labels: list[int], scores: list[float], threshold: float) -> dict:
    m = summary(np.asarray(labels, int), np.asarray(scores, np.float64), threshold)
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in m.items()}


def evaluate_dataset(detector: Detector, spec: DataSpec | str, frames: int = 32,
                     cache_dir: str | Path = "cache", detect: bool = True, progress: bool = True) -> dict:
    """Metrics of one dataset (see the module docstring)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    samples = _samples(spec)
    thr = detector.threshold
    out = {"name": spec.name, "path": str(spec.path), "kind": spec.kind,
           "sources": list(spec.sources) if spec.sources else sorted({s.source for s in samples}),
           "n_total": len(samples)}
    if spec.kind == "videos":
        scores, reasons, frame_scores = _score_videos(detector, samples, frames, progress)
    else:
        scores, reasons = _score_crops(detector, samples, cache_dir, detect, progress)
        frame_scores = [[] if s is None else [s] for s in scores]
    ok = [i for i, s in enumerate(scores) if s is not None]
    out["n_scored"], out["n_failed"] = len(ok), len(samples) - len(ok)
    out["failures"] = [{"path": samples[i].path, "reason": reasons[i]}
                       for i in range(len(samples)) if scores[i] is None]
    fl = [samples[i].label for i in ok for _ in frame_scores[i]]
    out["frame"] = _metrics(fl, [v for i in ok for v in frame_scores[i]], thr)
    out["video"] = (_metrics([samples[i].label for i in ok], [scores[i] for i in ok], thr)
                    if spec.kind == "videos" else None)
    # AUC of the reals against each fake source alone (per manipulation method)
    real = [i for i in ok if samples[i].label == 0]
    out["auc_per_source"] = {
        src: round(auc(np.r_[np.zeros(len(real)), np.ones(len(fake))],
                       np.r_[[scores[i] for i in real], [scores[i] for i in fake]]), 6)
        for src in out["sources"]
        if (fake := [i for i in ok if samples[i].source == src and samples[i].label == 1]) and real}
    out["items"] = [{"path": s.path, "label": s.label, "source": s.source,
                     "score": None if scores[i] is None else round(scores[i], 6)}
                    for i, s in enumerate(samples)]
    return out


def load_detector(weights: str | Path | None, backend: str = "auto") -> Detector:
    """Scoring only: the decoder is not run."""
    run_builders(weights, backend, with_decoder=False)  # export/ builds a missing ONNX file
    return Detector.from_pretrained(weights, backend=backend, with_decoder=False)


def evaluate(weights: str | Path | Detector | None, data: Sequence[str | DataSpec], frames: int = 32,
             backend: str = "auto", cache_dir: str | Path = "cache", detect: bool = True,
             progress: bool = True) -> dict:
    """Evaluate weights (a folder, Hub id, or a ready Detector) on each dataset SPEC."""
    specs = [parse_spec(d) if isinstance(d, str) else d for d in data]  # fail before loading a model
    detector = weights if isinstance(weights, Detector) else load_detector(weights, backend)
    name = None if isinstance(weights, Detector) else str(weights or "default")
    return {"weights": name, "threshold": detector.threshold, "backend": detector.runner.name,
            "weights_metrics": detector.meta.get("metrics"), "crop_mode": "detect" if detect else "as_is",
            "frames_per_video": frames,
            "datasets": [evaluate_dataset(detector, s, frames, cache_dir, detect, progress) for s in specs]}


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def markdown_table(result: dict) -> str:
    """One row per dataset and level (frame, video)."""
    thr = result["threshold"]
    lines = [f"| dataset | level | n | fake | failed | AUC | ACC@{thr:.3f} | reals called real | "
             "fakes called fake | EER | AP |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for d in result["datasets"]:
        for level in ("frame", "video"):
            m = d.get(level)
            if m is None:
                continue
            lines.append(f"| {d['name']} | {level} | {m['n']} | {m['n_fake']} | {d['n_failed']} | "
                         f"{_fmt(m.get('auc'))} | {_fmt(m.get('acc'))} | {_fmt(m.get('tnr'))} | "
                         f"{_fmt(m.get('tpr'))} | {_fmt(m.get('eer'))} | "
                         f"{_fmt(m.get('ap'))} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", metavar="DIR_OR_REPO",
                   help="weights folder or Hub repo id (default: $JRC_WEIGHTS or ./weights)")
    p.add_argument("--data", nargs="+", required=True, metavar="SPEC", help="[NAME=]PATH[:SOURCE,...]")
    p.add_argument("--json", metavar="OUT.json", help="write the full results (metrics, failures, scores)")
    p.add_argument("--frames", type=int, default=32, metavar="N", help="frames sampled per video (32)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="inference engine")
    p.add_argument("--cache-dir", default="cache", help="face-crop cache folder (default: cache)")
    p.add_argument("--as-is", action="store_true",
                   help="score crop images as given (like `jrc scan --crops`), without detect + crop")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames < 1:
        print("error: --frames must be >= 1", file=sys.stderr)
        return 2
    try:
        specs = [parse_spec(s) for s in args.data]
        for spec in specs:
            _samples(spec)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        detector = load_detector(args.weights, args.backend)
    except (WeightsError, BackendUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    result = evaluate(detector, specs, args.frames, cache_dir=args.cache_dir, detect=not args.as_is)
    result["weights"] = str(args.weights or "default")
    print(markdown_table(result))
    for d in result["datasets"]:
        if d["n_failed"]:
            print(f"{d['name']}: {d['n_failed']} of {d['n_total']} not scored "
                  f"(e.g. {d['failures'][0]['path']}: {d['failures'][0]['reason']})", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
