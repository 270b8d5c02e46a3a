"""tf.data input from decoded sets mixed by sampling weights (real photos, cached).

Each training epoch draws `samples_per_epoch` examples: a set by its weight, then a photo of it
uniformly, warped and damaged by `humanmatting.training.augment.PhotoAugmentation` straight to the
batch's input size (one aspect preset per batch, as in `humanmatting.training.pipeline`). The draws
of epoch e come from a generator seeded with (seed, e), so a resumed run continues the same
sequence. Validation is the held-out photos resized to one fixed size, the same every epoch. Model
inputs go through `humanmatting.preprocess.prepare_input`, as in serving."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from humanmatting.preprocess import prepare_input, resize
from humanmatting.training.augment import PhotoAugmentation
from humanmatting.training.cache import DecodedSet
from humanmatting.training.everyday import PastedPeople, PhotoSource
from humanmatting.training.pipeline import one_hot_target, soft_target


@dataclass
class WeightedSet:
    """A source of training frames and its sampling weight. A DecodedSet is drawn as a
    PhotoSource; `soft` trains on the mask's values (a teacher's probability) instead of
    thresholding it."""

    data: DecodedSet | PhotoSource | PastedPeople
    weight: float
    soft: bool = False

    @property
    def source(self) -> PhotoSource | PastedPeople:
        return PhotoSource(self.data) if isinstance(self.data, DecodedSet) else self.data


@dataclass(frozen=True)
class Distillation:
    """A stronger model of this project whose person probability is blended into every
    training target: a small network fine-tuned on everyday photos gave up points on the
    portrait sets with hard masks alone, and a teacher's soft targets say where its
    capacity is best spent. `teacher` takes one raw 0..255 RGB frame (1, H, W, 3) and
    returns its (H, W) person probability; `weight` is the teacher's share of the target."""

    teacher: Callable[[np.ndarray], np.ndarray]
    weight: float = 0.5

    def __post_init__(self):
        if not 0.0 < self.weight <= 1.0:
            raise ValueError(f"The distillation weight must be in (0, 1], got {self.weight}")

    def blend(self, target: np.ndarray, rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """target (H, W, 2) of `rgb` at `size` -> the blend of it and the teacher's."""
        person = np.clip(self.teacher(prepare_input(rgb, 3, size)), 0.0, 1.0).astype(np.float32)
        taught = np.stack([1 - person, person], axis=-1)
        return (1 - self.weight) * target + self.weight * taught


def normalized_weights(sets: list[WeightedSet]) -> np.ndarray:
    weights = np.array([item.weight for item in sets], np.float64)
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"Sampling weights must be >= 0 with a positive sum, got {weights}")
    return weights / weights.sum()


def training_batches(
    sets: list[WeightedSet],
    channels: int,
    batch_size: int,
    presets: tuple[tuple[int, int], ...],
    steps: int,
    augmentation: PhotoAugmentation,
    seed: int,
    epoch: int,
    distillation: Distillation | None = None,
):
    """Yield `steps` (x, y) numpy batches of epoch `epoch`."""
    rng = np.random.default_rng([seed, epoch])
    probabilities = normalized_weights(sets)
    sources = [item.source for item in sets]
    for _ in range(steps):
        size = presets[int(rng.integers(len(presets)))]
        inputs, targets = [], []
        for which in rng.choice(len(sets), size=batch_size, p=probabilities):
            rgb, mask = sources[which].draw(size, rng, augmentation)
            inputs.append(prepare_input(rgb, channels, size)[0])
            target = soft_target(mask) if sets[which].soft else one_hot_target(mask)
            if distillation is not None:
                target = distillation.blend(target, rgb, size)
            targets.append(target)
        yield np.stack(inputs), np.stack(targets)


def validation_batches(
    sets: list[DecodedSet],
    channels: int,
    batch_size: int,
    size: tuple[int, int],
    count: int | None = None,
):
    """Every photo of `sets` (the first `count`) resized to `size`, in order, in batches."""
    examples = itertools.islice(((data, i) for data in sets for i in range(len(data))), count)
    while batch := list(itertools.islice(examples, batch_size)):
        inputs = [prepare_input(data.image(i), channels, size)[0] for data, i in batch]
        targets = [one_hot_target(resize(np.asarray(data.mask(i)), size)) for data, i in batch]
        yield np.stack(inputs), np.stack(targets)


def _as_dataset(make_generator, channels: int, steps: int):
    import tensorflow as tf

    signature = (
        tf.TensorSpec((None, None, None, channels), tf.float32),
        tf.TensorSpec((None, None, None, 2), tf.float32),
    )
    dataset = tf.data.Dataset.from_generator(make_generator, output_signature=signature)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options).prefetch(4)


def make_training_dataset(
    sets: list[WeightedSet],
    channels: int,
    batch_size: int,
    presets: tuple[tuple[int, int], ...],
    samples_per_epoch: int,
    augmentation: PhotoAugmentation | None = None,
    seed: int = 0,
    first_epoch: int = 0,
    distillation: Distillation | None = None,
):
    """A dataset Keras iterates once per epoch; each pass is the next epoch's draws."""
    augmentation = augmentation or PhotoAugmentation()
    steps = max(1, samples_per_epoch // batch_size)
    epochs = itertools.count(first_epoch)

    def generator():
        yield from training_batches(
            sets,
            channels,
            batch_size,
            presets,
            steps,
            augmentation,
            seed,
            next(epochs),
            distillation=distillation,
        )

    return _as_dataset(generator, channels, steps)


def make_validation_dataset(
    sets: list[DecodedSet],
    channels: int,
    batch_size: int,
    size: tuple[int, int],
    replicas: int = 1,
):
    """The held-out photos, the same every epoch. A last batch smaller than the replica
    count would leave a replica empty (NaN loss): those few photos are left out."""
    count = sum(len(data) for data in sets)
    if not count:
        raise ValueError("The validation set is empty (held-out fraction 0?)")
    remainder = count % batch_size
    if 0 < remainder < replicas:
        print(
            f"validating on {count - remainder} photos: the last {remainder} cannot be "
            f"split over {replicas} replicas",
            flush=True,
        )
        count -= remainder
    if not count:
        raise ValueError(f"{remainder} validation photos cannot be split over {replicas} replicas")
    steps = -(-count // batch_size)
    return _as_dataset(
        lambda: validation_batches(sets, channels, batch_size, size, count), channels, steps
    )
