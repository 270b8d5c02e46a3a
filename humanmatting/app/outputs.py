"""The files handed to the page: one subfolder per request (cleaned up after a minute),
pictures written fast (PNG) or small (JPEG, WebP), their download names, and the
checkerboard preview of a transparent result."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from humanmatting import compose
from humanmatting.preprocess import ImageInput, InvalidImageError

# Download formats of the Image tab: PNG keeps transparency; JPEG and WebP are far smaller
# for opaque results (a group photo's PNG: 2.9 MB).
DOWNLOAD_FORMATS = ("png", "jpeg", "webp")
JPEG_QUALITY = 90
WEBP_QUALITY = 90
# PNG writing is most of a large photo's time. OpenCV with the "up" filter only and zlib
# level 1 writes a 12 MP RGBA cutout in about 0.26 s (Pillow at its fastest level: 0.56 s,
# at its default: several seconds), and the file is smaller than Pillow's level 1.
PNG_OPTIONS = [
    cv2.IMWRITE_PNG_COMPRESSION,
    1,
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_FILTER_UP,
]
_TO_BGR = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}

# libpng (OpenCV's PNG writer) refuses wider or taller pictures.
PNG_MAX_SIDE = 1_000_000


class OutputFolder:
    """Files handed to a front end (which copies them at once); each request gets its own
    subfolder, and subfolders older than `keep_s` are deleted as new ones are made.

    Many requests run at once: one of them cleans up at a time, a subfolder that vanishes
    while it is being looked at is skipped, and folders held with `lease()` (a video being
    written, however long it takes) are never deleted.
    """

    def __init__(self, path: str | os.PathLike | None = None, keep_s: float = 60):
        if path is None:  # the app passes a folder inside its own temporary folder
            path = tempfile.mkdtemp(prefix="humanmatting-outputs-")
            atexit.register(shutil.rmtree, path, ignore_errors=True)
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.keep_s = keep_s
        self._cleaning = threading.Lock()
        self._leased: set[Path] = set()

    def new_dir(self) -> Path:
        self.clean()
        return Path(tempfile.mkdtemp(dir=self.path))

    @contextlib.contextmanager
    def lease(self) -> Iterator[Path]:
        """A new subfolder that is not cleaned up until the `with` block ends."""
        folder = self.new_dir()
        self._leased.add(folder)
        try:
            yield folder
        finally:
            self._leased.discard(folder)

    def clean(self) -> None:
        """Delete subfolders older than `keep_s`; another request already doing it is enough."""
        if not self._cleaning.acquire(blocking=False):
            return
        try:
            cutoff = time.time() - self.keep_s
            for child in self.path.iterdir():
                try:
                    old = child.stat().st_mtime < cutoff
                except FileNotFoundError:  # deleted meanwhile (by another process)
                    continue
                if old and child not in self._leased:
                    shutil.rmtree(child, ignore_errors=True)
        finally:
            self._cleaning.release()

    def png(self, picture: np.ndarray, name: str, directory: Path | None = None) -> Path:
        """Write `picture` as <new subfolder>/name.png with fast compression."""
        check_png_size(*picture.shape[:2])
        return _write(picture, (directory or self.new_dir()) / f"{name}.png", PNG_OPTIONS)

    def picture(
        self,
        picture: np.ndarray,
        name: str,
        image_format: str = "png",
        directory: Path | None = None,
    ) -> Path:
        """Write `picture` as <subfolder>/name.<png|jpg|webp>: PNG as png(); JPEG (which
        has no transparency: only for RGB pictures) and WebP at quality 90."""
        if image_format == "png":
            return self.png(picture, name, directory)
        if image_format not in DOWNLOAD_FORMATS:
            raise ValueError(
                f"Unknown format {image_format!r}; choose one of {', '.join(DOWNLOAD_FORMATS)}."
            )
        if image_format == "jpeg" and picture.ndim == 3 and picture.shape[2] == 4:
            raise ValueError("JPEG has no transparency; download a transparent result as PNG.")
        if max(picture.shape[:2]) > WEBP_MAX_SIDE and image_format == "webp":
            raise InvalidImageError(
                f"WebP holds at most {WEBP_MAX_SIDE:,} pixels a side; download it as PNG."
            )
        suffix, options = {
            "jpeg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]),
            "webp": (".webp", [cv2.IMWRITE_WEBP_QUALITY, WEBP_QUALITY]),
        }[image_format]
        return _write(picture, (directory or self.new_dir()) / f"{name}{suffix}", options)


def _write(picture: np.ndarray, path: Path, options: list[int]) -> Path:
    """An RGB(A) or gray picture to `path` with OpenCV; a failed write leaves no file."""
    if picture.ndim == 3:
        picture = cv2.cvtColor(picture, _TO_BGR[picture.shape[2]])
    try:
        written = cv2.imwrite(str(path), picture, options)
    except cv2.error:
        written = False
    if not written:
        path.unlink(missing_ok=True)
        raise OSError(f"Could not write {path.name} on the server (is its disk full?).")
    return path


# libwebp refuses larger pictures.
WEBP_MAX_SIDE = 16383


# The page shows a transparent result over this checkerboard, so that a visitor sees what
# the PNG holds (and the letterbox around the picture stays plain).
CHECKER_LIGHT, CHECKER_DARK = 255, 204
CHECKER_SQUARES = 48  # squares along the long side: visible however small the picture is shown
PREVIEW_LONG_SIDE = 2048  # the page shows it at a few hundred pixels; fullscreen at most this


def checkerboard_preview(rgba: np.ndarray) -> np.ndarray:
    """An RGBA picture over a light checkerboard, as RGB at most PREVIEW_LONG_SIDE: what
    the page shows of a transparent result (the download is the PNG itself)."""
    height, width = rgba.shape[:2]
    square = max(4, round(max(height, width) / CHECKER_SQUARES))
    columns = (np.arange(width) // square)[None, :]
    picture = np.empty((height, width, 3), np.uint8)
    # A strip of rows at a time: the board and the products over the whole picture took
    # 24 bytes a pixel (950 MB for a 40 MP cutout).
    for rows in compose.row_strips(height, width):
        squares = (np.arange(rows.start, rows.stop) // square)[:, None] + columns
        board = np.where(squares % 2 == 0, CHECKER_LIGHT, CHECKER_DARK).astype(np.uint16)
        alpha = rgba[rows, :, 3].astype(np.uint16)
        # (colour * alpha + board * (255 - alpha)) / 255 stays within uint16 (at most 65025).
        board *= 255 - alpha
        for channel in range(3):
            mixed = rgba[rows, :, channel] * alpha
            mixed += board
            mixed += 127
            picture[rows, :, channel] = mixed // 255
    scale = PREVIEW_LONG_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    return picture


def download_name(upload: ImageInput | str | None, mode: str) -> str:
    """`<upload's name>-<mode>`: what the visitor's download is called (never a path)."""
    stem = Path(upload).stem if isinstance(upload, (str, os.PathLike)) else "photo"
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:80].strip("_")
    return f"{stem or 'photo'}-{mode}"


def check_png_size(height: int, width: int) -> None:
    """Results are PNG files: refuse, before any work, a picture that cannot be one."""
    if max(height, width) > PNG_MAX_SIDE:
        raise InvalidImageError(
            f"The picture is {width}x{height} pixels; the results are PNG files, which hold "
            f"at most {PNG_MAX_SIDE:,} pixels a side: crop or downscale it first."
        )
