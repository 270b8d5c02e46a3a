"""What the page's handlers answer, without a browser: refusals in place (no stale result or
download), the readout in a visitor's words, the checkerboard behind transparent results, a
note while a model loads for the first time. The browser side is in tests/app/test_app.py."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from humanmatting.app import outputs
from humanmatting.app.limits import VideoLimits
from humanmatting.app.outputs import OutputFolder, checkerboard_preview
from humanmatting.app.registry import ModelRegistry
from humanmatting.app.tabs.image import ImageRequests
from humanmatting.app.tabs.video import VideoRequests
from humanmatting.specs import SHIPPED_MODELS
from humanmatting.weights import PACKAGED_WEIGHTS_DIR

SETTINGS = dict(
    model="dark-light",
    background="blur",
    color="#00b140",
    picture=None,
    blur=15,
    edges="soft",
    image_format="png",
)


class Progress:
    """Stands in for gr.Progress: records what the handler said."""

    def __init__(self):
        self.said: list[str] = []

    def __call__(self, value=None, desc=None, **kwargs):
        self.said.append(desc or "")


@pytest.fixture
def registry() -> ModelRegistry:
    """The shipped models, none loaded yet (a new registry per test)."""
    return ModelRegistry(PACKAGED_WEIGHTS_DIR, download=False, names=SHIPPED_MODELS)


@pytest.fixture
def requests(registry, tmp_path) -> ImageRequests:
    return ImageRequests(registry, OutputFolder(tmp_path / "outputs"))


def show(requests: ImageRequests, image, **changes):
    settings = {**SETTINGS, **changes}
    return requests.show(image, *settings.values(), "best")


def test_a_result_then_a_refusal_leaves_no_stale_result_or_download(requests, grace_hopper_path):
    slider, download, matte, readout, note = show(requests, str(grace_hopper_path))
    assert download["visible"] and download["value"].endswith("grace_hopper-blur.png")
    assert slider["visible"] and note == ""
    # The image background without a picture: said once, where the result was.
    slider, download, matte, readout, note = show(
        requests, str(grace_hopper_path), background="image"
    )
    assert "needs a background picture" in note
    assert download == {"__type__": "update", "value": None, "visible": False}
    assert slider == {"__type__": "update", "value": None, "visible": False}
    assert matte is None and readout == ""
    # The next good result clears the note.
    slider, download, matte, readout, note = show(requests, str(grace_hopper_path))
    assert note == "" and download["visible"] and slider["visible"]


def test_a_text_file_named_jpg_is_refused_by_name_in_the_note(requests, tmp_path):
    holiday = tmp_path / "holiday.jpg"
    holiday.write_text("not a picture\n")
    slider, download, matte, readout, note = show(requests, str(holiday))
    assert "Cannot read holiday.jpg as an image" in note and str(tmp_path) not in note
    assert download["visible"] is False and slider["visible"] is False


def test_the_readout_is_in_a_visitors_words_with_details_on_demand(requests, grace_hopper_path):
    *_, readout, _ = show(requests, str(grace_hopper_path))
    summary = re.search(r"<summary>(.*)</summary>", readout).group(1)
    # The model as chosen (not its int8 file), the network's size, the time: nothing else.
    assert re.fullmatch(r"dark-light, \d+x\d+, \d+ ms", summary), summary
    assert "<details" in readout and "512x600 photo" in readout
    *_, readout, _ = show(requests, str(grace_hopper_path), background="color")  # a setting changed
    assert "matte was reused" in readout


def test_a_note_while_a_model_loads_for_the_first_time_only(requests, grace_hopper_path):
    assert "Loading the night model" in requests.loading_note("night")
    show(requests, str(grace_hopper_path), model="night")
    assert requests.loading_note("night") == ""  # loaded: nothing to wait for


def test_transparent_results_are_shown_over_a_checkerboard_and_downloaded_as_png(
    requests, grace_hopper_path
):
    slider, download, *_ = show(requests, str(grace_hopper_path), background="transparent")
    before, shown = slider["value"]
    assert download["value"].endswith("grace_hopper-transparent.png")
    assert shown.endswith("grace_hopper-preview.jpg")  # what the slider shows, not the PNG
    cutout = cv2.imread(download["value"], cv2.IMREAD_UNCHANGED)
    cutout = cv2.cvtColor(cutout, cv2.COLOR_BGRA2RGBA)
    shown_rgb = cv2.cvtColor(cv2.imread(shown), cv2.COLOR_BGR2RGB).astype(int)
    assert shown_rgb.shape[:2] == cutout.shape[:2]
    assert np.abs(shown_rgb - checkerboard_preview(cutout)).mean() < 3  # JPEG's error
    # Opaque results are shown as they are downloaded.
    slider, download, *_ = show(requests, str(grace_hopper_path), background="blur")
    assert slider["value"][1] == download["value"]


def test_checkerboard_shows_where_the_picture_is_transparent_only():
    rgba = np.zeros((96, 192, 4), np.uint8)
    rgba[:, :96] = (200, 30, 40, 255)  # opaque left half, transparent right half
    picture = checkerboard_preview(rgba)
    assert picture.shape == (96, 192, 3)
    assert (picture[:, :96] == (200, 30, 40)).all()
    levels = np.unique(picture[:, 96:])
    assert set(levels) == {outputs.CHECKER_DARK, outputs.CHECKER_LIGHT}
    large = np.zeros((3000, 4500, 4), np.uint8)  # shown small: at most the preview's size
    assert checkerboard_preview(large).shape == (1365, 2048, 3)


def test_video_refusals_go_to_the_note_and_a_new_upload_clears_the_last_result(
    registry, tmp_path, photos, monkeypatch
):
    uploads = tmp_path / "uploads"  # videos are taken from the upload folder only
    uploads.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    requests = VideoRequests(registry, VideoLimits(), OutputFolder(tmp_path / "out"))
    video = uploads / "pan.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for index in range(5):
        frame = photos["grace_hopper"][4 * index : 4 * index + 480, :480]
        writer.write(cv2.cvtColor(cv2.resize(frame, (160, 120)), cv2.COLOR_RGB2BGR))
    writer.release()
    result, note = requests.show(
        str(video), "dark-light", "image", "#00b140", None, 15, "soft", True, Progress()
    )
    assert result is None and "needs a background picture" in note
    result, note = requests.show(
        str(video), "dark-light", "blur", "#00b140", None, 15, "soft", True, Progress()
    )
    assert Path(result).name == "pan-blur.mp4" and note == ""
    broken = uploads / "broken.mp4"
    broken.write_bytes(b"\0" * 5000)
    frame, info, result, note = requests.preview(str(broken))
    assert info == "**Cannot open video broken.mp4; is it a valid video?**"
    assert frame["visible"] is False and result is None and note == ""
