"""Dataset layouts and crop caching (tiny layouts made in the test)."""

import json

import cv2
import numpy as np
import pytest

from train.data import (
    augment,
    cache_video_crops,
    near_duplicate_groups,
    scan_crop_folder,
    scan_real_folder,
    scan_video_dataset,
    sharpness,
    split_indices,
)


def touch(root, *names):
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_ffpp_official_layout(tmp_path):
    touch(tmp_path, "original_sequences/youtube/c23/videos/000.mp4",
          "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
          "manipulated_sequences/FaceSwap/c23/videos/000_003.mp4")
    got = sorted((s.source, s.label) for s in scan_video_dataset(tmp_path))
    assert got == [("Deepfakes", 1), ("FaceSwap", 1), ("original", 0)]


def test_celebdf_layout_and_test_list(tmp_path):
    touch(tmp_path, "Celeb-real/id0_0000.mp4", "YouTube-real/00000.mp4", "Celeb-synthesis/id0_id1_0000.mp4",
          "Celeb-synthesis/id0_id1_0001.mp4")
    (tmp_path / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00000.mp4\n0 Celeb-synthesis/id0_id1_0001.mp4\n")
    assert len(scan_video_dataset(tmp_path)) == 4
    test = scan_video_dataset(tmp_path, split="test")
    assert sorted((s.source, s.label) for s in test) == [("Celeb-synthesis", 1), ("YouTube-real", 0)]
    assert len(scan_video_dataset(tmp_path, split="train")) == 2


def test_dfdc_metadata_layout(tmp_path):
    touch(tmp_path, "part0/a.mp4", "part0/b.mp4")
    (tmp_path / "part0" / "metadata.json").write_text(json.dumps(
        {"a.mp4": {"label": "FAKE", "original": "b.mp4"}, "b.mp4": {"label": "REAL"},
         "missing.mp4": {"label": "FAKE"}}))
    got = sorted((s.path.rsplit("/", 1)[1], s.label) for s in scan_video_dataset(tmp_path))
    assert got == [("a.mp4", 1), ("b.mp4", 0)]


def test_generic_and_empty_layouts(tmp_path):
    touch(tmp_path, "real/r.mp4", "fake/f.avi", "fake/notes.txt")
    assert sorted(s.label for s in scan_video_dataset(tmp_path)) == [0, 1]
    with pytest.raises(FileNotFoundError, match="no videos"):
        scan_video_dataset(tmp_path / "real" / "none")


def test_crop_and_real_folders(tmp_path):
    touch(tmp_path, "youtube/1.jpg", "youtube/2.jpg", "FaceSwap/1.jpg", "Deepfakes/1.png", "x/readme.txt")
    s = scan_crop_folder(tmp_path)
    assert [(x.source, x.label) for x in s] == [("Deepfakes", 1), ("FaceSwap", 1), ("youtube", 0),
                                               ("youtube", 0)]
    assert len(scan_crop_folder(tmp_path, ["youtube", "FaceSwap"])) == 3
    reals = scan_real_folder(tmp_path, limit=2)
    assert len(reals) == 2 and {r.label for r in reals} == {0}


def test_split_is_stratified_and_disjoint(tmp_path):
    touch(tmp_path, *[f"youtube/{i}.jpg" for i in range(10)], *[f"FaceSwap/{i}.jpg" for i in range(20)])
    samples = scan_crop_folder(tmp_path)
    tr, va = split_indices(samples, 0.2, seed=0)
    assert not set(tr) & set(va) and len(tr) + len(va) == 30
    assert sorted(samples[i].source for i in va).count("youtube") == 2


def test_near_duplicates_share_a_group(astronaut):
    """A photo, its JPEG copy, a shifted copy and a copy with a repainted centre (a stand-in for a
    face swap) form one group; other photos stay apart."""
    from skimage import data as skdata

    from train.degrade import jpeg

    def square(img):
        img = np.dstack([img] * 3) if img.ndim == 2 else img[..., :3]
        return cv2.resize(np.ascontiguousarray(img), (224, 224), interpolation=cv2.INTER_AREA)

    a = square(astronaut)
    swapped = a.copy()
    swapped[80:150, 80:150] = np.clip(swapped[80:150, 80:150].astype(int) + 40, 0, 255)
    shifted = np.roll(a, 2, axis=1)
    others = [square(skdata.chelsea()), square(skdata.coffee()), square(skdata.camera())]
    groups = near_duplicate_groups(np.stack([a, jpeg(a, 40), shifted, swapped, *others]))
    assert len(set(groups[:4])) == 1
    assert len(set(groups)) == 4


def test_grouped_split_keeps_groups_whole(tmp_path):
    touch(tmp_path, *[f"youtube/{i}.jpg" for i in range(40)], *[f"FaceSwap/{i}.jpg" for i in range(40)])
    samples = scan_crop_folder(tmp_path)
    groups = np.arange(80) % 20  # 20 groups of 4
    tr, va = split_indices(samples, 0.25, seed=1, groups=groups)
    assert not set(tr) & set(va) and len(tr) + len(va) == 80
    assert not set(groups[tr]) & set(groups[va])
    assert len(va) == 20
    assert len(split_indices(samples, 0.0, seed=1, groups=groups)[1]) == 0


def test_augment_moves_mask_with_image():
    rng = np.random.default_rng(3)
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, :8] = 255
    mask = (img[..., 0] > 0).astype(np.float32)
    for _ in range(10):
        a, m = augment(img, rng, mask)
        assert a.shape == img.shape and m.shape == mask.shape
        assert np.corrcoef(a[..., 0].ravel() > 127, m.ravel() > 0.5)[0, 1] > 0.9


def test_video_crops_cached(astronaut_video, tmp_path):
    from train.data import Sample

    vids = [Sample(str(astronaut_video), 0, "real", group=str(astronaut_video))]
    samples, crops, kps = cache_video_crops(vids, 64, frames=4, cache_dir=tmp_path)
    assert len(samples) == 4 and crops.shape == (4, 64, 64, 3) and kps.shape == (4, 6, 2)
    assert [s.frame for s in samples] == [0, 6, 13, 19]
    again = cache_video_crops(vids, 64, frames=4, cache_dir=tmp_path)
    assert np.array_equal(again[1], crops) and list(tmp_path.glob("video64_*.npz"))


def test_sharpness_falls_with_blur_and_reads_only_the_centre(astronaut):
    """Blurring lowers it; detail outside the central square does not count."""
    face = cv2.resize(astronaut, (224, 224), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(face, (0, 0), 1.5)
    s = sharpness(np.stack([face, blurred]))
    assert s.shape == (2,) and s[0] > 2 * s[1] > 0
    flat = np.full((224, 224, 3), 128, np.uint8)
    framed = face.copy()
    framed[45:179, 45:179] = 128  # a flat central 60% inside a detailed border
    assert sharpness(framed[None])[0] == sharpness(flat[None])[0] == 0
    assert sharpness(framed[None], centre=1.0)[0] > 0
