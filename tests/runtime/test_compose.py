import cv2
import numpy as np
import pytest

from humanmatting import compose


@pytest.fixture
def scene():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:] = (200, 100, 50)
    alpha = np.zeros((4, 6), np.float32)
    alpha[:, :3] = 1.0
    alpha[0, 4] = 0.5
    return rgb, alpha


def test_cutout_carries_alpha(scene):
    rgb, alpha = scene
    rgba = compose.cutout(rgb, alpha)
    assert rgba.shape == (4, 6, 4)
    assert rgba[0, 0, 3] == 255 and rgba[0, 5, 3] == 0 and rgba[0, 4, 3] == 128
    assert compose.cutout(rgb, alpha, threshold=0.6)[0, 4, 3] == 0


def test_replace_with_colour_and_image(scene):
    rgb, alpha = scene
    green = compose.replace_background(rgb, alpha, "#00ff00")
    assert tuple(green[0, 0]) == (200, 100, 50) and tuple(green[0, 5]) == (0, 255, 0)
    assert np.abs(green[0, 4] - np.array([100, 177.5, 25])).max() <= 0.5  # half and half
    backdrop = np.full((40, 10, 3), 9, np.uint8)
    assert tuple(compose.replace_background(rgb, alpha, backdrop)[3, 5]) == (9, 9, 9)


def test_blur_keeps_the_person_sharp():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (50, 50, 3), np.uint8)
    alpha = np.zeros((50, 50), np.float32)
    alpha[:, :25] = 1
    out = compose.blur_background(rgb, alpha, strength=5)
    np.testing.assert_array_equal(out[:, :25], rgb[:, :25])
    assert out[:, 30:].std() < rgb[:, 30:].std() / 2


def test_overlay_and_matte(scene):
    rgb, alpha = scene
    tinted = compose.overlay_mask(rgb, alpha, "red", opacity=1.0)
    assert tuple(tinted[0, 0]) == (255, 0, 0) and tuple(tinted[0, 5]) == (200, 100, 50)
    assert compose.matte_picture(alpha).dtype == np.uint8


def test_bad_colour_message():
    with pytest.raises(ValueError, match="Unknown colour 'grean'"):
        compose.parse_color("grean")


@pytest.mark.parametrize("sigma", [2, 6, 15, 40])
def test_fast_blur_looks_like_a_full_gaussian_blur(photos, sigma):
    rgb = photos["astronaut"]
    fast = compose.gaussian_blur(rgb, sigma)
    exact = cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma)
    assert fast.shape == rgb.shape and fast.dtype == np.uint8
    difference = np.abs(fast.astype(int) - exact)
    assert difference.mean() < 1.0, difference.mean()
    border = 2 * sigma  # borders are extended differently at the two scales
    assert difference[border:-border, border:-border].max() <= 3
    assert np.abs(fast.astype(int) - rgb).mean() > 5  # and it does blur


# --- background pictures: fitted at the output's cost (issue 29, row 3) ---------------------


def test_a_background_picture_of_any_shape_costs_what_the_output_costs():
    """An 89-byte 1x1000 PNG behind a 1000x1000 photo was scaled whole by 1000 to cover
    it: 1000x1,000,000 pixels, +2.9 GB. Here 1x300 behind 300x300 (81 MB the old way)."""
    import tracemalloc

    rgb = np.zeros((300, 300, 3), np.uint8)
    alpha = np.zeros((300, 300), np.float32)
    strip = np.arange(300, dtype=np.uint8).reshape(1, 300)  # one row, gray
    tracemalloc.start()
    try:
        picture = compose.replace_background(rgb, alpha, strip, foreground_colors=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert picture.shape == (300, 300, 3)
    assert peak < 4 * rgb.nbytes, peak  # a few frames' worth, not 81 MB
    # The middle pixel of the strip, stretched over the whole height.
    assert np.all(picture[:, 150] == picture[0, 150]) and abs(int(picture[0, 150, 0]) - 150) <= 1


def test_covering_keeps_the_centre_as_scaling_the_whole_picture_did():
    y, x = np.mgrid[0:37, 0:53]
    picture = np.dstack([x * 4, y * 6, x + y]).astype(np.uint8)
    for height, width in ((48, 64), (20, 10), (37, 53), (100, 30)):
        scale = max(height / 37, width / 53)
        whole = cv2.resize(picture, (max(width, round(53 * scale)), max(height, round(37 * scale))))
        top, left = (whole.shape[0] - height) // 2, (whole.shape[1] - width) // 2
        expected = whole[top : top + height, left : left + width]
        covered = compose._cover(picture, height, width)
        assert covered.shape == (height, width, 3)
        assert np.abs(covered.astype(int) - expected).mean() < 2.5, (height, width)
