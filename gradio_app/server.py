"""Start the server: read the settings, give it its own temporary folder, load the models,
build the page and serve it until SIGTERM or Ctrl+C; then remove every file it wrote.

A start that cannot go on (a bad setting, a damaged default model, a port in use) ends
with one line, `humanmatting app: error: ...`, and status 2.
"""

from __future__ import annotations

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
from gradio_app import heap, uploads
from gradio_app.errors import USER_ERRORS
from gradio_app.page import CSS, build_page
from gradio_app.serving import (
    PHOTO_CONCURRENCY,
    REQUEST_MAX_BYTES,
    UPLOAD_ENVELOPE_BYTES,
    AppTempFolder,
    BodyLimit,
    ModelRegistry,
    SettingError,
)
from gradio_app.settings import AppSettings, parse_args
from gradio_app.tabs import browser_camera
from humanmatting.errors import one_line
from humanmatting.preprocess import allow_pillow_pixels

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
    """The models that have weights, with the defaults loaded (and checked) now; says in
    the log which are missing and how to get them."""
    registry = ModelRegistry(
        settings.weights,
        download=settings.download,
        threads=settings.threads,
        max_shapes=settings.max_shapes,
        settings=settings.runtime,
    )
    print(
        f"humanmatting {humanmatting.__version__} from {Path(humanmatting.__file__).parent}; "
        f"models: {', '.join(registry.available) or 'none'}"
        + "".join(f"; {name}: unavailable" for name in registry.problems),
        flush=True,
    )
    for name in registry.problems:  # for the operator: the page shows only what runs
        how = " ".join(registry.how_to_get(name).split())
        print(f"to get {name}: {how}", flush=True)
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
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        ssr_mode=False,
        run_history=False,  # photos stay out of the browser's storage
        max_file_size=f"{settings.upload_mb:g}mb",
        allowed_paths=[str(settings.examples_dir)],
        footer_links=["api"],
        css=CSS,
        prevent_thread_lock=True,
        app_kwargs={
            "middleware": [Middleware(BodyLimit, REQUEST_MAX_BYTES, upload_bytes)],
            # Ahead of Gradio's own routes.
            "routes": browser_camera.routes(registry, settings.web_dist),
        },
    )


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


def stop_on_sigterm() -> None:
    def stop(signum, frame):
        raise KeyboardInterrupt  # Gradio closes the server; then the files go

    signal.signal(signal.SIGTERM, stop)


def serve(registry: ModelRegistry, settings: AppSettings, times: StartTimes) -> None:
    """Build the page, serve it and wait for the end (KeyboardInterrupt, or SIGTERM)."""
    # Results inside tempfile's folder, from where Gradio accepts files to serve.
    page = build_page(registry, settings, Path(tempfile.tempdir) / "outputs")
    launch(page, registry, settings)
    now = time.perf_counter()
    print(
        f"serving {now - times.started:.1f} s after start (imports "
        f"{times.imported - times.started:.1f} s, model and page {now - times.imported:.1f} s); "
        f"uploads up to {settings.upload_mb:g} MB, images up to "
        f"{settings.runtime.max_pixels:,} pixels",
        flush=True,
    )
    page.block_thread()


def main(argv: list[str] | None, root: Path, started: float) -> None:
    """Run the app whose files (examples/, web/dist) are in `root`; `started`: when the
    process started (time.perf_counter), for the start-up line."""
    times = StartTimes(started, time.perf_counter())
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
    end_idle_streams()
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
