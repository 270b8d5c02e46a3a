"""The one preprocessing path shared by training, evaluation, the runtime, the app and the CLI.

The original models were trained on raw 0..255 pixel values (no scaling), at one of a few
aspect presets whose sides are multiples of 32. Everything here is numpy/OpenCV/Pillow so
that the LiteRT runtime never imports TensorFlow.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray

# The original's training shapes (height, width), keyed by width / height.
ASPECT_PRESETS: dict[float, tuple[int, int]] = {
    1 / 2: (512, 256),
    9 / 16: (512, 288),
    3 / 4: (512, 384),
    1.0: (256, 256),
    4 / 3: (384, 512),
    16 / 9: (288, 512),
    2.0: (256, 512),
}
SIZE_MULTIPLE = 32
INPUT_RANGE = (0.0, 255.0)

# What the CLI picks out of a folder; load_rgb itself reads anything Pillow can.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}

MAX_PIXELS_ENV = "HUMANMATTING_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: larger than any phone photo, far below a bomb


class InvalidImageError(ValueError):
    """The input is not an image we can read; the message says what to do."""


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than the configured limit."""


def max_pixels() -> int:
    """Pixel limit for decoded images; set HUMANMATTING_MAX_PIXELS to change it."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(float(value))  # also "40_000_000" and "4e7"
    except (ValueError, OverflowError):
        limit = 0
    if limit <= 0:
        raise ValueError(f"{MAX_PIXELS_ENV} must be a positive number of pixels, not {value!r}.")
    return limit


def _check_pixel_count(height: int, width: int, what: str = "Image") -> None:
    limit = max_pixels()
    if height * width > limit:
        raise ImageTooLargeError(
            f"{what} is {width}x{height} = {height * width:,} pixels, above the limit of "
            f"{limit:,} pixels; downscale it or raise {MAX_PIXELS_ENV}."
        )


def _too_large(what: str) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"{what} is larger than the limit of {max_pixels():,} pixels; "
        f"downscale it or raise {MAX_PIXELS_ENV}."
    )


def _decode(image: Image.Image, what: str) -> Image.Image:
    """Decode a lazily opened Pillow image, refusing bombs and broken data with clear errors.

    The size in the header is checked before any pixel is decoded, and again after
    decoding (ICO, GIF and TIFF can decode to a size other than the header's).
    """
    try:
        _check_pixel_count(image.height, image.width, what)
        image.load()
        _check_pixel_count(image.height, image.width, what)
    except Image.DecompressionBombError:
        raise _too_large(what) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        if isinstance(error, InvalidImageError):
            raise
        raise InvalidImageError(f"{what} is damaged or truncated ({error}).") from None
    return image


def _open_pil(source: str | os.PathLike | bytes) -> Image.Image:
    """Open and decode a file or bytes with Pillow; broken files give InvalidImageError."""
    if isinstance(source, bytes):
        if not source:
            raise InvalidImageError("Image data is empty (0 bytes)")
        what, name = "The uploaded image", "the uploaded data"
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidImageError(f"No such image file: {source}")
        if path.stat().st_size == 0:
            raise InvalidImageError(f"Image file is empty (0 bytes): {source}")
        what, name = f"Image {source}", source
    # Pillow's own bomb guard is process-wide: it is only ever loosened, to the operator's
    # limit, so threads never race on it; our checks in _decode enforce the limit.
    limit = max_pixels()
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit
    try:
        # Our own file object, closed on return: Pillow keeps multi-frame files open.
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as stream:
            return _decode(Image.open(stream), what)
    except Image.DecompressionBombError:
        raise _too_large(what) from None
    except UnidentifiedImageError:
        raise InvalidImageError(
            f"Cannot read {name} as an image; use a JPEG, PNG, WebP, BMP or GIF file."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        if isinstance(error, InvalidImageError):
            raise
        raise InvalidImageError(f"{what} is damaged or cannot be read ({error}).") from None


def _pil_to_rgb_array(image: Image.Image) -> np.ndarray:
    """Honour EXIF orientation and turn any Pillow mode into HxWx3 uint8 RGB.

    Animated images give their first frame. Transparency is dropped (the stored colours
    are kept), as for HxWx4 arrays.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit PNG/TIFF; 32-bit signed "I" data is clipped to the 16-bit range.
        return _array_to_rgb_uint8(np.clip(np.asarray(image), 0, 65535).astype(np.uint16))
    if image.mode != "RGB":
        image = image.convert("RGBA" if "transparency" in image.info else image.mode)
        image = image.convert("RGB")
    return np.asarray(image)


def _array_to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """Turn HxW, HxWx1, HxWx3 or HxWx4 arrays of uint8, uint16 or float into HxWx3 uint8."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidImageError(
            f"Expected an image array of shape HxW, HxWx1, HxWx3 or HxWx4; got {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidImageError(f"Image has no pixels (shape {array.shape}).")
    _check_pixel_count(array.shape[0], array.shape[1])
    if array.dtype == np.uint8:
        pass
    elif array.dtype == np.uint16:
        array = (array.astype(np.uint32) * 255 + 32767) // 65535
        array = array.astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise InvalidImageError("Image array contains NaN or infinite values.")
        # Floats in [0, 1] are the common convention; anything larger is taken as 0..255.
        scale = 255.0 if array.size and float(array.max()) <= 1.0 else 1.0
        array = np.clip(np.rint(array * scale), 0, 255).astype(np.uint8)
    elif array.dtype == np.bool_:  # a mask: True is white
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.integer):
        array = np.clip(array, 0, 255).astype(np.uint8)
    else:
        raise InvalidImageError(f"Unsupported image dtype {array.dtype}.")
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
    if array.shape[2] == 4:
        return np.ascontiguousarray(array[:, :, :3])
    return array


def load_rgb(image: ImageInput) -> np.ndarray:
    """Read a path, bytes, binary file, PIL image or array as HxWx3 uint8 RGB (EXIF-rotated)."""
    if isinstance(image, np.ndarray):
        return _array_to_rgb_uint8(image)
    if isinstance(image, Image.Image):
        return _pil_to_rgb_array(_decode(image, "Image"))
    if hasattr(image, "read"):  # an open binary file
        image = image.read()
    if isinstance(image, (str, os.PathLike, bytes)):
        return _pil_to_rgb_array(_open_pil(image))
    raise InvalidImageError(
        f"Cannot use a {type(image).__name__} as an image; pass a path, bytes, "
        "a PIL image or a numpy array."
    )


def to_channels(rgb: np.ndarray, channels: int) -> np.ndarray:
    """RGB uint8 -> HxWxC uint8 with C = 3 (RGB) or 1 (ITU-R 601 luma, as OpenCV and Pillow)."""
    if channels == 3:
        return rgb
    if channels == 1:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    raise ValueError(f"channels must be 1 or 3, not {channels}")


def round_to_multiple(value: float, multiple: int = SIZE_MULTIPLE) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def nearest_preset(height: int, width: int) -> tuple[int, int]:
    """The original's training shape whose aspect ratio is nearest (in log scale) to the image's."""
    ratio = math.log(width / height)
    best = min(ASPECT_PRESETS, key=lambda preset: abs(math.log(preset) - ratio))
    return ASPECT_PRESETS[best]


def model_input_size(height: int, width: int, long_side: int | None = None) -> tuple[int, int]:
    """Size the model sees: the nearest aspect preset, or the image scaled to `long_side`.

    With `long_side`, both sides keep the image's aspect ratio and are rounded to
    multiples of 32 (never below 32).
    """
    if long_side is None:
        return nearest_preset(height, width)
    if long_side < SIZE_MULTIPLE:
        raise ValueError(f"long_side must be at least {SIZE_MULTIPLE}, got {long_side}")
    scale = long_side / max(height, width)
    return round_to_multiple(height * scale), round_to_multiple(width * scale)


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (height, width): area averaging when shrinking, bilinear when enlarging."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    resized = cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    if image.ndim == 3 and resized.ndim == 2:
        resized = resized[:, :, None]
    return resized


def prepare_input(rgb: np.ndarray, channels: int, size: tuple[int, int]) -> np.ndarray:
    """HxWx3 uint8 RGB -> model input (1, h, w, C) float32 in raw 0..255, as trained."""
    pixels = resize(to_channels(rgb, channels), size)
    return pixels.astype(np.float32)[None]


def alpha_to_size(probability: np.ndarray, height: int, width: int) -> np.ndarray:
    """Person probability at model size -> float32 alpha in [0, 1] at the image's size."""
    alpha = cv2.resize(
        np.ascontiguousarray(probability, dtype=np.float32),
        (width, height),
        interpolation=cv2.INTER_LINEAR,
    )
    return np.clip(alpha, 0.0, 1.0, out=alpha)
