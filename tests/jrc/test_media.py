import cv2
import numpy as np
import pytest

from jrc import media


def test_load_image_rgb(tmp_path, astronaut):
    p = tmp_path / "a.png"
    cv2.imwrite(str(p), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    assert np.array_equal(media.load_image(p), astronaut)


def test_load_image_applies_exif_orientation(tmp_path, astronaut):
    """A phone photo stored sideways with Orientation=6 ("rotate 90 clockwise to view")."""
    from PIL import Image

    stored = np.ascontiguousarray(np.rot90(astronaut[:, :400], k=1))  # 400 x 512, sideways
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(p, quality=95, exif=exif)
    got = media.load_image(p)
    assert got.shape == (512, 400, 3)  # upright, not as stored
    assert np.abs(got.astype(int) - astronaut[:, :400]).mean() < 3


@pytest.mark.parametrize("key,fragment", [("empty", "empty file"), ("truncated", "truncated")])
def test_bad_images(bad_files, key, fragment):
    with pytest.raises(media.MediaError, match=fragment):
        media.load_image(bad_files[key])


def test_not_an_image_and_missing(tmp_path):
    p = tmp_path / "x.jpg"
    p.write_text("hello, not a jpeg")
    with pytest.raises(media.MediaError, match="not a readable image"):
        media.load_image(p)
    with pytest.raises(media.MediaError, match="no such file"):
        media.load_image(tmp_path / "missing.jpg")


def test_huge_image_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 100 * 100)
    p = tmp_path / "big.png"
    cv2.imwrite(str(p), np.zeros((200, 200, 3), np.uint8))
    with pytest.raises(media.MediaError, match="too large"):
        media.load_image(p)


def test_kind_of():
    assert media.kind_of("a/B.JPG") == "image" and media.kind_of("x.webm") == "video"
    assert media.kind_of("notes.txt") is None
