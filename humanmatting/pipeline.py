"""One photo pipeline: matte a photo or a frame and put the person in front of a background.

    photo = matte_photo(matter, "photo.jpg", Background.parse("color", color="white"))
    photo.picture      # the result; photo.cutout, photo.matte, photo.prediction.timing
    photo.foreground.render(Background.parse("blur"))  # another background, no model run

The command line, the app and videos all call this, so that a background, the edges and
the foreground colours mean the same everywhere. It is two halves that can be called
apart: `matte_photo` (load, predict, optional HQ and smoothing) and `render` / `Foreground`
(alpha -> picture): the app keeps mattes and re-renders when only the background changes,
and videos smooth the alpha between the two.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from humanmatting import compose
from humanmatting.compose import DEFAULT_BACKGROUND, DEFAULT_BLUR, DEFAULT_COLOR, MATTE, Color
from humanmatting.preprocess import ImageInput, load_rgb
from humanmatting.refine import HQ_SECONDS, EdgeColors, hq_matte
from humanmatting.runtime import Matter, Prediction
from humanmatting.settings import DEFAULT_MAX_PIXELS

# What can go behind the person (compose.BACKGROUNDS), plus the matte itself as an output.
BACKGROUND_KINDS: tuple[str, ...] = (*compose.BACKGROUNDS, MATTE)
# Videos and camera frames have no transparency (MP4 has no alpha channel).
FRAME_KINDS: tuple[str, ...] = tuple(kind for kind in BACKGROUND_KINDS if kind != "transparent")
MAX_BLUR = 500.0  # Gaussian sigma in pixels: far beyond any useful blur, bounded all the same
# Edges: "soft" keeps the alpha as it is; "hard" makes alpha >= HARD_EDGE person, the rest not.
HARD_EDGE = 0.5
EDGES: dict[str, float | None] = {"soft": None, "hard": HARD_EDGE}
Edges = str | float  # "soft", "hard", or a number from 0 to 1: hard at that threshold
AlphaFunction = Callable[[np.ndarray], np.ndarray]  # e.g. video.AlphaSmoother


def edge_threshold(edges: Edges) -> float | None:
    """The alpha threshold of `edges`: None for "soft", HARD_EDGE for "hard", or the number
    itself (from 0 to 1: hard edges at that alpha); ValueError naming the choices."""
    if isinstance(edges, str):
        if edges not in EDGES:
            raise ValueError(f"Unknown edges {edges!r}; choose one of {', '.join(EDGES)}.")
        return EDGES[edges]
    if isinstance(edges, bool) or not isinstance(edges, (int, float)):
        raise ValueError(f"Unknown edges {edges!r}; choose one of {', '.join(EDGES)}.")
    if not 0.0 <= edges <= 1.0:  # also NaN
        raise ValueError(f"A hard edge's threshold must be a number from 0 to 1, not {edges}.")
    return float(edges)


def _is_decoded(picture: object) -> bool:
    """An RGB, RGBA or gray uint8 array: what compose covers a frame with as it is."""
    return (
        isinstance(picture, np.ndarray)
        and picture.dtype == np.uint8
        and (picture.ndim == 2 or (picture.ndim == 3 and picture.shape[2] in (3, 4)))
        and picture.size > 0
    )


@dataclass(frozen=True, eq=False)
class Background:
    """What goes behind the person: `kind` (BACKGROUND_KINDS) and the setting it uses: a
    `color` for "color", a `picture` for "image" (a path, bytes, PIL image or array; decoded
    by `load`), a `blur` strength (Gaussian sigma in pixels) for "blur". "matte" gives the
    8-bit matte instead of a picture of the person.

    Checked when made: an unknown kind, colour or blur is a ValueError that says what to
    use. An "image" without a picture is allowed (a page may choose the kind first), and
    `load` or rendering refuses it. Two backgrounds are equal when their kind and settings
    are; decoded pictures compare by identity (an array has no cheap equality).
    """

    kind: str = DEFAULT_BACKGROUND
    color: Color = compose.parse_color(DEFAULT_COLOR)
    picture: ImageInput | None = None
    blur: float = DEFAULT_BLUR

    def __post_init__(self) -> None:
        if self.kind not in BACKGROUND_KINDS:
            hint = " (spelled color)" if self.kind == "colour" else ""
            raise ValueError(
                f"Unknown background {self.kind!r}{hint}; choose one of "
                f"{', '.join(BACKGROUND_KINDS)}."
            )
        object.__setattr__(self, "color", compose.parse_color(self.color))
        object.__setattr__(self, "blur", _blur_strength(self.blur))

    @classmethod
    def parse(
        cls,
        kind: str = DEFAULT_BACKGROUND,
        color: str | Color | None = None,
        picture: ImageInput | None = None,
        blur: float | str | None = None,
    ) -> Background:
        """The background that the words of a command line or a page describe: a kind
        and its settings, None meaning the default (DEFAULT_COLOR, DEFAULT_BLUR). Only
        the setting that `kind` uses is kept (a page sends them all), so two requests for
        the same background give equal values. ValueError for a bad one."""
        if isinstance(kind, str):
            kind = kind.strip().lower()
        return cls(
            kind,
            DEFAULT_COLOR if color is None or kind != "color" else color,
            picture if kind == "image" else None,
            DEFAULT_BLUR if blur is None or kind != "blur" else blur,
        )

    def load(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> Background:
        """This background with its picture decoded (to RGB, EXIF-rotated, at most
        `max_pixels`): a broken picture fails here, before any model runs. Self when
        there is nothing to decode."""
        if self.kind != "image":
            return self
        if self.picture is None:
            raise ValueError(
                "The image background needs a background picture: choose one, or another "
                "background."
            )
        if _is_decoded(self.picture):
            return self
        return Background("image", self.color, load_rgb(self.picture, max_pixels), self.blur)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Background):
            return NotImplemented
        if _plain(self.picture) and _plain(other.picture):
            same_picture = self.picture == other.picture
        else:
            same_picture = self.picture is other.picture
        return same_picture and (self.kind, self.color, self.blur) == (
            other.kind,
            other.color,
            other.blur,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.color, self.blur))

    def __repr__(self) -> str:
        setting = {
            "color": f", color={self.color!r}",
            "image": f", picture={_describe(self.picture)}",
            "blur": f", blur={self.blur:g}",
        }.get(self.kind, "")
        return f"Background({self.kind!r}{setting})"


def _plain(picture: object) -> bool:
    """A picture named by a value that compares cheaply: None, a path, bytes."""
    return picture is None or isinstance(picture, (str, os.PathLike, bytes))


def _describe(picture: object) -> str:
    if isinstance(picture, np.ndarray):
        return f"<{'x'.join(map(str, picture.shape))} {picture.dtype} array>"
    if isinstance(picture, bytes):
        return f"<{len(picture)} bytes>"
    return repr(picture) if _plain(picture) else f"<{type(picture).__name__}>"


def _blur_strength(blur: float | str) -> float:
    try:
        strength = float(blur)
    except (TypeError, ValueError, OverflowError):
        strength = math.nan
    if isinstance(blur, bool) or not 0.0 <= strength <= MAX_BLUR:  # also NaN and inf
        raise ValueError(
            f"The blur strength must be a number from 0 to {MAX_BLUR:g} (pixels), not {blur!r}."
        )
    return strength


class Foreground:
    """A photo and its alpha, ready to go in front of any background.

    The edges (soft, hard) and whether the person's own colours replace the photo's in the
    soft edge (`foreground_colors`; none for hard edges) are set once. The colours are
    estimated at most once and shared by the cutout and every background rendered, so a
    change of background re-renders without estimating them again (for 12 MP, the
    estimate costs as much as the rest of the rendering).
    """

    def __init__(
        self,
        rgb: np.ndarray,
        alpha: np.ndarray,
        edges: Edges = "soft",
        foreground_colors: bool = True,
    ):
        self.rgb = rgb
        self.alpha = alpha
        self.edges = edges
        self.threshold = edge_threshold(edges)
        self.foreground_colors = bool(foreground_colors)

    @functools.cached_property
    def colors(self) -> EdgeColors | None:
        """The person's colours in the soft edge; None without foreground colours, for
        hard edges, or where the matte has no soft pixel."""
        if not self.foreground_colors:
            return None
        return compose.soft_edge_colors(self.rgb, self.alpha, self.threshold)

    @functools.cached_property
    def cutout(self) -> np.ndarray:
        """HxWx4 uint8 RGBA: the person on a transparent background (shared: do not
        modify it in place)."""
        return compose.cutout(
            self.rgb, self.alpha, self.threshold, self.foreground_colors, self.colors
        )

    @functools.cached_property
    def matte(self) -> np.ndarray:
        """HxW uint8: the matte as a grayscale picture, with these edges."""
        return compose.matte_picture(self.alpha, self.threshold)

    def render(self, background: Background, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """The person in front of `background`: HxWx4 RGBA for "transparent" (the cutout
        itself), HxW uint8 for "matte", HxWx3 RGB otherwise. A background picture is
        covered (scaled and centre-cropped, at the output's cost whatever its shape);
        `max_pixels` bounds one that is not decoded yet."""
        kind = background.kind
        if kind == "transparent":
            return self.cutout
        if kind == MATTE:
            return self.matte
        clean = (self.foreground_colors, self.colors)
        if kind == "blur":
            return compose.blur_background(
                self.rgb, self.alpha, background.blur, self.threshold, *clean
            )
        if kind == "color":
            backdrop = background.color
        else:  # "image"
            backdrop = background.load(max_pixels).picture
        return compose.replace_background(self.rgb, self.alpha, backdrop, self.threshold, *clean)


def render(
    rgb: np.ndarray,
    alpha: np.ndarray,
    background: Background = Background(),
    edges: Edges = "soft",
    foreground_colors: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """The person of `rgb` (HxWx3 uint8) with `alpha` (HxW float in [0, 1]) in front of
    `background`; see Foreground.render. To render several backgrounds (or a background
    and the cutout) of one photo, make one Foreground: the colours are estimated once."""
    return Foreground(rgb, alpha, edges, foreground_colors).render(background, max_pixels)


def as_frame(picture: np.ndarray) -> np.ndarray:
    """HxWx3 RGB for a video or a camera view: a matte (HxW) as gray in three channels."""
    if picture.ndim == 2:
        return np.dstack([picture] * 3)
    if picture.shape[2] != 3:
        raise ValueError(
            "A frame has no transparency; render it on a background, not 'transparent'."
        )
    return picture


@dataclass(frozen=True)
class MattedPhoto:
    """What `matte_photo` made: the picture and everything behind it."""

    picture: np.ndarray  # the result on the background (see Foreground.render)
    alpha: np.ndarray  # HxW float32 in [0, 1]: the alpha rendered (after HQ and smoothing)
    prediction: Prediction  # the network's: its alpha, timing, input size and model
    foreground: Foreground  # the photo and alpha: other backgrounds, the cutout, the matte

    @property
    def cutout(self) -> np.ndarray:
        """HxWx4 uint8 RGBA: the person on transparency (the picture itself when the
        background is "transparent")."""
        return self.foreground.cutout

    @property
    def matte(self) -> np.ndarray:
        """HxW uint8: the matte with the edges asked for."""
        return self.foreground.matte


def matte_photo(
    matter: Matter,
    image: ImageInput,
    background: Background = Background(),
    edges: Edges = "soft",
    foreground_colors: bool = True,
    quality: str = "best",
    long_side: int | None = None,
    refine: bool = True,
    hq: bool = False,
    hq_seconds: float = HQ_SECONDS,
    progress: bool = False,
    smoother: AlphaFunction | None = None,
    prediction: Prediction | None = None,
) -> MattedPhoto:
    """Matte a photo or a frame with `matter` and put the person in front of `background`.

    `image`: a path, bytes, PIL image or array (decoded once, at most the matter's
    Settings.max_pixels). `quality` ("best" for photos, "fast" for frames) and `long_side`
    pick the network's input size, `refine` the edge refinement (Matter.predict). `hq`:
    closed-form matting of the edge band for stills (seconds, at most `hq_seconds`; needs
    the [hq] extra), with a progress bar when `progress`. `smoother`: applied to the alpha
    before rendering (a video's AlphaSmoother). `foreground_colors`: the person's own
    colours in the soft edge (photos: yes; frames go without, as they cost more than the
    network per 720p frame). `prediction`: this image's, kept from before (the app's
    cache of mattes): the network does not run again, only what follows it.

    A bad edges value, background picture or image fails before the model runs.
    """
    edge_threshold(edges)
    max_pixels = matter.settings.max_pixels
    background = background.load(max_pixels)
    rgb = load_rgb(image, max_pixels)
    if prediction is None:
        prediction = matter.predict(rgb, long_side=long_side, quality=quality, refine=refine)
    elif prediction.alpha.shape != rgb.shape[:2]:
        raise ValueError(
            f"The prediction kept is {prediction.alpha.shape[1]}x{prediction.alpha.shape[0]}; "
            f"the image is {rgb.shape[1]}x{rgb.shape[0]}: it is another image's."
        )
    alpha = prediction.alpha
    if hq:
        alpha = hq_matte(rgb, alpha, seconds=hq_seconds, progress=progress)
    if smoother is not None:
        alpha = smoother(alpha)
    foreground = Foreground(rgb, alpha, edges, foreground_colors)
    return MattedPhoto(foreground.render(background, max_pixels), alpha, prediction, foreground)
