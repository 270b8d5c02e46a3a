"""No half-written outputs: the CLI's images, folders and videos appear whole or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from humanmatting import cli
from humanmatting.files import atomic_path


def test_atomic_path_moves_on_success_and_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out" / "result.png"
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent and temporary.suffix == ".png"
        assert temporary.name.startswith(".") and not target.exists()
        temporary.write_bytes(b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"first"
    assert [p.name for p in target.parent.iterdir()] == ["result.png"]


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for index, size in enumerate([(40, 30), (30, 50), (64, 64)]):
        image = Image.fromarray(rng.integers(0, 256, (*size, 3), np.uint8))
        image.save(folder / f"photo{index}.jpg")
    (folder / "notes.txt").write_text("not an image, ignored")
    return folder


def failing_save_on_call(monkeypatch, call: int, error: BaseException):
    """Make the `call`-th image save write half a file, then fail with `error`."""
    original = Image.Image.save
    calls = []

    def save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == call:
            with open(fp, "wb") as file:
                file.write(b"\x89PNG half")
            raise error
        return original(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)


@pytest.mark.parametrize(
    "error, status", [(KeyboardInterrupt(), 130), (OSError(28, "No space left on device"), 2)]
)
def test_interrupted_folder_run_keeps_finished_images_and_no_partial_one(
    random_weights_dir, photo_folder, tmp_path, monkeypatch, capsys, error, status
):
    out = tmp_path / "out"
    failing_save_on_call(monkeypatch, 2, error)
    argv = [str(photo_folder), "--weights", str(random_weights_dir), "-o", str(out), "--quiet"]
    assert cli.main(argv) == status
    stderr = capsys.readouterr().err
    assert ("interrupted" if status == 130 else "No space left on device") in stderr
    assert sorted(p.name for p in out.iterdir()) == ["photo0.png"]  # whole, nothing hidden
    assert Image.open(out / "photo0.png").size == (30, 40)


def test_folder_run_names_and_sizes(random_weights_dir, photo_folder, tmp_path, capsys):
    Image.new("RGB", (20, 10)).save(photo_folder / "photo0.png")  # same stem as photo0.jpg
    out = tmp_path / "mattes"
    argv = [str(photo_folder), "--weights", str(random_weights_dir), "--background", "matte"]
    assert cli.main([*argv, "-o", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out) and "ignoring 1 files" in captured.err
    assert sorted(p.name for p in out.iterdir()) == [
        "photo0.jpg.png",
        "photo0.png.png",
        "photo1.png",
        "photo2.png",
    ]
    assert Image.open(out / "photo1.png").size == (50, 30)
    assert Image.open(out / "photo0.png.png").size == (20, 10)


def test_folder_without_images(random_weights_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    argv = [str(tmp_path / "empty"), "--weights", str(random_weights_dir), "--quiet"]
    assert cli.main(argv) == 2
    assert "No images in" in capsys.readouterr().err


def test_failed_image_run_keeps_an_existing_output(
    random_weights_dir, photo_folder, tmp_path, monkeypatch
):
    out = tmp_path / "cutout.png"
    out.write_bytes(b"previous result")
    failing_save_on_call(monkeypatch, 1, OSError(28, "No space left on device"))
    argv = [str(photo_folder / "photo1.jpg"), "--weights", str(random_weights_dir), "-o", str(out)]
    assert cli.main(argv) == 2
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cutout.png", "photos"]


def test_temporary_name_fits_the_file_system_whatever_the_output_name(tmp_path):
    """The hidden name adds 18 characters: a valid 241-character name could not be written."""
    stems = ["n", "n" * 200, "n" * 237, "n" * 251, "é" * 100 + "n" * 40]  # up to 255 bytes
    for stem in stems:
        target = tmp_path / f"{stem}.png"
        assert len(target.name.encode()) <= 255
        with atomic_path(target) as temporary:
            assert len(temporary.name.encode()) <= 255 and temporary.suffix == ".png"
            assert temporary.name.startswith(".") and temporary.parent == tmp_path
            temporary.write_bytes(b"done")
        assert target.read_bytes() == b"done"
    assert len(list(tmp_path.iterdir())) == len(stems)  # nothing hidden left


def test_a_partial_file_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    """Issue 29: a CLI killed with SIGKILL (no clean-up runs) left its hidden `.partial`
    file beside the output for good. The next run to that output removes it; the file
    of a run still writing is left alone."""
    import os
    import signal
    import subprocess
    import sys

    target = tmp_path / "result.png"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from humanmatting.files import atomic_path\n"
            "with atomic_path(sys.argv[1]) as temporary:\n"
            "    temporary.write_bytes(b'half'); print(temporary, flush=True); time.sleep(60)",
            str(target),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    left = Path(writer.stdout.readline().strip())
    assert left.is_file()
    mine = tmp_path / f".result.{os.getpid()}-0123abcd.partial.png"  # a live writer's
    mine.write_bytes(b"writing")
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert left.is_file()
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and not left.exists() and mine.is_file()
