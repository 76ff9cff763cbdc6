from pathlib import Path

import cv2
import numpy as np
import pytest

from demo import examples


@pytest.fixture
def ex_dir(tmp_path):
    return tmp_path / "examples"  # made on first use


def test_image_examples(ex_dir, astronaut):
    pytest.importorskip("skimage")
    paths = examples.image_examples(ex_dir)
    names = [p.split("/")[-1] for p in paths]
    assert names == ["astronaut.png", "astronaut_selfblended.png", "coffee.png"]
    real = cv2.cvtColor(cv2.imread(paths[0]), cv2.COLOR_BGR2RGB)
    fake = cv2.cvtColor(cv2.imread(paths[1]), cv2.COLOR_BGR2RGB)
    assert np.array_equal(real, astronaut)
    changed = np.abs(real.astype(int) - fake).sum(axis=2) > 0
    ys, xs = np.nonzero(changed)
    assert 0.005 < changed.mean() < 0.1  # only the face region was blended
    assert 60 < ys.mean() < 220 and 150 < xs.mean() < 300  # ... where the astronaut's face is
    assert all(p.startswith(str(ex_dir)) for p in paths)
    assert examples.image_examples(ex_dir) == paths  # cached: same files, not rewritten
    assert examples.label(paths[1]) == "astronaut, self-blended fake"


def test_self_blended_needs_a_face(no_face_image):
    assert examples.self_blended(no_face_image) is None


def test_video_example(ex_dir):
    pytest.importorskip("skimage")
    path, fake = examples.video_examples(ex_dir)
    assert fake == str(ex_dir / "astronaut_drift_selfblended.webm") and Path(fake).stat().st_size > 0
    assert path == str(ex_dir / "astronaut_drift.webm")
    cap = cv2.VideoCapture(path)
    frames = []
    while (f := cap.read())[0]:
        frames.append(f[1])
    assert len(frames) == 24 and frames[0].shape == (384, 384, 3)
    assert not np.array_equal(frames[0], frames[-1])  # it pans


def test_default_folder_is_in_the_temp_dir():
    import tempfile
    from pathlib import Path

    assert examples.examples_dir() == Path(tempfile.gettempdir()) / "jrc-demo-examples"
