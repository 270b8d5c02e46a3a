"""The server's camera stream (the Webcam tab's fallback, /webcam): each viewer's frames
matted with the library's `matte_photo`, smoothed across frames; the viewers' state kept
on the server, bounded."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

import cachetools
import numpy as np

from humanmatting.app.caches import with_cached_picture
from humanmatting.app.limits import CAMERA_MAX_FRAME_PIXELS, STREAM_SESSIONS, STREAM_STATE_BYTES
from humanmatting.app.registry import ModelRegistry
from humanmatting.pipeline import MATTE, Background, Edges, as_frame, matte_photo
from humanmatting.preprocess import load_rgb
from humanmatting.video import DEFAULT_SMOOTHING, AlphaSmoother


class StreamSession:
    """Per-viewer state of a live camera stream: temporal smoothing and a rate readout.

    Kept on the server by StreamSessions (the page holds only its key): its smoother holds
    the last matte, 4 bytes a pixel of the camera frame.
    """

    def __init__(self, window: int = 30, clock: Callable[[], float] = time.perf_counter):
        self.smoother = AlphaSmoother()
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
        background: Background | None = None,
        edges: Edges = "soft",
        smoothing: float = DEFAULT_SMOOTHING,
        long_side: int | None = None,
    ) -> tuple[np.ndarray, str]:
        """One camera frame -> (picture, readout of frames/s and server time).

        `smoothing`: how much of the last frames' matte each frame keeps (0: none; a new
        value starts the smoothing over). `long_side` trades quality for speed (the
        network's input; None: quality "fast"'s).
        """
        started = self.clock()
        matter = registry.matter(model, role="camera")
        max_pixels = registry.settings.max_pixels
        rgb = load_rgb(frame, min(max_pixels, CAMERA_MAX_FRAME_PIXELS))
        if smoothing != self.smoother.smoothing:
            self.smoother = AlphaSmoother(smoothing or self.smoother.smoothing)
        if not smoothing:
            self.smoother.reset()
        background = background or Background()
        if background.kind == "transparent":  # camera frames are shown without alpha
            background = Background(MATTE)
        # No foreground colours for live frames: 25 ms on a 640x480 frame, as much as the
        # network (benchmarks/refinement/results.md); photos get them, frames do not.
        photo = matte_photo(
            matter,
            rgb,
            with_cached_picture(background, max_pixels),
            edges,
            foreground_colors=False,
            quality="fast",
            long_side=long_side,
            smoother=self.smoother if smoothing else None,
        )
        picture = as_frame(photo.picture)
        finished = self.clock()
        self.finished.append(finished)
        self.frames += 1
        network_height, network_width = photo.prediction.input_size
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
    number (a cachetools LRU cache) and in bytes (`settle`, after each frame: a session's
    matte grows with its frames, so its size is not known when it is stored), least
    recently used dropped first (its next frame starts the smoothing over), and forgotten
    when Gradio drops the visitor's session (`end`).
    """

    def __init__(self, max_bytes: int = STREAM_STATE_BYTES, max_sessions: int = STREAM_SESSIONS):
        self.max_bytes = max_bytes
        self._sessions: cachetools.LRUCache[str, StreamSession] = cachetools.LRUCache(max_sessions)
        self._lock = threading.Lock()

    @property
    def max_sessions(self) -> int:
        return int(self._sessions.maxsize)

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def nbytes(self) -> int:
        return sum(session.nbytes for session in self._sessions.values())

    def get(self, key: str | None) -> tuple[str, StreamSession]:
        """(key, session): the session of `key` (now the most recently used), or a new one
        under a new key (the least recently used dropped when there are too many)."""
        with self._lock:
            session = self._sessions.get(key) if isinstance(key, str) else None
            if session is not None:
                return key, session
            key = secrets.token_hex(16)
            self._sessions[key] = session = StreamSession()
            self._drop_over_budget()
            return key, session

    def settle(self, key: str) -> None:
        """After a frame: drop the least recently used sessions over the byte budget (a
        session alone over it keeps no matte)."""
        with self._lock:
            session = self._sessions.get(key)
            if session is not None and session.nbytes > self.max_bytes:
                session.smoother.reset()
            self._drop_over_budget()

    def end(self, key: str | None) -> None:
        """The visitor's session is gone (gr.State's delete_callback): forget its stream."""
        with self._lock:
            if isinstance(key, str):
                self._sessions.pop(key, None)

    def _drop_over_budget(self) -> None:
        """Least recently used first, until the sessions' mattes fit in max_bytes."""
        while len(self._sessions) > 1 and self.nbytes > self.max_bytes:
            self._sessions.popitem()


STREAMS = StreamSessions()
