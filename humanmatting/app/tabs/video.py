"""The Video tab: upload (first frame as the preview), result, settings; endpoint
/matte_video, one video at a time in its own lane."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cachetools
import cv2
import gradio as gr
import numpy as np

from humanmatting.app import controls, videos
from humanmatting.app.components import VideoFile
from humanmatting.app.errors import USER_ERRORS, answers_errors, user_error
from humanmatting.app.limits import VideoLimits
from humanmatting.app.outputs import OutputFolder
from humanmatting.app.registry import ModelRegistry
from humanmatting.app.uploads import uploaded_file
from humanmatting.compose import DEFAULT_BACKGROUND, DEFAULT_BLUR, DEFAULT_COLOR
from humanmatting.video import DEFAULT_SMOOTHING, VIDEO_SUFFIXES, InvalidVideoError, open_video

# Gradio recognises a gr.Progress default; the video's frames drive it (progress_reporter).
PROGRESS = gr.Progress()
# Runs in the page when the button is pressed: the progress bar is drawn over the result,
# which on a phone is below the button, out of view; it is brought into view.
SCROLL_TO_RESULT_JS = """
() => {
  const result = document.querySelector('#video-result');
  if (!result) return [];
  const box = result.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) {
    result.scrollIntoView({behavior: 'smooth', block: 'center'});
  }
  return [];
}
"""


def describe_video(path: str) -> tuple[np.ndarray | None, str]:
    """The first frame of an upload (the preview, whatever its codec) and a line about it."""
    capture, info = open_video(path)
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise InvalidVideoError(f"{Path(path).name} has no frame that can be read.")
    frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return frame, (
        f"**{Path(path).name}**: {info.width}x{info.height}, {info.duration_s:.1f} s at "
        f"{info.fps:g} frames/s. Press *Matte the video*."
    )


# Set when the server stops (SIGTERM, Ctrl+C): a video at work stops at its next frame
# instead of holding up the shutdown for a result whose file is about to be removed.
SERVER_STOPPING = threading.Event()


class VideoStoppedError(gr.Error):
    """The visitor cancelled the video or went away: its work stops (nobody reads it)."""


def still_wanted() -> bool:
    """Whether someone still waits for the request this thread works on: False once
    Gradio cancelled its event (the page's Stop, /gradio_api/cancel) or its client went
    away. Gradio then frees the lane but lets the handler's thread run on (three cancelled
    4K videos were matted at once in the one-video lane); this is how a handler knows.
    True outside a Gradio request (tests, other front ends); False once the server stops."""
    from gradio.context import LocalContext

    if SERVER_STOPPING.is_set():
        return False

    blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
    queue = getattr(blocks, "_queue", None)
    if queue is None or event_id is None:
        return True
    for job in list(queue.active_jobs):
        for event in job or ():
            if event._id == event_id:
                return event.alive
    return False  # its job is over: cancelled


def progress_reporter(
    progress: gr.Progress, every_s: float = 0.5, wanted: Callable[[], bool] = still_wanted
):
    """An `on_progress` for process_video: frames done of frames total, and the time left,
    at most every `every_s` (each update is a message to the page). Raises
    VideoStoppedError as soon as `wanted()` says nobody waits for the result."""
    last = [-every_s]

    def report(done: int, total: int | None, elapsed_s: float) -> None:
        if not wanted():
            why = "its visitor cancelled it, left or took another upload"
            if SERVER_STOPPING.is_set():
                why = "the server stops"
            print(
                f"stopped a video after {done} frames: {why}",
                file=sys.stderr,
                flush=True,
            )
            raise VideoStoppedError("The video was stopped.", print_exception=False)
        if elapsed_s - last[0] < every_s and done != total:
            return
        last[0] = elapsed_s
        if total:
            left = elapsed_s / done * max(total - done, 0)
            progress((done, total), desc=f"about {left:.0f} s left", unit="frames")
        else:
            progress(None, desc=f"{done} frames done")

    return report


@dataclass
class VideoRequests:
    """The tab's request handlers, with the models, the limits and the results' folder."""

    registry: ModelRegistry
    limits: VideoLimits
    outputs: OutputFolder
    # The upload each page shows now (its session's hash -> the file), set by the preview.
    # A video being matted that the page no longer shows (its visitor cleared it or took
    # another) stops, and its result is not shown beside the new upload.
    shown_uploads: cachetools.LRUCache = field(
        default_factory=lambda: cachetools.LRUCache(maxsize=4096)
    )
    shown_uploads_lock: threading.Lock = field(default_factory=threading.Lock)

    def still_shown(self, session: str | None, key: str | None) -> bool:
        """Whether the page of `session` still shows the upload `key` (True for pages with
        no preview: the API)."""
        with self.shown_uploads_lock:
            return self.shown_uploads.get(session, key) == key

    @answers_errors
    def matte_video(
        self,
        video,
        model=None,
        background=DEFAULT_BACKGROUND,
        color=DEFAULT_COLOR,
        picture=None,
        blur=DEFAULT_BLUR,
        edges="soft",
        smoothing=DEFAULT_SMOOTHING,
        progress=PROGRESS,
        *,
        wanted: Callable[[], bool] = still_wanted,
    ):
        """Matte every frame of a short video; returns an MP4 (H.264) with its sound."""
        if video is None:
            raise gr.Error("Upload a video first.", print_exception=False)
        video = uploaded_file(video)
        if self.registry.is_loaded(model, "video"):
            progress(0, desc="Reading the video")
        else:
            progress(0, desc="Loading the model: its first use takes a few seconds")
        with self.outputs.lease() as folder:  # not cleaned up however long the video takes
            return str(
                videos.matte_video(
                    self.registry,
                    video,
                    model,
                    controls.background_of(background, color, picture, blur),
                    edges,
                    controls.smoothing_of(smoothing),
                    self.limits,
                    folder,
                    on_progress=progress_reporter(progress, wanted=wanted),
                )
            )

    def show(
        self,
        video,
        model,
        background,
        color,
        picture,
        blur,
        edges,
        smoothing,
        progress=PROGRESS,
        request: gr.Request | None = None,
    ):
        """The page's button: (the result, the note under the button). A refusal goes to
        the note, once, with no result left from before; the next result clears it. A
        video the page no longer shows answers nothing: the page is the next upload's."""

        # Checked at every progress step: the upload's key is worked out once.
        session, key = getattr(request, "session_hash", None), upload_key(video)

        def wanted() -> bool:
            return still_wanted() and self.still_shown(session, key)

        result, note = None, ""
        try:
            result = self.matte_video(
                video,
                model,
                background,
                color,
                picture,
                blur,
                edges,
                smoothing,
                progress,
                wanted=wanted,
            )
        except gr.Error as error:
            note = f"**{error.message}**"
        if not self.still_shown(session, key):
            return gr.skip(), gr.skip()
        return result, note

    @answers_errors
    def preview(self, video, request: gr.Request | None = None):
        """The first frame and a line about the upload (hidden when there is none); a file
        that cannot be read is said in that line. A new upload clears the last result and
        note, which were another video's."""
        if request is not None and request.session_hash:
            key = upload_key(video)
            with self.shown_uploads_lock:
                self.shown_uploads[request.session_hash] = key
        hidden = gr.update(value=None, visible=False)
        if video is None:
            return hidden, "", None, ""
        try:
            frame, line = describe_video(uploaded_file(video))
        except (*USER_ERRORS, MemoryError) as error:
            return hidden, f"**{user_error(error, video).message}**", None, ""
        return gr.update(value=frame, visible=True), line, None, ""


def upload_key(video) -> str | None:
    """The file of an upload as the preview and the button both see it (None: none, or
    not an upload of this server)."""
    try:
        return None if video is None else str(uploaded_file(video))
    except gr.Error:
        return None


def upload_column(limits: VideoLimits) -> tuple:
    """The upload, its preview and line, the button, its note and the limits."""
    video = VideoFile(
        label="Video: drop or click to upload",
        file_types=sorted(VIDEO_SUFFIXES),
        elem_id="video-input",
        height=120,
    )
    first_frame = gr.Image(
        label="First frame",
        interactive=False,
        visible=False,
        height=200,
        elem_id="video-preview",
        buttons=[],
    )
    info = gr.Markdown(elem_id="video-info")
    button = gr.Button("Matte the video", variant="primary", elem_id="video-button")
    note = gr.Markdown(elem_id="video-note")
    gr.Markdown(
        f"Videos up to {limits.max_seconds:g} s and {limits.max_megabytes:g} MB. The "
        "result is an MP4 video with the original sound."
    )
    return video, first_frame, info, button, note


def video_tab(registry: ModelRegistry, limits: VideoLimits, outputs: OutputFolder) -> None:
    """Lay out the tab and wire its events."""
    requests = VideoRequests(registry, limits, outputs)
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            video, first_frame, info, button, note = upload_column(limits)
        with gr.Column(min_width=300):
            result = gr.Video(
                label="Result", buttons=["download"], elem_id="video-result", format=None
            )
        with gr.Column(min_width=280):
            model, background, edges, smoothing = controls.frame_controls(registry)
    # Reading the first frame is shown on the line about the upload, not on the note and
    # the result it clears (a timer there reads as work on the video).
    video.change(
        requests.preview,
        video,
        [first_frame, info, result, note],
        api_visibility="private",
        show_progress_on=info,
    )
    inputs = [video, model, *background, edges, smoothing]
    one_at_a_time = {"concurrency_id": "video", "concurrency_limit": 1}
    # The last refusal goes at once (registered first: the page sends a click's events in
    # order), with no timer flashing on the note; the progress is drawn over the result only.
    button.click(lambda: "", None, note, **controls.AT_ONCE)
    button.click(
        requests.show,
        inputs,
        [result, note],
        api_visibility="private",
        show_progress_on=result,
        **one_at_a_time,
    )
    button.click(None, js=SCROLL_TO_RESULT_JS, api_visibility="private")
    # The API's /matte_video answers with the video itself, or an error.
    gr.Button(visible=False).click(
        requests.matte_video, inputs, result, api_name="matte_video", **one_at_a_time
    )
