import io

import numpy as np
import pytest
from PIL import Image

from humanmatting.preprocess import (
    ASPECT_PRESETS,
    ImageTooLargeError,
    InvalidImageError,
    load_rgb,
    model_input_size,
    nearest_preset,
    prepare_input,
)
from humanmatting.settings import Settings


@pytest.mark.parametrize(
    "height, width, expected",
    [
        (800, 600, (512, 384)),
        (600, 800, (384, 512)),
        (1080, 1920, (288, 512)),
        (1920, 1080, (512, 288)),
        (500, 500, (256, 256)),
        (1000, 300, (512, 256)),
        (300, 1000, (256, 512)),
        (100, 10000, (256, 512)),
    ],
)
def test_nearest_preset(height, width, expected):
    assert nearest_preset(height, width) == expected


def test_all_presets_are_multiples_of_32():
    assert all(h % 32 == 0 and w % 32 == 0 for h, w in ASPECT_PRESETS.values())


@pytest.mark.parametrize(
    "height, width, long_side, expected",
    [(720, 1280, 640, (352, 640)), (1280, 720, 640, (640, 352)), (10, 4000, 512, (32, 512))],
)
def test_long_side_rounds_to_32(height, width, long_side, expected):
    assert model_input_size(height, width, long_side) == expected


def test_prepare_input_is_raw_0_to_255_in_the_models_channels():
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[..., 0] = 255  # pure red: luma 76
    gray = prepare_input(rgb, 1, (32, 64))
    assert gray.shape == (1, 32, 64, 1) and gray.dtype == np.float32
    np.testing.assert_allclose(gray, 76, atol=0.5)
    color = prepare_input(rgb, 3, (32, 64))
    assert color.shape == (1, 32, 64, 3) and color.max() == 255.0


@pytest.mark.parametrize(
    "array",
    [
        np.full((20, 30), 128, np.uint8),
        np.full((20, 30, 1), 128, np.uint8),
        np.full((20, 30, 4), 128, np.uint8),
        np.full((20, 30, 3), 128 * 257, np.uint16),
        np.full((20, 30, 3), 128 / 255, np.float32),
        np.full((20, 30), 128.0, np.float64),
    ],
)
def test_arrays_of_any_layout_and_dtype(array):
    rgb = load_rgb(array)
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert np.all(rgb == 128)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert load_rgb(buffer.getvalue()).shape == (40, 20, 3)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"not an image at all", "Cannot read"),
    ],
)
def test_bad_bytes(data, message):
    with pytest.raises(InvalidImageError, match=message):
        load_rgb(data)


def test_truncated_png(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buffer, "PNG"
    )
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[:200])
    with pytest.raises(InvalidImageError, match="damaged or truncated"):
        load_rgb(path)


def test_pixel_limit(monkeypatch):
    monkeypatch.setenv("HUMANMATTING_MAX_PIXELS", "1000")
    with pytest.raises(ImageTooLargeError, match="HUMANMATTING_MAX_PIXELS"):
        load_rgb(np.zeros((100, 100, 3), np.uint8), Settings.from_env().max_pixels)


def test_missing_file():
    with pytest.raises(InvalidImageError, match="No such image file"):
        load_rgb("/nonexistent/photo.jpg")
