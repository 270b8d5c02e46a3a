"""humanmatting in the browser: photos, the live camera and videos, plus a named-endpoint API.

    python app.py [--weights DIR] [--download] [--port 7860]

Everything runs on this machine: no analytics, no share link, no run history in the
browser, no request to the internet (weights come from --weights, $HUMANMATTING_WEIGHTS_DIR
or the Hugging Face cache; the Hub only with --download or on a Hugging Face Space).
The work is done by gradio_app.serving; this file only lays out the page.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import html
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

STARTED_AT = time.perf_counter()
# Before Gradio is imported: it reads these at import time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import cv2  # noqa: E402
import gradio as gr  # noqa: E402
import gradio.route_utils  # noqa: E402
import gradio.utils  # noqa: E402
import numpy as np  # noqa: E402
from gradio.data_classes import FileData, GradioModel, GradioRootModel, ImageData  # noqa: E402
from starlette.formparsers import MultiPartException  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import ClientDisconnect  # noqa: E402

import humanmatting  # noqa: E402
from gradio_app import browser, heap, serving  # noqa: E402
from gradio_app.serving import (  # noqa: E402
    AppTempFolder,
    Background,
    BodyLimit,
    ModelRegistry,
    SettingError,
    VideoLimits,
    setting,
)
from humanmatting.preprocess import InvalidImageError, allow_pillow_pixels, load_rgb  # noqa: E402
from humanmatting.settings import Settings  # noqa: E402
from humanmatting.specs import QUALITIES  # noqa: E402
from humanmatting.video import VIDEO_SUFFIXES, InvalidVideoError, open_video  # noqa: E402

IMPORT_S = time.perf_counter() - STARTED_AT

HERE = Path(__file__).resolve().parent
EXAMPLES_DIR = HERE / "examples"
DOWNLOAD_ENV = "HUMANMATTING_ALLOW_DOWNLOAD"
WEBCAM_TIME_LIMIT_ENV = "HUMANMATTING_WEBCAM_TIME_LIMIT"
MAX_UPLOAD_ENV = "HUMANMATTING_MAX_UPLOAD_MB"
MAX_SHAPES_ENV = "HUMANMATTING_MAX_SHAPES"
QUEUE_SIZE_ENV = "HUMANMATTING_QUEUE_SIZE"
# Queue and concurrency, chosen for a small CPU server (2 cores here, as on a free Space):
# - Photos (the Cut out button, the automatic run on upload, Compare) share one limit of 2.
#   One LiteRT call already uses both cores and each model runs one call at a time, so more
#   requests at once add no throughput, only memory (a 12 MP photo holds about 250 MB while
#   in flight) and latency for everyone; 2 lets one request decode or encode PNGs while
#   another runs the model.
# - Camera streams: 1. A stream holds its slot while it runs (up to the time limit); two
#   streams would halve each one's frame rate on 2 cores. Other viewers wait in the queue.
# - Videos: 1, in their own lane, so a long video never blocks photos.
# - At most QUEUE_SIZE requests wait; the next one is refused at once ("queue is full")
#   instead of waiting minutes (32 photos at about 0.3 s each is a 5 s wait at most).
#   There is no quota per client: behind a Space's proxy every visitor has the same
#   address, and the session id is chosen by the client, so a quota would either throttle
#   everyone together or be dodged by changing it. What one client can do is bounded
#   instead by each request's cost (pixels, bytes, video frames x pixels, camera time).
PHOTO_CONCURRENCY = 2
QUEUE_SIZE = 32
# Request bodies other than uploads (JSON: camera frames and pasted pictures arrive in it
# as data: URLs, about 0.1-1 MB for a 640x480 frame) are refused over this size before
# they are read; uploads have their own limit (--max-upload-mb).
REQUEST_MAX_BYTES = 10 * 2**20
# Upload requests carry a multipart envelope around the file: a few kB at most.
UPLOAD_ENVELOPE_BYTES = 64 * 2**10
# Chromium's fake camera (and many webcams) default to 1920x1440: 640x480 is what makes
# live matting fluid, because frame transfer dominates the streaming path.
WEBCAM_OPTIONS = gr.WebcamOptions(constraints={"video": {"width": 640, "height": 480}})
# The page sends the next frame at the first tick of this period after the last result
# arrived: at 0.04 s, a 45 ms round trip waited for the second tick (12.5 frames/s); at
# 0.02 s it waits at most 20 ms. Measured with benchmarks/webcam_fps.py (see README).
STREAM_EVERY_S = 0.02
# Gradio recognises a gr.Progress default; the video's frames drive it (progress_reporter).
PROGRESS = gr.Progress()
OUTPUT_HEIGHT = 360
# A checkerboard behind transparent results, so the transparency shows (the before/after
# slider only for a transparent result: else it would fill the picture's letterbox too).
CSS = """
#before-after.see-through img, #matte img, #compare img {
    background: repeating-conic-gradient(#d0d0d0 0% 25%, #ffffff 0% 50%) 50% / 20px 20px;
}
"""
USER_ERRORS = (ValueError, LookupError, OSError)  # InvalidImageError, WeightsNotFound, ...
# Server paths never reach a visitor: uploads live in Gradio's cache (<tmp>/gradio/<hash>/<name>).
SERVER_ROOTS = {tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()}
SERVER_PATH = re.compile(
    "|".join(re.escape(root.rstrip(os.sep)) + r"(?:/[^\s/]+)+" for root in SERVER_ROOTS)
)
HEAP_ADDRESS = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>|\s+at 0x[0-9a-fA-F]+")
# The one answer for a file payload that is not an upload of this server, whether or not
# the path exists, so that it tells nothing about the server's files.
NOT_AN_UPLOAD = "The file was not uploaded to this server (or is gone); upload it again."


def user_error(error: BaseException, *uploads: str | None) -> gr.Error:
    """gr.Error with the library's message, naming uploads by their file name (as the
    visitor called them), never by their path on this server."""
    if isinstance(error, MemoryError):
        message = "The server ran out of memory for this request; try a smaller file."
    else:
        message = str(error)
        for upload in uploads:
            if isinstance(upload, (str, os.PathLike)) and os.sep in str(upload):
                message = message.replace(str(upload), Path(upload).name)
        message = SERVER_PATH.sub(lambda match: Path(match.group()).name, message)
        message = HEAP_ADDRESS.sub(
            lambda match: "" if match.group()[0].isspace() else "data", message
        )
    one_line = " ".join(message.split())
    print(f"refused a request: {one_line}", file=sys.stderr, flush=True)  # no traceback
    return gr.Error(message, print_exception=False)


def answers_errors(function):
    """Make a request handler answer every failure with a gr.Error (never Gradio's generic
    "upstream Gradio app has raised an exception"): the library's message for what a
    visitor can fix, naming uploads by their file names; for anything else (a bug) a
    short apology, with one line in the server's log."""

    @functools.wraps(function)
    def handler(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except (*USER_ERRORS, MemoryError) as error:
            raise user_error(error, *args, *kwargs.values()) from None
        except Exception as error:
            reason = " ".join(HEAP_ADDRESS.sub("", str(error)).split())[:300]
            print(
                f"failed a request: {type(error).__name__}: {reason}", file=sys.stderr, flush=True
            )
            raise gr.Error(
                "The server could not process this request (an internal error, logged); "
                "try another file.",
                print_exception=False,
            ) from None

    return handler


def uploaded_file(path: str | os.PathLike) -> str:
    """`path` if it is a file uploaded to this server (in Gradio's upload folder, where
    uploads and cached examples live), else a gr.Error that is the same whether or not
    the path exists.

    Every file a request names passes here before it is opened: Gradio checks the files
    of payloads that carry its "meta" key, but an image payload without it reaches the
    component as it was sent, with any path on the server's disk.
    """
    folder = Path(gradio.utils.get_upload_folder()).resolve()
    try:
        resolved = Path(path).resolve()
        inside = resolved.is_relative_to(folder) and resolved.is_file()
    except (OSError, ValueError, TypeError):
        inside = False
    if not inside:
        raise gr.Error(NOT_AN_UPLOAD, print_exception=False)
    return str(path)  # as sent (inside the folder): messages name it by its file name


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 data: URL (its size is bounded by the request body limit)."""
    header, _, data = url.partition(",")
    if ";base64" not in header:
        raise InvalidImageError("The pasted picture is not base64 data; paste it again.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImageError("The pasted picture is damaged (invalid base64).") from None


def read_by_humanmatting(image: gr.Image) -> gr.Image:
    """Make `image` hand its input to humanmatting: an uploaded file (only from this
    server's upload folder) or the bytes of a data: URL (camera frames and pastes).

    gr.Image opens every upload with Pillow before the app's function runs, even with
    type="filepath" (gradio/image_utils.py, preprocess_image), so an empty file, text named
    .jpg or a decompression bomb failed inside Gradio with its generic "upstream Gradio app
    has raised an exception"; it also decoded any format Pillow knows, any path it was
    sent, and data: URLs before the pixel limit was checked. humanmatting.load_rgb reads
    the data once, checks the format and the pixel count from the header before decoding,
    and has a clear message for each problem. type="filepath" components get the path
    (or the data URL's bytes), others the decoded RGB array. This replaces the component's
    own preprocess: a gr.Image subclass would do the same, but Gradio writes a stub file
    (app.pyi) beside the source of every component class it sees defined.
    """

    @answers_errors
    def preprocess(payload):
        if payload is None:
            return None
        if (payload.url or "").startswith("data:"):
            source = data_url_bytes(payload.url)
        elif payload.path:
            source = uploaded_file(payload.path)
        else:
            raise gr.Error(NOT_AN_UPLOAD, print_exception=False)
        if image.type == "filepath":
            return source
        return load_rgb(source)

    image.preprocess = preprocess
    return image


def sent_inline_as_jpeg(image: gr.Image, quality: int = 85) -> gr.Image:
    """Make `image` send each picture inside the event's message, as a JPEG data URL.

    For live camera frames this replaces Gradio's way for an output picture: write a file
    to its cache, hash it, send its URL, then serve it to the browser in a second request,
    which cost the server several ms of CPU per frame (benchmarks/webcam_fps.py).
    """
    save_to_cache = image.postprocess

    def postprocess(value):
        if not isinstance(value, np.ndarray):
            return save_to_cache(value)
        bgr = cv2.cvtColor(value, cv2.COLOR_RGB2BGR)
        _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return ImageData(url="data:image/jpeg;base64," + base64.b64encode(jpeg).decode())

    image.postprocess = postprocess
    return image


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text!r}")
    return value


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"humanmatting app: error: {message} (see --help)\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options; SettingError for a HUMANMATTING_* variable that cannot be used."""
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--weights",
        help="folder with one model folder per model (default: $HUMANMATTING_WEIGHTS_DIR, "
        "then the Hugging Face cache)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        default=os.environ.get(DOWNLOAD_ENV, "") == "1" or bool(os.environ.get("SPACE_ID")),
        help=f"allow downloading weights from the Hub (default off; on with {DOWNLOAD_ENV}=1 "
        "and on Hugging Face Spaces)",
    )
    parser.add_argument("--host", default=None, help="default 127.0.0.1 ($GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=None, help="default 7860 ($GRADIO_SERVER_PORT)")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="LiteRT threads per model"
    )
    parser.add_argument(
        "--max-shapes",
        type=positive_int,
        default=setting(MAX_SHAPES_ENV, 1, 1, whole=True),
        help="LiteRT interpreters kept per model and role (photos, camera, video), one per "
        "network input shape: about 80 MB at the 512x384 photo preset (int8); more saves a "
        f"10-50 ms re-allocation when photo shapes alternate (${MAX_SHAPES_ENV})",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=positive_float,
        default=setting(MAX_UPLOAD_ENV, 0, 0) or None,
        help="largest upload accepted, in MB (default: 50, or the video limit if larger; "
        f"${MAX_UPLOAD_ENV})",
    )
    parser.add_argument(
        "--webcam-time-limit",
        type=positive_int,
        default=setting(WEBCAM_TIME_LIMIT_ENV, 300, 1, whole=True),
        help=f"seconds a camera stream may run before it stops (${WEBCAM_TIME_LIMIT_ENV})",
    )
    return parser.parse_args(argv)


def availability_note(registry: ModelRegistry) -> str:
    """Markdown for visitors: which models can be chosen. How to get the others is for the
    operator (README, the start-up log and /models), never on the page."""
    if not registry.available:
        return "**No model is installed on this server**, so nothing can be matted yet."
    return ""


class WrappedVideo(GradioModel):
    """`{"video": handle_file(...)}`: how Gradio's own video component sends a file, and
    how its documentation tells API callers to send one."""

    video: FileData
    subtitles: FileData | None = None


class VideoUpload(GradioRootModel):
    root: FileData | WrappedVideo


def read_video_upload(component: gr.File) -> gr.File:
    """Make `component` take a video as a file (`handle_file(...)`) or as Gradio's video
    payload (`{"video": handle_file(...)}`), and hand over only uploads of this server.

    A file component, not gr.Video: the browser cannot preview many ordinary uploads
    (MPEG-4 Part 2, HEVC), and gr.Video then shows a red "Video not playable" error
    although the matting works; the first frame, decoded here, is the preview instead.
    """
    component.data_model = VideoUpload

    @answers_errors
    def preprocess(payload):
        if payload is None:
            return None
        payload = getattr(payload, "root", payload)
        if isinstance(payload, WrappedVideo):
            payload = payload.video
        if not getattr(payload, "path", None):
            raise gr.Error(NOT_AN_UPLOAD, print_exception=False)
        return uploaded_file(payload.path)

    component.preprocess = preprocess
    return component


def refusing_in_one_line(demo: gr.Blocks) -> gr.Blocks:
    """Make Gradio's own refusals of a request (a value not among a component's choices:
    `model="nope"`, `mode="green"`) one line in the server's log, like the app's own,
    instead of a traceback."""
    for block in demo.blocks.values():
        preprocess = getattr(block, "preprocess", None)
        if preprocess is None or getattr(preprocess, "one_line", False):
            continue

        def checked(payload, _preprocess=preprocess, _block=block):
            try:
                return _preprocess(payload)
            except gr.Error as error:
                if not error.print_exception:
                    raise
                message = error.message
                choices = [value for _, value in getattr(_block, "choices", None) or ()]
                if choices and payload not in choices:
                    what = (getattr(_block, "label", None) or "value").split(":")[0].lower()
                    message = f"Unknown {what} {payload!r}; choose one of {', '.join(choices)}."
                raise user_error(ValueError(message)) from None

        checked.one_line = True
        block.preprocess = checked
    return demo


def background_of(mode: str, color: str, image: str | None, blur: float) -> Background:
    return Background(
        mode=mode, color=color or serving.DEFAULT_COLOR, image=image, blur=float(blur)
    )


def background_controls(modes: tuple[str, ...], default: str = serving.DEFAULT_BACKGROUND):
    """Radio for the background and the setting each choice needs (shown when relevant)."""
    mode = gr.Radio(list(modes), value=default, label="Background")
    color = gr.ColorPicker(value=serving.DEFAULT_COLOR, label="Color", visible=default == "color")
    image = read_by_humanmatting(
        gr.Image(
            type="filepath",
            image_mode=None,
            label="Background picture",
            sources=["upload", "clipboard"],
            visible=default == "image",
            height=160,
        )
    )
    blur = gr.Slider(
        1,
        50,
        value=serving.DEFAULT_BLUR,
        step=1,
        label="Blur strength",
        visible=default == "blur",
    )
    mode.change(
        lambda m: (
            gr.update(visible=m == "color"),
            gr.update(visible=m == "image"),
            gr.update(visible=m == "blur"),
        ),
        mode,
        [color, image, blur],
        api_visibility="private",
        queue=False,
    )
    return mode, color, image, blur


def model_dropdown(registry: ModelRegistry, frames: bool = False) -> gr.Dropdown:
    """`frames`: the camera's and videos' default (the fastest), else the photos' (the best)."""
    return gr.Dropdown(
        registry.available,
        value=registry.default_for_frames if frames else registry.default,
        label="Model",
        info="dark-light is the fastest; night looks at color, dark and dark-light at shades "
        "of gray",
        interactive=bool(registry.available),
    )


def edges_radio() -> gr.Radio:
    return gr.Radio(
        list(serving.EDGES),
        value="soft",
        label="Edges",
        info="soft keeps hair and motion blur; hard gives a crisp outline",
    )


def frame_controls(registry: ModelRegistry) -> tuple:
    """The Webcam and Video tabs' settings: (model, background controls, edges, steady
    edges), with the frames' defaults; made in the order the page shows them."""
    model = model_dropdown(registry, frames=True)
    background = background_controls(serving.FRAME_BACKGROUNDS)
    edges = edges_radio()
    smoothing = gr.Checkbox(True, label="Steady edges", info="average the matte over a few frames")
    return model, background, edges, smoothing


def quality_radio() -> gr.Radio:
    """Photos: quality against speed (specs.QUALITIES)."""
    return gr.Radio(
        list(QUALITIES),
        value="best",
        label="Quality",
        info="best: the network size that measures best, edges refined in colour; "
        "fast: a smaller network input and cheaper edges",
        elem_id="image-quality",
    )


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


def progress_reporter(progress: gr.Progress, every_s: float = 0.5):
    """An `on_progress` for process_video: frames done of frames total, and the time left,
    at most every `every_s` (each update is a message to the page)."""
    last = [-every_s]

    def report(done: int, total: int | None, elapsed_s: float) -> None:
        if elapsed_s - last[0] < every_s and done != total:
            return
        last[0] = elapsed_s
        if total:
            left = elapsed_s / done * max(total - done, 0)
            progress((done, total), desc=f"about {left:.0f} s left", unit="frames")
        else:
            progress(None, desc=f"{done} frames done")

    return report


def image_tab(registry: ModelRegistry, outputs: serving.OutputFolder) -> None:
    """The Image tab: the photo and the examples, the result beside it, the settings after.
    Every change of a setting re-renders from the matte already computed for the photo
    (serving.MATTES); only a new photo or model runs the network."""

    def result_files(
        image, model, mode, color, background_image, blur, edges, image_format, quality="best"
    ):
        """(ImageResult, cutout PNG, composite in `image_format`, matte PNG, note)."""
        background = background_of(mode, color, background_image, blur)
        result = serving.matte_image(registry, image, model, background, edges, quality)
        folder = outputs.new_dir()
        name = serving.download_name(image, mode)
        note = ""
        cutout = outputs.png(result.cutout, serving.download_name(image, "transparent"), folder)
        if mode == "transparent" and image_format == "jpeg":
            image_format = "png"
            note = "JPEG has no transparency: the download is a PNG. "
        if mode == "transparent" and image_format == "png":
            composite = cutout
        else:
            composite = outputs.picture(result.composite, name, image_format, folder)
        matte = outputs.png(result.matte, serving.download_name(image, "matte"), folder)
        if not result.person_found:
            note = (
                "**No person found** in this photo: the cutout is empty. The models look "
                "for people who fill a good part of the picture; try a closer photo or "
                "another model. " + note
            )
        return result, cutout, composite, matte, note

    @answers_errors
    def matte(
        image,
        model=None,
        mode=serving.DEFAULT_BACKGROUND,
        color=serving.DEFAULT_COLOR,
        background_image=None,
        blur=serving.DEFAULT_BLUR,
        edges="soft",
        image_format="png",
        quality="best",
    ):
        """Cut the person out of a photo: (RGBA cutout PNG, the person on the chosen
        background in `image_format`, matte PNG, timing)."""
        if image is None:
            raise gr.Error("Upload or paste a photo first.", print_exception=False)
        result, cutout, composite, matte_png, _ = result_files(
            image, model, mode, color, background_image, blur, edges, image_format, quality
        )
        return cutout, composite, matte_png, result.summary()

    @answers_errors
    def show(
        image, model, mode, color, background_image, blur, edges, image_format, quality="best"
    ):
        """What the page shows: before/after, the download, the matte, timing and note."""
        if image is None:
            return None, gr.update(value=None, visible=False), None, "", ""
        result, _, composite, matte_png, note = result_files(
            image, model, mode, color, background_image, blur, edges, image_format, quality
        )
        if note.startswith("**No person"):
            gr.Warning("No person found in this photo.")
        download = gr.update(value=str(composite), label=f"Download {composite.name}", visible=True)
        before_after = gr.update(
            value=(str(image), str(composite)),
            elem_classes=["see-through"] if mode == "transparent" else [],
        )
        return before_after, download, str(matte_png), result.summary(), note

    @answers_errors
    def compare(image, edges="soft"):
        """The matte of every available model, side by side."""
        if image is None:
            raise gr.Error("Upload or paste a photo first.", print_exception=False)
        mattes = serving.compare_models(registry, image, edges)
        folder = outputs.new_dir()
        return [
            (outputs.png(matte, serving.download_name(image, name), folder), caption)
            for matte, caption, name in mattes
        ]

    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            photo = read_by_humanmatting(
                gr.Image(
                    type="filepath",
                    image_mode=None,  # the file as uploaded: humanmatting reads it
                    sources=["upload", "clipboard"],
                    label="Photo: drop, paste or click to upload",
                    elem_id="photo",
                    height=300,
                )
            )
            examples = sorted(EXAMPLES_DIR.glob("*.jpg"))
            if examples:
                gr.Examples(
                    [[str(path)] for path in examples],
                    inputs=photo,
                    label="Or try an example",
                    examples_per_page=6,
                )
        with gr.Column(scale=2, min_width=320):
            slider = gr.ImageSlider(
                label="Before / after (drag the handle)",
                type="filepath",
                interactive=False,
                buttons=["fullscreen"],
                elem_id="before-after",
                max_height=OUTPUT_HEIGHT,
                height=OUTPUT_HEIGHT,
            )
            note = gr.Markdown(elem_id="image-note")
            download = gr.DownloadButton(
                "Download", variant="primary", visible=False, elem_id="download"
            )
            timing = gr.Textbox(
                label="Processing time", elem_id="timing", lines=1, interactive=False
            )
        with gr.Column(min_width=280):
            image_model = model_dropdown(registry)
            image_background = background_controls(serving.IMAGE_BACKGROUNDS)
            image_edges = edges_radio()
            image_quality = quality_radio()
            image_format = gr.Radio(
                [("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp")],
                value="png",
                label="Download as",
                info="PNG keeps transparency; JPEG and WebP are much smaller",
                elem_id="image-format",
            )
            with gr.Accordion("Matte", open=False):
                matte_output = gr.Image(
                    label="Matte (white: person)",
                    type="filepath",
                    format="png",
                    buttons=["download"],
                    interactive=False,
                    elem_id="matte",
                    height=240,
                )
    if len(registry.available) > 1:
        with gr.Accordion("Compare models", open=False):
            compare_button = gr.Button("Run every available model on the photo")
            gallery = gr.Gallery(
                label="Matte per model",
                columns=len(registry.available),
                height="auto",
                object_fit="contain",
                format="png",
                buttons=["download", "fullscreen"],
                elem_id="compare",
            )
    else:
        compare_button = gr.Button(visible=False)
        gallery = gr.Gallery(visible=False, format="png", elem_id="compare")

    settings = [image_model, *image_background, image_edges, image_format, image_quality]
    photo_work = {"concurrency_id": "photo", "concurrency_limit": PHOTO_CONCURRENCY}
    shown = [slider, download, matte_output, timing, note]
    for trigger in (photo.change, *(component.change for component in settings)):
        trigger(
            show,
            [photo, *settings],
            shown,
            api_visibility="private",
            trigger_mode="always_last",
            **photo_work,
        )
    # The API's /matte: the files themselves (the page shows them with `show`).
    api_outputs = [
        gr.Image(type="filepath", format="png", visible=False, image_mode="RGBA"),
        gr.Image(type="filepath", visible=False),
        gr.Image(type="filepath", format="png", visible=False),
        gr.Textbox(visible=False),
    ]
    gr.Button(visible=False).click(
        matte, [photo, *settings], api_outputs, api_name="matte", **photo_work
    )
    compare_button.click(compare, [photo, image_edges], gallery, api_name="compare", **photo_work)


# The in-browser camera (web/; built by `npm ci && npm run build` there, never committed):
# the page runs the server's own model files with LiteRT.js, so no camera frame leaves the
# visitor's device and every visitor's device does its own work. The server only hands out
# files: web/dist, camera.json (its preprocessing facts) and the model files.
WEB_DIST = HERE / "web" / "dist"
WEB_ROUTES = "humanmatting"  # humanmatting/web/..., humanmatting/camera.json, .../models/
WHERE_CHOICES = [
    ("In this browser: no frame leaves your device", "browser"),
    ("On the server: frames are sent to it and come back matted", "server"),
]
# Runs in the page on load and whenever a setting changes: no request to the server.
CONFIGURE_JS = """
(model, background, color, image, blur, edges, smoothing, size, where) => {
  const settings = {model, background, color, image, blur, edges, smoothing, size, where};
  if (window.humanmattingWebcam) window.humanmattingWebcam.configure(settings);
  else window.humanmattingWebcamSettings = {
    ...(window.humanmattingWebcamSettings || {}), ...settings};
  return [];
}
"""
# The panel hands itself to web/src/webcam.js once that has loaded; if it never does (the
# script could not be fetched), the tab says so and uses the server's stream.
PANEL_JS = """
const attach = () => window.humanmattingWebcam.attach(element);
if (window.humanmattingWebcam) attach();
else {
  window.addEventListener('humanmatting-webcam-ready', attach, {once: true});
  setTimeout(() => {
    if (window.humanmattingWebcam) return;
    const note = document.querySelector('#webcam-note .hm-note');
    if (note) note.textContent = 'In-browser matting is not available (its script did not load); '
      + 'the camera is matted on the server instead.';
    const server = document.querySelector('#webcam-where input[value="server"]');
    if (server && !server.checked) server.click();
  }, 20000);
}
"""
PANEL_HTML = """
<div class="hm-panel">
  <div class="hm-bar">
    <button class="hm-start" type="button">Start the camera</button>
    <label class="hm-refine"><input type="checkbox" checked> Refine edges</label>
    <span class="hm-readout">Loading the in-browser model…</span>
  </div>
  <canvas class="hm-output" width="640" height="480"></canvas>
</div>
"""
PANEL_CSS = """
.hm-bar { display: flex; gap: 0.75em; align-items: center; margin-bottom: 0.5em; }
.hm-start { padding: 0.4em 1em; border-radius: 6px; white-space: nowrap;
  border: 1px solid var(--button-primary-border-color);
  background: var(--button-primary-background-fill); color: var(--button-primary-text-color); }
.hm-refine { white-space: nowrap; font-size: 0.9em; }
.hm-readout { font-size: 0.9em; }
.hm-output { width: 100%; height: auto; background: #222; border-radius: 6px; }
"""


def browser_camera_routes(registry: ModelRegistry) -> list:
    """The files the in-browser camera loads: camera.json, each model's TFLite file (the one
    the server runs) and, when built, web/dist. Starlette routes, ahead of Gradio's own."""
    from starlette.responses import FileResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    models = browser.browser_models({name: registry.folders[name] for name in registry.available})
    camera = WEBCAM_OPTIONS.constraints["video"]
    config = browser.config_json(
        browser.camera_config(
            models,
            registry.default_for_frames,
            camera=(camera["width"], camera["height"]),
            mirror=WEBCAM_OPTIONS.mirror,
            smoothing_weight=serving.StreamSession().smoother.weight,
            hard_threshold=serving.EDGES["hard"],
            default_background=serving.DEFAULT_BACKGROUND,
        )
    )

    async def camera_json(request):
        headers = {"cache-control": "no-cache"}
        return Response(config, media_type="application/json", headers=headers)

    async def model_file(request):
        model = models.get(request.path_params["name"])
        if model is None:
            return Response("No such model on this server.", 404, media_type="text/plain")
        return FileResponse(model.path, media_type="application/octet-stream")

    routes = [
        Route(f"/{WEB_ROUTES}/camera.json", camera_json),
        Route(f"/{WEB_ROUTES}/models/{{name}}.tflite", model_file),
    ]
    if browser.built(WEB_DIST):
        routes.append(Mount(f"/{WEB_ROUTES}/web", app=StaticFiles(directory=WEB_DIST)))
    return routes


def browser_camera_choice() -> tuple[gr.Radio, gr.HTML]:
    """Where the camera is matted (in the browser by default, when web/ is built) and the
    one line that says how it goes (web/src/webcam.js rewrites it)."""
    built = browser.built(WEB_DIST)
    where = gr.Radio(
        WHERE_CHOICES,
        value="browser" if built else "server",
        label="Where the camera is matted",
        elem_id="webcam-where",
        interactive=built,
    )
    if built:
        text = "The camera is matted in this browser: no frame leaves this device."
    else:
        text = (
            "In-browser matting is not built on this server (npm ci && npm run build in web/); "
            "the camera is matted on the server."
        )
    note = gr.HTML(f'<p class="hm-note">{html.escape(text)}</p>', elem_id="webcam-note")
    return where, note


def browser_camera_panel() -> gr.HTML:
    """The in-browser camera: its picture, start button and readout."""
    built = browser.built(WEB_DIST)
    return gr.HTML(
        PANEL_HTML,
        head=f'<script src="{WEB_ROUTES}/web/webcam.js"></script>' if built else None,
        js_on_load=PANEL_JS if built else None,
        css_template=PANEL_CSS,
        elem_id="browser-camera",
        visible=built,
    )


def wire_browser_camera(
    where: gr.Radio,
    panel: gr.HTML,
    server_parts: list,
    *,
    model: gr.Dropdown,
    background: tuple,
    edges: gr.Radio,
    smoothing: gr.Checkbox,
    size: gr.Slider,
) -> None:
    """Hand the settings to the page's camera on load and on every change (js only: nothing
    is sent), and show the browser's panel or the server's stream (`server_parts`)."""
    in_browser = where.value == "browser"
    for part in server_parts:
        part.visible = not in_browser
    settings = [model, *background, edges, smoothing, size, where]
    gr.on(None, None, settings, None, js=CONFIGURE_JS, api_visibility="private")

    def show(choice: str):
        shown = choice == "browser"
        return [gr.update(visible=shown)] + [gr.update(visible=not shown)] * len(server_parts)

    where.change(show, where, [panel, *server_parts], queue=False, api_visibility="private")


def webcam_tab(registry: ModelRegistry, webcam_time_limit: int) -> None:
    """The Webcam tab: camera and live result side by side (one after the other on a
    phone), the settings after them."""

    @answers_errors
    def stream_frame(
        frame, model, mode, color, background_image, blur, edges, smoothing, size, session
    ):
        """One camera frame in (Gradio mirrors it, like the preview), one matted frame out."""
        if frame is None:
            return None, "waiting for the camera", session
        session = session or serving.StreamSession()
        picture, readout = session.process(
            registry,
            frame,
            model,
            background_of(mode, color, background_image, blur),
            edges,
            smoothing,
            int(size),
        )
        return picture, readout, session

    session = gr.State(None)
    where, _ = browser_camera_choice()
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            panel = browser_camera_panel()
            camera = read_by_humanmatting(
                gr.Image(
                    sources=["webcam"],
                    streaming=True,
                    type="numpy",
                    label="Camera",
                    elem_id="camera",
                    webcam_options=WEBCAM_OPTIONS,
                )
            )
        with gr.Column(min_width=300) as live_column:
            live = sent_inline_as_jpeg(
                gr.Image(
                    label="Live result",
                    format="jpeg",
                    buttons=["fullscreen"],
                    elem_id="live",
                )
            )
            readout = gr.Textbox(label="Speed", elem_id="readout")
        with gr.Column(min_width=280):
            camera_model, camera_background, camera_edges, smoothing = frame_controls(registry)
            network_size = gr.Slider(
                160,
                512,
                value=320,
                step=32,
                label="Detail",
                info="lower is faster, higher follows edges more closely",
                elem_id="network-size",
            )
    camera.stream(
        stream_frame,
        [camera, camera_model, *camera_background, camera_edges, smoothing, network_size, session],
        [live, readout, session],
        stream_every=STREAM_EVERY_S,
        time_limit=webcam_time_limit,
        concurrency_limit=1,
        api_name="webcam",
        api_visibility="undocumented",
    )
    wire_browser_camera(
        where,
        panel,
        [camera, live_column],
        model=camera_model,
        background=camera_background,
        edges=camera_edges,
        smoothing=smoothing,
        size=network_size,
    )


def video_tab(registry: ModelRegistry, limits: VideoLimits, outputs: serving.OutputFolder) -> None:
    """The Video tab: upload (first frame as the preview), result, settings."""

    @answers_errors
    def matte_video(
        video,
        model=None,
        mode=serving.DEFAULT_BACKGROUND,
        color=serving.DEFAULT_COLOR,
        background_image=None,
        blur=serving.DEFAULT_BLUR,
        edges="soft",
        smoothing=True,
        progress=PROGRESS,
    ):
        """Matte every frame of a short video; returns an MP4 (H.264) with its sound."""
        if video is None:
            raise gr.Error("Upload a video first.", print_exception=False)
        video = uploaded_file(video)
        progress(0, desc="Reading the video")
        with outputs.lease() as folder:  # not cleaned up however long the video takes
            return str(
                serving.matte_video(
                    registry,
                    video,
                    model,
                    background_of(mode, color, background_image, blur),
                    edges,
                    0.6 if smoothing else None,
                    limits,
                    folder,
                    on_progress=progress_reporter(progress),
                )
            )

    @answers_errors
    def preview(video):
        if video is None:
            return gr.update(value=None, visible=False), ""
        frame, line = describe_video(uploaded_file(video))
        return gr.update(value=frame, visible=True), line

    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            video = read_video_upload(
                gr.File(
                    label="Video: drop or click to upload",
                    file_types=sorted(VIDEO_SUFFIXES),
                    elem_id="video-input",
                    height=120,
                )
            )
            first_frame = gr.Image(
                label="First frame",
                interactive=False,
                visible=False,
                height=200,
                elem_id="video-preview",
                buttons=[],
            )
            video_info = gr.Markdown(elem_id="video-info")
            video_button = gr.Button("Matte the video", variant="primary", elem_id="video-button")
            gr.Markdown(
                f"Videos up to {limits.max_seconds:g} s and {limits.max_megabytes:g} MB. The "
                "result is an MP4 video with the original sound."
            )
        with gr.Column(min_width=300):
            video_output = gr.Video(
                label="Result", buttons=["download"], elem_id="video-result", format=None
            )
        with gr.Column(min_width=280):
            video_model, video_background, video_edges, video_smoothing = frame_controls(registry)
    video.change(preview, video, [first_frame, video_info], api_visibility="private")
    video_button.click(
        matte_video,
        [video, video_model, *video_background, video_edges, video_smoothing],
        video_output,
        api_name="matte_video",
        concurrency_id="video",
        concurrency_limit=1,
    )


def build_app(
    registry: ModelRegistry,
    limits: VideoLimits | None = None,
    webcam_time_limit: int = 300,
    output_dir: Path | None = None,
) -> gr.Blocks:
    limits = limits or VideoLimits.from_env()
    # Results written fast; Gradio copies them to its cache. main() puts them in the
    # server's own temporary folder (removed when it stops).
    outputs = serving.OutputFolder(output_dir)

    def models() -> dict:
        """Which models this server can run (names), and how to get the others."""
        return registry.summary()

    # delete_cache: results leave the server's disk within an hour (and at every restart).
    with gr.Blocks(title="humanmatting", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown(
            "# humanmatting\nCut people out of photos, your camera and videos. Everything runs "
            "on this server; nothing is sent elsewhere."
        )
        gr.Markdown(availability_note(registry), elem_id="model-availability")
        with gr.Tab("Image", id="image"):
            image_tab(registry, outputs)
        with gr.Tab("Webcam", id="webcam"):
            webcam_tab(registry, webcam_time_limit)
        with gr.Tab("Video", id="video"):
            video_tab(registry, limits, outputs)
        gr.api(models, api_name="models")
    return refusing_in_one_line(demo)


def remove_uploads_cut_off() -> None:
    """Make Gradio delete the files of an upload that did not arrive whole.

    Gradio's multipart parser streams each uploaded file into a temporary file in the
    upload folder and deletes it when the upload is malformed or too large, but not when
    the client goes away mid-way (or BodyLimit stops it): 20 cut-off uploads left 210 MiB.
    This wraps the parser so that any failure deletes them.
    """
    parser = gradio.route_utils.GradioMultiPartParser
    if getattr(parser.parse, "removes_partial_files", False):
        return
    parse = parser.parse

    async def parse_or_remove(self):
        try:
            return await parse(self)
        except BaseException as error:
            for file in self._files_to_close_on_error:
                file.close()
                Path(file.name).unlink(missing_ok=True)
            if isinstance(error, ClientDisconnect):  # answered as Gradio's own upload errors
                raise MultiPartException("The upload was cut off.") from None
            raise

    parse_or_remove.removes_partial_files = True
    parser.parse = parse_or_remove


def fail(error: BaseException) -> None:
    """End the start-up with one line that says what is wrong, and status 2."""
    print(f"humanmatting app: error: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
    sys.exit(2)


def temp_base() -> Path:
    """Where the servers' own temporary folders are made (`AppTempFolder`)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "humanmatting-app"


def main(argv: list[str] | None = None) -> None:
    started = time.perf_counter()
    try:
        args = parse_args(argv)
        queue_size = int(setting(QUEUE_SIZE_ENV, QUEUE_SIZE, 1, whole=True))
        limits = VideoLimits.from_env()
        settings = Settings.from_env()  # HUMANMATTING_*, checked now, not at the first photo
    except (SettingError, ValueError) as error:
        fail(error)
    # Everything this server writes goes into its own folder: Gradio's uploads and cache,
    # our results, temporary files; removed when it stops, or by the next start if killed.
    heap.keep_returning_freed_memory()  # RSS back near its start after a burst
    allow_pillow_pixels(settings.max_pixels)
    temp = AppTempFolder(temp_base())
    os.environ["GRADIO_TEMP_DIR"] = str(temp.path / "gradio")
    for module in ("routes", "route_utils", "screen_recording_utils", "mcp"):  # read at import
        loaded = sys.modules.get(f"gradio.{module}")
        if loaded is not None and hasattr(loaded, "DEFAULT_TEMP_DIR"):
            loaded.DEFAULT_TEMP_DIR = os.environ["GRADIO_TEMP_DIR"]
    os.environ["TMPDIR"] = tempfile.tempdir = str(temp.path / "tmp")
    Path(tempfile.tempdir).mkdir()
    print(f"temporary files in {temp.path} (removed when the server stops)", flush=True)
    if temp.removed:
        print(f"removed the temporary files of {len(temp.removed)} stopped server(s)", flush=True)
    try:
        registry = ModelRegistry(
            args.weights,
            download=args.download,
            threads=args.threads,
            max_shapes=args.max_shapes,
            settings=settings,
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
        # Loads (and checks) the default models now; interpreters for each network input
        # shape are made by the first request that needs one (about 80 MB each).
        for name in dict.fromkeys((registry.default, registry.default_for_frames)):
            if name:
                registry.matter(name)
    except (*USER_ERRORS, MemoryError) as error:
        temp.remove()
        fail(error)
    max_upload_mb = args.max_upload_mb or max(limits.max_megabytes, 50)
    upload_bytes = int(max_upload_mb * 2**20) + UPLOAD_ENVELOPE_BYTES
    remove_uploads_cut_off()

    def stop(signum, frame):
        raise KeyboardInterrupt  # Gradio closes the server; then the files go

    signal.signal(signal.SIGTERM, stop)
    try:
        # Results inside tempfile's folder, from where Gradio accepts files to serve.
        outputs = Path(tempfile.tempdir) / "outputs"
        demo = build_app(registry, limits, args.webcam_time_limit, outputs)
        demo.queue(max_size=queue_size, default_concurrency_limit=PHOTO_CONCURRENCY)
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=False,
            ssr_mode=False,
            run_history=False,  # photos stay out of the browser's storage
            max_file_size=f"{max_upload_mb:g}mb",
            allowed_paths=[str(EXAMPLES_DIR)],
            footer_links=["api"],
            css=CSS,
            prevent_thread_lock=True,
            app_kwargs={
                "middleware": [Middleware(BodyLimit, REQUEST_MAX_BYTES, upload_bytes)],
                "routes": browser_camera_routes(registry),  # ahead of Gradio's own
            },
        )
        print(
            f"serving {time.perf_counter() - STARTED_AT:.1f} s after start (imports "
            f"{IMPORT_S:.1f} s, model and page {time.perf_counter() - started:.1f} s); uploads "
            f"up to {max_upload_mb:g} MB, images up to {settings.max_pixels:,} pixels",
            flush=True,
        )
        demo.block_thread()
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


if __name__ == "__main__":
    main(sys.argv[1:])
