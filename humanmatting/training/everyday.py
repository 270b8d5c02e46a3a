"""Training frames unlike the mask sets: frames with nobody, teacher-labelled photos, and
people pasted onto empty photos at every scale.

Every mask set shows one person, centred and large, so networks trained on them learn
"the middle is the person": on everyday photos they mark walls and sky and miss people
off-centre, in groups or small. The sources here break that prior:

- `nobody`: unlabelled photos (`../shared/photos`) where the teacher (humanmatting.training.teacher)
  marks less than `EMPTY_SHARE` of the frame, with an empty mask;
- `teacher`: the other unlabelled photos with the teacher's soft mask as target;
- `pasted`: 1 to 4 people cut out of the mask sets' training photos, pasted anywhere onto
  a `nobody` photo (also cut by the frame's edge), their height a tenth of the frame to
  all of it, their light, colour and sharpness moved toward the background's and their
  edge softened, so that the paste's border is no shortcut. The target is the very alpha
  the paste was blended with (exact).

A source draws one frame at a batch's input size: `draw(size, rng, augmentation)` gives an
RGB uint8 frame and a uint8 target (255 = person), photometric damage already applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from humanmatting.training.augment import PhotoAugmentation
from humanmatting.training.cache import DecodedSet, in_memory_set
from humanmatting.training.maskfolders import validation_rank

EMPTY_SHARE = 0.005  # teacher marks less than 0.5% of the frame (alpha > 0.5): nobody there
SOURCE_NAMES = ("nobody", "teacher", "pasted")
PERSON_LEVEL = 128


@dataclass
class PhotoSource:
    """Photos with masks (a mask set, or teacher-labelled photos), warped and damaged by
    the photo augmentation; `empty` gives every frame an empty mask (photos of nobody)."""

    data: DecodedSet
    empty: bool = False

    def __len__(self) -> int:
        return len(self.data)

    def draw(
        self, size: tuple[int, int], rng: np.random.Generator, augmentation: PhotoAugmentation
    ) -> tuple[np.ndarray, np.ndarray]:
        position = int(rng.integers(len(self.data)))
        rgb, mask = augmentation.apply(
            self.data.image(position), self.data.mask(position), size, rng
        )
        if self.empty:
            mask = np.zeros_like(mask)
        return rgb, mask


@dataclass(frozen=True)
class Pasting:
    """How people are pasted (see the module's docstring)."""

    counts: tuple[float, ...] = (0.45, 0.3, 0.15, 0.1)  # probability of 1, 2, 3, 4 people
    height: tuple[float, float] = (0.1, 1.0)  # person height / frame height, log-uniform
    standing: float = 0.9  # a person cut at the photo's bottom stands on the frame's bottom
    background_zoom: tuple[float, float] = (1.0, 1.6)  # crop of the background photo
    colour_match: tuple[float, float] = (0.0, 0.5)  # move the person's mean colour this far
    gain: tuple[float, float] = (0.8, 1.2)  # the person's brightness
    blur_probability: float = 0.3  # soften the person (sigma 0.3..1.0) like the background
    feather: tuple[float, float] = (0.3, 1.2)  # Gaussian sigma of the paste's edge, pixels


@dataclass
class PastedPeople:
    """People from `people` (mask sets) pasted onto photos of `backgrounds` (nobody)."""

    people: list[DecodedSet]
    backgrounds: DecodedSet
    pasting: Pasting = field(default_factory=Pasting)

    def __post_init__(self) -> None:
        if not self.people or not any(len(data) for data in self.people):
            raise ValueError("pasted: no people to paste (no mask set to cut them from)")
        if not len(self.backgrounds):
            raise ValueError("pasted: no background photos (no photo of nobody)")

    def background(self, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """A random crop of a random background photo, resized to `size` (h, w), maybe flipped."""
        photo = self.backgrounds.image(int(rng.integers(len(self.backgrounds))))
        height, width = size
        src_h, src_w = photo.shape[:2]
        # The largest crop of the frame's aspect, shrunk by the zoom, anywhere in the photo.
        fit = min(src_h / height, src_w / width) / rng.uniform(*self.pasting.background_zoom)
        crop_h, crop_w = max(1, round(height * fit)), max(1, round(width * fit))
        top = int(rng.integers(0, src_h - crop_h + 1))
        left = int(rng.integers(0, src_w - crop_w + 1))
        crop = photo[top : top + crop_h, left : left + crop_w]
        interpolation = cv2.INTER_AREA if crop_h > height else cv2.INTER_LINEAR
        frame = cv2.resize(crop, (width, height), interpolation=interpolation)
        return frame[:, ::-1].copy() if rng.random() < 0.5 else frame

    def person(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool] | None:
        """A person's bounding-box crop (RGB, mask) and whether the photo cuts them at the
        bottom (a portrait's shoulders); None for an empty mask."""
        data = self.people[int(rng.integers(len(self.people)))]
        position = int(rng.integers(len(data)))
        mask = np.asarray(data.mask(position))
        rows = np.flatnonzero((mask >= PERSON_LEVEL).any(axis=1))
        cols = np.flatnonzero((mask >= PERSON_LEVEL).any(axis=0))
        if not len(rows):
            return None
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        rgb = np.asarray(data.image(position))[top:bottom, left:right]
        standing = bottom >= 0.98 * mask.shape[0]  # cut by the photo's bottom edge
        return rgb, mask[top:bottom, left:right], standing

    def paste(
        self,
        frame: np.ndarray,
        alpha: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Paste one person into `frame` (float32 RGB) and `alpha` (float32 0..1) in place."""
        found = self.person(rng)
        if found is None:
            return
        rgb, mask, standing = found
        height, width = alpha.shape
        low, high = self.pasting.height
        scale = height * math.exp(rng.uniform(math.log(low), math.log(high))) / rgb.shape[0]
        scale = min(scale, 1.2 * width / rgb.shape[1])  # no wider than the frame (and a bit)
        new_w, new_h = max(2, round(rgb.shape[1] * scale)), max(2, round(rgb.shape[0] * scale))
        shrinking = scale < 1
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        person = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation).astype(np.float32)
        matte = cv2.resize(mask, (new_w, new_h), interpolation=interpolation).astype(np.float32)
        matte /= 255.0
        sigma = rng.uniform(*self.pasting.feather)
        matte = cv2.GaussianBlur(matte, (0, 0), sigma)

        # Anywhere, up to a third outside the frame; a person the photo cut at the bottom
        # mostly stands on the frame's bottom edge (or below it), as in real photos.
        left = int(rng.integers(-new_w // 3, max(-new_w // 3 + 1, width - 2 * new_w // 3)))
        if standing and rng.random() < self.pasting.standing:
            top = height - new_h + int(rng.integers(0, max(1, new_h // 4)))
        else:
            top = int(rng.integers(-new_h // 4, max(-new_h // 4 + 1, height - 3 * new_h // 4)))
        y0, y1 = max(0, top), min(height, top + new_h)
        x0, x1 = max(0, left), min(width, left + new_w)
        if y1 <= y0 or x1 <= x0:
            return
        person = person[y0 - top : y1 - top, x0 - left : x1 - left]
        matte = matte[y0 - top : y1 - top, x0 - left : x1 - left, None]
        under = frame[y0:y1, x0:x1]

        # Light and colour toward the background's, so the paste does not stand out.
        weight = max(float(matte.sum()), 1e-6)
        person_mean = (person * matte).sum(axis=(0, 1)) / weight
        background_mean = under.reshape(-1, 3).mean(axis=0)
        pull = rng.uniform(*self.pasting.colour_match)
        person = person * rng.uniform(*self.pasting.gain) + pull * (background_mean - person_mean)
        if rng.random() < self.pasting.blur_probability:
            person = cv2.GaussianBlur(person, (0, 0), rng.uniform(0.3, 1.0))
        np.clip(person, 0, 255, out=person)
        frame[y0:y1, x0:x1] = under * (1 - matte) + person * matte
        covered = alpha[y0:y1, x0:x1]
        alpha[y0:y1, x0:x1] = 1 - (1 - covered) * (1 - matte[..., 0])

    def draw(
        self, size: tuple[int, int], rng: np.random.Generator, augmentation: PhotoAugmentation
    ) -> tuple[np.ndarray, np.ndarray]:
        frame = self.background(size, rng).astype(np.float32)
        alpha = np.zeros(size, np.float32)
        probabilities = np.asarray(self.pasting.counts, np.float64)
        count = 1 + int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))
        for _ in range(count):
            self.paste(frame, alpha, rng)
        rgb = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
        # The whole frame's damage (noise, JPEG, blur) covers paste and background alike.
        rgb = augmentation.photometric(rgb, rng)
        return rgb, np.rint(alpha * 255).astype(np.uint8)


def person_shares(labels: DecodedSet) -> np.ndarray:
    """Share of each photo the teacher marks as person (probability > 0.5)."""
    return np.array(
        [float((np.asarray(labels.mask(i)) > PERSON_LEVEL).mean()) for i in range(len(labels))]
    )


def _held_out(stem: str, fraction: float) -> bool:
    """The same stable hash as the mask sets' held-out photos (maskfolders.validation_rank)."""
    return int(validation_rank(stem)[:8], 16) < fraction * 2**32


@dataclass
class UnlabelledSplit:
    """The teacher-labelled photos split into nobody / people and train / val by stem hash."""

    nobody_train: DecodedSet
    nobody_val: DecodedSet
    people_train: DecodedSet
    people_val: DecodedSet

    def report(self) -> str:
        return (
            f"photos: {len(self.nobody_train) + len(self.nobody_val)} with nobody "
            f"({len(self.nobody_val)} held out), "
            f"{len(self.people_train) + len(self.people_val)} with a teacher's person "
            f"({len(self.people_val)} held out)"
        )


def split_unlabelled(
    labels: DecodedSet, val_fraction: float, empty_share: float = EMPTY_SHARE
) -> UnlabelledSplit:
    shares = person_shares(labels)
    held = [_held_out(stem, val_fraction) for stem in labels.stems]
    groups: dict[tuple[bool, bool], list[int]] = {
        (e, v): [] for e in (True, False) for v in (True, False)
    }
    for position, (share, val) in enumerate(zip(shares, held, strict=True)):
        groups[(bool(share < empty_share), val)].append(position)
    return UnlabelledSplit(
        nobody_train=labels.subset(groups[(True, False)], "nobody"),
        nobody_val=labels.subset(groups[(True, True)], "nobody-val"),
        people_train=labels.subset(groups[(False, False)], "teacher"),
        people_val=labels.subset(groups[(False, True)], "teacher-val"),
    )


def validation_frames(
    source: PhotoSource | PastedPeople,
    name: str,
    count: int,
    size: tuple[int, int],
    seed: int,
) -> DecodedSet:
    """`count` frames drawn once with a fixed seed and no augmentation but the geometry
    (validation is the same every epoch)."""
    from humanmatting.training.augment import RESIZE_ONLY

    rng = np.random.default_rng([seed, 7919])
    frames = [source.draw(size, rng, RESIZE_ONLY) for _ in range(count)]
    return in_memory_set(
        name, [f"{name}-{i}" for i in range(count)], [f[0] for f in frames], [f[1] for f in frames]
    )
