"""AISegment index, skip reports, splits (no TensorFlow needed)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from humanmatting.training.dataset import (
    HIDDEN,
    NO_ALPHA,
    UNPAIRED_IMAGE,
    UNPAIRED_MATTE,
    UNREADABLE_IMAGE,
    UNREADABLE_MATTE,
    apply_split_lists,
    find_dataset_root,
    index_dataset,
    matte_path_for,
    read_matte,
    read_split_lists,
    split_by_group,
)
from humanmatting.training.synthetic import write_synthetic_dataset


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("aisegment")
    written = write_synthetic_dataset(root, groups=5, per_group=3, size=(64, 48), defects=True)
    return root, written


def test_index_pairs_every_good_file_and_reports_each_defect(synthetic):
    root, written = synthetic
    index = index_dataset(root, progress=False)
    assert sorted(pair.image for pair in index.pairs) == sorted(written["pairs"])
    expected = {
        HIDDEN: written["hidden"],
        UNPAIRED_IMAGE: written["image_without_matte"],
        UNPAIRED_MATTE: written["matte_without_image"],
        UNREADABLE_IMAGE: written["truncated_image"],
        NO_ALPHA: written["matte_without_alpha"],
    }
    assert index.skipped == expected
    report = index.report()
    assert f"{len(written['pairs'])} image/matte pairs" in report
    for reason, paths in expected.items():
        assert f"skipped 1 ({reason}): {paths[0]}" in report


def test_damaged_matte_is_skipped_without_decoding_everything(synthetic, tmp_path):
    root, written = synthetic
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    damaged = matte_path_for(written["pairs"][0])
    data = (copy / damaged).read_bytes()
    (copy / damaged).write_bytes(data[: len(data) // 2])
    index = index_dataset(copy, progress=False)
    assert index.skipped[UNREADABLE_MATTE] == [damaged]
    assert written["pairs"][0] not in {pair.image for pair in index.pairs}


def test_without_verification_only_layout_problems_are_skipped(synthetic):
    root, written = synthetic
    index = index_dataset(root, verify=False)
    assert UNREADABLE_IMAGE not in index.skipped and NO_ALPHA not in index.skipped
    assert len(index.pairs) == len(written["pairs"]) + 2


def test_matte_path_mapping_and_layout():
    assert (
        matte_path_for("clip_img/1803151818/clip_00000003/1803151818-00000021.jpg")
        == "matting/1803151818/matting_00000003/1803151818-00000021.png"
    )
    assert matte_path_for("clip_img/1803151818/1803151818-00000021.jpg") is None
    assert matte_path_for("other/1803151818/clip_00000003/x.jpg") is None


def test_dataset_root_is_found_below_a_download_folder(synthetic, tmp_path):
    root, _ = synthetic
    nested = tmp_path / "versions" / "1" / "matting_human_half"
    shutil.copytree(root, nested)
    assert find_dataset_root(tmp_path) == nested
    with pytest.raises(FileNotFoundError, match="clip_img"):
        find_dataset_root(tmp_path / "versions" / "1" / "matting_human_half" / "matting")


def test_read_matte_is_the_alpha_channel(tmp_path):
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[1:3, 2:4, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "m.png")
    np.testing.assert_array_equal(read_matte(tmp_path / "m.png"), rgba[..., 3])
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="no alpha"):
        read_matte(tmp_path / "rgb.png")


def test_group_split_is_deterministic_disjoint_and_near_the_fraction(synthetic):
    root, _ = synthetic
    pairs = index_dataset(root, progress=False).pairs
    train, val = split_by_group(pairs, val_fraction=0.3, seed=3)
    assert (train, val) == split_by_group(list(reversed(pairs)), val_fraction=0.3, seed=3)
    assert not {p.group for p in train} & {p.group for p in val}
    assert sorted(train + val) == sorted(pairs)
    assert 0.15 <= len(val) / len(pairs) <= 0.45
    with pytest.raises(ValueError, match="2 shoot groups"):
        split_by_group([pairs[0]], 0.5)


def test_split_lists_are_applied_and_missing_entries_reported(synthetic, tmp_path):
    root, _ = synthetic
    index = index_dataset(root, progress=False)
    train_images = [p.image for p in index.pairs[:6]] + ["clip_img/9/clip_0/gone.jpg"]
    val_images = [p.image for p in index.pairs[6:9]]
    for split, images in (("train", train_images), ("val", val_images)):
        (tmp_path / f"x_{split}.txt").write_text("\n".join(images))  # no final newline
        (tmp_path / f"y_{split}.txt").write_text("\n".join(map(matte_path_for, images)) + "\n")
    lists = apply_split_lists(index, tmp_path)
    assert [p.image for p in lists.train] == train_images[:6]
    assert [p.image for p in lists.val] == val_images
    assert lists.not_in_index == {"train": ["clip_img/9/clip_0/gone.jpg"], "val": []}
    assert len(lists.not_listed) == len(index.pairs) - 9
    assert "1 listed train images not usable here" in lists.report()


def test_mismatched_split_lists_are_refused(tmp_path):
    (tmp_path / "x_train.txt").write_text("clip_img/1/clip_0/a.jpg\n")
    (tmp_path / "y_train.txt").write_text("matting/1/matting_0/b.png\n")
    (tmp_path / "x_val.txt").write_text("")
    (tmp_path / "y_val.txt").write_text("")
    with pytest.raises(ValueError, match="does not match"):
        read_split_lists(tmp_path)
    with pytest.raises(FileNotFoundError, match="x_train.txt"):
        read_split_lists(tmp_path / "nowhere")


def test_the_authors_split_lists(reference_dir):
    """Read in place from ../shared (never copied). The reference README's counts come from
    `wc -l`, which misses the last line of each file (no final newline)."""
    lists = read_split_lists(reference_dir)
    assert {split: len(entries) for split, entries in lists.items()} == {
        "train": 30_000,
        "val": 4_426,
    }
    train_images = {image for image, _ in lists["train"]}
    val_images = {image for image, _ in lists["val"]}
    assert not train_images & val_images
    groups = {
        split: {image.split("/")[1] for image, _ in entries} for split, entries in lists.items()
    }
    # Nearly group-wise: exactly one shoot group is on both sides.
    assert groups["train"] & groups["val"] == {"1803261429"}


def test_download_uses_kagglehub_and_finds_the_root_inside(synthetic, tmp_path, monkeypatch):
    """Kaggle is unreachable here: kagglehub's download is replaced by a folder shaped like
    its cache (the dataset nested under a versioned path)."""
    import kagglehub  # the [train] extra, in .[dev]: missing, this is an error, not a skip

    from humanmatting.training.dataset import KAGGLE_DATASET, download_aisegment

    root, _ = synthetic
    cache = tmp_path / "datasets" / "laurentmih" / "versions" / "1"
    shutil.copytree(root, cache / "matting_human_half")
    calls = []

    def fake_download(handle, **kwargs):
        calls.append(handle)
        return str(cache)

    monkeypatch.setattr(kagglehub, "dataset_download", fake_download)
    assert download_aisegment() == cache / "matting_human_half"
    assert calls == [KAGGLE_DATASET]
