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
