import gc
import itertools

import cv2
import numpy as np
import pytest

from jrc import faces
from jrc.faces import FRAMING, FaceDetector, check_rgb, crop, crop_box, detect_and_crop


@pytest.fixture(scope="module")
def detector():
    d = FaceDetector()
    yield d
    d.close()


def test_detects_astronaut_face(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    # Eileen Collins' face sits around x 150-230, y 60-150 in skimage's 512x512 photo.
    assert 120 < (x0 + x1) / 2 < 260 and 40 < (y0 + y1) / 2 < 170
    assert faces[0].score > 0.7 and len(faces[0].keypoints) == 6
    c = detector.crop(astronaut, faces[0], 224)
    assert c.shape == (224, 224, 3) and c.dtype == np.uint8


def test_no_face_in_coffee(detector, no_face_image):
    assert detector.detect(no_face_image) == []


def test_crop_at_border_is_padded_not_shrunk():
    img = np.full((100, 100, 3), 200, np.uint8)
    img[:10, :10] = 10  # a dark corner
    out = crop(img, (-20, -20, 30, 30), 64, scale=1.0, shift=0.0)
    assert out.shape == (64, 64, 3)
    # the box's in-image part (0..30) lands in the lower right 60% of the crop
    assert out[-1, -1].tolist() == [200, 200, 200]


def test_crop_box_framing_is_square_and_shifted_up():
    x0, y0, side = crop_box((100, 100, 200, 180), scale=1.2, shift=0.1)
    assert side == 120
    assert x0 == 90 and y0 == round(140 - 0.1 * 120 - 60)
    assert set(FRAMING) == {"short_range", "full_range"}


def test_check_rgb_converts_and_rejects():
    assert check_rgb(np.zeros((8, 8), np.uint8)).shape == (8, 8, 3)
    assert check_rgb(np.zeros((8, 8, 4), np.uint8)).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="uint8"):
        check_rgb(np.zeros((8, 8, 3), np.float32))


def test_small_face_found_by_full_range_fallback(astronaut):
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[104:616, 384:896] = astronaut  # face ~95 px wide: under the short-range model's reach
    primary = FaceDetector("short_range")
    assert primary.detect(frame) == []
    both = FaceDetector("short_range", fallback="full_range")
    (face,) = both.detect(frame)
    assert face.model == "full_range" and face.framing == FRAMING["full_range"]
    assert 384 + 120 < (face.box[0] + face.box[2]) / 2 < 384 + 260
    assert both.crop(frame, face, 64).shape == (64, 64, 3)
    primary.close()
    both.close()


def test_context_manager_closes_the_detector(astronaut):
    with FaceDetector("full_range") as d:
        faces = d.detect(astronaut)
    assert faces and faces[0].framing == FRAMING["full_range"]
    assert d._detector is None  # closed on leaving the block
    d.close()  # closing twice is harmless


def test_a_collected_detector_is_closed_later_not_inside_the_garbage_collector(astronaut):
    """Closing mediapipe from a finaliser can deadlock, so ``__del__`` only parks the task."""
    d = FaceDetector("full_range")
    task = d._detector
    cycle = [d]
    cycle.append(cycle)  # only the cyclic collector can free it, at an arbitrary moment
    del d, cycle
    gc.collect()
    assert any(t is task for t in faces._UNREFERENCED)
    closed = []

    class Recorder:
        def close(self):
            closed.append(True)

    faces._UNREFERENCED.append(Recorder())
    with FaceDetector("full_range") as fresh:  # a new detector closes the parked ones first
        assert not faces._UNREFERENCED and closed and fresh.detect(astronaut)


def test_detect_and_crop_reframes_a_crop_made_by_another_tool(detector, astronaut):
    """A loose, off-centre crop of the face is re-cut to the framing of the full-image crop."""
    (face,) = detector.detect(astronaut)
    reference = detector.crop(astronaut, face, 128).astype(np.float32)
    x0, y0, x1, _ = (int(v) for v in face.box)
    side = int(1.8 * (x1 - x0))
    oy, ox = max(0, y0 - side // 3), max(0, x0 - side // 5)
    other = astronaut[oy:oy + side, ox:ox + side]
    got = detect_and_crop(detector, other, 128)
    assert got is not None
    reframed, kps, found = got
    assert reframed.shape == (128, 128, 3) and kps.shape == (6, 2)
    # the box comes back in the crop's own pixels, on the same face (BlazeFace jitters a few %)
    back = np.array(found.box) + np.array([ox, oy, ox, oy])
    assert np.abs(back - np.array(face.box)).max() < 0.12 * (x1 - x0)
    as_given = cv2.resize(other, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    err_reframed = np.abs(reframed.astype(np.float32) - reference).mean()
    err_as_given = np.abs(as_given - reference).mean()
    assert err_reframed < err_as_given / 2, (err_reframed, err_as_given)


def test_detect_and_crop_without_a_face(detector, no_face_image):
    assert detect_and_crop(detector, no_face_image, 64) is None


def group_photo(astronaut: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """The astronaut's face (a real photo) pasted at three sizes on a real background (skimage's
    rocket photo, enlarged to 1280x720): (image, [(x, y, side) of each pasted patch])."""
    from skimage import data

    bg = cv2.resize(data.rocket(), (1280, 720), interpolation=cv2.INTER_CUBIC)
    head = astronaut[20:260, 90:330]  # 240 px around her face (~95 px)
    out, where = bg.copy(), []
    for x, y, side in ((40, 300, 170), (270, 200, 330), (640, 40, 620)):  # faces ~65, ~130, ~245 px
        out[y:y + side, x:x + side] = cv2.resize(head, (side, side), interpolation=cv2.INTER_CUBIC)
        where.append((x, y, side))
    return out, where


def test_group_photo_every_face_found_with_the_training_framing(astronaut):
    img, where = group_photo(astronaut)
    with faces.FaceFinder() as finder:
        found = finder.detect(img)
        fast = finder.detect(img, fast=True)  # the webcam path: one large face is enough
    # one known false detection (0.57, on the suit under the largest face) is allowed
    assert 3 <= len(found) <= 4
    for x, y, side in where:
        inside = [f for f in found if x < (f.box[0] + f.box[2]) / 2 < x + side
                  and y < (f.box[1] + f.box[3]) / 2 < y + 0.6 * side]  # the face: upper part of the patch
        assert len(inside) == 1, (x, y, side)
        # re-localised by short-range: the framing the model was trained on
        assert inside[0].model == "short_range" and inside[0].framing == FRAMING["short_range"]
        assert 0.3 < faces.box_side(inside[0].box) / side < 0.6
    assert 1 <= len(fast) <= 3
    with FaceDetector("short_range", fallback="full_range") as legacy:  # the detector before issue 30
        assert len(legacy.detect(img)) < 3


def test_finder_on_a_tight_crop_boxes_as_training_does(astronaut):
    """Crops re-framed as in training (``detect_and_crop``) take the short-range path unchanged."""
    with FaceDetector() as plain, faces.FaceFinder() as finder:
        a = detect_and_crop(plain, astronaut, 64)
        b = detect_and_crop(finder, astronaut, 64)
    assert a[2].box == b[2].box and np.array_equal(a[0], b[0])


def test_tiles_cover_the_frame_with_overlap():
    assert faces._starts(700, 768) == [0]
    s = faces._starts(1920, 768)
    assert s[0] == 0 and s[-1] == 1920 - 768
    assert all(b - a <= 0.75 * 768 for a, b in itertools.pairwise(s))


def test_roll_from_the_eyes_and_the_tilt_caution(astronaut):
    from jrc import report
    from jrc.detector import FaceResult

    turned = np.ascontiguousarray(np.rot90(astronaut))  # a quarter turn
    with faces.FaceFinder() as finder:
        (upright,) = finder.detect(astronaut)[:1]
        (quarter,) = finder.detect(turned)[:1]
    assert abs(upright.roll) < 10
    assert abs(abs(quarter.roll) - 90) < 15
    r = FaceResult(quarter.box, quarter.score, 0.8, "fake", np.zeros((4, 4, 3), np.uint8), roll=quarter.roll)
    (warning,) = report.input_warnings("a.png", [r])
    assert warning.startswith("face #1 is tilted") and "upright faces" in warning
    assert report.tilted_face_warning("face #1", report.TILTED_FACE_DEG) is None
    assert r.to_dict()["roll"] == round(quarter.roll, 1)
