"""The Image tab: an uploaded picture -> annotated image, verdict, per-face table and panels, report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demo import overlays, text
from demo.engine import Engine
from jrc.detector import FaceResult
from jrc.media import MediaError, kind_of, load_image
from jrc.report import image_record, record

log = logging.getLogger("demo")

DISPLAY_SIDE = 1600  # annotated images larger than this are shown downscaled
FACE_COLUMNS = ["face", "P(fake)", "verdict", "box (x0, y0, x1, y1)", "detector score"]


@dataclass
class ImageOutput:
    annotated: np.ndarray | None
    verdict: str
    faces: pd.DataFrame
    panels: np.ndarray | None  # per face, one under the other: crop | recon | residual | mask
    report: str | None  # path of the JSON record
    record: dict

    def as_tuple(self) -> tuple:
        return self.annotated, self.verdict, self.faces, self.panels, self.report

    def as_files(self, engine: Engine) -> tuple:
        """Like :meth:`as_tuple`, with the images written to files of their own.

        Gradio writes returned arrays to a cache path named by their content, non-atomically:
        two requests returning the same picture at once (8 users clicking one example) can
        serve each other a truncated file. Files are copied into its cache atomically.
        """
        return (engine.save_rgb(self.annotated, "annotated.jpg"), self.verdict, self.faces,
                engine.save_rgb(self.panels, "faces.png"), self.report)


def face_table(results: list[FaceResult]) -> pd.DataFrame:
    rows = [[i + 1, text.fmt(r.score), r.label.upper(),
             ", ".join(f"{v:.0f}" for v in r.box) if r.box else "", text.fmt(r.det_score)]
            for i, r in enumerate(results)]
    return pd.DataFrame(rows, columns=FACE_COLUMNS)


def analyze_image(engine: Engine, path: str | None) -> ImageOutput:
    """Upload path -> annotated image, verdict, per-face table, per-face panels, JSON report.

    Bad input never raises: it becomes a message and an ``"error"`` record.
    """
    empty = pd.DataFrame(columns=FACE_COLUMNS)
    if not path:
        return ImageOutput(None, text.NO_IMAGE, empty, None, None, {})
    name = Path(path).name
    t = engine.threshold

    def failed(msg: str, kind: str | None) -> ImageOutput:
        rec = record(name, kind, t, error=msg)
        return ImageOutput(None, text.error_md(msg), empty, None, engine.write_report(rec, name), rec)

    try:
        if kind_of(path) == "video":
            raise MediaError(f"{name}: this is a video; use the Video tab")
        rgb = load_image(path)
        results = engine.analyze(rgb)
    except MediaError as e:
        return failed(text.public_message(e, path), kind_of(path))
    except Exception as e:
        log.exception("image analysis failed for %s", name)
        return failed(text.internal_error(name, e, path), "image")
    rec = image_record(name, results, t, file=path)
    annotated = overlays.fit(overlays.draw_faces(rgb, results), DISPLAY_SIDE)
    h, w = rgb.shape[:2]
    size_note = text.large_image(w, h) if max(h, w) > DISPLAY_SIDE else ""
    report = engine.write_report(rec, name)
    if not results:
        verdict = text.badge(None, "No face found") + "\n\n" + text.NO_FACE_IMAGE + size_note
        return ImageOutput(annotated, verdict, face_table([]), None, report, rec)
    n_fake = sum(r.label == "fake" for r in results)
    verdict = (text.headline(rec["label"], rec["score"]) + "\n\n"
               + text.image_summary(len(results), n_fake, t) + text.cautions_md(rec["warnings"]) + size_note)
    panels = overlays.stack_panels([
        overlays.face_panel(r, f"#{i + 1}  {r.label.upper()}  P(fake) {text.fmt(r.score)}")
        for i, r in enumerate(results)])
    return ImageOutput(annotated, verdict, face_table(results), panels, report, rec)
