"""Frames in, matted frames out: video files and camera streams, with temporal smoothing.

Frames are decoded with OpenCV and written with PyAV, whose wheels bundle FFmpeg with
libx264: MP4 files are H.264 (every browser plays them; OpenCV's wheels can only write
MPEG-4 Part 2, which browsers do not play, or VP9, which took 60 of the 85 s of an 8 s
640x480 clip), and the source's sound is kept (see benchmarks/video_timing.py).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from humanmatting.files import atomic_path
from humanmatting.pipeline import (
    FRAME_KINDS,
    Background,
    Edges,
    as_frame,
    edge_threshold,
    matte_photo,
)
from humanmatting.runtime import Matter

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
# What each written container holds: (video encoder, audio encoder). H.264 + AAC for the
# MP4 family (what browsers, phones and editors all play), VP9 + Opus for WebM.
CODECS_BY_SUFFIX = {
    ".mp4": ("libx264", "aac"),
    ".m4v": ("libx264", "aac"),
    ".mov": ("libx264", "aac"),
    ".mkv": ("libx264", "aac"),
    ".webm": ("libvpx-vp9", "libopus"),
    ".avi": ("mjpeg", "pcm_s16le"),
}
# Audio already in one of these is copied as it is (no re-encoding) into that container.
COPYABLE_AUDIO = {
    ".mp4": {"aac", "mp3", "alac"},
    ".m4v": {"aac", "mp3", "alac"},
    ".mov": {"aac", "mp3", "alac", "pcm_s16le"},
    ".mkv": {"aac", "mp3", "opus", "vorbis", "flac", "pcm_s16le"},
    ".webm": {"opus", "vorbis"},
    ".avi": {"mp3", "pcm_s16le"},
}
# x264 "superfast" at CRF 23 writes a 720p frame in 12 ms on 2 cores ("veryfast": 25 ms,
# files half the size; "ultrafast": 8 ms, files 3x larger); faststart puts the index
# first, so a browser starts playing before the whole file has arrived. VP9 in real-time
# mode for the same reason.
ENCODER_OPTIONS = {
    "libx264": {"preset": "superfast", "crf": "23"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "32", "b": "0"},
    "mjpeg": {"q:v": "3"},
}
PIXEL_FORMATS = {"mjpeg": "yuvj420p"}
CONTAINER_OPTIONS = {
    ".mp4": {"movflags": "+faststart"},
    ".m4v": {"movflags": "+faststart"},
    ".mov": {"movflags": "+faststart"},
}

FrameFunction = Callable[[np.ndarray], np.ndarray]
# Smoothing, the one vocabulary of the CLI (--smoothing), the library and the app: how much
# of the previous frames' matte each frame keeps (AlphaSmoother), from 0 (none) to below 1.
# The one default of videos and the camera stream: steadier edges, and a person who moves
# is followed within a few frames (each new frame counts for 0.6).
DEFAULT_SMOOTHING = 0.4
# Called after each frame: (frames done, frames expected or None, seconds since the start).
ProgressFunction = Callable[[int, int | None, float], None]
log = logging.getLogger(__name__)


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

    `smoothing` is the share of the previous frames' matte that each frame keeps (0: none;
    `weight`, the new frame's share, is the rest). A change of frame size starts over, so
    switching cameras or resolutions never blends unrelated frames.
    """

    def __init__(self, smoothing: float = DEFAULT_SMOOTHING):
        self.smoothing = check_smoothing(smoothing)
        self.state: np.ndarray | None = None

    @property
    def weight(self) -> float:
        """The share of the new frame."""
        return 1.0 - self.smoothing

    def reset(self) -> None:
        self.state = None

    def __call__(self, alpha: np.ndarray) -> np.ndarray:
        if self.state is None or self.state.shape != alpha.shape:
            self.state = alpha.astype(np.float32, copy=True)
        else:
            self.state += self.weight * (alpha - self.state)
        return self.state.copy()


def check_smoothing(smoothing: float) -> float:
    """`smoothing` if it is a number from 0 to below 1; ValueError that says so."""
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)):
        raise ValueError(f"smoothing must be a number from 0 to below 1, not {smoothing!r}")
    if not 0 <= smoothing < 1:  # also NaN
        raise ValueError(f"smoothing must be a number from 0 to below 1, not {smoothing!r}")
    return float(smoothing)


def matte_frames(
    matter: Matter,
    background: Background | None = None,
    edges: Edges = "soft",
    smoothing: float = DEFAULT_SMOOTHING,
    quality: str = "fast",
    long_side: int | None = None,
    refine: bool = True,
) -> FrameFunction:
    """The frame function of a video (process_video): RGB frame -> RGB frame, matted with
    `matter` and rendered on `background` (default Background(); a matte as gray), its
    alpha smoothed across frames (`smoothing`: the share of the previous frames' matte each
    frame keeps, from 0, none, to below 1; AlphaSmoother). Frames go without foreground
    colours: on a 720p frame they cost more than the network and the refinement together
    (54 ms against 32 ms). A transparent
    background, bad edges or a broken picture fail here, before any frame is read."""
    background = background or Background()
    if background.kind == "transparent":
        raise ValueError(
            "Videos have no transparency; choose a background of " + ", ".join(FRAME_KINDS) + "."
        )
    edge_threshold(edges)
    background = background.load(matter.settings.max_pixels)
    smoother = AlphaSmoother(smoothing) if check_smoothing(smoothing) else None

    def matte_frame(rgb: np.ndarray) -> np.ndarray:
        photo = matte_photo(
            matter,
            rgb,
            background,
            edges,
            foreground_colors=False,
            quality=quality,
            long_side=long_side,
            refine=refine,
            smoother=smoother,
        )
        return as_frame(photo.picture)

    return matte_frame


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
        if isinstance(source, int):
            raise InvalidVideoError(f"Cannot open camera {source}; is one connected?")
        raise InvalidVideoError(f"Cannot open video {source}; is it a valid video?")
    info = VideoInfo(
        fps=capture.get(cv2.CAP_PROP_FPS) or 25.0,
        frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    return capture, info


def process_video(
    source: str | os.PathLike | int,
    destination: str | os.PathLike,
    frame_function: FrameFunction,
    max_frames: int | None = None,
    progress: bool = True,
    budget: FrameBudget | None = None,
    on_progress: ProgressFunction | None = None,
    audio: bool = True,
) -> int:
    """Apply `frame_function` (RGB -> RGB) to every frame and write a video; returns frames.

    The container follows `destination`'s suffix (CODECS_BY_SUFFIX: .mp4 is H.264 + AAC).
    A file's sound is kept (`audio`), cut to the length of the video written.
    A camera (integer source) records until `max_frames` or Ctrl+C, keeping what it has.
    A file must give all its frames: one that ends well before the frame count its header
    announces is damaged or truncated (InvalidVideoError), never a shorter result.
    `budget` bounds the work by the frames actually decoded (VideoTooLargeError).
    `on_progress` hears of every frame (a front end's progress bar); `progress` shows a
    terminal bar.

    The output is written to a temporary file beside `destination` and moved into place
    only when complete, so an interrupted or failed run never leaves a half-written video.
    """
    from tqdm.auto import tqdm

    destination = _video_destination(destination)
    capture, info = open_video(source)
    total = info.frame_count or None
    if max_frames is not None and total is not None:
        total = min(total, max_frames)
    bar = tqdm(total=total, unit="frame", disable=not progress, desc="matting")
    started = time.perf_counter()

    def done(written: int) -> None:
        bar.update(1)
        if on_progress is not None:
            on_progress(written, total, time.perf_counter() - started)

    sound = source if audio and not isinstance(source, int) else None
    run = _FrameRun(source, capture, info, sound)
    try:
        with atomic_path(destination) as temporary:  # moved into place when complete
            run.matte_frames(
                temporary, destination.suffix, frame_function, max_frames, budget, done
            )
            run.finish(temporary, destination.name)
    finally:
        run.close()
        bar.close()
    return run.written


def _video_destination(destination: str | os.PathLike) -> Path:
    """`destination` as a Path, if its suffix names a container we write (CODECS_BY_SUFFIX);
    else InvalidVideoError, before the source is opened."""
    destination = Path(destination)
    if destination.suffix.lower() not in CODECS_BY_SUFFIX:
        raise InvalidVideoError(
            f"Cannot write a video to {destination.name}; use one of "
            f"{', '.join(sorted(CODECS_BY_SUFFIX))}."
        )
    return destination


class _FrameRun:
    """One process_video's moving parts: the source's next frame decoded and the last ones
    encoded, in order, beside the model (both release the GIL: about 30% faster on 2 cores
    than one after the other), the writer (opened at the first frame) and the counts."""

    def __init__(
        self,
        source: str | os.PathLike | int,
        capture: cv2.VideoCapture,
        info: VideoInfo,
        sound: str | os.PathLike | None,
    ):
        self.source, self.capture, self.info, self.sound = source, capture, info, sound
        self.written = self.pixels = 0
        self.ended = False  # the stream ran out (rather than max_frames or Ctrl+C)
        self.writer: VideoWriter | None = None
        self.reader, self.encoder = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
        self.reading = self.reader.submit(capture.read)
        self.encoding: deque[Future] = deque()

    def matte_frames(
        self,
        temporary: Path,
        suffix: str,
        frame_function: FrameFunction,
        max_frames: int | None,
        budget: FrameBudget | None,
        done: Callable[[int], None],
    ) -> None:
        """Read, matte and hand to the encoder every frame, until the source ends, at
        `max_frames`, or at Ctrl+C on a camera (on a file Ctrl+C is raised); each frame is
        checked against `budget` before any work on it. The source is released after."""
        try:
            while max_frames is None or self.written < max_frames:
                frame = self._next_frame()
                if frame is None:
                    break
                if budget is not None:
                    height, width = frame.shape[:2]
                    budget.check(
                        str(self.source),
                        self.written + 1,
                        self.pixels,
                        width,
                        height,
                        self.info.fps,
                    )
                result = frame_function(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                self._encode(temporary, suffix, result)
                self.written += 1
                done(self.written)
        except KeyboardInterrupt:
            if not isinstance(self.source, int):
                raise
        finally:
            _wait(self.reading)
            self.capture.release()

    def _next_frame(self) -> np.ndarray | None:
        """The frame read ahead (BGR), the next one asked for; None where the source ends."""
        ok, frame = self.reading.result()
        if not ok or frame is None:
            self.ended = True
            return None
        self.reading = self.reader.submit(self.capture.read)
        self.pixels += frame.shape[0] * frame.shape[1]
        return frame

    def _encode(self, temporary: Path, suffix: str, rgb: np.ndarray) -> None:
        """Hand `rgb` to the encoding thread; waits while ENCODING_AHEAD frames are in
        flight (raising the writer's error, if any)."""
        if self.writer is None:
            self.writer = VideoWriter(temporary, self.info.fps, suffix, self.sound)
        self.encoding.append(self.encoder.submit(self.writer.write, rgb))
        while len(self.encoding) > ENCODING_AHEAD:
            self.encoding.popleft().result()  # in order; raises the writer's error

    def finish(self, temporary: Path, name: str) -> None:
        """Encode the frames in flight and close the file; InvalidVideoError for a source
        with no frames, a file that gave too few of the frames it announced, or an empty
        file written."""
        while self.encoding:
            self.encoding.popleft().result()
        if self.written == 0:
            raise InvalidVideoError(
                f"Video {self.source} has no readable frames (empty or corrupted)."
            )
        complete = COMPLETE_SHARE * self.info.frame_count
        if self.ended and not isinstance(self.source, int) and self.written < complete:
            raise InvalidVideoError(
                f"Video {self.source} is damaged or truncated: only {self.written} of its "
                f"{self.info.frame_count} frames could be read."
            )
        finishing, self.writer = self.writer, None  # closed (or abandoned) once
        finishing.close()
        if not temporary.is_file() or temporary.stat().st_size == 0:
            raise InvalidVideoError(f"No video data was written for {name}.")

    def close(self) -> None:
        """Whatever happened: the threads stopped, an unfinished file's writer abandoned
        (atomic_path discards the file), the source released."""
        for pending in self.encoding:
            _wait(pending)
        self.reader.shutdown()
        self.encoder.shutdown()
        if self.writer is not None:  # failed or interrupted: the file is discarded
            self.writer.abandon()
        self.capture.release()


# Frames handed to the encoding thread and not yet written: bounds the memory in flight.
ENCODING_AHEAD = 4


def _wait(future: Future) -> None:
    """Wait for `future`, whatever it ends with (its error is reported elsewhere)."""
    with contextlib.suppress(BaseException):
        future.result()


# Sound tracks kept: up to 7.1 at 192 kHz (a studio master); more is no recording a
# person makes, and each decoded second of it costs channels x rate samples.
MAX_AUDIO_CHANNELS = 8
MAX_AUDIO_RATE = 192_000

# Frame rates written: the source's, within what every encoder takes (headers have
# claimed 1,000,000 frames/s).
WRITTEN_FPS = (1.0, 240.0)


def written_rate(fps: float) -> Fraction:
    """The source's frame rate as a fraction a container can hold (29.97 -> 30000/1001)."""
    fps = min(max(fps or 25.0, WRITTEN_FPS[0]), WRITTEN_FPS[1])
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """RGB frames -> a video file with PyAV (codecs from CODECS_BY_SUFFIX), with the sound
    of `audio_from` (another file) added at `close()`, cut to the video's length. The
    first frame fixes the size; odd sizes are padded by one pixel (4:2:0 needs even ones).

    The sound is copied as it is when the container can hold its codec, else re-encoded.
    A damaged or unreadable sound track is left out with a warning: the matted picture is
    what was asked for.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        suffix: str | None = None,
        audio_from: str | os.PathLike | None = None,
    ):
        self.path = Path(path)
        self.suffix = (suffix or self.path.suffix).lower()
        self.codec, self.audio_codec = CODECS_BY_SUFFIX[self.suffix]
        self.rate = written_rate(fps)
        self.container = av.open(
            str(self.path),
            "w",
            format=_FORMATS.get(self.suffix),
            options=CONTAINER_OPTIONS.get(self.suffix, {}),
        )
        self.stream = None
        self.frames = 0
        self._audio_source = self._audio_in = self._audio_out = None
        self._resampler = None
        self.audio_from = audio_from

    def _open_streams(self, width: int, height: int) -> None:
        """The video stream, then the audio one: a container takes no stream once its
        first packet is written."""
        stream = self.container.add_stream(self.codec, rate=self.rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = PIXEL_FORMATS.get(self.codec, "yuv420p")
        stream.options = dict(ENCODER_OPTIONS.get(self.codec, {}))
        self.stream = stream
        if self.audio_from is not None:
            try:
                self._open_audio(self.audio_from)
            except (av.FFmpegError, ValueError, OSError) as error:
                self._drop_audio(error)

    def _open_audio(self, source: str | os.PathLike) -> None:
        audio_source = av.open(str(source))
        if not audio_source.streams.audio:
            audio_source.close()
            return
        self._audio_source = audio_source
        self._audio_in = audio_in = audio_source.streams.audio[0]
        channels, rate = audio_in.channels or 0, audio_in.rate or 0
        if channels > MAX_AUDIO_CHANNELS or rate > MAX_AUDIO_RATE:
            raise ValueError(
                f"its sound has {channels} channels at {rate:,} Hz, more than the "
                f"{MAX_AUDIO_CHANNELS} channels at {MAX_AUDIO_RATE:,} Hz kept"
            )
        if audio_in.codec_context.name in COPYABLE_AUDIO[self.suffix]:
            self._audio_out = self.container.add_stream_from_template(audio_in)
            return
        rate = 48000 if self.audio_codec == "libopus" else (audio_in.rate or 44100)
        layout = "stereo" if (audio_in.channels or 1) > 1 else "mono"
        output = self.container.add_stream(self.audio_codec, rate=rate, layout=layout)
        self._resampler = av.AudioResampler(
            format=output.codec_context.codec.audio_formats[0].name, layout=layout, rate=rate
        )
        self._audio_out = output

    def _drop_audio(self, error: BaseException) -> None:
        log.warning("left out the sound of %s: %s", Path(self.audio_from).name, error)
        if self._audio_source is not None:
            self._audio_source.close()
        self._audio_source = self._audio_in = None

    def write(self, rgb: np.ndarray) -> None:
        height, width = rgb.shape[:2]
        if self.stream is None:
            self._open_streams(width, height)
        if (width + width % 2, height + height % 2) != (self.stream.width, self.stream.height):
            raise InvalidVideoError("All frames of a video must have the same size.")
        if width % 2 or height % 2:
            rgb = cv2.copyMakeBorder(rgb, 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        frame.time_base = 1 / self.rate
        self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder, add the sound (if any), close the file."""
        try:
            if self.stream is not None:
                self.container.mux(self.stream.encode(None))
            if self._audio_in is not None:
                try:
                    self._write_audio(self.frames / self.rate)
                except (av.FFmpegError, ValueError, OSError) as error:
                    self._drop_audio(error)
        finally:
            if self._audio_source is not None:
                self._audio_source.close()
            self.container.close()

    def abandon(self) -> None:
        """Close without finishing (the caller discards the file)."""
        for container in (self._audio_source, self.container):
            try:
                if container is not None:
                    container.close()
            except (av.FFmpegError, OSError, ValueError):
                pass

    def _write_audio(self, duration_s: float) -> None:
        audio_in, output = self._audio_in, self._audio_out
        if self._resampler is None:  # copied
            end = duration_s / audio_in.time_base if audio_in.time_base else None
            for packet in self._audio_source.demux(audio_in):
                if packet.dts is None:
                    continue
                if end is not None and packet.pts is not None and packet.pts >= end:
                    break
                packet.stream = output
                self.container.mux(packet)
            return
        # Decoded one frame at a time and stopped at the video's length: a 1 s clip with
        # 91 min of 8-channel sound once held all of it decoded (4 GB) in a list.
        limit = int(duration_s * output.rate)
        samples = 0
        for frame in itertools.chain(self._audio_source.decode(audio_in), [None]):
            for converted in self._resampler.resample(frame):
                if samples >= limit:
                    break
                converted.pts = samples
                samples += converted.samples
                self.container.mux(output.encode(converted))
            if samples >= limit:
                break
        self.container.mux(output.encode(None))


# Containers named by a suffix FFmpeg would not guess from a temporary name.
_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
}


def encode_frames(frames: Iterable[np.ndarray], destination: str | os.PathLike, fps: float) -> int:
    """Write RGB `frames` as a video (benchmarks, tests); returns how many."""
    destination = Path(destination)
    writer = VideoWriter(destination, fps)
    try:
        for rgb in frames:
            writer.write(rgb)
    except BaseException:
        writer.abandon()
        raise
    writer.close()
    return writer.frames
