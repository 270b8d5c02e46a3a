"""The page: a title, the Image, Webcam and Video tabs, and the /models endpoint."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from gradio_app.serving import ModelRegistry, OutputFolder
from gradio_app.settings import AppSettings
from gradio_app.tabs.image import image_tab
from gradio_app.tabs.video import video_tab
from gradio_app.tabs.webcam import webcam_tab

TITLE = (
    "# humanmatting\nCut people out of photos, your camera and videos. Everything runs "
    "on this server; nothing is sent elsewhere."
)
# A checkerboard behind transparent results, so the transparency shows (the before/after
# slider only for a transparent result: else it would fill the picture's letterbox too).
CSS = """
#before-after.see-through img, #matte img, #compare img {
    background: repeating-conic-gradient(#d0d0d0 0% 25%, #ffffff 0% 50%) 50% / 20px 20px;
}
"""


def availability_note(registry: ModelRegistry) -> str:
    """Markdown for visitors: which models can be chosen. How to get the others is for the
    operator (README, the start-up log and /models), never on the page."""
    if not registry.available:
        return "**No model is installed on this server**, so nothing can be matted yet."
    return ""


def build_page(
    registry: ModelRegistry, settings: AppSettings, output_dir: Path | None = None
) -> gr.Blocks:
    """The page and its endpoints. Results are written to `output_dir` (a new temporary
    folder by default); Gradio copies them to its cache."""
    outputs = OutputFolder(output_dir)
    # delete_cache: results leave the server's disk within an hour (and at every restart).
    with gr.Blocks(title="humanmatting", analytics_enabled=False, delete_cache=(600, 3600)) as page:
        gr.Markdown(TITLE)
        gr.Markdown(availability_note(registry), elem_id="model-availability")
        with gr.Tab("Image", id="image"):
            image_tab(registry, outputs, settings.examples_dir)
        with gr.Tab("Webcam", id="webcam"):
            webcam_tab(registry, settings.webcam_time_limit, settings.web_dist)
        with gr.Tab("Video", id="video"):
            video_tab(registry, settings.video, outputs)
        gr.api(registry.summary, api_name="models")
    return page
