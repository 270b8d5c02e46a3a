"""The Gradio app as a person uses it: app.py on 127.0.0.1, driven by headless Chromium.

One app process and one browser serve the whole module. Screenshots of every tab go to
test-artifacts/ (look at them). The last test checks what the others did: no request left
127.0.0.1 (browser and server) and the server never imported TensorFlow.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import cv2
import gradio_client
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from harness.app_harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    api_client,
    clean_env,
    launch_app,
    wait_for_text,
)
from humanmatting import compose
from humanmatting.preprocess import load_rgb
from humanmatting.runtime import load_matter
from humanmatting.specs import DEFAULT_MODEL, MODEL_SPECS, SHIPPED_MODELS
from humanmatting.weights import PACKAGED_WEIGHTS_DIR

# Every test here needs the module's app (its start alone takes 10-30 s); the page's own
# are marked browser too.
pytestmark = pytest.mark.slow

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def app_weights(tmp_path_factory, random_weights_dir, request) -> dict:
    """The shipped night, dark and dark-light (trained: the page is checked with models
    that find people), the author's weights as dark-light-original when ../shared has them,
    random weights for the rest."""
    try:
        original = request.getfixturevalue("original_weights_dir")
    except pytest.skip.Exception:
        original = None
    folder = tmp_path_factory.mktemp("app-weights")
    for name in MODEL_SPECS:
        source = random_weights_dir / name
        if name in SHIPPED_MODELS:
            source = PACKAGED_WEIGHTS_DIR / name
        elif original is not None and name == "dark-light-original":
            source = original / "dark-light-original"
        (folder / name).symlink_to(source, target_is_directory=True)
    return {"folder": folder, "original": original is not None}


@pytest.fixture(scope="module")
def app(app_weights, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("app-run")
    env = clean_env(PYTHONPATH=str(REPO_ROOT), HF_HOME=str(workdir / "hf-home"))
    arguments = ["--weights", str(app_weights["folder"])]
    with launch_app(REPO_ROOT / "app.py", workdir, arguments, env) as running:
        print(f"app served its first page {running.started_s:.1f} s after launch")
        yield running


@pytest.fixture(scope="module")
def browser_requests() -> list[str]:
    return []


@pytest.fixture(scope="module")
def browser_context(app, browser_requests, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user data dir
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            accept_downloads=True,
            viewport={"width": 1280, "height": 1000},
            permissions=["camera"],
        )
        context.on("request", lambda request: browser_requests.append(request.url))
        yield context
        context.close()


@pytest.fixture
def page(browser_context, app):
    page = browser_context.new_page()
    # Not "networkidle": Gradio keeps a heartbeat stream to the server open on pages with
    # session state, so the network never goes idle (see README, App).
    page.goto(app.url, wait_until="domcontentloaded")
    page.wait_for_selector("#photo input[type=file]", state="attached", timeout=30_000)
    yield page
    page.close()


def textbox(page, elem_id: str):
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def library_alpha(app_weights, rgb: np.ndarray) -> np.ndarray:
    matter = load_matter(DEFAULT_MODEL, app_weights["folder"] / DEFAULT_MODEL, download=False)
    return compose.cutout(rgb, matter.predict(rgb).alpha)[:, :, 3]


@pytest.mark.browser
@needs_chromium
def test_image_tab_downloads_cutout_png_matching_the_library(page, app_weights, grace_hopper_path):
    page.locator("#photo input[type=file]").set_input_files(str(grace_hopper_path))
    wait_for_text(page, "#timing summary", " ms")
    assert page.locator("#timing summary").inner_text().startswith(f"{DEFAULT_MODEL}, ")
    page.get_by_label("transparent").check()
    wait_for_text(page, "#download", "grace_hopper-transparent.png", prop="innerText")
    # Instant feedback: the matte already computed is reused, the network does not run.
    assert "matte was reused" in page.locator("#timing").text_content()
    with page.expect_download() as download_info:
        page.locator("#download").click()
    assert download_info.value.suggested_filename == "grace_hopper-transparent.png"
    downloaded = ARTIFACTS / "cutout-download.png"
    download_info.value.save_as(downloaded)
    page.screenshot(path=str(ARTIFACTS / "image-tab.png"), full_page=True)

    with Image.open(downloaded) as png:
        assert png.format == "PNG" and png.mode == "RGBA"
        cutout = np.asarray(png)
    rgb = load_rgb(grace_hopper_path)
    assert cutout.shape == (*rgb.shape[:2], 4)
    # The photo's own pixels where the person is opaque (edges may get their foreground
    # colour estimated).
    opaque = cutout[:, :, 3] == 255
    np.testing.assert_array_equal(cutout[opaque][:, :3], rgb[opaque])
    expected = library_alpha(app_weights, rgb)
    assert np.abs(cutout[:, :, 3].astype(int) - expected).max() <= 1
    person, expected_person = cutout[:, :, 3] >= 128, expected >= 128
    union = (person | expected_person).sum()
    assert union == 0 or (person & expected_person).sum() / union > 0.999
    # The shipped model finds a person, not everything or nothing.
    assert 0.2 < person.mean() < 0.8
    assert person[-50:, 200:300].mean() > 0.9  # her uniform, bottom centre
    assert person[:60, :60].mean() < 0.1  # the flag, top left

    # An opaque result as JPEG: named after the upload and the mode, and far smaller.
    page.get_by_label("blur").check()
    page.get_by_label("JPEG").check()
    wait_for_text(page, "#download", "grace_hopper-blur.jpg", prop="innerText")
    with page.expect_download() as download_info:
        page.locator("#download").click()
    jpeg = ARTIFACTS / "blur-download.jpg"
    download_info.value.save_as(jpeg)
    with Image.open(jpeg) as picture:
        assert picture.format == "JPEG" and picture.size == (rgb.shape[1], rgb.shape[0])
    assert jpeg.stat().st_size < downloaded.stat().st_size / 2


# Every download label the page shows from now on, in order (the result's Download button).
RECORD_DOWNLOAD_LABELS_JS = """
() => {
  window.hmLabels = [];
  const record = () => {
    const label = document.querySelector('#download')?.innerText;
    if (label && label !== window.hmLabels.at(-1)) window.hmLabels.push(label);
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true,
                                                      characterData: true});
}
"""
# No status tracker of the result column shows work in progress.
RESULT_SETTLED_JS = """
() => [...document.querySelectorAll('#image-result .wrap.full')]
        .every((tracker) => tracker.classList.contains('hide'))
"""


@pytest.mark.browser
@needs_chromium
def test_settings_changed_faster_than_results_end_on_the_last_choice(page, tmp_path):
    """Two settings changed one after the other on a large photo: the result shown last is
    the one for both changes. (Each setting had its own event, the two ran side by side, and
    the first change's slower PNG arrived after the second's JPEG and stayed.)"""
    large = tmp_path / "large.jpg"
    with Image.open(REPO_ROOT / "examples" / "grace_hopper.jpg") as photo:
        photo.resize((3000, 3500)).save(large, quality=90)
    page.locator("#photo input[type=file]").set_input_files(str(large))
    for _ in range(2):  # the old race lost about one time in two
        page.get_by_role("radio", name="transparent", exact=True).check()
        page.get_by_role("radio", name="PNG", exact=True).check()
        wait_for_text(page, "#download", "large-transparent.png", prop="innerText")
        page.wait_for_function(RESULT_SETTLED_JS, timeout=60_000)
        page.evaluate(RECORD_DOWNLOAD_LABELS_JS)
        page.get_by_role("radio", name="blur", exact=True).check()
        page.get_by_role("radio", name="JPEG", exact=True).check()
        last = "Download large-blur.jpg"
        page.wait_for_function(
            f"() => window.hmLabels.includes('{last}') && ({RESULT_SETTLED_JS})()",
            timeout=60_000,
        )
        # Room for a stale result to arrive, which the old race did about a second later
        # on this photo. (This pause cannot fail a page without the race: once the last
        # choice's result shows and nothing is pending, no other result comes.)
        page.wait_for_timeout(3_000)
        labels = page.evaluate("() => window.hmLabels")
        # The blur PNG made for the first change alone may show on the way, never after.
        assert labels[labels.index(last) :] == [last], labels


VIEWPORTS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_layout_puts_action_examples_and_results_first(browser_context, app, viewport):
    """At 1366x900 the photo, the examples and the result show without scrolling; on a
    phone each result comes right after its input (before the settings)."""
    width, height = VIEWPORTS[viewport]
    page = browser_context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(app.url, wait_until="domcontentloaded")
    page.wait_for_selector("#photo input[type=file]", state="attached", timeout=30_000)

    def top(selector: str) -> float:
        return page.locator(selector).first.bounding_box()["y"]

    def bottom(selector: str) -> float:
        box = page.locator(selector).first.bounding_box()
        return box["y"] + box["height"]

    try:
        page.locator("img[src*='astronaut']").first.wait_for(timeout=30_000)
        if viewport == "desktop":
            assert bottom("#photo") < height and bottom("img[src*='astronaut']") < height
            assert bottom("#before-after") < height
        assert top("#before-after") < top("#image-format")  # result before the settings
        page.screenshot(path=str(ARTIFACTS / f"layout-{viewport}-image.png"), full_page=True)
        page.get_by_role("tab", name="Webcam").click()
        page.locator("#network-size").wait_for(timeout=30_000)
        if page.locator("#camera").count() and page.locator("#camera").first.is_visible():
            assert top("#camera") < top("#live") < top("#network-size")
        page.screenshot(path=str(ARTIFACTS / f"layout-{viewport}-webcam.png"), full_page=True)
        page.get_by_role("tab", name="Video").click()
        if viewport == "desktop":
            assert bottom("#video-button") < height
        else:
            assert top("#video-input") < top("#video-button") < top("#video-result")
        page.screenshot(path=str(ARTIFACTS / f"layout-{viewport}-video.png"), full_page=True)
        text = page.locator("body").inner_text()
        for jargon in (
            "LikeUnet",
            "alpha >=",
            "HUMANMATTING_",
            "python -m",
            "humanmatting.hub.pull",
        ):
            assert jargon not in text, jargon
    finally:
        page.close()


@pytest.fixture(scope="module")
def landscape_photo(tmp_path_factory, photos) -> Path:
    """A 16:9 crop of a real photo (the phone's before/after box must fit it, no bands)."""
    path = tmp_path_factory.mktemp("landscape") / "landscape.jpg"
    crop = photos["grace_hopper"][40:328, :512]
    cv2.imwrite(str(path), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return path


def sized_page(browser_context, app, viewport: str):
    page = browser_context.new_page()
    page.set_viewport_size(dict(zip(("width", "height"), VIEWPORTS[viewport], strict=True)))
    page.goto(app.url, wait_until="domcontentloaded")
    page.wait_for_selector("#photo input[type=file]", state="attached", timeout=30_000)
    return page


def in_view(page, selector: str) -> bool:
    """Whether the element's top is inside the viewport now."""
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight; }",
        selector,
    )


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_image_results_checkerboard_and_refusals_in_place(
    browser_context, app, viewport, landscape_photo, tmp_path
):
    """The result comes into view (a phone scrolls to it) in a box of the photo's shape; the
    readout is in a visitor's words; a transparent result is shown over a checkerboard
    drawn inside the picture only; a refusal is said once, in place, with no result or
    download left from before, and the next result clears it."""
    page = sized_page(browser_context, app, viewport)
    shots = ARTIFACTS / f"page-{viewport}"
    try:
        page.locator("#photo input[type=file]").set_input_files(str(landscape_photo))
        wait_for_text(page, "#timing summary", " ms")
        summary = page.locator("#timing summary").inner_text()
        assert re.fullmatch(rf"{DEFAULT_MODEL}, \d+x\d+, \d+ ms", summary), summary
        page.wait_for_function(  # scrolled into view on a phone (a state, not a sleep)
            "(() => { const r = document.querySelector('#image-result').getBoundingClientRect();"
            " return r.top >= 0 && r.top < window.innerHeight * 0.5; })()",
            timeout=10_000,
        )
        page.locator("#timing summary").click()  # the details, on demand
        assert "network" in page.locator("#timing details p").inner_text()
        if viewport == "phone":  # no bands: the box takes the landscape photo's height
            box = page.locator("#before-after img").first.bounding_box()
            assert box["height"] == pytest.approx(box["width"] * 288 / 512, abs=3)
        page.screenshot(path=f"{shots}-1-result.png")

        page.get_by_label("transparent").check()
        wait_for_text(page, "#download", "landscape-transparent.png", prop="innerText")
        after = page.locator("#before-after img").nth(1)
        page.wait_for_function(
            "document.querySelectorAll('#before-after img')[1]?.src.endsWith('-preview.jpg')",
            timeout=30_000,
        )
        with urllib.request.urlopen(after.get_attribute("src")) as response:
            shown = cv2.imdecode(np.frombuffer(response.read(), np.uint8), cv2.IMREAD_COLOR)
        with page.expect_download() as download_info:
            page.locator("#download").click()
        saved = tmp_path / "cutout.png"
        download_info.value.save_as(saved)
        png = cv2.imread(str(saved), cv2.IMREAD_UNCHANGED)
        transparent = png[:, :, 3] == 0
        assert transparent.mean() > 0.05  # the photo's background is cut away
        # Where the PNG is transparent, the page shows the checkerboard's two greys.
        greys = shown[transparent].astype(int)
        spread = greys.max(axis=1) - greys.min(axis=1)  # 0 for grey (JPEG: a little more)
        assert np.median(spread) <= 2 and spread.mean() < 4, spread.mean()
        assert np.percentile(greys, 5) < 215 and np.percentile(greys, 95) > 240  # two greys
        # The page draws no checkerboard of its own (it filled letterboxes and opaque mattes).
        backgrounds = page.evaluate(
            "[...document.querySelectorAll('#before-after img, #matte img')]"
            ".map(i => getComputedStyle(i).backgroundImage)"
        )
        assert all("gradient" not in background for background in backgrounds), backgrounds
        page.locator("#before-after").scroll_into_view_if_needed()
        page.screenshot(path=f"{shots}-2-transparent.png")

        page.get_by_label("image", exact=True).first.check()
        wait_for_text(page, "#image-note", "needs a background picture")
        assert not page.locator("#download").is_visible()  # no stale file offered
        assert not page.locator("#before-after").is_visible()
        assert page.locator(".toast-body").count() == 0
        page.locator("#image-note").scroll_into_view_if_needed()
        page.screenshot(path=f"{shots}-3-no-background-picture.png")
        page.get_by_label("blur").first.check()
        wait_for_text(page, "#download", "landscape-blur.png", prop="innerText")
        assert page.locator("#image-note").inner_text().strip() == ""

        text = tmp_path / "holiday.jpg"
        text.write_text("not a picture\n")
        page.locator("#photo").get_by_role("button", name="Remove Image").click()
        page.locator("#photo input[type=file]").set_input_files(str(text))
        wait_for_text(page, "#image-note", "Cannot read holiday.jpg as an image")
        assert page.get_by_text("Cannot read holiday.jpg").count() == 1  # said once
        assert page.locator(".toast-body").count() == 0
        assert not page.locator("#download").is_visible()
        assert in_view(page, "#image-note")
        page.screenshot(path=f"{shots}-4-not-a-picture.png")
    finally:
        page.close()


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_video_refusals_in_place_and_progress_in_view(browser_context, app, viewport, long_video):
    """The progress shows where the visitor looks (a phone scrolls to it); a refusal is
    said under the button with no result, and a file that is no video in its info line,
    without asking about cameras; a new upload clears the last result. The clip is the
    600-frame one: lite0 matted the 20-frame clip before its progress reached the page."""
    page = sized_page(browser_context, app, viewport)
    shots = ARTIFACTS / f"page-{viewport}-video"
    try:
        page.get_by_role("tab", name="Video").click()
        page.locator("#video-input input[type=file]").set_input_files(str(long_video))
        page.locator("#video-preview img").wait_for(timeout=30_000)
        page.locator('input[type=radio][value="image"]:visible').check()
        page.get_by_role("button", name="Matte the video").click()
        wait_for_text(page, "#video-note", "needs a background picture")
        assert page.locator(".toast-body").count() == 0
        assert page.locator("#video-result video").count() == 0
        page.screenshot(path=f"{shots}-1-no-background-picture.png")

        page.locator('input[type=radio][value="blur"]:visible').check()
        page.get_by_role("button", name="Matte the video").click()
        # The progress, frames done of all, inside the viewport while it runs.
        page.wait_for_function(
            "(() => { const e = document.querySelector('#video-result');"
            " const r = e.getBoundingClientRect();"
            " return /\\d+\\/600 frames/.test(e.innerText)"
            " && r.top >= 0 && r.bottom <= window.innerHeight; })()",
            timeout=60_000,
            polling=50,
        )
        page.screenshot(path=f"{shots}-2-progress.png")
        page.locator("#video-result video").wait_for(timeout=VIDEO_ANSWER_MS)
        assert page.locator(VIDEO_NOTE).inner_text().strip() == ""

        broken = long_video.with_name("broken.mp4")
        broken.write_bytes(b"\0" * 5000)
        page.locator("#video-input").get_by_role("button", name="Clear").click()
        page.locator("#video-input input[type=file]").set_input_files(str(broken))
        wait_for_text(page, "#video-info", "Cannot open video broken.mp4; is it a valid video?")
        assert "camera" not in page.locator("#video-info").inner_text()
        assert page.locator("#video-result video").count() == 0  # the last result went
        assert page.locator(".toast-body").count() == 0
        page.screenshot(path=f"{shots}-3-not-a-video.png")
    finally:
        page.close()


@pytest.mark.browser
@needs_chromium
def test_a_broken_upload_shows_the_reason_and_the_next_photo_works(
    page, grace_hopper_path, tmp_path
):
    broken = tmp_path / "holiday.jpg"
    broken.write_text("not a picture\n")
    page.locator("#photo input[type=file]").set_input_files(str(broken))
    wait_for_text(page, "#image-note", "holiday.jpg")
    message = page.locator("#image-note").inner_text()
    assert "Cannot read holiday.jpg as an image" in message and "/tmp" not in message
    page.screenshot(path=str(ARTIFACTS / "image-tab-error.png"))
    page.locator("#photo").get_by_role("button", name="Remove Image").click()
    page.locator("#photo input[type=file]").set_input_files(str(grace_hopper_path))
    wait_for_text(page, "#timing", "512x600 photo")
    # The note clears with the result; on a loaded machine Gradio may still show the
    # progress of the removal's event on it for a moment: wait for the state, not a time.
    page.wait_for_function(
        "() => document.querySelector('#image-note')?.innerText.trim() === ''", timeout=60_000
    )


@pytest.mark.browser
@needs_chromium
def test_example_photo_and_compare_models_show_every_available_model(page):
    page.locator("img[src*='astronaut']").first.click()  # the shipped example
    wait_for_text(page, "#timing", "512x512 photo")
    page.get_by_text("Compare models").click()
    page.get_by_role("button", name="Run every available model on the photo").click()
    page.wait_for_function("document.querySelectorAll('#compare img').length >= 3", timeout=60_000)
    captions = page.locator("#compare").inner_text()
    for name in MODEL_SPECS:
        assert re.search(rf"{name}: [\d.]+ ms", captions), captions
    # Mattes shown whole (not cropped), captions visible.
    assert page.locator("#compare img").first.evaluate("i => getComputedStyle(i).objectFit") == (
        "contain"
    )
    page.locator("#compare").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "compare-models.png"), full_page=True)
    # Another photo: the mattes compared were the astronaut's, and they go.
    page.locator("img[src*='grace_hopper']").first.click()
    wait_for_text(page, "#timing", "512x600 photo")
    page.wait_for_function("document.querySelectorAll('#compare img').length === 0")


@pytest.mark.browser
@needs_chromium
def test_webcam_streams_processed_frames_with_a_live_rate(page):
    page.get_by_role("tab", name="Webcam").click()
    # The server's stream (in-browser matting, the default once web/ is built, has its own
    # tests: tests/app/test_browser_camera.py).
    on_the_server = page.locator('#webcam-where input[value="server"]')
    if not on_the_server.is_checked():
        on_the_server.click()
    # The note says where frames go: to the server (not "no frame leaves this device").
    wait_for_text(page, "#webcam-note", "matted on the server")
    assert "no frame leaves" not in page.locator("#webcam-note").inner_text()
    page.locator("#camera").get_by_text("Click to Access Webcam").click()
    start = page.locator("#camera").get_by_role("button", name="capture photo")
    start.wait_for(timeout=30_000)
    assert start.inner_text().strip() == "Start"  # not Gradio's "Record"
    start.click()
    readout = textbox(page, "readout")
    wait_for_text(page, "#readout textarea", "frames/s", prop="value")
    # Five new frames, each seen as it arrives (waiting on the page's state, not on a fixed
    # second: on a loaded machine two frames may come more than a second apart).
    samples = []
    deadline = time.perf_counter() + 90
    while len(samples) < 5 and time.perf_counter() < deadline:
        page.wait_for_timeout(300)
        text = readout.input_value()
        source = page.locator("#live img").get_attribute("src")
        frame = int(re.search(r"frame (\d+)", text).group(1))
        rate = float(re.search(r"([\d.]+) frames/s", text).group(1))
        if not samples or frame > samples[-1][1]:
            samples.append((time.perf_counter(), frame, rate, source))
    assert len(samples) == 5, f"only {len(samples)} new frames in 90 s: {samples}"
    page.screenshot(path=str(ARTIFACTS / "webcam-tab.png"), full_page=True)
    page.locator("#camera").get_by_role("button", name="capture photo").click()  # stop
    # A stopped camera has no frame rate: the last one's readout goes.
    wait_for_text(page, "#readout textarea", "Stopped", prop="value")
    page.screenshot(path=str(ARTIFACTS / "webcam-stopped.png"), full_page=True)

    frames = [frame for _, frame, _, _ in samples]
    rates = [rate for _, _, rate, _ in samples]
    assert (np.diff(frames) > 0).all(), frames  # frames keep arriving
    assert len({source for *_, source in samples}) == len(samples)  # new pictures arrive
    assert min(rates) > 0 and len(set(rates)) > 1, rates  # the readout updates
    measured = (frames[-1] - frames[0]) / (samples[-1][0] - samples[0][0])
    (ARTIFACTS / "webcam-rate.txt").write_text(
        f"frames/s seen by the page: {measured:.1f}; readouts: {rates}\n"
    )
    print(f"webcam: {measured:.1f} processed frames/s reached the page; readouts {rates}")


def make_video(path: Path, photo: np.ndarray, frames: int = 20, fps: float = 10) -> Path:
    """A pan over a real photo (back and forth every 20 frames), as MPEG-4 Part 2 (OpenCV's
    mp4v): an ordinary .mp4 that browsers cannot preview (the app must neither fail nor
    show an error)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    for index in range(frames):
        step = index % 40 if index % 40 < 20 else 39 - index % 40
        crop = photo[40 + 4 * step : 440 + 4 * step, :512]
        writer.write(cv2.cvtColor(cv2.resize(crop, (320, 240)), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def short_video(tmp_path_factory, photos) -> Path:
    """Not playable in browsers: the app must still read it (OpenCV does)."""
    return make_video(tmp_path_factory.mktemp("video") / "pan.mp4", photos["grace_hopper"])


@pytest.fixture(scope="module")
def long_video(tmp_path_factory, photos) -> Path:
    """600 frames: seconds of work on any CPU, so Gradio's progress messages (sent every
    0.1 s while a job runs) reach the page; a 20-frame clip can finish before the first."""
    folder = tmp_path_factory.mktemp("long-video")
    return make_video(folder / "long.mp4", photos["grace_hopper"], frames=600, fps=30)


# A bound, not a wait: a 2 s clip takes seconds; this only ends a test whose server hangs.
VIDEO_ANSWER_MS = 600_000
# The note's text itself: the block around it also holds Gradio's status (a timer while an
# event that writes the note runs), which is not the server's answer.
VIDEO_NOTE = "#video-note [data-testid=markdown]"
PROGRESS_RECORDER_JS = """() => {
  window.hmVideoProgress = [];
  new MutationObserver(() => {
    const text = document.querySelector('#video-result')?.innerText || '';
    const shown = text.match(/\\d+\\/\\d+ frames/);
    if (shown) window.hmVideoProgress.push(shown[0]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.mark.browser
@needs_chromium
def test_video_tab_returns_a_video_the_browser_plays(page, short_video, tmp_path):
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(short_video))
    page.locator("#video-preview img").wait_for(timeout=30_000)  # the first frame
    assert "pan.mp4" in page.locator("#video-info").inner_text()
    page.get_by_role("button", name="Matte the video").click()
    # The result (readyState >= 2: Chromium decoded a frame, so the format is one browsers
    # play), or the refusal in the note: whichever the server answers. What the played
    # video says is read in the same step: Gradio may mount a new <video> for the same
    # result just after, and a second query can fall between the two.
    answer = page.wait_for_function(
        "(() => { const v = document.querySelector('#video-result video');"
        f" const note = document.querySelector('{VIDEO_NOTE}')?.innerText || '';"
        " if (v && v.readyState >= 2 && v.videoWidth === 320)"
        "   return {duration: v.duration, src: v.getAttribute('src')};"
        " return note.trim() !== '' ? {note: note.trim()} : null; })()",
        timeout=VIDEO_ANSWER_MS,
    ).json_value()
    assert "note" not in answer, answer["note"]
    assert answer["duration"] == pytest.approx(2.0, abs=0.25)
    assert answer["src"].endswith("pan-blur.mp4")
    assert page.locator(".toast-body").count() == 0  # no "Video not playable"
    result = page.locator("#video-result video")
    result.wait_for(timeout=30_000)  # still shown, in whichever <video> Gradio mounted
    page.screenshot(path=str(ARTIFACTS / "video-tab.png"), full_page=True)

    saved = tmp_path / "result.mp4"
    urllib.request.urlretrieve(answer["src"], saved)
    capture = cv2.VideoCapture(str(saved))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 20


@pytest.mark.browser
@needs_chromium
def test_another_upload_stops_the_last_video_and_gets_its_own_result(
    page, app, long_video, short_video
):
    """A visitor who clears a video being matted and uploads another sees no result of the
    first beside the second (it used to arrive there seconds later), and the first's work
    stops; the second is matted as usual."""
    stopped_before = app.log().count("stopped a video after")
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(long_video))
    page.locator("#video-preview img").wait_for(timeout=30_000)
    page.get_by_role("button", name="Matte the video").click()
    wait_for_text(page, "#video-result", "/600 frames", prop="innerText")
    page.locator("#video-input button[aria-label=Clear]").click()
    page.locator("#video-input input[type=file]").set_input_files(str(short_video))
    wait_for_text(page, "#video-info", "pan.mp4", prop="innerText")
    deadline = time.monotonic() + 60  # a bound on the server, not a wait for the page
    while app.log().count("stopped a video after") == stopped_before:
        assert time.monotonic() < deadline, app.log()[-2000:]
        time.sleep(0.2)
    # The first video's matting is over (stopped): nothing of it reached the page.
    page.wait_for_function(
        "() => !/frames/.test(document.querySelector('#video-result')?.innerText ?? 'frames')",
        timeout=VIDEO_ANSWER_MS,
    )
    assert page.locator("#video-result video").count() == 0
    assert page.locator(VIDEO_NOTE).inner_text().strip() == ""
    page.get_by_role("button", name="Matte the video").click()
    src = page.wait_for_function(
        "() => document.querySelector('#video-result video')?.getAttribute('src')",
        timeout=VIDEO_ANSWER_MS,
    ).json_value()
    assert src.endswith("pan-blur.mp4"), src


@pytest.mark.browser
@needs_chromium
def test_a_long_video_shows_frames_done_of_frames_total(page, long_video):
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(long_video))
    page.locator("#video-preview img").wait_for(timeout=30_000)
    # Every progress text the result shows is recorded as the page changes (not polled:
    # on a fast machine the bar comes and goes between two polls, on a loaded one it comes
    # late), so the test waits on the result itself, however long the machine takes.
    page.evaluate(PROGRESS_RECORDER_JS)
    page.get_by_role("button", name="Matte the video").click()
    page.wait_for_function(
        "(() => { const v = document.querySelector('#video-result video');"
        f" const note = document.querySelector('{VIDEO_NOTE}')?.innerText || '';"
        " return (v && v.readyState >= 2) || note.trim() !== ''; })()",
        timeout=VIDEO_ANSWER_MS,
    )
    assert page.locator(VIDEO_NOTE).inner_text().strip() == ""
    shown = page.evaluate("window.hmVideoProgress")
    assert shown, "no progress bar while 600 frames were matted"
    done = [int(text.split("/")[0]) for text in shown]
    assert all(text.endswith("/600 frames") for text in shown), shown
    assert done == sorted(done) and 0 < done[-1] <= 600, shown


def test_api_with_gradio_client(app, grace_hopper_path, short_video, tmp_path):
    client = api_client(app.url, tmp_path)
    handle_file = gradio_client.handle_file

    models = client.predict(api_name="/models")
    assert sorted(models["available"]) == sorted(MODEL_SPECS) and models["unavailable"] == {}

    cutout, composite, matte, summary = client.predict(
        handle_file(str(grace_hopper_path)),
        model="dark-light",
        background="blur",
        api_name="/matte",
    )
    assert Path(cutout).name == "grace_hopper-transparent.png"
    assert Path(composite).name == "grace_hopper-blur.png"
    rgb = load_rgb(grace_hopper_path)
    with Image.open(cutout) as png:
        assert png.mode == "RGBA" and png.size == (rgb.shape[1], rgb.shape[0])
    with Image.open(composite) as picture:
        assert picture.mode == "RGB" and picture.size == (rgb.shape[1], rgb.shape[0])
    with Image.open(matte) as picture:
        assert picture.size == (rgb.shape[1], rgb.shape[0])
    assert re.search(r"model [\d.]+ ms, total [\d.]+ ms", summary)

    gallery = client.predict(handle_file(str(grace_hopper_path)), api_name="/compare")
    assert [item["caption"].split(":")[0] for item in gallery] == list(MODEL_SPECS)

    video = client.predict(  # smoothing=True: what the former "Steady edges" box sent
        handle_file(str(short_video)), background="matte", smoothing=True, api_name="/matte_video"
    )
    assert Path(video).name == "pan-matte.mp4" and cv2.VideoCapture(video).read()[0]
    # Gradio's video payload, as its documentation shows it, is accepted too.
    video = client.predict({"video": handle_file(str(short_video))}, api_name="/matte_video")
    assert Path(video).name == "pan-blur.mp4" and cv2.VideoCapture(video).read()[0]
    # Refused choices: one line in the log, no traceback, no server path in any answer.
    for choice in ({"model": "nope"}, {"background": "green"}):
        with pytest.raises(gradio_client.exceptions.AppError, match="Unknown .* choose one of"):
            client.predict(handle_file(str(grace_hopper_path)), api_name="/matte", **choice)
    log = app.log()
    assert "refused a request: Unknown model 'nope'; choose one of" in log
    assert "refused a request: Unknown background 'green'; choose one of" in log
    assert "Traceback" not in log
    assert "/tmp" not in json.dumps(models) and str(Path.home()) not in json.dumps(models)

    # Over the pixel limit: the person gets the library's message, not a stack trace.
    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 6000)).save(huge)
    with pytest.raises(gradio_client.exceptions.AppError, match="huge.png is 8000x6000 = 48,"):
        client.predict(handle_file(str(huge)), api_name="/matte")


def test_the_start_says_one_line_per_model_and_no_share_hint(app):
    deadline = time.monotonic() + 30  # the serving line comes once launch() has returned
    while "serving http" not in app.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = app.log()
    served = re.findall(r"^model (\S+): ", log, flags=re.MULTILINE)
    assert sorted(served) == sorted(MODEL_SPECS), log
    assert "share=True" not in log and "unavailable" not in log and "to get " not in log
    assert re.search(r"serving http://127\.0\.0\.1:\d+/ ", log), log


def test_nothing_left_loopback_and_no_tensorflow(app, browser_requests):
    """Runs last: covers the start-up and everything the tests above made the app do."""
    external = [
        url
        for url in browser_requests
        if not url.startswith(("http://127.0.0.1:", "data:", "blob:"))
    ]
    assert external == []
    events = app.audit_events()
    assert [event for event in events if event["event"] in ("connect", "getaddrinfo")] == []
    assert [event for event in events if event["event"] == "import"] == [], "TF imported"
    assert app.process.poll() is None, app.log()
