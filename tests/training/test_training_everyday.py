"""The everyday sources (frames with nobody, teacher labels, pasted people), the recovery of
Keras files from LiteRT files, and fine-tuning's start from a served network.

Everything but the teacher test builds its own small data; Keras is imported in the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from harness.models import build_model, randomize
from humanmatting.training.augment import RESIZE_ONLY
from humanmatting.training.cache import in_memory_set
from humanmatting.training.everyday import (
    EMPTY_SHARE,
    PastedPeople,
    Pasting,
    PhotoSource,
    split_unlabelled,
)

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _people(count: int = 3) -> list:
    """Red people (a rectangle with a round head) in red photos of several shapes."""
    images, masks = [], []
    for i in range(count):
        height, width = 120 + 20 * i, 80 + 10 * i
        mask = np.zeros((height, width), np.uint8)
        mask[height // 3 :, width // 4 : 3 * width // 4] = 255
        yy, xx = np.mgrid[:height, :width]
        mask[(yy - height // 5) ** 2 + (xx - width // 2) ** 2 < (width // 6) ** 2] = 255
        image = np.full((height, width, 3), RED, np.uint8)  # red all over: edges stay red
        images.append(image)
        masks.append(mask)
    return [in_memory_set("people", [f"p{i}" for i in range(count)], images, masks)]


def _backgrounds(count: int = 2) -> object:
    images = [np.full((90 + 10 * i, 160, 3), BLUE, np.uint8) for i in range(count)]
    masks = [np.zeros(image.shape[:2], np.uint8) for image in images]
    return in_memory_set("nobody", [f"b{i}" for i in range(count)], images, masks)


PLAIN = Pasting(colour_match=(0.0, 0.0), gain=(1.0, 1.0), blur_probability=0.0)


def test_pasted_target_is_the_alpha_the_paste_was_blended_with():
    source = PastedPeople(_people(), _backgrounds(), PLAIN)
    rng = np.random.default_rng(0)
    for size in ((128, 96), (96, 160), (320, 320)):
        for _ in range(5):
            rgb, target = source.draw(size, rng, RESIZE_ONLY)
            assert rgb.shape == (*size, 3) and target.shape == size
            # Red over blue: the red level is the blend's alpha, the target must equal it.
            red, blue = rgb[..., 0].astype(int), rgb[..., 2].astype(int)
            assert np.abs(red - target).max() <= 2
            assert np.abs(red + blue - 255).max() <= 2
            assert target.max() == 255 and target.min() == 0


def test_pasted_people_come_at_every_scale_anywhere_and_cut_by_the_frame():
    source = PastedPeople(_people(), _backgrounds(), replace_counts(PLAIN, (1.0,)))
    rng = np.random.default_rng(1)
    heights, centres, cut = [], [], 0
    for _ in range(300):
        _, target = source.draw((200, 200), rng, RESIZE_ONLY)
        rows = np.flatnonzero((target >= 128).any(axis=1))
        cols = np.flatnonzero((target >= 128).any(axis=0))
        if not len(rows):
            continue
        heights.append((rows[-1] - rows[0] + 1) / 200)
        centres.append((cols[0] + cols[-1]) / 2 / 200)
        cut += rows[0] == 0 or rows[-1] == 199 or cols[0] == 0 or cols[-1] == 199
    heights, centres = np.array(heights), np.array(centres)
    assert len(heights) > 250
    assert heights.min() < 0.15 and heights.max() > 0.85  # a tenth of the frame to all of it
    assert (heights < 0.3).mean() > 0.2  # small people are common, not rare
    assert centres.min() < 0.15 and centres.max() > 0.85  # anywhere, not only the middle
    assert cut > 30  # people cut by the frame's edge


def replace_counts(pasting: Pasting, counts: tuple[float, ...]) -> Pasting:
    from dataclasses import replace

    return replace(pasting, counts=counts)


def test_pasting_several_people_covers_more_of_the_frame():
    one = PastedPeople(_people(), _backgrounds(), replace_counts(PLAIN, (1.0,)))
    four = PastedPeople(_people(), _backgrounds(), replace_counts(PLAIN, (0, 0, 0, 1.0)))
    rng = np.random.default_rng(2)
    covered_one = np.mean(
        [(one.draw((128, 128), rng, RESIZE_ONLY)[1] >= 128).mean() for _ in range(60)]
    )
    covered_four = np.mean(
        [(four.draw((128, 128), rng, RESIZE_ONLY)[1] >= 128).mean() for _ in range(60)]
    )
    assert covered_four > 2 * covered_one


def test_nobody_frames_have_empty_masks_and_the_split_finds_them():
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 255, (60, 80, 3), dtype=np.uint8) for _ in range(40)]
    masks = []
    for i in range(40):
        mask = np.zeros((60, 80), np.uint8)
        if i % 2:  # every other photo: the teacher saw a person
            mask[10:50, 30:50] = 230
        masks.append(mask)
    labels = in_memory_set("labels", [f"folder/{i}" for i in range(40)], images, masks)
    split = split_unlabelled(labels, 0.25)
    nobody = len(split.nobody_train) + len(split.nobody_val)
    people = len(split.people_train) + len(split.people_val)
    assert (nobody, people) == (20, 20)
    assert 0 < len(split.nobody_val) < 20 and 0 < len(split.people_val) < 20
    for i in range(len(split.nobody_train)):
        assert (split.nobody_train.mask(i) >= 128).mean() < EMPTY_SHARE
    source = PhotoSource(split.people_train, empty=True)
    _, mask = source.draw((64, 64), rng, RESIZE_ONLY)
    assert mask.shape == (64, 64) and not mask.any()


def test_teacher_labels_a_person_and_not_an_empty_wall(tmp_path, astronaut):
    shared = os.environ.get("HUMANMATTING_SHARED")
    if not shared:
        pytest.skip("HUMANMATTING_SHARED is not set: the teacher model is read from there")
    teacher = Path(shared) / "anchors/mediapipe-selfie-segmentation/selfie_segmentation.tflite"
    if not teacher.is_file():
        pytest.skip(f"no teacher model at {teacher}")
    from PIL import Image

    from humanmatting.training.teacher import label_photos

    photos = tmp_path / "photos"
    (photos / "people").mkdir(parents=True)
    (photos / "walls").mkdir()
    Image.fromarray(astronaut).save(photos / "people" / "astronaut.jpg")
    Image.fromarray(np.full((200, 300, 3), (180, 170, 150), np.uint8)).save(
        photos / "walls" / "wall.png"
    )
    labels = label_photos(photos, teacher, cache_dir=tmp_path / "cache", progress=False)
    shares = {stem: (labels.mask(i) > 128).mean() for i, stem in enumerate(labels.stems)}
    assert set(shares) == {"people/astronaut", "walls/wall"}
    assert shares["people/astronaut"] > 0.1
    assert shares["walls/wall"] < EMPTY_SHARE
    again = label_photos(photos, teacher, cache_dir=tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").iterdir())) == 1  # labelled once, then cached
    np.testing.assert_array_equal(again.masks, labels.masks)


@pytest.mark.slow
@pytest.mark.parametrize("name, variant", [("dark-light", "fp32"), ("night", "fp16")])
def test_keras_files_recovered_from_litert_compute_what_it_computes(tmp_path, name, variant):
    import keras

    from humanmatting.folder import FolderDescription
    from humanmatting.models.export import convert_to_tflite, save_model_folder
    from humanmatting.training.recover import recover_folder

    model = randomize(build_model(name), 5)
    folder = tmp_path / name
    variants = {"fp16": convert_to_tflite(model, "fp16")} if variant == "fp16" else {}
    save_model_folder(model, name, folder, tflite_variants=variants)
    for keras_file in ("config.json", "metadata.json", "model.weights.h5"):
        (folder / keras_file).unlink()
    if variant == "fp16":  # as night and dark ship: the fp16 file only
        description = FolderDescription.load(folder)
        (folder / description.tflite["fp32"]).unlink()
        description.tflite.pop("fp32")
        description.save(folder)
    difference = recover_folder(folder)
    assert difference < (1e-4 if variant == "fp32" else 2e-2)
    recovered = keras.saving.load_model(str(folder), compile=False, safe_mode=True)
    batch = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, model.input_shape[-1]))
    expected = np.asarray(model(batch.astype("float32")))
    tolerance = 1e-4 if variant == "fp32" else 3e-2
    np.testing.assert_allclose(
        np.asarray(recovered(batch.astype("float32"))), expected, atol=tolerance
    )


@pytest.mark.parametrize("name", ["dark-light", "night", "lite0"])
def test_fine_tuning_starts_as_the_served_network_computes(name):
    import keras

    from humanmatting.training.networks import build_training_model, initialize_from, unwrap

    served = randomize(build_model(name), seed=11)
    trained = build_training_model(name, acnet=True, input_scale=1 / 255)
    rng = np.random.default_rng(4)
    batch = rng.uniform(0, 255, (4, 64, 96, served.input_shape[-1])).astype("float32")
    initialize_from(trained, served, batch)
    expected = np.asarray(served(batch))
    np.testing.assert_allclose(np.asarray(trained(batch, training=False)), expected, atol=1e-4)
    if name == "dark-light":
        # ACNet's branches have no norms in the served form: each norm passes its input
        # through, so in training mode (the batch's statistics) it is still the same function.
        np.testing.assert_allclose(np.asarray(trained(batch, training=True)), expected, atol=1e-3)
    else:
        # The same layers as served: every norm goes on with the statistics it learned.
        norms = [
            (layer, served.get_layer(layer.name))
            for layer in unwrap(trained)[0].layers
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        assert norms
        for norm, source in norms:
            for mine, theirs in zip(norm.get_weights(), source.get_weights(), strict=True):
                np.testing.assert_array_equal(mine, theirs)


def test_a_mix_with_everyday_sources_needs_photos_and_a_teacher(tmp_path, capsys):
    from humanmatting.training.train import main

    for folder in ("images", "masks"):
        (tmp_path / "set" / folder).mkdir(parents=True)
    (tmp_path / "set" / "train.txt").write_text("a\n")
    status = main(
        ["--model", "dark", "--data", str(tmp_path), "--mix", "set=1,pasted=1,nobody=0.5",
         "--recipe", "everyday", "--out", str(tmp_path / "run")]
    )  # fmt: skip
    assert status == 2
    error = capsys.readouterr().err
    assert "--mix names pasted, nobody: pass --photos" in error and "--teacher" in error


def test_dice_counts_only_on_frames_with_a_person():
    import keras

    from humanmatting.training.recipe import BceDiceLoss

    loss = BceDiceLoss(reduction=None)
    empty = np.zeros((2, 8, 8, 2), "float32")
    empty[..., 0] = 1
    prediction = np.full((2, 8, 8, 2), 0.5, "float32")
    prediction[1] = [0.99, 0.01]  # nearly right on an empty frame
    bce = keras.losses.binary_crossentropy(empty, prediction).numpy().mean(axis=(1, 2))
    np.testing.assert_allclose(loss(empty, prediction).numpy(), bce, rtol=1e-5)
    person = empty.copy()
    person[0, 2:6, 2:6] = [0, 1]
    with_dice = loss(person, prediction).numpy()
    bce = keras.losses.binary_crossentropy(person, prediction).numpy().mean(axis=(1, 2))
    assert with_dice[0] > bce[0] + 0.5  # half-sure everywhere: a poor Dice on that frame
