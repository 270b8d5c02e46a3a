"""What a front end (the Gradio app, its API) does with the library, without any UI code.

A `ModelRegistry` knows which models have weights and loads each once; `matte_image`,
`matte_video` and `StreamSession` turn requests into pictures with the compose module.
Keeping this out of app.py lets tests and other front ends use it directly.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from humanmatting import compose
from humanmatting.preprocess import ImageInput, load_rgb, model_input_size
from humanmatting.runtime import Matter, load_matter
from humanmatting.specs import DEFAULT_MODEL, MODEL_SPECS
from humanmatting.video import AlphaSmoother, InvalidVideoError, open_video, process_video
from humanmatting.weights import (
    WeightsIntegrityError,
    WeightsNotFoundError,
    resolve_model_folder,
)

# Image tab: what goes behind the person. Videos and the camera have no transparency, so
# they offer the matte itself instead.
IMAGE_BACKGROUNDS = ("transparent", "colour", "image", "blur")
FRAME_BACKGROUNDS = ("blur", "colour", "image", "matte")
EDGES = {"soft": None, "hard": 0.5}  # hard edges: alpha >= 0.5 becomes person
# What a model is loaded for: each role keeps its own interpreters (see ModelRegistry).
ROLES = ("photo", "camera", "video")

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

VIDEO_MAX_MEGABYTES_ENV = "HUMANMATTING_VIDEO_MAX_MB"
VIDEO_MAX_SECONDS_ENV = "HUMANMATTING_VIDEO_MAX_SECONDS"
# VP9 in WebM: every current browser plays it, and OpenCV's bundled FFmpeg encodes it
# (its pip wheels have no H.264 encoder).
VIDEO_SUFFIX, VIDEO_FOURCC = ".webm", "VP90"


class ModelUnavailableError(LookupError):
    """The requested model has no weights here; the message says how to get them."""


class VideoTooLargeError(InvalidVideoError):
    """The uploaded video is over the configured size or duration limit."""


@dataclass(frozen=True)
class Background:
    """What goes behind the person: a mode from IMAGE_/FRAME_BACKGROUNDS and its settings."""

    mode: str = "transparent"
    color: str = "#00b140"
    image: ImageInput | None = None
    blur: float = 15.0


@dataclass
class ImageResult:
    model: str
    matte: np.ndarray  # HxW uint8
    cutout: np.ndarray  # HxWx4 uint8 RGBA
    composite: np.ndarray  # HxWx4 (transparent) or HxWx3 uint8
    model_input: tuple[int, int]  # (height, width) the network saw
    model_ms: float
    total_ms: float

    def summary(self) -> str:
        height, width = self.cutout.shape[:2]
        return (
            f"{self.model}: {width}x{height} photo, network input "
            f"{self.model_input[1]}x{self.model_input[0]}; model {self.model_ms:.1f} ms, "
            f"total {self.total_ms:.1f} ms"
        )


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
    ):
        self.weights = weights
        self.download = download
        self.threads = threads
        self.max_shapes = max_shapes
        self.folders: dict[str, Path] = {}
        self.problems: dict[str, str] = {}
        for name in names:
            try:
                self.folders[name] = resolve_model_folder(name, weights, download=download)
            except (WeightsNotFoundError, WeightsIntegrityError) as error:
                self.problems[name] = str(error)
        self._matters: dict[tuple[str, str], Matter] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> list[str]:
        return list(self.folders)

    @property
    def default(self) -> str | None:
        if DEFAULT_MODEL in self.folders:
            return DEFAULT_MODEL
        return next(iter(self.folders), None)

    def matter(self, name: str | None, role: str = "photo") -> Matter:
        """The model `name` (None: the default) loaded for `role`, one of ROLES."""
        name = name or self.default
        if name not in self.folders:
            raise ModelUnavailableError(self.problems.get(name) or f"Unknown model {name!r}.")
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
        if path is None:
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
        path = (directory or self.new_dir()) / f"{name}.png"
        if picture.ndim == 3:
            picture = cv2.cvtColor(picture, _TO_BGR[picture.shape[2]])
        if not cv2.imwrite(str(path), picture, PNG_OPTIONS):
            raise OSError(f"Could not write {path.name}.")
        return path


@lru_cache(maxsize=4)
def _background_picture(path: str) -> np.ndarray:
    return load_rgb(path)


def _background_rgb(image: ImageInput) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        return _background_picture(str(image))
    return load_rgb(image)


def render(
    rgb: np.ndarray, alpha: np.ndarray, background: Background, threshold: float | None = None
) -> np.ndarray:
    """The person in front of `background`; 'transparent' gives RGBA, the rest RGB."""
    mode = background.mode
    if mode == "transparent":
        return compose.cutout(rgb, alpha, threshold)
    if mode == "colour":
        return compose.replace_background(rgb, alpha, background.color, threshold)
    if mode == "image":
        if background.image is None:
            raise ValueError("Choose a background picture first (or another background mode).")
        backdrop = _background_rgb(background.image)
        return compose.replace_background(rgb, alpha, backdrop, threshold)
    if mode == "blur":
        return compose.blur_background(rgb, alpha, background.blur, threshold)
    if mode == "matte":
        return np.dstack([compose.matte_image(alpha, threshold)] * 3)
    raise ValueError(f"Unknown background {mode!r}; choose one of {IMAGE_BACKGROUNDS}.")


def matte_image(
    registry: ModelRegistry,
    image: ImageInput,
    model: str | None = None,
    background: Background = Background(),
    edges: str = "soft",
) -> ImageResult:
    """One photo -> matte, RGBA cutout and composite, with timings."""
    started = time.perf_counter()
    threshold = EDGES[edges]
    matter = registry.matter(model)
    rgb = load_rgb(image)
    alpha = matter.predict(rgb)
    model_ms = matter.last_timing.model_ms
    cutout = compose.cutout(rgb, alpha, threshold)
    transparent = background.mode == "transparent"  # then the composite is the cutout
    result = ImageResult(
        model=matter.name,
        matte=cutout[:, :, 3],
        cutout=cutout,
        composite=cutout if transparent else render(rgb, alpha, background, threshold),
        model_input=model_input_size(*rgb.shape[:2]),
        model_ms=model_ms,
        total_ms=0.0,
    )
    result.total_ms = (time.perf_counter() - started) * 1e3
    return result


def compare_models(
    registry: ModelRegistry, image: ImageInput, edges: str = "soft"
) -> list[tuple[np.ndarray, str, str]]:
    """(matte, caption with the model time, model name) for every available model."""
    rgb = load_rgb(image)
    results = []
    for name in registry.available:
        matter = registry.matter(name)
        alpha = matter.predict(rgb)
        caption = f"{name}: {matter.last_timing.model_ms:.1f} ms"
        results.append((compose.matte_image(alpha, EDGES[edges]), caption, name))
    return results


@dataclass(frozen=True)
class VideoLimits:
    """Upload limits for the video tab; set by environment variables, see README."""

    max_megabytes: float = 50.0
    max_seconds: float = 30.0

    @classmethod
    def from_env(cls) -> VideoLimits:
        return cls(
            max_megabytes=float(os.environ.get(VIDEO_MAX_MEGABYTES_ENV, cls.max_megabytes)),
            max_seconds=float(os.environ.get(VIDEO_MAX_SECONDS_ENV, cls.max_seconds)),
        )

    def check(self, path: str | os.PathLike) -> int:
        """Raise VideoTooLargeError when over a limit; return the frames to process."""
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
        # Containers without a frame count still stop at the limit.
        return max(1, int(self.max_seconds * info.fps))


def matte_video(
    registry: ModelRegistry,
    source: str | os.PathLike,
    model: str | None = None,
    background: Background = Background(mode="colour"),
    edges: str = "soft",
    smoothing: float | None = 0.6,
    limits: VideoLimits | None = None,
    output_dir: str | os.PathLike | None = None,
) -> Path:
    """Matte every frame of a video into a browser-playable WebM (VP9); audio is dropped."""
    limits = limits or VideoLimits.from_env()
    if background.mode == "transparent":
        raise ValueError("Videos have no transparency; choose blur, colour, image or matte.")
    max_frames = limits.check(source)
    matter = registry.matter(model, role="video")
    threshold = EDGES[edges]
    smoother = AlphaSmoother(smoothing) if smoothing else None

    def frame_function(rgb: np.ndarray) -> np.ndarray:
        alpha = matter.predict(rgb)
        if smoother is not None:
            alpha = smoother(alpha)
        return render(rgb, alpha, background, threshold)

    output_dir = Path(output_dir or tempfile.mkdtemp(prefix="humanmatting-video-"))
    destination = output_dir / f"{Path(source).stem}-{matter.name}{VIDEO_SUFFIX}"
    process_video(source, destination, frame_function, max_frames, fourcc=VIDEO_FOURCC)
    return destination


class StreamSession:
    """Per-viewer state of a live camera stream: temporal smoothing and a rate readout."""

    def __init__(self, window: int = 30, clock: Callable[[], float] = time.perf_counter):
        self.smoother = AlphaSmoother(0.5)
        self.finished: deque[float] = deque(maxlen=window)
        self.frames = 0
        self.clock = clock

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
        background: Background = Background(mode="blur"),
        edges: str = "soft",
        smoothing: bool = True,
        long_side: int | None = None,
    ) -> tuple[np.ndarray, str]:
        """One camera frame -> (picture, readout of frames/s and server time).

        `long_side` trades quality for speed (the network's input; None: the aspect preset).
        """
        started = self.clock()
        matter = registry.matter(model, role="camera")
        rgb = load_rgb(frame)
        alpha = matter.predict(rgb, long_side=long_side)
        if smoothing:
            alpha = self.smoother(alpha)
        else:
            self.smoother.reset()
        if background.mode == "transparent":  # camera frames are shown without alpha
            background = dataclasses.replace(background, mode="matte")
        picture = render(rgb, alpha, background, EDGES[edges])
        finished = self.clock()
        self.finished.append(finished)
        self.frames += 1
        network_height, network_width = model_input_size(*rgb.shape[:2], long_side)
        readout = (
            f"{self.frames_per_second:.1f} frames/s · {(finished - started) * 1e3:.0f} ms "
            f"server time per frame · camera {rgb.shape[1]}x{rgb.shape[0]}, network "
            f"{network_width}x{network_height} · frame {self.frames}"
        )
        return picture, readout
