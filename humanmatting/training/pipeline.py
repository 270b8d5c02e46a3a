"""tf.data input pipeline: parallel decode, one random aspect preset per batch, augmentation.

Every example goes through `humanmatting.preprocess` (load_rgb -> to_channels -> resize ->
float32 raw 0..255, via `prepare_input`), the very functions the runtime calls, run inside
`tf.numpy_function`; a test pins training and serving inputs together. Augmentation changes
the RGB image before that path, never the path itself.

Batches have one shape each, drawn from the presets (the original's trick: every batch
is one size, an epoch sees all aspect ratios), so the dataset's element spec has unknown
height and width, which the network's `BilinearUpSampling2D` layers trace with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from humanmatting.preprocess import ASPECT_PRESETS, SIZE_MULTIPLE, load_rgb, prepare_input, resize
from humanmatting.training.dataset import read_matte

DEFAULT_PRESETS: tuple[tuple[int, int], ...] = tuple(ASPECT_PRESETS.values())
PERSON_THRESHOLD = 128  # alpha >= 128 of 255 counts as person in the 2-class target


@dataclass(frozen=True)
class Augmentation:
    """Random changes applied to each training image (and its matte, when geometric)."""

    flip: bool = True  # horizontal mirror with probability 1/2
    min_crop_scale: float = 0.75  # crop side is this..1 of the image side, anywhere in it
    brightness: float = 0.15  # add up to +-brightness*255
    contrast: float = 0.2  # scale deviations from the mean by 1 +- contrast

    def apply(
        self, rgb: np.ndarray, alpha: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.flip and rng.random() < 0.5:
            rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
        if self.min_crop_scale < 1:
            height, width = alpha.shape
            scale = rng.uniform(self.min_crop_scale, 1.0)
            crop_h, crop_w = max(1, round(height * scale)), max(1, round(width * scale))
            top = int(rng.integers(0, height - crop_h + 1))
            left = int(rng.integers(0, width - crop_w + 1))
            rgb = rgb[top : top + crop_h, left : left + crop_w]
            alpha = alpha[top : top + crop_h, left : left + crop_w]
        if self.brightness or self.contrast:
            pixels = rgb.astype(np.float32)
            gain = rng.uniform(1 - self.contrast, 1 + self.contrast)
            offset = rng.uniform(-self.brightness, self.brightness) * 255
            mean = pixels.mean()
            rgb = np.clip(np.rint((pixels - mean) * gain + mean + offset), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(rgb), np.ascontiguousarray(alpha)


def parse_presets(text: str) -> tuple[tuple[int, int], ...]:
    """'512x384,256x256' -> ((512, 384), (256, 256)); sides must be multiples of 32."""
    presets = []
    for item in text.split(","):
        try:
            height, width = (int(side) for side in item.lower().strip().split("x"))
        except ValueError:
            raise ValueError(f"Preset {item!r} is not HEIGHTxWIDTH, e.g. 512x384") from None
        if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE or height <= 0 or width <= 0:
            raise ValueError(f"Preset {item!r}: both sides must be positive multiples of 32")
        presets.append((height, width))
    return tuple(presets)


def one_hot_target(alpha: np.ndarray) -> np.ndarray:
    """HxW uint8 alpha -> HxWx2 float32 one-hot (background, person)."""
    person = (alpha >= PERSON_THRESHOLD).astype(np.float32)
    return np.stack([1 - person, person], axis=-1)


def soft_target(alpha: np.ndarray) -> np.ndarray:
    """HxW uint8 soft alpha (a teacher's probability) -> HxWx2 float32 (background, person)."""
    person = alpha.astype(np.float32) * np.float32(1 / 255)
    return np.stack([1 - person, person], axis=-1)


def load_example(
    image_path: str,
    matte_path: str,
    size: tuple[int, int],
    channels: int,
    augmentation: Augmentation | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One example: (h, w, C) float32 model input, exactly as the runtime prepares it, and
    the (h, w, 2) one-hot target."""
    rgb = load_rgb(image_path)
    alpha = read_matte(matte_path)
    if alpha.shape != rgb.shape[:2]:
        alpha = resize(alpha, rgb.shape[:2])
    if augmentation is not None:
        rgb, alpha = augmentation.apply(rgb, alpha, np.random.default_rng(seed))
    model_input = prepare_input(rgb, channels, size)[0]
    return model_input, one_hot_target(resize(alpha, size))


def make_dataset(
    image_paths: list[str],
    matte_paths: list[str],
    channels: int,
    batch_size: int,
    presets: tuple[tuple[int, int], ...] = DEFAULT_PRESETS,
    shuffle: bool = True,
    augmentation: Augmentation | None = None,
    seed: int = 0,
    drop_remainder: bool = False,
):
    """Batches of (x, y): x (B, h, w, C) float32 raw 0..255, y (B, h, w, 2) one-hot.

    `shuffle` reshuffles the order and redraws the batch presets every epoch (training);
    without it, order and presets are the same every epoch (validation is comparable).
    """
    import tensorflow as tf

    if len(image_paths) != len(matte_paths):
        raise ValueError("image_paths and matte_paths must have the same length")
    if not image_paths:
        raise ValueError("The dataset is empty; check --data and the split.")
    count = len(image_paths)
    drop_remainder = drop_remainder and count >= batch_size
    batches = count // batch_size if drop_remainder else -(-count // batch_size)
    preset_table = tf.constant(presets, tf.int32)

    pairs = tf.data.Dataset.from_tensor_slices((image_paths, matte_paths))
    if shuffle:
        pairs = pairs.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=shuffle)
    batched = tf.data.Dataset.zip(pairs.batch(batch_size, drop_remainder), draws)

    def tag_with_preset(paths, draw):
        images, mattes = paths
        size = preset_table[tf.cast(draw % len(presets), tf.int32)]
        sizes = tf.tile(size[None], [tf.shape(images)[0], 1])
        return images, mattes, sizes

    examples = batched.map(tag_with_preset).unbatch()
    example_seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=shuffle)
    examples = tf.data.Dataset.zip(examples, example_seeds)

    def load(paths_and_size, example_seed):
        image, matte, size = paths_and_size

        def load_numpy(image, matte, size, example_seed):
            return load_example(
                image.decode(),
                matte.decode(),
                (int(size[0]), int(size[1])),
                channels,
                augmentation,
                int(example_seed) % 2**32,
            )

        x, y = tf.numpy_function(
            load_numpy, [image, matte, size, example_seed], [tf.float32, tf.float32]
        )
        x.set_shape([None, None, channels])
        y.set_shape([None, None, 2])
        return x, y

    dataset = examples.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    # One machine (MirroredStrategy): replicas split each batch; no file-level sharding.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
