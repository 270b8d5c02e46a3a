"""The app's limits: how many requests run and wait, how large a request, a photo, a video
or a camera's state may be. Numbers only (and the video limits read from the environment),
so that the settings and every policy module can import them without importing each other.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from humanmatting.settings import SettingError, positive_number  # noqa: F401 (re-exported)
from humanmatting.video import FrameBudget, VideoTooLargeError, open_video

# Queue and concurrency, chosen for a small CPU server (2 cores here, as on a free Space):
# - Photos (the Cut out button, the automatic run on upload, Compare) share one limit of 2.
#   One LiteRT call already uses both cores and each model runs one call at a time, so more
#   requests at once add no throughput, only memory (a 12 MP photo holds about 250 MB while
#   in flight) and latency for everyone; 2 lets one request decode or encode PNGs while
#   another runs the model.
# - Camera streams: 1. A stream holds its slot while it runs (up to the time limit); two
#   streams would halve each one's frame rate on 2 cores. Other viewers wait in the queue.
# - Videos: 1, in their own lane, so a long video never blocks photos.
# - At most QUEUE_SIZE requests wait; the next one is refused at once ("queue is full")
#   instead of waiting minutes (32 photos at about 0.3 s each is a 5 s wait at most).
#   There is no quota per client: behind a Space's proxy every visitor has the same
#   address, and the session id is chosen by the client, so a quota would either throttle
#   everyone together or be dodged by changing it. What one client can do is bounded
#   instead by each request's cost (pixels, bytes, video frames x pixels, camera time).
PHOTO_CONCURRENCY = 2
QUEUE_SIZE = 32
# Photos over this many pixels (or half the pixel limit, if lower) are matted one at a time
# and refused while another runs (LargePhotoLane): more than a 12 MP phone photo.
LARGE_PHOTO_PIXELS = 16_000_000
# Request bodies other than uploads (JSON: camera frames and pasted pictures arrive in it
# as data: URLs, about 0.1-1 MB for a 640x480 frame) are refused over this size before
# they are read (BodyLimit); uploads have their own limit (--max-upload-mb).
REQUEST_MAX_BYTES = 10 * 2**20
# Gradio routes this app never uses, answered 404 before their body is read: the screen
# recorder's (each body it got stayed on disk until the server stopped).
UNUSED_ROUTES = ("/process_recording",)
# Upload requests carry a multipart envelope around the file: a few kB at most.
UPLOAD_ENVELOPE_BYTES = 64 * 2**10

# Decoded background pictures kept for the next request (the camera sends one per frame):
# bounded by bytes, so a few 40 MP pictures never stay pinned (a 12 MP one is 36 MB).
BACKGROUND_CACHE_BYTES = 64 * 2**20
# Mattes kept for instant re-rendering (float32: 4 bytes a pixel): two 12 MP photos.
MATTE_CACHE_BYTES = 96 * 2**20

VIDEO_MAX_MEGABYTES_ENV = "HUMANMATTING_VIDEO_MAX_MB"
VIDEO_MAX_SECONDS_ENV = "HUMANMATTING_VIDEO_MAX_SECONDS"
# The work of one video, bounded by what is decoded (headers can claim anything), all
# derived from the duration limit: at most 60 frames per second of it, frames up to 4K UHD,
# and frames x pixels of that many seconds of 1080p at 30 frames/s (1.87e9 at 30 s).
VIDEO_MAX_FPS = 60
VIDEO_MAX_FRAME_PIXELS = 3840 * 2160
VIDEO_WORK_PIXELS_PER_SECOND = 30 * 1920 * 1080
# H.264 + AAC in MP4 (PyAV's bundled FFmpeg): what every browser and phone plays, written
# about 150x faster than OpenCV's VP9 (benchmarks/video_timing.py).
VIDEO_SUFFIX = ".mp4"
# Camera frames: up to 4K UHD, as video frames (a 6000x6000 frame is no camera's).
CAMERA_MAX_FRAME_PIXELS = VIDEO_MAX_FRAME_PIXELS
# Camera streams' state kept on the server (StreamSessions): a 1080p matte is 8 MB, and
# one stream runs at a time, so a few sessions are plenty.
STREAM_STATE_BYTES = 32 * 2**20
STREAM_SESSIONS = 8


def setting(
    name: str,
    default: float,
    minimum: float = 0,
    whole: bool = False,
    above: bool = False,
    environ: Mapping[str, str] | None = None,
) -> float:
    """The number in environment variable `name` of `environ` (os.environ by default;
    `default` when unset); see humanmatting.settings.positive_number."""
    environ = os.environ if environ is None else environ
    return positive_number(environ, name, default, minimum, whole, above)


@dataclass(frozen=True)
class VideoLimits:
    """Upload limits for the video tab; set by environment variables, see README."""

    max_megabytes: float = 50.0
    max_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VideoLimits:
        """The limits in `environ` (os.environ by default); SettingError for a bad value."""

        def read(name: str, default: float) -> float:
            return setting(name, default, above=True, environ=environ)

        return cls(
            max_megabytes=read(VIDEO_MAX_MEGABYTES_ENV, cls.max_megabytes),
            max_seconds=read(VIDEO_MAX_SECONDS_ENV, cls.max_seconds),
        )

    def budget(self) -> FrameBudget:
        """What one video may cost, checked on the frames as they are decoded."""
        return FrameBudget(
            max_frames=math.ceil(self.max_seconds * VIDEO_MAX_FPS),
            max_pixels=int(self.max_seconds * VIDEO_WORK_PIXELS_PER_SECOND),
            max_frame_pixels=VIDEO_MAX_FRAME_PIXELS,
            max_seconds=self.max_seconds,
            hint=f"Trim or downscale it first (or set {VIDEO_MAX_SECONDS_ENV}).",
        )

    def check(self, path: str | os.PathLike) -> FrameBudget:
        """Raise VideoTooLargeError when the file or its header is over a limit; return the
        budget that bounds the frames actually decoded."""
        megabytes = Path(path).stat().st_size / 1e6
        if megabytes > self.max_megabytes:
            raise VideoTooLargeError(
                f"The video is {megabytes:.1f} MB; the limit is {self.max_megabytes:g} MB "
                f"(set {VIDEO_MAX_MEGABYTES_ENV} to change it). Trim or compress it first."
            )
        capture, info = open_video(path)
        capture.release()
        if info.duration_s > self.max_seconds:
            raise VideoTooLargeError(
                f"The video is {info.duration_s:.1f} s long; the limit is {self.max_seconds:g} s "
                f"(set {VIDEO_MAX_SECONDS_ENV} to change it). Trim it first."
            )
        budget = self.budget()
        # The header's claims, refused before any frame is decoded when they are over: the
        # work too (frames x frame size), else a 30 s 1080p60 clip was matted for 116 s
        # before its 1,800th frame was found over the budget.
        work = info.frame_count * info.width * info.height
        budget.check(str(path), info.frame_count, work, info.width, info.height, info.fps)
        return budget
