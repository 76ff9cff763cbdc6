"""Degradations: shape and dtype kept, each one changes the image, fixed ones are deterministic."""

import numpy as np
import pytest

from train.data import augment
from train.degrade import blur, fixed_degradation, jpeg, noise, random_degradation, resample


@pytest.fixture(scope="module")
def face(astronaut):
    return np.ascontiguousarray(astronaut[20:244, 150:374])


@pytest.mark.parametrize("fn", [lambda x: jpeg(x, 30), lambda x: resample(x, 0.5), lambda x: blur(x, 1.0),
                                lambda x: noise(x, 5.0, np.random.default_rng(0))])
def test_degradation_keeps_shape_and_changes_pixels(face, fn):
    out = fn(face)
    assert out.shape == face.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - face).mean()
    assert 0.3 < diff < 20  # changed, but still the same picture


def test_fixed_degradation_is_deterministic_and_cycles(face):
    outs = [fixed_degradation(face, i) for i in range(4)]
    assert all(np.array_equal(o, fixed_degradation(face, i)) for i, o in enumerate(outs))
    assert len({o.tobytes() for o in outs}) == 4


def test_random_degradation_and_augment_degrade(face):
    a = random_degradation(face, np.random.default_rng(3))
    assert np.array_equal(a, random_degradation(face, np.random.default_rng(3)))
    mask = np.zeros(face.shape[:2], np.float32)
    mask[50:150, 60:160] = 1
    clean, m0 = augment(face, np.random.default_rng(1), mask)
    degraded, m1 = augment(face, np.random.default_rng(1), mask, degrade=1.0)
    assert np.array_equal(m0, m1)  # degradations touch pixels, never the mask
    assert not np.array_equal(clean, degraded)
