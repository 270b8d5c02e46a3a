"""Start the server: read the settings, give it its own temporary folder, load the models,
build the page and serve it until SIGTERM or Ctrl+C; then remove every file it wrote.

A start that cannot go on (a bad setting, a damaged default model, a port in use) ends
with one line, `humanmatting app: error: ...`, and status 2.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import gradio as gr
from starlette.middleware import Middleware

import humanmatting
from humanmatting.app import heap, uploads
from humanmatting.app.errors import USER_ERRORS, answers_request_shape_errors
from humanmatting.app.limits import PHOTO_CONCURRENCY, REQUEST_MAX_BYTES, UPLOAD_ENVELOPE_BYTES
from humanmatting.app.middleware import BodyLimit
from humanmatting.app.page import CSS, build_page
from humanmatting.app.registry import ModelRegistry
from humanmatting.app.settings import AppSettings, parse_args
from humanmatting.app.tabs import browser_camera
from humanmatting.app.tabs.video import SERVER_STOPPING
from humanmatting.app.tempfolder import AppTempFolder
from humanmatting.errors import one_line
from humanmatting.preprocess import allow_pillow_pixels
from humanmatting.settings import SettingError
from humanmatting.specs import SHIPPED_MODELS

# Gradio's own words on the page, in the visitor's terms: the server stream's camera button
# says "Start"/"Stop" (Gradio's default for it is the audio recorder's "Record").
LABELS = gr.I18n(en={"audio.record": "Start", "audio.stop": "Stop"})
# Gradio modules that read the temporary folder at import time.
GRADIO_TEMP_READERS = ("routes", "route_utils", "screen_recording_utils", "mcp")


@dataclass
class StartTimes:
    """For the start-up line: when the process started and when its imports were done."""

    started: float
    imported: float


def fail(error: BaseException) -> NoReturn:
    """End the start-up with one line that says what is wrong, and status 2."""
    print(f"humanmatting app: error: {one_line(error)}", file=sys.stderr, flush=True)
    sys.exit(2)


def read_settings(argv: list[str] | None, root: Path) -> AppSettings:
    """The environment's settings with the command line over them; a bad one ends the start."""
    try:
        return parse_args(argv, AppSettings.from_env(root))
    except (SettingError, ValueError) as error:
        fail(error)


def temp_base() -> Path:
    """Where the servers' own temporary folders are made (`AppTempFolder`)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "humanmatting-app"


def use_own_temp_folder() -> AppTempFolder:
    """Make everything this server writes go into its own folder: Gradio's uploads and
    cache, the results, temporary files; removed when it stops, or by the next start if
    it was killed."""
    temp = AppTempFolder(temp_base())
    os.environ["GRADIO_TEMP_DIR"] = str(temp.path / "gradio")
    for module in GRADIO_TEMP_READERS:
        loaded = sys.modules.get(f"gradio.{module}")
        if loaded is not None and hasattr(loaded, "DEFAULT_TEMP_DIR"):
            loaded.DEFAULT_TEMP_DIR = os.environ["GRADIO_TEMP_DIR"]
    os.environ["TMPDIR"] = tempfile.tempdir = str(temp.path / "tmp")
    Path(tempfile.tempdir).mkdir()
    print(f"temporary files in {temp.path} (removed when the server stops)", flush=True)
    if temp.removed:
        print(f"removed the temporary files of {len(temp.removed)} stopped server(s)", flush=True)
    return temp


def load_models(settings: AppSettings) -> ModelRegistry:
    """The models that have weights, with the defaults loaded (and checked) now. The log
    gets one line per model served; a model that ships with the package but is missing or
    damaged gets a line with how to get it. The author's original (not shipped) is named
    only where someone asks for it: the /models endpoint, the README."""
    registry = ModelRegistry(
        settings.weights,
        download=settings.download,
        threads=settings.threads,
        max_shapes=settings.max_shapes,
        settings=settings.runtime,
    )
    where = Path(humanmatting.__file__).parent
    print(f"humanmatting {humanmatting.__version__} from {where}", flush=True)
    for name in registry.available:
        print(f"model {name}: {registry.folders[name]}", flush=True)
    if not registry.available:
        print("no model is available", flush=True)
    for name in registry.problems:
        if name in SHIPPED_MODELS:
            how = " ".join(registry.how_to_get(name).split())
            print(f"model {name}: unavailable; to get it: {how}", flush=True)
    # Interpreters for each network input shape are made by the first request that needs
    # one (about 80 MB each).
    for name in dict.fromkeys((registry.default, registry.default_for_frames)):
        if name:
            registry.matter(name)
    return registry


def launch(page: gr.Blocks, registry: ModelRegistry, settings: AppSettings) -> None:
    """Serve `page` (returns once it serves: Gradio's threads carry on)."""
    upload_bytes = int(settings.upload_mb * 2**20) + UPLOAD_ENVELOPE_BYTES
    page.queue(max_size=settings.queue_size, default_concurrency_limit=PHOTO_CONCURRENCY)
    page.launch(
        # No /monitoring: per-endpoint request counts and success rates are nobody's
        # business on a public server (Gradio serves them to anyone by default).
        enable_monitoring=False,
        # Gradio keeps every session's copy of the page's settings (about 140 kB) for up
        # to this many sessions: 10,000 by default, 1.4 GB for /models calls alone.
        state_session_capacity=STATE_SESSIONS,
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        ssr_mode=False,
        run_history=False,  # photos stay out of the browser's storage
        max_file_size=f"{settings.upload_mb:g}mb",
        allowed_paths=[str(settings.examples_dir)],
        footer_links=["api"],
        css=CSS,
        i18n=LABELS,
        quiet=True,  # its "Running on" line (ours says it) and its share-link hint
        prevent_thread_lock=True,
        app_kwargs={
            "middleware": [Middleware(BodyLimit, REQUEST_MAX_BYTES, upload_bytes)],
            # Ahead of Gradio's own routes.
            "routes": browser_camera.routes(registry, settings.web_dist),
        },
    )


# Visitors' sessions whose state Gradio keeps (the oldest dropped first): about 70 MB.
STATE_SESSIONS = 500
# A camera sends a frame every 20-40 ms: a stream that sent none for this long is gone.
STREAM_IDLE_S = 10.0


def end_idle_streams(idle_s: float = STREAM_IDLE_S) -> None:
    """End a camera stream whose page sent no frame for `idle_s`.

    Gradio waits for a stream's next frame up to the stream's whole time limit (300 s),
    holding its lane (one stream at a time) for a visitor who closed the page or hung up
    after one frame. This bounds that wait (Gradio's queue waits through one function,
    wrapped here: it offers no setting for it); the stream then ends as if closed.
    """
    from gradio.queueing import Queue

    wait = Queue.wait_for_event_or_timeout
    if getattr(wait, "bounded_s", None) is not None:
        return

    async def bounded(event, timeout: float):
        return await wait(event, min(timeout, idle_s))

    bounded.bounded_s = idle_s
    Queue.wait_for_event_or_timeout = staticmethod(bounded)


# Request headers must arrive whole within this many seconds of the connection (or of the
# last response on a kept-alive one); uvicorn has no such limit, and ~21,000 connections
# trickling header bytes used up the process's file descriptors.
HEADER_TIMEOUT_S = 10.0
# Idle kept-alive connections are closed after this many seconds (uvicorn's default: 5).
KEEP_ALIVE_S = 5
# File descriptors kept for everything but connections: models, uploads, results, logs.
RESERVED_FILES = 256


def file_budget() -> int:
    """The open connections this process takes: its file-descriptor limit (raised to the
    hard limit) less RESERVED_FILES."""
    try:
        import resource
    except ImportError:  # Windows
        return 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    limit = soft if soft != resource.RLIM_INFINITY else 65536
    return max(64, limit - RESERVED_FILES)


def guarded_protocol(max_connections: int, header_timeout_s: float = HEADER_TIMEOUT_S):
    """uvicorn's HTTP/1.1 protocol with a header timeout and a connection budget: a
    connection over `max_connections` is closed at once, and the first such refusal in a
    minute is one line in the log (not a traceback per connection)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    refused = {"count": 0, "logged_at": -math.inf}

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._header_timer = None
            if len(self.connections) > max_connections:
                refused["count"] += 1
                now = time.monotonic()
                if now - refused["logged_at"] > 60:
                    refused["logged_at"] = now
                    print(
                        f"refusing connections: {len(self.connections) - 1} open, the budget "
                        f"of this process's file descriptors ({refused['count']} refused so "
                        "far; the next such line at most a minute later)",
                        file=sys.stderr,
                        flush=True,
                    )
                transport.abort()
                return
            self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            self._header_timer = self.loop.call_later(header_timeout_s, self._header_timeout)

        def _cancel_header_timer(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.abort()  # no request line and headers in time: no answer

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # a request's headers arrived
                self._cancel_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()  # the next request's headers: in time too

        def connection_lost(self, exc) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

    return GuardedH11Protocol


def guard_connections() -> int:
    """Make Gradio's uvicorn server use guarded_protocol, with KEEP_ALIVE_S (Gradio makes
    its uvicorn.Config itself and passes no such settings); returns the connection budget."""
    import gradio.http_server
    import uvicorn

    budget = file_budget()
    config = gradio.http_server.uvicorn.Config
    if getattr(config, "guarded", False):
        return budget

    class GuardedConfig(uvicorn.Config):
        guarded = True

        def __init__(self, *args, **kwargs):
            kwargs.setdefault("http", guarded_protocol(budget))
            kwargs.setdefault("timeout_keep_alive", KEEP_ALIVE_S)
            super().__init__(*args, **kwargs)

    gradio.http_server.uvicorn.Config = GuardedConfig
    return budget


# Longer strings in a session's record of its inputs and outputs are not kept.
SESSION_VALUE_CHARS = 4096


def _small(value, limit: int = SESSION_VALUE_CHARS):
    """`value` with every string longer than `limit` replaced by None."""
    if isinstance(value, str):
        return value if len(value) <= limit else None
    if isinstance(value, dict):
        return {key: _small(item, limit) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_small(item, limit) for item in value]
    return value


def keep_session_values_small() -> None:
    """Make Gradio's record of each session's last inputs and outputs (kept for its
    deep links, which this app does not offer) drop long strings: a pasted picture's or
    a camera frame's data: URL stayed there per session, 10 MB a session for a request
    at the body limit, up to STATE_SESSIONS sessions."""
    from gradio.state_holder import SessionState

    update = SessionState._update_value_in_config
    if getattr(update, "keeps_values_small", False):
        return

    def update_small(self, key: int, value) -> None:
        update(self, key, _small(value))

    update_small.keeps_values_small = True
    SessionState._update_value_in_config = update_small


def stop_on_sigterm() -> None:
    """SIGTERM ends the app as Ctrl+C does; both first tell the videos at work to stop."""

    def stop(signum, frame):
        SERVER_STOPPING.set()
        raise KeyboardInterrupt  # Gradio closes the server; then the files go

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def serve(registry: ModelRegistry, settings: AppSettings, times: StartTimes) -> None:
    """Build the page, serve it and wait for the end (KeyboardInterrupt, or SIGTERM)."""
    # Results inside tempfile's folder, from where Gradio accepts files to serve.
    page = build_page(registry, settings, Path(tempfile.tempdir) / "outputs")
    launch(page, registry, settings)
    now = time.perf_counter()
    print(
        f"serving {page.local_url} "
        f"{now - times.started:.1f} s after start (imports "
        f"{times.imported - times.started:.1f} s, models and page {now - times.imported:.1f} s); "
        f"uploads up to {settings.upload_mb:g} MB, images up to "
        f"{settings.runtime.max_pixels:,} pixels",
        flush=True,
    )
    page.block_thread()


def default_root() -> Path:
    """Where the app finds examples/ and web/dist: the source checkout it runs from (a clone
    or an editable install), else the installed package's own folder, which holds neither:
    the page then has no example photos and streams the camera to the server, as a
    checkout where npm never ran."""
    package = Path(__file__).resolve().parent
    checkout = package.parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "web" / "package.json").is_file():
        return checkout
    return package


def main(argv: list[str] | None, root: Path | None = None, started: float | None = None) -> None:
    """Run the app whose files (examples/, web/dist) are in `root` (default_root());
    `started`: when the process started (time.perf_counter), for the start-up line."""
    now = time.perf_counter()
    times = StartTimes(now if started is None else started, now)
    root = default_root() if root is None else root
    settings = read_settings(argv, root)
    heap.keep_returning_freed_memory()  # RSS back near its start after a burst
    allow_pillow_pixels(settings.runtime.max_pixels)  # Pillow's process-wide guard, once
    temp = use_own_temp_folder()
    try:
        registry = load_models(settings)
    except (*USER_ERRORS, MemoryError) as error:
        temp.remove()
        fail(error)
    uploads.remove_uploads_cut_off()
    uploads.accept_only_pictures_and_videos()
    keep_session_values_small()
    answers_request_shape_errors()
    end_idle_streams()
    connections = guard_connections()
    print(
        f"connections: at most {connections:,} at once; request headers within "
        f"{HEADER_TIMEOUT_S:g} s",
        flush=True,
    )
    stop_on_sigterm()
    try:
        serve(registry, settings, times)
    except KeyboardInterrupt:
        pass
    except OSError as error:  # the port is taken, ...
        temp.remove()
        fail(error)
    temp.remove()
    print(f"stopped; removed {temp.path}", flush=True)
    # Requests still running (a long video) would keep the process alive: their files
    # are gone, and so is the server.
    os._exit(0)
