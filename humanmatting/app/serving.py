"""What a front end (the Gradio app, its API) does with the library, without any UI code.

A `ModelRegistry` knows which models have weights and loads each once; `matte_image`,
`matte_video` and `StreamSession` turn requests into pictures with the compose module.
Keeping this out of the page's code lets tests and other front ends use it directly.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import io
import math
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no file locks, no clean-up of other servers' folders
    fcntl = None

from humanmatting import compose
from humanmatting.compose import (  # noqa: F401 (the app's vocabulary, re-exported)
    BACKGROUNDS,
    DEFAULT_BACKGROUND,
    DEFAULT_BLUR,
    DEFAULT_COLOR,
    MATTE,
)
from humanmatting.preprocess import OPEN_FORMATS, ImageInput, InvalidImageError, load_rgb
from humanmatting.runtime import Matter, load_matter, split_variant
from humanmatting.settings import (  # noqa: F401 (SettingError re-exported)
    DEFAULT_MAX_PIXELS,
    SettingError,
    Settings,
    positive_number,
)
from humanmatting.specs import DEFAULT_FRAMES_MODEL, DEFAULT_MODEL, MODEL_SPECS
from humanmatting.video import (
    AlphaSmoother,
    FrameBudget,
    ProgressFunction,
    VideoTooLargeError,
    open_video,
    process_video,
)
from humanmatting.weights import (
    WeightsIntegrityError,
    WeightsNotFoundError,
    resolve_model_folder,
)

# The vocabulary (compose.BACKGROUNDS, MATTE, defaults) is the runtime's, shared with the
# CLI. Videos and the camera have no transparency (MP4 has no alpha channel), so they offer
# the matte instead of "transparent".
IMAGE_BACKGROUNDS = BACKGROUNDS  # the Image tab shows the matte beside the result anyway
FRAME_BACKGROUNDS = ("blur", "color", "image", MATTE)
EDGES = {"soft": None, "hard": 0.5}  # hard edges: alpha >= 0.5 becomes person
# Download formats of the Image tab: PNG keeps transparency; JPEG and WebP are far smaller
# for opaque results (a group photo's PNG: 2.9 MB).
DOWNLOAD_FORMATS = ("png", "jpeg", "webp")
JPEG_QUALITY = 90
WEBP_QUALITY = 90
# Below this share of person pixels (alpha >= 0.5) a photo is reported as "no person
# found": an empty cutout should say why.
PERSON_MIN_SHARE = 0.002
# What a model is loaded for: each role keeps its own interpreters (see ModelRegistry).
ROLES = ("photo", "camera", "video")
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


class ModelUnavailableError(LookupError):
    """The requested model has no weights here; the message says how to get them."""


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
class Background:
    """What goes behind the person: a mode from BACKGROUNDS (or MATTE) and its settings."""

    mode: str = DEFAULT_BACKGROUND
    color: str = DEFAULT_COLOR
    image: ImageInput | None = None
    blur: float = DEFAULT_BLUR

    def check(self, choices: tuple[str, ...] = (*BACKGROUNDS, MATTE)) -> Background:
        """Self, or ValueError naming the choices (one line, for the server's log too)."""
        if self.mode not in choices:
            hint = " (spelled color)" if self.mode == "colour" else ""
            raise ValueError(
                f"Unknown background {self.mode!r}{hint}; choose one of {', '.join(choices)}."
            )
        return self


@dataclass
class ImageResult:
    model: str
    matte: np.ndarray  # HxW uint8
    cutout: np.ndarray  # HxWx4 uint8 RGBA
    composite: np.ndarray  # HxWx4 (transparent) or HxWx3 uint8
    model_input: tuple[int, int]  # (height, width) the network saw
    model_ms: float
    total_ms: float
    reused: bool = False  # the matte came from MATTES: the network did not run again

    @property
    def person_found(self) -> bool:
        return float(np.mean(self.matte >= 128)) >= PERSON_MIN_SHARE

    def summary(self) -> str:
        """The API's line: every figure, in the code's terms."""
        height, width = self.cutout.shape[:2]
        model = "matte reused, no model run" if self.reused else f"model {self.model_ms:.1f} ms"
        return (
            f"{self.model}: {width}x{height} photo, network input "
            f"{self.model_input[1]}x{self.model_input[0]}; {model}, "
            f"total {self.total_ms:.1f} ms"
        )

    def readout(self) -> tuple[str, str]:
        """The page's line ("dark-light, 320x192, 41 ms": the model as the visitor chose
        it, the size the network saw, the time it took) and the details behind it."""
        height, width = self.cutout.shape[:2]
        network = f"{self.model_input[1]}x{self.model_input[0]}"
        name = split_variant(self.model)[0]
        line = f"{name}, {network}, {self.total_ms:.0f} ms"
        if self.reused:
            details = (
                f"Only a setting changed, so the {width}x{height} photo's matte was reused "
                f"(the network did not run again); drawing the result took "
                f"{self.total_ms:.0f} ms."
            )
        else:
            details = (
                f"The network ({self.model}) saw the {width}x{height} photo at {network} "
                f"pixels and took {self.model_ms:.0f} ms; with the edges and the files, "
                f"{self.total_ms:.0f} ms in all."
            )
        return line, details


class ModelRegistry:
    """Which models have weights (checked once, at start-up), each loaded on first use.

    Nothing is downloaded unless `download` is true, so a default start makes no
    network request. LiteRT keeps one interpreter per network input shape, and each holds
    its own buffers: about 80 MB at the 512x384 photo preset (int8). To keep the server's
    memory bounded, each model is loaded once per role (ROLES: photos, camera frames,
    video frames), each keeping at most `max_shapes` interpreters, so the live camera and
    a video never evict the photos' interpreter or each other's. A new shape costs one
    allocation (10-50 ms).
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        download: bool = False,
        threads: int | None = None,
        names: tuple[str, ...] = tuple(MODEL_SPECS),
        max_shapes: int = 1,
        settings: Settings | None = None,
    ):
        self.settings = settings or Settings.from_env()
        self.weights = weights
        self.download = download
        self.threads = threads
        self.max_shapes = max_shapes
        self.folders: dict[str, Path] = {}
        self.problems: dict[str, str] = {}
        self._how_to_get: dict[str, str] = {}
        for name in names:
            try:
                self.folders[name] = resolve_model_folder(
                    name, weights, download=download, settings=self.settings
                )
            except (WeightsNotFoundError, WeightsIntegrityError) as error:
                self.problems[name] = str(error)
                self._how_to_get[name] = (getattr(error, "how_to_get", "") or str(error)).strip()
        self._matters: dict[tuple[str, str], Matter] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> list[str]:
        return list(self.folders)

    @property
    def default(self) -> str | None:
        """The model a photo gets when none is chosen (DEFAULT_MODEL, else the first)."""
        return self._default_among(DEFAULT_MODEL)

    @property
    def default_for_frames(self) -> str | None:
        """The camera's and the Video tab's default: the fastest (DEFAULT_FRAMES_MODEL)."""
        return self._default_among(DEFAULT_FRAMES_MODEL)

    def _default_among(self, preferred: str) -> str | None:
        if preferred in self.folders:
            return preferred
        return next(iter(self.folders), None)

    def how_to_get(self, name: str) -> str:
        """The commands that get model `name`'s weights (the error's `how_to_get`; its
        problem also lists the folders tried on this server: never shown to visitors)."""
        return self._how_to_get.get(name, "")

    def summary(self) -> dict:
        """Which models this server can run (names), and how to get the others."""
        # The API's /models (this docstring is its description): no server paths in it.
        return {
            "available": self.available,
            "unavailable": {name: self.how_to_get(name) for name in self.problems},
        }

    def is_loaded(self, name: str | None, role: str = "photo") -> bool:
        """Whether model `name` (None: the role's default) is loaded for `role` already: its
        first load takes seconds, which the page says while it happens."""
        name = name or (self.default if role == "photo" else self.default_for_frames)
        return (name, role) in self._matters

    def matter(self, name: str | None, role: str = "photo") -> Matter:
        """The model `name` (None: the default for photos, or for frames for the camera and
        video roles) loaded for `role`, one of ROLES."""
        name = name or (self.default if role == "photo" else self.default_for_frames)
        if name not in self.folders:
            if name in self.problems:
                raise ModelUnavailableError(
                    f"Model {name} is not available on this server. To get it:\n"
                    + self.how_to_get(name)
                )
            raise ModelUnavailableError(
                f"Unknown model {name!r}; choose one of {', '.join(self.available)}."
            )
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        with self._lock:
            if (name, role) not in self._matters:
                matter = load_matter(
                    name,
                    self.folders[name],
                    threads=self.threads,
                    download=False,
                    max_shapes=self.max_shapes,
                    settings=self.settings,
                )
                self._matters[name, role] = matter
            return self._matters[name, role]


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


class PictureCache:
    """Decoded pictures by path, least recently used dropped first, at most `max_bytes` in
    all; a picture larger than that is decoded for its request only. A file changed under
    the same path (size or modification time) is decoded again."""

    def __init__(self, max_bytes: int = BACKGROUND_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._pictures: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return sum(picture.nbytes for picture in self._pictures.values())

    def get(self, path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        try:
            status = os.stat(path)
            key = (str(path), status.st_size, status.st_mtime_ns)
        except OSError:
            return load_rgb(path, max_pixels)  # its own clear error
        with self._lock:
            if key in self._pictures:
                self._pictures.move_to_end(key)
                return self._pictures[key]
        picture = load_rgb(path, max_pixels)
        if picture.nbytes <= self.max_bytes:
            with self._lock:
                self._pictures[key] = picture
                while self.nbytes > self.max_bytes:
                    self._pictures.popitem(last=False)
        return picture


BACKGROUND_PICTURES = PictureCache()


class MatteCache:
    """The mattes of recent photos, by (file, model): a change of background, edges or
    download format re-renders from the matte already computed, without running the
    network again. Bounded by bytes (a 12 MP photo's matte is 48 MB), least recently used
    dropped first; a file changed under the same path is matted again."""

    def __init__(self, max_bytes: int = MATTE_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._mattes: OrderedDict[tuple, tuple[np.ndarray, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(image: ImageInput, model: str) -> tuple | None:
        if not isinstance(image, (str, os.PathLike)):
            return None  # arrays and bytes: no identity to remember them by
        try:
            status = os.stat(image)
        except OSError:
            return None
        return (str(image), status.st_size, status.st_mtime_ns, model)

    def get(self, key: tuple | None) -> tuple[np.ndarray, float] | None:
        if key is None:
            return None
        with self._lock:
            if key in self._mattes:
                self._mattes.move_to_end(key)
                return self._mattes[key]
        return None

    def put(self, key: tuple | None, alpha: np.ndarray, model_ms: float) -> None:
        if key is None or alpha.nbytes > self.max_bytes:
            return
        with self._lock:
            self._mattes[key] = (alpha, model_ms)
            while sum(a.nbytes for a, _ in self._mattes.values()) > self.max_bytes:
                self._mattes.popitem(last=False)


MATTES = MatteCache()


def _background_rgb(image: ImageInput, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        return BACKGROUND_PICTURES.get(image, max_pixels)
    return load_rgb(image, max_pixels)


def render(
    rgb: np.ndarray,
    alpha: np.ndarray,
    background: Background,
    threshold: float | None = None,
    decontaminate: bool | compose.EdgeColors | None = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """The person in front of `background`; 'transparent' gives RGBA, the rest RGB.
    `decontaminate`: the person's colours in the soft edge (compose's; True estimates them).
    `max_pixels`: the limit for a background picture (Settings.max_pixels)."""
    mode = background.mode
    clean = {"decontaminate": decontaminate}
    if mode == "transparent":
        return compose.cutout(rgb, alpha, threshold, **clean)
    if mode == "color":
        return compose.replace_background(rgb, alpha, background.color, threshold, **clean)
    if mode == "image":
        if background.image is None:
            raise ValueError("Choose a background picture first (or another background mode).")
        backdrop = _background_rgb(background.image, max_pixels)
        return compose.replace_background(rgb, alpha, backdrop, threshold, **clean)
    if mode == "blur":
        return compose.blur_background(rgb, alpha, background.blur, threshold, **clean)
    if mode == "matte":
        return np.dstack([compose.matte_image(alpha, threshold)] * 3)
    background.check()  # raises: an unknown mode
    raise AssertionError(mode)


class ServerBusyError(OSError):
    """The server is already working on a request like this one; try again shortly."""


def header_pixels(image: ImageInput) -> int:
    """The pixels a photo's header promises (0 when it cannot be read: load_rgb then says
    why), read without decoding it."""
    if isinstance(image, np.ndarray):
        return int(image.shape[0]) * int(image.shape[1]) if image.ndim >= 2 else 0
    try:
        from PIL import Image

        with io.BytesIO(image) if isinstance(image, bytes) else open(image, "rb") as stream:
            width, height = Image.open(stream, formats=OPEN_FORMATS).size
        return width * height
    except Exception:  # any unreadable header: load_rgb's message, not this one
        return 0


class LargePhotoLane:
    """Photos over `large_pixels(max_pixels)` are matted one at a time, and one that comes
    while another runs is refused at once (ServerBusyError), never queued.

    Its cost is judged by the pixels its header promises, not its bytes: a 38 kB PNG of
    6300x6300 zeros costs 4.6 s, and 30 of them sent at once held both photo slots for
    everyone (ordinary visitors' median wait: 0.6 s -> 112 s). Now such photos hold at
    most one slot, and a flood of them is answered in milliseconds.
    """

    def __init__(self, limit: int = LARGE_PHOTO_PIXELS):
        self.limit = limit
        self._running = threading.Semaphore(1)

    def threshold(self, max_pixels: int) -> int:
        return min(self.limit, max_pixels // 2)

    @contextlib.contextmanager
    def enter(self, pixels: int, max_pixels: int) -> Iterator[None]:
        threshold = self.threshold(max_pixels)
        if pixels <= threshold or pixels > max_pixels:  # over the limit: load_rgb says so
            yield
            return
        if not self._running.acquire(blocking=False):
            raise ServerBusyError(
                f"Another large photo (over {threshold / 1e6:g} megapixels) is being matted "
                "right now; try again in a few seconds, or send a smaller one."
            )
        try:
            yield
        finally:
            self._running.release()


LARGE_PHOTOS = LargePhotoLane()


def matte_image(
    registry: ModelRegistry,
    image: ImageInput,
    model: str | None = None,
    background: Background = Background(),
    edges: str = "soft",
    quality: str = "best",
) -> ImageResult:
    """One photo -> matte, RGBA cutout and composite, with timings. The matte of a file
    matted before with the same model and quality is reused (MATTES): only the rendering
    runs. `quality` (QUALITIES): the network's input size and the edge refinement. A
    large photo takes LARGE_PHOTOS's lane."""
    with LARGE_PHOTOS.enter(header_pixels(image), registry.settings.max_pixels):
        return _matte_image(registry, image, model, background, edges, quality)


def _matte_image(
    registry: ModelRegistry,
    image: ImageInput,
    model: str | None,
    background: Background,
    edges: str,
    quality: str,
) -> ImageResult:
    started = time.perf_counter()
    threshold = edge_threshold(edges)
    background.check(BACKGROUNDS)
    matter = registry.matter(model)
    max_pixels = registry.settings.max_pixels
    rgb = load_rgb(image, max_pixels)
    check_png_size(*rgb.shape[:2])
    if background.mode == "image" and background.image is not None:
        _background_rgb(background.image, max_pixels)  # a broken one fails before the model
    model_input = matter.input_size(*rgb.shape[:2], quality=quality)  # refuses a bad quality
    key = MATTES.key(image, f"{matter.name}@{quality}")
    cached = MATTES.get(key)
    if cached is None:
        prediction = matter.predict(rgb, quality=quality)
        alpha, model_ms = prediction.alpha, prediction.timing.model_ms
        MATTES.put(key, alpha, model_ms)
    else:
        alpha, model_ms = cached
    # The person's colours in the soft edge, estimated once for the cutout and composite.
    colors = compose.edge_colors(rgb, alpha, threshold)
    transparent = background.mode == "transparent"  # then the composite is the cutout
    # The composite before the cutout: its working pictures (a blurred copy, 3 bytes a
    # pixel) are freed before the cutout's 4 bytes a pixel are taken.
    composite = (
        None if transparent else render(rgb, alpha, background, threshold, colors, max_pixels)
    )
    cutout = compose.cutout(rgb, alpha, threshold, decontaminate=colors)
    if composite is None:
        composite = cutout
    result = ImageResult(
        model=matter.name,
        matte=cutout[:, :, 3],
        cutout=cutout,
        composite=composite,
        model_input=model_input,
        model_ms=model_ms,
        total_ms=0.0,
        reused=cached is not None,
    )
    result.total_ms = (time.perf_counter() - started) * 1e3
    return result


def edge_threshold(edges: str) -> float | None:
    """The threshold of an EDGES choice; ValueError naming the choices otherwise."""
    if edges not in EDGES:
        raise ValueError(f"Unknown edges {edges!r}; choose one of {', '.join(EDGES)}.")
    return EDGES[edges]


def compare_models(
    registry: ModelRegistry, image: ImageInput, edges: str = "soft"
) -> list[tuple[np.ndarray, str, str]]:
    """(matte, caption with the model time, model name) for every available model; a
    large photo takes LARGE_PHOTOS's lane."""
    max_pixels = registry.settings.max_pixels
    with LARGE_PHOTOS.enter(header_pixels(image), max_pixels):
        return _compare_models(registry, image, edges, max_pixels)


def _compare_models(
    registry: ModelRegistry, image: ImageInput, edges: str, max_pixels: int
) -> list[tuple[np.ndarray, str, str]]:
    rgb = load_rgb(image, max_pixels)
    check_png_size(*rgb.shape[:2])
    results = []
    for name in registry.available:
        prediction = registry.matter(name).predict(rgb)
        caption = f"{name}: {prediction.timing.model_ms:.1f} ms"
        matte = compose.matte_image(prediction.alpha, edge_threshold(edges))
        results.append((matte, caption, name))
    return results


class AppTempFolder:
    """A server's own temporary folder, `<base>/<name>/`, for everything it writes
    (uploads, results, videos being written): removed by `remove()` when the server stops,
    and, for a server that was killed, by the next one that starts.

    Each live server holds an exclusive lock on `<base>/<name>.lock` (taken before the
    folder is made), so a folder whose lock can be taken belongs to a server that is gone,
    and servers running side by side never remove each other's files.
    """

    def __init__(self, base: str | os.PathLike):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.removed = self.remove_leftovers(self.base)  # names of the folders removed
        name = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._lock = open(self.base / f"{name}.lock", "w")  # noqa: SIM115 - held until remove
        if fcntl is not None:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.path = self.base / name
        self.path.mkdir(mode=0o700)

    @staticmethod
    def remove_leftovers(base: Path) -> list[str]:
        """Remove the folders of servers that are gone; returns their names."""
        if fcntl is None:  # no flock (Windows): never guess
            return []
        removed = []
        for lock_path in sorted(base.glob("*.lock")):
            try:
                with open(lock_path, "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: alive
                    shutil.rmtree(base / lock_path.stem, ignore_errors=True)
                    lock_path.unlink(missing_ok=True)
                removed.append(lock_path.stem)
            except OSError:
                continue
        for folder in base.iterdir():  # a folder without its lock file: nobody's
            if folder.is_dir() and not folder.with_name(f"{folder.name}.lock").exists():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        return removed

    def remove(self) -> None:
        """Delete the folder and everything in it (twice: a request may still be writing)."""
        for _ in range(2):
            shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.base / f"{self.path.name}.lock").unlink()
            self._lock.close()


class RequestTooLargeError(Exception):
    """A request body went over BodyLimit's limit while it was being read."""


class BodyLimit:
    """ASGI middleware: bounds every request body before the application works on it.

    A body over the limit (`upload_bytes` for file uploads, which the server streams to
    disk; `max_bytes` for everything else, JSON with any data: URLs in it, which is read
    into memory) is answered 413 at once when its Content-Length says so, or as soon as
    that many bytes have arrived. Other bodies are read whole (at most `max_bytes`) before
    the application sees them, so no framework code runs on an over-long one. Gradio
    routes this app never uses (UNUSED_ROUTES) are answered 404 before anything is read.
    """

    def __init__(self, app, max_bytes: int, upload_bytes: int, upload_suffix: str = "/upload"):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.upload_suffix = upload_suffix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"].rstrip("/").endswith(UNUSED_ROUTES):
            return await self._refuse(send, 0, 404, "This server has no such page.")
        upload = scope["path"].rstrip("/").endswith(self.upload_suffix)
        limit = self.upload_bytes if upload else self.max_bytes
        headers = dict(scope.get("headers") or ())
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > limit:
            return await self._refuse(send, limit)
        if upload:  # streamed by the application: count as it reads
            return await self._streamed(scope, receive, send, limit)
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                return await self._refuse(send, limit)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope, receive, send, limit: int):
        received, started = 0, False

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLargeError
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except RequestTooLargeError:
            if not started:
                await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send, limit: int, status: int = 413, text: str | None = None):
        text = (
            text
            or f"The request is larger than this server's limit of {limit / 1e6:g} MB; "
            "send a smaller file."
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(text)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": text})


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


def matte_video(
    registry: ModelRegistry,
    source: str | os.PathLike,
    model: str | None = None,
    background: Background = Background(),
    edges: str = "soft",
    smoothing: float | None = 0.6,
    limits: VideoLimits | None = None,
    output_dir: str | os.PathLike | None = None,
    on_progress: ProgressFunction | None = None,
) -> Path:
    """Matte every frame of a video into an MP4 (H.264) that browsers play, with the
    source's sound; named `<source>-<mode>.mp4`. `limits`: VideoLimits() by default (the
    app passes the ones its settings read from the environment)."""
    limits = limits or VideoLimits()
    if background.mode == "transparent":
        raise ValueError(
            "Videos have no transparency; choose " + ", ".join(FRAME_BACKGROUNDS) + "."
        )
    background.check(FRAME_BACKGROUNDS)
    threshold = edge_threshold(edges)
    budget = limits.check(source)
    matter = registry.matter(model, role="video")
    smoother = AlphaSmoother(smoothing) if smoothing else None

    def frame_function(rgb: np.ndarray) -> np.ndarray:
        alpha = matter.predict(rgb, quality="fast").alpha  # frames: the cheaper refinement
        if smoother is not None:
            alpha = smoother(alpha)
        # No foreground colours for frames (as the camera's): on a 720p frame they cost
        # more than the network and the refinement together, 54 ms against 32 ms.
        return render(rgb, alpha, background, threshold, False, registry.settings.max_pixels)

    output_dir = Path(output_dir or tempfile.mkdtemp(prefix="humanmatting-video-"))
    destination = output_dir / f"{download_name(source, background.mode)}{VIDEO_SUFFIX}"
    process_video(
        source,
        destination,
        frame_function,
        progress=False,
        budget=budget,
        on_progress=on_progress,
    )
    return destination


class StreamSession:
    """Per-viewer state of a live camera stream: temporal smoothing and a rate readout.

    Kept on the server by StreamSessions (the page holds only its key): its smoother holds
    the last matte, 4 bytes a pixel of the camera frame.
    """

    def __init__(self, window: int = 30, clock: Callable[[], float] = time.perf_counter):
        self.smoother = AlphaSmoother(0.5)
        self.finished: deque[float] = deque(maxlen=window)
        self.frames = 0
        self.clock = clock

    @property
    def nbytes(self) -> int:
        """The memory it holds: the smoother's last matte."""
        state = self.smoother.state
        return 0 if state is None else state.nbytes

    @property
    def frames_per_second(self) -> float:
        if len(self.finished) < 2:
            return 0.0
        return (len(self.finished) - 1) / max(self.finished[-1] - self.finished[0], 1e-9)

    def process(
        self,
        registry: ModelRegistry,
        frame: np.ndarray,
        model: str | None = None,
        background: Background = Background(),
        edges: str = "soft",
        smoothing: bool = True,
        long_side: int | None = None,
    ) -> tuple[np.ndarray, str]:
        """One camera frame -> (picture, readout of frames/s and server time).

        `long_side` trades quality for speed (the network's input; None: quality "fast"'s).
        """
        started = self.clock()
        matter = registry.matter(model, role="camera")
        max_pixels = registry.settings.max_pixels
        rgb = load_rgb(frame, min(max_pixels, CAMERA_MAX_FRAME_PIXELS))
        alpha = matter.predict(rgb, long_side=long_side, quality="fast").alpha
        if smoothing:
            alpha = self.smoother(alpha)
        else:
            self.smoother.reset()
        if background.mode == "transparent":  # camera frames are shown without alpha
            background = dataclasses.replace(background, mode=MATTE)
        # No foreground colours for live frames: 25 ms on a 640x480 frame, as much as the
        # network (benchmarks/refinement/results.md); photos get them, frames do not.
        threshold = edge_threshold(edges)
        picture = render(rgb, alpha, background.check(), threshold, False, max_pixels)
        finished = self.clock()
        self.finished.append(finished)
        self.frames += 1
        network_height, network_width = matter.input_size(*rgb.shape[:2], long_side, "fast")
        readout = (
            f"{self.frames_per_second:.1f} frames/s · {(finished - started) * 1e3:.0f} ms "
            f"server time per frame · camera {rgb.shape[1]}x{rgb.shape[0]}, network "
            f"{network_width}x{network_height} · frame {self.frames}"
        )
        return picture, readout


class StreamSessions:
    """The camera streams' state, on the server, by a key that the page's session holds.

    Gradio keeps each visitor's gr.State until the session is dropped (up to 10,000
    sessions): a StreamSession there kept its last float32 matte, 138 MB for a 6000x6000
    frame, for every new session, and 18 of them killed a server. Here they are bounded in
    number and bytes, least recently used dropped first (its next frame starts the
    smoothing over), and forgotten when Gradio drops the visitor's session (`end`).
    """

    def __init__(self, max_bytes: int = STREAM_STATE_BYTES, max_sessions: int = STREAM_SESSIONS):
        self.max_bytes = max_bytes
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, StreamSession] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def nbytes(self) -> int:
        return sum(session.nbytes for session in self._sessions.values())

    def get(self, key: str | None) -> tuple[str, StreamSession]:
        """(key, session): the session of `key`, or a new one under a new key."""
        with self._lock:
            if isinstance(key, str) and key in self._sessions:
                self._sessions.move_to_end(key)
                return key, self._sessions[key]
            key = secrets.token_hex(16)
            self._sessions[key] = session = StreamSession()
            self._bound()
            return key, session

    def settle(self, key: str) -> None:
        """After a frame: drop the least recently used sessions over the byte budget (a
        session alone over it keeps no matte)."""
        with self._lock:
            session = self._sessions.get(key)
            if session is not None and session.nbytes > self.max_bytes:
                session.smoother.reset()
            self._bound()

    def end(self, key: str | None) -> None:
        """The visitor's session is gone (gr.State's delete_callback): forget its stream."""
        with self._lock:
            if isinstance(key, str):
                self._sessions.pop(key, None)

    def _bound(self) -> None:
        while len(self._sessions) > self.max_sessions or (
            len(self._sessions) > 1 and self.nbytes > self.max_bytes
        ):
            self._sessions.popitem(last=False)


STREAMS = StreamSessions()
