"""The `humanmatting` command as a person runs it: real processes, real files."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from humanmatting import load_matter


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "humanmatting.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_matte_is_8bit_gray_at_input_size_and_equals_the_library(
    random_weights_dir, grace_hopper_path, tmp_path
):
    out = tmp_path / "matte.png"
    result = run_cli(
        grace_hopper_path, "--weights", random_weights_dir, "--mode", "matte", "-o", out
    )
    assert result.returncode == 0, result.stderr
    matte = Image.open(out)
    assert matte.mode == "L" and matte.size == Image.open(grace_hopper_path).size
    expected = load_matter("dark-light", random_weights_dir).predict(grace_hopper_path)
    assert np.abs(np.asarray(matte) / 255.0 - expected).max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize(
    "mode, channels", [("cutout", 4), ("blur", 3), ("replace", 3), ("overlay", 3)]
)
def test_modes(random_weights_dir, grace_hopper_path, tmp_path, mode, channels):
    out = tmp_path / f"{mode}.png"
    result = run_cli(
        grace_hopper_path,
        "--weights",
        random_weights_dir,
        "--mode",
        mode,
        "--background",
        "navy",
        "-o",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert np.asarray(Image.open(out)).shape[2] == channels


def test_video_in_video_out(random_weights_dir, tmp_path):
    source = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for index in range(12):
        frame = np.full((64, 96, 3), index * 20, np.uint8)
        writer.write(frame)
    writer.release()
    out = tmp_path / "clip-blur.mp4"
    result = run_cli(
        source, "--weights", random_weights_dir, "--mode", "blur", "--smooth", "0.5", "-o", out
    )
    assert result.returncode == 0, result.stderr
    assert "frame" in result.stderr  # the progress bar
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (
        96,
        64,
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "No such file"),
        (b"", "empty"),
        (b"just text", "Cannot read"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 50, "Cannot read|damaged"),
    ],
)
def test_bad_input_exits_2_with_one_line(random_weights_dir, tmp_path, content, message):
    path = tmp_path / "photo.jpg"
    if content is not None:
        path.write_bytes(content)
    result = run_cli(path, "--weights", random_weights_dir)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("humanmatting:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert __import__("re").search(message, errors[0])


def test_missing_weights_message(grace_hopper_path, tmp_path):
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env["HUMANMATTING_PACKAGED_WEIGHTS"] = "0"  # as an install that ships no weights
    env.pop("HUMANMATTING_WEIGHTS_DIR", None)
    result = run_cli(grace_hopper_path, env=env)
    assert result.returncode == 2
    assert "python -m hub.pull dark-light" in result.stderr and "Traceback" not in result.stderr


def test_empty_video_exits_2(random_weights_dir, tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    result = run_cli(path, "--weights", random_weights_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "broken-cutout.mp4").exists()


# --- one line per error, no noise, names and folders that are safe ------------------------


def refused(path) -> bool:
    from humanmatting.preprocess import InvalidImageError, load_rgb

    try:
        load_rgb(path)
    except InvalidImageError:
        return True
    return False


def only_line(result) -> str:
    """The one line of stderr (the libraries' own lines used to follow it: XNNPACK's INFO,
    Pillow's warnings, libtiff's complaints)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    "make, options, message",
    [
        ("qoi", [], "Cannot read .*qoi-named.png as an image; use a JPEG, PNG"),
        ("fuzzed-tiff", [], "damaged or truncated|damaged or cannot be read|Cannot read"),
        ("photo", ["--threshold", "nan"], "--threshold: must be a number from 0 to 1, not 'nan'"),
        ("photo", ["--long-side", "100000"], "--long-side: must be a whole number from 32 to 1024"),
        ("photo", ["--long-side", "4096"], "--long-side: must be a whole number from 32 to 1024"),
        ("photo", ["--blur", "inf"], "--blur: must be a number from 0 to 500"),
        ("photo", ["--mode", "cutout", "-o", "{tmp}/cutout.jpg"], "JPEG has no transparency"),
    ],
)
def test_errors_are_one_line_and_nothing_else(
    random_weights_dir, bad_images, tmp_path, make, options, message
):
    import re

    from tests.bad_media import fuzzed_images

    if make == "qoi":
        source = bad_images["qoi-named.png"]
    elif make == "fuzzed-tiff":  # damaged TIFFs: libtiff complains about them on stderr
        source = tmp_path / "damaged.tif"
        for name, data in fuzzed_images(count_per_format=20).items():
            source.write_bytes(data)
            if name.endswith(".lzw.tif") and refused(source):
                break
    else:
        source = bad_images["rgba.png"]
    options = [option.replace("{tmp}", str(tmp_path)) for option in options]
    result = run_cli(source, "--weights", random_weights_dir, *options)
    assert result.returncode == 2
    line = only_line(result)
    assert line.startswith("humanmatting: error: ") and re.search(message, line), line


def test_a_photo_with_damaged_exif_is_matted_without_warnings(
    random_weights_dir, bad_images, tmp_path
):
    out = tmp_path / "matte.png"
    result = run_cli(
        bad_images["damaged-exif.png"],
        "--weights",
        random_weights_dir,
        "--mode",
        "matte",
        "-o",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (64, 48)
    noise = [line for line in result.stderr.splitlines() if "int8" not in line]  # random weights
    assert noise == [], noise  # no "Corrupt EXIF data" warning, no XNNPACK INFO line


def test_a_long_output_name_that_the_file_system_takes_is_written(random_weights_dir, tmp_path):
    """241 characters: the hidden temporary name beside it was 259, over the 255 allowed."""
    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 30), "navy").save(photo)
    out = tmp_path / ("n" * 237 + ".png")
    result = run_cli(photo, "--weights", random_weights_dir, "--mode", "matte", "-o", out)
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (40, 30)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "photo.png"])


def test_outputs_never_overwrite_the_inputs(random_weights_dir, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (40, 30), "navy").save(folder / "a.jpg")
    Image.new("RGB", (20, 10), "red").save(folder / "a.png")  # someone's own, beside a.jpg
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = run_cli(folder, "--weights", random_weights_dir, "-o", folder)
    assert result.returncode == 2
    assert "The output folder is the input folder" in only_line(result)
    result = run_cli(folder / "a.jpg", "--weights", random_weights_dir, "-o", folder / "a.jpg")
    assert result.returncode == 2 and "is the input" in only_line(result)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    result = run_cli(folder, "--weights", random_weights_dir, "-o", folder / "mattes")
    assert result.returncode == 0, result.stderr  # a folder inside is another folder: fine
    assert sorted(p.name for p in (folder / "mattes").iterdir()) == ["a.jpg.png", "a.png.png"]


def test_sigterm_mid_video_leaves_no_hidden_file(random_weights_dir, tmp_path):
    """SIGINT was clean, SIGTERM left the hidden .partial video behind."""
    import os
    import signal
    import time

    source = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for index in range(600):
        writer.write(np.full((240, 320, 3), index % 256, np.uint8))
    writer.release()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "humanmatting.cli", source, "--weights", random_weights_dir]
        + ["--mode", "blur", "-o", out_dir / "long-blur.mp4"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(out_dir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    partial = list(out_dir.iterdir())
    assert partial and partial[0].name.startswith("."), partial  # writing, hidden
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "humanmatting: terminated; no partial output was left" in stderr
    assert "Traceback" not in stderr
    assert list(out_dir.iterdir()) == []
