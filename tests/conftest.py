"""Shared fixtures, all made in code from scikit-image's sample photos."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"  # beside the checkout (research data; absent for users)
WEIGHTS = ROOT / "weights"

needs_data = pytest.mark.skipif(not (SHARED_DATA / "ffpp-crops").is_dir(),
                                reason=f"research data not present at {SHARED_DATA}")


@pytest.fixture
def shipped_weights() -> Path:
    """The shipped weights folder; a failure, never a skip, when it is missing from this repo."""
    for name in ("model.safetensors", "config.json"):
        if not (WEIGHTS / name).is_file():
            pytest.fail(f"{WEIGHTS / name} is missing: the shipped-weights tests need the repository's "
                        "weights/ (git checkout weights/)")
    return WEIGHTS


needs_weights = pytest.mark.usefixtures("shipped_weights")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def no_face_image() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.coffee())


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert vw.isOpened(), "OpenCV cannot write mp4v here"
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()
    return path


@pytest.fixture(scope="session")
def astronaut_video(tmp_path_factory, astronaut) -> Path:
    """2 s of the astronaut photo drifting slowly to the right (a face track)."""
    frames = []
    for i in range(20):
        m = np.float32([[1, 0, 2 * i], [0, 1, 0]])
        frames.append(cv2.warpAffine(astronaut, m, (512, 512), borderMode=cv2.BORDER_REFLECT))
    return write_video(tmp_path_factory.mktemp("video") / "astronaut.mp4", frames)


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory, astronaut) -> dict[str, Path]:
    """A 0-byte image, a text file renamed .mp4, and a truncated JPEG."""
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.mp4").write_text("this is not a video\n" * 50)
    _ok, buf = cv2.imencode(".jpg", cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    (d / "truncated.jpg").write_bytes(buf.tobytes()[: len(buf) // 2])
    return {"empty": d / "empty.jpg", "text_mp4": d / "notes.mp4", "truncated": d / "truncated.jpg"}


# ---- training tests: a tiny real-photo dataset
@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, astronaut):
    """crops/{youtube (real), Deepfakes, NeuralTextures (fake)} and a reals-only faces/ beside it
    (``faces_folder``), 6 images each; returns the crops folder."""
    base = tmp_path_factory.mktemp("tiny")
    root = base / "crops"
    rng = np.random.default_rng(0)
    for sub in ("youtube", "Deepfakes", "NeuralTextures", "faces"):
        folder = base / sub if sub == "faces" else root / sub
        folder.mkdir(parents=True)
        for i in range(6):
            m = np.float32([[1, 0, rng.integers(-20, 20)], [0, 1, rng.integers(-20, 20)]])
            img = cv2.warpAffine(astronaut, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
            if sub != "youtube" and sub != "faces":  # a crude manipulation: blur the face region
                img[80:200, 160:280] = cv2.GaussianBlur(img[80:200, 160:280], (9, 9), 3)
            cv2.imwrite(str(folder / f"{i}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


@pytest.fixture(scope="session")
def faces_folder(tiny_dataset):
    """The reals-only folder beside the tiny crop folder."""
    return tiny_dataset.parent / "faces"
