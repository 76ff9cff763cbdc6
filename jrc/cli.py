"""``python -m jrc scan``: score images, videos and folders; one JSON object per input.

Exit code 0 when the run completes (even if some files failed: see each line's ``status``);
1 when the weights or backend cannot be loaded; 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jrc.detector import Detector, FaceResult
from jrc.faces import box_side
from jrc.media import IMAGE_EXTS, VIDEO_EXTS, MediaError, compression_warning, kind_of, load_image
from jrc.runtime import BACKENDS, BackendUnavailable
from jrc.video import VideoReport, analyze_video
from jrc.weights import WeightsError

CROP_BATCH = 32
CROP_BATCH_PIXELS = 64 * 1024**2  # decoded pixels per batch (~200 MB as RGB)
# Faces whose box's longer side is under this (source pixels) get a caution. `benchmarks/face_size.py`,
# v6: reals called real 0.82 at ~270 px of detail, 0.72-0.78 at 82-109, 0.67 at 68, 0.45 at 54
SMALL_FACE_PX = 80


def collect_paths(paths: Iterable[str], list_file: str | None) -> list[Path]:
    """Expand folders (recursively, known extensions only) and ``--list`` files, in order."""
    items = [Path(p) for p in paths]
    if list_file:
        try:
            lines = Path(list_file).read_text().splitlines()
        except OSError as e:
            raise SystemExit(f"--list {list_file}: cannot read ({e.strerror})") from None
        items += [Path(s.strip()) for s in lines if s.strip() and not s.startswith("#")]
    out = []
    for p in items:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*")
                          if f.is_file() and f.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS)
        else:
            out.append(p)
    return out


def record(path: Path | str, kind: str | None, threshold: float, **fields) -> dict:
    """One output line of ``jrc scan`` (also the demo's JSON report)."""
    base = {"path": str(path), "kind": kind, "status": "error", "score": None, "label": None,
            "threshold": threshold, "faces": [], "frames": None, "error": None, "warnings": [],
            "tta": False}  # scan() and the demo set it to whether the scores are flip-averaged
    return {**base, **fields}


def input_warnings(path: Path | str, results: list[FaceResult], crop_side: int | None = None) -> list[str]:
    """Cautions about how far to trust an image's scores (none when nothing was scored): heavy JPEG
    compression (fakes pass as real) and faces under ``SMALL_FACE_PX`` across (real faces score as
    more fake); both measured with ``benchmarks/robustness.py`` and ``benchmarks/face_size.py``
    (README, "Which way compression and small faces err"). ``crop_side``: the size of a crop scored
    without a detected box (``--crops``), taken as its face's size."""
    if not results:
        return []
    small = (small_face_warning(f"face #{i + 1}", box_side(r.box) if r.box else crop_side)
             for i, r in enumerate(results))
    return [w for w in (compression_warning(path), *small) if w]


def track_warnings(report: VideoReport) -> list[str]:
    """The small-face caution for each face track whose median box is under ``SMALL_FACE_PX``."""
    small = (small_face_warning(f"face track #{tr.id}", float(np.median([box_side(b) for b in tr.boxes])),
                                "median ") for tr in report.tracks if tr.boxes)
    return [w for w in small if w]


def small_face_warning(which: str, side: float | None, of: str = "") -> str | None:
    """The caution for a face ``side`` px across, or None when it is unknown or not small."""
    if side is None or side >= SMALL_FACE_PX:
        return None
    return (f"{which} is small ({of}{side:.0f} px across; the FF++ training faces were ~270 px): small "
            "or blurry real faces tend to score as more fake, so a 'fake' verdict is weak evidence")


def score_fields(score: float, threshold: float) -> dict:
    return {"status": "ok", "score": round(score, 6), "label": "fake" if score >= threshold else "real"}


def image_record(path: Path | str, results: list[FaceResult], threshold: float,
                 file: Path | str | None = None) -> dict:
    """Record for a scanned image: ``no_face``, or the max face score (any fake face -> fake) with
    the :func:`input_warnings` of ``file`` (default ``path``; the demo records a display name)."""
    if not results:
        return record(path, "image", threshold, status="no_face")
    return record(path, "image", threshold, faces=[r.to_dict() for r in results],
                  warnings=input_warnings(file or path, results),
                  **score_fields(max(r.score for r in results), threshold))


def video_record(report: VideoReport) -> dict:
    """Record for a scanned video, with per-track scores and the per-frame timeline."""
    t = report.threshold
    extra = {"frames": len(report.sampled), "frames_unreadable": len(report.unreadable),
             "fps": round(report.fps, 3), "n_frames_total": report.n_frames_total,
             "tracks": [tr.to_dict(t) for tr in report.tracks], "timeline": report.timeline}
    if report.score is None:
        return record(report.path, "video", t, status="no_face", **extra)
    return record(report.path, "video", t, **{**extra, "faces": extra["tracks"]},
                  warnings=track_warnings(report), **score_fields(report.score, t))


def scan_image(detector: Detector, path: Path) -> dict:
    return image_record(path, detector.analyze_image(load_image(path)), detector.threshold)


def scan_video(detector: Detector, path: Path, frames: int, **kwargs) -> dict:
    """``kwargs`` go to :func:`jrc.video.analyze_video` (progress, on_frame)."""
    return video_record(analyze_video(detector, path, frames=frames, **kwargs))


def _input_error(p: Path, expected: str) -> str | None:
    """Why ``p`` cannot be scanned before reading it (missing, or not of the ``expected`` kind)."""
    if not p.exists():
        return f"{p}: no such file or folder"
    kind = kind_of(p)
    if kind is None:
        return f"{p}: unsupported file type '{p.suffix or '(none)'}' (expected {expected})"
    return None


def _score_crops(detector: Detector, images: dict[int, np.ndarray], reframe: bool
                 ) -> tuple[dict[int, FaceResult], dict[int, str]]:
    """Score a batch; if the batch fails, score its crops one by one so only the culprit fails."""
    try:
        return dict(zip(images, detector.analyze_crops(list(images.values()), reframe),
                        strict=True)), {}
    except Exception:  # noqa: BLE001 - retried one by one below, where each error is reported
        pass
    scored, errors = {}, {}
    for j, image in images.items():
        try:
            scored[j] = detector.analyze_crops([image], reframe)[0]
        except Exception as e:  # noqa: BLE001 - one bad crop must not stop the run
            errors[j] = f"{type(e).__name__}: {e}"
    return scored, errors


def _load_crop(p: Path) -> np.ndarray:
    why = _input_error(p, "an image")
    if why is None and kind_of(p) != "image":
        why = f"{p}: --crops expects image files"
    if why:
        raise MediaError(why)
    return load_image(p)


def _crop_batches(paths: list[Path]) -> Iterator[list[tuple[Path, np.ndarray | str]]]:
    """Consecutive batches of ``(path, image or error)``: at most ``CROP_BATCH`` files and, beyond
    the first image, ``CROP_BATCH_PIXELS`` decoded pixels, so large photos given as crops do not
    pile up in memory."""
    batch: list[tuple[Path, np.ndarray | str]] = []
    pixels = 0
    for p in paths:
        try:
            item: np.ndarray | str = _load_crop(p)
        except MediaError as e:
            item = str(e)
        size = item.shape[0] * item.shape[1] if isinstance(item, np.ndarray) else 0
        if batch and (len(batch) == CROP_BATCH or pixels + size > CROP_BATCH_PIXELS):
            yield batch
            batch, pixels = [], 0
        batch.append((p, item))
        pixels += size
    if batch:
        yield batch


def _scan_crops(detector: Detector, paths: list[Path], reframe: bool = True) -> Iterator[dict]:
    """Already-cropped faces, scored in batches, in input order; unreadable files -> error.

    ``reframe``: re-cut each crop around its detected face with the training framing (a crop
    without a detectable face is scored as given; its record says ``"reframed": false``)."""
    t = detector.threshold
    for batch in _crop_batches(paths):
        images = {j: item for j, (_, item) in enumerate(batch) if isinstance(item, np.ndarray)}
        errors = {j: item for j, (_, item) in enumerate(batch) if isinstance(item, str)}
        scored, failed = _score_crops(detector, images, reframe)
        errors.update({j: f"{batch[j][0]}: {why}" for j, why in failed.items()})
        for j, (p, _) in enumerate(batch):
            if j in errors:
                yield record(p, "crop", t, error=errors[j])
            else:
                r = scored[j]
                extra = {"reframed": r.reframed} if reframe else {}
                warnings = input_warnings(p, [r], crop_side=max(images[j].shape[:2]))
                yield record(p, "crop", t, faces=[r.to_dict()], warnings=warnings, **extra,
                             **score_fields(r.score, t))


def scan(detector: Detector, paths: list[Path], crops: bool = False, frames: int = 32,
         reframe: bool = True) -> Iterator[dict]:
    """Yield one record per path. Never raises for a bad input file. Each record says whether
    its scores are flip-averaged (``"tta"``), since that changes them."""
    records = _scan_crops(detector, paths, reframe) if crops else _scan_files(detector, paths, frames)
    for rec in records:
        yield {**rec, "tta": detector.tta}


def _scan_files(detector: Detector, paths: list[Path], frames: int = 32) -> Iterator[dict]:
    """Images and videos, one record each, in input order."""
    t = detector.threshold
    for p in paths:
        kind = kind_of(p)
        why = _input_error(p, "an image or a video")
        try:
            if why:
                yield record(p, kind, t, error=why)
            elif kind == "image":
                yield scan_image(detector, p)
            else:
                yield scan_video(detector, p, frames)
        except MediaError as e:
            yield record(p, kind, t, error=str(e))
        except Exception as e:  # noqa: BLE001 - one bad file must not stop the run
            yield record(p, kind, t, error=f"{p}: {type(e).__name__}: {e}")


def output_error(path: str) -> str | None:
    """Why ``path`` cannot be written as the report, or None; checked without creating it."""
    p = Path(path)
    if p.is_dir():
        return "is a folder, not a file"
    if not p.parent.is_dir():
        return f"folder '{p.parent}' does not exist"
    if not os.access(p if p.exists() else p.parent, os.W_OK):
        return "permission denied"
    return None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jrc", description="JRC deepfake detector.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scan", help="score images, videos or folders -> JSON lines",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("paths", nargs="*", metavar="PATH", help="image, video or folder (recursive)")
    s.add_argument("--list", metavar="FILE", help="file with one path per line")
    s.add_argument("--crops", action="store_true",
                   help="inputs are already face crops (one face each): each is re-cut around its "
                        "detected face with the framing the model was trained on; a crop without "
                        "a detectable face is scored as given")
    s.add_argument("--as-given", action="store_true",
                   help="with --crops: score the crops exactly as given (resized only), no re-framing")
    s.add_argument("--frames", type=int, default=32, metavar="N",
                   help="frames sampled evenly per video (default 32)")
    s.add_argument("--tta", action="store_true",
                   help="also score every face mirrored left-right and average the two (logit mean): "
                        "twice the model time; measured to help the 224-px default, not the 288-px "
                        "model (README, 'Scan files'; check a model with benchmarks/flip_tta.py)")
    s.add_argument("--backend", choices=BACKENDS, default="auto", help="inference engine")
    s.add_argument("--weights", metavar="DIR_OR_REPO",
                   help="weights folder or Hub repo id (default: $JRC_WEIGHTS or ./weights)")
    s.add_argument("--output", metavar="OUT.jsonl", help="write JSON lines here (default stdout)")
    s.add_argument("-v", "--verbose", action="store_true", help="log backend choice and timings")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.as_given and not args.crops:
        print("error: --as-given only applies to --crops", file=sys.stderr)
        return 2
    if args.frames < 1:
        print("error: --frames must be >= 1", file=sys.stderr)
        return 2
    paths = collect_paths(args.paths, args.list)
    if not paths:
        print("error: nothing to scan (give PATH ... or --list FILE)", file=sys.stderr)
        return 2
    why = output_error(args.output) if args.output else None
    if why:  # checked before the model loads; an existing report is not touched
        print(f"error: --output {args.output}: {why}", file=sys.stderr)
        return 2
    try:
        detector = Detector.from_pretrained(args.weights, backend=args.backend,
                                            with_decoder=False, tta=args.tta)
    except (WeightsError, BackendUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    counts: dict[str, int] = {}
    try:
        records = scan(detector, paths, args.crops, args.frames, reframe=not args.as_given)
        for rec in tqdm(records, total=len(paths), unit="file", file=sys.stderr, disable=None):
            counts[rec["status"]] = counts.get(rec["status"], 0) + 1
            out.write(json.dumps(rec) + "\n")
            out.flush()
    finally:
        if args.output:
            out.close()
    print("scanned " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())), file=sys.stderr)
    return 0
