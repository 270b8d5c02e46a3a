"""The one photo pipeline (humanmatting.pipeline): a Background value, matte_photo and
render give, pixel for pixel, what the command line and the app composed step by step;
bad settings are refused with a clear message. Runtime only: the base install and pytest,
the shipped weights and the photos in examples/."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from harness.paths import EXAMPLES_DIR
from humanmatting import compose, refine
from humanmatting.compose import DEFAULT_BLUR, DEFAULT_COLOR
from humanmatting.pipeline import (
    BACKGROUND_KINDS,
    Background,
    Foreground,
    as_frame,
    edge_threshold,
    matte_photo,
    render,
)
from humanmatting.preprocess import load_rgb
from humanmatting.runtime import load_matter
from humanmatting.video import AlphaSmoother, matte_frames
from humanmatting.weights import PACKAGED_WEIGHTS_DIR

# Edges as the app names them, and the command line's --threshold 0.3.
EDGE_SETTINGS = {"soft": None, "hard": 0.5, 0.3: 0.3}


@pytest.fixture(scope="module")
def matter():
    with load_matter("dark-light", PACKAGED_WEIGHTS_DIR, download=False) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_rgb(EXAMPLES_DIR / "grace_hopper.jpg")


@pytest.fixture(scope="module")
def backdrop() -> np.ndarray:
    return load_rgb(EXAMPLES_DIR / "astronaut.jpg")


def composed_as_today(rgb, alpha, kind, threshold, clean, backdrop):
    """What the CLI's frame_renderer and the app's serving.render did for one background
    kind (before both called the pipeline): the compose functions called directly."""
    if kind == "matte":
        return compose.matte_picture(alpha, threshold)
    if kind == "transparent":
        return compose.cutout(rgb, alpha, threshold, clean)
    if kind == "blur":
        return compose.blur_background(rgb, alpha, DEFAULT_BLUR, threshold, clean)
    if kind == "color":
        color = compose.parse_color(DEFAULT_COLOR)
        return compose.replace_background(rgb, alpha, color, threshold, clean)
    return compose.replace_background(rgb, alpha, backdrop, threshold, clean)


@pytest.mark.parametrize("edges", list(EDGE_SETTINGS))
def test_a_photo_is_what_the_command_line_composed_for_every_background(
    matter, photo, backdrop, edges
):
    alpha = matter.predict(photo, quality="best").alpha
    threshold = EDGE_SETTINGS[edges]
    for kind in BACKGROUND_KINDS:
        background = Background.parse(kind, picture=EXAMPLES_DIR / "astronaut.jpg")
        result = matte_photo(matter, EXAMPLES_DIR / "grace_hopper.jpg", background, edges)
        expected = composed_as_today(photo, alpha, kind, threshold, True, backdrop)
        assert result.picture.shape == expected.shape, kind
        np.testing.assert_array_equal(result.picture, expected, err_msg=kind)
        np.testing.assert_array_equal(result.alpha, alpha)
        np.testing.assert_array_equal(result.cutout, compose.cutout(photo, alpha, threshold))
        np.testing.assert_array_equal(result.matte, compose.matte_picture(alpha, threshold))
    assert result.prediction.input_size == matter.input_size(*photo.shape[:2])
    assert result.prediction.timing.model_ms > 0


def test_without_foreground_colours_the_photo_keeps_its_own(matter, photo):
    alpha = matter.predict(photo).alpha
    kept = matte_photo(matter, photo, Background("color"), foreground_colors=False)
    green = compose.parse_color(DEFAULT_COLOR)
    np.testing.assert_array_equal(
        kept.picture, compose.replace_background(photo, alpha, green, None, False)
    )
    cleaned = compose.replace_background(photo, alpha, green)
    assert (kept.picture != cleaned).any()  # the colours do change the soft edge


def test_quality_long_side_and_refine_reach_the_model(matter, photo):
    fast = matte_photo(matter, photo, Background("matte"), quality="fast", long_side=192)
    expected = matter.predict(photo, long_side=192, quality="fast").alpha
    np.testing.assert_array_equal(fast.alpha, expected)
    assert fast.prediction.input_size == matter.input_size(*photo.shape[:2], 192, "fast")
    plain = matte_photo(matter, photo, Background("matte"), refine=False)
    np.testing.assert_array_equal(plain.alpha, matter.predict(photo, refine=False).alpha)


def test_a_kept_prediction_skips_the_network_and_must_be_this_photos(matter, photo, monkeypatch):
    first = matte_photo(matter, photo, Background("blur"))
    monkeypatch.setattr(matter, "predict", lambda *args, **kwargs: pytest.fail("ran again"))
    again = matte_photo(matter, photo, Background("color"), prediction=first.prediction)
    assert again.prediction is first.prediction
    np.testing.assert_array_equal(again.picture, render(photo, first.alpha, Background("color")))
    with pytest.raises(ValueError, match="another image's"):
        matte_photo(matter, photo[:64, :64], prediction=first.prediction)


def test_a_new_background_renders_from_the_same_matte_estimating_colours_once(
    matter, photo, monkeypatch
):
    estimated = []
    estimate = refine.edge_colors
    monkeypatch.setattr(
        refine, "edge_colors", lambda rgb, alpha: estimated.append(1) or estimate(rgb, alpha)
    )
    result = matte_photo(matter, photo, Background("blur"))
    again = result.foreground.render(Background("color", color="#0000ff"))
    _ = result.cutout
    assert len(estimated) == 1  # the cutout and both backgrounds share one estimate
    np.testing.assert_array_equal(
        again, compose.replace_background(photo, result.alpha, (0, 0, 255))
    )
    np.testing.assert_array_equal(
        render(photo, result.alpha, Background("color", color="#0000ff")), again
    )
    assert render(photo, result.alpha, Background("transparent"), "hard").shape[2] == 4


def test_video_frames_are_what_the_app_composed_frame_by_frame(matter, photo, backdrop):
    frames = [photo, photo[::-1].copy(), np.ascontiguousarray(photo[:, ::-1])]
    for kind in ("blur", "color", "image", "matte"):
        background = Background.parse(kind, picture=backdrop)
        matte_frame = matte_frames(matter, background, "soft", smoothing=0.4)
        smoother = AlphaSmoother(0.4)
        for frame in frames:
            alpha = smoother(matter.predict(frame, quality="fast").alpha)
            expected = composed_as_today(frame, alpha, kind, None, False, backdrop)
            np.testing.assert_array_equal(matte_frame(frame), as_frame(expected), err_msg=kind)
    unsmoothed = matte_frames(matter, Background("matte"), "hard", smoothing=0)
    alpha = matter.predict(frames[1], quality="fast").alpha
    expected = np.dstack([compose.matte_picture(alpha, 0.5)] * 3)
    np.testing.assert_array_equal(unsmoothed(frames[1]), expected)


def test_a_frame_with_nobody(matter):
    nobody = np.zeros((96, 128), np.float32)
    frame = np.full((96, 128, 3), 90, np.uint8)
    assert (render(frame, nobody, Background("color", color="#ff0000")) == [255, 0, 0]).all()
    assert (render(frame, nobody, Background("matte")) == 0).all()
    assert (render(frame, nobody, Background("transparent"))[:, :, 3] == 0).all()
    assert (render(frame, nobody, Background("blur")) == 90).all()  # a flat frame, blurred
    # The model on an empty grey frame: every kind renders, with or without soft pixels.
    for kind in BACKGROUND_KINDS:
        result = matte_photo(matter, frame, Background.parse(kind, picture=frame[:10]))
        alpha = result.alpha
        expected = composed_as_today(frame, alpha, kind, None, True, frame[:10])
        np.testing.assert_array_equal(result.picture, expected, err_msg=kind)


# --- the Background value ---------------------------------------------------------------------


def test_background_parse_uses_the_words_of_the_command_line_and_the_app():
    assert Background() == Background.parse() == Background("blur", blur=DEFAULT_BLUR)
    assert Background.parse("color").color == compose.parse_color(DEFAULT_COLOR)
    assert Background.parse(" Color ", color="white").color == (255, 255, 255)
    assert Background.parse("blur", blur="7.5").blur == 7.5
    # A page sends every setting: only the kind's own is kept, so equal requests are equal.
    page = Background.parse("blur", color="#123456", picture="p.png", blur=4)
    assert page == Background.parse("blur", blur=4) and page.picture is None
    assert hash(page) == hash(Background.parse("blur", blur=4))
    assert Background.parse("image", picture="a.png") != Background.parse("image", picture="b.png")
    array = np.zeros((2, 2, 3), np.uint8)
    assert Background("image", picture=array) == Background("image", picture=array)
    assert Background("image", picture=array) != Background("image", picture=array.copy())
    assert "array" in repr(Background("image", picture=array))  # not its pixels


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "colour"}, r"Unknown background 'colour' \(spelled color\); choose one of"),
        ({"kind": "green"}, "Unknown background 'green'; choose one of transparent, blur"),
        ({"kind": "color", "color": "grean"}, "Unknown colour 'grean'"),
        ({"kind": "color", "color": "rgb(999,0,0)"}, "outside 0 to 255"),
        ({"kind": "blur", "blur": -1}, "blur strength must be a number from 0 to 500"),
        ({"kind": "blur", "blur": math.nan}, "blur strength"),
        ({"kind": "blur", "blur": 501}, "blur strength"),
        ({"kind": "blur", "blur": "strong"}, "blur strength"),
        ({"kind": "blur", "blur": True}, "blur strength"),
    ],
)
def test_bad_backgrounds_say_what_to_use(arguments, message):
    with pytest.raises(ValueError, match=message):
        Background.parse(**arguments)


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ("medium", "Unknown edges 'medium'; choose one of soft, hard"),
        (1.5, "threshold must be a number from 0 to 1"),
        (math.nan, "threshold must be a number from 0 to 1"),
        (True, "Unknown edges True"),
    ],
)
def test_bad_edges_say_what_to_use(edges, message):
    with pytest.raises(ValueError, match=message):
        edge_threshold(edges)


def test_bad_settings_fail_before_the_model_runs(matter, photo, tmp_path):
    calls = []

    class Counting:
        settings = matter.settings

        def predict(self, *args, **kwargs):
            calls.append(1)
            return matter.predict(*args, **kwargs)

    with pytest.raises(ValueError, match="needs a background picture"):
        matte_photo(Counting(), photo, Background("image"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(ValueError, match="broken.png"):
        matte_photo(Counting(), photo, Background("image", picture=broken))
    with pytest.raises(ValueError, match="Unknown edges"):
        matte_photo(Counting(), photo, Background(), edges="medium")
    with pytest.raises(ValueError, match="Videos have no transparency"):
        matte_frames(matter, Background("transparent"))
    assert calls == []
    with pytest.raises(ValueError, match="needs a background picture"):
        render(photo, np.zeros(photo.shape[:2], np.float32), Background("image"))


def test_a_background_picture_of_any_shape_costs_what_the_output_costs(tmp_path):
    """A 1x1000 picture behind a 1000x1000 photo was once scaled whole to cover it (2.9 GB;
    issue 29). Through the pipeline, from a file: a 1x3000 PNG behind a 300x300 frame."""
    strip = tmp_path / "strip.png"
    Image.fromarray(np.tile(np.arange(3000) % 256, (1, 1)).astype(np.uint8)).save(strip)
    rgb = np.zeros((300, 300, 3), np.uint8)
    alpha = np.zeros((300, 300), np.float32)
    background = Background("image", picture=strip).load()
    assert background.picture.shape == (1, 3000, 3)
    tracemalloc.start()
    try:
        picture = Foreground(rgb, alpha, foreground_colors=False).render(background)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert picture.shape == (300, 300, 3)
    assert peak < 4 * rgb.nbytes, peak  # a few frames' worth, not the 2.7 GB of the old way
    # The strip's middle pixel (column 1500: 1500 % 256 = 220), over the whole height.
    assert np.all(picture[:, 150] == picture[0, 150]) and abs(int(picture[0, 150, 0]) - 220) <= 1


def test_as_frame_refuses_transparency():
    assert as_frame(np.zeros((2, 3), np.uint8)).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="no transparency"):
        as_frame(np.zeros((2, 3, 4), np.uint8))


def test_a_video_through_process_video_and_matte_frames(matter, photo, tmp_path):
    import cv2

    from humanmatting.video import open_video, process_video

    source = tmp_path / "clip.mp4"
    small = cv2.resize(photo, (128, 160))
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (128, 160))
    for shift in range(5):
        writer.write(cv2.cvtColor(np.roll(small, 4 * shift, axis=1), cv2.COLOR_RGB2BGR))
    writer.release()
    destination = tmp_path / "clip-matte.mp4"
    frames = process_video(
        source, destination, matte_frames(matter, Background("matte")), progress=False
    )
    capture, info = open_video(destination)
    ok, first = capture.read()
    capture.release()
    assert frames == 5 and info.frame_count == 5 and (info.width, info.height) == (128, 160)
    # A matte: gray, the person light and the corners (background) dark.
    assert ok and np.abs(first[:, :, 0].astype(int) - first[:, :, 2]).max() <= 8
    assert first[:10, :10].mean() < 40 and first[80, 64].mean() > 200
