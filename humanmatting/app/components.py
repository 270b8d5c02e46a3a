"""Gradio components that read and answer the way this app needs, as subclasses.

Each sets `is_template` (as Gradio's own gr.Sketchpad, gr.ClearButton, ... do), so the
page draws it with its base class's front end: only the server side differs. Gradio
writes a typing stub (components.pyi) beside this file the first time it sees these
classes; it is generated, so git ignores it.
"""

from __future__ import annotations

import base64

import cv2
import gradio as gr
import numpy as np
from gradio.data_classes import FileData, GradioModel, GradioRootModel, ImageData

from humanmatting.app.errors import answers_errors, user_error
from humanmatting.app.uploads import data_url_bytes, not_an_upload, uploaded_file
from humanmatting.preprocess import load_rgb


class UploadedImage(gr.Image):
    """An image input read by humanmatting: an uploaded file (only from this server's
    upload folder) or the bytes of a data: URL (camera frames and pastes).

    gr.Image opens every upload with Pillow before the app's function runs, even with
    type="filepath" (gradio/image_utils.py, preprocess_image), so an empty file, text named
    .jpg or a decompression bomb failed inside Gradio with its generic "upstream Gradio app
    has raised an exception"; it also decoded any format Pillow knows, any path it was
    sent, and data: URLs before the pixel limit was checked. humanmatting.load_rgb reads
    the data once, checks the format and the pixel count from the header before decoding,
    and has a clear message for each problem. type="filepath" gets the path (or the data
    URL's bytes), other types the decoded RGB array.
    """

    is_template = True

    @answers_errors
    def preprocess(self, payload: ImageData | None):
        if payload is None:
            return None
        if (payload.url or "").startswith("data:"):
            source = data_url_bytes(payload.url)
        elif payload.path:
            source = uploaded_file(payload.path)
        else:
            raise not_an_upload()
        if self.type == "filepath":
            return source
        return load_rgb(source)


class InlineJpegImage(gr.Image):
    """An image output that sends each picture inside the event's message, as a JPEG data
    URL.

    For live camera frames this replaces Gradio's way for an output picture: write a file
    to its cache, hash it, send its URL, then serve it to the browser in a second request,
    which cost the server several ms of CPU per frame (benchmarks/webcam_fps.py).
    """

    is_template = True
    jpeg_quality = 85

    def postprocess(self, value):
        if not isinstance(value, np.ndarray):
            return super().postprocess(value)
        bgr = cv2.cvtColor(value, cv2.COLOR_RGB2BGR)
        _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        return ImageData(url="data:image/jpeg;base64," + base64.b64encode(jpeg).decode())


class WrappedVideo(GradioModel):
    """`{"video": handle_file(...)}`: how Gradio's own video component sends a file, and
    how its documentation tells API callers to send one."""

    video: FileData
    subtitles: FileData | None = None


class VideoUpload(GradioRootModel):
    root: FileData | WrappedVideo


class VideoFile(gr.File):
    """A video input that takes a file (`handle_file(...)`) or Gradio's video payload
    (`{"video": handle_file(...)}`), and hands over only uploads of this server.

    A file component, not gr.Video: the browser cannot preview many ordinary uploads
    (MPEG-4 Part 2, HEVC), and gr.Video then shows a red "Video not playable" error
    although the matting works; the first frame, decoded here, is the preview instead.
    """

    is_template = True

    @property
    def data_model(self) -> type[VideoUpload]:
        return VideoUpload

    @data_model.setter
    def data_model(self, file_model) -> None:
        """gr.File.__init__ sets its own (single file or list): a video is always one."""

    @answers_errors
    def preprocess(self, payload: VideoUpload | None):
        if payload is None:
            return None
        payload = getattr(payload, "root", payload)
        if isinstance(payload, WrappedVideo):
            payload = payload.video
        if not getattr(payload, "path", None):
            raise not_an_upload()
        return uploaded_file(payload.path)


def refused_in_one_line(component: gr.components.Component, payload, preprocess):
    """`preprocess(payload)`, with Gradio's own refusal of a value (one not among the
    component's choices: `model="nope"`, `mode="green"`; a number out of range) answered
    like the app's own: one line in the server's log instead of a traceback."""
    try:
        return preprocess(payload)
    except gr.Error as error:
        if not error.print_exception:
            raise
        message = error.message
        choices = [value for _, value in getattr(component, "choices", None) or ()]
        if choices and payload not in choices:
            what = (getattr(component, "label", None) or "value").split(":")[0].lower()
            message = f"Unknown {what} {payload!r}; choose one of {', '.join(choices)}."
        raise user_error(ValueError(message)) from None


class Dropdown(gr.Dropdown):
    """gr.Dropdown that refuses an unknown choice in one line (refused_in_one_line)."""

    is_template = True

    def preprocess(self, payload):
        return refused_in_one_line(self, payload, super().preprocess)


class Radio(gr.Radio):
    """gr.Radio that refuses an unknown choice in one line (refused_in_one_line)."""

    is_template = True

    def preprocess(self, payload):
        return refused_in_one_line(self, payload, super().preprocess)


class Slider(gr.Slider):
    """gr.Slider that refuses a number out of range in one line (refused_in_one_line)."""

    is_template = True

    def preprocess(self, payload):
        return refused_in_one_line(self, payload, super().preprocess)


class SmoothingSlider(Slider):
    """The smoothing slider, which also lets True and False through: what API clients of
    the checkbox it replaced send (the handler reads them, controls.smoothing_of)."""

    is_template = True

    def preprocess(self, payload):
        if isinstance(payload, bool) or payload is None:
            return payload
        return super().preprocess(payload)
