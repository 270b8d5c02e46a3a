"""benchmarks/quality.py: its metrics on hand-checkable masks, and one small run end to end."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.conftest import shared_dir
from training.metrics import boundary, boundary_scores, mask_scores


def square(dx: int = 0, dy: int = 0, size: int = 64, corner: int = 16, side: int = 32):
    mask = np.zeros((size, size), bool)
    mask[corner + dy : corner + dy + side, corner + dx : corner + dx + side] = True
    return mask


def test_boundary_is_both_sides_of_an_edge_and_never_the_image_border():
    mask = np.zeros((6, 8), bool)
    mask[:, :3] = True  # columns 0-2 person: the edge lies between columns 2 and 3
    expected = np.zeros_like(mask)
    expected[:, 2:4] = True
    np.testing.assert_array_equal(boundary(mask), expected)
    assert not boundary(np.ones((5, 5), bool)).any()
    assert not boundary(np.zeros((5, 5), bool)).any()


def test_identical_masks_score_one():
    scores = mask_scores(square(), square())
    assert scores["person_iou"] == scores["mean_iou"] == 1.0
    assert scores["boundary_precision"] == scores["boundary_recall"] == scores["boundary_f"] == 1.0


def test_a_square_shifted_by_2_px_keeps_boundary_f_1_with_3_px_tolerance():
    scores = mask_scores(square(), square(dx=2))
    assert scores["boundary_f"] == 1.0
    # 32x32 squares overlapping in 30 columns: IoU 30*32 / (34*32)
    assert scores["person_iou"] == pytest.approx(30 / 34)
    assert scores["person_iou"] < 1.0
    assert boundary_scores(square(), square(dx=2), tolerance=1.0)["boundary_f"] < 1.0


def test_a_square_shifted_by_10_px_has_boundary_f_below_half():
    scores = mask_scores(square(), square(dx=10))
    assert scores["boundary_f"] < 0.5
    # the shift is symmetric: as many predicted pixels near the truth as the other way round
    assert scores["boundary_precision"] == pytest.approx(scores["boundary_recall"])
    assert scores["person_iou"] == pytest.approx(22 / 42)


def test_an_empty_prediction_of_a_person_scores_zero():
    scores = mask_scores(square(), np.zeros((64, 64), bool))
    assert scores["person_iou"] == 0.0
    assert scores["boundary_f"] == 0.0
    # background IoU: 64*64 - 32*32 background pixels of 64*64 predicted background
    assert scores["mean_iou"] == pytest.approx((0.0 + 3 / 4) / 2)


def test_both_empty_score_one():
    empty = np.zeros((64, 64), bool)
    scores = mask_scores(empty, empty)
    assert scores["person_iou"] == scores["mean_iou"] == scores["boundary_f"] == 1.0


# --- end to end ----------------------------------------------------------------------------


def make_mask_folder(root, photos: int = 4, seed: int = 0):
    """A tiny mask-folder set: 96x128 (WxH) JPEG photos, 1-bit masks of an ellipse (head)
    over a rectangle (shoulders), test.txt listing all stems."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    stems = []
    for index in range(photos):
        stem = f"{index:04d}"
        mask = Image.new("1", (96, 128), 0)
        draw = ImageDraw.Draw(mask)
        x = 48 + int(rng.integers(-12, 13))
        draw.ellipse((x - 18, 20, x + 18, 66), fill=1)
        draw.rectangle((x - 36, 62 + index * 4, x + 36, 127), fill=1)
        person = np.asarray(mask, bool)
        pixels = rng.integers(0, 90, (128, 96, 3)).astype(np.uint8)
        pixels[person] = rng.integers(150, 255, (int(person.sum()), 3))
        Image.fromarray(pixels).save(root / "images" / f"{stem}.jpg", quality=90)
        mask.save(root / "masks" / f"{stem}.png")
        stems.append(stem)
    (root / "test.txt").write_text("\n".join(stems) + "\n")
    (root / "train.txt").write_text("")


def table_row(text: str, first: str, second: str) -> list[str]:
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[0] == first and cells[1] == second:
            return cells
    raise AssertionError(f"no table row | {first} | {second} | in:\n{text}")


def assert_real_plot(path, min_side: int = 200):
    assert path.is_file(), path
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert min(image.size) >= min_side, image.size
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10, f"{path} is nearly blank"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, f"{path} has few colours"


@pytest.mark.slow
def test_quality_benchmark_end_to_end(tmp_path, random_weights_dir, capsys):
    datasets = tmp_path / "datasets"
    sets = ("eg1800", "ccp")
    for seed, name in enumerate(sets):
        make_mask_folder(datasets / name, seed=seed)
    original = tmp_path / "original"
    shutil.copytree(random_weights_dir / "dark-light", original)
    anchors = shared_dir() / "anchors"
    mediapipe = anchors / "mediapipe-selfie-segmentation" / "selfie_segmentation.tflite"
    with_mediapipe = mediapipe.is_file()
    out, plots = tmp_path / "QUALITY.md", tmp_path / "plots"
    argv = [
        "--weights",
        str(random_weights_dir),
        "--original",
        str(original),
        "--datasets",
        str(datasets),
        "--sets",
        ",".join(sets),
        "--limit",
        "3",
        "--sizes",
        "160,256",
        "--threads",
        "1",
        "--out",
        str(out),
        "--plots",
        str(plots),
    ]
    argv += ["--anchors", str(anchors)] if with_mediapipe else ["--no-mediapipe"]

    from benchmarks import quality

    assert quality.main(argv) == 0
    text = out.read_text()
    labels = ["night", "dark", "dark-light", "author's dark-light (2020)"]
    labels += ["MediaPipe selfie segmenter"] if with_mediapipe else []
    for name in sets:
        for label in labels:
            cells = table_row(text, name, label)
            assert cells[2] == "3", cells  # --limit 3 of the 4 photos
            for value in cells[3:8]:  # mean person IoU, mIoU, boundary F; pooled IoU, mIoU
                assert 0.0 <= float(value) <= 1.0, cells
            assert float(cells[8]) > 0, cells  # model ms
        for model in ("night", "dark", "dark-light"):
            for size in ("160", "256"):
                sweep = [
                    line
                    for line in text.splitlines()
                    if line.startswith(f"| {name} | {model} | {size} |")
                ]
                assert len(sweep) == 1, (name, model, size)
                figures = [cell.strip() for cell in sweep[0].strip("|").split("|")]
                assert float(figures[4]) > 0 and 0 <= float(figures[5]) <= 1, figures
    for header in ("## Candidates", "## Metrics", "## Targets", "## Quality against speed"):
        assert header in text
    assert "Commit:" in text and "Command: `python -m benchmarks.quality" in text
    targets = text.split("## Targets", 1)[1].split("##", 1)[0]
    beats = [line for line in targets.splitlines() if "beats the author's dark-light" in line]
    assert len(beats) == 3 and all(re.search(r"\*\*(met|missed)\*\*", b) for b in beats)
    assert "0.97" in targets and "96.62%" in targets
    assert str(original) in text  # where the author's model came from

    for name in ("person_iou.png", "speed_quality.png", *(f"worst-{s}.png" for s in sets)):
        assert_real_plot(plots / name)
    record = json.loads((plots / "quality.json").read_text())
    keys = {"night", "dark", "dark-light", "original"}
    keys |= {"mediapipe"} if with_mediapipe else set()
    for name in sets:
        assert set(record["per_image"][name]) == keys
        for records in record["per_image"][name].values():
            assert [r["stem"] for r in records] == ["0000", "0001", "0002"]
            assert all(0 <= r["boundary_f"] <= 1 for r in records)
        assert {"dark@160", "night@256"} <= set(record["sweep"][name])
    if not with_mediapipe:
        assert "MediaPipe" not in capsys.readouterr().out.split("candidates:")[1].splitlines()[0]
