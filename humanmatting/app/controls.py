"""The settings the tabs share: model, background, edges, quality (built in the order the
page shows them)."""

from __future__ import annotations

import gradio as gr

from humanmatting.app.components import Dropdown, Radio, Slider, UploadedImage
from humanmatting.app.registry import ModelRegistry
from humanmatting.compose import DEFAULT_BACKGROUND, DEFAULT_BLUR, DEFAULT_COLOR
from humanmatting.pipeline import EDGES, FRAME_KINDS, Background
from humanmatting.specs import QUALITIES
from humanmatting.video import DEFAULT_SMOOTHING


def background_of(mode: str, color: str, image: str | None, blur: float) -> Background:
    """The Background that the background controls' values describe (ValueError for a
    bad one: an unknown kind or colour)."""
    return Background.parse(mode, color or None, image, blur)


def smoothing_of(steady: bool | float | None) -> float:
    """The smoothing that the *Steady edges* box asks for: the library's one default
    (video.DEFAULT_SMOOTHING) when ticked, none when not; an API call may send the
    number itself (from 0 to below 1)."""
    if isinstance(steady, bool) or steady is None:
        return DEFAULT_SMOOTHING if steady else 0.0
    return float(steady)


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
        info="dark-light is the fastest; night looks at color, dark and dark-light at shades "
        "of gray",
        interactive=bool(registry.available),
    )


def edges_radio() -> Radio:
    return Radio(
        list(EDGES),
        value="soft",
        label="Edges",
        info="soft keeps hair and motion blur; hard gives a crisp outline",
    )


def frame_controls(registry: ModelRegistry) -> tuple:
    """The Webcam and Video tabs' settings: (model, background controls, edges, steady
    edges), with the frames' defaults; made in the order the page shows them."""
    model = model_dropdown(registry, frames=True)
    background = background_controls(FRAME_KINDS)
    edges = edges_radio()
    smoothing = gr.Checkbox(True, label="Steady edges", info="average the matte over a few frames")
    return model, background, edges, smoothing


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
