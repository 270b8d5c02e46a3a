"""Training recipes: the original's (default) and an improved one, as plain settings.

Original (README of the seed and its notebook): Adam with amsgrad at Keras's default
learning rate, binary cross-entropy on the 2-class softmax, batch 60, raw 0..255 inputs,
no augmentation, 15 epochs for night and dark, 50 for dark-light (ACNet form).

Improved: the same network and serving format, plus augmentation, inputs scaled by 1/255
inside the training graph (folded into the first conv at export, so the exported model
still takes raw 0..255), a cosine learning-rate schedule with warm-up, and BCE + Dice
loss (Dice weighs the thin person borders that BCE averages away).

Photos: the recipe of the shipped models, trained on real photos (mask-folder sets such as EG1800,
VITON, CCP): the improved recipe with `humanmatting.training.augment.PhotoAugmentation` (zoom,
rotation, shift, colour, gamma, blur, noise, JPEG), batch 16 of small inputs (the networks are fully
convolutional and serve any multiple of 32), epochs of 3,000 draws."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction

import keras
from keras import ops

from humanmatting.training.augment import PhotoAugmentation
from humanmatting.training.pipeline import Augmentation

# lite0 (pretrained encoder): not the original author's model; as many as the photos recipe.
ORIGINAL_EPOCHS = {"night": 15, "dark": 15, "dark-light": 50, "lite0": 30}
LOSSES = ("bce", "cce", "bce+dice")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class Recipe:
    epochs: int | None = None  # None: ORIGINAL_EPOCHS of the model
    batch_size: int = 60
    learning_rate: float = 1e-3
    amsgrad: bool = True
    clipnorm: float | None = None  # clip each gradient's norm (None: no clipping)
    loss: str = "bce"
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    augmentation: Augmentation | PhotoAugmentation | None = None
    input_scale: float = 1.0
    acnet: bool = True  # dark-light is trained in ACNet form (ignored for night and dark)
    extra: dict = field(default_factory=dict)

    def epochs_for(self, model_name: str) -> int:
        if self.epochs is not None:
            return self.epochs
        return self.extra.get("epochs", ORIGINAL_EPOCHS)[model_name]

    def describe(self) -> dict:
        """JSON-ready settings, for run.json and model cards."""
        settings = asdict(self)
        settings["augmentation"] = asdict(self.augmentation) if self.augmentation else None
        return settings


ORIGINAL = Recipe()
IMPROVED = Recipe(
    loss="bce+dice",
    schedule="cosine",
    warmup_epochs=1.0,
    learning_rate=3e-3,
    augmentation=Augmentation(),
    input_scale=1 / 255,
)
PHOTOS = Recipe(
    epochs=None,
    batch_size=16,
    loss="bce+dice",
    schedule="cosine",
    warmup_epochs=1.0,
    # 2e-3 without clipping: night (no BatchNorm) collapsed to all-background in epoch 6
    # (every ReLU dead, loss 8.6); 1e-3 with clipped gradients trains steadily.
    learning_rate=1e-3,
    clipnorm=1.0,
    augmentation=PhotoAugmentation(),
    input_scale=1 / 255,
    # The shipped runs: 30 epochs each (night and dark-light best in epochs 28 and 29).
    extra={
        "epochs": {"night": 30, "dark": 30, "dark-light": 30, "lite0": 30},
        "samples_per_epoch": 3000,
    },
)
# Everyday photos (humanmatting.training.everyday): the photos recipe at every scale, long sides 128
# to 512 (the small ones more often: a batch's cost grows with its pixels), for mixes that add
# frames with nobody, teacher-labelled photos and pasted people to the mask sets.
EVERYDAY_PRESETS: tuple[tuple[int, int], ...] = (
    (160, 128), (128, 160), (160, 160), (192, 160), (160, 192),
    (256, 192), (192, 256), (224, 224), (256, 256),
    (320, 224), (224, 320), (320, 320),
    (384, 288), (288, 384), (512, 384), (384, 512),
)  # fmt: skip
EVERYDAY = replace(
    PHOTOS,
    extra={
        "epochs": {"night": 30, "dark": 30, "dark-light": 30, "lite0": 30},
        "samples_per_epoch": 3000,
        "presets": EVERYDAY_PRESETS,
    },
)
RECIPES = {"original": ORIGINAL, "improved": IMPROVED, "photos": PHOTOS, "everyday": EVERYDAY}


def parse_scale(text: str) -> float:
    """'1/255' or '0.00392' -> float."""
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"Input scale {text!r} is not a number or fraction like 1/255") from None


def with_overrides(recipe: Recipe, **overrides) -> Recipe:
    """Recipe with every override that is not None applied."""
    return replace(recipe, **{k: v for k, v in overrides.items() if v is not None})


def make_loss(name: str) -> keras.losses.Loss:
    if name == "bce":
        return keras.losses.BinaryCrossentropy(name="bce")
    if name == "cce":
        return keras.losses.CategoricalCrossentropy(name="cce")
    if name == "bce+dice":
        return BceDiceLoss()
    raise ValueError(f"loss must be one of {LOSSES}, not {name!r}")


def make_optimizer(recipe: Recipe, steps_per_epoch: int, epochs: int) -> keras.optimizers.Optimizer:
    learning_rate = recipe.learning_rate
    if recipe.schedule == "cosine":
        warmup_steps = int(recipe.warmup_epochs * steps_per_epoch)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup_steps else recipe.learning_rate,
            decay_steps=max(1, epochs * steps_per_epoch - warmup_steps),
            warmup_target=recipe.learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
            alpha=0.01,
        )
    elif recipe.schedule != "constant":
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {recipe.schedule!r}")
    return keras.optimizers.Adam(
        learning_rate=learning_rate, amsgrad=recipe.amsgrad, clipnorm=recipe.clipnorm
    )


@keras.saving.register_keras_serializable(package="humanmatting_training")
class BceDiceLoss(keras.losses.Loss):
    """Binary cross-entropy plus (1 - soft Dice of the person channel, per image)."""

    def __init__(self, dice_weight: float = 1.0, name: str = "bce_dice", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dice_weight = dice_weight

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        bce = ops.mean(keras.losses.binary_crossentropy(y_true, y_pred), axis=(1, 2))
        intersection = ops.sum(y_true[..., 1] * y_pred[..., 1], axis=(1, 2))
        total = ops.sum(y_true[..., 1] + y_pred[..., 1], axis=(1, 2))
        dice = (2 * intersection + 1.0) / (total + 1.0)
        # Dice has no meaning on a frame with nobody (its loss stays near 1 until not one
        # pixel is marked): there cross-entropy alone speaks.
        has_person = ops.cast(ops.sum(y_true[..., 1], axis=(1, 2)) >= 1.0, y_pred.dtype)
        return bce + self.dice_weight * has_person * (1 - dice)

    def get_config(self):
        return {**super().get_config(), "dice_weight": self.dice_weight}
