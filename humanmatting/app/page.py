"""The page: a title, the Image, Webcam and Video tabs, and the /models endpoint."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from humanmatting.app.outputs import OutputFolder
from humanmatting.app.registry import ModelRegistry
from humanmatting.app.settings import AppSettings
from humanmatting.app.tabs.image import image_tab
from humanmatting.app.tabs.video import video_tab
from humanmatting.app.tabs.webcam import webcam_tab

TITLE = (
    "# humanmatting\nCut people out of photos, your camera and videos. Everything runs "
    "on this server; nothing is sent elsewhere."
)
# A transparent result comes as a picture over a checkerboard (outputs.checkerboard_preview),
# so the page itself draws none: opaque mattes and the letterbox around a picture stay plain.
# On a narrow screen the before/after box takes the picture's own height (a landscape photo
# in a fixed-height box sat between two white bands). The readout's details open on a tap.
CSS = """
@media (max-width: 640px) {
    #before-after { height: auto !important; }
}
#timing summary { cursor: pointer; }
#timing details p { margin: 0.25em 0 0; font-size: 0.9em; color: var(--body-text-color-subdued); }
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
