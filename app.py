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
import os
import re
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
import numpy as np  # noqa: E402
from gradio.data_classes import ImageData  # noqa: E402

import humanmatting  # noqa: E402
from humanmatting import serving  # noqa: E402
from humanmatting.preprocess import max_pixels  # noqa: E402
from humanmatting.serving import Background, ModelRegistry, VideoLimits  # noqa: E402
from humanmatting.video import InvalidVideoError  # noqa: E402

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
PHOTO_CONCURRENCY = 2
QUEUE_SIZE = int(os.environ.get(QUEUE_SIZE_ENV, 32))
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


def user_error(error: BaseException, *uploads: str | None) -> gr.Error:
    """gr.Error with the library's message, naming uploads by their file name (as the
    visitor called them), never by their path on this server."""
    if isinstance(error, MemoryError):
        message = "The server ran out of memory for this request; try a smaller file."
    else:
        message = str(error)
        for upload in uploads:
            if isinstance(upload, (str, os.PathLike)) and str(upload):
                message = message.replace(str(upload), Path(upload).name)
        message = SERVER_PATH.sub(lambda match: Path(match.group()).name, message)
    print(f"refused a request: {message}", file=sys.stderr, flush=True)  # one line, no traceback
    return gr.Error(message, print_exception=False)


def read_by_humanmatting(image: gr.Image) -> gr.Image:
    """Make `image` hand uploaded files to humanmatting unopened, and report undecodable
    data as a clear gr.Error.

    gr.Image opens every upload with Pillow before the app's function runs, even with
    type="filepath" (gradio/image_utils.py, preprocess_image), so an empty file, text named
    .jpg or a decompression bomb failed inside Gradio with its generic "upstream Gradio app
    has raised an exception". humanmatting.load_rgb reads the file once, with the pixel
    limit and a clear message for each problem. Other payloads (camera frames and pastes
    arrive as data URLs) are decoded by Gradio as before. This replaces the component's
    own preprocess: a gr.Image subclass would do the same, but Gradio writes a stub file
    (app.pyi) beside the source of every component class it sees defined.
    """
    decode = image.preprocess

    def preprocess(payload):
        if payload is None:
            return None
        uploaded_file = payload.path and not (payload.url or "").startswith("data:")
        if image.type == "filepath" and image.image_mode is None and uploaded_file:
            return payload.path
        try:
            return decode(payload)
        except Exception as error:  # Pillow's errors for data it cannot decode
            name = payload.orig_name or "the uploaded image"
            raise user_error(ValueError(f"Cannot read {name} as an image ({error}).")) from None

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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    parser.add_argument("--threads", type=int, default=None, help="LiteRT threads per model")
    parser.add_argument(
        "--max-shapes",
        type=int,
        default=int(os.environ.get(MAX_SHAPES_ENV, 1)),
        help="LiteRT interpreters kept per model and role (photos, camera, video), one per "
        "network input shape: about 80 MB at the 512x384 photo preset (int8); more saves a "
        f"10-50 ms re-allocation when photo shapes alternate (${MAX_SHAPES_ENV})",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=float(os.environ.get(MAX_UPLOAD_ENV, 0)) or None,
        help="largest upload accepted, in MB (default: 50, or the video limit if larger; "
        f"${MAX_UPLOAD_ENV})",
    )
    parser.add_argument(
        "--webcam-time-limit",
        type=int,
        default=int(os.environ.get(WEBCAM_TIME_LIMIT_ENV, 300)),
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
    for name, problem in registry.problems.items():
        how = problem.split("To get them:", 1)[-1].split("To get the weights:", 1)[-1].strip()
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
) -> gr.Blocks:
    limits = limits or VideoLimits.from_env()
    outputs = serving.OutputFolder()  # PNGs written fast; Gradio copies them to its cache

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
        try:
            result = serving.matte_image(
                registry, image, model, background_of(mode, color, background_image, blur), edges
            )
        except (*USER_ERRORS, MemoryError) as error:
            raise user_error(error, image, background_image) from None
        folder = outputs.new_dir()
        cutout = outputs.png(result.cutout, "cutout", folder)
        transparent = mode == "transparent"  # then the composite is the cutout
        composite = cutout if transparent else outputs.png(result.composite, "composite", folder)
        return cutout, composite, outputs.png(result.matte, "matte", folder), result.summary()

    def matte_if_photo(image, *settings):
        """Runs when the photo changes (upload, paste, example); clearing it clears the results."""
        return matte(image, *settings) if image is not None else (None, None, None, "")

    def compare(image, edges="soft"):
        """The matte of every available model, side by side."""
        if image is None:
            raise gr.Error("Upload or paste a photo first.")
        try:
            mattes = serving.compare_models(registry, image, edges)
            folder = outputs.new_dir()
            return [(outputs.png(matte, name, folder), caption) for matte, caption, name in mattes]
        except (*USER_ERRORS, MemoryError) as error:
            raise user_error(error, image) from None

    def stream_frame(
        frame, model, mode, color, background_image, blur, edges, smoothing, size, session
    ):
        """One camera frame in (Gradio mirrors it, like the preview), one matted frame out."""
        if frame is None:
            return None, "waiting for the camera", session
        session = session or serving.StreamSession()
        try:
            picture, readout = session.process(
                registry,
                frame,
                model,
                background_of(mode, color, background_image, blur),
                edges,
                smoothing,
                int(size),
            )
        except (*USER_ERRORS, MemoryError) as error:
            raise user_error(error, background_image) from None
        return picture, readout, session

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
        progress(0, desc="Reading the video")
        try:
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
        except (InvalidVideoError, *USER_ERRORS, MemoryError) as error:
            raise user_error(error, video, background_image) from None

    def models() -> dict[str, dict[str, str]]:
        """Which models this server can run, and how to get the others."""
        return {
            "available": {name: str(folder) for name, folder in registry.folders.items()},
            "unavailable": dict(registry.problems),
        }

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


def return_freed_memory_to_the_system() -> None:
    """Make glibc give large freed buffers back at once (Linux only; elsewhere a no-op).

    Photos of every size and LiteRT interpreters for new shapes come and go; by default
    glibc raises its mmap threshold after the first frees and keeps later buffers in its
    heaps, so the server's memory only grows. A fixed threshold of 1 MB keeps it bounded.
    """
    import ctypes
    import ctypes.util

    m_mmap_threshold = -3
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(m_mmap_threshold, 1 << 20)
    except (OSError, AttributeError):  # not glibc
        pass


def main(argv: list[str] | None = None) -> None:
    started = time.perf_counter()
    args = parse_args(argv)
    return_freed_memory_to_the_system()
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
    limits = VideoLimits.from_env()
    max_upload_mb = args.max_upload_mb or max(limits.max_megabytes, 50)
    demo = build_app(registry, limits, args.webcam_time_limit)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=PHOTO_CONCURRENCY)
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
    )
    print(
        f"serving {time.perf_counter() - STARTED_AT:.1f} s after start (imports {IMPORT_S:.1f} s,"
        f" model and page {time.perf_counter() - started:.1f} s); uploads up to "
        f"{max_upload_mb:g} MB, images up to {max_pixels():,} pixels",
        flush=True,
    )
    demo.block_thread()


if __name__ == "__main__":
    main(sys.argv[1:])
