"""The Image tab: the photo and the examples, the result beside it, the settings after.

Every change of a setting re-renders from the matte already computed for the photo
(caches.MATTES); only a new photo or model runs the network.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import gradio as gr

from humanmatting.app import controls, photos
from humanmatting.app.components import Radio, UploadedImage
from humanmatting.app.errors import USER_ERRORS, answers_errors, user_error
from humanmatting.app.limits import PHOTO_CONCURRENCY
from humanmatting.app.outputs import OutputFolder, checkerboard_preview, download_name
from humanmatting.app.registry import ModelRegistry
from humanmatting.compose import DEFAULT_BACKGROUND, DEFAULT_BLUR, DEFAULT_COLOR

OUTPUT_HEIGHT = 360
NO_PERSON = (
    "**No person found** in this photo: the cutout is empty. The models look for people "
    "who fill a good part of the picture; try a closer photo or another model. "
)
# Every photo request (upload, setting change, /matte, /compare) shares one lane.
PHOTO_WORK = {"concurrency_id": "photo", "concurrency_limit": PHOTO_CONCURRENCY}


# Runs in the page after each result (or refusal) arrived, with the photo it is for; only a
# new photo's result is scrolled to (a changed setting leaves the page where the visitor
# put it): on a phone the result is below the photo, out of view; on a wide screen it is
# beside the photo already and nothing moves.
SCROLL_TO_RESULT_JS = """
(photo) => {
  const result = document.querySelector('#image-result');
  const url = photo ? photo.url : null;
  if (url === window.hmScrolledFor) return [];
  window.hmScrolledFor = url;
  if (!result || !url) return [];
  const top = result.getBoundingClientRect().top;
  if (top > window.innerHeight * 0.5 || top < 0) {
    result.scrollIntoView({behavior: 'smooth', block: 'start'});
  }
  return [];
}
"""


@dataclass
class ResultFiles:
    result: photos.ImageResult
    cutout: Path  # RGBA PNG
    composite: Path  # on the chosen background, in the chosen format
    matte: Path  # PNG
    note: str  # Markdown for the page: no person found, JPEG has no transparency
    shown: Path  # what the before/after slider shows: a transparent one over a checkerboard


def readout_html(result: photos.ImageResult) -> str:
    """The result's line in a visitor's words, the details behind it on demand."""
    line, details = result.readout()
    return (
        f'<details class="hm-timing"><summary>{html.escape(line)}</summary>'
        f"<p>{html.escape(details)}</p></details>"
    )


@dataclass
class ImageRequests:
    """The tab's request handlers, with the models and the folder for their files."""

    registry: ModelRegistry
    outputs: OutputFolder

    def result_files(
        self, image, model, background, color, picture, blur, edges, image_format, quality
    ) -> ResultFiles:
        """Matte the photo and write its files."""
        chosen = controls.background_of(background, color, picture, blur)
        result = photos.matte_image(self.registry, image, model, chosen, edges, quality)
        folder = self.outputs.new_dir()
        note = ""
        cutout_name = download_name(image, "transparent")
        cutout = self.outputs.png(result.cutout, cutout_name, folder)
        if background == "transparent" and image_format == "jpeg":
            image_format = "png"
            note = "JPEG has no transparency: the download is a PNG. "
        if background == "transparent" and image_format == "png":
            composite = cutout
        else:
            name = download_name(image, background)
            composite = self.outputs.picture(result.composite, name, image_format, folder)
        matte = self.outputs.png(result.matte, download_name(image, "matte"), folder)
        shown = composite
        if background == "transparent":
            preview = checkerboard_preview(result.cutout)
            shown = self.outputs.picture(preview, download_name(image, "preview"), "jpeg", folder)
        if not result.person_found:
            note = NO_PERSON + note
        return ResultFiles(result, cutout, composite, matte, note, shown)

    @answers_errors
    def matte(
        self,
        image,
        model=None,
        background=DEFAULT_BACKGROUND,
        color=DEFAULT_COLOR,
        picture=None,
        blur=DEFAULT_BLUR,
        edges="soft",
        image_format="png",
        quality="best",
    ):
        """Cut the person out of a photo: (RGBA cutout PNG, the person on the chosen
        background in `image_format`, matte PNG, timing)."""
        if image is None:
            raise gr.Error("Upload or paste a photo first.", print_exception=False)
        files = self.result_files(
            image, model, background, color, picture, blur, edges, image_format, quality
        )
        return files.cutout, files.composite, files.matte, files.result.summary()

    @answers_errors
    def show(
        self,
        image,
        model,
        background,
        color,
        picture,
        blur,
        edges,
        image_format,
        quality="best",
    ):
        """What the page shows: before/after, the download, the matte, readout and note.

        A request the visitor can put right (no background picture yet, a file that is no
        photo) is answered in the note, where the result would be, with the result and its
        download cleared: one message, in place, replaced by the next result."""
        if image is None:
            return nothing_shown("")
        try:
            files = self.result_files(
                image, model, background, color, picture, blur, edges, image_format, quality
            )
        except (*USER_ERRORS, MemoryError) as error:
            message = user_error(error, image, picture).message
            return nothing_shown(f"**{message}**")
        download = gr.update(
            value=str(files.composite), label=f"Download {files.composite.name}", visible=True
        )
        before_after = gr.update(value=(str(image), str(files.shown)), visible=True)
        return before_after, download, str(files.matte), readout_html(files.result), files.note

    def loading_note(self, model: str | None) -> str:
        """Said above the result while a model that has not run yet loads (seconds), so the
        wait is explained; the result clears it. (Not a gr.Progress in `show`: with one,
        Gradio 6.31 offered the previous file under the new Download label.)"""
        if model and not self.registry.is_loaded(model):
            return f"Loading the {model} model: its first use here takes a few seconds…"
        return ""

    @answers_errors
    def compare(self, image, edges="soft"):
        """The matte of every available model, side by side."""
        if image is None:
            raise gr.Error("Upload or paste a photo first.", print_exception=False)
        mattes = photos.compare_models(self.registry, image, edges)
        folder = self.outputs.new_dir()
        return [
            (self.outputs.png(matte, download_name(image, name), folder), caption)
            for matte, caption, name in mattes
        ]


def nothing_shown(note: str) -> tuple:
    """The page's outputs with no result: the slider hidden, no download, `note` alone."""
    hidden = gr.update(value=None, visible=False)
    return hidden, hidden, None, "", note


def photo_column(examples_dir: Path) -> UploadedImage:
    """The photo input and, when the folder has some, the example photos."""
    photo = UploadedImage(
        type="filepath",
        image_mode=None,  # the file as uploaded: humanmatting reads it
        sources=["upload", "clipboard"],
        label="Photo: drop, paste or click to upload",
        elem_id="photo",
        height=300,
    )
    examples = sorted(examples_dir.glob("*.jpg"))
    if examples:
        gr.Examples(
            [[str(path)] for path in examples],
            inputs=photo,
            label="Or try an example",
            examples_per_page=6,
        )
    return photo


def result_column() -> list:
    """The outputs beside the photo: [before/after, download, readout, note, loading note]."""
    loading = gr.Markdown(elem_id="loading-note")
    note = gr.Markdown(elem_id="image-note")
    slider = gr.ImageSlider(
        label="Before / after (drag the handle)",
        type="filepath",
        interactive=False,
        buttons=["fullscreen"],
        elem_id="before-after",
        max_height=OUTPUT_HEIGHT,
        height=OUTPUT_HEIGHT,
    )
    download = gr.DownloadButton("Download", variant="primary", visible=False, elem_id="download")
    timing = gr.HTML(elem_id="timing")
    return [slider, download, timing, note, loading]


class PhotoControls(NamedTuple):
    """The tab's controls of the settings, in the order the handlers take them (after the
    photo)."""

    model: gr.Dropdown
    background: gr.Radio
    color: gr.ColorPicker
    picture: gr.Image
    blur: gr.Slider
    edges: gr.Radio
    image_format: gr.Radio
    quality: gr.Radio


def settings_column(registry: ModelRegistry) -> tuple[PhotoControls, gr.Image]:
    """The settings and the matte (in an accordion), in the order the page shows them."""
    model = controls.model_dropdown(registry)
    background = controls.background_controls(photos.IMAGE_BACKGROUNDS)
    edges = controls.edges_radio()
    quality = controls.quality_radio()
    image_format = Radio(
        [("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp")],
        value="png",
        label="Download as",
        info="PNG keeps transparency; JPEG and WebP are much smaller",
        elem_id="image-format",
    )
    with gr.Accordion("Matte", open=False):
        matte = gr.Image(
            label="Matte (white: person)",
            type="filepath",
            format="png",
            buttons=["download"],
            interactive=False,
            elem_id="matte",
            height=240,
        )
    return PhotoControls(model, *background, edges, image_format, quality), matte


def compare_section(registry: ModelRegistry) -> tuple[gr.Button, gr.Gallery]:
    """Every model's matte side by side, when there is more than one model."""
    if len(registry.available) <= 1:
        return gr.Button(visible=False), gr.Gallery(visible=False, format="png", elem_id="compare")
    with gr.Accordion("Compare models", open=False):
        button = gr.Button("Run every available model on the photo")
        gallery = gr.Gallery(
            label="Matte per model",
            columns=len(registry.available),
            height="auto",
            object_fit="contain",
            format="png",
            buttons=["download", "fullscreen"],
            elem_id="compare",
        )
    return button, gallery


def api_matte_outputs() -> list:
    """The API's /matte answers with the files themselves (the page shows them with `show`)."""
    return [
        gr.Image(type="filepath", format="png", visible=False, image_mode="RGBA"),
        gr.Image(type="filepath", visible=False),
        gr.Image(type="filepath", format="png", visible=False),
        gr.Textbox(visible=False),
    ]


def image_tab(registry: ModelRegistry, outputs: OutputFolder, examples_dir: Path) -> None:
    """Lay out the tab and wire its events (named endpoints: /matte, /compare)."""
    requests = ImageRequests(registry, outputs)
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            photo = photo_column(examples_dir)
        with gr.Column(scale=2, min_width=320, elem_id="image-result"):
            slider, download, timing, note, loading = result_column()
        with gr.Column(min_width=280):
            settings, matte = settings_column(registry)
    compare_button, gallery = compare_section(registry)
    # A note while a model loads for the first time, cleared by the result (registered
    # first: the page sends a trigger's events in order, and this one answers at once).
    settings.model.change(requests.loading_note, settings.model, loading, **controls.AT_ONCE)
    # One event for the photo and every setting, so that one result is made at a time for a
    # page: a change while it is made waits, and only the latest runs (always_last). Two
    # events could run side by side in the photo lane and an older choice's result arrive
    # last, over the newer one.
    shown_event = gr.on(
        [photo.change, *(component.change for component in settings)],
        requests.show,
        [photo, *settings],
        [slider, download, matte, timing, note],
        api_visibility="private",
        trigger_mode="always_last",
        **PHOTO_WORK,
    )
    shown_event.then(lambda: "", None, loading, **controls.AT_ONCE)
    shown_event.then(None, photo, None, js=SCROLL_TO_RESULT_JS, api_visibility="private")
    api_outputs = api_matte_outputs()
    gr.Button(visible=False).click(
        requests.matte, [photo, *settings], api_outputs, api_name="matte", **PHOTO_WORK
    )
    compare_button.click(
        requests.compare, [photo, settings.edges], gallery, api_name="compare", **PHOTO_WORK
    )
    # The mattes compared were of the photo and edges before: they go with them.
    gr.on([photo.change, settings.edges.change], lambda: None, None, gallery, **controls.AT_ONCE)
