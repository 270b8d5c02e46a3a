"""The Webcam tab's in-browser matting (web/), driven in headless Chromium with real photos
as the camera (harness/fake_camera.py).

One app process serves the shipped models (night, dark, dark-light, lite0: real weights, so the
mattes have people in them). The page must run them itself: no frame in any request, the
server's CPU idle, and the same matte as the server's for the same frame. Where it cannot
(no WebAssembly SIMD, a model that does not load, no build), the tab falls back to the
server's stream. Screenshots and figures go to test-artifacts/ (look at them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest
from playwright.sync_api import sync_playwright

from harness.app_harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    clean_env,
    cpu_seconds,
    launch_app,
    wait_for_text,
    wait_until_camera_ready,
)
from harness.fake_camera import as_frame, shared_test_photos, write_y4m
from humanmatting import compose
from humanmatting.app.browser import CAMERA_REFINEMENT
from humanmatting.preprocess import ASPECT_PRESETS, load_rgb
from humanmatting.runtime import load_matter, tflite_file
from humanmatting.video import DEFAULT_SMOOTHING
from humanmatting.weights import PACKAGED_WEIGHTS_DIR

WEB_DIST = REPO_ROOT / "web" / "dist"
MODELS = ("night", "dark", "dark-light", "lite0")
STREAM_S = 20
# Gradio's own requests a page may make while it streams: none carries a frame.
QUIET_PATHS = ("/gradio_api/heartbeat/",)


def _skip_reason() -> str | None:
    if not (WEB_DIST / "webcam.js").is_file():
        return "web/dist is not built (cd web && npm ci && npm run build; .ci/run does it)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not installed (apt-get install chromium)"
    return None


# Every test here starts an app (10-30 s); the page's own are marked browser too.
pytestmark = pytest.mark.slow

# The page's tests need the JS build and Chromium; the server's side runs without them.
needs_build = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


@pytest.fixture(scope="module")
def camera_photos() -> list[np.ndarray]:
    """The camera's frames: the repository's example photos and, where ../shared has
    them, a few photos of EG1800's test split."""
    paths = sorted((REPO_ROOT / "examples").glob("*.jpg")) + shared_test_photos(3)
    return [as_frame(load_rgb(path)) for path in paths]


@pytest.fixture(scope="module")
def camera_file(camera_photos, tmp_path_factory) -> Path:
    # Each photo for 1.5 s at 30 frames/s, then the next; Chromium loops the file.
    return write_y4m(tmp_path_factory.mktemp("camera") / "camera.y4m", camera_photos, 45)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app with the models shipped in the package (no --weights, an empty HF cache)."""
    workdir = tmp_path_factory.mktemp("browser-camera-app")
    env = clean_env(PYTHONPATH=str(REPO_ROOT), HF_HOME=str(workdir / "hf-home"))
    with launch_app(REPO_ROOT / "app.py", workdir, [], env) as running:
        yield running


@pytest.fixture(scope="module")
def browser(camera_file):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera_file}"],
            headless=True,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, permissions=["camera"])
    yield context
    context.close()


def open_webcam_tab(context, app):
    page = context.new_page()
    page.set_default_timeout(120_000)  # screenshots of a streaming page on a busy machine
    page.goto(app.url, wait_until="domcontentloaded")
    page.get_by_role("tab", name="Webcam").click()
    return page


def server_fallback_note(page, timeout_ms: int) -> str:
    """Waits for the tab to fall back to the server's stream; checks that the server is
    chosen and its camera shown, and returns the tab's one-line note."""
    wait_for_text(page, "#webcam-note", "matted on the server", timeout_ms=timeout_ms)
    assert page.locator('#webcam-where input[value="server"]').is_checked()
    page.locator("#camera").wait_for(state="visible", timeout=30_000)
    return page.locator("#webcam-note").inner_text()


def start_camera(page, frames: int = 3) -> None:
    page.locator("#browser-camera .hm-start").click()
    wait_for_frames(page, frames)


def wait_for_frames(page, frames: int) -> None:
    page.wait_for_function(
        f"window.humanmattingWebcam?.stats().frames >= {frames}", timeout=120_000
    )


def frames_done(page) -> int:
    return page.evaluate("window.humanmattingWebcam.stats().frames")


def decode_png(data_url: str) -> np.ndarray:
    png = base64.b64decode(data_url.split(",", 1)[1])
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def snapshot(page) -> dict:
    """The last frame the page matted (RGB, mirrored as Gradio mirrors the server's
    stream), its matte at the frame's size and what the page shows for it (RGB)."""
    shot = page.evaluate("window.humanmattingWebcam.snapshot()")
    shot["rgb"], shot["shown"] = decode_png(shot["frame"]), decode_png(shot["shown"])
    alpha = np.frombuffer(base64.b64decode(shot["alpha"]), np.float32)
    shot["alpha"] = alpha.reshape(shot["height"], shot["width"])
    return shot


def configure(page, **settings) -> None:
    """Change settings through the page's own API (the tab's controls call it too)."""
    before = frames_done(page)
    page.evaluate("(s) => window.humanmattingWebcam.configure(s)", settings)
    wait_for_frames(page, before + 3)  # frames matted with the new settings


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def test_camera_json_and_the_model_files_are_the_servers(app):
    with urllib.request.urlopen(app.url + "humanmatting/camera.json") as response:
        config = json.load(response)
    assert sorted(config["models"]) == sorted(MODELS) and config["default_model"] == "lite0"
    assert [(ratio, (h, w)) for ratio, h, w in config["presets"]] == list(ASPECT_PRESETS.items())
    assert config["fixed_signature"].format(height=192, width=256) == "static_192x256"
    for name, model in config["models"].items():
        path, variant = tflite_file(name, PACKAGED_WEIGHTS_DIR / name)
        url = app.url + "humanmatting/" + model["url"]
        with urllib.request.urlopen(url) as response:
            content = response.read()
        expected = path.read_bytes()  # the very file the server's LiteRT runs
        assert hashlib.sha256(content).hexdigest() == model["sha256"]
        assert content == expected and model["variant"] == variant
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(app.url + "humanmatting/models/..%2Fapp.tflite")
    assert missing.value.code == 404


@pytest.mark.browser
@needs_build
def test_streams_in_the_browser_and_no_frame_reaches_the_server(context, app):
    """20 s of streaming: frames/s in the page, every request recorded, the server's CPU."""
    page = open_webcam_tab(context, app)
    wait_until_camera_ready(page)
    assert "matted in this browser" in page.locator("#webcam-note").inner_text()
    assert not page.locator("#camera").is_visible()  # the server's stream is not in use
    requests, sockets = [], []
    page.on("request", lambda request: requests.append(request))
    page.on("websocket", lambda socket: sockets.append(socket.url))
    # The server's own CPU use with the page open and idle (Gradio's loops, the heap
    # trimmer): the baseline for the streaming period.
    server = psutil.Process(app.process.pid)
    idle_before, idle_started = cpu_seconds([server]), time.perf_counter()
    page.wait_for_timeout(10_000)
    idle_cpu_s = cpu_seconds([server]) - idle_before
    idle_s = time.perf_counter() - idle_started
    cpu_before = cpu_seconds([server])
    started = time.perf_counter()
    start_camera(page, frames=1)
    samples = []
    while time.perf_counter() - started < STREAM_S:
        page.wait_for_timeout(2000)
        samples.append(page.locator("#browser-camera .hm-readout").inner_text())
    elapsed = time.perf_counter() - started
    server_cpu_s = cpu_seconds([server]) - cpu_before
    stats = page.evaluate("window.humanmattingWebcam.stats()")
    page.screenshot(path=str(ARTIFACTS / "webcam-browser.png"), full_page=True)
    shown = snapshot(page)["shown"]
    page.locator("#browser-camera .hm-start").click()  # stop

    log = [
        f"{request.method} {request.url.replace(app.url, '/')} "
        f"body={len(request.post_data_buffer or b'')}"
        for request in requests
    ]
    with_body = [request for request in requests if request.post_data_buffer]
    to_queue = [
        request for request in requests if "/queue/" in request.url or "/upload" in request.url
    ]
    not_quiet = [line for line in log if not any(path in line for path in QUIET_PATHS)]
    frames = [int(re.search(r"frame (\d+)", text).group(1)) for text in samples]
    rates = [float(re.search(r"([\d.]+) frames/s", text).group(1)) for text in samples]
    (ARTIFACTS / "webcam-browser-requests.txt").write_text(
        f"{len(requests)} requests in {elapsed:.1f} s of in-browser streaming, "
        f"{len(with_body)} with a body, {len(to_queue)} to the queue or uploads, "
        f"{len(sockets)} websockets; server CPU {server_cpu_s:.2f} s while streaming, "
        f"{idle_cpu_s:.2f} s in {idle_s:.1f} s idle before; "
        f"{stats['frames']} frames matted, {stats['frames_per_second']:.1f} frames/s at the end\n"
        + "\n".join(log)
        + "\nreadouts:\n"
        + "\n".join(samples)
        + "\n"
    )
    print(
        f"in-browser camera: {stats}; server CPU {server_cpu_s:.2f} s in {elapsed:.1f} s "
        f"streaming, {idle_cpu_s:.2f} s in {idle_s:.1f} s idle"
    )

    assert with_body == [] and to_queue == [] and sockets == []
    assert not_quiet == [], not_quiet  # nothing but Gradio's heartbeat
    # No more than idle (the server's stream: a core's worth, 15-20 s CPU in 20 s).
    idle_share = idle_cpu_s / idle_s
    assert server_cpu_s < 1.5 * idle_share * elapsed + 0.3, (server_cpu_s, idle_cpu_s)
    assert (np.diff(frames) > 0).all(), frames  # frames keep being matted, every 2 s
    assert min(rates) > 0 and stats["frames"] > 2 * STREAM_S / 10  # > 0.2 frames/s at worst
    assert shown.std() > 10  # a picture, not a blank canvas


def distinct_snapshots(page, name: str, count: int = 3, timeout_s: float = 60) -> list[dict]:
    """Snapshots of `count` different camera frames matted by model `name`."""
    shots, seen = [], set()
    deadline = time.monotonic() + timeout_s
    while len(shots) < count and time.monotonic() < deadline:
        shot = snapshot(page)
        key = hashlib.sha256(shot["rgb"].tobytes()).hexdigest()
        if key in seen or shot["model"] != name:
            page.wait_for_timeout(300)
            continue
        seen.add(key)
        shots.append(shot)
        page.wait_for_timeout(700)  # the camera moves on to another photo
    assert len(shots) >= count, f"{name}: only {len(shots)} distinct frames"
    return shots


def agreement(shots: list[dict], expected: list[np.ndarray]) -> tuple[list[float], float]:
    pairs = list(zip(shots, expected, strict=True))
    ious = [iou(shot["alpha"] >= 0.5, alpha >= 0.5) for shot, alpha in pairs]
    difference = max(float(np.abs(shot["alpha"] - alpha).mean()) for shot, alpha in pairs)
    return ious, difference


@pytest.mark.browser
@needs_build
@pytest.mark.parametrize("long_side", [512, 256], ids=["fixed-shape-graph", "any-size-graph"])
def test_the_browsers_matte_equals_the_servers(context, app, long_side):
    """Each model on several frames of real photos: the frame the page matted, matted by
    the server's own code at the same network size, as its camera stream does
    (stream.StreamSession: Matter.predict with the "fast" refinement); and with the
    page's "Refine edges" cleared, the network's matte (Matter.predict, refine=False)."""
    page = open_webcam_tab(context, app)
    wait_until_camera_ready(page)
    start_camera(page)
    lines = []
    for name in MODELS:
        configure(page, model=name, size=long_side, smoothing=0)
        matter = load_matter(name, PACKAGED_WEIGHTS_DIR / name, download=False)
        shots = distinct_snapshots(page, name)
        assert all(shot["refined"] for shot in shots)
        stream = [
            matter.predict(shot["rgb"], long_side=long_side, quality=CAMERA_REFINEMENT).alpha
            for shot in shots
        ]
        ious, difference = agreement(shots, stream)
        size = "x".join(str(side) for side in reversed(shots[0]["network"]))
        lines.append(
            f"{name} at long side {long_side} (network {size}, {shots[0]['signature']}), "
            f"{len(shots)} frames: IoU with the server's stream matte "
            f"{', '.join(f'{value:.4f}' for value in ious)}, mean |difference| "
            f"{difference:.1e} at most"
        )
        assert min(ious) >= 0.99 and difference < 0.01, lines[-1]
    page.locator("#browser-camera .hm-refine input").uncheck()
    configure(page, model="dark-light")
    shots = distinct_snapshots(page, "dark-light")
    assert not any(shot["refined"] for shot in shots)
    matter = load_matter("dark-light", PACKAGED_WEIGHTS_DIR / "dark-light", download=False)
    network = [matter.predict(s["rgb"], long_side=long_side, refine=False).alpha for s in shots]
    ious, difference = agreement(shots, network)
    lines.append(
        f"dark-light at long side {long_side}, edges not refined, {len(shots)} frames: IoU "
        f"with the server's network matte {', '.join(f'{value:.4f}' for value in ious)}, "
        f"mean |difference| {difference:.1e} at most"
    )
    assert min(ious) >= 0.99 and difference < 0.01, lines[-1]
    page.locator("#browser-camera .hm-start").click()
    with open(ARTIFACTS / "webcam-agreement.txt", "a") as report:
        report.write("\n".join(lines) + "\n")
    print("\n".join(lines))


@pytest.mark.browser
@needs_build
def test_backgrounds_are_composed_like_the_servers(context, app):
    """matte, colour and blur on the page's canvas against humanmatting.compose on the
    same frame and matte: the plain blend (the page does not estimate the person's colours
    in the soft edge, which compose does by default: foreground_colors)."""
    page = open_webcam_tab(context, app)
    wait_until_camera_ready(page)
    start_camera(page)
    configure(page, model="dark-light", size=320, smoothing=0, background="matte")
    shot = snapshot(page)
    shown = shot["shown"]
    expected = compose.matte_picture(shot["alpha"])
    assert np.abs(shown[:, :, 0].astype(int) - expected).mean() < 2.0
    page.screenshot(path=str(ARTIFACTS / "webcam-browser-matte.png"), full_page=True)

    configure(page, background="color", color="#00b140")
    shot = snapshot(page)
    shown = shot["shown"]
    expected = compose.replace_background(
        shot["rgb"], shot["alpha"], "#00b140", foreground_colors=False
    )
    assert np.abs(shown.astype(int) - expected).mean() < 2.0
    person, background = shot["alpha"] > 0.99, shot["alpha"] < 0.01
    assert person.mean() > 0.05 and background.mean() > 0.05  # a person in front of a backdrop
    # The backdrop's colour, with at most 1% of the frame (alpha < 0.01) through.
    assert np.abs(shown[background].astype(int) - (0, 177, 64)).max() <= 3

    configure(page, background="blur", blur=15)
    shot = snapshot(page)
    shown = shot["shown"]
    expected = compose.blur_background(shot["rgb"], shot["alpha"], 15, foreground_colors=False)
    assert np.abs(shown.astype(int) - expected).mean() < 4.0  # canvas blur vs OpenCV's
    person = shot["alpha"] > 0.99
    assert np.abs(shown[person].astype(int) - shot["rgb"][person]).mean() < 1.0
    page.locator("#browser-camera .hm-start").click()


@pytest.mark.browser
@needs_build
def test_the_note_says_where_frames_go_and_a_stopped_camera_shows_no_rate(context, app):
    """The note follows the choice (a server stream is never called private), the readout
    drops the last frames/s on Stop, and LiteRT.js's own information lines are not
    logged as console errors."""
    page = open_webcam_tab(context, app)
    console = []
    page.on("console", lambda message: console.append((message.type, message.text)))
    wait_until_camera_ready(page)
    assert "matted in this browser" in page.locator("#webcam-note").inner_text()
    page.locator('#webcam-where input[value="server"]').click()
    wait_for_text(page, "#webcam-note", "matted on the server")
    assert "no frame leaves" not in page.locator("#webcam-note").inner_text()
    page.screenshot(path=str(ARTIFACTS / "webcam-note-server.png"), full_page=True)
    page.locator('#webcam-where input[value="browser"]').click()
    wait_for_text(page, "#webcam-note", "matted in this browser")
    start_camera(page)
    assert "frames/s" in page.locator("#browser-camera .hm-readout").inner_text()
    page.locator("#browser-camera .hm-start").click()  # stop
    wait_for_text(page, "#browser-camera .hm-readout", "Ready: press Start the camera.")
    page.screenshot(path=str(ARTIFACTS / "webcam-browser-stopped.png"), full_page=True)
    litert = [(kind, text) for kind, text in console if text.startswith(("INFO: ", "WARNING: "))]
    assert litert, console  # LiteRT.js said something (else this check could not fail)
    assert [line for line in litert if line[0] == "error"] == [], litert


@pytest.mark.browser
@needs_build
def test_the_tabs_controls_reach_the_page_without_a_request(context, app):
    page = open_webcam_tab(context, app)
    wait_until_camera_ready(page)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    tab = page.locator("[role=tabpanel]:visible")
    smoothing = tab.get_by_label("range slider for Smoothing")
    page.wait_for_function(  # the slider's default, the library's
        f"window.humanmattingWebcam?.settings.smoothing === {DEFAULT_SMOOTHING}", timeout=10_000
    )
    tab.get_by_text("matte", exact=True).click()
    tab.get_by_text("hard", exact=True).click()
    smoothing.fill("0")
    page.wait_for_function(
        "window.humanmattingWebcam?.settings.background === 'matte'"
        " && window.humanmattingWebcam?.settings.edges === 'hard'"
        " && window.humanmattingWebcam?.settings.smoothing === 0",
        timeout=10_000,
    )
    start_camera(page)
    shown = snapshot(page)["shown"]
    assert page.evaluate("window.humanmattingWebcam.smoother.state === null")  # 0: none kept
    gray = shown[:, :, 0]
    assert (gray <= 10).mean() > 0.05 and (gray >= 245).mean() > 0.05
    assert ((gray > 10) & (gray < 245)).mean() < 0.03  # hard edges: grey only where scaled
    smoothing.fill("0.7")  # the number is the smoother's: the new frame's share is 0.3
    page.wait_for_function("window.humanmattingWebcam?.settings.smoothing === 0.7")
    wait_for_frames(page, frames_done(page) + 2)
    weight, kept = page.evaluate(
        "[window.humanmattingWebcam.smoother.weight,"
        " window.humanmattingWebcam.smoother.state !== null]"
    )
    assert weight == pytest.approx(0.3) and kept
    page.locator("#browser-camera .hm-start").click()
    sent = [url for url in requests if url.startswith(app.url + "gradio_api/queue")]
    assert sent == []  # settings reach the page's camera in the page


@pytest.mark.browser
@needs_build
def test_falls_back_to_the_server_without_webassembly_simd(context, app):
    context.add_init_script("WebAssembly.validate = () => false;")
    page = open_webcam_tab(context, app)
    note = server_fallback_note(page, timeout_ms=60_000)
    assert note == (
        "In-browser matting is not available (this browser has no WebAssembly SIMD); "
        "the camera is matted on the server instead."
    )
    assert not page.locator("#browser-camera").is_visible()
    # Today's server stream works from here.
    page.locator("#camera").get_by_text("Click to Access Webcam").click()
    page.locator("#camera").get_by_role("button", name="capture photo").click()
    wait_for_text(page, "#readout textarea", "frames/s", prop="value", timeout_ms=120_000)
    page.screenshot(path=str(ARTIFACTS / "webcam-fallback-no-simd.png"), full_page=True)
    page.locator("#camera").get_by_role("button", name="capture photo").click()  # stop


@pytest.mark.browser
@needs_build
def test_falls_back_to_the_server_when_the_model_does_not_load(context, app):
    context.route(
        "**/humanmatting/models/*.tflite",
        lambda route: route.fulfill(status=200, body=b"TFL3 but not a model" * 100),
    )
    page = open_webcam_tab(context, app)
    note = server_fallback_note(page, timeout_ms=120_000)
    assert note.startswith("In-browser matting is not available (") and "\n" not in note
    page.screenshot(path=str(ARTIFACTS / "webcam-fallback-model.png"), full_page=True)


def test_without_a_build_the_app_starts_and_streams_from_the_server(tmp_path):
    """app.py beside no web/dist (as a checkout where npm never ran): the page offers the
    server's stream only, and says why in one line."""
    shutil.copy2(REPO_ROOT / "app.py", tmp_path / "app.py")
    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples")
    env = clean_env(PYTHONPATH=str(REPO_ROOT), HF_HOME=str(tmp_path / "hf-home"))
    with launch_app(tmp_path / "app.py", tmp_path / "run", [], env) as running:
        with urllib.request.urlopen(running.url + "config") as response:
            config = json.load(response)
        where = next(c for c in config["components"] if c["props"].get("elem_id") == "webcam-where")
        assert where["props"]["value"] == "server" and where["props"]["interactive"] is False
        text = json.dumps(config)
        assert "In-browser matting is not built on this server" in text
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(running.url + "humanmatting/web/webcam.js")
        assert missing.value.code == 404
        camera = next(c for c in config["components"] if c["props"].get("elem_id") == "camera")
        assert camera["props"]["visible"] is True  # the server's stream is the camera
