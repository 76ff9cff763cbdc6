"""Scanning: inputs (paths, folders, list files) -> one :mod:`jrc.report` record per input.

Used by ``jrc scan`` on one machine and by the distributed scan on each worker. Never raises for
a bad input file: it gets an ``error`` record naming the file and the problem.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from jrc.detector import Detector, FaceResult
from jrc.media import IMAGE_EXTS, VIDEO_EXTS, MediaError, kind_of, load_image
from jrc.report import image_record, input_warnings, record, score_fields, video_record
from jrc.video import analyze_video

CROP_BATCH = 32
CROP_BATCH_PIXELS = 64 * 1024**2  # decoded pixels per batch (~200 MB as RGB)


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


