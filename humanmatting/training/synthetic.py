"""A small synthetic dataset in the exact AISegment layout, for tests and CI notebook runs.

Each image is a half-length "person" (head, neck, shoulders and torso reaching the bottom
edge, slightly rotated, its own skin and clothing textures) on a textured background with
distractor shapes; the matte is the anti-aliased silhouette in the alpha channel of an
RGBA PNG, exactly where the real dataset keeps it. Person and background always differ in
brightness by a margin, so a grayscale model can learn the task, but the distractors and
textures keep it from being a threshold.

    python -m humanmatting.training.synthetic OUTDIR
        [--groups 4 --per-group 16 --size 160x120 --defects]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from humanmatting.training.dataset import IMAGE_DIR, MATTE_DIR

SUPERSAMPLE = 4  # silhouettes are drawn at 4x and area-averaged: soft, matte-like edges


def _luma(color: np.ndarray) -> float:
    return float(color @ np.array([0.299, 0.587, 0.114]))


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1], HxW."""
    coarse = rng.uniform(-1, 1, (max(2, height // cells), max(2, width // cells))).astype(
        np.float32
    )
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def _texture(rng: np.random.Generator, height: int, width: int, color: np.ndarray) -> np.ndarray:
    """A coloured surface with blotches and a random grating, HxWx3 float32 in 0..255."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(4, 24)
    grating = np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period)
    shade = rng.uniform(5, 20) * _smooth_noise(rng, height, width, int(rng.integers(4, 16)))
    shade += rng.uniform(0, 15) * grating
    return color[None, None, :] + shade[:, :, None]


def _random_color(rng: np.random.Generator, avoid_luma: float | None = None) -> np.ndarray:
    """An RGB colour; with `avoid_luma`, one whose brightness differs from it by 45+ levels."""
    while True:
        color = rng.uniform(20, 235, 3)
        if avoid_luma is None or abs(_luma(color) - avoid_luma) >= 45:
            return color


def _silhouette(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Half-length figure mask at SUPERSAMPLE x resolution (uint8 0/255)."""
    s = SUPERSAMPLE
    big_h, big_w = height * s, width * s
    mask = np.zeros((big_h, big_w), np.uint8)
    scale = rng.uniform(0.55, 0.9) * big_w
    cx = big_w / 2 + rng.uniform(-0.2, 0.2) * big_w
    head_y = rng.uniform(0.2, 0.38) * big_h
    head_axes = (int(scale * rng.uniform(0.16, 0.2)), int(scale * rng.uniform(0.21, 0.26)))
    cv2.ellipse(mask, (int(cx), int(head_y)), head_axes, 0, 0, 360, 255, -1)
    neck_w = head_axes[0] * rng.uniform(0.5, 0.7)
    shoulder_y = head_y + head_axes[1] * rng.uniform(1.3, 1.6)
    cv2.rectangle(
        mask, (int(cx - neck_w), int(head_y)), (int(cx + neck_w), int(shoulder_y + 10 * s)), 255, -1
    )
    half_shoulders = scale * rng.uniform(0.42, 0.55)
    rounding = int(scale * rng.uniform(0.1, 0.18))
    torso = np.array(
        [
            (cx - half_shoulders + rounding, shoulder_y),
            (cx + half_shoulders - rounding, shoulder_y),
            (cx + half_shoulders * rng.uniform(1.0, 1.15), big_h + 10),
            (cx - half_shoulders * rng.uniform(1.0, 1.15), big_h + 10),
        ],
        np.int32,
    )
    cv2.fillPoly(mask, [torso], 255)
    for side in (-1, 1):  # rounded shoulders
        cv2.ellipse(
            mask,
            (int(cx + side * (half_shoulders - rounding)), int(shoulder_y + rounding)),
            (rounding, rounding),
            0,
            0,
            360,
            255,
            -1,
        )
    cv2.rectangle(
        mask,
        (int(cx - half_shoulders), int(shoulder_y + rounding)),
        (int(cx + half_shoulders), big_h),
        255,
        -1,
    )
    tilt = cv2.getRotationMatrix2D((cx, big_h), rng.uniform(-10, 10), 1.0)
    return cv2.warpAffine(mask, tilt, (big_w, big_h), flags=cv2.INTER_NEAREST)


def _distractors(rng: np.random.Generator, height: int, width: int) -> list[np.ndarray]:
    """Masks (float 0..1) of a few background shapes that are not people."""
    masks = []
    for _ in range(int(rng.integers(1, 4))):
        mask = np.zeros((height, width), np.uint8)
        center = (int(rng.uniform(0, width)), int(rng.uniform(0, height * 0.8)))
        size = (int(rng.uniform(0.05, 0.25) * width), int(rng.uniform(0.05, 0.25) * height))
        if rng.random() < 0.5:
            cv2.ellipse(mask, center, size, rng.uniform(0, 180), 0, 360, 255, -1)
        else:
            cv2.rectangle(mask, center, (center[0] + 2 * size[0], center[1] + 2 * size[1]), 255, -1)
        masks.append(mask.astype(np.float32) / 255)
    return masks


def synthetic_example(
    rng: np.random.Generator, height: int = 160, width: int = 120
) -> tuple[np.ndarray, np.ndarray]:
    """One (HxWx3 uint8 RGB image, HxW uint8 alpha) pair."""
    background_color = _random_color(rng)
    image = _texture(rng, height, width, background_color)
    for mask in _distractors(rng, height, width):
        patch = _texture(rng, height, width, _random_color(rng))
        image = image * (1 - mask[:, :, None]) + patch * mask[:, :, None]

    silhouette = _silhouette(rng, height, width)
    alpha = cv2.resize(silhouette, (width, height), interpolation=cv2.INTER_AREA)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.6)

    # The figure: skin-toned head and neck above, clothing below the shoulders.
    background_luma = _luma(background_color)
    skin = _random_color(rng, background_luma)
    clothes = _random_color(rng, background_luma)
    figure = _texture(rng, height, width, clothes)
    rows = np.arange(height)[:, None, None]
    head_rows = np.nonzero(alpha.max(axis=1) > 0)[0]
    top = head_rows[0] if len(head_rows) else 0
    shoulder_row = top + int(rng.uniform(0.22, 0.3) * height)
    skin_layer = _texture(rng, height, width, skin)
    figure = np.where(rows < shoulder_row, skin_layer, figure)

    weight = alpha.astype(np.float32)[:, :, None] / 255
    image = image * (1 - weight) + figure * weight
    image += rng.normal(0, 3, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), alpha


def _write_pair(
    root: Path, group: str, clip: str, name: str, rgb: np.ndarray, alpha: np.ndarray
) -> tuple[Path, Path]:
    image_path = root / IMAGE_DIR / group / f"clip_{clip}" / f"{name}.jpg"
    matte_path = root / MATTE_DIR / group / f"matting_{clip}" / f"{name}.png"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    matte_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(image_path, quality=92)
    # Like AISegment: the cut-out person in RGB, the matte in alpha.
    Image.fromarray(np.dstack([rgb, alpha])).save(matte_path)
    return image_path, matte_path


def write_synthetic_dataset(
    root: str | Path,
    groups: int = 4,
    per_group: int = 16,
    size: tuple[int, int] = (160, 120),
    seed: int = 0,
    defects: bool = False,
) -> dict[str, list[str]]:
    """Write `groups` x `per_group` pairs under `root`; returns what was written, by kind.

    With `defects`, also writes one file of each kind the index must skip: a `._` file,
    an image without matte, a matte without image, a truncated JPEG (with its matte) and a
    matte without alpha (with its image). Keys of the result are the relative paths of
    the good pairs ("pairs") and of each defect.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    height, width = size
    written: dict[str, list[str]] = {"pairs": []}
    for group_index in range(groups):
        group = str(1803150000 + 1111 * group_index)
        clip = f"{group_index % 2:08d}"
        for item in range(per_group):
            rgb, alpha = synthetic_example(rng, height, width)
            image_path, _ = _write_pair(root, group, clip, f"{group}-{item:08d}", rgb, alpha)
            written["pairs"].append(image_path.relative_to(root).as_posix())
    if defects:
        group, clip = "1803999999", "00000000"
        rgb, alpha = synthetic_example(rng, height, width)
        image, matte = _write_pair(root, group, clip, "hidden", rgb, alpha)
        hidden = image.with_name("._hidden.jpg")
        hidden.write_bytes(b"\x00\x05\x16\x07" + bytes(100))  # AppleDouble header
        written["hidden"] = [hidden.relative_to(root).as_posix()]
        written["pairs"].append(image.relative_to(root).as_posix())

        image, matte = _write_pair(root, group, clip, "no-matte", rgb, alpha)
        matte.unlink()
        written["image_without_matte"] = [image.relative_to(root).as_posix()]

        image, matte = _write_pair(root, group, clip, "no-image", rgb, alpha)
        image.unlink()
        written["matte_without_image"] = [matte.relative_to(root).as_posix()]

        image, matte = _write_pair(root, group, clip, "truncated", rgb, alpha)
        image.write_bytes(image.read_bytes()[: image.stat().st_size // 3])
        written["truncated_image"] = [image.relative_to(root).as_posix()]

        image, matte = _write_pair(root, group, clip, "opaque", rgb, alpha)
        Image.fromarray(rgb).save(matte)
        written["matte_without_alpha"] = [matte.relative_to(root).as_posix()]
    return written


def _size(text: str) -> tuple[int, int]:
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--groups", type=int, default=4, help="shoot groups (default 4)")
    parser.add_argument("--per-group", type=int, default=16, help="pairs per group (default 16)")
    parser.add_argument("--size", type=_size, default=(160, 120), help="HxW (default 160x120)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--defects", action="store_true", help="add files the index must skip")
    args = parser.parse_args(argv)
    written = write_synthetic_dataset(
        args.out_dir, args.groups, args.per_group, args.size, args.seed, args.defects
    )
    print(f"wrote {len(written['pairs'])} pairs to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
