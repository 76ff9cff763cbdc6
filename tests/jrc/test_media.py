import cv2
import numpy as np
import pytest

from jrc import media


def test_load_image_rgb_and_exif(tmp_path, astronaut):
    p = tmp_path / "a.png"
    cv2.imwrite(str(p), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    assert np.array_equal(media.load_image(p), astronaut)


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
