"""Scanning: inputs (paths, folders, list files) -> one :mod:`jrc.report` record per input.

Used by ``jrc scan`` on one machine and by the distributed scan on each worker. Never raises for
a bad input file: it gets an ``error`` record naming the file and the problem.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jrc.detector import Detector, FaceResult
from jrc.media import MediaError, kind_of, load_image
from jrc.report import image_record, input_warnings, record, score_fields, video_record
from jrc.video import analyze_video

CROP_BATCH = 32
CROP_BATCH_PIXELS = 64 * 1024**2  # decoded pixels per batch (~200 MB as RGB)


@dataclass
class Inputs:
    """What to scan: ``paths`` in order (each gets one record); ``problems``, the reason for the
    paths known bad before reading them (a folder loop, an unlistable folder); ``skipped``, how
    many folder entries were left out by rule, by why (hidden, not media, the report itself)."""

    paths: list[Path] = field(default_factory=list)
    problems: dict[Path, str] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """``"; skipped 2 hidden, 1 not media"``, or "" when nothing was skipped."""
        if not self.skipped:
            return ""
        return "; skipped " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))


def collect_paths(paths: Iterable[str], list_file: str | None, output: str | None = None) -> Inputs:
    """Expand folders (recursively) and ``--list`` files, in order.

    Inside folders: media files are kept; hidden entries, other files and the report ``output``
    are skipped and counted; broken links, FIFOs and device files are kept, so that their record
    says what is wrong; a link back to a folder being scanned (a loop) gets an error record."""
    items = [Path(p) for p in paths]
    if list_file:
        try:
            lines = Path(list_file).read_text().splitlines()
        except OSError as e:
            raise SystemExit(f"--list {list_file}: cannot read ({e.strerror})") from None
        items += [Path(s.strip()) for s in lines if s.strip() and not s.startswith("#")]
    found = Inputs()
    own = Path(output).resolve() if output else None
    for p in items:
        if p.is_dir():
            _walk(p, found, own, ())
        else:
            found.paths.append(p)
    return found


def _walk(folder: Path, found: Inputs, own: Path | None, parents: tuple[tuple[int, int], ...]) -> None:
    try:
        st = folder.stat()
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        found.paths.append(folder)
        found.problems[folder] = f"{folder}: cannot list folder ({e.strerror or e})"
        return
    here = (*parents, (st.st_dev, st.st_ino))
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith("."):
            found.skipped["hidden"] += 1
        elif own is not None and path.resolve() == own:
            found.skipped["report file"] += 1
        elif entry.is_dir():  # follows links
            target = entry.stat()
            if (target.st_dev, target.st_ino) in here:
                found.paths.append(path)
                found.problems[path] = (f"{path}: folder loop (a link back to {os.path.realpath(path)}, "
                                        "which is already being scanned)")
            else:
                _walk(path, found, own, here)
        elif entry.is_file() and kind_of(path) is None:
            found.skipped["not media"] += 1
        else:  # media files, broken links, FIFOs, sockets, devices: their record says which
            found.paths.append(path)


def scan_image(detector: Detector, path: Path) -> dict:
    return image_record(path, detector.analyze_image(load_image(path)), detector.threshold)


def scan_video(detector: Detector, path: Path, frames: int, **kwargs) -> dict:
    """``kwargs`` go to :func:`jrc.video.analyze_video` (progress, on_frame)."""
    return video_record(analyze_video(detector, path, frames=frames, **kwargs))


def _input_error(p: Path, expected: str) -> str | None:
    """Why ``p`` cannot be scanned before reading it: missing, a broken link, not a regular file,
    unreadable, or not of the ``expected`` kind."""
    if not p.exists():
        if p.is_symlink():
            return f"{p}: broken symbolic link (its target {os.readlink(p)} does not exist)"
        return f"{p}: no such file or folder"
    mode = p.stat().st_mode
    if not stat.S_ISREG(mode):
        what = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device file" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "not a regular file")
        return f"{p}: {what}, not a regular file"
    if not os.access(p, os.R_OK):
        return f"{p}: permission denied"
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
         reframe: bool = True, problems: dict[Path, str] | None = None) -> Iterator[dict]:
    """Yield one record per path, in order. Never raises for a bad input file. ``problems``: the
    paths already known bad (:attr:`Inputs.problems`) get their error record without being read.
    Each record says whether its scores are flip-averaged (``"tta"``), since that changes them."""
    problems = problems or {}
    todo = [p for p in paths if p not in problems]
    records = _scan_crops(detector, todo, reframe) if crops else _scan_files(detector, todo, frames)
    for p in paths:
        rec = (record(p, kind_of(p), detector.threshold, error=problems[p]) if p in problems
               else next(records))
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


