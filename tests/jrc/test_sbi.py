import numpy as np
import pytest

from jrc.sbi import (
    CANONICAL_KEYPOINTS,
    FACE_OUTLINE,
    LOCAL_REGIONS,
    _affine_from_canonical,
    _region_polygon,
    sbi_batch,
    self_blend,
)


@pytest.fixture(scope="module")
def face(astronaut):
    """The astronaut's face crop (jrc framing, 224 px) and its BlazeFace keypoints in the crop."""
    from jrc.faces import FaceDetector, crop_points

    det = FaceDetector()
    f = det.detect(astronaut)[0]
    crop = det.crop(astronaut, f, 224)
    kps = crop_points(f.keypoints, f.box, 224, det.scale, det.shift)
    det.close()
    return crop, kps


@pytest.fixture(scope="module")
def textured():
    return np.random.default_rng(123).integers(0, 256, (160, 160, 3), dtype=np.uint8)


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_mask_range_and_outside_pixels_unchanged(textured, seed):
    kps = CANONICAL_KEYPOINTS * 160 if seed % 2 else None
    fake, mask = self_blend(textured, kps, np.random.default_rng(seed))
    assert fake.shape == textured.shape and fake.dtype == np.uint8
    assert mask.shape == textured.shape[:2] and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    outside = mask == 0
    assert 0.1 < outside.mean() < 0.95  # a face region, not the whole crop nor nothing
    np.testing.assert_array_equal(fake[outside], textured[outside])
    inside = mask > 0.2
    assert inside.any()
    assert np.abs(fake[inside].astype(int) - textured[inside].astype(int)).mean() > 2


def test_same_seed_same_output_and_different_seeds_differ(textured):
    a = self_blend(textured, None, np.random.default_rng(7))
    b = self_blend(textured, None, np.random.default_rng(7))
    c = self_blend(textured, None, np.random.default_rng(8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])


def test_real_face_with_detector_keypoints(face):
    crop, kps = face
    # keypoints land where a face is in the crop: eyes above the mouth, ears outside the eyes
    assert kps[0, 1] < kps[3, 1] and kps[1, 1] < kps[3, 1]
    assert kps[4, 0] < kps[0, 0] < kps[1, 0] < kps[5, 0]
    for seed in range(4):
        fake, mask = self_blend(crop, kps, np.random.default_rng(seed))
        np.testing.assert_array_equal(fake[mask == 0], crop[mask == 0])
        ys, xs = np.nonzero(mask > 0.5 * mask.max())
        # the blended region is centred on the face (between the eyes and the mouth)
        assert kps[0, 0] - 20 < xs.mean() < kps[1, 0] + 20
        assert kps[0, 1] - 30 < ys.mean() < kps[3, 1] + 10
        # it covers the eyes/nose/mouth but not the crop corners
        for x, y in kps[:4].round().astype(int):
            assert mask[y, x] > 0
        assert mask[0, 0] == 0 and mask[0, -1] == 0


def test_small_face_keeps_its_region(textured):
    kps = CANONICAL_KEYPOINTS * 160 * 0.3 + 56  # a face a third the crop's size, in the middle
    _fake, mask = self_blend(textured, kps, np.random.default_rng(0))
    ys, xs = np.nonzero(mask > 0)
    assert (mask > 0).mean() < 0.08 and 50 < xs.mean() < 110 and 50 < ys.mean() < 110


def test_keypoints_off_the_crop_fall_back_to_the_face_ellipse(textured):
    far = CANONICAL_KEYPOINTS * 160 + 5000
    _fake, mask = self_blend(textured, far, np.random.default_rng(0))
    assert mask.max() > 0.2 and (mask == 0).mean() > 0.1


def test_other_landmark_sets_use_their_hull(textured):
    pts = np.array([[50, 50], [110, 50], [110, 120], [50, 120], [80, 85]], np.float32)
    _fake, mask = self_blend(textured, pts, np.random.default_rng(3))
    ys, xs = np.nonzero(mask > 0)
    assert 30 < xs.mean() < 130 and 30 < ys.mean() < 140


def test_batch_and_input_checks(textured):
    fakes, masks = sbi_batch(np.stack([textured, textured]), None, np.random.default_rng(0))
    assert fakes.shape == (2, 160, 160, 3) and masks.shape == (2, 160, 160)
    with pytest.raises(ValueError, match="keypoint"):
        sbi_batch([textured], [None, None], np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8"):
        self_blend(textured.astype(np.float32), None, np.random.default_rng(0))


def test_local_self_blends_cover_one_part_of_the_face_not_the_whole_face(face):
    """Each part-level blend covers one of LOCAL_REGIONS (mouth, eyes, nose, a cheek): never both
    the mouth and the eyes, centred on its part, and every part is drawn."""
    crop, kps = face
    (ex0, ey0), (ex1, ey1), _, (mx, my) = kps[:4].round().astype(int)
    m = _affine_from_canonical(kps[:6], crop.shape[1], crop.shape[0])
    centres = [np.float32(c) * crop.shape[1::-1] @ m[:, :2].T + m[:, 2] for c, _ in LOCAL_REGIONS]
    kinds = set()
    for seed in range(30):
        fake, mask = self_blend(crop, kps, np.random.default_rng(seed), local=1.0)
        assert mask.min() >= 0.0 and mask.max() <= 1.0
        np.testing.assert_array_equal(fake[mask == 0], crop[mask == 0])
        mouth, eyes = mask[my, mx] > 0, mask[ey0, ex0] > 0 and mask[ey1, ex1] > 0
        assert not (mouth and eyes), f"seed {seed}: a local blend covers one part of the face"
        ys, xs = np.nonzero(mask > 0.5 * mask.max())
        d = [np.hypot(xs.mean() - cx, ys.mean() - cy) for cx, cy in centres]
        kinds.add(int(np.argmin(d)))
        if seed < 12:  # the first 12 seeds, as before the nose and cheek regions were added
            whole = self_blend(crop, kps, np.random.default_rng(seed))[1]
            assert (mask > 0).mean() < 0.6 * (whole > 0).mean()
    assert kinds == set(range(len(LOCAL_REGIONS)))


def test_local_probability_mixes_local_and_whole_face_blends(face):
    crop, kps = face
    mx, my = kps[3].round().astype(int)
    ex, ey = kps[0].round().astype(int)
    rng = np.random.default_rng(0)
    whole = sum(bool(m[my, mx] > 0 and m[ey, ex] > 0) for m in
                (self_blend(crop, kps, rng, local=0.5)[1] for _ in range(40)))
    assert 8 <= whole <= 32  # about half cover both the eyes and the mouth


def test_other_landmark_sets_ignore_local(textured):
    """A hull landmark set (here 5 points, a 4-point hull) is its own region, with or without local."""
    pts = np.array([[50, 50], [110, 50], [110, 120], [50, 120], [80, 85]], np.float32)
    for seed in range(8):  # some seeds pick the ellipse shape, which needs 5 hull points
        fake, mask = self_blend(textured, pts, np.random.default_rng(seed), local=1.0)
        same = self_blend(textured, pts, np.random.default_rng(seed), local=0.0)
        np.testing.assert_array_equal(fake, same[0])
        ys, xs = np.nonzero(mask > 0)
        assert 30 < xs.mean() < 130 and 30 < ys.mean() < 140


@pytest.mark.parametrize(("scale", "shift"), [(0.8, (18, 10)), (0.5, (40, 40))])
def test_local_regions_follow_the_keypoints(textured, scale, shift):
    """Keypoints of a smaller, shifted face move every part region with them (a local
    region of a half-size face covers only ~3 % of the crop but is on it: no canonical fallback)."""
    shift = np.float32(shift)
    kps = CANONICAL_KEYPOINTS * 160 * scale + shift
    centres = [np.float32(c) * 160 * scale + shift for c, _ in LOCAL_REGIONS]
    hits = [0] * len(LOCAL_REGIONS)
    for seed in range(40):
        _fake, mask = self_blend(textured, kps, np.random.default_rng(seed), local=1.0)
        ys, xs = np.nonzero(mask > 0.5 * mask.max())
        d = [np.hypot(xs.mean() - cx, ys.mean() - cy) for cx, cy in centres]
        assert min(d) < 0.06 * 160, f"seed {seed}: region centred {min(d):.1f} px from either part"
        hits[int(np.argmin(d))] += 1
    assert min(hits) >= 3


def test_without_local_the_random_stream_is_unchanged():
    """local=0 draws exactly what the whole-face region always drew, so older seeds reproduce."""
    for seed in range(6):
        used = np.random.default_rng(seed)
        _region_polygon(None, 224, 224, used, 0.0)
        ref = np.random.default_rng(seed)
        ref.choice(3, p=(0.5, 0.25, 0.25))
        ref.uniform(0.85, 1.05, 2)
        ref.normal(0, 0.012, FACE_OUTLINE.shape)
        assert used.random() == ref.random()
