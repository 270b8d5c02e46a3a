"""A photo request: matte, cutout and the result on its background (the Image tab, /matte),
every model's matte (/compare); large photos in a lane of their own.

The library's `matte_photo` does the work, once per request; the app adds the caches
(MATTES, BACKGROUND_PICTURES), the limits (LARGE_PHOTOS, PNG sizes) and the timings.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from humanmatting.app.caches import MATTES, file_key, with_cached_picture
from humanmatting.app.limits import LARGE_PHOTO_PIXELS
from humanmatting.app.outputs import check_png_size
from humanmatting.app.registry import ModelRegistry
from humanmatting.compose import BACKGROUNDS
from humanmatting.pipeline import MATTE, Background, Edges, matte_photo
from humanmatting.preprocess import OPEN_FORMATS, ImageInput, load_rgb
from humanmatting.runtime import split_variant

# The Image tab's backgrounds: the matte is shown beside the result anyway.
IMAGE_BACKGROUNDS = BACKGROUNDS
# Below this share of person pixels (alpha >= 0.5) a photo is reported as "no person
# found": an empty cutout should say why.
PERSON_MIN_SHARE = 0.002


@dataclass
class ImageResult:
    model: str
    matte: np.ndarray  # HxW uint8
    cutout: np.ndarray  # HxWx4 uint8 RGBA
    composite: np.ndarray  # HxWx4 (transparent) or HxWx3 uint8
    model_input: tuple[int, int]  # (height, width) the network saw
    model_ms: float
    total_ms: float
    reused: bool = False  # the matte came from MATTES: the network did not run again

    @property
    def person_found(self) -> bool:
        return float(np.mean(self.matte >= 128)) >= PERSON_MIN_SHARE

    def summary(self) -> str:
        """The API's line: every figure, in the code's terms."""
        height, width = self.cutout.shape[:2]
        model = "matte reused, no model run" if self.reused else f"model {self.model_ms:.1f} ms"
        return (
            f"{self.model}: {width}x{height} photo, network input "
            f"{self.model_input[1]}x{self.model_input[0]}; {model}, "
            f"total {self.total_ms:.1f} ms"
        )

    def readout(self) -> tuple[str, str]:
        """The page's line ("dark-light, 320x192, 41 ms": the model as the visitor chose
        it, the size the network saw, the time it took) and the details behind it."""
        height, width = self.cutout.shape[:2]
        network = f"{self.model_input[1]}x{self.model_input[0]}"
        name = split_variant(self.model)[0]
        line = f"{name}, {network}, {self.total_ms:.0f} ms"
        if self.reused:
            details = (
                f"Only a setting changed, so the {width}x{height} photo's matte was reused "
                f"(the network did not run again); drawing the result took "
                f"{self.total_ms:.0f} ms."
            )
        else:
            details = (
                f"The network ({self.model}) saw the {width}x{height} photo at {network} "
                f"pixels and took {self.model_ms:.0f} ms; with the edges and the files, "
                f"{self.total_ms:.0f} ms in all."
            )
        return line, details


class ServerBusyError(OSError):
    """The server is already working on a request like this one; try again shortly."""


def header_size(image: ImageInput) -> tuple[int, int]:
    """(width, height) that a photo's header promises ((0, 0) when it cannot be read:
    load_rgb then says why), read without decoding it."""
    if isinstance(image, np.ndarray):
        return (int(image.shape[1]), int(image.shape[0])) if image.ndim >= 2 else (0, 0)
    try:
        from PIL import Image

        with io.BytesIO(image) if isinstance(image, bytes) else open(image, "rb") as stream:
            return Image.open(stream, formats=OPEN_FORMATS).size
    except Exception:  # any unreadable header: load_rgb's message, not this one
        return 0, 0


class LargePhotoLane:
    """Photos over `large_pixels(max_pixels)` are matted one at a time, and one that comes
    while another runs is refused at once (ServerBusyError), never queued.

    Its cost is judged by the pixels its header promises, not its bytes: a 38 kB PNG of
    6300x6300 zeros costs 4.6 s, and 30 of them sent at once held both photo slots for
    everyone (ordinary visitors' median wait: 0.6 s -> 112 s). Now such photos hold at
    most one slot, and a flood of them is answered in milliseconds.
    """

    def __init__(self, limit: int = LARGE_PHOTO_PIXELS):
        self.limit = limit
        self._running = threading.Semaphore(1)

    def threshold(self, max_pixels: int) -> int:
        return min(self.limit, max_pixels // 2)

    @contextlib.contextmanager
    def enter(self, pixels: int, max_pixels: int) -> Iterator[None]:
        threshold = self.threshold(max_pixels)
        if pixels <= threshold or pixels > max_pixels:  # over the limit: load_rgb says so
            yield
            return
        if not self._running.acquire(blocking=False):
            raise ServerBusyError(
                f"Another large photo (over {threshold / 1e6:g} megapixels) is being matted "
                "right now; try again in a few seconds, or send a smaller one."
            )
        try:
            yield
        finally:
            self._running.release()


LARGE_PHOTOS = LargePhotoLane()


def matte_image(
    registry: ModelRegistry,
    image: ImageInput,
    model: str | None = None,
    background: Background | None = None,
    edges: Edges = "soft",
    quality: str = "best",
) -> ImageResult:
    """One photo -> matte, RGBA cutout and composite, with timings. The prediction of a
    file matted before with the same model and quality is reused (MATTES): only the
    rendering runs. `quality` (QUALITIES): the network's input size and the edge
    refinement. A large photo takes LARGE_PHOTOS's lane; one whose result cannot be a PNG
    is refused before it is decoded."""
    width, height = header_size(image)
    with LARGE_PHOTOS.enter(width * height, registry.settings.max_pixels):
        started = time.perf_counter()
        background = background or Background()
        check_kind(background, IMAGE_BACKGROUNDS)
        check_png_size(height, width)
        matter = registry.matter(model)
        key = file_key(image, f"{matter.name}@{quality}")
        kept = MATTES.get(key)
        background = with_cached_picture(background, registry.settings.max_pixels)
        photo = matte_photo(matter, image, background, edges, quality=quality, prediction=kept)
        if kept is None:
            MATTES.put(key, photo.prediction)
        return ImageResult(
            model=matter.name,
            matte=photo.cutout[:, :, 3],
            cutout=photo.cutout,
            composite=photo.picture,
            model_input=photo.prediction.input_size,
            model_ms=photo.prediction.timing.model_ms,
            total_ms=(time.perf_counter() - started) * 1e3,
            reused=kept is not None,
        )


def check_kind(background: Background, kinds: tuple[str, ...]) -> None:
    """ValueError naming `kinds` when a request's background is not one of them."""
    if background.kind not in kinds:
        raise ValueError(
            f"Unknown background {background.kind!r}; choose one of {', '.join(kinds)}."
        )


def compare_models(
    registry: ModelRegistry, image: ImageInput, edges: Edges = "soft"
) -> list[tuple[np.ndarray, str, str]]:
    """(matte, caption with the model time, model name) for every available model, the
    photo decoded once; a large photo takes LARGE_PHOTOS's lane."""
    max_pixels = registry.settings.max_pixels
    width, height = header_size(image)
    with LARGE_PHOTOS.enter(width * height, max_pixels):
        check_png_size(height, width)
        rgb = load_rgb(image, max_pixels)
        results = []
        for name in registry.available:
            photo = matte_photo(registry.matter(name), rgb, Background(MATTE), edges)
            caption = f"{name}: {photo.prediction.timing.model_ms:.1f} ms"
            results.append((photo.picture, caption, name))
        return results
