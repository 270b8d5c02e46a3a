"""The settings the tabs share: model, background, edges, quality (built in the order the
page shows them)."""

from __future__ import annotations

import gradio as gr

from humanmatting.app.components import Dropdown, Radio, Slider, SmoothingSlider, UploadedImage
from humanmatting.app.registry import ModelRegistry
from humanmatting.compose import DEFAULT_BACKGROUND, DEFAULT_BLUR, DEFAULT_COLOR
from humanmatting.pipeline import EDGES, FRAME_KINDS, Background
from humanmatting.specs import QUALITIES
from humanmatting.video import DEFAULT_SMOOTHING

# Events that answer at once in the page itself (clear a note, say a model is loading):
# not queued behind photo work, and no timer drawn where a message will be written.
AT_ONCE = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}


def background_of(mode: str, color: str, image: str | None, blur: float) -> Background:
    """The Background that the background controls' values describe (ValueError for a
    bad one: an unknown kind or colour)."""
    return Background.parse(mode, color or None, image, blur)


def smoothing_of(smoothing: bool | float | None) -> float:
    """The smoothing that the *Smoothing* slider (or an API call) asks for: the number
    itself (the share of the last matte kept, 0: none); True or False, the values of the
    checkbox the slider replaced, are the library's default (video.DEFAULT_SMOOTHING) and
    none, so that older clients keep working."""
    if isinstance(smoothing, bool) or smoothing is None:
        return DEFAULT_SMOOTHING if smoothing else 0.0
    return float(smoothing)


def background_settings_shown(mode: str) -> tuple:
    """Updates that show the color, picture or blur setting, whichever `mode` needs."""
    return (
        gr.update(visible=mode == "color"),
        gr.update(visible=mode == "image"),
        gr.update(visible=mode == "blur"),
    )


def background_controls(modes: tuple[str, ...], default: str = DEFAULT_BACKGROUND):
    """Radio for the background and the setting each choice needs (shown when relevant)."""
    mode = Radio(list(modes), value=default, label="Background")
    color = gr.ColorPicker(value=DEFAULT_COLOR, label="Color", visible=default == "color")
    image = UploadedImage(
        type="filepath",
        image_mode=None,
        label="Background picture",
        sources=["upload", "clipboard"],
        visible=default == "image",
        height=160,
    )
    blur = Slider(
        1,
        50,
        value=DEFAULT_BLUR,
        step=1,
        label="Blur strength",
        visible=default == "blur",
    )
    mode.change(
        background_settings_shown,
        mode,
        [color, image, blur],
        api_visibility="private",
        queue=False,
    )
    return mode, color, image, blur


def model_dropdown(registry: ModelRegistry, frames: bool = False) -> Dropdown:
    """`frames`: the camera's and videos' default (the fastest), else the photos' (the best)."""
    return Dropdown(
        registry.available,
        value=registry.default_for_frames if frames else registry.default,
        label="Model",
        info="lite0 (the default) is the fastest and finds people best, in everyday and "
        "full-length photos alike; dark and dark-light see shades of gray",
        interactive=bool(registry.available),
    )


def edges_radio() -> Radio:
    return Radio(
        list(EDGES),
        value="soft",
        label="Edges",
        info="soft keeps hair and motion blur; hard gives a crisp outline",
    )


def smoothing_slider() -> SmoothingSlider:
    """The CLI's --smoothing and the library's `smoothing`, with their default."""
    return SmoothingSlider(
        0,
        0.9,
        value=DEFAULT_SMOOTHING,
        step=0.1,
        label="Smoothing",
        info="share of the last matte kept: steadier edges on video, 0 = none",
    )


def frame_controls(registry: ModelRegistry) -> tuple:
    """The Webcam and Video tabs' settings: (model, background controls, edges,
    smoothing), with the frames' defaults; made in the order the page shows them."""
    model = model_dropdown(registry, frames=True)
    background = background_controls(FRAME_KINDS)
    edges = edges_radio()
    return model, background, edges, smoothing_slider()


def quality_radio() -> Radio:
    """Photos: quality against speed (specs.QUALITIES)."""
    return Radio(
        list(QUALITIES),
        value="best",
        label="Quality",
        info="best: the network size that measures best, edges refined in colour; "
        "fast: a smaller network input and cheaper edges",
        elem_id="image-quality",
    )
