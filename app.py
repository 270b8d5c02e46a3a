"""humanmatting in the browser: photos, the live camera and videos, plus a named-endpoint API.

    python app.py [--weights DIR] [--download] [--port 7860]

Everything runs on this machine: no analytics, no share link, no run history in the
browser, no request to the internet (weights come from --weights, $HUMANMATTING_WEIGHTS_DIR
or the Hugging Face cache; the Hub only with --download or on a Hugging Face Space).
The work is done by humanmatting.serving; this file only lays out the page.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
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
from gradio.data_classes import ImageData  # noqa: E402
from starlette.formparsers import MultiPartException  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import ClientDisconnect  # noqa: E402

import humanmatting  # noqa: E402
from humanmatting import heap, serving  # noqa: E402
from humanmatting.preprocess import InvalidImageError, load_rgb, max_pixels  # noqa: E402
from humanmatting.serving import (  # noqa: E402
    AppTempFolder,
    Background,
    BodyLimit,
    ModelRegistry,
    SettingError,
    VideoLimits,
    setting,
)

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
# Gradio recognises a gr.Progress default; tqdm bars (process_video's) drive it.
PROGRESS = gr.Progress(track_tqdm=True)
OUTPUT_HEIGHT = 360
# A checkerboard behind transparent results, so the transparency shows.
CSS = """
#cutout img, #composite img, #compare img {
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


def availability_note(registry: ModelRegistry) -> tuple[str, str]:
    """Markdown: (which models can be chosen, how to get each of the others)."""
    if registry.available:
        summary = f"Models available: **{', '.join(registry.available)}**."
    else:
        summary = "**No model weights found.** See below how to get them."
    if registry.problems:
        summary += f" Not available here: {', '.join(registry.problems)}."
    details = []
    for name in registry.problems:
        how = registry.how_to_get(name)
        details.append(f"**{name}**: not available here. To get it:\n```\n{how}\n```")
    return summary, "\n\n".join(details)


def background_of(mode: str, color: str, image: str | None, blur: float) -> Background:
    return Background(mode=mode, color=color or "#00b140", image=image, blur=float(blur))


def background_controls(modes: tuple[str, ...], default: str):
    """Radio for the background mode and the settings each mode needs (shown when relevant)."""
    mode = gr.Radio(list(modes), value=default, label="Background")
    color = gr.ColorPicker(value="#00b140", label="Colour", visible=default == "colour")
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
    blur = gr.Slider(1, 50, value=15, step=1, label="Blur strength", visible=default == "blur")
    mode.change(
        lambda m: (
            gr.update(visible=m == "colour"),
            gr.update(visible=m == "image"),
            gr.update(visible=m == "blur"),
        ),
        mode,
        [color, image, blur],
        api_visibility="private",
        queue=False,
    )
    return mode, color, image, blur


def model_dropdown(registry: ModelRegistry) -> gr.Dropdown:
    return gr.Dropdown(
        registry.available,
        value=registry.default,
        label="Model",
        info="night: RGB; dark and dark-light: grayscale (dark-light is the fastest)",
        interactive=bool(registry.available),
    )


def edges_radio() -> gr.Radio:
    return gr.Radio(
        list(serving.EDGES), value="soft", label="Edges", info="hard: alpha >= 0.5 is person"
    )


def build_app(
    registry: ModelRegistry,
    limits: VideoLimits | None = None,
    webcam_time_limit: int = 300,
    output_dir: Path | None = None,
) -> gr.Blocks:
    limits = limits or VideoLimits.from_env()
    # PNGs written fast; Gradio copies them to its cache. main() puts them in the server's
    # own temporary folder (removed when it stops).
    outputs = serving.OutputFolder(output_dir)

    @answers_errors
    def matte(
        image,
        model=None,
        mode="transparent",
        color="#00b140",
        background_image=None,
        blur=15,
        edges="soft",
    ):
        """Cut the person out of a photo: (RGBA cutout PNG, composite, matte, timing)."""
        if image is None:
            raise gr.Error("Upload or paste a photo first.")
        result = serving.matte_image(
            registry, image, model, background_of(mode, color, background_image, blur), edges
        )
        folder = outputs.new_dir()
        cutout = outputs.png(result.cutout, "cutout", folder)
        transparent = mode == "transparent"  # then the composite is the cutout
        composite = cutout if transparent else outputs.png(result.composite, "composite", folder)
        return cutout, composite, outputs.png(result.matte, "matte", folder), result.summary()

    def matte_if_photo(image, *settings):
        """Runs when the photo changes (upload, paste, example); clearing it clears the results."""
        return matte(image, *settings) if image is not None else (None, None, None, "")

    @answers_errors
    def compare(image, edges="soft"):
        """The matte of every available model, side by side."""
        if image is None:
            raise gr.Error("Upload or paste a photo first.")
        mattes = serving.compare_models(registry, image, edges)
        folder = outputs.new_dir()
        return [(outputs.png(matte, name, folder), caption) for matte, caption, name in mattes]

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

    @answers_errors
    def matte_video(
        video,
        model=None,
        mode="colour",
        color="#00b140",
        background_image=None,
        blur=15,
        edges="soft",
        smoothing=True,
        progress=PROGRESS,
    ):
        """Matte every frame of a short video; returns a WebM (VP9) video."""
        if video is None:
            raise gr.Error("Upload a video first.")
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
                )
            )

    def models() -> dict:
        """Which models this server can run (names), and how to get the others."""
        return registry.summary()

    # delete_cache: results leave the server's disk within an hour (and at every restart).
    with gr.Blocks(title="humanmatting", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown(
            "# humanmatting\nCut people out of photos, the live camera and videos with small "
            "LikeUnet networks. Everything runs on this server; nothing is sent elsewhere."
        )
        summary, details = availability_note(registry)
        gr.Markdown(summary, elem_id="model-availability")
        if details:
            with gr.Accordion(
                "How to get the other models", open=not registry.available, elem_id="get-models"
            ):
                gr.Markdown(details)

        with gr.Tab("Image", id="image"):
            with gr.Row():
                with gr.Column():
                    photo = read_by_humanmatting(
                        gr.Image(
                            type="filepath",
                            image_mode=None,  # the file as uploaded: humanmatting reads it
                            sources=["upload", "clipboard"],
                            label="Photo",
                            elem_id="photo",
                        )
                    )
                    image_model = model_dropdown(registry)
                    image_background = background_controls(serving.IMAGE_BACKGROUNDS, "colour")
                    image_edges = edges_radio()
                    run_button = gr.Button("Cut out", variant="primary")
                with gr.Column(scale=2):
                    with gr.Row():
                        cutout = gr.Image(
                            label="Cutout (PNG with transparency)",
                            type="numpy",
                            image_mode="RGBA",
                            format="png",
                            buttons=["download", "fullscreen"],
                            interactive=False,
                            elem_id="cutout",
                            height=OUTPUT_HEIGHT,
                        )
                        composite = gr.Image(
                            label="With the chosen background",
                            format="png",
                            buttons=["download", "fullscreen"],
                            interactive=False,
                            elem_id="composite",
                            height=OUTPUT_HEIGHT,
                        )
                    with gr.Row():
                        matte_output = gr.Image(
                            label="Matte",
                            format="png",
                            buttons=["download"],
                            interactive=False,
                            elem_id="matte",
                            height=OUTPUT_HEIGHT,
                        )
                        timing = gr.Textbox(label="Processing time", elem_id="timing", lines=2)
            examples = sorted(EXAMPLES_DIR.glob("*.jpg"))
            if examples:
                gr.Examples([[str(path)] for path in examples], inputs=photo, label="Examples")
            with gr.Accordion("Compare models", open=False):
                compare_button = gr.Button("Run every available model on the photo")
                gallery = gr.Gallery(
                    label="Matte per model",
                    columns=3,
                    height="auto",
                    format="png",
                    buttons=["download", "fullscreen"],
                    elem_id="compare",
                )
            image_inputs = [photo, image_model, *image_background, image_edges]
            photo_work = {"concurrency_id": "photo", "concurrency_limit": PHOTO_CONCURRENCY}
            run_button.click(
                matte,
                image_inputs,
                [cutout, composite, matte_output, timing],
                api_name="matte",
                **photo_work,
            )
            photo.change(
                matte_if_photo,
                image_inputs,
                [cutout, composite, matte_output, timing],
                api_visibility="private",
                **photo_work,
            )
            compare_button.click(
                compare, [photo, image_edges], gallery, api_name="compare", **photo_work
            )

        with gr.Tab("Webcam", id="webcam"):
            session = gr.State(None)
            with gr.Row():
                with gr.Column():
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
                    camera_model = model_dropdown(registry)
                    camera_background = background_controls(serving.FRAME_BACKGROUNDS, "blur")
                    camera_edges = edges_radio()
                    smoothing = gr.Checkbox(
                        True, label="Temporal smoothing", info="average the matte over frames"
                    )
                    network_size = gr.Slider(
                        160,
                        512,
                        value=320,
                        step=32,
                        label="Network input (long side, pixels)",
                        info="smaller is faster; 512 is the model's preset for 4:3 cameras",
                        elem_id="network-size",
                    )
                with gr.Column():
                    live = sent_inline_as_jpeg(
                        gr.Image(
                            label="Live result",
                            format="jpeg",
                            buttons=["fullscreen"],
                            elem_id="live",
                        )
                    )
                    readout = gr.Textbox(label="Speed", elem_id="readout")
            camera.stream(
                stream_frame,
                [
                    camera,
                    camera_model,
                    *camera_background,
                    camera_edges,
                    smoothing,
                    network_size,
                    session,
                ],
                [live, readout, session],
                stream_every=STREAM_EVERY_S,
                time_limit=webcam_time_limit,
                concurrency_limit=1,
                api_name="webcam",
                api_visibility="undocumented",
            )

        with gr.Tab("Video", id="video"):
            with gr.Row():
                with gr.Column():
                    video = gr.Video(sources=["upload"], label="Video", elem_id="video-input")
                    video_model = model_dropdown(registry)
                    video_background = background_controls(serving.FRAME_BACKGROUNDS, "colour")
                    video_edges = edges_radio()
                    video_smoothing = gr.Checkbox(True, label="Temporal smoothing")
                    video_button = gr.Button("Matte the video", variant="primary")
                    gr.Markdown(
                        f"Up to {limits.max_megabytes:g} MB and {limits.max_seconds:g} s; "
                        "the result is a WebM (VP9) video without sound."
                    )
                with gr.Column():
                    video_output = gr.Video(
                        label="Result", buttons=["download"], elem_id="video-result"
                    )
            video_button.click(
                matte_video,
                [video, video_model, *video_background, video_edges, video_smoothing],
                video_output,
                api_name="matte_video",
                concurrency_id="video",
                concurrency_limit=1,
            )

        gr.api(models, api_name="models")
    return demo


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
        max_pixels()  # HUMANMATTING_MAX_PIXELS, checked now rather than at the first photo
    except (SettingError, ValueError) as error:
        fail(error)
    # Everything this server writes goes into its own folder: Gradio's uploads and cache,
    # our results, temporary files; removed when it stops, or by the next start if killed.
    heap.keep_returning_freed_memory()  # RSS back near its start after a burst
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
            args.weights, download=args.download, threads=args.threads, max_shapes=args.max_shapes
        )
        print(
            f"humanmatting {humanmatting.__version__} from {Path(humanmatting.__file__).parent}; "
            f"models: {', '.join(registry.available) or 'none'}"
            + "".join(f"; {name}: unavailable" for name in registry.problems),
            flush=True,
        )
        if registry.default:
            # Loads (and checks) the default model now; interpreters for each network input
            # shape are made by the first request that needs one (about 80 MB each).
            registry.matter(registry.default)
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
            app_kwargs={"middleware": [Middleware(BodyLimit, REQUEST_MAX_BYTES, upload_bytes)]},
        )
        print(
            f"serving {time.perf_counter() - STARTED_AT:.1f} s after start (imports "
            f"{IMPORT_S:.1f} s, model and page {time.perf_counter() - started:.1f} s); uploads "
            f"up to {max_upload_mb:g} MB, images up to {max_pixels():,} pixels",
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
