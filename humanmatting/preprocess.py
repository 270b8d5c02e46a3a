"""The one preprocessing path shared by training, evaluation, the runtime, the app and the CLI.

The original models were trained on raw 0..255 pixel values (no scaling), at one of a few
aspect presets whose sides are multiples of 32. Everything here is numpy/OpenCV/Pillow so
that the LiteRT runtime never imports TensorFlow.
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from humanmatting.settings import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV

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

# What the CLI picks out of a folder.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
# The only formats load_rgb decodes (Pillow's names; MPO is the JPEG of many phones). The
# format is recognised from the file's first bytes, whatever its name. Each has a C decoder
# whose work is bounded by the pixel limit; Pillow's other formats (QOI, BLP, DDS, ICO, ...)
# are refused: some have pure-Python decoders (QOI: over a minute for one photo), others
# headers that do not say what they decode to (an ICO's directory can lie about its PNG).
OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
IMAGE_FORMATS = (*OPEN_FORMATS, "MPO")  # Pillow opens MPO with its JPEG plugin
FORMAT_NAMES = "JPEG, PNG, WebP, BMP, GIF or TIFF"
# A progressive JPEG decodes every scan over the whole picture: a 125 kB file with 1000
# tiny scans of a 16 MP picture took 15 s. Encoders write about 10.
MAX_JPEG_SCANS = 100
# The network's input at most twice the presets' long side: at 4096 one photo took 4.7 GB.
MAX_LONG_SIDE = 1024
EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the transpose that shows the picture as intended (as ImageOps does).
_ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class InvalidImageError(ValueError):
    """The input is not an image we can read; the message says what to do."""


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than the configured limit."""


def allow_pillow_pixels(limit: int) -> None:
    """Let Pillow's own (process-wide) bomb guard open images up to `limit` pixels. Only an
    edge (the CLI, the app) calls this, once at start, from its Settings; it only ever
    loosens the guard, so threads never race on it. Our own checks enforce the limit."""
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit


def _check_pixel_count(height: int, width: int, limit: int, what: str = "Image") -> None:
    if height * width > limit:
        raise ImageTooLargeError(
            f"{what} is {width}x{height} = {height * width:,} pixels, above the limit of "
            f"{limit:,} pixels; downscale it or raise {MAX_PIXELS_ENV}."
        )


def _too_large(what: str, limit: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"{what} is larger than the limit of {limit:,} pixels; "
        f"downscale it or raise {MAX_PIXELS_ENV}."
    )


_OBJECT_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"\s+at 0x[0-9a-fA-F]+")


def _reason(error: BaseException) -> str:
    """An exception's text for a person: one line, no object reprs or heap addresses."""
    text = _ADDRESS.sub("", _OBJECT_REPR.sub("the data", str(error)))
    return " ".join(text.split()) or type(error).__name__


def _refuse_python_decoders(image: Image.Image, what: str) -> None:
    """Pillow decodes a few variants of the allowed formats (RLE-compressed BMP) in Python,
    a byte at a time: their time is not bounded by the pixel limit, so they are refused."""
    slow = [tile[0] for tile in getattr(image, "tile", None) or () if tile[0] in Image.DECODERS]
    if slow:
        raise InvalidImageError(
            f"{what} uses a compression that is not supported ({slow[0]}); "
            "save it as an ordinary JPEG or PNG."
        )


def _decode(image: Image.Image, what: str, limit: int) -> Image.Image:
    """Decode a lazily opened Pillow image, refusing bombs and broken data with clear errors.

    The size in the header is checked before any pixel is decoded, and again after
    decoding (GIF and TIFF can decode to a size other than the header's). Any error of a
    decoder (Pillow's plugins raise a dozen kinds on damaged data) is an InvalidImageError.
    """
    try:
        _check_pixel_count(image.height, image.width, limit, what)
        _refuse_python_decoders(image, what)
        image.load()
        _check_pixel_count(image.height, image.width, limit, what)
    except (InvalidImageError, MemoryError):
        raise
    except Image.DecompressionBombError:
        raise _too_large(what, limit) from None
    except Exception as error:
        raise InvalidImageError(f"{what} is damaged or truncated ({_reason(error)}).") from None
    return image


def _count_jpeg_scans(stream) -> int:
    """Start-of-scan markers in a JPEG (0xFF 0xDA never occurs inside coded data)."""
    count, previous = 0, b""
    while chunk := stream.read(1 << 20):
        count += (previous + chunk).count(b"\xff\xda")
        previous = chunk[-1:]
    stream.seek(0)
    return count


def _open_pil(source: str | os.PathLike | bytes, limit: int) -> Image.Image:
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
    # Pillow's own bomb guard is process-wide: an edge loosens it once to its limit
    # (allow_pillow_pixels); our checks in _decode enforce the limit given here.
    try:
        # Our own file object, closed on return: Pillow keeps multi-frame files open.
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as stream:
            image = Image.open(stream, formats=OPEN_FORMATS)
            if image.format in ("JPEG", "MPO") and _count_jpeg_scans(stream) > MAX_JPEG_SCANS:
                raise InvalidImageError(
                    f"{what} is a JPEG of more than {MAX_JPEG_SCANS} scans, which would take "
                    "minutes to decode; save it again as an ordinary JPEG."
                )
            return _decode(image, what, limit)
    except Image.DecompressionBombError:
        raise _too_large(what, limit) from None
    except UnidentifiedImageError:
        raise InvalidImageError(
            f"Cannot read {name} as an image; use a {FORMAT_NAMES} file."
        ) from None
    except (InvalidImageError, MemoryError):
        raise
    except Exception as error:  # a plugin's error on a damaged header, an unreadable file
        raise InvalidImageError(
            f"{what} is damaged or cannot be read ({_reason(error)})."
        ) from None


def upright_transpose(image: Image.Image) -> Image.Transpose | None:
    """The transpose that shows `image` as its EXIF orientation says (None: as stored, also
    when the EXIF block is damaged, as browsers show it)."""
    try:
        orientation = int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # Pillow raises SyntaxError, struct.error, ... on damaged EXIF
        return None
    return _ORIENTATIONS.get(orientation)


# Pictures are converted to numpy a strip of about this many pixels at a time: Pillow keeps
# RGB in 4 bytes a pixel, and a whole-picture convert() and np.asarray (tobytes, joined
# from chunks) each made full-size copies: 10 bytes a pixel more at the peak (400 MB for a
# 40 MP photo), now one strip's worth.
STRIP_PIXELS = 1 << 20
# EXIF orientation's transposes, applied to the array by OpenCV (one copy; 20x faster
# than numpy's copy of a rotated view).
_ARRAY_TRANSPOSES = {
    Image.Transpose.FLIP_LEFT_RIGHT: lambda a: cv2.flip(a, 1),
    Image.Transpose.FLIP_TOP_BOTTOM: lambda a: cv2.flip(a, 0),
    Image.Transpose.ROTATE_180: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    Image.Transpose.ROTATE_90: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
    Image.Transpose.ROTATE_270: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    Image.Transpose.TRANSPOSE: cv2.transpose,
    Image.Transpose.TRANSVERSE: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),
}


def _strip_rows(height: int, width: int) -> int:
    return max(1, STRIP_PIXELS // max(1, width))


def _pil_rgb_rows(image: Image.Image) -> np.ndarray:
    """A decoded Pillow image of any mode (but 16/32-bit integer) -> HxWx3 uint8 RGB,
    converted a strip of rows at a time into one array (STRIP_PIXELS)."""
    width, height = image.size
    rgb = np.empty((height, width, 3), np.uint8)
    step = _strip_rows(height, width)
    for top in range(0, height, step):
        bottom = min(height, top + step)
        strip = image.crop((0, top, width, bottom))  # keeps the palette and transparency
        if strip.mode != "RGB":
            strip = strip.convert("RGBA" if "transparency" in strip.info else strip.mode)
            strip = strip.convert("RGB")
        rgb[top:bottom] = np.asarray(strip)
    return rgb


def _pil_to_rgb_array(image: Image.Image, limit: int) -> np.ndarray:
    """Honour EXIF orientation and turn any Pillow mode into HxWx3 uint8 RGB.

    Animated images give their first frame. Transparency is dropped (the stored colours
    are kept), as for HxWx4 arrays. A damaged EXIF block does not stop the picture: it is
    used as stored, as browsers show it. The orientation is applied to the array (one
    copy of 3 bytes a pixel), not by Pillow (a second picture of 4).
    """
    upright = upright_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit PNG/TIFF; 32-bit signed "I" data is clipped to the 16-bit range.
        array = np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
        rgb = _array_to_rgb_uint8(array, limit)
    else:
        rgb = _pil_rgb_rows(image)
    if upright is None:
        return rgb
    return _ARRAY_TRANSPOSES[upright](rgb)


def _array_to_rgb_uint8(array: np.ndarray, limit: int) -> np.ndarray:
    """Turn HxW, HxWx1, HxWx3 or HxWx4 arrays of uint8, uint16 or float into HxWx3 uint8."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidImageError(
            f"Expected an image array of shape HxW, HxWx1, HxWx3 or HxWx4; got {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidImageError(f"Image has no pixels (shape {array.shape}).")
    _check_pixel_count(array.shape[0], array.shape[1], limit)
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


def load_rgb(image: ImageInput, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a path, bytes, binary file, PIL image or array as HxWx3 uint8 RGB (EXIF-rotated);
    more than `max_pixels` pixels is an ImageTooLargeError (Settings.max_pixels)."""
    if isinstance(image, np.ndarray):
        return _array_to_rgb_uint8(image, max_pixels)
    if isinstance(image, Image.Image):
        if getattr(image, "tile", None) and image.format not in (None, *IMAGE_FORMATS):
            raise InvalidImageError(
                f"Cannot read a {image.format} image; use a {FORMAT_NAMES} file."
            )
        return _pil_to_rgb_array(_decode(image, "Image", max_pixels), max_pixels)
    if hasattr(image, "read"):  # an open binary file
        image = image.read()
    if isinstance(image, (str, os.PathLike, bytes)):
        decoded = _open_pil(image, max_pixels)
        try:
            return _pil_to_rgb_array(decoded, max_pixels)
        except (InvalidImageError, MemoryError):
            raise
        except Exception as error:  # a mode or layout Pillow decodes but cannot convert
            what = "The uploaded image" if isinstance(image, bytes) else f"Image {image}"
            raise InvalidImageError(
                f"{what} cannot be converted to RGB ({decoded.mode}: {_reason(error)})."
            ) from None
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
    if not SIZE_MULTIPLE <= long_side <= MAX_LONG_SIDE:
        raise ValueError(
            f"The network's long side must be between {SIZE_MULTIPLE} and {MAX_LONG_SIDE} "
            f"pixels, not {long_side}."
        )
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
    """Person probability at model size -> float32 alpha in [0, 1] at the image's size.

    Clipped before the resize too: interpolating values far outside [0, 1] (a model that
    emits logits by mistake, float32's extremes) can overflow to inf - inf = NaN."""
    probability = np.clip(np.asarray(probability, dtype=np.float32), 0.0, 1.0)
    alpha = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(alpha, 0.0, 1.0, out=alpha)
