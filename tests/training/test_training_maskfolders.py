"""Mask-folder sets (EG1800/VITON/CCP layout): index and damage report, held-out split,
decode cache, photo augmentation, weighted mixing, --mix parsing, a tiny training run with
resume, and evaluation on a set's test split. Every test writes its own small sets."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from humanmatting.preprocess import load_rgb
from humanmatting.training import cache as cache_module
from humanmatting.training import mixed
from humanmatting.training.augment import RESIZE_ONLY, PhotoAugmentation
from humanmatting.training.cache import DecodedSet, cache_key, decode_set
from humanmatting.training.maskfolders import (
    EMPTY_MASK,
    MISSING_IMAGE,
    MISSING_MASK,
    SIZE_MISMATCH,
    UNREADABLE_IMAGE,
    UNREADABLE_MASK,
    MaskFolderSplit,
    MaskPair,
    index_mask_folder,
    is_mask_folder,
    read_mask,
)
from humanmatting.training.mixed import WeightedSet, training_batches, validation_batches
from humanmatting.training.synthetic import synthetic_example

SIZE = (96, 72)  # height, width of the written photos


def write_mask_folder_set(
    root, train: int = 12, test: int = 3, size=SIZE, seed: int = 0
) -> dict[str, list[str]]:
    """A set in the shared/datasets layout: images/STEM.jpg, masks/STEM.png (1-bit,
    white = person), train.txt, test.txt; synthetic half-length figures."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    stems = [f"{root.name}-{number:03d}" for number in range(train + test)]
    for stem in stems:
        rgb, alpha = synthetic_example(rng, *size)
        Image.fromarray(rgb).save(root / "images" / f"{stem}.jpg", quality=92)
        Image.fromarray(alpha >= 128).save(root / "masks" / f"{stem}.png")  # mode "1"
    split = {"train": stems[:train], "test": stems[train:]}
    for name, listed in split.items():
        (root / f"{name}.txt").write_text("".join(f"{stem}\n" for stem in listed))
    return split


def _add_damaged_entries(root, size=SIZE) -> dict[str, list[str]]:
    """One entry of each kind the index must skip, appended to train.txt."""
    rng = np.random.default_rng(99)
    rgb, alpha = synthetic_example(rng, *size)
    good_mask = alpha >= 128

    def photo(stem):
        Image.fromarray(rgb).save(root / "images" / f"{stem}.jpg", quality=92)

    def mask(stem, array=good_mask):
        Image.fromarray(array).save(root / "masks" / f"{stem}.png")

    (root / "images" / "garbage.jpg").write_bytes(os.urandom(2000))  # not an image at all
    mask("garbage")
    photo("truncated")
    data = (root / "images" / "truncated.jpg").read_bytes()
    (root / "images" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    mask("truncated")
    photo("bad-mask")
    (root / "masks" / "bad-mask.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    photo("small-mask")
    mask("small-mask", good_mask[::2, ::2])
    photo("black-mask")
    mask("black-mask", np.zeros(size, bool))
    mask("no-photo")
    photo("no-mask")
    expected = {
        UNREADABLE_IMAGE: ["garbage", "truncated"],
        UNREADABLE_MASK: ["bad-mask"],
        SIZE_MISMATCH: ["small-mask"],
        EMPTY_MASK: ["black-mask"],
        MISSING_IMAGE: ["no-photo"],
        MISSING_MASK: ["no-mask"],
    }
    stems = [stem for stems in expected.values() for stem in stems]
    with open(root / "train.txt", "a") as file:
        file.write("".join(f"{stem}\n" for stem in stems) + "# a comment\n\n")
    return expected


@pytest.fixture(scope="module")
def damaged_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets") / "damaged"
    split = write_mask_folder_set(root, train=6, test=2, seed=3)
    return root, split, _add_damaged_entries(root)


# -- index, report, held-out split ------------------------------------------------------------


def test_damaged_entries_are_reported_with_counts_and_skipped(damaged_set):
    root, split, expected = damaged_set
    assert is_mask_folder(root)
    found = index_mask_folder(root, "train", progress=False)
    assert [pair.stem for pair in found.pairs] == split["train"]
    assert found.skipped == expected
    report = found.report()
    assert f"{len(split['train'])} photo/mask pairs" in report
    for reason, stems in expected.items():
        line = next(line for line in report.splitlines() if f"({reason})" in line)
        assert f"skipped {len(stems)} ({reason}): {', '.join(stems)}" in line
    for pair in found.pairs:  # the good pairs are whole
        assert read_mask(pair.mask).shape == load_rgb(pair.image).shape[:2]
    test = index_mask_folder(root, "test", progress=False)
    assert [pair.stem for pair in test.pairs] == split["test"] and not test.skipped
    assert "nothing skipped" in test.report()


def test_without_verification_only_missing_files_are_skipped(damaged_set):
    root, split, expected = damaged_set
    found = index_mask_folder(root, "train", verify=False)
    assert set(found.skipped) == {MISSING_IMAGE, MISSING_MASK}
    assert len(found.pairs) == len(split["train"]) + 5


def test_a_missing_split_file_is_a_clear_error(tmp_path):
    root = tmp_path / "set"
    write_mask_folder_set(root, train=1, test=1)
    (root / "train.txt").unlink()
    assert is_mask_folder(root)  # test.txt alone still makes a set (for evaluation)
    with pytest.raises(FileNotFoundError, match=r"train\.txt not found"):
        index_mask_folder(root, "train", progress=False)
    with pytest.raises(ValueError, match="split must be one of"):
        index_mask_folder(root, "val", progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        index_mask_folder(tmp_path / "nowhere")


def _fake_split(count: int) -> MaskFolderSplit:
    stems = [f"{number:04d}" for number in range(count)]
    pairs = [MaskPair(f"/x/images/{s}.jpg", f"/x/masks/{s}.png", s) for s in stems]
    return MaskFolderSplit(root=Path("/x"), split="train", pairs=pairs)


def test_held_out_is_deterministic_disjoint_and_respects_fraction_and_limit():
    split = _fake_split(200)
    train, val = split.held_out(0.1)
    assert len(val) == 20 and len(train) == 180
    assert not {p.stem for p in train} & {p.stem for p in val}
    assert sorted(train + val) == sorted(split.pairs)
    assert split.held_out(0.1) == (train, val)
    shuffled = MaskFolderSplit(split.root, "train", list(reversed(split.pairs)))
    assert shuffled.held_out(0.1)[1] == val  # the order of train.txt does not matter
    assert [p.stem for p in train] == sorted(p.stem for p in train)  # train.txt order kept
    # Not the first 20 lines: chosen by stem hash.
    assert {p.stem for p in val} != {f"{n:04d}" for n in range(20)}
    limited = split.held_out(0.1, limit=7)[1]
    assert len(limited) == 7 and set(limited) <= set(val)
    # Stable when a training stem goes: the same photos stay held out.
    fewer = MaskFolderSplit(split.root, "train", [p for p in split.pairs if p != train[0]])
    assert fewer.held_out(0.1, limit=7)[1] == limited
    assert split.held_out(0.0) == (split.pairs, [])
    assert len(_fake_split(5).held_out(0.01)[1]) == 1  # at least one
    one = _fake_split(1)
    assert one.held_out(0.5) == (one.pairs, [])  # never every pair
    with pytest.raises(ValueError, match="fraction"):
        split.held_out(1.0)


# -- decode cache -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets") / "good"
    write_mask_folder_set(root, train=5, test=1, seed=5)
    return index_mask_folder(root, "train", progress=False)


def test_cache_builds_once_then_reopens(good_set, tmp_path, monkeypatch):
    first = decode_set("good", good_set.pairs, cache_dir=tmp_path, progress=False)
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and not any(".partial" in f.name for f in folders)
    stamp = folders[0].stat().st_mtime_ns

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(cache_module, "_decode", no_decoding)
    again = decode_set("good", good_set.pairs, cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == folders and folders[0].stat().st_mtime_ns == stamp
    assert isinstance(again.images, np.memmap) and again.stems == first.stems
    for position in range(len(first)):
        np.testing.assert_array_equal(again.image(position), first.image(position))
        np.testing.assert_array_equal(again.mask(position), first.mask(position))


def test_cache_round_trips_and_shrinks_the_long_side_only(good_set, tmp_path):
    pairs = good_set.pairs
    full = decode_set("good", pairs, cache_dir=tmp_path, long_side=500, progress=False)
    assert len(full) == len(pairs) and full.stems == [pair.stem for pair in pairs]
    for position, pair in enumerate(pairs):  # never enlarged: exactly the files' pixels
        np.testing.assert_array_equal(full.image(position), load_rgb(pair.image))
        np.testing.assert_array_equal(full.mask(position), read_mask(pair.mask))
        assert full.image(position).dtype == full.mask(position).dtype == np.uint8
    small = decode_set("good", pairs, cache_dir=tmp_path, long_side=48, progress=False)
    for position, pair in enumerate(pairs):
        assert small.image(position).shape == (48, 36, 3)
        assert small.mask(position).shape == (48, 36)
        expected = cv2.resize(load_rgb(pair.image), (36, 48), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(small.image(position), expected)
    assert len(list(tmp_path.iterdir())) == 2  # one folder per setting


def test_a_changed_file_makes_a_new_cache_key(good_set, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(good_set.root, copy)
    pairs = [
        MaskPair(str(copy / "images" / f"{s}.jpg"), str(copy / "masks" / f"{s}.png"), s)
        for s in (pair.stem for pair in good_set.pairs)
    ]
    key = cache_key("good", pairs, 384)
    assert cache_key("good", pairs, 384) == key
    assert cache_key("good", pairs, 256) != key
    assert cache_key("good", pairs[:-1], 384) != key
    mask = read_mask(pairs[0].mask)
    Image.fromarray(mask[:, ::-1] >= 128).save(pairs[0].mask)
    later = time.time() + 10
    os.utime(pairs[0].mask, (later, later))
    assert cache_key("good", pairs, 384) != key
    decode_set("good", pairs, cache_dir=tmp_path / "cache", progress=False)
    rebuilt = decode_set("good", pairs, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(rebuilt.mask(0), mask[:, ::-1])


def test_cache_turns_the_mask_with_an_exif_rotated_photo(tmp_path):
    """The index compares the stored sizes, load_rgb turns the photo upright (EXIF): the
    decoded mask must turn with it."""
    mask = np.zeros((40, 60), np.uint8)
    mask[5:20, 10:25] = 255  # top left of the stored pixels
    photo = np.dstack([mask, np.full_like(mask, 90), np.full_like(mask, 30)])
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    Image.fromarray(photo).save(tmp_path / "p.jpg", quality=95, exif=exif)
    Image.fromarray(mask >= 128).save(tmp_path / "p.png")
    pair = MaskPair(str(tmp_path / "p.jpg"), str(tmp_path / "p.png"), "p")
    decoded = decode_set("exif", [pair], cache_dir=tmp_path, progress=False)
    rgb, turned = decoded.image(0), decoded.mask(0)
    assert rgb.shape == (60, 40, 3) and turned.shape == (60, 40)
    np.testing.assert_array_equal(turned, np.rot90(mask, -1))  # 90 degrees clockwise
    assert np.mean((rgb[..., 0] >= 128) == (turned >= 128)) > 0.97  # photo and mask agree


# -- augmentation -----------------------------------------------------------------------------

GEOMETRY_ONLY = replace(RESIZE_ONLY, flip=True, zoom=(0.6, 1.6), rotation=30.0, shift=0.2)


@pytest.fixture(scope="module")
def example():
    rgb, alpha = synthetic_example(np.random.default_rng(4), *SIZE)
    return rgb, np.where(alpha >= 128, 255, 0).astype(np.uint8)


@pytest.mark.parametrize("size", [(64, 48), (48, 64), (32, 32)])
def test_augmentation_output_size_and_dtypes(example, size):
    rgb, mask = example
    for seed in range(3):
        photo, warped = PhotoAugmentation().apply(rgb, mask, size, np.random.default_rng(seed))
        assert photo.shape == (*size, 3) and warped.shape == size
        assert photo.dtype == warped.dtype == np.uint8
        assert warped.min() >= 0 and warped.max() <= 255


def test_resize_only_is_a_plain_resize(example):
    rgb, mask = example
    for size in ((64, 48), (48, 36), (96, 72)):
        photo, warped = RESIZE_ONLY.apply(rgb, mask, size, np.random.default_rng(0))
        expected = cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_LINEAR)
        assert np.abs(photo.astype(int) - expected).max() <= 2
        expected = cv2.resize(mask, size[::-1], interpolation=cv2.INTER_LINEAR)
        assert np.abs(warped.astype(int) - expected).max() <= 2


def test_geometry_moves_the_mask_with_the_photo(example):
    rgb, mask = example
    photo = rgb.copy()
    photo[..., 0] = mask  # red channel = mask: warped alike, they stay equal
    plain = RESIZE_ONLY.apply(photo, mask, (64, 48), np.random.default_rng(0))[1]
    moved = 0
    for seed in range(12):
        out, warped = GEOMETRY_ONLY.apply(photo, mask, (64, 48), np.random.default_rng(seed))
        assert np.abs(out[..., 0].astype(int) - warped).max() <= 1
        assert set(np.unique(warped)) - {0, 255}  # interpolated edges, values in 0..255
        moved += np.abs(warped.astype(int) - plain).mean() > 5
    assert moved >= 10  # the geometry really changes things


def test_photometric_damage_leaves_the_mask_alone(example):
    """Geometry draws come first: the same seed gives the same warp with or without the
    photometric part, which touches the photo only."""
    rgb, mask = example
    geometry = replace(GEOMETRY_ONLY, flip=True, zoom=(0.8, 1.4), rotation=12.0, shift=0.1)
    damaging = replace(
        PhotoAugmentation(), blur_probability=1.0, noise_probability=1.0, jpeg_probability=1.0
    )
    for seed in range(4):
        photo, warped = damaging.apply(rgb, mask, (64, 48), np.random.default_rng(seed))
        plain_photo, plain = geometry.apply(rgb, mask, (64, 48), np.random.default_rng(seed))
        np.testing.assert_array_equal(warped, plain)
        assert np.abs(photo.astype(int) - plain_photo).mean() > 1


# -- mixing -----------------------------------------------------------------------------------


def _decoded(name: str, images: list[np.ndarray], masks: list[np.ndarray]) -> DecodedSet:
    shapes = np.array([mask.shape for mask in masks], np.int64)
    offsets = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1])[:-1]]).astype(np.int64)
    return DecodedSet(
        name=name,
        stems=[f"{name}-{n}" for n in range(len(images))],
        images=np.concatenate([image.reshape(-1) for image in images]),
        masks=np.concatenate([mask.reshape(-1) for mask in masks]),
        shapes=shapes,
        offsets=offsets,
    )


def _constant_set(name: str, value: int, count: int = 3) -> DecodedSet:
    shapes = [(12, 9), (9, 12), (10, 10)]
    images = [np.full((*shapes[n % 3], 3), value, np.uint8) for n in range(count)]
    masks = [np.full(shapes[n % 3], 255, np.uint8) for n in range(count)]
    return _decoded(name, images, masks)


PRESETS = ((8, 8), (16, 8), (8, 16))


def test_sets_are_drawn_by_their_weights():
    sets = [WeightedSet(_constant_set("a", 10), 4.0), WeightedSet(_constant_set("b", 200), 1.0)]
    batches = list(training_batches(sets, 3, 8, PRESETS, 300, RESIZE_ONLY, seed=0, epoch=0))
    assert len(batches) == 300
    sources = np.concatenate([x[:, 0, 0, 0] for x, _ in batches])
    assert set(np.unique(sources)) == {10.0, 200.0}
    assert np.mean(sources == 10) == pytest.approx(0.8, abs=0.03)
    shapes = set()
    for x, y in batches:  # one preset per batch, targets one-hot at the same size
        assert x.shape[1:3] in PRESETS and y.shape == (8, *x.shape[1:3], 2)
        assert x.dtype == y.dtype == np.float32
        shapes.add(x.shape[1:3])
    assert shapes == set(PRESETS)
    sets[1].weight = 0.0
    only_a = training_batches(sets, 1, 8, PRESETS, 20, RESIZE_ONLY, seed=0, epoch=0)
    assert all((x == 10).all() for x, _ in only_a)


def test_draws_depend_on_seed_and_epoch_only():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (20, 16, 3), dtype=np.uint8) for _ in range(6)]
    masks = [np.where(rng.random((20, 16)) < 0.5, 255, 0).astype(np.uint8) for _ in range(6)]
    sets = [WeightedSet(_decoded("n", images, masks), 1.0), WeightedSet(_constant_set("c", 7), 1.0)]

    def epoch(seed, number):
        return list(training_batches(sets, 3, 4, PRESETS, 5, PhotoAugmentation(), seed, number))

    first = epoch(0, 3)
    for (x, y), (x2, y2) in zip(first, epoch(0, 3), strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    for other in (epoch(0, 4), epoch(1, 3)):
        assert any(
            a.shape != b.shape or not np.array_equal(a, b)
            for (a, _), (b, _) in zip(first, other, strict=True)
        )


def test_negative_weights_are_refused():
    sets = [WeightedSet(_constant_set("a", 1), -1.0), WeightedSet(_constant_set("b", 2), 2.0)]
    with pytest.raises(ValueError, match="weights"):
        next(training_batches(sets, 1, 2, PRESETS, 1, RESIZE_ONLY, 0, 0))


def test_validation_is_every_held_out_photo_in_order():
    a, b = _constant_set("a", 10, 3), _constant_set("b", 200, 2)
    batches = list(validation_batches([a, b], 1, 2, (16, 16)))
    assert [x.shape[0] for x, _ in batches] == [2, 2, 1]
    values = [float(v) for x, _ in batches for v in x[:, 0, 0, 0]]
    assert values == [10, 10, 10, 200, 200]
    assert all(y.shape[1:] == (16, 16, 2) and (y[..., 1] == 1).all() for _, y in batches)


def test_a_last_validation_batch_too_small_for_the_replicas_is_left_out():
    from humanmatting.training.mixed import make_validation_dataset

    sets = [_constant_set("a", 10, 5)]
    assert int(make_validation_dataset(sets, 1, 4, (16, 16)).cardinality()) == 2
    dataset = make_validation_dataset(sets, 1, 4, (16, 16), replicas=2)
    assert int(dataset.cardinality()) == 1
    assert [int(x.shape[0]) for x, _ in dataset] == [4]


# -- --mix and the sets under --data ----------------------------------------------------------


def test_parse_mix():
    from humanmatting.training.train import parse_mix

    assert parse_mix("eg1800=0.45, viton=0.2,ccp") == {"eg1800": 0.45, "viton": 0.2, "ccp": 1.0}
    assert parse_mix("a=1,") == {"a": 1.0}
    for text, message in (
        ("a=x", "NAME=WEIGHT"),
        ("a=-1", ">= 0"),
        ("a=nan", ">= 0"),
        ("a=1,a=2", "twice"),
        ("=1", "no set name"),
        ("", "names no set"),
        ("a=0,b=0", "all be 0"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_mix(text)


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    """Two tiny sets under one folder, one damaged entry in b's train.txt, and a folder
    that is not a set."""
    root = tmp_path_factory.mktemp("datasets")
    write_mask_folder_set(root / "a", train=12, test=3, seed=1)
    write_mask_folder_set(root / "b", train=12, test=3, seed=2)
    (root / "b" / "masks" / "b-001.png").unlink()
    (root / "notes").mkdir()
    (root / "notes" / "README.md").write_text("not a set\n")
    return root


def test_int8_calibration_photos_come_from_every_sets_train_split_only(two_sets):
    """humanmatting.training.export calibrates int8 on training photos of people, never on test
    photos."""
    from humanmatting.preprocess import load_rgb
    from humanmatting.training.export import training_photos

    photos = training_photos(two_sets, 6)
    assert len(photos) == 6
    by_bytes = {}
    for name in ("a", "b"):
        for split in ("train", "test"):
            for stem in (two_sets / name / f"{split}.txt").read_text().split():
                path = two_sets / name / "images" / f"{stem}.jpg"
                by_bytes[load_rgb(path).tobytes()] = (name, split)
    sources = [by_bytes[photo.tobytes()] for photo in photos]
    assert {split for _, split in sources} == {"train"}
    assert sorted(name for name, _ in sources) == ["a", "a", "a", "b", "b", "b"]
    assert len(training_photos(two_sets / "a", 4)) == 4  # one set given directly


def test_mask_folder_sets_and_unknown_names(two_sets):
    from humanmatting.training.train import is_mask_folder_data, mask_folder_sets

    a, b = two_sets / "a", two_sets / "b"
    assert is_mask_folder_data(two_sets) and is_mask_folder_data(a)
    assert not is_mask_folder_data(two_sets / "notes")
    assert mask_folder_sets(two_sets, None) == {a: 1.0, b: 1.0}
    assert mask_folder_sets(two_sets, {"b": 0.2, "a": 0.8}) == {b: 0.2, a: 0.8}
    assert mask_folder_sets(a, None) == {a: 1.0} == mask_folder_sets(a, {"a": 1.0})
    with pytest.raises(ValueError, match=r"--mix names eg1800, c, not .*\(found: a, b\)"):
        mask_folder_sets(two_sets, {"a": 1.0, "eg1800": 0.5, "c": 1.0})
    with pytest.raises(ValueError, match=r"found: a\)"):
        mask_folder_sets(a, {"b": 1.0})
    with pytest.raises(ValueError, match="all be 0"):
        mask_folder_sets(two_sets, {"a": 0.0})
    with pytest.raises(ValueError, match="no mask-folder sets"):
        mask_folder_sets(two_sets / "notes", None)


def test_cli_reports_bad_mix_in_one_line(two_sets, tmp_path, capsys):
    from humanmatting.training.train import main

    with pytest.raises(SystemExit):
        main(["--model", "night", "--data", str(two_sets), "--mix", "a=x"])
    assert "is not NAME=WEIGHT" in capsys.readouterr().err
    base = ["--model", "night", "--data", str(two_sets), "--out", str(tmp_path / "run")]
    assert main([*base, "--mix", "a=1,zz=1", "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "found: a, b" in capsys.readouterr().err


# -- a tiny training run, resumed, then evaluated on a test split ----------------------------


@pytest.fixture(scope="module")
def photo_run(two_sets, tmp_path_factory, request):
    """`python -m humanmatting.training.train ... --recipe photos`, in-process (2 epochs, then
    --resume to 3); records the epochs each training pass drew."""
    from humanmatting.training.train import main

    out = tmp_path_factory.mktemp("runs") / "dark-light"
    command = [
        "--model", "dark-light", "--data", str(two_sets), "--mix", "a=0.7,b=0.3",
        "--recipe", "photos", "--samples-per-epoch", "32", "--batch-size", "8",
        "--presets", "64x64,64x96", "--out", str(out), "--verbose", "0",
        "--cache-dir", str(tmp_path_factory.mktemp("cache")),
    ]  # fmt: skip
    epochs = []
    real = mixed.training_batches

    def recording(*args, **kwargs):
        epochs.append(args[-1])
        return real(*args, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(mixed, "training_batches", recording)
    request.addfinalizer(patch.undo)
    started = time.perf_counter()
    assert main([*command, "--epochs", "2"]) == 0
    first = {
        "epochs": list(epochs),
        "log": (out / "log.csv").read_text(),
        "run": json.loads((out / "run.json").read_text()),
    }
    assert main([*command, "--epochs", "3"]) == 2  # refuses to overwrite without --resume
    epochs.clear()
    assert main([*command, "--epochs", "3", "--resume"]) == 0
    return {"out": out, "first": first, "resumed_epochs": list(epochs),
            "seconds": time.perf_counter() - started}  # fmt: skip


@pytest.mark.slow
@pytest.mark.training
def test_training_on_mask_folders_resumes_and_records_the_mix(photo_run):
    import csv

    out = photo_run["out"]
    assert photo_run["first"]["epochs"] == [0, 1]  # draws of epoch e seeded with (seed, e)
    assert photo_run["resumed_epochs"] == [2]
    with open(out / "log.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert (out / "log.csv").read_text().startswith(photo_run["first"]["log"])
    assert json.loads((out / "last.json").read_text())["epoch"] == 3
    assert all(np.isfinite(float(row["val_loss"])) for row in rows)
    assert list(out.glob("dark-light-*.keras")) and (out / "curves.png").is_file()
    info = json.loads((out / "run.json").read_text())
    assert info["layout"] == "mask folders" and info["epochs_done"] == 3
    assert info["recipe"]["loss"] == "bce+dice" and info["recipe"]["augmentation"]["rotation"]
    assert info["samples_per_epoch"] == 32 and info["presets"] == [[64, 64], [64, 96]]
    sets = info["sets"]
    assert list(sets) == ["a", "b"]
    assert sets["a"]["weight"] == 0.7 and sets["a"]["share"] == pytest.approx(0.7)
    assert sets["b"]["share"] == pytest.approx(0.3)
    assert sets["a"]["train"] + sets["a"]["val"] == 12 and sets["a"]["val"] == 1
    assert sets["b"]["train"] + sets["b"]["val"] == 11
    assert sets["a"]["skipped"] == {} and sets["b"]["skipped"] == {MISSING_MASK: 1}
    assert "train.txt" in info["split"]["source"]
    assert photo_run["first"]["run"]["sets"] == sets
    print(f"mask-folder training run + resume: {photo_run['seconds']:.1f} s")


@pytest.mark.slow
@pytest.mark.training
def test_evaluate_on_a_mask_folder_test_split(photo_run, two_sets, tmp_path):
    from humanmatting.training.evaluate import evaluate, main

    metrics = evaluate(
        "dark-light", photo_run["out"], two_sets / "b", tmp_path, long_side=64, worst=2,
        progress=False,
    )  # fmt: skip
    assert metrics["split"] == "b test" and metrics["set"] == "b" and metrics["images"] == 3
    assert metrics["skipped"] == {}
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert 0 <= metrics["person_iou"] <= 1 and 0 <= metrics["mean_iou_2class"] <= 1
    with open(tmp_path / "per_image.csv") as file:
        lines = file.read().splitlines()
    assert len(lines) == 4 and lines[1].startswith("images/b-01")
    assert (tmp_path / "worst.png").stat().st_size > 0
    train = evaluate(
        "dark-light", photo_run["out"], two_sets / "b", tmp_path / "train", split="train",
        long_side=64, worst=1, max_images=2, progress=False,
    )  # fmt: skip
    assert train["images"] == 2 and train["skipped"] == {MISSING_MASK: 1}
    with pytest.raises(ValueError, match="evaluate one at a time"):
        evaluate("dark-light", photo_run["out"], two_sets, tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="splits train, test or all"):
        evaluate("dark-light", photo_run["out"], two_sets / "a", tmp_path / "x", split="val")
    cli = ["--model", "dark-light", "--weights", str(photo_run["out"]), "--out", str(tmp_path)]
    assert main([*cli, "--data", str(two_sets / "a"), "--long-side", "64", "--worst", "1"]) == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["split"] == "a test"


def test_a_test_only_set_is_never_trained_or_calibrated_on(two_sets, tmp_path):
    """coco128 has only test.txt: training and int8 calibration leave it out, not fail."""
    from humanmatting.training.export import training_photos
    from humanmatting.training.train import mask_folder_sets

    root = tmp_path / "datasets"
    shutil.copytree(two_sets, root)
    write_mask_folder_set(root / "c", train=4, test=3, seed=3)
    (root / "c" / "train.txt").unlink()
    assert [path.name for path in mask_folder_sets(root, None)] == ["a", "b"]
    assert len(training_photos(root, 6)) == 6
    with pytest.raises(ValueError, match="no mask-folder set with a train.txt"):
        training_photos(root / "c", 2)


# -- distillation from a model of this project, and norms frozen for fine-tuning -------------


def _photo_sets(count: int = 4) -> list:
    """Grey photos, the left half a person, with a bright square the teacher below marks."""
    from humanmatting.training.cache import in_memory_set

    images, masks = [], []
    for i in range(count):
        image = np.full((80, 80, 3), 90 + 10 * i, np.uint8)
        image[20:40, 40:60] = 250
        mask = np.zeros((80, 80), np.uint8)
        mask[:, :40] = 255
        images.append(image)
        masks.append(mask)
    return [WeightedSet(in_memory_set("grey", [f"g{i}" for i in range(count)], images, masks), 1)]


def test_distillation_blends_the_teacher_into_every_target_and_shows_it_colour():
    seen = []

    def teacher(batch):
        seen.append(batch)
        return (batch[0, :, :, 0] > 200).astype(np.float32)  # the bright square

    distillation = mixed.Distillation(teacher, weight=0.25)
    plain = training_batches(_photo_sets(), 1, 2, ((64, 64),), 2, RESIZE_ONLY, seed=3, epoch=0)
    taught = training_batches(
        _photo_sets(), 1, 2, ((64, 64),), 2, RESIZE_ONLY, seed=3, epoch=0,
        distillation=distillation,
    )  # fmt: skip
    for (x, y), (x_taught, y_taught) in zip(plain, taught, strict=True):
        np.testing.assert_array_equal(x, x_taught)  # the student's grey input is unchanged
        assert x.shape[-1] == 1
        marked = (x[..., 0] > 200).astype(np.float32)
        np.testing.assert_allclose(y_taught[..., 1], 0.75 * y[..., 1] + 0.25 * marked, atol=1e-6)
        np.testing.assert_allclose(y_taught.sum(axis=-1), 1.0, atol=1e-6)
    assert len(seen) == 4  # one call a frame
    assert all(batch.shape == (1, 64, 64, 3) and batch.max() > 200 for batch in seen)  # raw RGB
    with pytest.raises(ValueError, match=r"distillation weight must be in \(0, 1\]"):
        mixed.Distillation(teacher, weight=0.0)


@pytest.mark.training
def test_frozen_norms_keep_a_fine_tuned_network_as_served_on_any_batch():
    """Without frozen norms, dark-light in training mode computes what it was served as only
    on the batch its norms were fitted to; frozen, on any batch, and fitting keeps them."""
    import keras

    from harness.models import build_model, randomize
    from humanmatting.training.networks import build_training_model, initialize_from, unwrap
    from humanmatting.training.recipe import BceDiceLoss
    from humanmatting.training.train import freeze_norms

    served = randomize(build_model("dark-light"), seed=5)
    rng = np.random.default_rng(6)
    fitted_on = rng.uniform(0, 255, (4, 64, 64, 1)).astype("float32")
    other = rng.uniform(0, 120, (4, 64, 64, 1)).astype("float32")  # other statistics
    expected = np.asarray(served(other))
    outputs = {}
    for frozen in (False, True):
        trained = build_training_model("dark-light", acnet=True, input_scale=1 / 255)
        if frozen:
            freeze_norms(trained)
        initialize_from(trained, served, fitted_on)
        outputs[frozen] = np.asarray(trained(other, training=True))
    assert np.abs(outputs[False] - expected).max() > 1e-2
    np.testing.assert_allclose(outputs[True], expected, atol=1e-3)
    norms = [
        layer
        for layer in unwrap(trained)[0].layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    before = [[np.asarray(w) for w in norm.weights] for norm in norms]
    trained.compile(optimizer=keras.optimizers.Adam(1e-2), loss=BceDiceLoss())
    target = np.stack([np.ones((4, 64, 64)), np.zeros((4, 64, 64))], axis=-1).astype("float32")
    trained.fit(other, target, epochs=1, verbose=0)
    for norm, weights in zip(norms, before, strict=True):
        for now, then in zip(norm.weights, weights, strict=True):
            np.testing.assert_array_equal(np.asarray(now), then)


@pytest.mark.slow
@pytest.mark.training
def test_a_distilled_run_records_its_teacher_and_frozen_norms(two_sets, tmp_path, capsys):
    from humanmatting.training.train import main
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR as SHIPPED

    out = tmp_path / "run"
    command = [
        "--model", "dark", "--data", str(two_sets), "--recipe", "photos", "--epochs", "1",
        "--samples-per-epoch", "8", "--batch-size", "4", "--presets", "64x64", "--verbose", "0",
        "--cache-dir", str(tmp_path / "cache"), "--init-from", str(SHIPPED / "dark"),
        "--freeze-norms",
    ]  # fmt: skip
    # A grayscale model cannot teach (it never saw colour); a folder without TFLite neither.
    assert main([*command, "--distill-from", str(SHIPPED / "dark"), "--out", str(out)]) == 2
    assert "takes 1 channel(s); a teacher must take RGB" in capsys.readouterr().err
    assert main([*command, "--distill-from", str(tmp_path), "--out", str(out)]) == 2
    assert "holds neither model.tflite nor model-fp16.tflite" in capsys.readouterr().err
    status = main(
        [*command, "--distill-from", str(SHIPPED / "night"), "--distill-weight", "0.3",
         "--out", str(out)]
    )  # fmt: skip
    assert status == 0
    assert "targets: 70% the sets' masks, 30%" in capsys.readouterr().out
    info = json.loads((out / "run.json").read_text())
    teacher = info["distill_from"]
    assert teacher["folder"] == str(SHIPPED / "night") and teacher["weight"] == 0.3
    shipped = json.loads((SHIPPED / "night" / "humanmatting.json").read_text())["training"]
    assert teacher["file"] == "model-fp16.tflite"
    assert teacher["epochs_done"] == shipped["epochs_done"] and teacher["epochs_done"] > 0
    assert teacher["model"] == "night"
    assert info["freeze_norms"] is True and np.isfinite(info["best_val_miou"])


@pytest.mark.slow
@pytest.mark.training
def test_cache_long_side_shrinks_the_photos_to_it_and_is_recorded(two_sets, tmp_path, capsys):
    """Inputs above 384 need photos kept larger than the cache's default."""
    from humanmatting.training.cache import open_cache
    from humanmatting.training.train import main

    command = [
        "--model", "dark", "--data", str(two_sets), "--recipe", "photos", "--epochs", "1",
        "--samples-per-epoch", "8", "--batch-size", "4", "--presets", "64x64", "--verbose", "0",
        "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--cache-long-side", "16"])
    assert stopped.value.code == 2
    assert "--cache-long-side must be a whole number >= 32, not '16'" in capsys.readouterr().err
    assert main([*command, "--cache-long-side", "48"]) == 0
    folders = sorted((tmp_path / "cache").iterdir())
    assert folders and all("-48px-" in folder.name for folder in folders)
    for folder in folders:
        photos = open_cache(folder)
        sides = {max(photos.image(i).shape[:2]) for i in range(len(photos))}
        assert sides == {48}  # the written photos are 96x72
        assert {max(photos.mask(i).shape) for i in range(len(photos))} == {48}
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["cache_long_side"] == 48
