"""demo.text: what the page says, for a user (no lab notes, no measured numbers)."""

import re

import pytest
from demo_fixtures import no_mask_engine, tiny_engine

from demo import text


@pytest.fixture(scope="module", params=["mask", "no_mask"])
def engine(request):
    return tiny_engine() if request.param == "mask" else no_mask_engine()


def all_text(engine) -> list[str]:
    return [text.intro(engine), text.about_image(engine), text.about_video(engine),
            text.about_live(engine, 15), text.webcam_intro(600), text.video_limits(200, 600),
            text.FOOTER, text.OVERLAY_INFO, text.PANELS, text.NO_FACE_IMAGE, text.NO_MASK_LIVE]


def test_no_benchmarks_or_measurements(engine):
    for md in all_text(engine):
        assert not re.search(r"AUC|benchmarks/|\.py\b|pixel|%", md), md


def test_the_maps_are_explained(engine):
    about = text.about_image(engine)
    assert "what the autoencoder could not rebuild" in about
    if engine.has_mask:
        assert "where the model thinks the face was edited" in about
    else:
        assert "this model has no mask head" in about and "edited" not in text.intro(engine)


def test_the_threshold_is_the_engines(engine):
    assert f"threshold {engine.threshold:.2f}" in text.about_video(engine)
    assert f"threshold {engine.threshold:.2f}" in text.model_line(engine)


def test_public_message_hides_the_upload_folder(tmp_path):
    path = tmp_path / "clip.mp4"
    assert text.public_message(f"{path}: empty file", path) == "clip.mp4: empty file"
    assert text.public_message("plain", None) == "plain"


def test_badges():
    assert 'class="jrc-verdict jrc-fake"' in text.headline("fake", 0.876)
    assert "FAKE · P(fake) 0.88" in text.headline("fake", 0.876)
    assert "jrc-none" in text.error_md("x") and text.error_md("x").endswith("\n\nx")
    assert text.cautions_md(["a"]) == "\n\n**Caution**: a."
    # a group photo can carry a caution per face: the first one, the rest counted (in the report)
    assert text.cautions_md(["a", "b", "c"]) == "\n\n**Caution**: a. 2 more cautions in the JSON report."
    assert text.cautions_md([]) == ""


def test_one_score_precision():
    assert text.fmt(0.011634) == "0.01" and text.fmt(0.6095) == "0.61" and text.fmt(None) == ""
    assert "P(fake) 0.01" in text.headline("real", 0.011634)
    assert text.image_summary(1, 0, 0.6095) == "One face found; the threshold is 0.61."
