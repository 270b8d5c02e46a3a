"""The Webcam tab: camera and live result side by side (one after the other on a phone),
the settings after them; matted in the browser (tabs/browser_camera.py) or on the server
(a stream of frames, endpoint /webcam)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from humanmatting.app import browser, controls
from humanmatting.app.components import InlineJpegImage, Slider, UploadedImage
from humanmatting.app.errors import answers_errors
from humanmatting.app.registry import ModelRegistry
from humanmatting.app.stream import STREAMS
from humanmatting.app.tabs import browser_camera
from humanmatting.app.tabs.browser_camera import WEBCAM_OPTIONS

# The page sends the next frame at the first tick of this period after the last result
# arrived: at 0.04 s, a 45 ms round trip waited for the second tick (12.5 frames/s); at
# 0.02 s it waits at most 20 ms. Measured with benchmarks/webcam_fps.py (see README).
STREAM_EVERY_S = 0.02
# Runs in the page once it has loaded (a js-only event: nothing is sent). Gradio sends no
# event when its camera's stream stops, so the Speed line would keep the last frame's
# frames/s: after a click on the camera's button that leaves it not streaming (no "stop
# recording" button), the line says so instead.
STOPPED_JS = """
(...values) => {
  if (!window.humanmattingStopWatch) {
    window.humanmattingStopWatch = true;
    document.addEventListener('click', (event) => {
      if (!event.target.closest || !event.target.closest('#camera button')) return;
      setTimeout(() => {
        if (document.querySelector('#camera [title="stop recording"]')) return;
        const line = document.querySelector('#readout textarea');
        if (line && line.value) line.value = 'Stopped: press Start to go on.';
      }, 300);
    }, true);
  }
  return values;
}
"""


@dataclass
class CameraStream:
    """The server's stream: each viewer's frames, matted with the registry's models."""

    registry: ModelRegistry

    @answers_errors
    def stream_frame(
        self, frame, model, background, color, picture, blur, edges, smoothing, long_side, session
    ):
        """One camera frame in (Gradio mirrors it, like the preview), one matted frame out.
        `session` is the key of the viewer's state in STREAMS (never the state
        itself: Gradio keeps every session's values)."""
        if frame is None:
            return None, "waiting for the camera", session
        key, viewer = STREAMS.get(session)
        try:
            picture, readout = viewer.process(
                self.registry,
                frame,
                model,
                controls.background_of(background, color, picture, blur),
                edges,
                controls.smoothing_of(smoothing),
                int(long_side),
            )
        finally:
            STREAMS.settle(key)
        return picture, readout, key


def network_size_slider() -> Slider:
    return Slider(
        160,
        512,
        value=320,
        step=32,
        label="Detail",
        info="lower is faster, higher follows edges more closely",
        elem_id="network-size",
    )


def server_camera(on_server: bool) -> UploadedImage:
    """The server stream's camera (shown when the camera is matted on the server)."""
    return UploadedImage(
        sources=["webcam"],
        streaming=True,
        type="numpy",
        label="Camera",
        elem_id="camera",
        webcam_options=WEBCAM_OPTIONS,
        visible=on_server,
    )


def webcam_tab(registry: ModelRegistry, webcam_time_limit: int, web_dist: Path) -> None:
    """Lay out the tab and wire its stream (endpoint /webcam, at most one at a time)."""
    built = browser.built(web_dist)
    # The key of the viewer's stream state in STREAMS, forgotten with the session.
    session = gr.State(None, delete_callback=STREAMS.end)
    where, _ = browser_camera.where_choice(built)
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            panel = browser_camera.panel(built)
            camera = server_camera(on_server=not built)
        with gr.Column(min_width=300, visible=not built) as live_column:
            live = InlineJpegImage(
                label="Live result", format="jpeg", buttons=["fullscreen"], elem_id="live"
            )
            readout = gr.Textbox(label="Speed", elem_id="readout")
        with gr.Column(min_width=280):
            model, background, edges, smoothing = controls.frame_controls(registry)
            size = network_size_slider()
    camera.stream(
        CameraStream(registry).stream_frame,
        [camera, model, *background, edges, smoothing, size, session],
        [live, readout, session],
        stream_every=STREAM_EVERY_S,
        time_limit=webcam_time_limit,
        concurrency_limit=1,
        api_name="webcam",
        api_visibility="undocumented",
    )
    settings = [model, *background, edges, smoothing, size]
    browser_camera.wire(where, panel, (camera, live_column), settings)
    gr.on(None, None, [size], None, js=STOPPED_JS, api_visibility="private")
