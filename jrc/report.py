"""The JSON record of one scanned input: the schema shared by ``jrc scan``, the demo and the
distributed scan. Every input gets exactly one record, with a ``status`` (``ok``, ``no_face``,
``error``) and, when it is not ``ok``, a reason; a failure never becomes a default score.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jrc.detector import FaceResult
from jrc.faces import box_side
from jrc.media import compression_warning
from jrc.video import VideoReport

# Faces whose box's longer side is under this (source pixels) get a caution. `benchmarks/face_size.py`,
# v6: reals called real 0.82 at ~270 px of detail, 0.72-0.78 at 82-109, 0.67 at 68, 0.45 at 54
SMALL_FACE_PX = 80
# Faces tilted more than this (degrees, from the eye keypoints) get a caution. Issue 30, v6: the
# real astronaut scores 0.06 upright, 0.91 tilted 30 degrees one way, 0.80 turned 90 degrees
TILTED_FACE_DEG = 20.0


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
    (docs/measurements.md, "Robustness" and "Small faces"). ``crop_side``: the size of a crop scored
    without a detected box (``--crops``), taken as its face's size."""
    if not results:
        return []
    small = (small_face_warning(f"face #{i + 1}", box_side(r.box) if r.box else crop_side)
             for i, r in enumerate(results))
    tilted = (tilted_face_warning(f"face #{i + 1}", r.roll) for i, r in enumerate(results))
    return [w for w in (compression_warning(path), *small, *tilted) if w]


def tilted_face_warning(which: str, roll: float | None) -> str | None:
    """The caution for a face tilted ``roll`` degrees, or None when it is level or unknown."""
    if roll is None or abs(roll) <= TILTED_FACE_DEG:
        return None
    return (f"{which} is tilted {abs(roll):.0f} degrees: the model was trained on upright faces, and "
            "tilted or turned real faces can score as fake, so a 'fake' verdict is weak evidence")


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




def completed_paths(report: Path | str) -> set[str]:
    """The inputs a JSON-lines report already holds (``--resume``). A last line cut short by a
    crash is removed from the file, so that it can be appended to; a bad line before it is an
    error (``ValueError`` naming the line), since the file is then not a report of this tool."""
    path = Path(report)
    if not path.is_file():
        return set()
    done: set[str] = set()
    good = 0  # bytes of complete, valid lines
    with path.open("rb") as f:
        lines = f.readlines()
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or "path" not in rec or not line.endswith(b"\n"):
                raise ValueError("not a record")
        except ValueError:
            if n == len(lines):  # an interrupted write: drop it, the input is scanned again
                with path.open("r+b") as f:
                    f.truncate(good)
                break
            raise ValueError(f"{path}:{n}: not a jrc scan record; cannot resume from this file") from None
        done.add(rec["path"])
        good += len(line)
    return done
