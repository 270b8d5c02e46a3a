"""`humanmatting INPUT ...`: matte an image, a folder of images, a video or the camera.

The successor of the original demo.py. Every output is written to a temporary file and
moved into place, so an interrupted or failed run never leaves a half-written file.
Exit status: 0 done; 1 a folder run skipped some files (listed); 2 bad input or weights;
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from humanmatting import compose
from humanmatting.files import atomic_path
from humanmatting.preprocess import IMAGE_SUFFIXES, InvalidImageError, load_rgb
from humanmatting.specs import DEFAULT_MODEL, MODEL_SPECS
from humanmatting.video import AlphaSmoother, InvalidVideoError, is_video_path, process_video
from humanmatting.weights import InvalidWeightsError, WeightsNotFoundError

MODES = ("matte", "cutout", "blur", "replace", "overlay")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="humanmatting",
        description="Cut people out of images, videos or the camera with a LikeUnet model.",
    )
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
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="cutout",
        help="matte: 8-bit alpha; cutout: RGBA PNG (videos: green screen); "
        "blur/replace/overlay: composited RGB (default cutout)",
    )
    parser.add_argument(
        "--background",
        default="#00b140",
        help="colour name, #rrggbb or an image path for --mode replace",
    )
    parser.add_argument(
        "--blur", type=float, default=15, help="blur sigma in pixels for --mode blur"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="hard edges: alpha >= THRESHOLD becomes person (default: soft alpha)",
    )
    parser.add_argument(
        "--long-side",
        type=int,
        default=None,
        help="run the model at this long side (multiple of 32) instead of the preset",
    )
    parser.add_argument(
        "--smooth",
        type=float,
        default=None,
        help="videos/camera: temporal smoothing weight of the new frame in (0, 1]",
    )
    parser.add_argument("--max-frames", type=int, default=None, help="videos/camera: stop after N")
    parser.add_argument(
        "--output",
        "-o",
        help="output path (default: INPUT-MODE.png / .mp4; for a folder, the folder INPUT-MODE)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def default_output(input_path: str, mode: str, video: bool) -> Path:
    if input_path.isdigit():
        return Path(f"camera{input_path}-{mode}.mp4")
    path = Path(input_path)
    if path.is_dir():
        return path.resolve().with_name(f"{path.resolve().name}-{mode}")
    return path.with_name(f"{path.stem}-{mode}{'.mp4' if video else '.png'}")


def frame_renderer(
    args: argparse.Namespace, background
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """RGB frame + alpha -> output picture for the chosen mode."""
    if args.mode == "matte":
        return lambda rgb, alpha: compose.matte_image(alpha, args.threshold)
    if args.mode == "cutout":
        return lambda rgb, alpha: compose.cutout(rgb, alpha, args.threshold)
    if args.mode == "blur":
        return lambda rgb, alpha: compose.blur_background(rgb, alpha, args.blur, args.threshold)
    if args.mode == "overlay":
        return lambda rgb, alpha: compose.overlay_mask(rgb, alpha, threshold=args.threshold)
    return lambda rgb, alpha: compose.replace_background(rgb, alpha, background, args.threshold)


def _video_frame(picture: np.ndarray) -> np.ndarray:
    """Videos have no transparency: matte -> RGB gray, RGBA cutout -> on green."""
    if picture.ndim == 2:
        return np.dstack([picture] * 3)
    if picture.shape[2] == 4:
        return compose.replace_background(picture[:, :, :3], picture[:, :, 3] / 255.0, "#00b140")
    return picture


def save_picture(picture: np.ndarray, output: Path) -> None:
    """Write an image atomically, refusing formats that cannot hold it."""
    suffix = output.suffix.lower()
    if suffix not in Image.registered_extensions():
        raise InvalidImageError(f"Cannot write an image as {output.name}; use .png, .webp or .jpg.")
    if picture.ndim == 3 and picture.shape[2] == 4 and suffix in (".jpg", ".jpeg"):
        raise InvalidImageError("JPEG has no transparency; write the cutout as .png or .webp.")
    with atomic_path(output) as temporary:
        Image.fromarray(picture).save(temporary, format=Image.registered_extensions()[suffix])


def folder_outputs(images: list[Path], output_dir: Path) -> list[Path]:
    """OUTPUT/<stem>.png per image; <name>.png where two images share a stem (a.jpg, a.png)."""
    stems = [path.stem for path in images]
    return [
        output_dir / f"{path.name if stems.count(path.stem) > 1 else path.stem}.png"
        for path in images
    ]


def run_folder(args, matter, render, folder: Path, output_dir: Path) -> list[str]:
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
            rgb = load_rgb(path)
            save_picture(render(rgb, matter.predict(rgb, long_side=args.long_side)), output)
        except InvalidImageError as error:
            skipped.append(f"{path.name}: {error}")
            bar.write(f"humanmatting: skipped {path.name}: {error}", file=sys.stderr)
    bar.close()
    return skipped


def run(args: argparse.Namespace) -> tuple[Path, list[str]]:
    """Do what the command line asks; returns the output path and any skipped files."""
    from humanmatting.runtime import load_matter, split_variant
    from humanmatting.specs import get_spec

    if args.gray and get_spec(split_variant(args.model)[0]).channels != 1:
        raise ValueError(
            f"--gray needs a grayscale model, and {args.model!r} is RGB; use dark or dark-light."
        )
    background = args.background
    if args.mode == "replace":
        # Check the background before the (slower) model load, so typos fail fast.
        background = (
            load_rgb(background) if Path(background).is_file() else compose.parse_color(background)
        )
    folder = Path(args.input).is_dir()
    camera = args.input.isdigit() and not Path(args.input).exists()
    video = camera or is_video_path(args.input)
    if not camera and not folder and not Path(args.input).is_file():
        raise InvalidImageError(f"No such file: {args.input}")
    output = Path(args.output) if args.output else default_output(args.input, args.mode, video)
    matter = load_matter(args.model, args.weights, backend=args.backend)
    render = frame_renderer(args, background)

    if folder:
        return output, run_folder(args, matter, render, Path(args.input), output)
    if not video:
        rgb = load_rgb(args.input)
        alpha = matter.predict(rgb, long_side=args.long_side)
        save_picture(render(rgb, alpha), output)
        return output, []

    smoother = AlphaSmoother(args.smooth) if args.smooth else None

    def matte_frame(rgb: np.ndarray) -> np.ndarray:
        alpha = matter.predict(rgb, long_side=args.long_side)
        if smoother is not None:
            alpha = smoother(alpha)
        return _video_frame(render(rgb, alpha))

    source = int(args.input) if camera else args.input
    process_video(source, output, matte_frame, args.max_frames, progress=not args.quiet)
    return output, []


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # FFmpeg's own log lines would only repeat, less clearly, the error printed below.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        output, skipped = run(args)
    except (
        InvalidImageError,
        InvalidVideoError,
        InvalidWeightsError,
        WeightsNotFoundError,
        ValueError,
    ) as error:
        print(f"humanmatting: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"humanmatting: error: {error.strerror or error}: {error.filename or ''}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("humanmatting: interrupted; no partial output was left", file=sys.stderr)
        return 130
    print(output)
    if skipped:
        print(
            f"humanmatting: {len(skipped)} file(s) skipped, the others are in {output}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
