"""Turn an alpha matte into what people want to see: cutouts, new backgrounds, overlays.

Cutouts and new backgrounds put the person's estimated foreground colours in front
(`foreground_colors`, on by default): a semi-transparent edge pixel of the photo is part old
background, and without it a sky leaves a blue fringe in the hair and a white wall a light
halo around a dark hat.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np
from PIL import ImageColor

from humanmatting import refine
from humanmatting.refine import EdgeColors

Color = tuple[int, int, int]

# The one vocabulary of the app's tabs, its API and the CLI: what goes behind the person,
# plus the matte itself as an output.
BACKGROUNDS = ("transparent", "blur", "color", "image")
MATTE = "matte"
DEFAULT_BACKGROUND = "blur"  # the one default that every tab, the API and the CLI offer
DEFAULT_COLOR = "#00b140"
DEFAULT_BLUR = 15.0


def parse_color(color: str | Color) -> Color:
    """'#00ff00', 'green' or (0, 255, 0) -> (0, 255, 0); ValueError for anything else,
    components outside 0..255 included (Pillow reads 'rgb(999,0,0)' as (999, 0, 0))."""
    if isinstance(color, str):
        try:
            rgb = ImageColor.getrgb(color)[:3]
        except ValueError:
            raise ValueError(
                f"Unknown colour {color!r}; use a name like 'green' or a hex code like '#00ff00'."
            ) from None
    else:
        if len(color) < 3:
            raise ValueError(f"A colour needs three components, got {color!r}")
        try:
            rgb = tuple(int(c) for c in color[:3])
        except (TypeError, ValueError, OverflowError):
            rgb = None
    if rgb is None or not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"Colour {color!r} has components outside 0 to 255.")
    return rgb


def harden(alpha: np.ndarray, threshold: float | None) -> np.ndarray:
    """Soft alpha as is (threshold None) or a 0/1 mask of alpha >= threshold."""
    if threshold is None:
        return alpha
    if not 0.0 <= threshold <= 1.0:  # also NaN, which would give an empty mask
        raise ValueError(f"The threshold must be a number from 0 to 1, not {threshold}.")
    return (alpha >= threshold).astype(np.float32)


# Per-pixel steps run a strip of rows of about this many pixels at a time: a whole-picture
# float temporary costs 4 bytes a pixel (160 MB for a 40 MP photo), and matte_picture and
# _blend each made two.
STRIP_PIXELS = 1 << 20


def row_strips(height: int, width: int) -> Iterator[slice]:
    """Slices of rows of about STRIP_PIXELS pixels that cover `height` rows."""
    step = max(1, STRIP_PIXELS // max(1, width))
    for top in range(0, height, step):
        yield slice(top, min(height, top + step))


def _blend(
    foreground: np.ndarray,
    background: np.ndarray,
    alpha: np.ndarray,
    threshold: float | None = None,
    opacity: float = 1.0,
) -> np.ndarray:
    """w * foreground + (1 - w) * background, rounded, for uint8 pictures, with w the
    alpha (hardened at `threshold`, times `opacity`); a strip of rows at a time, so that
    the weights' float copies stay small (either picture may be a broadcast view of one colour).

    OpenCV's blendLinear does it in one pass, about 5x faster than the same in numpy
    (7 ms for a 640x480 camera frame), which matters for live video.
    """
    picture = np.empty(foreground.shape, np.uint8)
    for rows in row_strips(*foreground.shape[:2]):
        weight = harden(alpha[rows], threshold)
        if opacity != 1.0:
            weight = weight * opacity
        weight = np.ascontiguousarray(weight, dtype=np.float32)
        cv2.blendLinear(
            np.ascontiguousarray(foreground[rows]),
            np.ascontiguousarray(background[rows]),
            weight,
            1.0 - weight,
            dst=picture[rows],  # written in place (a contiguous block of rows)
        )
    return picture


def soft_edge_colors(
    rgb: np.ndarray, alpha: np.ndarray, threshold: float | None = None
) -> EdgeColors | None:
    """The person's colours at the soft edge pixels (refine.edge_colors estimates them), to
    share between a cutout and a composite; None for hard edges (a threshold): a hard edge
    has no semi-transparent pixel whose colour would need cleaning."""
    return None if threshold is not None else refine.edge_colors(rgb, alpha)


def _chosen_edge_colors(
    rgb, alpha, threshold, foreground_colors: bool, colors: EdgeColors | None
) -> EdgeColors | None:
    """The colours to paint: none without `foreground_colors` or for hard edges; `colors`
    when the caller estimated them already (to share them between pictures), else the
    estimate made now."""
    if threshold is not None or not foreground_colors:
        return None
    return colors if colors is not None else soft_edge_colors(rgb, alpha)


def cutout(
    rgb: np.ndarray,
    alpha: np.ndarray,
    threshold: float | None = None,
    foreground_colors: bool = True,
    colors: EdgeColors | None = None,
) -> np.ndarray:
    """HxWx4 uint8 RGBA: the image with the matte as its transparency (and, with
    `foreground_colors`, the person's own colours in the semi-transparent edge: `colors`
    when estimated already, see soft_edge_colors)."""
    rgba = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)  # 2-3x faster than np.dstack
    colors = _chosen_edge_colors(rgb, alpha, threshold, foreground_colors, colors)
    if colors is not None:
        colors.paint(rgba)
    for rows in row_strips(*rgba.shape[:2]):  # no full-size matte beside the cutout
        rgba[rows, :, 3] = matte_picture(alpha[rows], threshold)
    return rgba


def replace_background(
    rgb: np.ndarray,
    alpha: np.ndarray,
    background: str | Color | np.ndarray,
    threshold: float | None = None,
    foreground_colors: bool = True,
    colors: EdgeColors | None = None,
) -> np.ndarray:
    """Put the person in front of a colour or an image (stretched to cover the frame)."""
    height, width = rgb.shape[:2]
    if isinstance(background, np.ndarray):
        backdrop = _cover(background, height, width)
    else:
        # A view of one pixel: _blend and EdgeColors.blend read it a strip at a time.
        backdrop = np.broadcast_to(np.array(parse_color(background), np.uint8), rgb.shape)
    picture = _blend(rgb, backdrop, alpha, threshold)
    colors = _chosen_edge_colors(rgb, alpha, threshold, foreground_colors, colors)
    return picture if colors is None else colors.blend(picture, backdrop)


def _cover(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale and centre-crop `image` to fill height x width (no distortion).

    The part that stays visible is cut out first and only it is scaled, so the work and
    memory are those of the output whatever the picture's shape: scaling the whole of a
    1x1000 picture to cover a 1000x1000 photo made a 1000x1,000,000 one (2.9 GB).
    """
    source_height, source_width = image.shape[:2]
    scale = max(height / source_height, width / source_width)
    crop_height = min(source_height, max(1, round(height / scale)))
    crop_width = min(source_width, max(1, round(width / scale)))
    top = (source_height - crop_height) // 2
    left = (source_width - crop_width) // 2
    visible = image[top : top + crop_height, left : left + crop_width]
    if visible.ndim == 2:
        visible = cv2.cvtColor(visible, cv2.COLOR_GRAY2RGB)
    visible = np.ascontiguousarray(visible[:, :, :3])
    if visible.shape[:2] == (height, width):
        return visible
    return cv2.resize(
        visible,
        (width, height),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )


def gaussian_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of `sigma` pixels, computed at reduced size when sigma is large.

    A direct blur costs time in proportion to sigma (17 ms at sigma 15 on a 640x480 frame,
    more than the model); shrinking by sigma / 3, blurring and enlarging again takes under
    1 ms and differs from it by about 0.5 grey levels on average. The shrink (box) and the
    bilinear enlargement blur a little themselves; the small blur makes up the rest.
    """
    factor = int(sigma // 3)
    if factor < 2:
        return cv2.GaussianBlur(rgb, (0, 0), sigmaX=float(sigma))
    height, width = rgb.shape[:2]
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
    remaining = math.sqrt(max(sigma**2 - (factor**2 - 1) / 12 - factor**2 / 6, 1.0))
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=remaining / factor)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def blur_background(
    rgb: np.ndarray,
    alpha: np.ndarray,
    strength: float = 15,
    threshold: float | None = None,
    foreground_colors: bool = True,
    colors: EdgeColors | None = None,
) -> np.ndarray:
    """Blur everything but the person; `strength` is the Gaussian sigma in pixels."""
    if strength <= 0:
        return rgb.copy()
    blurred = gaussian_blur(rgb, strength)
    picture = _blend(rgb, blurred, alpha, threshold)
    colors = _chosen_edge_colors(rgb, alpha, threshold, foreground_colors, colors)
    return picture if colors is None else colors.blend(picture, blurred)


def overlay_mask(
    rgb: np.ndarray,
    alpha: np.ndarray,
    color: str | Color = "#ff3366",
    opacity: float = 0.5,
    threshold: float | None = None,
) -> np.ndarray:
    """Tint the person region, to judge the matte against the photo."""
    tint = np.broadcast_to(np.array(parse_color(color), np.uint8), rgb.shape)
    return _blend(tint, rgb, alpha, threshold, opacity)


def matte_picture(alpha: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """HxW uint8: the matte as an 8-bit grayscale picture (what "matte" outputs show), a
    strip of rows at a time (no full-size float temporaries)."""
    matte = np.empty(alpha.shape, np.uint8)
    for rows in row_strips(*alpha.shape[:2]):
        matte[rows] = np.clip(harden(alpha[rows], threshold) * 255 + 0.5, 0, 255)
    return matte
