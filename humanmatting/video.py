"""Frames in, matted frames out: video files and camera streams, with temporal smoothing."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from humanmatting.files import atomic_path

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "mp4v"}

FrameFunction = Callable[[np.ndarray], np.ndarray]


class InvalidVideoError(ValueError):
    """The video cannot be read (missing, corrupted, or without frames)."""


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class AlphaSmoother:
    """Exponential moving average of the alpha across frames, against flicker.

    `weight` is the share of the new frame (1 = no smoothing). A change of frame size
    starts over, so switching cameras or resolutions never blends unrelated frames.
    """

    def __init__(self, weight: float = 0.6):
        if not 0 < weight <= 1:
            raise ValueError(f"weight must be in (0, 1], got {weight}")
        self.weight = weight
        self.state: np.ndarray | None = None

    def reset(self) -> None:
        self.state = None

    def __call__(self, alpha: np.ndarray) -> np.ndarray:
        if self.state is None or self.state.shape != alpha.shape:
            self.state = alpha.astype(np.float32, copy=True)
        else:
            self.state += self.weight * (alpha - self.state)
        return self.state.copy()


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frame_count: int  # as the container reports it; may be 0 or approximate
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0


def open_video(source: str | os.PathLike | int) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a file or camera index; errors say whether the file is missing or unreadable."""
    if not isinstance(source, int):
        path = Path(source)
        if not path.is_file():
            raise InvalidVideoError(f"No such video file: {path}")
        if path.stat().st_size == 0:
            raise InvalidVideoError(f"Video file is empty (0 bytes): {path}")
        capture = cv2.VideoCapture(str(path))
    else:
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        what = f"camera {source}" if isinstance(source, int) else f"video {source}"
        raise InvalidVideoError(f"Cannot open {what}; is it a valid video (or a connected camera)?")
    info = VideoInfo(
        fps=capture.get(cv2.CAP_PROP_FPS) or 25.0,
        frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    return capture, info


def iter_frames(capture: cv2.VideoCapture, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """RGB uint8 frames until the stream ends (or `max_frames`)."""
    count = 0
    while max_frames is None or count < max_frames:
        ok, frame = capture.read()
        if not ok or frame is None:
            return
        count += 1
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def process_video(
    source: str | os.PathLike | int,
    destination: str | os.PathLike,
    frame_function: FrameFunction,
    max_frames: int | None = None,
    progress: bool = True,
    fourcc: str | None = None,
) -> int:
    """Apply `frame_function` (RGB -> RGB) to every frame and write a video; returns frames.

    A camera (integer source) records until `max_frames` or Ctrl+C, keeping what it has.

    The output is written to a temporary file beside `destination` and moved into place
    only when complete, so an interrupted or failed run never leaves a half-written video.
    """
    from tqdm.auto import tqdm

    destination = Path(destination)
    if destination.suffix.lower() not in VIDEO_SUFFIXES:
        raise InvalidVideoError(
            f"Cannot write a video to {destination.name}; use one of "
            f"{', '.join(sorted(FOURCC_BY_SUFFIX))} (or .webm with a VP8/VP9 fourcc)."
        )
    capture, info = open_video(source)
    code = fourcc or FOURCC_BY_SUFFIX.get(destination.suffix.lower(), "mp4v")
    written = 0
    total = info.frame_count or None
    if max_frames is not None and total is not None:
        total = min(total, max_frames)
    bar = tqdm(total=total, unit="frame", disable=not progress, desc=destination.name)
    try:
        with atomic_path(destination) as temporary:
            writer = None
            try:
                for frame in iter_frames(capture, max_frames):
                    result = frame_function(frame)
                    if writer is None:
                        writer = _open_writer(
                            str(temporary), code, info.fps, result.shape[1], result.shape[0]
                        )
                    writer.write(cv2.cvtColor(result, cv2.COLOR_RGB2BGR))
                    written += 1
                    bar.update(1)
            except KeyboardInterrupt:
                if not isinstance(source, int):
                    raise
            finally:
                if writer is not None:
                    writer.release()
            if written == 0:
                raise InvalidVideoError(
                    f"Video {source} has no readable frames (empty or corrupted)."
                )
            if not temporary.is_file() or temporary.stat().st_size == 0:
                raise InvalidVideoError(f"OpenCV wrote no data for {destination.name}.")
    finally:
        bar.close()
        capture.release()
    return written


def _open_writer(path: str, code: str, fps: float, width: int, height: int) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*code), fps, (width, height))
    if not writer.isOpened():
        raise InvalidVideoError(f"Cannot write {Path(path).suffix} video with codec {code!r}.")
    return writer
