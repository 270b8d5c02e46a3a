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
    """The video cannot be read (missing, corrupted, truncated, or without frames)."""


class VideoTooLargeError(InvalidVideoError):
    """The video is over a size, duration or work limit."""


# A video whose frames stop before this share of the frames its header announces is
# reported as truncated (headers estimate the count of some containers, so not 100%).
COMPLETE_SHARE = 0.9


@dataclass(frozen=True)
class FrameBudget:
    """Bounds on the work of one video, checked on every frame as it is decoded, before
    any work on it: a container's header can claim anything (1 frame for 80 s of
    content, 1,000,000 frames/s, a small size for large frames).

    `max_pixels` bounds frames x pixels (the work of decoding, matting and encoding);
    `max_seconds` the content's duration (frames decoded / frame rate); `hint` says
    what to change, at the end of each message.
    """

    max_frames: int | None = None
    max_pixels: int | None = None
    max_frame_pixels: int | None = None
    max_seconds: float | None = None
    hint: str = ""

    def check(self, name: str, frames: int, pixels: int, width: int, height: int, fps: float):
        """Raise VideoTooLargeError when `frames` decoded frames (`pixels` in all, the
        last one `width` x `height`) are over a bound."""
        problem = None
        if self.max_frame_pixels is not None and width * height > self.max_frame_pixels:
            problem = (
                f"has frames of {width}x{height} = {width * height:,} pixels, above the limit "
                f"of {self.max_frame_pixels:,}"
            )
        elif self.max_frames is not None and frames > self.max_frames:
            problem = f"has more than {self.max_frames:,} frames, the limit"
        elif self.max_seconds is not None and fps > 0 and frames / fps > self.max_seconds:
            problem = (
                f"is longer than {self.max_seconds:g} s, the limit (more than {frames - 1:,} "
                f"frames at {fps:g} frames/s)"
            )
        elif self.max_pixels is not None and pixels > self.max_pixels:
            problem = (
                f"is more work than the limit of {self.max_pixels:,} pixels (frames x frame "
                "size); use a shorter or smaller clip"
            )
        if problem:
            raise VideoTooLargeError(f"Video {name} {problem}. {self.hint}".strip())


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
    budget: FrameBudget | None = None,
) -> int:
    """Apply `frame_function` (RGB -> RGB) to every frame and write a video; returns frames.

    A camera (integer source) records until `max_frames` or Ctrl+C, keeping what it has.
    A file must give all its frames: one that ends well before the frame count its header
    announces is damaged or truncated (InvalidVideoError), never a shorter result.
    `budget` bounds the work by the frames actually decoded (VideoTooLargeError).

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
    written = pixels = 0
    ended = False  # the stream ran out (rather than max_frames or Ctrl+C)
    total = info.frame_count or None
    if max_frames is not None and total is not None:
        total = min(total, max_frames)
    bar = tqdm(total=total, unit="frame", disable=not progress, desc=destination.name)
    try:
        with atomic_path(destination) as temporary:
            writer = None
            try:
                while max_frames is None or written < max_frames:
                    ok, frame = capture.read()
                    if not ok or frame is None:
                        ended = True
                        break
                    height, width = frame.shape[:2]
                    pixels += height * width
                    if budget is not None:
                        budget.check(str(source), written + 1, pixels, width, height, info.fps)
                    result = frame_function(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
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
            complete = COMPLETE_SHARE * info.frame_count
            if ended and not isinstance(source, int) and written < complete:
                raise InvalidVideoError(
                    f"Video {source} is damaged or truncated: only {written} of its "
                    f"{info.frame_count} frames could be read."
                )
            if not temporary.is_file() or temporary.stat().st_size == 0:
                raise InvalidVideoError(f"OpenCV wrote no data for {destination.name}.")
    finally:
        bar.close()
        capture.release()
    return written


# Frame rates written: the source's, within what every encoder takes (MPEG-4 refuses a
# time base finer than 1/65535 s; headers have claimed 1,000,000 frames/s).
WRITTEN_FPS = (1.0, 240.0)


def _open_writer(path: str, code: str, fps: float, width: int, height: int) -> cv2.VideoWriter:
    fps = min(max(fps, WRITTEN_FPS[0]), WRITTEN_FPS[1])
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*code), fps, (width, height))
    if not writer.isOpened():
        raise InvalidVideoError(f"Cannot write {Path(path).suffix} video with codec {code!r}.")
    return writer
