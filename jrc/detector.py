"""Image or frame -> per-face results: box, P(fake), verdict, reconstruction, residual, mask."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from jrc import weights as jrc_weights
from jrc.faces import DEFAULT_FACE_MODEL, Face, FaceDetector, check_rgb, detect_and_crop, face_model_path
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

    def to_dict(self) -> dict:
        d = {"score": round(self.score, 6), "label": self.label}
        if self.box is not None:
            d["box"] = [round(v, 1) for v in self.box]
            d["det_score"] = round(self.det_score or 0.0, 4)
        if self.reframed is not None:
            d["reframed"] = self.reframed
        return d


def mean_logit(*probs: np.ndarray) -> np.ndarray:
    """P(fake) whose logit is the mean of the inputs' logits (flip test-time augmentation)."""
    eps = 1e-7
    logits = [np.log(np.clip(p, eps, 1 - eps)) - np.log(np.clip(1 - p, eps, 1 - eps)) for p in probs]
    return 1.0 / (1.0 + np.exp(-np.mean(logits, axis=0)))


def twin_pays(runner: Runner) -> bool:
    """Whether ``runner``'s mirrored pass is faster through a score-only twin than through it.

    Measured by ``benchmarks/cpu_latency.py`` (one face with ``--tta``, p50, 2-core AMD EPYC):
    torch on the CPU yes, the twin shares the module (41-68 -> 37-56 ms, 5 runs); onnxruntime on
    the CPU only with thread spinning off (``JRC_ORT_SPIN=0``, as the demo runs it: 29-36 -> 22-34
    ms, 4 runs). With onnxruntime's default spinning, two sessions called back to back fight over
    the cores (29-37 -> 49-56 ms). GPUs: not measured (no GPU here); a twin would copy the model
    (torch) or build a second engine (TensorRT).
    """
    return runner.name == "torch-cpu" or (runner.name == "onnx-cpu" and not getattr(runner, "spinning", True))


def _score_only_twin(ckpt: jrc_weights.Checkpoint, runner: Runner, offered: Runner | None) -> Runner | None:
    """A score-only runner like ``runner`` for the mirrored pass: ``offered`` when it is one, else
    a new one; None (mirrors go through ``runner``) where one would not be faster
    (:func:`twin_pays`) or cannot be made."""
    if not twin_pays(runner):
        return None
    same = ("name", "spinning")
    if offered is not None and not offered.with_decoder and all(
            getattr(offered, a, None) == getattr(runner, a, None) for a in same):
        return offered
    backend = backend_of(runner)
    try:
        return create_runner(ckpt, backend, with_decoder=False)
    except BackendUnavailable as e:
        log.warning("no score-only %s runner (%s): mirrored crops run the decoder too", backend, e)
        return None


class Detector:
    """Face detection + JRC scoring. ``Detector.from_pretrained()`` loads the shipped model."""

    def __init__(self, runner: Runner, threshold: float, face_model: str = DEFAULT_FACE_MODEL,
                 batch_size: int = 16, meta: dict | None = None, tta: bool = False,
                 mirror_runner: Runner | None = None) -> None:
        """``tta=True`` also scores each crop mirrored left-right and averages the two logits (up to
        twice the model time; the reconstruction and mask shown are the unmirrored crop's).
        ``mirror_runner`` scores the mirrored crops (default ``runner``): a score-only runner of the
        same weights and backend skips the decoder, whose output the mirrored pass throws away
        (``from_pretrained`` makes one where that is faster, see :func:`twin_pays`)."""
        if mirror_runner is not None and mirror_runner.config != runner.config:
            raise ValueError(f"mirror_runner ({mirror_runner.name}) has another model config than "
                             f"runner ({runner.name})")
        self.runner = runner
        self.mirror_runner = runner if mirror_runner is None else mirror_runner
        self.tta = tta
        self.config = runner.config
        self.threshold = float(threshold)
        self.batch_size = batch_size
        self.meta = meta or {}
        self.face_model = face_model
        self._faces: FaceDetector | None = None

    @classmethod
    def from_pretrained(cls, path_or_repo: str | Path | None = None, backend: str = "auto",
                        with_decoder: bool = True, **kwargs) -> Detector:
        """Load weights (folder, Hub repo id, ``$JRC_WEIGHTS`` or ``weights/``) and a runner.

        With ``tta=True`` and the decoder, a second, score-only runner on the same backend scores
        the mirrored crops where that is faster (:func:`twin_pays`)."""
        ckpt = jrc_weights.load(path_or_repo)
        runner = create_runner(ckpt, backend, with_decoder=with_decoder)
        if kwargs.get("tta") and with_decoder:
            kwargs["mirror_runner"] = _score_only_twin(ckpt, runner, kwargs.get("mirror_runner"))
        face_model = ckpt.meta.get("face_model", DEFAULT_FACE_MODEL)
        try:  # the model and its fallback exist now, not at the first detection
            for name in (face_model, "full_range"):
                face_model_path(name)
        except (ValueError, FileNotFoundError) as e:
            raise jrc_weights.WeightsError(str(e)) from None
        return cls(runner, ckpt.threshold, face_model=face_model, meta=ckpt.meta, **kwargs)

    @property
    def faces(self) -> FaceDetector:
        if self._faces is None:
            self._faces = FaceDetector(self.face_model, fallback="full_range")
        return self._faces

    @property
    def input_size(self) -> int:
        return self.config.input_size

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self.faces.detect(rgb)

    def analyze_image(self, rgb: np.ndarray) -> list[FaceResult]:
        """Detect every face in an RGB image and score each; [] when there is no face."""
        rgb = check_rgb(rgb)
        faces = self.detect(rgb)
        return self.analyze_faces(rgb, faces)

    def analyze_faces(self, rgb: np.ndarray, faces: list[Face]) -> list[FaceResult]:
        """Score already-detected faces of one image."""
        if not faces:
            return []
        crops = np.stack([self.faces.crop(rgb, f, self.input_size) for f in faces])
        results = self._score(crops)
        for r, f in zip(results, faces, strict=True):
            r.box, r.det_score, r.framing = f.box, f.score, f.framing
        return results

    def analyze_crops(self, crops: np.ndarray | list[np.ndarray], reframe: bool = False) -> list[FaceResult]:
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
        results = self._score(np.stack(batch)) if batch else []
        if reframe:
            for r, f in zip(results, found, strict=True):
                r.reframed = f is not None
                if f is not None:
                    r.box, r.det_score, r.framing = f.box, f.score, f.framing
        return results

    def _score(self, crops: np.ndarray) -> list[FaceResult]:
        out: list[FaceResult] = []
        c = self.config
        for i in range(0, len(crops), self.batch_size):
            chunk = crops[i:i + self.batch_size]
            res = self.runner(normalize(chunk, c.mean, c.std))
            scores = np.asarray(res["score"], np.float64)
            if self.tta:
                mirrored = self.mirror_runner(normalize(chunk[:, :, ::-1], c.mean, c.std))
                scores = mean_logit(scores, np.asarray(mirrored["score"], np.float64))
            if not np.all(np.isfinite(scores)):
                raise RuntimeError(f"{self.runner.name} returned non-finite scores")
            recon = to_uint8(res["reconstruction"]) if "reconstruction" in res else None
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
