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
