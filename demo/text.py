"""What the demo says to its users: headings, verdict lines, the "About the scores" notes, errors.

Only what a user needs to read a result. Measurements and their sources belong in the README
and the model card, not here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from demo.engine import Engine

TITLE = "JRC deepfake detector"
FOOTER = ("Research prototype: scores are estimates from one model and can be wrong, especially on "
          "manipulation methods and image sources unlike its training data.")
ABOUT = "About the scores"
PANELS = ("**Per face**: crop (what the model saw) | reconstruction (the face as the autoencoder "
          "rebuilds it: blurred by design, it is there to give the residual) | residual (what the "
          "rebuild missed, colour scale under it) | forgery mask (red where the model thinks the "
          "face was edited; *nothing marked* when it marks nothing)")
SCORE_DIGITS = 2  # every P(fake) and threshold the demo shows has this many decimals
OVERLAY_INFO = ("mask: where the model thinks the face was edited (needs a model with a mask head); "
                "residual: what the autoencoder could not rebuild (not a map of edits)")
NO_IMAGE = "Upload or paste an image, or pick an example below."
NO_VIDEO = "Upload a video, or pick an example below."
WAITING = "Waiting for the webcam…"
NO_FACE_IMAGE = ("No face was detected, so nothing was scored. Faces that fill a good part of the "
                 "picture are found best: crop around a small face and try again.")
LIMIT_HINT = "; trim it, or use `python -m jrc scan`"
NO_MASK_LIVE = "<br>This model has no mask head, so there is no mask overlay; choose *residual*."


# ---------------------------------------------------------------- building blocks

def badge(label: str | None, text: str) -> str:
    cls = {"fake": "jrc-fake", "real": "jrc-real"}.get(label or "", "jrc-none")
    return f'<div class="jrc-verdict {cls}">{text}</div>'


def headline(label: str, score: float) -> str:
    """The verdict badge of a scored image, video or webcam window."""
    return badge(label, f"{label.upper()} · P(fake) {fmt(score)}")


def fmt(score: float | None) -> str:
    """A P(fake) or threshold as the demo shows it (``SCORE_DIGITS`` decimals)."""
    return "" if score is None else f"{score:.{SCORE_DIGITS}f}"


def error_md(msg: str) -> str:
    return badge(None, "Could not analyse this file") + f"\n\n{msg}"


def cautions_md(warnings: list[str]) -> str:
    """A record's ``warnings`` (heavy JPEG, small faces) under the verdict: the first one, and how
    many more the JSON report holds (a group photo can carry one per face)."""
    if not warnings:
        return ""
    more = len(warnings) - 1
    return (f"\n\n**Caution**: {warnings[0]}."
            + (f" {more} more caution{'s' if more > 1 else ''} in the JSON report." if more else ""))


def public_message(err: Exception | str, path: str | Path | None) -> str:
    """The error text with the server-side upload folder left out (only the file's name remains)."""
    msg = str(err)
    if path is not None:
        msg = msg.replace(str(Path(path).parent) + os.sep, "")
    return msg


def internal_error(name: str, err: Exception, path: str | Path | None) -> str:
    return f"{name}: internal error ({type(err).__name__}: {public_message(err, path)})"


# ---------------------------------------------------------------- page

def model_line(engine: Engine) -> str:
    c = engine.detector.config
    return (f"Model: `{c.encoder}` at {c.input_size} px · backend `{engine.detector.runner.name}` · "
            f"threshold {fmt(engine.threshold)} · mask head: {'yes' if engine.has_mask else 'no'}"
            + (" · flip averaging (`--tta`) on" if engine.tta else ""))


def intro(engine: Engine) -> str:
    parts = ["a classifier (P(fake) per face)", "an autoencoder that rebuilds the face"]
    if engine.has_mask:
        parts.append("a forgery-mask head that marks where it thinks the face was edited")
    heads = ", ".join(parts[:-1]) + " and " + parts[-1]
    return (f"# {TITLE}\nJoint reconstruction and classification: one encoder feeds {heads}. "
            + model_line(engine))


def webcam_intro(time_limit_s: int) -> str:
    return ("Allow camera access and start recording. Each frame goes to the server, which returns "
            "it with a box per face (green real, red fake, with P(fake)) and the chosen overlay "
            "inside the face's crop square. Your preview is mirrored, and so is the analysed "
            "picture, so the boxes sit on your face as you see it. One stream is served at a time, "
            f"for up to {time_limit_s // 60} minutes; others wait in the queue.")


def video_limits(max_mb: float, max_seconds: float) -> str:
    return (f"Limits: {max_mb:.0f} MB, {max_seconds / 60:.0f} minutes. For longer videos or batches "
            "use `python -m jrc scan`.")


# ---------------------------------------------------------------- "About the scores"

def threshold_md(engine: Engine) -> str:
    return ("**P(fake)** is the model's estimate, from 0 to 1, that a face was manipulated; it is "
            f"not proof. A face is called *fake* at or above the **threshold {fmt(engine.threshold)}**, "
            "which was chosen on this model's validation data and is stored with the weights.")


def maps_md(has_mask: bool) -> str:
    mask = ("**Forgery mask**: marks where the model thinks the face was edited (red)."
            if has_mask else
            "**Forgery mask**: not available: this model has no mask head, so the residual is the "
            "only map.")
    return (mask + "\n\n**Residual**: shows what the autoencoder could not rebuild (bright: a large "
            "difference between the crop and its reconstruction). It is not a map of edits"
            + ("; read the forgery mask for that." if has_mask else "."))


def about_image(engine: Engine) -> str:
    return (threshold_md(engine) + " An image's score is its highest face score.\n\n"
            + maps_md(engine.has_mask))


def about_video(engine: Engine) -> str:
    return (threshold_md(engine) + "\n\nFrames are sampled evenly over the video and each face is "
            "followed from frame to frame as a track. A track's score is the mean of its top half "
            "of frame scores (an edited face is not equally visible in every frame); the video's "
            "score is its highest track score. Tracks seen in a single sampled frame count only "
            "when no longer track exists.\n\nThe annotated clip shows the sampled frames with the "
            + ("forgery mask" if engine.has_mask else "residual")
            + " inside each face's crop square.\n\n" + maps_md(engine.has_mask))


def about_live(engine: Engine, window: int) -> str:
    return (threshold_md(engine) + f" The badge shows the mean of the last {window} frames with a "
            "face; *now* is the current frame's highest face score.\n\n" + maps_md(engine.has_mask))


# ---------------------------------------------------------------- verdict lines

def image_summary(n_faces: int, n_fake: int, threshold: float) -> str:
    if n_faces == 1:
        return f"One face found; the threshold is {fmt(threshold)}."
    return (f"{n_fake} of {n_faces} faces at or above the threshold {fmt(threshold)}; the image's "
            "score is its highest face score.")


def large_image(w: int, h: int) -> str:
    return (f"\n\nLarge image ({w}×{h}): faces were analysed at full resolution; the picture is "
            "shown downscaled.")


def sampled_line(n_sampled: int, n_total: int, fps: float, n_unreadable: int) -> str:
    s = (f"{n_sampled} of {n_total} frames ({n_total / fps:.1f} s) sampled evenly" if fps
         else f"{n_sampled} frames sampled")
    if n_unreadable:
        s += f"; {n_unreadable} could not be decoded and were skipped"
    return s


def video_summary(sampled: str, n_tracks: int, threshold: float) -> str:
    return (f"{sampled}; {n_tracks} face track(s). The video's score is its highest track score; "
            f"the threshold is {fmt(threshold)}.")


def no_face_video(sampled: str) -> str:
    return f"{sampled}; no face was detected in any of them, so nothing was scored."


def live_status(word: str, mean: float, n_window: int, now: float, n_faces: int, threshold: float,
                speed: str, note: str = "") -> str:
    return (headline(word, mean) + f" &nbsp;mean of the last {n_window} frames · now {fmt(now)} · "
            f"{n_faces} face(s) · threshold {fmt(threshold)} · {speed}{note}")
