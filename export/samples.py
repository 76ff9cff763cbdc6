"""Real face crops for parity checks, cut with jrc's one crop function.

Sources, in order: a folder given by the user; the FaceForensics++ test crops in
``../shared/data`` when present; faces found in scikit-image's astronaut photo; and, only when
none of those is available, random pixels (said so in the source label).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"  # beside the checkout (research data; absent for users)
SHARED_CROPS = SHARED_DATA / "ffpp-crops" / "test"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def folder_crops(folder: str | Path, size: int, n: int) -> np.ndarray:
    """Up to ``n`` images from ``folder`` (recursive, spread over sub-folders), resized as crops."""
    from jrc.faces import crop
    from jrc.media import load_image

    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{folder}: no images")
    picks = [files[round(i)] for i in np.linspace(0, len(files) - 1, min(n, len(files)))]
    out = []
    for p in picks:
        img = load_image(p)
        h, w = img.shape[:2]
        out.append(crop(img, (0.0, 0.0, float(w), float(h)), size, scale=1.0, shift=0.0))
    return np.stack(out)


def astronaut_crops(size: int, n: int = 8, image: np.ndarray | None = None) -> np.ndarray:
    """``n`` crops of the face in skimage's astronaut photo: jrc framing, rescaled, shifted, mirrored."""
    from jrc.faces import FaceDetector, crop

    if image is None:
        from skimage import data

        image = np.ascontiguousarray(data.astronaut())
    with FaceDetector() as detector:
        faces = detector.detect(image)
    if not faces:
        raise RuntimeError("no face found in the astronaut photo")
    box, (scale0, shift0) = faces[0].box, faces[0].framing
    variants = [(s, d) for s in (1.0, 1.25, 0.9, 1.5) for d in (0.0, 0.08)]
    out = []
    for i in range(n):
        s, d = variants[i % len(variants)]
        c = crop(image, box, size, scale=scale0 * s, shift=shift0 + d)
        out.append(c[:, ::-1] if (i // len(variants)) % 2 else c)
    return np.ascontiguousarray(np.stack(out))


def parity_crops(size: int, n: int = 16, folder: str | Path | None = None) -> tuple[np.ndarray, str]:
    """``(uint8 crops [n,S,S,3], source label)`` from the best source available here."""
    if folder is not None:
        return folder_crops(folder, size, n), f"{folder} ({n} images)"
    if SHARED_CROPS.is_dir():
        try:
            crops = folder_crops(SHARED_CROPS, size, n)
            return crops, f"FF++ test crops in {SHARED_CROPS} ({len(crops)}, real and fake)"
        except (FileNotFoundError, ValueError):
            pass
    try:
        return astronaut_crops(size, n), f"astronaut photo face ({n} framings)"
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return crops, "random pixels (no face images here: pass --crops DIR or install scikit-image)"
