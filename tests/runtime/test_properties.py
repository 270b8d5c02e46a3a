"""Property-based tests: preprocessing and the runtime over random sizes, dtypes, channel
counts, Pillow modes and damaged bytes. The only exceptions allowed are the documented ones."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from humanmatting.preprocess import (
    ASPECT_PRESETS,
    InvalidImageError,
    alpha_to_size,
    load_rgb,
    model_input_size,
    prepare_input,
)

# Deadlines make no sense on a shared 2-core machine; the example counts keep this quick.
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.float16, np.float32, np.float64, np.bool_]


@st.composite
def image_arrays(draw, max_side: int = 48, finite: bool = False):
    """HxW, HxWx1, HxWx3 or HxWx4 arrays of any supported dtype and any values."""
    height = draw(st.integers(1, max_side))
    width = draw(st.integers(1, max_side))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = (height, width) if channels is None else (height, width, channels)
    if dtype.kind == "f":
        elements = st.floats(
            allow_nan=not finite, allow_infinity=not finite, width=dtype.itemsize * 8
        )
    else:
        elements = None  # hypothesis draws the whole range of the dtype
    return draw(hnp.arrays(dtype, shape, elements=elements))


@FAST
@given(image_arrays())
def test_load_rgb_gives_rgb_uint8_of_the_same_size_or_a_documented_error(array):
    try:
        rgb = load_rgb(array)
    except InvalidImageError as error:
        # The only array we refuse with valid shape is one with NaN or infinity.
        assert array.dtype.kind == "f" and not np.isfinite(array).all(), error
        return
    assert rgb.shape == (*array.shape[:2], 3) and rgb.dtype == np.uint8
    if array.dtype == np.uint8:
        gray = array.ndim == 2 or array.shape[2] == 1
        expected = np.dstack([array.reshape(array.shape[:2])] * 3) if gray else array[..., :3]
        assert np.array_equal(rgb, expected)
    first = array.reshape(*array.shape[:2], -1)[..., 0]  # gray, or the red channel
    if array.dtype == np.uint16:
        assert np.abs(rgb[..., 0] - np.rint(first.astype(np.float64) * 255 / 65535)).max() == 0
    if array.dtype == np.bool_:  # a mask: True is white
        assert np.array_equal(rgb[..., 0], first.astype(np.uint8) * 255)
    if array.dtype.kind == "f" and 0 <= array.min() and array.max() <= 1:  # floats in [0, 1]
        assert np.abs(rgb[..., 0] - first.astype(np.float64) * 255).max() <= 0.5 + 1e-3


@FAST
@given(
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.one_of(st.none(), st.integers(32, 1024)),
)
def test_model_input_size_is_a_multiple_of_32_near_the_aspect(height, width, long_side):
    size = model_input_size(height, width, long_side)
    assert all(side % 32 == 0 and side >= 32 for side in size)
    if long_side is None:
        assert size in ASPECT_PRESETS.values()
    else:
        assert abs(max(size) - long_side) <= 16
        if min(height, width) * long_side / max(height, width) >= 64:  # not clamped at 32
            ratio_error = abs(math.log((size[1] / size[0]) / (width / height)))
            assert ratio_error < 0.45  # both sides rounded to 32


@FAST
@given(
    hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 40))),
    st.integers(1, 300),
    st.integers(1, 300),
)
@example(  # found by CI: the resize summed float32's extremes to NaN
    np.array([[1.0141205e31, -3.4028235e38, 1.0141205e31]] + [[1.0141205e31] * 3], np.float32),
    1,
    1,
)
def test_alpha_to_size_is_in_0_1_at_the_requested_size(probability, height, width):
    assume(np.isfinite(probability).all())
    alpha = alpha_to_size(probability, height, width)
    assert alpha.shape == (height, width) and alpha.dtype == np.float32
    assert alpha.min() >= 0 and alpha.max() <= 1


@FAST
@given(image_arrays(max_side=40, finite=True), st.sampled_from([1, 3]))
def test_prepare_input_is_raw_0_to_255_in_the_models_layout(array, channels):
    batch = prepare_input(load_rgb(array), channels, (32, 64))
    assert batch.shape == (1, 32, 64, channels) and batch.dtype == np.float32
    assert batch.min() >= 0 and batch.max() <= 255


PIL_MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "I;16"]


@FAST
@given(
    st.sampled_from(PIL_MODES),
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(0, 2**32 - 1),
)
def test_any_pillow_mode(mode, height, width, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    image = (
        Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257)
        if mode == "I;16"
        else Image.fromarray(rgb).convert(mode)
    )
    out = load_rgb(image)
    assert out.shape == (height, width, 3) and out.dtype == np.uint8


def _encoded(fmt: str, mode: str = "RGB", **options) -> bytes:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (24, 32, 3), np.uint8)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


VALID_FILES = [
    _encoded("PNG"),
    _encoded("PNG", "P", transparency=0),
    _encoded("JPEG", quality=80),
    _encoded("JPEG", "CMYK"),
    _encoded("GIF", "P"),
    _encoded("WEBP"),
    _encoded("BMP"),
    _encoded("TIFF"),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(range(len(VALID_FILES))),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_damaged_files_decode_or_raise_invalid_image_error(which, flips, keep):
    """Random byte flips and truncations of valid files: a picture or InvalidImageError."""
    data = bytearray(VALID_FILES[which])
    for position, value in flips:
        data[int(position * len(data))] = value
    if keep is not None:
        data = data[: int(keep * len(data))]
    try:
        rgb = load_rgb(bytes(data))
    except InvalidImageError:
        return
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8


@pytest.fixture(scope="module")
def matters(random_weights_dir):
    from humanmatting import load_matter

    return [load_matter(name, random_weights_dir) for name in ("dark-light", "night")]


@SLOW
@given(
    image_arrays(max_side=300, finite=True),
    st.one_of(st.none(), st.sampled_from([32, 64, 96, 160, 224])),
    st.sampled_from([0, 1]),
)
def test_predict_gives_alpha_in_0_1_at_the_input_size(matters, array, long_side, which):
    alpha = matters[which].predict(array, long_side=long_side).alpha
    assert alpha.shape == array.shape[:2] and alpha.dtype == np.float32
    assert np.isfinite(alpha).all() and alpha.min() >= 0 and alpha.max() <= 1
