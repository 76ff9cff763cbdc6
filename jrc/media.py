"""Reading images and videos strictly: a corrupt file is an error, never a half-decoded input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
MAX_IMAGE_PIXELS = 80_000_000  # ~ 10k x 8k; larger images are refused, not silently resized
MAX_FILE_BYTES = 8 * 1024**3


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
                if w * h > MAX_IMAGE_PIXELS:
                    raise MediaError(f"{path}: image too large ({w}x{h} = {w * h / 1e6:.0f} MP; "
                                     f"limit {MAX_IMAGE_PIXELS / 1e6:.0f} MP)")
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = np.asarray(im.convert("RGB"))
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(f"{path}: not a readable image (unknown or corrupt format)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as e:
        raise MediaError(f"{path}: corrupt or truncated image ({e})") from None
    if min(rgb.shape[:2]) < 16:
        raise MediaError(f"{path}: image too small ({rgb.shape[1]}x{rgb.shape[0]})")
    return np.ascontiguousarray(rgb)
