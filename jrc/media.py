"""Reading images and videos strictly: a corrupt file is an error, never a half-decoded input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
MAX_IMAGE_PIXELS = 80_000_000  # ~ 10k x 8k; larger images are refused, not silently resized
MAX_FILE_BYTES = 8 * 1024**3
MAX_IMAGE_SIDE = 16_384  # OpenCV inside mediapipe aborts the process at 32,767 px and more


# IJG (libjpeg) standard luminance quantization table, ITU-T T.81 Annex K.1: what "quality" scales
_IJG_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24,
                      40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77,
                      24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95,
                      98, 112, 100, 103, 99])
HEAVY_JPEG_QUALITY = 60  # at or below: warn (docs/measurements.md, "Robustness")


class MediaError(ValueError):
    """A file that cannot be analysed; the message names the file and the problem."""


def kind_of(path: str | Path) -> str | None:
    """``'image'``, ``'video'`` or None, by extension."""
    ext = Path(path).suffix.lower()
    return "image" if ext in IMAGE_EXTS else "video" if ext in VIDEO_EXTS else None


def check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise MediaError(f"{path}: file too large ({size / 1024**3:.1f} GiB)")
    return path


def check_image_side(w: int, h: int, name: str | Path | None = None) -> None:
    """Refuse a side over ``MAX_IMAGE_SIDE``: the face detector's OpenCV aborts the whole process
    on sides of 32767 px and more. Files and arrays (:func:`jrc.faces.check_rgb`) both pass here."""
    if max(w, h) > MAX_IMAGE_SIDE:
        raise MediaError(f"{f'{name}: ' if name else ''}image too long ({w}x{h}; sides up to "
                         f"{MAX_IMAGE_SIDE} px)")


def check_image_size(w: int, h: int, name: str | Path) -> None:
    """Refuse images over ``MAX_IMAGE_PIXELS``, or with a side over ``MAX_IMAGE_SIDE``."""
    if w * h > MAX_IMAGE_PIXELS:
        raise MediaError(f"{name}: image too large ({w}x{h} = {w * h / 1e6:.0f} MP; "
                         f"limit {MAX_IMAGE_PIXELS / 1e6:.0f} MP)")
    check_image_side(w, h, name)


def load_image(path: str | Path) -> np.ndarray:
    """Decode an image fully (EXIF orientation applied) to RGB uint8, or raise MediaError.

    PIL is used rather than OpenCV because it refuses truncated files instead of returning
    a partly grey image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                check_image_size(w, h, path)
                im.load()
                im = ImageOps.exif_transpose(im)
                if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grey: PIL would clip it
                    a = np.asarray(im, dtype=np.float64)
                    top = 65535.0 if im.mode.startswith("I;16") or a.max() <= 65535 else a.max()
                    im = Image.fromarray(np.clip(a / top * 255 + 0.5, 0, 255).astype(np.uint8))
                rgb = np.asarray(im.convert("RGB"))
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(f"{path}: not a readable image (unknown or corrupt format)") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise MediaError(f"{path}: image too large (over {MAX_IMAGE_PIXELS / 1e6:.0f} MP)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise MediaError(f"{path}: corrupt or truncated image ({e})") from None
    if min(rgb.shape[:2]) < 16:
        raise MediaError(f"{path}: image too small ({rgb.shape[1]}x{rgb.shape[0]})")
    return np.ascontiguousarray(rgb)


def jpeg_quality(path: str | Path) -> int | None:
    """The IJG quality (1-100) whose luminance table best matches the file's, or None if ``path``
    is not a readable JPEG. Order-free (compares table sums), so it also gives an equivalent
    quality for encoders with their own tables."""
    from PIL import Image

    try:
        with Image.open(path) as im:  # MPO: a JPEG with more pictures (phones, stereo cameras)
            tables = getattr(im, "quantization", None) if im.format in ("JPEG", "MPO") else None
    except Exception:  # noqa: BLE001 - it only feeds a warning; reading errors are load_image's to report
        return None
    if not tables or 0 not in tables:
        return None
    total = float(np.sum(tables[0]))
    q = np.arange(1, 101)
    scale = np.where(q < 50, 5000 // q, 200 - 2 * q)
    sums = np.clip((_IJG_LUMA[None] * scale[:, None] + 50) // 100, 1, 255).sum(axis=1)
    return int(q[np.argmin(np.abs(sums - total))])


def compression_warning(path: str | Path) -> str | None:
    """A warning for a JPEG at or below ``HEAVY_JPEG_QUALITY``: heavy compression erases the traces
    the model reads, so fakes are often scored as real (measured: ``benchmarks/robustness.py``)."""
    q = jpeg_quality(path)
    if q is None or q > HEAVY_JPEG_QUALITY:
        return None
    return (f"heavily compressed JPEG (quality ~{q}): compression hides manipulation traces, so a fake "
            "is often scored as real here; a 'real' verdict is weak evidence")
