"""benchmarks/quality.py: its metrics on hand-checkable masks, and one small run end to end."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from harness.paths import shared_dir
from humanmatting.training.metrics import boundary, boundary_scores, mask_scores


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


# --- photos with nobody ----------------------------------------------------------------------


def make_rows_set(root, frames: dict[str, tuple[int, int]], side: int = 64):
    """A mask-folder set of `side`x`side` PNG photos, each stem mapped to (truth rows, marked
    rows): the mask's top `truth rows` rows are person (0: nobody), the photo's top `marked
    rows` rows are white (the rest black), so that a candidate reading the photo's brightness
    marks exactly those rows person."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for stem, (truth_rows, marked_rows) in frames.items():
        mask = np.zeros((side, side), np.uint8)
        mask[:truth_rows] = 255
        photo = np.zeros((side, side, 3), np.uint8)
        photo[:marked_rows] = 255
        Image.fromarray(photo).save(root / "images" / f"{stem}.png")
        Image.fromarray(mask).convert("1").save(root / "masks" / f"{stem}.png")
    (root / "test.txt").write_text("\n".join(frames) + "\n")


def brightness_candidate(key: str = "night"):
    """One of 'our' candidates whose alpha is the photo's brightness (white = person)."""
    from benchmarks.quality import Candidate

    def run(rgb, long_side=None):
        return rgb[:, :, 0].astype(np.float32) / 255, 1.0

    return Candidate(key, key, "test", run, lambda h, w, long_side: (h, w), ours=True)


def test_frames_with_nobody_count_only_in_the_share_marked_person(tmp_path):
    from benchmarks.quality import measure, summarise
    from humanmatting.training.maskfolders import index_mask_folder

    make_rows_set(
        tmp_path / "everyday",
        {
            "a-person": (32, 32),  # found exactly: IoU 1
            "b-person": (32, 16),  # half found: IoU 16 / 32
            "c-nobody": (0, 16),  # a quarter of the frame marked person
            "d-nobody": (0, 48),  # three quarters
            "e-nobody": (0, 0),  # nothing marked: right
        },
    )
    splits = {"everyday": index_mask_folder(tmp_path / "everyday", "test", verify=False)}
    measured = measure([brightness_candidate()], splits, sweep_sets=[], sizes=[])
    figures = summarise(measured)["everyday"]["night"]

    # The IoUs: over the two photos with a person only. Counting the frames with nobody
    # would give (1 + 0.5 + 0 + 0 + 1) / 5 = 0.5 (and an IoU of 1 for the right, empty one).
    assert figures["images"] == 2
    assert figures["person_iou"] == pytest.approx(0.75)
    assert figures["pooled_person_iou"] == pytest.approx((32 + 16) / (32 + 32))
    assert figures["boundary_f"] == pytest.approx(np.mean([1.0, 0.0]))  # 16 rows off: 0
    # The frames with nobody: shares 0.25, 0.75 and 0 of the frame.
    assert figures["empty_frames"] == 3
    assert figures["empty_marked_median"] == pytest.approx(0.25)
    assert figures["empty_marked_mean"] == pytest.approx(1 / 3)
    records = {r["stem"]: r for r in measured["per_image"]["everyday"]["night"]}
    assert [s for s, r in records.items() if not r["person"]] == [
        "c-nobody",
        "d-nobody",
        "e-nobody",
    ]
    assert "person_iou" not in records["c-nobody"]
    assert records["d-nobody"]["marked"] == pytest.approx(0.75)


def test_a_set_of_frames_with_nobody_only_has_no_iou_and_no_best_model(tmp_path):
    from benchmarks.quality import best_model, measure, summarise
    from humanmatting.training.maskfolders import index_mask_folder

    make_rows_set(tmp_path / "empty", {"x": (0, 8), "y": (0, 24)})
    splits = {"empty": index_mask_folder(tmp_path / "empty", "test", verify=False)}
    candidate = brightness_candidate()
    summary = summarise(measure([candidate], splits, sweep_sets=[], sizes=[]))
    figures = summary["empty"]["night"]
    assert figures["images"] == 0 and "person_iou" not in figures
    assert figures["empty_marked_mean"] == pytest.approx((8 + 24) / 2 / 64)
    assert best_model(summary, [candidate])[0] is None


def test_issue_25_targets_are_decided_from_the_figures():
    from benchmarks.quality import MEDIAPIPE_KEY, VITON_FLOOR, targets

    def iou(value, **more):
        return {"person_iou": value, "mean_iou": value, "pooled_mean_iou": value, **more}

    summary = {
        "eg1800": {"dark-light": iou(0.95), MEDIAPIPE_KEY: iou(0.95)},  # equal: >= holds
        "ccp": {"dark-light": iou(0.90), MEDIAPIPE_KEY: iou(0.92)},
        "viton": {"dark-light": iou(VITON_FLOOR - 0.001)},
        "coco128": {
            "dark-light": iou(0.50, empty_marked_median=0.30, empty_marked_mean=0.31),
            MEDIAPIPE_KEY: iou(0.45, empty_marked_median=0.05, empty_marked_mean=0.16),
        },
    }
    rows = {
        target: (figure, result)
        for target, figure, result in targets(
            summary, {}, "dark-light", {"dark-light": "dark-light"}
        )
    }

    def row(*words):
        found = [value for target, value in rows.items() if all(w in target for w in words)]
        assert len(found) == 1, (words, list(rows))
        return found[0]

    assert row(">= MediaPipe on eg1800") == ("0.9500 vs 0.9500", "**met**")
    assert row(">= MediaPipe on ccp") == ("0.9000 vs 0.9200", "**missed**")
    assert row(">= MediaPipe on coco128", "photos with a person") == ("0.5000 vs 0.4500", "**met**")
    assert row(">= MediaPipe on idphoto")[1] == "not measured"
    figure, result = row("coco128's frames with nobody", "median")
    assert figure.startswith("0.3000 vs 0.0500") and result == "**missed**"
    assert row("on viton >=") == (f"{VITON_FLOOR - 0.001:.4f}", "**missed**")


# --- where the galleries go ------------------------------------------------------------------


def test_photo_figures_may_go_only_where_git_cannot_commit_them(tmp_path):
    from benchmarks.outputs import OUT_DIR, REPO_ROOT, TrackedFolderError, check_untracked_folder

    assert check_untracked_folder(OUT_DIR / "quality") == (OUT_DIR / "quality").resolve()
    assert check_untracked_folder(tmp_path / "gallery") == (tmp_path / "gallery").resolve()
    for tracked in (REPO_ROOT / "benchmarks" / "quality", REPO_ROOT, REPO_ROOT / "docs"):
        with pytest.raises(TrackedFolderError, match="not ignored by git"):
            check_untracked_folder(tracked)


def test_the_benchmarks_refuse_a_gallery_folder_in_the_repository(capsys):
    from benchmarks import quality, refinement
    from benchmarks.outputs import REPO_ROOT

    tracked = str(REPO_ROOT / "benchmarks" / "quality")
    for main, option in ((quality.main, "--gallery"), (refinement.main, "--crops")):
        with pytest.raises(SystemExit) as stopped:
            main([option, tracked, "--datasets", str(REPO_ROOT / "no-such-folder")])
        assert stopped.value.code == 2
        error = capsys.readouterr().err
        assert f"{option}:" in error and "not ignored by git" in error, error


# --- end to end ----------------------------------------------------------------------------


def make_mask_folder(root, photos: int = 4, seed: int = 0, nobody: tuple[int, ...] = ()):
    """A tiny mask-folder set: 96x128 (WxH) JPEG photos, 1-bit masks of an ellipse (head)
    over a rectangle (shoulders), test.txt listing all stems; the photos numbered in `nobody`
    hold no person (all-background mask, a dark photo)."""
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
        if index in nobody:
            mask = Image.new("1", (96, 128), 0)
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
    sets = ("eg1800", "ccp", "coco128")
    for seed, name in enumerate(sets):
        # coco128's 2nd and 3rd photos hold nobody: of the first 3 (--limit 3), 1 has a person
        make_mask_folder(datasets / name, seed=seed, nobody=(1, 2) if name == "coco128" else ())
    original = tmp_path / "original"
    shutil.copytree(random_weights_dir / "dark-light", original)
    anchors = shared_dir() / "anchors"
    mediapipe = anchors / "mediapipe-selfie-segmentation" / "selfie_segmentation.tflite"
    with_mediapipe = mediapipe.is_file()
    out, plots, gallery = tmp_path / "QUALITY.md", tmp_path / "plots", tmp_path / "gallery"
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
        "--gallery",
        str(gallery),
    ]
    argv += ["--anchors", str(anchors)] if with_mediapipe else ["--no-mediapipe"]

    from benchmarks import quality

    assert quality.main(argv) == 0
    text = out.read_text()
    ours = quality.OUR_MODELS  # the shipped models and lite0: random_weights_dir has all four
    labels = [*ours, "author's dark-light (2020)"]
    labels += ["MediaPipe selfie segmenter"] if with_mediapipe else []
    for name in sets:
        for label in labels:
            cells = table_row(text, name, label)
            # --limit 3 of the 4 photos; on coco128 the 2 with nobody are not in the IoUs
            assert cells[2] == ("1" if name == "coco128" else "3"), cells
            for value in cells[3:8]:  # mean person IoU, mIoU, boundary F; pooled IoU, mIoU
                assert 0.0 <= float(value) <= 1.0, cells
            assert float(cells[8]) > 0, cells  # model ms
        for model in ours:
            for size in ("160", "256") if name != "coco128" else ():
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
    assert len(beats) == len(ours) and all(re.search(r"\*\*(met|missed)\*\*", b) for b in beats)
    assert "0.97" in targets and "96.62%" in targets
    assert str(original) in text  # where the author's model came from

    nobody = text.split("### Frames with nobody", 1)[1].split("##", 1)[0]
    for label in labels:
        cells = table_row(nobody, "coco128", label)
        assert cells[2] == "2", cells
        assert 0 <= float(cells[3]) <= 1 and 0 <= float(cells[4]) <= 1, cells
    assert "| eg1800 |" not in nobody  # only sets with frames with nobody
    for name in ("eg1800", "ccp", "coco128"):
        assert re.search(rf">= MediaPipe on {name} .*\*\*(met|missed|not measured)", targets)
    assert re.search(
        r"coco128's frames with nobody.*\| (\*\*(met|missed)\*\*|not measured)", targets
    )

    for name in ("person_iou.png", "speed_quality.png"):
        assert_real_plot(plots / name)
    # The galleries show the photos: only in --gallery, outside the repository here, and
    # QUALITY.md points there and says they are not committed.
    galleries = [f"worst-{s}.png" for s in sets] + ["worst-coco128-nobody.png"]
    for name in galleries:
        assert_real_plot(gallery / name)
        assert f"](gallery/{name})" in text  # linked from QUALITY.md, relative
    assert sorted(p.name for p in gallery.iterdir()) == sorted(galleries)
    assert not list(plots.glob("worst-*"))
    assert "not committed" in text and str(gallery) in text
    record = json.loads((plots / "quality.json").read_text())
    keys = {*ours, "original"}
    keys |= {"mediapipe"} if with_mediapipe else set()
    for name in sets:
        assert set(record["per_image"][name]) == keys
        for records in record["per_image"][name].values():
            assert [r["stem"] for r in records] == ["0000", "0001", "0002"]
            people = [r for r in records if r["person"]]
            assert len(people) == (1 if name == "coco128" else 3)
            assert all(0 <= r["boundary_f"] <= 1 for r in people)
        if name != "coco128":
            assert {"dark@160", "night@256"} <= set(record["sweep"][name])
    for figures in record["summary"]["coco128"].values():
        assert figures["images"] == 1 and figures["empty_frames"] == 2
        assert 0 <= figures["empty_marked_median"] <= 1
    if not with_mediapipe:
        assert "MediaPipe" not in capsys.readouterr().out.split("candidates:")[1].splitlines()[0]
