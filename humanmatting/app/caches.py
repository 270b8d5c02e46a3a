"""What the app keeps between requests: decoded background pictures (the camera sends the
same one with every frame) and recent photos' predictions (a change of background, edges
or download format re-renders without running the network again).

Both are bounded by bytes, least recently used dropped first (cachetools), and keyed by a
file's path, size and modification time, so a file changed under the same name is read
again. A value larger than a whole cache is used for its request only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import cachetools
import numpy as np

from humanmatting.app.limits import BACKGROUND_CACHE_BYTES, MATTE_CACHE_BYTES
from humanmatting.pipeline import Background
from humanmatting.preprocess import ImageInput, load_rgb
from humanmatting.runtime import Prediction
from humanmatting.settings import DEFAULT_MAX_PIXELS

Value = TypeVar("Value")


class ByteCache(Generic[Value]):
    """A thread-safe LRU cache of at most `max_bytes` (`sizeof` of each value)."""

    def __init__(self, max_bytes: int, sizeof: Callable[[Value], int]):
        self._cache: cachetools.LRUCache = cachetools.LRUCache(max_bytes, getsizeof=sizeof)
        self._lock = threading.Lock()

    @property
    def max_bytes(self) -> int:
        return int(self._cache.maxsize)

    @property
    def nbytes(self) -> int:
        return int(self._cache.currsize)

    def get(self, key: Hashable | None) -> Value | None:
        if key is None:
            return None
        with self._lock:
            return self._cache.get(key)

    def put(self, key: Hashable | None, value: Value) -> None:
        """Keep `value` (not when `key` is None or it alone is over the budget)."""
        if key is None or self._cache.getsizeof(value) > self.max_bytes:
            return
        with self._lock:
            self._cache[key] = value


def file_key(image: ImageInput, *extra: Hashable) -> tuple | None:
    """(path, size, modification time, *extra) of a file; None for arrays and bytes (no
    identity to remember them by) and for a file that cannot be read (its request says
    why)."""
    if not isinstance(image, (str, os.PathLike)):
        return None
    try:
        status = os.stat(image)
    except OSError:
        return None
    return (str(image), status.st_size, status.st_mtime_ns, *extra)


class PictureCache(ByteCache[np.ndarray]):
    """Decoded pictures by file."""

    def __init__(self, max_bytes: int = BACKGROUND_CACHE_BYTES):
        super().__init__(max_bytes, lambda picture: picture.nbytes)

    def picture(self, path: ImageInput, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """The picture of `path`, decoded (RGB, at most `max_pixels`) at most once."""
        key = file_key(path)
        picture = self.get(key)
        if picture is None:
            picture = load_rgb(path, max_pixels)
            self.put(key, picture)
        return picture


class PredictionCache(ByteCache[Prediction]):
    """Predictions of photo files, by (file, model and quality)."""

    def __init__(self, max_bytes: int = MATTE_CACHE_BYTES):
        super().__init__(max_bytes, lambda prediction: prediction.alpha.nbytes)


BACKGROUND_PICTURES = PictureCache()
MATTES = PredictionCache()


def with_cached_picture(background: Background, max_pixels: int) -> Background:
    """`background`, with its picture decoded through BACKGROUND_PICTURES when it is a
    file (what the page sends); other backgrounds as they are."""
    if background.kind != "image" or not isinstance(background.picture, (str, os.PathLike)):
        return background
    return Background("image", picture=BACKGROUND_PICTURES.picture(background.picture, max_pixels))
