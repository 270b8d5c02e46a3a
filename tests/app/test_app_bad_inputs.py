"""Hostile and unusual uploads through the app's API (gradio_client against app.py on
127.0.0.1): each gets a correct result or a gr.Error carrying the library's message, which
names the file as the visitor called it and never a path on the server; and the request
after each refused one is served normally.

The files are harness/bad_media.py's, the expectations tests/cli/test_bad_inputs.py's, so the
library, the CLI and the app are held to the same table.
"""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path

import cv2
import gradio_client
import httpx
import numpy as np
import pytest
from PIL import Image

from harness.app_harness import REPO_ROOT, api_client, clean_env, launch_app
from humanmatting import compose
from humanmatting.preprocess import load_rgb
from humanmatting.runtime import load_matter
from humanmatting.specs import DEFAULT_MODEL
from tests.cli.test_bad_inputs import ACCEPTED, REFUSED

pytestmark = pytest.mark.slow  # every test needs the module's app: 10-30 s to start

MAX_UPLOAD_MB = 1
MAX_PIXELS = 4_000_000
MAX_VIDEO_SECONDS = 1
SERVER_TEMP = tempfile.gettempdir()


@pytest.fixture(scope="module")
def app(random_weights_dir, tmp_path_factory):
    """app.py with small limits, set the ways an operator sets them."""
    workdir = tmp_path_factory.mktemp("app-bad-inputs")
    env = clean_env(
        PYTHONPATH=str(REPO_ROOT),
        HF_HOME=str(workdir / "hf-home"),
        HUMANMATTING_MAX_PIXELS=str(MAX_PIXELS),
        HUMANMATTING_VIDEO_MAX_SECONDS=str(MAX_VIDEO_SECONDS),
    )
    arguments = ["--weights", str(random_weights_dir), "--max-upload-mb", str(MAX_UPLOAD_MB)]
    with launch_app(REPO_ROOT / "app.py", workdir, arguments, env) as running:
        yield running


@pytest.fixture(scope="module")
def client(app, tmp_path_factory):
    return api_client(app.url, tmp_path_factory.mktemp("downloads"))


@pytest.fixture(scope="module")
def matter(random_weights_dir):
    """The model the app mattes a photo with when none is chosen."""
    return load_matter(DEFAULT_MODEL, random_weights_dir / DEFAULT_MODEL, download=False)


def matte(client, path: Path, **options):
    handle_file = gradio_client.handle_file
    return client.predict(handle_file(str(path)), api_name="/matte", **options)


def refusal(client, endpoint: str, path: Path, **options) -> str:
    """The message of the gr.Error that `endpoint` answers `path` with."""
    with pytest.raises(gradio_client.exceptions.AppError) as raised:
        client.predict(gradio_client.handle_file(str(path)), api_name=endpoint, **options)
    message = str(raised.value)
    assert "upstream Gradio app has raised an exception" not in message
    assert SERVER_TEMP not in message and "gradio/" not in message, message
    return message


def assert_served_normally(client, bad_images):
    cutout, _, _, summary = matte(client, bad_images["rgba.png"])
    assert Image.open(cutout).size == (64, 48) and "64x48 photo" in summary


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_images_get_the_library_message_naming_the_upload(client, bad_images, name):
    pattern = REFUSED[name][1].replace("40,000,000", f"{MAX_PIXELS:,}")
    message = refusal(client, "/matte", bad_images[name])
    assert re.search(pattern, message) and name in message, message
    assert_served_normally(client, bad_images)


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_images_give_the_library_result(client, bad_images, matter, name):
    cutout, _, matte_png, summary = matte(client, bad_images[name], background="transparent")
    rgb = load_rgb(bad_images[name])  # the displayed picture: EXIF-rotated, 8-bit RGB
    with Image.open(cutout) as png:
        assert png.mode == "RGBA" and png.size == (rgb.shape[1], rgb.shape[0])
        rgba = np.asarray(png)
    expected = compose.cutout(rgb, matter.predict(rgb).alpha)  # the library's defaults
    assert np.abs(rgba.astype(int) - expected).max() <= 1
    opaque = rgba[:, :, 3] == 255  # only the soft edge gets estimated colours
    np.testing.assert_array_equal(rgba[opaque][:, :3], rgb[opaque])
    assert Image.open(matte_png).size == (rgb.shape[1], rgb.shape[0])
    assert f"{rgb.shape[1]}x{rgb.shape[0]} photo" in summary


def test_compare_and_background_picture_refuse_clearly_too(client, bad_images):
    message = refusal(client, "/compare", bad_images["text-named.jpg"])
    assert "Cannot read text-named.jpg as an image" in message
    message = refusal(
        client,
        "/matte",
        bad_images["rgba.png"],
        background="image",
        picture=gradio_client.handle_file(str(bad_images["truncated.png"])),
    )
    assert "truncated.png is damaged or truncated" in message
    assert_served_normally(client, bad_images)


def test_pixel_and_upload_limits_come_from_the_operator(app, client, bad_images, tmp_path):
    too_many = tmp_path / "2500x2000.png"
    Image.new("L", (2500, 2000)).save(too_many)  # 5 MP, a few kB
    message = refusal(client, "/matte", too_many)
    assert f"limit of {MAX_PIXELS:,} pixels" in message and "HUMANMATTING_MAX_PIXELS" in message

    too_big = tmp_path / "noise.png"
    noise = np.random.default_rng(0).integers(0, 255, (700, 700, 3), np.uint8)
    Image.fromarray(noise).save(too_big)  # 1.5 MB, over --max-upload-mb 1
    assert too_big.stat().st_size > MAX_UPLOAD_MB * 1e6
    with pytest.raises(ValueError, match="exceeds the maximum file size of 1048576 bytes"):
        matte(client, too_big)  # gradio_client reads the limit from the app and checks first
    with open(too_big, "rb") as upload:  # a client that does not check: the server refuses
        response = httpx.post(f"{app.url}gradio_api/upload", files={"files": upload})
    assert response.status_code == 413, response.text
    assert_served_normally(client, bad_images)


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("no-frames.avi", "no-frames.avi has no readable frames"),
        ("corrupted.mp4", "Cannot open video corrupted.mp4"),
        ("truncated.avi", "Cannot open video truncated.avi"),
    ],
)
def test_bad_videos_are_refused_clearly(client, bad_videos, bad_images, name, pattern):
    message = refusal(client, "/matte_video", bad_videos[name], background="matte")
    assert pattern in message, message
    assert_served_normally(client, bad_images)


def test_videos_within_and_over_the_duration_limit(client, bad_videos, tmp_path):
    result = client.predict(
        gradio_client.handle_file(str(bad_videos["good.avi"])),
        background="matte",
        api_name="/matte_video",
    )
    capture = cv2.VideoCapture(result)
    assert Path(result).suffix == ".mp4" and sum(1 for _ in iter(capture.read, (False, None))) >= 6
    long_clip = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(long_clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for index in range(25):  # 2.5 s, over HUMANMATTING_VIDEO_MAX_SECONDS=1
        writer.write(np.full((48, 64, 3), index * 10, np.uint8))
    writer.release()
    message = refusal(client, "/matte_video", long_clip, background="matte")
    assert "long.avi" in message or "2.5 s long" in message
    assert "limit is 1 s" in message and "HUMANMATTING_VIDEO_MAX_SECONDS" in message


def test_the_server_survived_and_logged_one_line_per_refusal(app, client, bad_images):
    assert_served_normally(client, bad_images)
    assert app.process.poll() is None
    log = app.log()
    assert "refused a request: Cannot read text-named.jpg as an image" in log
    assert "Traceback" not in log, log[-3000:]


# --- the upload component itself, in process (camera frames come as data URLs) ---------------


def test_image_inputs_hand_files_over_unopened_and_refuse_broken_data_urls(
    bad_images, tmp_path, monkeypatch
):
    import shutil

    import gradio
    from gradio.data_classes import ImageData

    from humanmatting.app.components import UploadedImage

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))  # Gradio's upload folder
    uploaded = tmp_path / "uploads" / "0123abcd" / "bomb.png"
    uploaded.parent.mkdir(parents=True)
    shutil.copy(bad_images["bomb.png"], uploaded)
    photo = UploadedImage(type="filepath", image_mode=None)
    assert photo.preprocess(ImageData(path=str(uploaded), orig_name="bomb.png")) == str(uploaded)
    with pytest.raises(gradio.Error, match="was not uploaded to this server"):
        photo.preprocess(ImageData(path=str(bad_images["bomb.png"])))  # anywhere else
    camera = UploadedImage(type="numpy", streaming=True, sources=["webcam"])
    jpeg = (REPO_ROOT / "examples" / "astronaut.jpg").read_bytes()
    good = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    assert camera.preprocess(ImageData(url=good)).shape == (512, 512, 3)
    broken = "data:image/jpeg;base64," + base64.b64encode(jpeg[:40]).decode()
    with pytest.raises(gradio.Error, match="The uploaded image is damaged"):
        camera.preprocess(ImageData(url=broken))
    with pytest.raises(gradio.Error, match="invalid base64"):
        camera.preprocess(ImageData(url="data:image/jpeg;base64,not base64!"))


def test_error_messages_name_files_not_server_paths():
    from humanmatting.app import errors

    upload = Path(SERVER_TEMP) / "gradio" / "0123abcd" / "my photo.jpg"
    error = ValueError(f"Image {upload} is damaged; also {SERVER_TEMP}/x/y/other.png here")
    message = errors.user_error(error, str(upload)).message
    assert message == "Image my photo.jpg is damaged; also other.png here"
    assert "out of memory" in errors.user_error(MemoryError()).message
