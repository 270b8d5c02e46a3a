"""One-call helpers for the common cases: a cutout of a photo, written to a file or
returned, without managing a Matter. Each model is loaded once per process and kept."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from PIL import Image

from humanmatting.files import atomic_path
from humanmatting.pipeline import Background, matte_photo
from humanmatting.preprocess import ImageInput
from humanmatting.runtime import Matter, load_matter
from humanmatting.settings import Settings
from humanmatting.specs import DEFAULT_MODEL


@functools.lru_cache(maxsize=4)
def _matter(model: str, settings: Settings) -> Matter:
    return load_matter(model, settings=settings)


def cutout(
    image: ImageInput, model: str = DEFAULT_MODEL, settings: Settings | None = None
) -> np.ndarray:
    """HxWx4 uint8 RGBA: the person of `image` (a path, bytes, PIL image or array) on a
    transparent background, edges refined and their colours cleaned."""
    settings = settings or Settings.from_env()
    return matte_photo(_matter(model, settings), image, Background("transparent")).picture


def cutout_file(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    model: str = DEFAULT_MODEL,
    settings: Settings | None = None,
) -> Path:
    """Write the cutout of the photo at `source` to `destination` (a PNG: it keeps the
    transparency); the file appears whole or not at all. Returns the destination."""
    destination = Path(destination)
    if destination.suffix.lower() != ".png":
        raise ValueError(f"A cutout needs PNG (transparency); {destination.name} is not .png.")
    rgba = cutout(source, model, settings)
    with atomic_path(destination) as temporary:
        Image.fromarray(rgba, "RGBA").save(temporary)
    return destination
