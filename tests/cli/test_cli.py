"""The `humanmatting` command as a person runs it: real processes, real files."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from harness.paths import REPO_ROOT
from humanmatting import compose, load_matter
from humanmatting.preprocess import load_rgb
from humanmatting.specs import DEFAULT_MODEL


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
        grace_hopper_path, "--weights", random_weights_dir, "--background", "matte", "-o", out
    )
    assert result.returncode == 0, result.stderr
    matte = Image.open(out)
    assert matte.mode == "L" and matte.size == Image.open(grace_hopper_path).size
    expected = load_matter(DEFAULT_MODEL, random_weights_dir).predict(grace_hopper_path).alpha
    assert np.abs(np.asarray(matte) / 255.0 - expected).max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize(
    "options, channels",
    [
        (["--background", "transparent"], 4),
        (["--background", "blur", "--blur", "3"], 3),
        (["--background", "color", "--color", "navy"], 3),
        (["--background", "image", "--picture", "{photo}"], 3),
        (["--mode", "color", "--background", "navy"], 3),  # the old names still work
        (["--mode", "image", "--background", "{photo}"], 3),
    ],
)
def test_backgrounds(random_weights_dir, grace_hopper_path, tmp_path, options, channels):
    """The library's and the app's vocabulary: transparent, blur, color, image (and matte,
    above), each with its setting."""
    out = tmp_path / "out.png"
    options = [option.format(photo=grace_hopper_path) for option in options]
    result = run_cli(grace_hopper_path, "--weights", random_weights_dir, *options, "-o", out)
    assert result.returncode == 0, result.stderr
    picture = np.asarray(Image.open(out))
    assert picture.shape[2] == channels
    if "navy" in options:  # the colour reached the background: the library's navy picture
        alpha = load_matter(DEFAULT_MODEL, random_weights_dir).predict(grace_hopper_path).alpha
        expected = compose.replace_background(load_rgb(grace_hopper_path), alpha, "navy")
        assert np.abs(picture.astype(int) - expected).max() <= 1
        assert (picture[alpha == 0] == (0, 0, 128)).all() and (alpha == 0).any()


@pytest.mark.parametrize("edges", [["--edges", "hard"], ["--edges", "0.5"], ["--threshold", "0.5"]])
def test_hard_edges_give_a_two_level_matte(random_weights_dir, grace_hopper_path, tmp_path, edges):
    out = tmp_path / "matte.png"
    options = ["--weights", random_weights_dir, "--background", "matte", *edges, "-o", out]
    result = run_cli(grace_hopper_path, *options)
    assert result.returncode == 0, result.stderr
    assert set(np.unique(np.asarray(Image.open(out)))) <= {0, 255}


def test_default_mode_is_the_apps_and_old_names_are_refused(
    random_weights_dir, grace_hopper_path, tmp_path
):
    result = run_cli(grace_hopper_path, "--weights", random_weights_dir, "-o", tmp_path / "a.jpg")
    assert result.returncode == 0, result.stderr  # blur: opaque, so JPEG is fine
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"
    result = run_cli(grace_hopper_path, "--weights", random_weights_dir, "--background", "cutout")
    assert result.returncode == 2 and "Unknown background 'cutout'" in result.stderr
    result = run_cli(grace_hopper_path, "--weights", random_weights_dir, "--mode", "cutout")
    assert result.returncode == 2 and "invalid choice: 'cutout'" in result.stderr


def test_video_in_video_out(random_weights_dir, tmp_path):
    source = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for index in range(12):
        frame = np.full((64, 96, 3), index * 20, np.uint8)
        writer.write(frame)
    writer.release()
    out = tmp_path / "clip-blur.mp4"
    result = run_cli(
        source,
        "--weights",
        random_weights_dir,
        "--background",
        "blur",
        "--smoothing",
        "0.5",
        "-o",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert "12/12" in result.stderr  # the progress bar: frames done of frames total
    import av

    with av.open(str(out)) as container:  # H.264, which browsers play (not MPEG-4 Part 2)
        assert container.streams.video[0].codec_context.name == "h264"
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


def test_mode_image_without_a_picture_and_output_into_a_missing_folder_are_refused(
    grace_hopper_path, tmp_path
):
    """Clear messages, nothing written: the shipped models, so no weights are built."""
    result = run_cli(grace_hopper_path, "--background", "image", "-o", tmp_path / "out.png")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--background image needs --picture PICTURE" in result.stderr
    assert "#00b140" not in result.stderr  # the colour's default is not taken for a file
    missing = tmp_path / "no" / "such" / "dir"
    result = run_cli(grace_hopper_path, "-o", missing / "out.png")
    assert result.returncode == 2 and f"{missing} does not exist" in result.stderr
    assert not (tmp_path / "no").exists()  # no folders made without a word
    # The colour mode still has its default colour.
    result = run_cli(grace_hopper_path, "--background", "color", "-o", tmp_path / "green.png")
    assert result.returncode == 0, result.stderr
    assert tuple(np.asarray(Image.open(tmp_path / "green.png"))[5, 5]) == (0, 0xB1, 0x40)


def test_an_unreadable_video_file_is_not_asked_about_cameras(tmp_path):
    from humanmatting.video import InvalidVideoError, open_video

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0" * 5000)
    with pytest.raises(InvalidVideoError, match="is it a valid video") as raised:
        open_video(broken)
    assert "camera" not in str(raised.value)


def test_missing_weights_message(grace_hopper_path, tmp_path):
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    env["HUMANMATTING_PACKAGED_WEIGHTS"] = "0"  # as an install that ships no weights
    env.pop("HUMANMATTING_WEIGHTS_DIR", None)
    result = run_cli(grace_hopper_path, env=env)
    assert result.returncode == 2
    assert f"python -m humanmatting.hub.pull {DEFAULT_MODEL}" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_video_exits_2(random_weights_dir, tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    result = run_cli(path, "--weights", random_weights_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "broken-blur.mp4").exists()


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
        ("photo", ["--edges", "2"], "--edges: must be soft, hard or a number from 0 to 1"),
        ("photo", ["--smoothing", "1"], "--smoothing: must be a number from 0 to below 1"),
        ("photo", ["--long-side", "100000"], "--long-side: must be a whole number from 32 to 1024"),
        ("photo", ["--long-side", "4096"], "--long-side: must be a whole number from 32 to 1024"),
        ("photo", ["--blur", "inf"], "--blur: must be a number from 0 to 500"),
        (
            "photo",
            ["--background", "transparent", "-o", "{tmp}/cutout.jpg"],
            "JPEG has no transparency",
        ),
    ],
)
def test_errors_are_one_line_and_nothing_else(
    random_weights_dir, bad_images, tmp_path, make, options, message
):
    import re

    from harness.bad_media import fuzzed_images

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
    result = run_cli(photo, "--weights", random_weights_dir, "--background", "matte", "-o", out)
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (40, 30)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "photo.png"])


@pytest.mark.slow
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
        + ["--background", "blur", "-o", out_dir / "long-blur.mp4"],
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


@pytest.mark.slow
def test_quality_and_refinement_options_match_the_library(
    random_weights_dir, grace_hopper_path, tmp_path
):
    matter = load_matter(DEFAULT_MODEL, random_weights_dir)
    for options, library in (
        (["--quality", "fast"], {"quality": "fast"}),
        (["--no-refine"], {"refine": False}),
        (
            ["--quality", "fast", "--no-refine", "--long-side", "384"],
            {"quality": "fast", "refine": False, "long_side": 384},
        ),
    ):
        out = tmp_path / "matte.png"
        result = run_cli(
            grace_hopper_path, "--weights", random_weights_dir, "--background", "matte", *options,
            "-o", out,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        expected = matter.predict(grace_hopper_path, **library).alpha
        assert np.abs(np.asarray(Image.open(out)) / 255.0 - expected).max() <= 1 / 255 + 1e-6
    assert run_cli(grace_hopper_path, "--quality", "max").returncode == 2


@pytest.mark.slow
def test_cutout_edges_carry_the_persons_colours_unless_told_not_to(
    random_weights_dir, grace_hopper_path, tmp_path
):
    from humanmatting import compose
    from humanmatting.preprocess import load_rgb

    rgb = load_rgb(grace_hopper_path)
    alpha = load_matter(DEFAULT_MODEL, random_weights_dir).predict(rgb).alpha
    pictures = {}
    for name, options in (("clean", []), ("kept", ["--no-foreground-colors"])):
        out = tmp_path / f"{name}.png"
        result = run_cli(
            grace_hopper_path, "--weights", random_weights_dir, "--background", "transparent",
            *options, "-o", out,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        pictures[name] = np.asarray(Image.open(out))
    np.testing.assert_array_equal(pictures["kept"][..., :3], rgb)
    np.testing.assert_array_equal(pictures["clean"], compose.cutout(rgb, alpha))
    assert (pictures["clean"][..., :3] != rgb).any()


@pytest.mark.slow
def test_hq_mattes_a_photo_with_a_progress_bar(grace_hopper_path, tmp_path):
    from humanmatting import refine
    from humanmatting.preprocess import load_rgb
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    out = tmp_path / "matte.png"
    result = run_cli(
        grace_hopper_path,
        "--weights",
        PACKAGED_WEIGHTS_DIR,
        "--background",
        "matte",
        "--hq",
        "-o",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert "HQ matting: done after" in result.stderr  # the progress bar
    assert ":  [" not in result.stderr and "steps" not in result.stderr  # no empty counters
    matter = load_matter(DEFAULT_MODEL, PACKAGED_WEIGHTS_DIR)
    alpha = matter.predict(grace_hopper_path).alpha
    expected = refine.hq_matte(load_rgb(grace_hopper_path), alpha, progress=False)
    assert np.abs(np.asarray(Image.open(out)) / 255.0 - expected).max() <= 1 / 255 + 1e-6
    assert np.abs(expected - alpha).max() > 0.1  # it changed the matte


def test_hq_is_refused_for_videos_and_says_how_to_install_pymatting(
    random_weights_dir, grace_hopper_path, tmp_path, monkeypatch, capsys
):
    from humanmatting import cli

    source = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    writer.write(np.zeros((64, 96, 3), np.uint8))
    writer.release()
    result = run_cli(source, "--weights", random_weights_dir, "--hq")
    assert result.returncode == 2 and "--hq is for images" in result.stderr
    monkeypatch.setitem(sys.modules, "pymatting", None)  # as without the [hq] extra
    code = cli.main(
        [str(grace_hopper_path), "--weights", str(random_weights_dir), "--hq", "-o",
         str(tmp_path / "out.png")]
    )  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err
    assert 'pip install "humanmatting[hq]"' in error and "Traceback" not in error
    assert not (tmp_path / "out.png").exists()


# --- one command line: subcommands, the default matte, one error wrapper, lazy imports ----

HEAVY_MODULES = ("tensorflow", "keras", "gradio")


def run_python(code: str, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_help_and_a_matte_load_neither_tensorflow_nor_gradio(grace_hopper_path, tmp_path):
    """The base install has neither: `humanmatting --help` and a matte must not need them."""
    import json

    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    code = """if True:
        import json, sys
        from humanmatting.cli import main
        heavy_modules = json.loads(sys.argv[1])
        help_status = main(["--help"])
        heavy_after_help = [m for m in heavy_modules if m in sys.modules]
        matte_status = main([sys.argv[2], "--weights", sys.argv[3], "-o", sys.argv[4]])
        heavy = [m for m in heavy_modules if m in sys.modules]
        print(json.dumps([help_status, heavy_after_help, matte_status, heavy]))
    """
    out = tmp_path / "out.png"
    heavy = json.dumps(HEAVY_MODULES)
    result = run_python(code, heavy, grace_hopper_path, PACKAGED_WEIGHTS_DIR, out)
    assert result.returncode == 0, result.stderr
    assert "subcommands:" in result.stdout and "convert-legacy" in result.stdout
    assert json.loads(result.stdout.splitlines()[-1]) == [0, [], 0, []]
    assert Image.open(out).size == Image.open(grace_hopper_path).size


@pytest.mark.slow
def test_every_subcommand_has_its_help(capsys):
    from humanmatting import cli

    for name in cli.SUBCOMMANDS:
        if name == "app":  # app.py imports gradio and sets its variables: in its own process
            continue
        with pytest.raises(SystemExit) as stop:
            cli.main([name, "--help"])
        assert stop.value.code == 0, name
        help_text = capsys.readouterr().out
        assert help_text.startswith(f"usage: humanmatting {name} "), help_text[:200]
    result = run_python("from humanmatting.cli import main; main(['app', '--help'])")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--webcam-time-limit" in result.stdout  # app.py's own options, not a copy


def test_the_first_argument_not_a_subcommand_is_a_matte(
    random_weights_dir, grace_hopper_path, tmp_path, capsys
):
    from humanmatting import cli

    options = ["--weights", str(random_weights_dir), "--background", "matte", "--quiet"]
    default, explicit = tmp_path / "default.png", tmp_path / "explicit.png"
    assert cli.main([str(grace_hopper_path), *options, "-o", str(default)]) == 0
    assert cli.main(["matte", str(grace_hopper_path), *options, "-o", str(explicit)]) == 0
    assert capsys.readouterr().out.split() == [str(default), str(explicit)]
    np.testing.assert_array_equal(np.asarray(Image.open(default)), np.asarray(Image.open(explicit)))
    assert cli.main(["matte", str(tmp_path / "missing.jpg")]) == 2
    assert capsys.readouterr().err.startswith("humanmatting matte: error: No such file")


@pytest.mark.parametrize(
    "error, status, expected",
    [
        (ValueError("Unknown model 'x'; choose one of: night"), 2, "Unknown model 'x'"),
        (OSError(28, "No space left on device", "out.png"), 2, "No space left on device: out.png"),
        (ImportError("cannot import name 'x'"), 2, "cannot import name 'x'"),
        (MemoryError(), 2, "out of memory; try a smaller input"),
        (KeyError("frames"), 3, r"unexpected KeyError: 'frames' at test_cli.py:\d+ \(a bug"),
    ],
)
def test_one_wrapper_turns_an_error_into_one_line_and_a_status(capsys, error, status, expected):
    import re

    from humanmatting.command import guarded

    def command() -> int:
        raise error

    assert guarded("humanmatting pull", command) == status
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    assert lines[0].startswith("humanmatting pull: error: ") and re.search(expected, lines[0])


def test_interrupted_and_terminated_have_their_statuses(capsys):
    from humanmatting.command import Terminated, guarded

    def stopped(error):
        def command() -> int:
            raise error

        return command

    assert guarded("humanmatting train", stopped(KeyboardInterrupt())) == 130
    assert guarded("humanmatting", stopped(Terminated()), "; no partial output was left") == 143
    assert capsys.readouterr().err.splitlines() == [
        "humanmatting train: interrupted",
        "humanmatting: terminated; no partial output was left",
    ]


def test_subcommands_and_their_python_m_aliases_report_errors_alike(tmp_path):
    for argv, prefix in (
        (["-m", "humanmatting.cli", "pull", "nosuch"], "humanmatting pull: error: "),
        (["-m", "humanmatting.hub.pull", "nosuch"], "humanmatting.hub.pull: error: "),
        (["-m", "humanmatting.cli", "ship", str(tmp_path)], "humanmatting ship: error: "),
        (
            ["-m", "humanmatting.training.ship", str(tmp_path)],
            "humanmatting.training.ship: error: ",
        ),
    ):
        result = subprocess.run([sys.executable, *argv], capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith(prefix), line
    result = run_cli("pull", "night", "--no-such-option")
    assert result.returncode == 2
    assert only_line(result).startswith("humanmatting pull: error: unrecognized arguments")


@pytest.mark.parametrize(
    "blocked, argv, extra",
    [
        (("tensorflow", "keras"), ["train", "--model", "night", "--data", "x"], "keras"),
        (("gradio",), ["app", "--port", "0"], "app"),
    ],
)
def test_a_missing_extra_is_named_with_how_to_install_it(blocked, argv, extra):
    import json
    import re

    code = """if True:
        import json, sys
        for name in json.loads(sys.argv[1]):
            sys.modules[name] = None  # as in an install without the extra
        from humanmatting.cli import main
        sys.exit(main(json.loads(sys.argv[2])))
    """
    result = run_python(code, json.dumps(blocked), json.dumps(argv))
    assert result.returncode == 2, result.stderr[-2000:]
    line = only_line(result)
    needed = "|".join(blocked)
    assert re.match(rf"humanmatting {argv[0]}: error: this needs ({needed}), ", line), line
    assert line.endswith(f'pip install "humanmatting[{extra}]"'), line


def test_install_hints_name_extras_that_declare_the_package():
    import re

    from humanmatting.errors import INSTALL_HINTS

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]

    def requirements(extra: str) -> list[str]:
        found = []
        for line in extras[extra]:
            nested = re.fullmatch(r"humanmatting\[([\w,]+)\]", line)
            for name in nested.group(1).split(",") if nested else ():
                found += requirements(name)
            found.append(re.split(r"[\s<>=;\[]", line)[0].lower())
        return found

    checked = 0
    for module, hint in INSTALL_HINTS.items():
        named = re.fullmatch(r'pip install "humanmatting\[(\w+)\]"', hint)
        if named is None:
            continue
        assert named.group(1) in extras, hint
        assert any(name.startswith(module) for name in requirements(named.group(1))), module
        checked += 1
    assert checked >= 9


def test_user_input_that_broke_parsers_is_status_2_not_a_bug(random_weights_dir, tmp_path):
    """Issue 29, row 10: `--background 'rgb(999,0,0)'` (OverflowError) and a humanmatting.json
    nested 100,000 levels (RecursionError) ended with status 3, "a bug"."""
    import shutil

    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), "gray").save(photo)
    out = tmp_path / "out.png"
    common = ["--weights", random_weights_dir, "-o", out]
    result = run_cli(photo, *common, "--background", "color", "--color", "rgb(999,0,0)")
    assert result.returncode == 2, result.stderr
    assert "has components outside 0 to 255" in result.stderr.strip().splitlines()[-1]
    nested = tmp_path / "weights" / DEFAULT_MODEL
    shutil.copytree(random_weights_dir / DEFAULT_MODEL, nested)
    (nested / "humanmatting.json").write_text("[" * 100_000 + "]" * 100_000)
    result = run_cli(photo, "--weights", nested.parent, "-o", out)
    assert result.returncode == 2, result.stderr
    assert "nested too deeply" in result.stderr.strip().splitlines()[-1]
    assert not out.exists()
