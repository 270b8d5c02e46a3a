"""tf.data input pipeline: same preprocessing as serving, one preset per batch, augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from humanmatting.preprocess import load_rgb, resize
from humanmatting.runtime import Matter
from humanmatting.specs import get_spec
from humanmatting.training.dataset import index_dataset, read_matte
from humanmatting.training.pipeline import Augmentation, load_example, make_dataset, parse_presets
from humanmatting.training.synthetic import write_synthetic_dataset

PRESETS = ((64, 64), (96, 64), (64, 96))


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("aisegment")
    write_synthetic_dataset(root, groups=3, per_group=4, size=(80, 60), seed=5)
    return index_dataset(root, progress=False)


class RecordingBackend:
    """Stands in for LiteRT/Keras: keeps exactly what the runtime would feed the model."""

    def __init__(self):
        self.batches = []

    def person_probability(self, batch):
        self.batches.append(batch.copy())
        return np.zeros(batch.shape[1:3], np.float32)


@pytest.mark.parametrize("model_name", ["night", "dark-light"])
def test_training_feeds_the_model_exactly_what_serving_feeds_it(index, model_name):
    spec = get_spec(model_name)
    images, mattes = index.paths(index.pairs[:3])
    backend = RecordingBackend()
    matter = Matter(spec, backend)
    for image in images:
        matter.predict(image)  # photos: the spec's best long side, 320x256 for 4:3
    served_size = backend.batches[0].shape[1:3]
    assert served_size == (320, 256)
    dataset = make_dataset(
        images, mattes, spec.channels, batch_size=3, presets=(served_size,), shuffle=False
    )
    (inputs, targets), *rest = list(dataset.as_numpy_iterator())
    assert not rest
    assert inputs.dtype == np.float32 and inputs.shape == (3, 320, 256, spec.channels)
    for trained, served in zip(inputs, backend.batches, strict=True):
        np.testing.assert_array_equal(trained, served[0])
    for target, matte in zip(targets, mattes, strict=True):
        person = resize(read_matte(matte), served_size) >= 128
        np.testing.assert_array_equal(target[..., 1], person)
        np.testing.assert_array_equal(target[..., 0], ~person)


def test_one_random_preset_per_batch_reshuffled_each_epoch(index):
    images, mattes = index.paths()
    assert len(images) == 12
    train = make_dataset(images, mattes, 1, 3, PRESETS, shuffle=True, seed=1, drop_remainder=True)
    val = make_dataset(images, mattes, 1, 3, PRESETS, shuffle=False, seed=1)
    assert int(train.cardinality()) == int(val.cardinality()) == 4

    def epoch(dataset):
        batches = list(dataset.as_numpy_iterator())
        for x, y in batches:
            assert x.shape[1:3] in PRESETS and y.shape[:3] == x.shape[:3]
        return [x.shape[1:3] for x, _ in batches], [float(x.sum()) for x, _ in batches]

    train_epochs = [epoch(train) for _ in range(3)]
    assert len({shape for shapes, _ in train_epochs for shape in shapes}) >= 2
    assert train_epochs[0] != train_epochs[1] != train_epochs[2]  # order and presets redrawn
    assert epoch(val) == epoch(val)  # validation is the same every epoch


def test_partial_last_batch_is_dropped_only_for_training(index):
    images, mattes = index.paths()
    train = make_dataset(images[:11], mattes[:11], 1, 3, PRESETS, drop_remainder=True)
    val = make_dataset(images[:11], mattes[:11], 1, 3, PRESETS, shuffle=False)
    assert [len(x) for x, _ in train.as_numpy_iterator()] == [3, 3, 3]
    assert [len(x) for x, _ in val.as_numpy_iterator()] == [3, 3, 3, 2]


def test_geometric_augmentation_moves_image_and_matte_together():
    rng = np.random.default_rng(0)
    alpha = np.zeros((60, 40), np.uint8)
    alpha[10:50, 5:20] = 255
    alpha[30:40, 20:35] = 128
    rgb = np.dstack([alpha] * 3)
    geometric = Augmentation(brightness=0.0, contrast=0.0, min_crop_scale=0.6)
    changed = 0
    for _ in range(20):
        new_rgb, new_alpha = geometric.apply(rgb, alpha, rng)
        np.testing.assert_array_equal(new_rgb[..., 0], new_alpha)
        changed += new_alpha.shape != alpha.shape or not np.array_equal(new_alpha, alpha)
    assert changed >= 15


def test_augmented_examples_are_reproducible_per_seed(index):
    image, matte = index.paths(index.pairs[:1])
    augmentation = Augmentation()
    first = load_example(image[0], matte[0], (64, 64), 3, augmentation, seed=7)
    again = load_example(image[0], matte[0], (64, 64), 3, augmentation, seed=7)
    other = load_example(image[0], matte[0], (64, 64), 3, augmentation, seed=8)
    plain = load_example(image[0], matte[0], (64, 64), 3)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0]) and not np.array_equal(first[0], plain[0])
    assert first[0].min() >= 0 and first[0].max() <= 255
    np.testing.assert_array_equal(plain[0], resize(load_rgb(image[0]), (64, 64)).astype("float32"))


@pytest.mark.parametrize("text", ["512x380", "512", "0x256", "axb"])
def test_bad_presets_are_refused(text):
    with pytest.raises(ValueError, match="Preset"):
        parse_presets(text)


def test_presets_parse():
    assert parse_presets("512x384, 256x256") == ((512, 384), (256, 256))
