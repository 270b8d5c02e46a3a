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


def ico_with_lying_directory(png: bytes, claimed: int = 16) -> bytes:
    """An ICO whose directory says `claimed` x `claimed` but whose entry is `png`."""
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", claimed, claimed, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def bmp_rle8(width: int = 64, height: int = 48) -> bytes:
    """An 8-bit BMP with RLE8 compression (which Pillow decodes in Python)."""
    rows = b"".join(bytes([width, index % 256, 0, 0]) for index in range(height))  # run, EOL
    pixels = rows[:-2] + b"\x00\x01"  # end of bitmap
    palette = b"".join(bytes([value, value, value, 0]) for value in range(256))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    head = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return head + info + palette + pixels


def jpeg_scan_bomb(side: int = 4000, extra_scans: int = 1000) -> bytes:
    """A valid progressive JPEG of side x side pixels with `extra_scans` more scans (copies
    of its smallest one): about 120 kB that took Pillow 15 s to decode at 16 MP."""
    image = Image.new("RGB", (side, side), (120, 130, 140))
    data = _encode(image, "JPEG", progressive=True, quality=50)
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA]
    scans = [data[a:b] for a, b in zip(starts, [*starts[1:], len(data) - 2], strict=True)]
    return data[:-2] + min(scans[1:], key=len) * extra_scans + data[-2:]


def png_with_damaged_exif(photo: np.ndarray) -> bytes:
    """A PNG whose eXIf chunk is not TIFF data (Pillow raised SyntaxError on it)."""
    png = _encode(Image.fromarray(photo), "PNG")
    damaged = _png_chunk(b"eXIf", b"XX\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x01" * 20)
    return png[:33] + damaged + png[33:]  # after the signature and IHDR


def webp_with_damaged_exif(photo: np.ndarray) -> bytes:
    """A WebP with an EXIF chunk that is not TIFF data."""
    return _encode(Image.fromarray(photo), "WEBP", lossless=True, exif=b"XX\x00\x2a" + b"\x01" * 20)


def fuzzed_images(count_per_format: int = 40, seed: int = 0) -> dict[str, bytes]:
    """Small files of every format Pillow writes (the allowed ones and others), each
    damaged at a few random bytes or cut short: the probe's kind of fuzzing."""
    import random

    rng = random.Random(seed)
    picture = Image.fromarray(_photo(40, 56))
    seeds = {
        "jpg": _encode(picture, "JPEG"),
        "progressive.jpg": _encode(picture, "JPEG", progressive=True),
        "png": _encode(picture, "PNG"),
        "webp": _encode(picture, "WEBP"),
        "lossless.webp": _encode(picture, "WEBP", lossless=True),
        "gif": _encode(picture, "GIF"),
        "bmp": _encode(picture, "BMP"),
        "tif": _encode(picture, "TIFF"),
        "lzw.tif": _encode(picture, "TIFF", compression="tiff_lzw"),
        "jpeg.tif": _encode(picture, "TIFF", compression="jpeg"),
        "exif.png": png_with_damaged_exif(_photo(40, 56)),
        "qoi": _encode(picture, "QOI"),
        "dds": _encode(picture, "DDS"),
        "ico": _encode(picture, "ICO"),
        "tga": _encode(picture, "TGA"),
    }
    files = {}
    for kind, data in seeds.items():
        for index in range(count_per_format):
            damaged = bytearray(data)
            for _ in range(rng.choice([1, 2, 4, 8, 16])):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            if rng.random() < 0.2:
                damaged = damaged[: rng.randrange(len(damaged))]
            files[f"fuzz-{index:03d}.{kind}"] = bytes(damaged)
    return files


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
    # Formats outside the list, whatever their names: refused from their first bytes.
    files["qoi-named.png"] = _encode(Image.fromarray(photo), "QOI")
    files["dds-named.png"] = _encode(Image.fromarray(photo), "DDS")
    files["ico-lying.png"] = ico_with_lying_directory(bomb_png(13000, 13000))
    files["rle-compressed.bmp"] = bmp_rle8()
    files["scan-bomb.jpg"] = jpeg_scan_bomb()
    files["damaged-exif.png"] = png_with_damaged_exif(photo)
    files["damaged-exif-lossless.webp"] = webp_with_damaged_exif(photo)
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
    hundred = _mjpeg(100, fps=10)  # 10 s
    (folder / "cut-short.avi").write_bytes(hundred[: len(hundred) // 4])  # 8 frames decode
    fast = bytearray(hundred)
    stream = fast.find(b"strh")
    fast[stream + 28 : stream + 36] = struct.pack("<II", 1, 1_000_000)  # scale, rate
    (folder / "million-fps.avi").write_bytes(bytes(fast))  # 100 frames "in 0.1 ms"
    one = bytearray(hundred)
    one[one.find(b"avih") + 24 : one.find(b"avih") + 28] = struct.pack("<I", 1)  # total frames
    one[stream + 40 : stream + 44] = struct.pack("<I", 1)  # the stream's length
    (folder / "claims-one-frame.avi").write_bytes(bytes(one))  # 10 s of frames all the same
    (folder / "huge-frames.avi").write_bytes(_mjpeg(2, fps=10, size=(5760, 5760)))
    return {
        "good.avi": good,
        "no-frames.avi": no_frames,
        "corrupted.mp4": corrupted,
        "truncated.avi": truncated,
        **{name: folder / name for name in VIDEO_ATTACKS},
    }


# Videos whose headers lie or that stop early, by what each must be answered with.
VIDEO_ATTACKS = {
    "cut-short.avi": "damaged or truncated: only 8 of its 100 frames",
    "million-fps.avi": "more than",  # frames (the limit) whatever the frame rate
    "claims-one-frame.avi": "is longer than",
    "huge-frames.avi": "has frames of 5760x5760",
}


def _mjpeg(frames: int, fps: float = 10, size: tuple[int, int] = (64, 48)) -> bytes:
    """An MJPG AVI of `frames` frames of `size` (width, height), each a different grey."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "clip.avi")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        for index in range(frames):
            writer.write(np.full((size[1], size[0], 3), (index * 7) % 256, np.uint8))
        writer.release()
        return Path(path).read_bytes()


def sound_bomb(
    path: Path,
    minutes: float = 10.0,
    channels: int = 8,
    rate: int = 48000,
    fps: int = 25,
    codec: str = "flac",
) -> Path:
    """1 s of 64x48 video and `minutes` of `channels`-channel silence (FLAC in MP4 by
    default): about 240 kB for 10 minutes, 460 MB of sound once decoded (the probe's
    file: 91 minutes). The container follows `path`'s suffix."""
    import av

    layouts = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}
    layout = layouts.get(channels, f"{channels}c")
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"tune": "zerolatency"}  # every frame before the first sound
        audio = out.add_stream(codec, rate=rate, layout=layout)
        for index in range(fps):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        chunk = 4608
        silence = np.zeros((1, chunk * channels), np.int16)
        for start in range(0, int(minutes * 60 * rate), chunk):
            frame = av.AudioFrame.from_ndarray(silence, format="s16", layout=layout)
            frame.sample_rate, frame.pts = rate, start
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path
