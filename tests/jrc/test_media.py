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


def test_very_long_image_refused_before_detection(tmp_path):
    """A 1.9 KB PNG of 16 x 40000 px would abort the process inside the face detector."""
    p = tmp_path / "wide.png"
    cv2.imwrite(str(p), np.zeros((16, 40_000, 3), np.uint8))
    with pytest.raises(media.MediaError, match=r"wide\.png: image too long"):
        media.load_image(p)
    from jrc.faces import check_rgb

    with pytest.raises(ValueError, match="too long"):
        check_rgb(np.zeros((16, 40_000, 3), np.uint8))


def test_decompression_bomb_reads_as_too_large(tmp_path, monkeypatch):
    from PIL import Image

    p = tmp_path / "big.png"
    cv2.imwrite(str(p), np.zeros((300, 300, 3), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200 * 200)  # PIL warns before our own limit
    with pytest.raises(media.MediaError, match=r"big\.png: image too large"):
        media.load_image(p)


def test_16_bit_grey_png_keeps_its_tones(tmp_path, astronaut):
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    p = tmp_path / "g16.png"
    cv2.imwrite(str(p), grey.astype(np.uint16) * 257)  # 16-bit grey, full range
    got = media.load_image(p)
    assert got.shape == (*grey.shape, 3) and np.abs(got[..., 0].astype(int) - grey).max() <= 1


@pytest.mark.parametrize("quality", [10, 30, 60, 61, 75, 95, 100])
def test_jpeg_quality_reads_the_encoders_setting(tmp_path, astronaut, quality):
    from PIL import Image

    p = tmp_path / "a.jpg"
    Image.fromarray(astronaut).save(p, quality=quality)
    assert media.jpeg_quality(p) == quality
    warning = media.compression_warning(p)
    assert (warning is not None) == (quality <= media.HEAVY_JPEG_QUALITY)
    if warning:
        assert f"quality ~{quality}" in warning and "weak evidence" in warning


@pytest.mark.parametrize("kind", ["progressive", "grey", "cmyk", "mpo", "jpeg named .png"])
def test_jpeg_quality_of_other_jpeg_variants(tmp_path, astronaut, kind):
    from PIL import Image

    im = Image.fromarray(astronaut)
    p = tmp_path / ("a.png" if kind == "jpeg named .png" else "a.jpg")
    if kind == "mpo":  # two pictures in one file, as some phones write
        im.save(p, "MPO", save_all=True, append_images=[im], quality=40)
    else:
        im = im.convert({"grey": "L", "cmyk": "CMYK"}.get(kind, "RGB"))
        im.save(p, "JPEG", quality=40, progressive=kind == "progressive")
    assert media.jpeg_quality(p) == 40


def test_jpeg_quality_none_for_other_files(tmp_path, astronaut, bad_files):
    p = tmp_path / "a.png"
    cv2.imwrite(str(p), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    named_jpg = tmp_path / "png.jpg"
    named_jpg.write_bytes(p.read_bytes())
    for f in (p, named_jpg, bad_files["empty"], tmp_path / "missing.jpg"):
        assert media.jpeg_quality(f) is None and media.compression_warning(f) is None
