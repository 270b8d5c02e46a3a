"""A camera for headless Chromium: real photos as the frames of a Y4M file.

Chromium plays the file as its camera with --use-fake-device-for-media-stream
--use-file-for-fake-video-capture=FILE.y4m (looping at the end), so the in-browser camera
is tested on people rather than on the default test pattern.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from harness.paths import SHARED_ENV

REPO_ROOT = Path(__file__).resolve().parents[1]
CAMERA_SIZE = (640, 480)  # what app.py asks the camera for


def as_frame(rgb: np.ndarray, size: tuple[int, int] = CAMERA_SIZE) -> np.ndarray:
    """Centre-crop a photo to the frame's aspect ratio (keeping the top of a portrait,
    where the face is) and resize it to the frame."""
    width, height = size
    rows, columns = rgb.shape[:2]
    if columns / rows > width / height:  # wider than the frame: crop the sides
        crop = round(rows * width / height)
        left = (columns - crop) // 2
        rgb = rgb[:, left : left + crop]
    else:  # taller: keep the upper part
        crop = round(columns * height / width)
        top = min((rows - crop) // 4, rows - crop)
        rgb = rgb[top : top + crop]
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def write_y4m(path: Path, frames: list[np.ndarray], repeat: int, fps: int = 30) -> Path:
    """Each RGB frame (all of one size) shown `repeat` times, I420, at `fps`."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            planes = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()
            for _ in range(repeat):
                out.write(b"FRAME\n")
                out.write(planes)
    return path


def shared_test_photos(count: int) -> list[Path]:
    """The first `count` photos of EG1800's test split, when $HUMANMATTING_SHARED (or
    ../shared) has the data set; else none."""
    root = Path(os.environ.get(SHARED_ENV, REPO_ROOT.parent / "shared")) / "datasets" / "eg1800"
    split = root / "test.txt"
    if not split.is_file():
        return []
    stems = [line.strip() for line in split.read_text().splitlines() if line.strip()]
    photos = [root / "images" / f"{stem}.jpg" for stem in stems]
    return [photo for photo in photos if photo.is_file()][:count]
