"""Look at the data before training on it: summary numbers and a figure of samples."""

from __future__ import annotations

import random

import numpy as np

from humanmatting.compose import overlay_mask
from humanmatting.preprocess import load_rgb, nearest_preset
from humanmatting.training.dataset import DatasetIndex, Pair, read_matte


def _sample(pairs: list[Pair], count: int, seed: int) -> list[Pair]:
    return sorted(random.Random(seed).sample(pairs, min(count, len(pairs))))


def dataset_summary(
    index: DatasetIndex, pairs: list[Pair] | None = None, sample: int = 200, seed: int = 0
) -> dict:
    """Counts over all pairs; image size, person share and soft-edge share over a sample."""
    pairs = index.pairs if pairs is None else pairs
    per_group: dict[str, int] = {}
    for pair in pairs:
        per_group[pair.group] = per_group.get(pair.group, 0) + 1
    sizes, person, soft = {}, [], []
    for pair in _sample(pairs, sample, seed):
        alpha = read_matte(index.root / pair.matte)
        key = f"{alpha.shape[1]}x{alpha.shape[0]}"
        sizes[key] = sizes.get(key, 0) + 1
        person.append(float((alpha >= 128).mean()))
        soft.append(float(((alpha > 0) & (alpha < 255)).mean()))
    counts = sorted(per_group.values())
    return {
        "pairs": len(pairs),
        "groups": len(per_group),
        "pairs_per_group": {"min": counts[0], "median": counts[len(counts) // 2], "max": counts[-1]}
        if counts
        else {},
        "sampled": len(person),
        "image_sizes_wxh": sizes,
        "person_share": {"mean": float(np.mean(person)), "min": min(person), "max": max(person)}
        if person
        else {},
        "soft_alpha_share_mean": float(np.mean(soft)) if soft else None,
        "skipped": {reason: len(paths) for reason, paths in index.skipped.items()},
    }


def sample_figure(
    index: DatasetIndex, pairs: list[Pair] | None = None, count: int = 6, seed: int = 0
):
    """Matplotlib figure: image, matte and overlay for `count` random pairs (one column each)."""
    import matplotlib.pyplot as plt

    chosen = _sample(index.pairs if pairs is None else pairs, count, seed)
    figure, axes = plt.subplots(
        3, len(chosen), figsize=(2.2 * len(chosen), 7.5), squeeze=False, constrained_layout=True
    )
    for column, pair in enumerate(chosen):
        rgb = load_rgb(index.root / pair.image)
        alpha = read_matte(index.root / pair.matte)
        height, width = alpha.shape
        preset_h, preset_w = nearest_preset(height, width)
        panels = (
            (rgb, f"{pair.group}\n{width}x{height} (WxH) -> model {preset_h}x{preset_w} (HxW)"),
            (alpha, "matte (alpha)"),
            (overlay_mask(rgb, alpha.astype(np.float32) / 255), "overlay"),
        )
        for row, (picture, title) in enumerate(panels):
            axes[row][column].imshow(picture, cmap="gray" if picture.ndim == 2 else None)
            axes[row][column].set_title(title, fontsize=7)
            axes[row][column].axis("off")
    return figure
