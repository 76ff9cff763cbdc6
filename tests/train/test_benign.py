"""Benign re-saves: real encoders and resizes, shape and dtype kept, mild but not nothing."""

import cv2
import numpy as np
import pytest

from train import benign


@pytest.fixture(scope="module")
def face(astronaut):
    return cv2.resize(astronaut[:300, 100:400], (224, 224), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("name", sorted(benign.RESAVES))
def test_each_resave_changes_the_pixels_a_little(face, name):
    out = benign.RESAVES[name](face)
    assert out.shape == face.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - face).mean()
    assert 0 < diff < (20 if name == "grey" else 8)


def test_gif_is_a_real_256_colour_palette(face):
    assert len(np.unique(benign.gif(face).reshape(-1, 3), axis=0)) <= 256
    assert len(np.unique(benign.palette(face, dither=False).reshape(-1, 3), axis=0)) <= 256
    assert not np.array_equal(benign.palette(face, True), benign.palette(face, False))


def test_jpeg_chroma_subsampling_matters(face):
    assert not np.array_equal(benign.jpeg(face, 75, "4:2:0"), benign.jpeg(face, 75, "4:4:4"))


def test_rescale_without_back_returns_the_resized_image(face):
    assert benign.rescale(face, 2.0, "lanczos", back=False).shape == (448, 448, 3)
    assert benign.rescale(face, 0.25, "nearest").shape == face.shape


def test_random_benign_is_seeded_and_varied(face):
    a = [benign.random_benign(face, np.random.default_rng(s)) for s in range(12)]
    b = [benign.random_benign(face, np.random.default_rng(s)) for s in range(12)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert len({x.tobytes() for x in a}) >= 10
    assert all(x.shape == face.shape and x.dtype == np.uint8 for x in a)
