"""humanmatting.refine: edges that follow the photo, colours without the old background."""

from __future__ import annotations

import math
import sys

import cv2
import numpy as np
import pytest

from humanmatting import compose, refine
from humanmatting.preprocess import alpha_to_size


def edge_scene(height=240, width=640, edge=321, person=(200, 140, 110), background=(40, 90, 220)):
    """A photo with a sharp vertical edge at column `edge` (person left, background right),
    some texture on both sides, and the network's view of it: a blurred step at 1/8 size
    whose 0.5 crossing is 6 photo pixels off the true edge."""
    rng = np.random.default_rng(0)
    rgb = np.empty((height, width, 3), np.float32)
    rgb[:, :edge] = person
    rgb[:, edge:] = background
    rgb += rng.normal(0, 4, rgb.shape)
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    small_width = width // 8
    columns = (np.arange(small_width) + 0.5) * 8 - 0.5
    step = 1 / (1 + np.exp((columns - (edge + 6)) / 12))  # soft and misplaced
    probability = np.tile(step.astype(np.float32), (height // 8, 1))
    return rgb, probability, edge


def crossing(alpha_row: np.ndarray) -> float:
    """Column where a falling row of alpha crosses 0.5 (linear between the two pixels)."""
    index = int(np.flatnonzero(alpha_row < 0.5)[0])
    before, after = alpha_row[index - 1], alpha_row[index]
    return index - 1 + (before - 0.5) / (before - after)


@pytest.mark.parametrize("quality", ["best", "fast"])
def test_refined_edge_is_sharp_and_where_the_photo_has_it(quality):
    rgb, probability, edge = edge_scene()
    stretched = alpha_to_size(probability, *rgb.shape[:2])
    refined = refine.refine_alpha(rgb, probability, quality)
    assert refined.shape == rgb.shape[:2] and refined.dtype == np.float32
    assert 0 <= refined.min() and refined.max() <= 1
    row = rgb.shape[0] // 2
    # The photo's edge lies between columns edge - 1 and edge: alpha crosses 0.5 there, in
    # one step, where the network's stretched matte crosses it 6 px off, in a slow ramp.
    assert abs(crossing(refined[row]) - (edge - 0.5)) <= 1.0
    assert abs(crossing(stretched[row]) - (edge - 0.5)) > 4
    assert refined[row, edge - 1] - refined[row, edge] > 0.4
    assert stretched[row, edge - 1] - stretched[row, edge] < 0.05
    # Beyond the filter's reach (two windows) the matte is settled: 1 on the person, 0 on
    # the background (the stretched matte is still 0.05 to 0.95 over 70 px).
    reach = math.ceil(2 * refine.REFINEMENTS[quality].radius * 8) + 8  # network pixel: 8 px
    assert (refined[:, : edge - reach] > 0.99).all()
    assert (refined[:, edge + reach :] < 0.01).all()
    assert ((stretched[row] > 0.05) & (stretched[row] < 0.95)).sum() > 70


def test_full_size_tiles_agree_with_stretching_the_coefficients_everywhere():
    """At 12 MP the filter's a, b are stretched only in the tiles where the matte is soft:
    the same values as stretching them over the whole picture."""
    rng = np.random.default_rng(1)
    height, width = 700, 900
    rgb = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), np.uint8), (0, 0), 3)
    yy, xx = np.mgrid[:44, :56]
    probability = (1 / (1 + np.exp(((xx - 28) ** 2 + (yy - 22) ** 2 - 150) / 20))).astype(
        np.float32
    )
    settings = refine.Refinement(guide="rgb", work_scale=4.0, radius=1.0, eps=1e-3)
    alpha = refine.guided_upsample(rgb, probability, settings, 56)
    # The reference: the same working size and coefficients, stretched whole (cv2.resize).
    scale = 4 * 56 / width
    work = (round(width * scale), round(height * scale))
    guide = refine._resize(rgb, *work).astype(np.float32) / 255
    source = refine._levels(
        cv2.resize(probability, work, interpolation=cv2.INTER_LINEAR), settings.levels
    )
    coefficients = refine._color_coefficients(guide, source, 4, np.float32(settings.eps))
    stretched = cv2.resize(coefficients, (width, height), interpolation=cv2.INTER_LINEAR)
    expected = np.clip(
        (stretched[..., :3] * (rgb.astype(np.float32) / 255)).sum(-1) + stretched[..., 3], 0, 1
    )
    assert np.abs(alpha - expected).max() < 0.02
    assert np.abs(alpha - expected).mean() < 1e-3
    assert ((alpha > 0.05) & (alpha < 0.95)).any()  # there was an edge to refine


def test_unknown_refinement_names_the_choices():
    with pytest.raises(ValueError, match="best, fast"):
        refine.refine_alpha(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4), np.float32), "max")


def test_tiny_pictures_are_refined_too():
    for shape in [(1, 1, 3), (3, 500, 3), (500, 2, 3)]:
        rgb = np.random.default_rng(0).integers(0, 255, shape, np.uint8)
        alpha = refine.refine_alpha(rgb, np.full((32, 32), 0.7, np.float32))
        assert alpha.shape == shape[:2] and np.isfinite(alpha).all()


def blended_scene(size=200):
    """A textured person colour F over a blue background B, alpha a ramp 40 px wide:
    I = alpha F + (1 - alpha) B, as a camera records a soft edge."""
    rng = np.random.default_rng(2)
    foreground = np.empty((size, size, 3), np.float32)
    foreground[:] = (0.55, 0.35, 0.25)
    foreground += cv2.GaussianBlur(rng.normal(0, 0.08, (size, size, 3)), (0, 0), 2)
    background = np.empty_like(foreground)
    background[:] = (0.15, 0.35, 0.9)
    alpha = np.clip((130 - np.arange(size, dtype=np.float32)) / 40, 0, 1)
    alpha = np.tile(alpha, (size, 1))
    image = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    rgb = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    return rgb, alpha, np.clip(foreground, 0, 1)


def test_foreground_colours_lose_the_old_background():
    rgb, alpha, foreground = blended_scene()
    estimated = refine.estimate_foreground(rgb, alpha)
    assert estimated.dtype == np.uint8 and estimated.shape == rgb.shape
    soft = (alpha > 0.1) & (alpha < 0.9)
    truth = foreground[soft] * 255
    error_photo = np.abs(rgb[soft].astype(float) - truth).mean()
    error_estimated = np.abs(estimated[soft].astype(float) - truth).mean()
    assert error_estimated < 0.25 * error_photo, (error_estimated, error_photo)
    # No blue fringe: the blue channel of the soft pixels is the person's, not the sky's.
    assert estimated[soft][:, 2].mean() < 0.3 * 255 < rgb[soft][:, 2].mean()
    settled = (alpha == 0) | (alpha == 1)
    np.testing.assert_array_equal(estimated[settled], rgb[settled])


def test_foreground_of_a_settled_matte_is_the_photo_itself():
    rgb, _, _ = blended_scene(64)
    hard = np.zeros((64, 64), np.float32)
    hard[:, :30] = 1
    assert refine.estimate_foreground(rgb, hard) is rgb


def test_cutout_and_backgrounds_use_the_foreground_colours():
    rgb, alpha, _ = blended_scene()
    colours = refine.estimate_foreground(rgb, alpha)
    np.testing.assert_array_equal(compose.cutout(rgb, alpha)[..., :3], colours)
    np.testing.assert_array_equal(compose.cutout(rgb, alpha, foreground_colors=False)[..., :3], rgb)
    np.testing.assert_array_equal(compose.cutout(rgb, alpha, threshold=0.5)[..., :3], rgb)
    on_white = compose.replace_background(rgb, alpha, "white")
    kept = compose.replace_background(rgb, alpha, "white", foreground_colors=False)
    soft = (alpha > 0.2) & (alpha < 0.8)
    # Over white, the old blue shows as a blue fringe unless the colours are cleaned.
    blue_excess = lambda picture: (picture[soft][:, 2].astype(int) - picture[soft][:, 0]).mean()  # noqa: E731
    assert blue_excess(on_white) < blue_excess(kept) - 20


def soft_disc_scene(size=160):
    """A disc with a soft rim (true alpha known) on a checkered background, and a blurred,
    too-wide version of its alpha, as a network's matte."""
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(yy - size / 2, xx - size / 2)
    alpha = np.clip((50 - radius) / 3 + 0.5, 0, 1).astype(np.float32)
    checks = (((yy // 8) + (xx // 8)) % 2).astype(np.float32)
    background = np.dstack([0.2 + 0.6 * checks, 0.3 + 0.2 * checks, 0.8 - 0.5 * checks])
    foreground = np.dstack(
        [np.full_like(checks, 0.9), np.full_like(checks, 0.6), np.full_like(checks, 0.2)]
    )
    image = alpha[..., None] * foreground + (1 - alpha[..., None]) * background
    rgb = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    rough = cv2.GaussianBlur(alpha, (0, 0), 5)
    return rgb, alpha, rough


def test_hq_matting_gets_closer_to_the_true_alpha():
    rgb, alpha, rough = soft_disc_scene()
    solved = refine.hq_matte(rgb, rough, seconds=60, progress=False)
    assert solved.shape == alpha.shape and 0 <= solved.min() and solved.max() <= 1
    edge = (rough > 0.02) & (rough < 0.98)
    error_rough = np.abs(rough - alpha)[edge].mean()
    error_solved = np.abs(solved - alpha)[edge].mean()
    assert error_solved < 0.5 * error_rough, (error_solved, error_rough)


def test_hq_matting_keeps_to_its_time_limit(capsys):
    rgb, alpha, rough = soft_disc_scene()
    refine.hq_matte(rgb, rough, seconds=60, progress=False)  # numba compiled, caches warm
    import time

    started = time.perf_counter()
    solved = refine.hq_matte(rgb, rough, seconds=1e-3, progress=True)
    assert time.perf_counter() - started < 5
    assert np.isfinite(solved).all() and solved.shape == alpha.shape
    assert "HQ matting: time limit reached" in capsys.readouterr().err


def test_hq_without_pymatting_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymatting", None)  # import pymatting -> ImportError
    rgb, _, rough = soft_disc_scene(32)
    with pytest.raises(refine.HQUnavailableError, match=r'pip install "humanmatting\[hq\]"'):
        refine.hq_matte(rgb, rough)


# --- clean cutouts ---------------------------------------------------------------------------


def haze_scene(width=400):
    """A matte as the guided filter leaves it, width x 3/4 width: a disc person whose
    outline ramps from 0 to 1 over 16% of the width, a semi-transparent patch (0.7, as
    skin or grey hair) and a small hole (0.1, 0.06% of the frame) inside it, and
    low-alpha haze (0.15) in a far corner; and a textured photo to go with it."""
    height = width * 3 // 4
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    centre, radius = (height / 2, width / 2), 0.3 * height
    distance = np.hypot(yy - centre[0], xx - centre[1])
    alpha = np.clip((radius - distance) / (0.16 * width) + 0.5, 0, 1).astype(np.float32)
    boxes = {}
    patch = int(0.06 * width)
    boxes["patch"] = np.s_[
        int(centre[0]) - patch : int(centre[0]), int(centre[1]) : int(centre[1]) + patch
    ]
    side = max(2, round(math.sqrt(0.0006 * width * height)))
    top, left = int(centre[0] + 0.1 * height), int(centre[1] - 0.1 * height)
    boxes["hole"] = np.s_[top : top + side, left : left + side]
    boxes["haze"] = np.s_[: height // 6, : width // 6]
    alpha[boxes["patch"]] = 0.7
    alpha[boxes["hole"]] = 0.1
    alpha[boxes["haze"]] = 0.15
    return alpha, boxes


def soft(alpha: np.ndarray) -> np.ndarray:
    return (alpha > 0.04) & (alpha < 0.96)


def test_clean_matte_removes_haze_fills_holes_and_keeps_the_inside_solid():
    alpha, boxes = haze_scene()
    cleaned = refine.clean_alpha(alpha)
    assert cleaned.dtype == np.float32 and cleaned.shape == alpha.shape
    assert not np.shares_memory(cleaned, alpha) and alpha[boxes["haze"]].max() == 0.15
    assert (cleaned[boxes["haze"]] == 0).all()  # the haze: empty
    assert (cleaned[boxes["patch"]] == 1).all()  # the see-through patch: solid
    assert (cleaned[boxes["hole"]] == 1).all()  # the hole: filled
    # The person is the matte's own (alpha >= 0.5) everywhere but in the hole.
    changed = (cleaned >= 0.5) != (alpha >= 0.5)
    changed[boxes["hole"]] = False
    assert not changed.any()
    # Soft pixels only within the band along the outline, where there are some.
    person = alpha >= 0.5
    person[boxes["hole"]] = True
    outline = cv2.morphologyEx(person.view(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3)))
    distance = cv2.distanceTransform(1 - outline, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    band = refine.edge_band(*alpha.shape)
    assert soft(alpha)[distance > band].mean() > 0.05  # before: much of the frame
    assert not soft(cleaned)[distance > band / 2 + 1].any()
    assert soft(cleaned)[distance <= 1].mean() > 0.5


def test_clean_matte_keeps_large_holes_and_holes_open_to_the_border():
    """Background seen between an arm and the body is no hole to fill; nor is background
    that reaches the picture's border."""
    alpha = np.zeros((300, 400), np.float32)
    alpha[40:260, 100:300] = 1
    alpha[100:160, 150:230] = 0  # 4% of the frame, enclosed
    alpha[250:300, 200:210] = 0  # a notch open to the bottom
    cleaned = refine.clean_alpha(alpha)
    assert (cleaned[110:150, 160:220] == 0).all()
    assert (cleaned[270:300, 203:207] == 0).all()
    np.testing.assert_array_equal(cleaned >= 0.5, alpha >= 0.5)


def soft_width(alpha: np.ndarray) -> int:
    """Soft pixels across the left outline of haze_scene's disc, on its middle row."""
    row = alpha[alpha.shape[0] // 2, : alpha.shape[1] // 2]
    return int(soft(row).sum())


def test_clean_band_follows_the_pictures_size():
    widths = {}
    for width in (400, 1600):
        alpha, _ = haze_scene(width)
        before, after = soft_width(alpha), soft_width(refine.clean_alpha(alpha))
        assert before > 0.1 * width  # the filter's wide ramp
        assert 1 <= after <= refine.edge_band(*alpha.shape) + 2
        widths[width] = after
    assert 2.5 * widths[400] <= widths[1600] <= 6 * widths[400], widths
    # A small picture keeps a band of a few pixels: EDGE_BAND_MIN.
    assert refine.edge_band(48, 64) == refine.EDGE_BAND_MIN


def test_clean_in_place_and_refine_alpha_cleans_by_default():
    alpha, boxes = haze_scene()
    copy = alpha.copy()
    cleaned = refine.clean_alpha(copy, in_place=True)
    assert cleaned is copy
    np.testing.assert_array_equal(cleaned, refine.clean_alpha(alpha))
    # The refinement of a network matte with haze far from the person: gone by default.
    rng = np.random.default_rng(3)
    rgb = cv2.GaussianBlur(rng.integers(0, 255, (*alpha.shape, 3), np.uint8), (0, 0), 2)
    probability = cv2.resize(alpha, (50, 38), interpolation=cv2.INTER_AREA)
    probability[:5, :6] = 0.4  # haze in the network's own matte, a corner
    refined = refine.refine_alpha(rgb, probability, "best", clean=False)
    assert soft(refined[boxes["haze"]]).mean() > 0.2
    for quality in ("best", "fast"):
        assert not soft(refine.refine_alpha(rgb, probability, quality)[boxes["haze"]]).any()
