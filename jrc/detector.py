"""Image or frame -> per-face results: box, P(fake), verdict, reconstruction, residual, mask."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from jrc import weights as jrc_weights
from jrc.faces import DEFAULT_FACE_MODEL, Face, FaceFinder, check_rgb, detect_and_crop, face_model_path
from jrc.preprocess import normalize, to_uint8
from jrc.runtime import BackendUnavailable, Runner, backend_of, create_runner

log = logging.getLogger("jrc.detector")


@dataclass
class FaceResult:
    """One scored face. Images are ``S x S`` at the model's input size."""

    box: tuple[float, float, float, float] | None  # None for inputs that were already crops
    det_score: float | None
    score: float  # P(fake)
    label: str  # "fake" | "real" (score >= threshold)
    crop: np.ndarray  # uint8 RGB, what the model saw
    reconstruction: np.ndarray | None = None  # uint8 RGB
    residual: np.ndarray | None = None  # float32 [0,1], mean |crop - reconstruction|
    mask: np.ndarray | None = None  # float32 [0,1], predicted forgery mask
    framing: tuple[float, float] | None = None  # (scale, shift) of the crop around ``box``
    reframed: bool | None = None  # crops input: True = re-cut around the detected face, False = as given
    roll: float | None = None  # in-plane tilt of the detected face in degrees (Face.roll)

    def to_dict(self) -> dict:
        d = {"score": round(self.score, 6), "label": self.label}
        if self.box is not None:
            d["box"] = [round(v, 1) for v in self.box]
            d["det_score"] = round(self.det_score or 0.0, 4)
        if self.reframed is not None:
            d["reframed"] = self.reframed
        if self.roll is not None:
            d["roll"] = round(self.roll, 1)
        return d


def mean_logit(*probs: np.ndarray) -> np.ndarray:
    """P(fake) whose logit is the mean of the inputs' logits (flip test-time augmentation)."""
    eps = 1e-7
    logits = [np.log(np.clip(p, eps, 1 - eps)) - np.log(np.clip(1 - p, eps, 1 - eps)) for p in probs]
    return 1.0 / (1.0 + np.exp(-np.mean(logits, axis=0)))


class Detector:
    """Face detection + JRC scoring. ``Detector.from_pretrained()`` loads the shipped model.

    ``runner`` computes the score and, when it includes the decoder, the reconstruction and the
    mask. A second, score-only runner (:attr:`score_runner`) is built on first use, not before:
    it scores the mirrored crops of ``tta`` and the calls made with ``decoder=False`` (webcam
    frames between decoder passes), whose decoder outputs would be thrown away.
    """

    def __init__(self, runner: Runner, threshold: float, face_model: str = DEFAULT_FACE_MODEL,
                 batch_size: int = 16, meta: dict | None = None, tta: bool = False,
                 score_runner: Runner | None = None,
                 build_score_runner: Callable[[], Runner] | None = None) -> None:
        """``tta=True`` also scores each crop mirrored left-right and averages the two logits (up to
        twice the model time; the reconstruction and mask shown are the unmirrored crop's).

        ``score_runner``: the score-only runner, if one is at hand. Otherwise
        ``build_score_runner()`` makes it on first use (``from_pretrained`` passes one for the
        same weights and backend); without either, or if building fails, ``runner`` scores
        everything. A runner without the decoder is its own score-only runner.
        """
        if score_runner is not None and score_runner.config != runner.config:
            raise ValueError(f"score_runner ({score_runner.name}) has another model config than "
                             f"runner ({runner.name})")
        self.runner = runner
        if score_runner is None and not runner.with_decoder:
            score_runner = runner
        self._score_runner = score_runner
        self._build_score_runner = build_score_runner
        self._build_lock = threading.Lock()
        self.tta = tta
        self.config = runner.config
        self.threshold = float(threshold)
        self.batch_size = batch_size
        self.meta = meta or {}
        self.face_model = face_model
        self._faces: FaceFinder | None = None

    @classmethod
    def from_pretrained(cls, path_or_repo: str | Path | jrc_weights.Checkpoint | None = None,
                        backend: str = "auto", with_decoder: bool = True, *, tta: bool = False,
                        batch_size: int = 16, threads: int | None = None,
                        spinning: bool = True,
                        before_score_runner: Callable[[str], object] | None = None) -> Detector:
        """Load weights (folder, Hub repo id, a loaded checkpoint, ``$JRC_WEIGHTS`` or
        ``weights/``) and a runner. ``threads`` and ``spinning`` configure onnxruntime
        (:class:`jrc.runtime.OnnxRunner`): turn spinning off where two runners alternate on the
        same cores, as the decoder runner and the score-only runner do on webcam frames.
        ``before_score_runner(backend)`` runs just before the score-only runner is first built
        (the app builds that runner's artifact there, so a first start exports one graph, not two)."""
        ckpt = (path_or_repo if isinstance(path_or_repo, jrc_weights.Checkpoint)
                else jrc_weights.load(path_or_repo))
        runner = create_runner(ckpt, backend, with_decoder=with_decoder, threads=threads,
                               spinning=spinning)

        def build_score_runner() -> Runner:  # the same backend, so both passes agree
            if before_score_runner is not None:
                before_score_runner(backend_of(runner))
            return create_runner(ckpt, backend_of(runner), with_decoder=False, threads=threads,
                                 spinning=spinning)

        face_model = ckpt.meta.get("face_model", DEFAULT_FACE_MODEL)
        try:  # the model and its fallback exist now, not at the first detection
            for name in (face_model, "full_range"):
                face_model_path(name)
        except (ValueError, FileNotFoundError) as e:
            raise jrc_weights.WeightsError(str(e)) from None
        return cls(runner, ckpt.threshold, face_model=face_model, batch_size=batch_size, meta=ckpt.meta,
                   tta=tta, build_score_runner=build_score_runner if with_decoder else None)

    @property
    def score_runner(self) -> Runner:
        """The score-only runner, built on first use; ``runner`` where none can be built."""
        if self._score_runner is None:
            with self._build_lock:
                if self._score_runner is None:
                    self._score_runner = self._make_score_runner()
        return self._score_runner

    def _make_score_runner(self) -> Runner:
        if self._build_score_runner is None:
            return self.runner
        try:
            made = self._build_score_runner()
        except BackendUnavailable as e:
            log.warning("no score-only runner (%s): %s also scores the mirrored crops and the "
                        "calls without the decoder", e, self.runner.name)
            return self.runner
        if made.config != self.config:
            raise ValueError(f"score-only runner ({made.name}) has another model config than "
                             f"runner ({self.runner.name})")
        return made

    @property
    def faces(self) -> FaceFinder:
        """Finds every face (up to 32), each boxed by the model the weights were trained with."""
        if self._faces is None:
            self._faces = FaceFinder(self.face_model)
        return self._faces

    @property
    def input_size(self) -> int:
        return self.config.input_size

    def detect(self, rgb: np.ndarray, fast: bool = False) -> list[Face]:
        """:meth:`jrc.faces.FaceFinder.detect`; ``fast`` for webcam frames."""
        return self.faces.detect(rgb, fast=fast)

    def analyze_image(self, rgb: np.ndarray, decoder: bool = True, fast: bool = False) -> list[FaceResult]:
        """Detect every face in an RGB image and score each; [] when there is no face.

        ``decoder=False`` scores through :attr:`score_runner` and leaves the reconstruction,
        residual and mask out (a webcam frame that reuses the last overlay). ``fast=True``: a
        frame with one large face skips the search for small ones (the webcam;
        :class:`jrc.faces.FaceFinder`)."""
        rgb = check_rgb(rgb)
        faces = self.detect(rgb, fast=fast)
        return self.analyze_faces(rgb, faces, decoder)

    def analyze_faces(self, rgb: np.ndarray, faces: list[Face], decoder: bool = True) -> list[FaceResult]:
        """Score already-detected faces of one image."""
        if not faces:
            return []
        crops = np.stack([self.faces.crop(rgb, f, self.input_size) for f in faces])
        results = self._score(crops, decoder)
        for r, f in zip(results, faces, strict=True):
            r.box, r.det_score, r.framing, r.roll = f.box, f.score, f.framing, f.roll
        return results

    def analyze_crops(self, crops: np.ndarray | list[np.ndarray], reframe: bool = False,
                      decoder: bool = True) -> list[FaceResult]:
        """Score inputs that are already face crops (any size; resized to the input size).

        ``reframe=True`` finds the face in each crop and re-cuts it with the training framing
        (:func:`jrc.faces.detect_and_crop`, as training does for every crop folder): a crop made
        by another tool (tighter, looser, off-centre) then reaches the model framed as it was
        trained. A crop in which no face is found is scored as given (``reframed`` False); its
        ``box`` is None, a re-framed one's is the face box in the crop's pixels.
        """
        s = self.input_size
        batch, found = [], []
        for c in crops:
            c = check_rgb(np.asarray(c))
            got = detect_and_crop(self.faces, c, s) if reframe else None
            found.append(got[2] if got is not None else None)
            if got is not None:
                c = got[0]
            elif c.shape[:2] != (s, s):
                interp = cv2.INTER_AREA if c.shape[0] > s else cv2.INTER_LINEAR
                c = cv2.resize(c, (s, s), interpolation=interp)
            batch.append(c)
        results = self._score(np.stack(batch), decoder) if batch else []
        if reframe:
            for r, f in zip(results, found, strict=True):
                r.reframed = f is not None
                if f is not None:
                    r.box, r.det_score, r.framing, r.roll = f.box, f.score, f.framing, f.roll
        return results

    def _score(self, crops: np.ndarray, decoder: bool = True) -> list[FaceResult]:
        out: list[FaceResult] = []
        c = self.config
        runner = self.runner if decoder else self.score_runner
        for i in range(0, len(crops), self.batch_size):
            chunk = crops[i:i + self.batch_size]
            res = runner(normalize(chunk, c.mean, c.std))
            scores = np.asarray(res["score"], np.float64)
            if self.tta:
                mirrored = self.score_runner(normalize(chunk[:, :, ::-1], c.mean, c.std))
                scores = mean_logit(scores, np.asarray(mirrored["score"], np.float64))
            if not np.all(np.isfinite(scores)):
                raise RuntimeError(f"{runner.name} returned non-finite scores")
            recon = to_uint8(res["reconstruction"]) if decoder and "reconstruction" in res else None
            for j, crop in enumerate(chunk):
                score = float(scores[j])
                r = FaceResult(None, None, score, "fake" if score >= self.threshold else "real", crop)
                if recon is not None:
                    r.reconstruction = recon[j]
                    diff = np.abs(crop.astype(np.float32) - recon[j].astype(np.float32))
                    r.residual = diff.mean(axis=2) / 255.0
                    if c.mask_head:
                        r.mask = np.asarray(res["mask"][j], np.float32)
                out.append(r)
        return out
