"""End to end in Debian's Chromium via Playwright: image upload, video upload, fake webcam.

Needs ``apt-get install chromium`` and ``pip install playwright`` (never ``playwright install``).
Screenshots of each tab go to ``screenshots/`` (git-ignored).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from demo_fixtures import served_url
from demo_media import write_y4m

from demo.examples import webcam_frames

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="no Chromium (apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def page(astronaut, tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright not installed (pip install playwright)")
    served = served_url()
    y4m = write_y4m(tmp_path_factory.mktemp("cam") / "astronaut.y4m", webcam_frames(astronaut))
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={y4m}"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"])
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.goto(served)
        pg.wait_for_load_state("load")  # Gradio pages never reach "networkidle"
        pg.get_by_role("tab", name="Webcam").wait_for()
        yield pg
        browser.close()


def test_image_upload_shows_score(page, tmp_path, astronaut):
    import cv2

    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    page.get_by_role("tab", name="Image").click()
    page.locator("#jrc-image-in input[type=file]").set_input_files(str(path))
    verdict = page.locator("#jrc-image-verdict")
    verdict.get_by_text("P(fake)").first.wait_for()
    assert "threshold" in verdict.inner_text()
    page.locator("#jrc-panels img").first.wait_for()
    rows = page.locator("#jrc-faces tbody tr")
    assert rows.count() == 1
    page.screenshot(path=str(SHOTS / "image_tab.png"), full_page=True)
    # the self-blended example, clicked like a user would: a second screenshot with a fake verdict
    example = page.get_by_text("astronaut, self-blended fake")
    if example.count():
        example.first.click()
        page.wait_for_function(  # its report has replaced the first one
            "() => document.querySelector('#jrc-image-report').innerText.includes('astronaut_selfblended')")
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / "image_tab_selfblended.png"), full_page=True)


def test_video_upload_shows_timeline(page):
    from demo.examples import video_examples

    page.get_by_role("tab", name="Video").click()
    page.locator("#jrc-video-in input[type=file]").set_input_files(video_examples()[0])
    page.locator("#jrc-video-verdict").get_by_text("P(fake)").first.wait_for(timeout=60_000)
    page.locator("#jrc-video-out video").first.wait_for()
    playable = page.locator("#jrc-video-out video").first.evaluate(
        "v => new Promise(r => { if (v.readyState >= 2) r(true); "
        "v.addEventListener('loadeddata', () => r(true)); v.addEventListener('error', () => r(false)); "
        "setTimeout(() => r(v.readyState >= 2), 10000); })")
    assert playable, "the annotated WebM does not play in Chromium"
    page.locator("#jrc-timeline canvas, #jrc-timeline svg").first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "video_tab.png"), full_page=True)


def test_webcam_shows_live_overlay(page):
    page.get_by_role("tab", name="Webcam").click()
    page.get_by_text("Click to Access Webcam").click()
    page.get_by_role("button", name="capture photo").click()  # "Record": starts streaming
    live = page.locator("#jrc-live img").first
    live.wait_for()
    assert live.get_attribute("src").startswith("data:image/jpeg")
    status = page.locator("#jrc-live-status")
    status.get_by_text("P(fake)").first.wait_for()
    page.wait_for_timeout(2500)  # let a few frames through, then read the counters
    text = status.inner_text()
    assert "1 face" in text and "ms/frame" in text, text
    page.screenshot(path=str(SHOTS / "webcam_tab.png"), full_page=True)
    page.get_by_role("button", name="capture photo").click()  # "Stop"
