"""Hostile and unusual media files, generated small and fast, for the robustness tests.

Each maker writes one file into a folder and returns its path. The same files are used by
the library, CLI (and app) tests so that every front end is tried on exactly the same input.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def _photo(height: int = 48, width: int = 64) -> np.ndarray:
    """A small RGB gradient with some structure (so truncation damages real content)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x ^ y) & 255])
    noise = rng.integers(0, 40, (3, height, width))
    return np.clip(rgb + noise, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid all-black 8-bit grayscale PNG, a few hundred kB on disk, width*height pixels.

    Written chunk by chunk with zlib from one zero row, so making it needs no big array.
    """
    block = b"\x00" * (width + 1) * 100  # 100 rows of filter byte 0 + one byte per pixel
    compressor = zlib.compressobj(6)
    data = b"".join(compressor.compress(block) for _ in range(height // 100))
    data += compressor.compress(b"\x00" * (width + 1) * (height % 100)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def make_images(folder: Path) -> dict[str, Path]:
    """Every kind of image input we promise to handle (or refuse clearly), by name."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = _photo()
    files: dict[str, bytes] = {}
    files["zero-bytes.jpg"] = b""
    files["text-named.jpg"] = b"This is not a picture, just some text.\n" * 4
    jpeg = _encode(Image.fromarray(photo), "JPEG", quality=90)
    files["truncated.jpg"] = jpeg[: len(jpeg) // 2]
    png = _encode(Image.fromarray(photo), "PNG")
    files["truncated.png"] = png[: len(png) // 2]
    files["bomb.png"] = bomb_png()
    files["one-pixel.png"] = _encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG")
    files["thin-1x4000.png"] = _encode(Image.fromarray(photo[:1, :1].repeat(4000, 1)), "PNG")
    sixteen = (photo[:, :, 0].astype(np.uint16) * 257).astype(np.uint16)
    files["sixteen-bit.png"] = _encode(Image.fromarray(sixteen), "PNG")
    files["cmyk.jpg"] = _encode(Image.fromarray(photo).convert("CMYK"), "JPEG")
    palette = Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    files["palette-transparent.png"] = _encode(palette, "PNG", transparency=0)
    files["grayscale.jpg"] = _encode(Image.fromarray(photo).convert("L"), "JPEG")
    rgba = np.dstack([photo, np.full(photo.shape[:2], 128, np.uint8)])
    files["rgba.png"] = _encode(Image.fromarray(rgba), "PNG")
    frames = [Image.fromarray(np.full_like(photo, value)) for value in (30, 220)]
    files["animated.gif"] = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: 64x48 stored, 48x64 shown
    files["exif-rotated.jpg"] = _encode(Image.fromarray(photo), "JPEG", exif=exif)
    paths = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths[name] = folder / name
    return paths


def make_videos(folder: Path) -> dict[str, Path]:
    """A good short clip, a container with no frames and a corrupted (garbage) video."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "good.avi"
    writer = cv2.VideoWriter(str(good), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for index in range(6):
        writer.write(np.full((48, 64, 3), 40 * index, np.uint8))
    writer.release()
    no_frames = folder / "no-frames.avi"
    writer = cv2.VideoWriter(str(no_frames), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.release()
    corrupted = folder / "corrupted.mp4"
    rng = np.random.default_rng(1)
    corrupted.write_bytes(b"\x00\x00\x00\x18ftypmp42" + rng.bytes(4000))
    truncated = folder / "truncated.avi"
    truncated.write_bytes(good.read_bytes()[:300])
    return {
        "good.avi": good,
        "no-frames.avi": no_frames,
        "corrupted.mp4": corrupted,
        "truncated.avi": truncated,
    }
