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
    assert compose.matte_image(alpha).dtype == np.uint8


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
