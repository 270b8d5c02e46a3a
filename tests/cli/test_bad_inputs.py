"""Hostile and unusual inputs through the library and the CLI: a clear typed error or a
correct result, never a crash, never a partial output file.

The files come from harness/bad_media.py, so every front end sees exactly the same bytes.
"""

from __future__ import annotations

import io
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from harness.bad_media import _photo
from humanmatting import cli
from humanmatting.preprocess import FORMAT_NAMES, ImageTooLargeError, InvalidImageError, load_rgb
from humanmatting.settings import Settings
from humanmatting.video import InvalidVideoError, process_video

PHOTO = _photo()  # the 48x64 picture most good files encode

# name -> (error type and message pattern) or None for "decodes to a correct image"
REFUSED = {
    "zero-bytes.jpg": (InvalidImageError, "empty"),
    "text-named.jpg": (InvalidImageError, "Cannot read .* as an image"),
    "truncated.jpg": (InvalidImageError, "damaged or truncated"),
    "truncated.png": (InvalidImageError, "damaged or truncated"),
    "bomb.png": (ImageTooLargeError, "limit of 40,000,000 pixels; .* HUMANMATTING_MAX_PIXELS"),
    # Only the README's formats are decoded, recognised from the first bytes: a QOI named
    # .png took 76 s in Pillow's Python decoder; an ICO's directory said 16x16 and its PNG
    # was 13000x13000, found only after decoding it.
    "qoi-named.png": (InvalidImageError, f"Cannot read .* as an image; use a {FORMAT_NAMES}"),
    "dds-named.png": (InvalidImageError, f"Cannot read .* as an image; use a {FORMAT_NAMES}"),
    "ico-lying.png": (InvalidImageError, f"Cannot read .* as an image; use a {FORMAT_NAMES}"),
    # Variants whose decoding time the pixel limit does not bound.
    "rle-compressed.bmp": (InvalidImageError, "uses a compression that is not supported"),
    "scan-bomb.jpg": (InvalidImageError, "JPEG of more than 100 scans"),
}
# name -> the message pattern of its InvalidVideoError, for the library and the CLI.
BAD_VIDEOS = {
    "no-frames.avi": "no readable frames",
    "corrupted.mp4": "Cannot open video",
    "truncated.avi": "Cannot open video|no readable frames",
}
ACCEPTED = [
    "one-pixel.png",
    "thin-1x4000.png",
    "sixteen-bit.png",
    "cmyk.jpg",
    "palette-transparent.png",
    "grayscale.jpg",
    "rgba.png",
    "animated.gif",
    "exif-rotated.jpg",
    "damaged-exif.png",  # Pillow raised SyntaxError reading its EXIF: used as stored
    "damaged-exif-lossless.webp",
]


@pytest.fixture(scope="session")
def matters(random_weights_dir):
    from humanmatting import load_matter

    return {name: load_matter(name, random_weights_dir) for name in ("dark-light", "night")}


def expected_rgb(name: str) -> np.ndarray:
    """What a correct decoder returns for each accepted file (before lossy coding)."""
    gray = np.asarray(Image.fromarray(PHOTO).convert("L"))
    return {
        "one-pixel.png": np.array([[[200, 10, 10]]], np.uint8),
        "thin-1x4000.png": PHOTO[:1, :1].repeat(4000, 1),
        "sixteen-bit.png": np.dstack([PHOTO[:, :, 0]] * 3),
        "cmyk.jpg": PHOTO,
        "grayscale.jpg": np.dstack([gray] * 3),
        "rgba.png": PHOTO,
        "animated.gif": np.full_like(PHOTO, 30),  # the first frame
        "exif-rotated.jpg": np.rot90(PHOTO, -1),  # orientation 6: turn 90 degrees clockwise
        "damaged-exif.png": PHOTO,
        "damaged-exif-lossless.webp": PHOTO,
    }[name]


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_images_raise_typed_errors_from_path_and_bytes(bad_images, matters, name):
    error_type, pattern = REFUSED[name]
    path = bad_images[name]
    for source in (path, path.read_bytes()):
        with pytest.raises(error_type, match=pattern):
            load_rgb(source)
        with pytest.raises(error_type, match=pattern):
            matters["dark-light"].predict(source)
    # ... and the next request is served normally.
    assert matters["dark-light"].predict(PHOTO).alpha.shape == (48, 64)


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_images_decode_correctly(bad_images, matters, name):
    path = bad_images[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Pillow's palette-transparency warning
        rgb = load_rgb(path)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert np.array_equal(rgb, load_rgb(path.read_bytes()))
    if name == "palette-transparent.png":
        # Transparency is dropped: the visible colours are the palette's, exactly.
        palette = Image.open(path)
        assert palette.mode == "P" and "transparency" in palette.info
        assert np.array_equal(rgb, np.asarray(palette.convert("RGBA"))[:, :, :3])
        assert np.abs(rgb.astype(int) - PHOTO).mean() < 20  # 16 colours of the photo
    else:
        expected = expected_rgb(name)
        assert rgb.shape == expected.shape
        lossy = name.endswith(".jpg")  # a noisy photo: JPEG is off by about 6-9 on average
        assert np.abs(rgb.astype(int) - expected).mean() <= (12 if lossy else 0)
    if name == "exif-rotated.jpg":
        stored = np.asarray(Image.open(path).convert("RGB"))  # as stored, 64 wide
        assert stored.shape == (48, 64, 3) and np.array_equal(rgb, np.rot90(stored, -1))
        assert np.abs(rgb.astype(int) - np.rot90(PHOTO, 1)).mean() > 40  # not the other way
    for matter in matters.values():
        alpha = matter.predict(path).alpha
        assert alpha.shape == rgb.shape[:2] and alpha.dtype == np.float32
        assert np.isfinite(alpha).all() and 0 <= alpha.min() and alpha.max() <= 1


def test_pixel_limit_is_configurable(bad_images, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after
    pillow_guard = Image.MAX_IMAGE_PIXELS
    monkeypatch.setenv("HUMANMATTING_MAX_PIXELS", "3000")
    limit = Settings.from_env().max_pixels
    with pytest.raises(ImageTooLargeError, match="3,072 pixels, above the limit of 3,000 pixels"):
        load_rgb(bad_images["rgba.png"], limit)
    with pytest.raises(ImageTooLargeError, match="limit of 3,000"):
        load_rgb(np.zeros((50, 61), np.uint8), limit)
    assert load_rgb(bad_images["one-pixel.png"], limit).shape == (1, 1, 3)
    monkeypatch.setenv("HUMANMATTING_MAX_PIXELS", "1e9")  # above Pillow's own guard
    assert load_rgb(bad_images["rgba.png"], Settings.from_env().max_pixels).shape == (48, 64, 3)
    assert Image.MAX_IMAGE_PIXELS == pillow_guard  # the library leaves Pillow's global alone
    monkeypatch.setenv("HUMANMATTING_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="HUMANMATTING_MAX_PIXELS must be a positive number"):
        load_rgb(bad_images["rgba.png"], Settings.from_env().max_pixels)


def test_lazily_opened_pil_image_that_is_truncated(bad_images):
    image = Image.open(io.BytesIO(bad_images["truncated.png"].read_bytes()))  # header only
    with pytest.raises(InvalidImageError, match="damaged or truncated"):
        load_rgb(image)


def test_signed_and_boolean_pixels():
    signed = Image.fromarray(np.full((4, 5), -7, np.int32))  # mode "I": negative is black
    assert load_rgb(signed).max() == 0
    mask = np.zeros((4, 5), bool)
    mask[1:3] = True
    assert np.array_equal(load_rgb(mask)[:, :, 0], mask * 255)


# --- videos ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, pattern", BAD_VIDEOS.items())
def test_bad_videos_raise_and_leave_nothing(bad_videos, tmp_path, name, pattern):
    with pytest.raises(InvalidVideoError, match=pattern):
        process_video(bad_videos[name], tmp_path / "out.mp4", lambda f: f, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_video_output_must_be_a_video_format(bad_videos, tmp_path):
    with pytest.raises(InvalidVideoError, match="Cannot write a video to out.png"):
        process_video(bad_videos["good.avi"], tmp_path / "out.png", lambda f: f, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_video_leaves_nothing(bad_videos, tmp_path):
    calls = []

    def interrupted(frame):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return frame

    with pytest.raises(KeyboardInterrupt):
        process_video(bad_videos["good.avi"], tmp_path / "out.mp4", interrupted, progress=False)
    assert list(tmp_path.iterdir()) == []


# --- the CLI ----------------------------------------------------------------------------------


def run_main(capsys, *args) -> tuple[int, str]:
    status = cli.main([str(arg) for arg in args] + ["--quiet"])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("name", list(REFUSED))
def test_cli_refuses_bad_images_with_status_2_and_one_line(
    bad_images, random_weights_dir, tmp_path, capsys, name
):
    out = tmp_path / "out.png"
    status, stderr = run_main(capsys, bad_images[name], "--weights", random_weights_dir, "-o", out)
    lines = [line for line in stderr.splitlines() if line.startswith("humanmatting:")]
    assert status == 2 and len(lines) == 1 and "error:" in lines[0]
    assert __import__("re").search(REFUSED[name][1], lines[0])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ACCEPTED)
def test_cli_mattes_accepted_images_at_their_displayed_size(
    bad_images, random_weights_dir, tmp_path, capsys, name
):
    out = tmp_path / "matte.png"
    status, stderr = run_main(
        capsys,
        bad_images[name],
        "--weights",
        random_weights_dir,
        "--background",
        "matte",
        "-o",
        out,
    )
    assert status == 0, stderr
    height, width = load_rgb(bad_images[name]).shape[:2]
    assert Image.open(out).size == (width, height) and Image.open(out).mode == "L"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["matte.png"]


@pytest.mark.parametrize("name, pattern", BAD_VIDEOS.items())
def test_cli_refuses_bad_videos(bad_videos, random_weights_dir, tmp_path, capsys, name, pattern):
    out = tmp_path / "out.mp4"
    status, stderr = run_main(capsys, bad_videos[name], "--weights", random_weights_dir, "-o", out)
    assert status == 2 and __import__("re").search(pattern, stderr)
    assert list(tmp_path.iterdir()) == []


def test_cli_video_to_an_image_suffix_is_refused(bad_videos, random_weights_dir, tmp_path, capsys):
    out = tmp_path / "out.png"
    status, stderr = run_main(
        capsys, bad_videos["good.avi"], "--weights", random_weights_dir, "-o", out
    )
    assert status == 2 and "Cannot write a video to out.png" in stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_image_to_an_unknown_suffix_is_refused(
    bad_images, random_weights_dir, tmp_path, capsys
):
    out = tmp_path / "out.mp4"
    status, stderr = run_main(
        capsys, bad_images["rgba.png"], "--weights", random_weights_dir, "-o", out
    )
    assert status == 2 and "Cannot write an image as out.mp4" in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_folder_of_every_bad_file_in_a_real_process(bad_images, random_weights_dir, tmp_path):
    """One real process over all the files: bad ones listed and skipped, exit status 1,
    every good one written whole, nothing partial, never a traceback."""
    folder = bad_images["rgba.png"].parent
    out = tmp_path / "mattes"
    result = subprocess.run(
        [sys.executable, "-m", "humanmatting.cli", folder, "--weights", random_weights_dir]
        + ["--background", "transparent", "-o", out],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "image/s" in result.stderr  # the progress bar
    for name in REFUSED:
        assert f"skipped {name}:" in result.stderr
    assert f"{len(REFUSED)} file(s) skipped" in result.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(f"{name.rsplit('.', 1)[0]}.png" for name in ACCEPTED)
    for name in ACCEPTED:
        cutout = Image.open(out / f"{name.rsplit('.', 1)[0]}.png")
        height, width = load_rgb(bad_images[name]).shape[:2]
        assert cutout.mode == "RGBA" and cutout.size == (width, height)


# --- fuzzed files: the probe's 12,750 images, in small -----------------------------------


def test_fuzzed_images_give_a_picture_or_a_typed_error_quickly(tmp_path):
    """600 damaged files of 15 formats (the allowed ones and QOI, DDS, ICO, TGA): each is
    decoded or refused with InvalidImageError, whose message names no heap address, within
    a second; before, QOI, AVIF, BLP, DDS, TIFF and WebP files escaped as SyntaxError,
    IndexError, struct.error, ..."""
    import time

    from harness.bad_media import fuzzed_images

    outcomes = {"decoded": 0, "refused": 0}
    slowest = 0.0
    for name, data in fuzzed_images().items():
        path = tmp_path / name
        path.write_bytes(data)
        for source in (path, data):
            started = time.perf_counter()
            try:
                rgb = load_rgb(source)
            except InvalidImageError as error:
                assert " at 0x" not in str(error) and "\n" not in str(error), (name, error)
                outcomes["refused"] += 1
            else:
                assert rgb.dtype == np.uint8 and rgb.ndim == 3, name
                outcomes["decoded"] += 1
            slowest = max(slowest, time.perf_counter() - started)
    assert outcomes["decoded"] > 50 and outcomes["refused"] > 500, outcomes
    assert slowest < 1.0, slowest


def test_pil_images_of_other_formats_are_refused_before_decoding(bad_images):
    opened = Image.open(bad_images["qoi-named.png"])  # the caller opened it, lazily
    assert opened.format == "QOI"
    with pytest.raises(InvalidImageError, match="Cannot read a QOI image"):
        load_rgb(opened)
    assert load_rgb(Image.open(bad_images["rgba.png"])).shape == (48, 64, 3)


@pytest.mark.slow
def test_cli_folder_of_fuzzed_files_reports_every_one_in_one_line(random_weights_dir, tmp_path):
    """One damaged file used to stop the whole folder run with a traceback, the rest never
    reported: now each bad one is one line, and the good ones are written."""
    from harness.bad_media import fuzzed_images

    folder = tmp_path / "fuzzed"
    folder.mkdir()
    files = {
        name: data
        for name, data in fuzzed_images(count_per_format=6, seed=1).items()
        if name.endswith((".jpg", ".png", ".webp", ".gif", ".bmp", ".tif"))
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "humanmatting.cli", folder, "--weights", random_weights_dir]
        + ["--background", "matte", "-o", out, "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    skipped = [line for line in lines if line.startswith("humanmatting: skipped ")]
    written = sorted(p.name for p in out.iterdir())
    assert len(skipped) + len(written) == len(files)
    assert all(line.startswith("humanmatting: ") for line in lines), lines  # no other noise
    assert "Traceback" not in result.stderr and len(written) > 0
