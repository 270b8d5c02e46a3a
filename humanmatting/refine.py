"""Mattes that hold up at the photo's resolution: edge refinement and foreground colours.

The network sees a photo at about 320 pixels on its long side. Stretched to a 12 MP photo,
its matte is a blurry band tens of pixels wide that knows nothing of the photo's edges, and
the edge pixels it leaves half transparent still carry the old background's colour.

- `refine_alpha`: a fast guided filter (He, Sun and Tang 2010/2015) upsamples the network's
  matte, guided by the photo: in every small window the matte becomes a linear function of
  the photo's colours, so it follows the photo's edges (hair, shoulders) at full resolution.
  The filter's coefficients are computed at a working resolution a few times the
  network's and only applied at full size, in the tiles where the matte is neither 0 nor 1.
- `estimate_foreground`: blur-fusion (Forte and Pitié 2021, "Approximate fast foreground
  colour estimation"): local means of the person's and the background's colours, from box
  blurs, give each semi-transparent pixel the colour it would have without the background.
- `hq_matte`: opt-in closed-form alpha matting (Levin, Lischinski and Weiss 2008, from
  pymatting) in a band around the edge, for hair and fine detail in stills; bounded in time.

Only numpy and OpenCV (pymatting for `hq_matte`), so the runtime stays small.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import cv2
import numpy as np

# At full size the filter is applied tile by tile, only where the matte is not settled.
TILE = 128
# Matte values this close to 0 or 1 are taken as settled: they round to 0 or 255 in 8 bits.
SETTLED = 0.5 / 255


@dataclass(frozen=True)
class Refinement:
    """How the network's matte is upsampled to the photo (sizes in network pixels, so one
    setting suits every photo size)."""

    guide: str  # "rgb": colour guided filter (follows edges between equally bright colours); "gray"
    work_scale: float  # working resolution's long side, in multiples of the network input's
    radius: float  # guided filter window radius, in network pixels
    eps: float  # regularisation: larger keeps the matte smoother where the photo has texture
    # The network's probability is not an alpha: it is unsure (0.1-0.9) over wide bands and
    # faint (0.02) over much of the background. At or below levels[0] it is taken as
    # background, at or above levels[1] as person, linear between; symmetric about 0.5, so
    # the person (alpha >= 0.5) is the network's before the filter. The filter then gives
    # the edge its softness, from the photo.
    levels: tuple[float, float] = (0.25, 0.75)


def _levels(matte: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    low, high = levels
    if (low, high) == (0.0, 1.0):
        return matte
    stretched = (matte - np.float32(low)) * np.float32(1 / (high - low))
    return np.clip(stretched, 0.0, 1.0, out=stretched)


# Chosen on the training splits of EG1800 and CCP (60 photos each; benchmarks/refinement.py
# --tune, benchmarks/refinement/tune.md), by the mean boundary F of night and dark-light:
# windows of 8 network pixels (4: less gained; 12 and 16: better on EG1800's portraits,
# worse on CCP's full-length photos), (0.25, 0.75) levels, eps 1e-3 (1e-4 and 1e-2 lost on
# one set or the other); a working size of 1.5 or 2 times the network's made no difference.
# "fast" (camera and video frames): a gray guide, cheaper, as good on EG1800 and a little
# worse on CCP, where clothes and background are often equally bright; best at 6 pixels.
# Its working size is the network's own (work_scale 1): on 640- and 1280-pixel frames that
# measured as good as 1.25 and 1.5 and a quarter cheaper (--work-scales, work-scales-*.md),
# and the page's camera then guides with the network input it has already shrunk.
REFINEMENTS: dict[str, Refinement] = {
    "best": Refinement(guide="rgb", work_scale=2.0, radius=8.0, eps=1e-3),
    "fast": Refinement(guide="gray", work_scale=1.0, radius=6.0, eps=1e-3),
}


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, any number of channels (OpenCV: constant time per pixel)."""
    size = 2 * radius + 1
    return cv2.boxFilter(image, -1, (size, size), borderType=cv2.BORDER_REFLECT)


def _covariance(x, y, mean_x, mean_y, radius: int) -> np.ndarray:
    """Window covariance of two planes, given their window means."""
    covariance = _box(x * y, radius)
    covariance -= mean_x * mean_y
    return covariance


# Both filters work on contiguous one-channel planes: OpenCV's box filter is as fast per
# plane, and numpy's arithmetic on interleaved channels (strided views) was 5x slower.
def _gray_coefficients(guide: np.ndarray, source: np.ndarray, radius: int, eps: float):
    """Window means of the guided filter's a, b for a one-channel guide: HxWx2."""
    mean_i, mean_p = _box(guide, radius), _box(source, radius)
    a = _covariance(guide, source, mean_i, mean_p, radius)
    variance = _covariance(guide, guide, mean_i, mean_i, radius)
    variance += eps
    a /= variance
    b = mean_p - a * mean_i
    return cv2.merge([_box(a, radius), _box(b, radius)])


def _color_coefficients(guide: np.ndarray, source: np.ndarray, radius: int, eps: float):
    """Window means of the guided filter's a (3 channels) and b for an RGB guide: HxWx4.

    Per window, a = (Sigma + eps I)^-1 cov(I, p), with the symmetric 3x3 inverse written out.
    """
    r, g, b = cv2.split(guide)
    mean_r, mean_g, mean_b, mean_p = (_box(plane, radius) for plane in (r, g, b, source))
    cov_r = _covariance(r, source, mean_r, mean_p, radius)
    cov_g = _covariance(g, source, mean_g, mean_p, radius)
    cov_b = _covariance(b, source, mean_b, mean_p, radius)
    rr = _covariance(r, r, mean_r, mean_r, radius) + eps
    rg = _covariance(r, g, mean_r, mean_g, radius)
    rb = _covariance(r, b, mean_r, mean_b, radius)
    gg = _covariance(g, g, mean_g, mean_g, radius) + eps
    gb = _covariance(g, b, mean_g, mean_b, radius)
    bb = _covariance(b, b, mean_b, mean_b, radius) + eps
    inv_rr = gg * bb - gb * gb
    inv_rg = gb * rb - rg * bb
    inv_rb = rg * gb - gg * rb
    inv_gg = rr * bb - rb * rb
    inv_gb = rb * rg - rr * gb
    inv_bb = rr * gg - rg * rg
    inverse_det = 1 / (rr * inv_rr + rg * inv_rg + rb * inv_rb)
    a_r = (inv_rr * cov_r + inv_rg * cov_g + inv_rb * cov_b) * inverse_det
    a_g = (inv_rg * cov_r + inv_gg * cov_g + inv_gb * cov_b) * inverse_det
    a_b = (inv_rb * cov_r + inv_gb * cov_g + inv_bb * cov_b) * inverse_det
    offset = mean_p - a_r * mean_r - a_g * mean_g - a_b * mean_b
    return cv2.merge([_box(plane, radius) for plane in (a_r, a_g, a_b, offset)])


def _guide(rgb: np.ndarray, kind: str) -> np.ndarray:
    """uint8 RGB -> float32 guide in [0, 1]: HxWx3, or HxW luma for "gray"."""
    if kind == "gray":
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return rgb.astype(np.float32) * np.float32(1 / 255)


# Pictures above this many pixels are halved with cv2.pyrDown before the area resize;
# camera frames (up to 1080p) are not, so the page's plain area resize (web/src) agrees.
PYRAMID_MIN_PIXELS = 4_000_000


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """To width x height: area averaging when shrinking (for large photos halvings with
    cv2.pyrDown first while it is at least twice as large: OpenCV's area resize of a 12 MP
    photo by a fraction is 2x slower), bilinear when enlarging."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    if width * height > image.shape[0] * image.shape[1]:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    while (
        image.shape[0] * image.shape[1] > PYRAMID_MIN_PIXELS
        and image.shape[1] >= 2 * width
        and image.shape[0] >= 2 * height
    ):
        image = cv2.pyrDown(image)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _soft_tiles(small_soft: np.ndarray, height: int, width: int, tile: int = TILE) -> list:
    """(top, bottom, left, right) of the tile x tile blocks of a height x width picture
    that hold a True of `small_soft`, a boolean map of it at a smaller (working) size.
    Looked up at the working size: a 12 MP map would cost more than the tiles save."""
    small_height, small_width = small_soft.shape
    scale_y, scale_x = small_height / height, small_width / width
    # A working pixel covers 1 / scale full-size pixels: one more on each side, so that a
    # tile the bilinear stretch reaches into is found too.
    soft = cv2.dilate(small_soft.view(np.uint8), np.ones((3, 3), np.uint8))
    rows = np.flatnonzero(soft.any(axis=1))
    if rows.size == 0:
        return []
    tiles = []
    for top in range(0, height, tile):
        bottom = min(height, top + tile)
        row_from, row_to = int(top * scale_y), math.ceil(bottom * scale_y)
        band = soft[row_from:row_to]
        if not band.any():
            continue
        columns = band.any(axis=0)
        for left in range(0, width, tile):
            right = min(width, left + tile)
            if columns[int(left * scale_x) : math.ceil(right * scale_x)].any():
                tiles.append((top, bottom, left, right))
    return tiles


def _sample(
    small: np.ndarray, scale_y: float, scale_x: float, box, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """Bilinear values of `small` at the full-size pixels of `box`, where
    cv2.resize(small, full size, INTER_LINEAR) puts them (pixel centres aligned): an affine
    warp of the tile alone, at most 4 channels."""
    top, bottom, left, right = box
    matrix = np.array(
        [
            [scale_x, 0, (left + 0.5) * scale_x - 0.5],
            [0, scale_y, (top + 0.5) * scale_y - 0.5],
        ]
    )
    return cv2.warpAffine(
        small, matrix, (right - left, bottom - top),
        flags=interpolation | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip


def guided_upsample(
    rgb: np.ndarray, matte: np.ndarray, settings: Refinement, network_long_side: int
) -> np.ndarray:
    """A low-resolution matte -> float32 alpha at the photo's size that follows its edges."""
    height, width = rgb.shape[:2]
    long_side = max(height, width)
    work_long = min(long_side, max(1, round(settings.work_scale * network_long_side)))
    scale = work_long / long_side
    work_width, work_height = max(1, round(width * scale)), max(1, round(height * scale))
    source = _resize(np.ascontiguousarray(matte, np.float32), work_width, work_height)
    source = _levels(source, settings.levels)
    guide = _guide(_resize(rgb, work_width, work_height), settings.guide)
    radius = max(1, round(settings.radius * work_long / network_long_side))
    coefficients = (_gray_coefficients if settings.guide == "gray" else _color_coefficients)(
        guide, source, radius, np.float32(settings.eps)
    )

    def apply(coefficients: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        """alpha = a . I + b, clipped to [0, 1]."""
        if pixels.ndim == 2:
            alpha = coefficients[..., 0] * pixels + coefficients[..., 1]
        else:
            alpha = np.einsum("hwc,hwc->hw", coefficients[..., :3], pixels)
            alpha += coefficients[..., 3]
        return np.clip(alpha, 0.0, 1.0, out=alpha)

    if (work_height, work_width) == (height, width):
        return apply(coefficients, guide)
    # At full size: the working-size result stretched where the matte is settled (0 or 1,
    # where a is 0 and the photo adds nothing), a . I + b from the stretched coefficients in
    # the tiles where it is not.
    at_work = apply(coefficients, guide)
    alpha = cv2.resize(at_work, (width, height), interpolation=cv2.INTER_LINEAR)
    slope = np.abs(coefficients[..., : coefficients.shape[-1] - 1]).sum(axis=-1)
    unsettled = (slope > 1e-3) | ((at_work > SETTLED) & (at_work < 1 - SETTLED))
    scale_y, scale_x = work_height / height, work_width / width
    for box in _soft_tiles(unsettled, height, width):
        top, bottom, left, right = box
        pixels = _guide(rgb[top:bottom, left:right], settings.guide)
        alpha[top:bottom, left:right] = apply(_sample(coefficients, scale_y, scale_x, box), pixels)
    return alpha


def refine_alpha(
    rgb: np.ndarray, probability: np.ndarray, quality: str = "best", clean: bool = True
) -> np.ndarray:
    """The network's person probability (any size) -> alpha at the photo's size, refined
    with the setting REFINEMENTS[quality] ("best" for photos, "fast" for frames), then
    (with `clean`) made solid and empty away from the person's outline (`clean_alpha`)."""
    try:
        settings = REFINEMENTS[quality]
    except KeyError:
        raise ValueError(
            f"Unknown refinement {quality!r}; choose one of: {', '.join(REFINEMENTS)}."
        ) from None
    alpha = guided_upsample(rgb, probability, settings, max(probability.shape[:2]))
    return clean_alpha(alpha, in_place=True) if clean else alpha


# --- clean cutouts ---------------------------------------------------------------------------

# The guided filter spreads softness over its windows (tens of pixels on a photo): faint
# ghosts of the background beside the person, skin and grey hair half transparent inside.
# A cutout is kept solid inside the person and empty outside it, except in a band along the
# outline (hair, motion blur) EDGE_BAND of the long side wide (half on each side), at least
# EDGE_BAND_MIN pixels: there the refined alpha is kept at the outline and fades to the
# solid or empty value at the band's edge (no seam where it ends), its contrast raised by
# EDGE_CONTRAST about 0.5 (where the photo shows no edge, the filter's ramps are wider
# than a real edge). The person (alpha >= 0.5) is left as it was.
# Chosen on the training splits of EG1800 and CCP (60 photos each, dark-light int8, quality
# "best"; benchmarks/clean_cutouts.py measures it on the test splits): the ghost share
# (soft pixels farther than 1% of the long side from the true outline) fell from 7.5% and
# 7.6% to 0.65% and 0.37%; contrast 1.5 left 0.72% and 0.42%. An earlier trial (40 photos
# each, contrast 1): a band twice as wide left 1.7% and 1.2%, this band without the fade
# 1.1% and 0.75%, with it 0.92% and 0.60%.
EDGE_BAND = 0.01
EDGE_BAND_MIN = 3.0
EDGE_CONTRAST = 2.0
# The band is drawn at a working size where its half width is this many pixels (about 400
# on the long side; smaller pictures at their own size): the morphology costs the same for
# a camera frame and a 12 MP photo, and at full size only the band's tiles are computed.
# 4 (twice the size) measured the same ghost share within 0.04 points.
EDGE_BAND_WORK = 2.0
# Background enclosed by the person and smaller than this share of the frame is a hole in
# the matte (a helmet, a collarbone), not background seen through (between arm and body),
# looked for at HOLE_WORK_LONG_SIDE (specks of a few pixels in hair are no holes). On the
# training splits 0.1% at 200 pixels raised boundary F (CCP 0.7527 -> 0.7556, EG1800 the
# same or better); 0.5% and 1% lost CCP's gaps between arms and body (IoU -0.001, -0.004),
# and at 400 or full size EG1800's hair specks (boundary F -0.001 to -0.008).
MAX_HOLE = 0.001
HOLE_WORK_LONG_SIDE = 200


def clean_settings() -> dict[str, float]:
    """The cleaning's numbers, as the page's camera (web/src/refine.js cleanAlpha) gets them
    in camera.json."""
    return {
        "edge_band": EDGE_BAND,
        "edge_band_min": EDGE_BAND_MIN,
        "edge_contrast": EDGE_CONTRAST,
        "edge_band_work": EDGE_BAND_WORK,
        "max_hole": MAX_HOLE,
        "hole_work_long_side": HOLE_WORK_LONG_SIDE,
    }


def edge_band(height: int, width: int) -> float:
    """Width in pixels of the band along the outline where alpha may be soft (half of it
    on each side of the outline)."""
    return max(EDGE_BAND_MIN, EDGE_BAND * max(height, width))


def _small_holes(person: np.ndarray, max_area: float) -> np.ndarray:
    """uint8 map of the background components (4-connected) that touch no border of the
    picture and have at most `max_area` pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - person, connectivity=4)
    height, width = person.shape
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right = left + stats[:, cv2.CC_STAT_WIDTH]
    bottom = top + stats[:, cv2.CC_STAT_HEIGHT]
    inside = (left > 0) & (top > 0) & (right < width) & (bottom < height)
    small = inside & (stats[:, cv2.CC_STAT_AREA] <= max_area)
    small[0] = False  # label 0: the person itself
    return small[labels].view(np.uint8)


def _holes(alpha: np.ndarray, max_hole: float) -> np.ndarray | None:
    """uint8 map (alpha's size) of the holes in the person of at most `max_hole` of the
    frame, or None: looked for at HOLE_WORK_LONG_SIDE, where specks of a few pixels (the
    filter's texture in hair, at the outline) are no holes."""
    height, width = alpha.shape
    scale = min(1.0, HOLE_WORK_LONG_SIDE / max(height, width))
    small_width, small_height = max(1, round(width * scale)), max(1, round(height * scale))
    small = cv2.resize(alpha, (small_width, small_height), interpolation=cv2.INTER_LINEAR)
    person = (small >= 0.5).view(np.uint8)
    holes = _small_holes(person, max_hole * small_width * small_height)
    return _upsample_mask(holes, width, height) if holes.any() else None


def _upsample_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    if mask.shape == (height, width):
        return mask
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def _edge_weight(person: np.ndarray, reach: float) -> np.ndarray:
    """float32: 1 on the outline of the uint8 map `person`, falling to 0 at `reach` pixels
    from it: 1 - |2 m - 1|, m the mean of `person` in a window of `reach` pixels on each
    side (linear in the distance across a straight outline). A box filter, constant time
    per pixel, where a distance transform cost several times more."""
    size = 2 * max(1, round(reach)) + 1
    mean = cv2.blur(person.astype(np.float32), (size, size), borderType=cv2.BORDER_REFLECT)
    mean *= 2
    mean -= 1
    weight = np.abs(mean, out=mean)
    return np.subtract(1, weight, out=weight)


def clean_alpha(
    alpha: np.ndarray, max_hole: float = MAX_HOLE, in_place: bool = False
) -> np.ndarray:
    """alpha (float32, [0, 1]) -> 1 on the person (alpha >= 0.5), 0 elsewhere, except in
    the band of `edge_band` pixels along the person's outline, where the alpha's contrast
    is raised and it fades to those values; small background holes in the person
    (`max_hole` of the frame) filled. The person (alpha >= 0.5) stays as it was outside
    those holes: IoU and boundary only change there. `in_place`: into `alpha` itself (a
    12 MP copy costs a third of the cleaning)."""
    height, width = alpha.shape
    if not in_place or alpha.dtype != np.float32 or not alpha.flags.c_contiguous:
        alpha = np.array(alpha, np.float32, order="C")
    reach = edge_band(height, width) / 2
    scale = min(1.0, EDGE_BAND_WORK / reach)
    work_width, work_height = max(1, round(width * scale)), max(1, round(height * scale))
    small = alpha
    if scale < 1:  # bilinear: only where the outline lies matters (area cost 3x more)
        small = cv2.resize(alpha, (work_width, work_height), interpolation=cv2.INTER_LINEAR)
    person = (small >= 0.5).view(np.uint8)
    # Filled holes, and a working pixel around them, are person; the band there is settled.
    fill = _holes(small, max_hole)
    if fill is not None:
        person = person | fill
        fill = cv2.dilate(fill, np.ones((3, 3), np.uint8))
    weight = _edge_weight(person, reach * scale)
    if fill is not None:
        weight[fill.view(bool)] = 0
    # The band at full size, tile by tile where it reaches: hard + weight (stretched - hard).
    scale_y, scale_x = work_height / height, work_width / width
    band = []
    for box in _soft_tiles(weight > 0, height, width):
        top, bottom, left, right = box
        tile = alpha[top:bottom, left:right]
        part = tile * np.float32(EDGE_CONTRAST)
        part += np.float32(0.5 - 0.5 * EDGE_CONTRAST)
        np.clip(part, 0, 1, out=part)
        hard = (tile >= 0.5).astype(np.float32)
        part -= hard
        part *= _sample(weight, scale_y, scale_x, box)
        part += hard
        band.append((box, part))
    # Everywhere else solid or empty: alpha >= 0.5 -> 1, else 0.
    cv2.threshold(alpha, np.nextafter(np.float32(0.5), 0), 1.0, cv2.THRESH_BINARY, dst=alpha)
    for (top, bottom, left, right), part in band:
        alpha[top:bottom, left:right] = part
    if fill is not None:
        fill = fill.astype(np.float32)
        for box in _soft_tiles(fill > 0, height, width):
            top, bottom, left, right = box
            tile = alpha[top:bottom, left:right]
            np.maximum(tile, _sample(fill, scale_y, scale_x, box, cv2.INTER_NEAREST), out=tile)
    return alpha


# --- foreground colours ----------------------------------------------------------------------

# Blur-fusion's two box radii, the paper's 90 and 6 pixels, at a working size of at most
# FOREGROUND_WORK_LONG_SIDE: the first must reach past the soft edge to colours that are
# all person (or all background); the blurred colours are smooth, so only the final
# per-pixel step needs the full size.
FOREGROUND_RADII = (90, 6)
# Within this of alpha 0 or 1 a pixel keeps the photo's colour: the old background's share
# of it is at most 4%, 10 grey levels at the very worst; a fifth fewer pixels than at 2%.
FOREGROUND_SETTLED = 0.04
FOREGROUND_WORK_LONG_SIDE = 512
# Soft pixels whose colours are worked out (or blended) at once: each costs 30-60 bytes
# meanwhile (maps, samples, sums), 180 MB for a 40 MP photo with a tenth of it soft.
FOREGROUND_CHUNK = 1 << 18


def _blur_fusion_means(foreground: list, background: list, alpha: np.ndarray, radius: int):
    """Local means of the person's colours (weighted by alpha) and the background's (by
    1 - alpha) around every pixel, as lists of planes."""
    mean_alpha = _box(alpha, radius)
    to_foreground = 1 / (mean_alpha + 1e-5)
    to_background = 1 / (1 - mean_alpha + 1e-5)
    rest = 1 - alpha
    mean_foreground = [_box(plane * alpha, radius) * to_foreground for plane in foreground]
    mean_background = [_box(plane * rest, radius) * to_background for plane in background]
    return mean_foreground, mean_background


def _fuse(image: list, alpha, mean_foreground: list, mean_background: list) -> list:
    """F = F_mean + alpha (I - alpha F_mean - (1 - alpha) B_mean): what is left of the pixel
    once the background's share is taken out, clipped to [0, 1]; lists of planes."""
    rest = 1 - alpha
    fused = []
    for pixel, mean_f, mean_b in zip(image, mean_foreground, mean_background, strict=True):
        plane = pixel - alpha * mean_f - rest * mean_b
        plane *= alpha
        plane += mean_f
        fused.append(np.clip(plane, 0.0, 1.0, out=plane))
    return fused


def _point_maps(index: np.ndarray, width: int, scale_y: float, scale_x: float):
    """cv2.remap maps (fixed point, as remap uses them) that sample a smaller picture at
    the full-size pixels `index`, where cv2.resize to the full size would put them."""
    count = index.size
    columns = 1024  # remap's maps stay under its 32767-pixel side limit
    rows = -(-count // columns)
    map_x = np.zeros(rows * columns, np.float32)
    map_y = np.zeros(rows * columns, np.float32)
    ys, xs = np.divmod(index, width)
    np.multiply(xs, np.float32(scale_x), out=map_x[:count], casting="unsafe")
    np.multiply(ys, np.float32(scale_y), out=map_y[:count], casting="unsafe")
    map_x[:count] += np.float32(0.5 * scale_x - 0.5)  # pixel centres: (x + 0.5) s - 0.5
    map_y[:count] += np.float32(0.5 * scale_y - 0.5)
    return cv2.convertMaps(map_x.reshape(rows, columns), map_y.reshape(rows, columns), cv2.CV_16SC2)


def _sample_points(small: np.ndarray, maps, count: int) -> np.ndarray:
    """Bilinear values of `small` (at most 4 channels) at the points of `_point_maps`."""
    sampled = cv2.remap(small, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sampled.reshape(-1, small.shape[2])[:count]


def _pixels(picture: np.ndarray) -> np.ndarray:
    """A C-contiguous HxWxC uint8 picture as a flat array of one C-byte item per pixel:
    numpy gathers and scatters those 3-4x faster than rows of an (H*W, C) array."""
    return picture.reshape(-1).view(f"V{picture.shape[2]}")


@dataclass
class EdgeColors:
    """The person's own colours (blur-fusion) at the matte's soft pixels: what the photo's
    colour is once the old background's share is taken out. Only these pixels differ from
    the photo, so compositing writes them and nothing else (a 12 MP copy costs as much as
    the estimate)."""

    index: np.ndarray  # flat pixel indices (row * width + column), ascending
    colors: np.ndarray  # (N, 3) uint8
    alpha: np.ndarray  # (N, 1) float32: the matte at those pixels

    def paint(self, picture: np.ndarray) -> np.ndarray:
        """Write the colours into a C-contiguous HxWx3 or HxWx4 uint8 picture, in place
        (the 4th channel of HxWx4 gets 0: compose.cutout sets the matte after)."""
        channels = picture.shape[2]
        values = self.colors
        if channels == 4:
            values = np.zeros((self.index.size, 4), np.uint8)
            values[:, :3] = self.colors
        _pixels(picture)[self.index] = values.reshape(-1).view(f"V{channels}")
        return picture

    def blend(self, picture: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
        """picture (alpha-blended photo over backdrop) with its soft pixels blended again
        from the person's colours: alpha F + (1 - alpha) backdrop. In place; HxWx3 uint8
        (`backdrop` may be a broadcast view of one colour: read at the soft pixels only)."""
        written = _pixels(picture)
        for start in range(0, self.index.size, FOREGROUND_CHUNK):  # 30 bytes a pixel each
            index = self.index[start : start + FOREGROUND_CHUNK]
            if backdrop.flags.c_contiguous:
                behind = _pixels(backdrop)[index].view(np.uint8).reshape(-1, 3)
            else:
                behind = backdrop[np.divmod(index, backdrop.shape[1])]
            colors = self.colors[start : start + FOREGROUND_CHUNK].astype(np.float32)
            mixed = behind.astype(np.float32)
            mixed -= colors
            mixed *= 1 - self.alpha[start : start + FOREGROUND_CHUNK]
            mixed += colors  # F + (1 - alpha) (B - F)
            mixed += 0.5
            values = mixed.astype(np.uint8)  # in 0..255.5: rounds, never wraps
            written[index] = values.reshape(-1).view("V3")
        return picture


def edge_colors(rgb: np.ndarray, alpha: np.ndarray) -> EdgeColors | None:
    """The person's colours at the pixels whose alpha is more than FOREGROUND_SETTLED from
    0 and 1; None when there are none."""
    height, width = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb)
    alpha = np.ascontiguousarray(alpha, np.float32)
    soft = cv2.inRange(alpha, FOREGROUND_SETTLED, 1 - FOREGROUND_SETTLED)
    index = np.flatnonzero(soft)
    if index.size == 0:
        return None
    long_side = max(height, width)
    work_long = min(long_side, FOREGROUND_WORK_LONG_SIDE)
    scale = work_long / long_side
    work_width, work_height = max(1, round(width * scale)), max(1, round(height * scale))
    work_alpha = _resize(alpha, work_width, work_height)
    image = _resize(rgb, work_width, work_height).astype(np.float32) * np.float32(1 / 255)
    planes = list(cv2.split(image))
    large, small = FOREGROUND_RADII
    mean_f, mean_b = _blur_fusion_means(planes, planes, work_alpha, large)
    first = _fuse(planes, work_alpha, mean_f, mean_b)
    mean_f, mean_b = _blur_fusion_means(first, mean_b, work_alpha, small)
    merged_f, merged_b = cv2.merge(mean_f), cv2.merge(mean_b)
    weight = alpha.reshape(-1)[index][:, None]
    pixels = _pixels(rgb)
    colors = np.empty((index.size, 3), np.uint8)
    for start in range(0, index.size, FOREGROUND_CHUNK):
        stop = min(index.size, start + FOREGROUND_CHUNK)
        part = index[start:stop]
        maps = _point_maps(part, width, work_height / height, work_width / width)
        point_f = _sample_points(merged_f, maps, part.size)
        point_b = _sample_points(merged_b, maps, part.size)
        part_weight = weight[start:stop]
        photo = pixels[part].view(np.uint8).reshape(-1, 3)
        # F = F_mean + alpha (I - alpha F_mean - (1 - alpha) B_mean), per soft pixel.
        fused = photo.astype(np.float32) * np.float32(1 / 255)
        fused -= point_b
        point_b -= point_f  # B_mean - F_mean
        point_b *= part_weight
        fused += point_b  # I - B_mean + alpha (B_mean - F_mean) = I - alpha F - (1 - alpha) B
        fused *= part_weight
        fused += point_f
        fused *= 255
        fused += 0.5
        colors[start:stop] = np.clip(fused, 0, 255, out=fused)  # rounded (cast: truncated)
    return EdgeColors(np.ascontiguousarray(index), colors, weight)


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 RGB whose semi-transparent pixels have the person's colour without the old
    background's (blur-fusion, two passes; `edge_colors`); the rest is the photo's.

    Composite with `alpha` in front of any background instead of `rgb`: no blue fringe from
    a sky, no light halo around dark hair.
    """
    colors = edge_colors(rgb, alpha)
    return rgb if colors is None else colors.paint(np.ascontiguousarray(rgb).copy())


# --- opt-in high-quality matting ---------------------------------------------------------------

HQ_INSTALL = 'pip install "humanmatting[hq]"  (or: pip install pymatting)'
# Closed-form matting solves one equation per unknown pixel: beyond this many the photo is
# matted at a reduced size (then guided-upsampled), so that a 12 MP photo stays in seconds.
HQ_MAX_UNKNOWN = 250_000
# The band of unknown pixels on each side of the edge, as a share of the working long side:
# on 15+15 training photos of EG1800 and CCP, 1% raised IoU and boundary F on both; 2%
# was better on EG1800's portraits but lost CCP's thin arms and legs (IoU -0.012).
HQ_BAND = 0.01
HQ_WORK_LONG_SIDE = 1600
# The closed-form Laplacian's regularisation and a Gaussian blur (sigma, working pixels) of
# the photo it is built on: with pymatting's default (1e-7, no blur) it followed the 8x8
# blocks of JPEG compression in dark, low-contrast areas (square blotches, stair-stepped
# edges); 1e-6 on a 1-pixel blur keeps hair strands and loses the blocks.
HQ_EPSILON = 1e-6
HQ_SMOOTH = 1.0
# The solver's default time limit per photo: it stops there and keeps what it reached.
HQ_SECONDS = 60.0


class HQUnavailableError(ImportError):
    """pymatting (the optional [hq] extra) is not installed; the message says how to get it."""


def require_hq():
    """pymatting, or HQUnavailableError naming the command that installs it."""
    try:
        import pymatting
    except ImportError:
        raise HQUnavailableError(
            f"High-quality matting needs pymatting, which is not installed; install it with: "
            f"{HQ_INSTALL}"
        ) from None
    return pymatting


def trimap(alpha: np.ndarray, band: int) -> np.ndarray:
    """float64 trimap: 1 sure person, 0 sure background, 0.5 unknown: `band` pixels on each
    side of the matte's edge (alpha = 0.5). A fixed width, not the matte's soft zone: where
    the network was unsure over a wide flat area, the solver has no colours to go by there
    and made blotches."""
    person = (alpha >= 0.5).view(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    result = np.full(alpha.shape, 0.5)
    result[cv2.erode(person, kernel).astype(bool)] = 1.0
    result[cv2.erode(1 - person, kernel).astype(bool)] = 0.0
    return result


class _TimeUp(Exception):
    pass


def _working_matte(
    alpha: np.ndarray, height: int, width: int, max_unknown: int
) -> tuple[np.ndarray, np.ndarray]:
    """`alpha` at the working size and its trimap: the long side at most HQ_WORK_LONG_SIDE,
    smaller still where the band would hold more than `max_unknown` pixels (the solver's
    cost grows with them)."""
    long_side = max(height, width)
    scale = min(1.0, HQ_WORK_LONG_SIDE / long_side)
    band = max(2, round(HQ_BAND * long_side * scale))
    small_alpha = _resize(alpha, max(1, round(width * scale)), max(1, round(height * scale)))
    tri = trimap(small_alpha, band)
    unknown = int((tri == 0.5).sum())
    if unknown > max_unknown:  # still too many: a smaller working size
        shrink = math.sqrt(max_unknown / unknown)
        scale *= shrink
        band = max(2, round(band * shrink))
        small_alpha = _resize(alpha, max(1, round(width * scale)), max(1, round(height * scale)))
        tri = trimap(small_alpha, band)
    return small_alpha, tri


def _laplacian_photo(rgb: np.ndarray, work_width: int, work_height: int) -> np.ndarray:
    """The photo the Laplacian is built on: float64 0..1 at the working size, blurred by
    HQ_SMOOTH so that the solver does not follow JPEG's 8x8 blocks."""
    image = cv2.GaussianBlur(_resize(rgb, work_width, work_height), (0, 0), HQ_SMOOTH)
    return image.astype(np.float64) / 255


def _progress_bar(progress: bool) -> Any:
    """HQ matting's tqdm bar (disabled unless `progress`): phases, then the solver's
    iterations; no total to show, so no "N steps" counter."""
    from tqdm.auto import tqdm

    return tqdm(
        total=None,
        desc="HQ matting: Laplacian",
        bar_format="{desc} [{elapsed}{postfix}]",
        disable=not progress,
    )


def _unknown_box(is_unknown: np.ndarray) -> tuple[slice, slice]:
    """The box around the unknown band, 2 pixels wider on each side: only it needs the
    solver."""
    work_height, work_width = is_unknown.shape
    rows = np.flatnonzero(is_unknown.any(axis=1))
    columns = np.flatnonzero(is_unknown.any(axis=0))
    top, bottom = max(0, rows[0] - 2), min(work_height, rows[-1] + 3)
    left, right = max(0, columns[0] - 2), min(work_width, columns[-1] + 3)
    return slice(top, bottom), slice(left, right)


def _band_system(
    pymatting: ModuleType, crop_tri: np.ndarray, crop_image: np.ndarray
) -> tuple[Any, np.ndarray, np.ndarray]:
    """The closed-form Laplacian's equations for the trimap's unknown pixels: the sparse
    matrix, the right side (what the known pixels contribute) and which pixels are unknown."""
    from pymatting.laplacian.cf_laplacian import cf_laplacian

    is_fg, _is_bg, is_known, is_unknown_flat = pymatting.trimap_split(crop_tri)
    laplacian = cf_laplacian(crop_image, epsilon=HQ_EPSILON, is_known=is_known)
    laplacian_u = laplacian[is_unknown_flat, :][:, is_unknown_flat]
    right_side = -laplacian[is_unknown_flat, :][:, is_known].dot(is_fg[is_known])
    return laplacian_u, right_side, is_unknown_flat


def _solve_until(
    laplacian_u: Any, right_side: np.ndarray, start: np.ndarray, deadline: float, bar: Any
) -> np.ndarray:
    """Preconditioned conjugate gradient from `start`, or where it stood when `deadline`
    (perf_counter) passed or it did not converge; reports its phases and iterations on
    `bar` and closes it."""
    from pymatting.preconditioner.ichol import ichol
    from pymatting.solver.cg import cg

    bar.set_description_str("HQ matting: preconditioner")  # refreshes the bar
    with contextlib.redirect_stdout(io.StringIO()):  # its retries print to stdout
        preconditioner = ichol(laplacian_u)
    reached = {"x": start}
    bar.set_description_str("HQ matting: solving")

    def watch(A, x, b, norm_b, r, norm_r):
        reached["x"] = x
        bar.update()
        bar.set_description_str(f"HQ matting: solving, iteration {bar.n}", refresh=False)
        bar.set_postfix(residual=f"{norm_r / max(norm_b, 1e-12):.1e}", refresh=False)
        if time.perf_counter() > deadline:
            raise _TimeUp

    timed_out = False
    try:
        solution = cg(
            laplacian_u, right_side, x0=start, rtol=1e-6, maxiter=2000, M=preconditioner,
            callback=watch,
        )  # fmt: skip
    except (_TimeUp, ValueError):  # ValueError: pymatting's "did not converge" at maxiter
        solution, timed_out = reached["x"], True
    ending = "time limit reached" if timed_out else "done"
    bar.set_description_str(f"HQ matting: {ending} after {bar.n} iterations")
    bar.close()
    return solution


def hq_matte(
    rgb: np.ndarray,
    alpha: np.ndarray,
    seconds: float = HQ_SECONDS,
    progress: bool = True,
    max_unknown: int = HQ_MAX_UNKNOWN,
) -> np.ndarray:
    """Closed-form alpha matting (pymatting) in a band around the matte's edge: finer hair
    and edges than the guided filter, in seconds. `alpha` (refined or not) gives the trimap.

    Stops the solver when `seconds` are up and keeps what it reached (the unknown band's
    starting values are `alpha`'s own); shows a progress bar unless `progress` is false.
    Needs the optional pymatting (HQUnavailableError says how to install it).
    """
    pymatting = require_hq()
    deadline = time.perf_counter() + seconds
    height, width = rgb.shape[:2]
    alpha = np.ascontiguousarray(alpha, np.float32)
    small_alpha, tri = _working_matte(alpha, height, width, max_unknown)
    work_height, work_width = small_alpha.shape
    image = _laplacian_photo(rgb, work_width, work_height)
    is_unknown = tri == 0.5
    if not is_unknown.any():
        return alpha
    bar = _progress_bar(progress)
    box = _unknown_box(is_unknown)
    crop_tri = tri[box]
    laplacian_u, right_side, is_unknown_flat = _band_system(
        pymatting, crop_tri, np.ascontiguousarray(image[box])
    )
    start = small_alpha[box].astype(np.float64).ravel()[is_unknown_flat]
    solution = _solve_until(laplacian_u, right_side, start, deadline, bar)
    # The trimap's sure person and background everywhere (the matte's unsure interior is
    # decided too), the solver's values in the band.
    solved = crop_tri.ravel().copy()
    solved[is_unknown_flat] = np.clip(solution, 0, 1)
    small_alpha = tri.astype(np.float32)
    small_alpha[box] = solved.reshape(crop_tri.shape)
    if (work_height, work_width) == (height, width):
        return small_alpha
    # Back to full size: guided by the photo, as the network's matte is (a fine radius:
    # the solved matte is already sharp at the working size).
    settings = Refinement(guide="rgb", work_scale=1.0, radius=1.0, eps=1e-4, levels=(0, 1))
    return guided_upsample(rgb, small_alpha, settings, max(work_height, work_width))
