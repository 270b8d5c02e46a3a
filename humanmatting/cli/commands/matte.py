"""`humanmatting [matte] INPUT`: cut people out of an image, a folder of images, a video or
the camera (the default subcommand; the successor of the original demo.py).

Every output is written to a temporary file and moved into place, so an interrupted or
failed run never leaves a half-written file. It imports the runtime only, plus the Keras
backend (humanmatting.models, [keras] extra) when asked for `--backend keras`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from humanmatting import refine
from humanmatting.command import number_in
from humanmatting.compose import DEFAULT_BACKGROUND, DEFAULT_BLUR, DEFAULT_COLOR
from humanmatting.files import atomic_path
from humanmatting.pipeline import (
    BACKGROUND_KINDS,
    EDGES,
    FRAME_KINDS,
    MAX_BLUR,
    Background,
    Edges,
    edge_threshold,
    matte_photo,
)
from humanmatting.preprocess import (
    IMAGE_SUFFIXES,
    MAX_LONG_SIDE,
    SIZE_MULTIPLE,
    InvalidImageError,
    allow_pillow_pixels,
    load_rgb,
)
from humanmatting.specs import DEFAULT_MODEL, MODEL_SPECS, QUALITIES
from humanmatting.video import DEFAULT_SMOOTHING, is_video_path, matte_frames, process_video

SUMMARY = "cut people out of an image, a folder, a video or the camera (the default)"
STOPPED_NOTE = "; no partial output was left"
SUPPRESS = argparse.SUPPRESS  # the old option names: accepted, not listed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """matte's options: the input and the model here, then the rest by theme."""
    parser.description = "Cut people out of images, videos or the camera with a LikeUnet model."
    parser.add_argument(
        "input", help="image, folder of images or video path, or a camera index such as 0"
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"one of {', '.join(MODEL_SPECS)} "
        f"(add -fp16 or -int8 for a quantized variant); default {DEFAULT_MODEL}",
    )
    parser.add_argument(
        "--gray",
        action="store_true",
        help="insist on a grayscale model, as demo.py's --gray (dark, dark-light)",
    )
    parser.add_argument(
        "--weights",
        help="model folder (default: $HUMANMATTING_WEIGHTS_DIR, "
        "the Hugging Face cache, then the Hub)",
    )
    parser.add_argument("--backend", choices=("litert", "keras"), default="litert")
    _background_options(parser)
    _quality_options(parser)
    _video_and_output_options(parser)


def _background_options(parser: argparse.ArgumentParser) -> None:
    """What goes behind the person, and the edges (pipeline.Background, Edges)."""
    parser.add_argument(
        "--background",
        metavar="KIND",
        default=None,
        help=f"what goes behind the person: {', '.join(BACKGROUND_KINDS[:-1])}; or "
        "matte (the 8-bit matte instead). transparent gives an RGBA PNG; videos have no "
        f"transparency. Default {DEFAULT_BACKGROUND}",
    )
    parser.add_argument(
        "--color",
        default=None,
        help=f"the colour of --background color: a name or #rrggbb (default {DEFAULT_COLOR})",
    )
    parser.add_argument("--picture", default=None, help="the picture of --background image")
    parser.add_argument(
        "--blur",
        type=number_in(0, MAX_BLUR),
        default=DEFAULT_BLUR,
        help=f"the blur of --background blur: Gaussian sigma in pixels, 0-{MAX_BLUR:g} "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--edges",
        type=edges_option,
        default="soft",
        help="soft (the alpha as it is, the default), hard (alpha >= 0.5 becomes person) or "
        "a number from 0 to 1 (hard at that alpha)",
    )
    # The old names, kept working: --mode KIND --background COLOR|PICTURE, --threshold T.
    parser.add_argument("--mode", choices=BACKGROUND_KINDS, default=None, help=SUPPRESS)
    parser.add_argument("--threshold", type=number_in(0, 1), default=None, help=SUPPRESS)


def _quality_options(parser: argparse.ArgumentParser) -> None:
    """The network's input size, the refinement, the foreground colours, HQ matting."""
    parser.add_argument(
        "--long-side",
        type=number_in(SIZE_MULTIPLE, MAX_LONG_SIDE, whole=True),
        default=None,
        help=f"run the model at this long side ({SIZE_MULTIPLE}-{MAX_LONG_SIDE}, rounded to "
        "a multiple of 32) instead of the one --quality picks",
    )
    parser.add_argument(
        "--quality",
        choices=QUALITIES,
        default=None,
        help="best: the network input size that measures best for the model and edges "
        "refined with the photo in colour; fast: a smaller input and a cheaper refinement "
        "(default: best for images, fast for videos and the camera)",
    )
    parser.add_argument(
        "--no-refine",
        dest="refine",
        action="store_false",
        help="no edge refinement: the network's matte stretched to the picture's size",
    )
    parser.add_argument(
        "--foreground-colors",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="images: estimate the person's own colours in soft edges, so the old "
        "background does not show through there (the default; videos never do)",
    )
    parser.add_argument(  # the old name of --no-foreground-colors
        "--no-decontaminate", dest="foreground_colors", action="store_false", help=SUPPRESS
    )
    parser.add_argument(
        "--hq",
        action="store_true",
        help="images: high-quality matting of hair and fine edges (closed-form alpha matting "
        "of the edge band; needs pip install 'humanmatting[hq]'); seconds, not milliseconds",
    )
    parser.add_argument(
        "--hq-seconds",
        type=number_in(0, 3600, low_open=True),
        default=60.0,
        help="time limit of --hq per image in seconds (default %(default)s): the solver "
        "stops there and keeps what it reached",
    )


def _video_and_output_options(parser: argparse.ArgumentParser) -> None:
    """Videos and the camera; where the result goes."""
    parser.add_argument(
        "--smoothing",
        type=number_in(0, 1, high_open=True),
        default=DEFAULT_SMOOTHING,
        help="videos/camera: how much of the last frames' matte each frame keeps, from 0 "
        "(none) to below 1 (default %(default)s)",
    )
    parser.add_argument(  # the old option: the new frame's weight, 1 - smoothing
        "--smooth", type=number_in(0, 1, low_open=True), default=None, help=SUPPRESS
    )
    parser.add_argument(
        "--max-frames",
        type=number_in(1, whole=True),
        default=None,
        help="videos/camera: stop after N",
    )
    parser.add_argument(
        "--output",
        "-o",
        help="output path (default: INPUT-KIND.png / .mp4, KIND the background; for a "
        "folder, the folder INPUT-KIND)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def default_output(input_path: str, mode: str, video: bool) -> Path:
    if input_path.isdigit():
        return Path(f"camera{input_path}-{mode}.mp4")
    path = Path(input_path)
    if path.is_dir():
        return path.resolve().with_name(f"{path.resolve().name}-{mode}")
    return path.with_name(f"{path.stem}-{mode}{'.mp4' if video else '.png'}")


def check_image_output(output: Path, alpha: bool) -> None:
    """Refuse an output name that cannot hold the result (an RGBA cutout when `alpha`)."""
    suffix = output.suffix.lower()
    if suffix not in Image.registered_extensions():
        raise InvalidImageError(f"Cannot write an image as {output.name}; use .png, .webp or .jpg.")
    if alpha and suffix in (".jpg", ".jpeg"):
        raise InvalidImageError("JPEG has no transparency; write the cutout as .png or .webp.")


def save_picture(picture: np.ndarray, output: Path) -> None:
    """Write an image atomically, refusing formats that cannot hold it."""
    check_image_output(output, picture.ndim == 3 and picture.shape[2] == 4)
    image_format = Image.registered_extensions()[output.suffix.lower()]
    with atomic_path(output) as temporary:
        try:
            Image.fromarray(picture).save(temporary, format=image_format)
        except (ValueError, KeyError) as error:  # a format that cannot hold this picture
            raise InvalidImageError(
                f"Cannot write the result as {output.name} ({error})."
            ) from None


def folder_outputs(images: list[Path], output_dir: Path) -> list[Path]:
    """OUTPUT/<stem>.png per image; <name>.png where two images share a stem (a.jpg, a.png)."""
    stems = [path.stem for path in images]
    return [
        output_dir / f"{path.name if stems.count(path.stem) > 1 else path.stem}.png"
        for path in images
    ]


def run_folder(args, matte, folder: Path, output_dir: Path) -> list[str]:
    """Matte every image in `folder` into `output_dir`; returns one line per skipped file."""
    from tqdm.auto import tqdm

    if output_dir.exists() and not output_dir.is_dir():
        raise InvalidImageError(f"For a folder of images, --output must be a folder: {output_dir}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise InvalidImageError(
            f"No images in {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})."
        )
    if len(files) > len(images):
        ignored = len(files) - len(images)
        print(f"humanmatting: ignoring {ignored} files that are not images", file=sys.stderr)
    skipped = []
    bar = tqdm(images, unit="image", disable=args.quiet, desc=folder.name)
    for path, output in zip(bar, folder_outputs(images, output_dir), strict=True):
        try:
            save_picture(matte(path), output)
        except InvalidImageError as error:
            skipped.append(f"{path.name}: {error}")
            bar.write(f"humanmatting: skipped {path.name}: {error}", file=sys.stderr)
    bar.close()
    return skipped


def check_not_overwriting_inputs(source: Path, output: Path, folder: bool) -> None:
    """Refuse an output that would replace the input, or (for a folder) be written among
    the inputs, where `photo.png` would overwrite the neighbour of `photo.jpg`."""
    if folder and output.resolve() == source.resolve():
        raise ValueError(
            f"The output folder is the input folder {source}: the results would overwrite "
            "the images beside the inputs. Choose another --output folder."
        )
    if not folder and output.exists() and output.resolve() == source.resolve():
        raise ValueError(f"The output {output} is the input; choose another --output.")


def check_output_folder(output: Path) -> None:
    """Refuse an output in a folder that does not exist: a typo in -o would otherwise make
    a tree of new folders without a word."""
    folder = output.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ValueError(
            f"Cannot write {output.name}: {folder} {what}. Create the folder first or "
            "choose another --output."
        )


def edges_option(text: str) -> Edges:
    """--edges: soft, hard, or a number from 0 to 1 (hard at that alpha)."""
    if text in EDGES:
        return text
    try:
        return edge_threshold(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be soft, hard or a number from 0 to 1, not {text!r}"
        ) from None


def resolve_old_options(args: argparse.Namespace) -> None:
    """The old options in the new vocabulary: --mode KIND with --background COLOR or
    PICTURE, --threshold T (--edges T), --smooth W (--smoothing 1 - W)."""
    if args.mode is not None:
        value, args.background = args.background, args.mode
        if args.mode == "color" and args.color is None:
            args.color = value
        elif args.mode == "image" and args.picture is None:
            args.picture = value
    if args.threshold is not None:
        args.edges = args.threshold
    if args.smooth is not None:
        args.smoothing = 1.0 - args.smooth
    args.background = args.background or DEFAULT_BACKGROUND


def chosen_background(args: argparse.Namespace) -> Background:
    """The background the options name, checked before the (slower) model load: a typo in
    a kind or a colour, or a missing picture, fails fast."""
    if args.background == "image":
        if args.picture is None:
            raise ValueError(
                "--background image needs --picture PICTURE: the picture to put behind the person."
            )
        if not Path(args.picture).is_file():
            raise InvalidImageError(
                f"--background image needs --picture PICTURE; no such file: {args.picture}"
            )
    return Background.parse(args.background, args.color, args.picture, args.blur)


def check_video_options(args: argparse.Namespace, kind: str, video: bool) -> None:
    """Refuse what a video cannot have (transparency, --hq), and --hq without its extra,
    before the model load."""
    if video and kind == "transparent":
        raise ValueError(
            f"Videos have no transparency; choose --background {', '.join(FRAME_KINDS)}."
        )
    if video and args.hq:
        raise ValueError("--hq is for images (it takes seconds each); leave it out for videos.")
    if args.hq:
        refine.require_hq()  # a missing pymatting fails before the model load


def run(args: argparse.Namespace) -> tuple[Path, list[str]]:
    """Do what the command line asks; returns the output path and any skipped files."""
    from humanmatting.runtime import open_matter, split_variant
    from humanmatting.specs import get_spec
    from humanmatting.weights import resolve_model_folder

    settings = args.settings  # read once by humanmatting.command
    allow_pillow_pixels(settings.max_pixels)
    model, variant = split_variant(args.model)  # "dark-light-int8": a variant at the edge
    if args.gray and get_spec(model).channels != 1:
        raise ValueError(
            f"--gray needs a grayscale model, and {args.model!r} is RGB; use dark or dark-light."
        )
    resolve_old_options(args)
    background = chosen_background(args).load(settings.max_pixels)
    kind = background.kind
    folder = Path(args.input).is_dir()
    camera = args.input.isdigit() and not Path(args.input).exists()
    video = camera or is_video_path(args.input)
    check_video_options(args, kind, video)
    if not camera and not folder and not Path(args.input).is_file():
        raise InvalidImageError(f"No such file: {args.input}")
    output = Path(args.output) if args.output else default_output(args.input, kind, video)
    if not camera:
        check_not_overwriting_inputs(Path(args.input), output, folder)
    check_output_folder(output)
    # Missing or unverified weights first, then a bad image or output name, then the model
    # load (slower, and its warnings would come before the error).
    weights = resolve_model_folder(model, args.weights, settings=settings)
    rgb = None
    if not folder and not video:
        check_image_output(output, kind == "transparent")
        rgb = load_rgb(args.input, settings.max_pixels)  # the photo's one decoding
    matter = open_matter(model, weights, chosen_backend(args), variant=variant, settings=settings)
    if video:
        frames = matte_frames(
            matter,
            background,
            args.edges,
            args.smoothing,
            args.quality or "fast",
            args.long_side,
            args.refine,
        )
        source = int(args.input) if camera else args.input
        process_video(source, output, frames, args.max_frames, progress=not args.quiet)
        return output, []
    matte = photo_function(args, matter, background)
    if folder:
        return output, run_folder(args, matte, Path(args.input), output)
    save_picture(matte(rgb), output)
    return output, []


def chosen_backend(args: argparse.Namespace):
    """ "litert", or the Keras backend's factory for --backend keras (the [keras] extra: a
    missing TensorFlow is one line naming it)."""
    if args.backend != "keras":
        return args.backend
    from humanmatting.models.keras_backend import KerasBackend

    return KerasBackend


def photo_function(args: argparse.Namespace, matter, background: Background):
    """Image (a path or a decoded array) -> the picture the options ask for."""

    def matte(image) -> np.ndarray:
        return matte_photo(
            matter,
            image,
            background,
            args.edges,
            foreground_colors=args.foreground_colors,
            quality=args.quality or "best",
            long_side=args.long_side,
            refine=args.refine,
            hq=args.hq,
            hq_seconds=args.hq_seconds,
            progress=not args.quiet,
        ).picture

    return matte


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Keep the libraries' own lines off the terminal, so that an error is one line.

    LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" for each model it
    loads, libtiff and libpng print their warnings, straight to file descriptor 2; Pillow
    warns (Python warnings) about damaged metadata that load_rgb handles anyway. While
    the command runs, descriptor 2 goes to /dev/null and Python's own stderr (our
    messages, the progress bar) to a copy of the real one. Only when stderr is the
    process's real one (not under a test's capture).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"PIL\.")
        try:
            real = sys.stderr.fileno() == 2
        except (AttributeError, ValueError, OSError):  # a replaced stderr without a descriptor
            real = False
        if not real:
            yield
            return
        sys.stderr.flush()
        saved = os.dup(2)
        original = sys.stderr
        sys.stderr = open(saved, "w", buffering=1, closefd=False)  # noqa: SIM115
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sys.stderr = original


def run_matte(args: argparse.Namespace) -> int:
    """`humanmatting [matte] INPUT ...`: prints the output path; 1 when a folder run skipped
    files."""
    # FFmpeg's own log lines would only repeat, less clearly, the error printed for them.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    logging.basicConfig(format="humanmatting: warning: %(message)s", level=logging.WARNING)
    with quiet_libraries():
        output, skipped = run(args)
    print(output)
    if skipped:
        print(
            f"humanmatting: {len(skipped)} file(s) skipped, the others are in {output}",
            file=sys.stderr,
        )
        return 1
    return 0
