"""Face detection (mediapipe Tasks BlazeFace) and THE face crop used everywhere.

Training, evaluation, export checks, the CLI and the demo all call :func:`crop`, so the
framing a model was trained on is the framing it sees at inference.

Crop framing (measured on 300 FaceForensics++ crops, see docs/measurements.md "Face crop framing"):
BlazeFace boxes run from the eyebrows to the chin, while the FF++ crops in ../shared are
tight Haar-style squares that include the forehead. For each detector model, ``FRAMING``
holds (scale, shift): a square of ``scale`` x the box's larger side, centred ``shift`` x
side above the box centre, reproduces the FF++ framing. The scale is set at the ~25th
percentile of the measured box-to-crop ratios (median 1.12 for short_range) rather than the
median, so that crops re-made from those pre-cropped images rarely run past their edges;
where a crop does leave the image, it is filled by reflection (not black bars, which would
mark pre-cropped training data apart from full video frames).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from jrc.media import check_image_side
from jrc.paths import weights_root

WEIGHTS_DIR = weights_root() / "face"
FACE_MODELS = {
    "short_range": WEIGHTS_DIR / "face_detection_short_range.tflite",
    "full_range": WEIGHTS_DIR / "face_detection_full_range_sparse.tflite",
}
# model -> (scale, shift), chosen from benchmarks/crop_framing.py (module docstring: why)
FRAMING = {"short_range": (1.05, 0.13), "full_range": (1.0, 0.075)}
DEFAULT_FACE_MODEL = "short_range"
CROP_SCALE, CROP_SHIFT = FRAMING[DEFAULT_FACE_MODEL]


@dataclass
class Face:
    """One detected face: pixel box ``(x0, y0, x1, y1)``, detector score, keypoints (x, y)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: list[tuple[float, float]]
    model: str = DEFAULT_FACE_MODEL  # the detector model that found it (decides the crop framing)

    @property
    def framing(self) -> tuple[float, float]:
        return FRAMING[self.model]

    @property
    def roll(self) -> float | None:
        """In-plane tilt in degrees (0 = eyes level, 90 = turned a quarter), from the eye keypoints."""
        if len(self.keypoints) < 2:
            return None
        (rx, ry), (lx, ly) = self.keypoints[:2]  # BlazeFace: the right eye, then the left eye
        return float(np.degrees(np.arctan2(ly - ry, lx - rx)))

    def to_dict(self) -> dict:
        return {"box": [round(v, 1) for v in self.box], "det_score": round(self.score, 4)}


def face_model_path(model: str) -> Path:
    """The vendored BlazeFace file of ``model``; ValueError if unknown, FileNotFoundError if missing."""
    if model not in FACE_MODELS:
        raise ValueError(f"unknown face model {model!r}; choose from {sorted(FACE_MODELS)}")
    path = FACE_MODELS[model]
    if not path.is_file():
        raise FileNotFoundError(f"face model {model!r} not found at {path} (the weights/face/ folder "
                                "of the repository; run from a checkout, or from a folder that holds "
                                "weights/)")
    return path


class FaceDetector:
    """BlazeFace through the mediapipe Tasks API, using the models vendored in ``weights/face``.

    ``fallback`` names a second model tried only when ``model`` finds no face: the short-range
    model (the training framing) misses faces under ~10% of the frame width, which the
    full-range model finds.
    """

    def __init__(self, model: str = DEFAULT_FACE_MODEL, min_score: float = 0.5,
                 max_faces: int = 8, fallback: str | None = None) -> None:
        path = face_model_path(model)
        self.model = model
        self.scale, self.shift = FRAMING[model]
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python.vision import FaceDetector as _MPFaceDetector
        from mediapipe.tasks.python.vision import FaceDetectorOptions

        options = FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            min_detection_confidence=min_score,
        )
        close_unreferenced()
        with quiet_native_stderr():
            self._detector = _MPFaceDetector.create_from_options(options)
            self._warmed = False
        _close_before_shutdown(self)
        self.max_faces = max_faces
        self.min_score = min_score
        self.fallback = fallback if fallback != model else None
        self._fallback: FaceDetector | None = None

    def detect(self, rgb: np.ndarray, fast: bool = False) -> list[Face]:
        """Faces in an RGB uint8 image, highest score first (``fast``: as :meth:`FaceFinder.detect`;
        one model has one path)."""
        import mediapipe as mp

        rgb = np.ascontiguousarray(check_rgb(rgb))
        h, w = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self._warmed:
            result = self._detector.detect(image)
        else:  # the first call logs LiteRT set-up chatter on fd 2
            with quiet_native_stderr():
                result = self._detector.detect(image)
            self._warmed = True
        faces = []
        for det in result.detections:
            b = det.bounding_box  # not clipped: a face at the border keeps its true centre and size
            x0, y0 = float(b.origin_x), float(b.origin_y)
            x1, y1 = x0 + b.width, y0 + b.height
            if b.width < 2 or b.height < 2 or x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
                continue
            kps = [(k.x * w, k.y * h) for k in det.keypoints]
            faces.append(Face((x0, y0, x1, y1), float(det.categories[0].score), kps, self.model))
        faces.sort(key=lambda f: f.score, reverse=True)
        if not faces and self.fallback:
            if self._fallback is None:
                self._fallback = FaceDetector(self.fallback, self.min_score, self.max_faces)
            return self._fallback.detect(rgb)
        return faces[: self.max_faces]

    def crop(self, image: np.ndarray, face: Face, size: int) -> np.ndarray:
        """:func:`crop` with the measured framing of the model that found ``face``."""
        return crop(image, face.box, size, *face.framing)

    def close(self) -> None:
        if getattr(self, "_fallback", None) is not None:
            self._fallback.close()
        detector, self._detector = getattr(self, "_detector", None), None
        if detector is not None:
            try:
                with quiet_native_stderr():
                    detector.close()
            except RuntimeError:  # its executor is already gone at interpreter exit
                pass

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Never close from a finaliser: the cyclic GC can run it inside another detector's mediapipe
        # call, and a blocking close there can deadlock. Park the task; it is closed at the next
        # detector's creation or at exit.
        detector, self._detector = getattr(self, "_detector", None), None
        if detector is not None:
            _UNREFERENCED.append(detector)



def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceFinder:
    """Every face of a picture, each boxed as in training: what :class:`jrc.detector.Detector` uses.

    Short-range BlazeFace (the model the training crops were framed with) only sees faces that
    fill much of the frame; full-range sees faces of any size but boxes them differently. So:

    1. ``fast=True`` (the webcam, crops re-framed as in training): short-range on the whole
       frame; when it finds a face, its faces are the answer and nothing else runs (smaller faces
       of that frame are not looked for: the detector before issue 30 did the same, and training
       framed its crops so). Otherwise steps 2-4 run without tiles.
    2. Full-range, at the low confidence ``find_score``, proposes faces: on the whole frame and,
       where the frame is over 1.25 x ``tile`` px, on overlapping tiles of ``tile`` px.
    3. Each proposal is re-localised: a square window of ``window`` x its side around it, padded
       with black where it leaves the frame (the geometry of the padded canvas on which training
       found the face in each crop), goes through short-range. The short-range face on the
       proposal replaces it, so the crop keeps the training framing. A proposal short-range does
       not confirm is kept, with its full-range box and framing, when its full-range score is at
       least ``min_score``; otherwise it is dropped (most low-confidence proposals that
       short-range does not confirm are not faces).
    4. Duplicates (IoU > 0.5) are merged; highest score first, at most ``max_faces``.

    The measured recall, precision and speed: docs/measurements.md "Face recall".
    """

    def __init__(self, model: str = DEFAULT_FACE_MODEL, finder: str = "full_range", min_score: float = 0.5,
                 find_score: float = 0.3, max_faces: int = 32, window: float = 2.2,
                 tile: int = 768) -> None:
        self.model, self.finder_model = model, finder
        self.min_score, self.find_score = min_score, find_score
        self.max_faces, self.window, self.tile = max_faces, window, tile
        self.scale, self.shift = FRAMING[model]  # the framing of faces it boxes (all but unconfirmed ones)
        # short-range at the training confidence: mediapipe blends the boxes of overlapping anchors
        # above it, so a lower one would move the boxes (and the framing) too
        self._primary = FaceDetector(model, min_score=min_score, max_faces=max_faces * 4)
        self._finder = (FaceDetector(finder, min_score=find_score, max_faces=max_faces * 4)
                        if finder != model else None)

    @property
    def primary(self) -> FaceDetector:
        """The short-range detector alone (the one training framed its crops with)."""
        return self._primary

    def _confirmed(self, rgb: np.ndarray, face: Face) -> Face | None:
        """The short-range face on ``face`` in a window around it (frame pixels), or None."""
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = face.box
        s = round(box_side(face.box) * self.window)
        wx, wy = round((x0 + x1) / 2 - s / 2), round((y0 + y1) / 2 - s / 2)
        patch = rgb[max(0, wy):min(h, wy + s), max(0, wx):min(w, wx + s)]
        if patch.size == 0:
            return None
        pad = (max(0, -wy), max(0, wy + s - h), max(0, -wx), max(0, wx + s - w))
        if any(pad):
            patch = cv2.copyMakeBorder(patch, *pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        k = 1.0
        if s > 256:  # short-range looks at 128 px: a smaller window loses nothing and costs less
            k = 256 / s
            patch = cv2.resize(patch, (256, 256), interpolation=cv2.INTER_AREA)
        best, best_iou = None, 0.3
        for f in self._primary.detect(patch):
            box = tuple(v / k + o for v, o in zip(f.box, (wx, wy, wx, wy), strict=True))
            v = box_iou(box, face.box)
            if v > best_iou:
                kps = [(x / k + wx, y / k + wy) for x, y in f.keypoints]
                best, best_iou = Face(box, f.score, kps, self.model), v
        return best

    def detect(self, rgb: np.ndarray, fast: bool = False) -> list[Face]:
        """Faces in an RGB uint8 image, highest score first (class docstring)."""
        rgb = np.ascontiguousarray(check_rgb(rgb))
        if fast or self._finder is None:
            faces = self._primary.detect(rgb)
            if self._finder is None or faces:
                return faces[: self.max_faces]
        found = []
        for p in _merge(self._proposals(rgb, tiles=not fast)):
            f = self._confirmed(rgb, p)
            if f is None and p.score >= self.min_score:
                f = p
            if f is not None:
                found.append(f)
        return _merge(found)[: self.max_faces]

    def _proposals(self, rgb: np.ndarray, tiles: bool = True) -> list[Face]:
        """Full-range faces of the whole frame and (``tiles``), in a frame larger than ``tile``,
        of overlapping ``tile``-sized tiles (the model looks at 192 px: a 1080p frame leaves a
        100-px face 10 px across, too small for it)."""
        h, w = rgb.shape[:2]
        out = self._finder.detect(rgb)
        t = self.tile
        if not tiles or max(h, w) <= 1.25 * t:
            return out
        for y in _starts(h, t):
            for x in _starts(w, t):
                for f in self._finder.detect(rgb[y:y + t, x:x + t]):
                    box = (f.box[0] + x, f.box[1] + y, f.box[2] + x, f.box[3] + y)
                    out.append(Face(box, f.score, [(a + x, b + y) for a, b in f.keypoints], f.model))
        return out

    def crop(self, image: np.ndarray, face: Face, size: int) -> np.ndarray:
        """:func:`crop` with the measured framing of the model that boxed ``face``."""
        return crop(image, face.box, size, *face.framing)

    def close(self) -> None:
        for d in (self._primary, self._finder):
            if d is not None:
                d.close()

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

def _starts(length: int, tile: int) -> list[int]:
    """Offsets of tiles of ``tile`` px covering ``length`` px, overlapping by at least a quarter."""
    if length <= tile:
        return [0]
    n = int(np.ceil((length - tile) / (0.75 * tile))) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _merge(faces: list[Face], overlap: float = 0.5) -> list[Face]:
    """Highest score first; a face overlapping a kept one by IoU > ``overlap`` is dropped."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: f.score, reverse=True):
        if all(box_iou(f.box, k.box) <= overlap for k in kept):
            kept.append(f)
    return kept


_UNREFERENCED: list = []  # mediapipe tasks of detectors that were garbage-collected unclosed


def close_unreferenced() -> None:
    """Close the mediapipe tasks of detectors that were garbage-collected without ``close()``."""
    while _UNREFERENCED:
        detector = _UNREFERENCED.pop()
        with contextlib.suppress(Exception), quiet_native_stderr():  # at exit mediapipe may be gone
            detector.close()


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence C++ log lines (LiteRT/XNNPACK set-up) written straight to fd 2.

    Set ``JRC_DEBUG=1`` to see them.
    """
    if os.environ.get("JRC_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _close_before_shutdown(detector: FaceDetector) -> None:
    """Close before mediapipe's worker threads are torn down at exit (else it prints tracebacks).

    ``threading._register_atexit`` callbacks run, newest first, before those threads stop;
    plain ``atexit`` runs too late.
    """
    ref = weakref.ref(detector)

    def close() -> None:
        d = ref()
        if d is not None:
            d.close()

    _at_exit(close)


def _at_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` at exit while mediapipe's worker threads still run (newest first)."""
    register = getattr(threading, "_register_atexit", atexit.register)
    with contextlib.suppress(RuntimeError):  # already shutting down
        register(callback)


_at_exit(close_unreferenced)  # registered first, so it runs after every detector's own close


def check_rgb(image: np.ndarray) -> np.ndarray:
    """Validate an image array; grey and RGBA are converted to RGB uint8."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError("expected an HxW or HxWxC image array")
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    check_image_side(image.shape[1], image.shape[0])  # a MediaError, i.e. a ValueError
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    if image.shape[2] != 3:
        raise ValueError(f"expected 3 colour channels, got {image.shape[2]}")
    return image


def box_side(box: tuple[float, float, float, float]) -> float:
    """The longer side of an ``(x0, y0, x1, y1)`` box: the face size the crop is scaled from."""
    return max(box[2] - box[0], box[3] - box[1])


def crop_box(box: tuple[float, float, float, float], scale: float = CROP_SCALE,
             shift: float = CROP_SHIFT) -> tuple[int, int, int]:
    """Detector box -> square crop ``(x0, y0, side)`` in pixels (may leave the image)."""
    x0, y0, x1, y1 = box
    side = box_side(box) * scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - shift * side
    side_i = max(2, round(side))
    return round(cx - side / 2), round(cy - side / 2), side_i


def crop_points(points: list[tuple[float, float]] | np.ndarray, box: tuple[float, float, float, float],
                size: int, scale: float = CROP_SCALE, shift: float = CROP_SHIFT) -> np.ndarray:
    """Map image-pixel points (e.g. keypoints) into the coordinates of :func:`crop`'s output."""
    x0, y0, side = crop_box(box, scale, shift)
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    return (pts - np.float32([x0, y0])) * np.float32(size / side)


def crop(image: np.ndarray, box: tuple[float, float, float, float], size: int,
         scale: float = CROP_SCALE, shift: float = CROP_SHIFT) -> np.ndarray:
    """THE face crop: square with margin around ``box``, reflect-padded at borders, resized.

    Returns ``size x size x 3`` uint8 RGB.
    """
    image = check_rgb(image)
    h, w = image.shape[:2]
    x0, y0, side = crop_box(box, scale, shift)
    x1, y1 = x0 + side, y0 + side
    pad = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    patch = image[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    if any(pad):
        mode = cv2.BORDER_REFLECT_101 if min(patch.shape[:2]) > 1 else cv2.BORDER_REPLICATE
        patch = cv2.copyMakeBorder(patch, *pad, mode)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def detect_and_crop(detector: FaceDetector | FaceFinder, rgb: np.ndarray, size: int,
                    pad_frac: float = 0.5) -> tuple[np.ndarray, np.ndarray, Face] | None:
    """Largest face of an image, framed by :func:`crop`: (crop, keypoints in crop pixels, face).

    Re-frames images that are already (tightly) cropped faces, as training does for every crop
    folder. Detection runs on a zero-padded canvas so faces that fill the image are still found
    (BlazeFace misses ~2% of the tight FF++ crops without it); the crop itself is taken from the
    original image, so its border handling is exactly the one used on full frames. The returned
    face's box is in ``rgb``'s pixels. None when no face is found.
    """
    rgb = check_rgb(rgb)
    p = int(max(rgb.shape[:2]) * pad_frac)
    canvas = cv2.copyMakeBorder(rgb, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0)) if p else rgb
    plain = detector.primary if isinstance(detector, FaceFinder) else detector  # as training found them
    faces = plain.detect(canvas)
    if not faces and p:  # a small face in a large image: padding made it too small to find
        p, faces = 0, plain.detect(rgb)
    if not faces and plain is not detector:  # then the finder's search for faces of any size
        p, faces = 0, detector.detect(rgb)
    if not faces:
        return None
    face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    box = (face.box[0] - p, face.box[1] - p, face.box[2] - p, face.box[3] - p)
    kps = [(x - p, y - p) for x, y in face.keypoints]
    face = Face(box, face.score, kps, face.model)
    return crop(rgb, box, size, *face.framing), crop_points(kps, box, size, *face.framing), face
