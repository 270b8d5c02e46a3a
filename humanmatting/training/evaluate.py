"""Evaluate a checkpoint or an exported model folder on a split: metrics.json + worst cases.

    humanmatting evaluate --model dark-light --weights runs/dark-light --data DIR \\
        [--split val] [--split-lists LISTS_DIR] [--backend litert|keras] [--out DIR]
    python -m humanmatting.training.evaluate --model dark-light --weights models/dark-light \\
        --data ../shared/datasets/eg1800          # a mask-folder set: its test.txt

`--data` is the AISegment folder (splits val, train, all, as in training) or one
mask-folder set (humanmatting.training.maskfolders; splits test, the default, train, all).

`--weights` is a training checkpoint (.keras), a run folder (its best checkpoint) or a
model folder (humanmatting.json; LiteRT by default). Each image goes through the runtime's
own preprocessing at the size the runtime would choose (nearest aspect preset, or
`--long-side`); the target is the matte resized the same way, thresholded at 1/2, as in
training. Writes metrics.json (2-class mIoU and person IoU over all pixels, per-image
statistics, model speed), per_image.csv and worst.png (the lowest person IoUs).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from humanmatting.command import run_command
from humanmatting.preprocess import load_rgb, model_input_size, prepare_input, resize
from humanmatting.specs import MODEL_SPECS, get_spec
from humanmatting.training.dataset import index_dataset, read_matte, split_pairs
from humanmatting.training.maskfolders import (
    IMAGES_DIR,
    SPLIT_FILES,
    index_mask_folder,
    is_mask_folder,
    mask_folder_sets_in,
    read_mask,
)
from humanmatting.training.metrics import confusion, ious
from humanmatting.training.pipeline import PERSON_THRESHOLD
from humanmatting.weights import is_model_folder


@dataclass(frozen=True)
class Example:
    """One evaluated photo: its name in per_image.csv and worst.png, photo and truth paths."""

    name: str
    image: Path
    truth: Path


def read_aisegment_truth(example: Example) -> np.ndarray:
    return read_matte(example.truth)


def read_mask_folder_truth(example: Example) -> np.ndarray:
    """The mask, turned as `load_rgb` turns the photo (EXIF orientation)."""
    from humanmatting.training.cache import orient_like_photo

    return orient_like_photo(read_mask(example.truth), str(example.image))


def make_predictor(model_name: str, weights: str | os.PathLike, backend: str = "litert"):
    """(batch -> probabilities, description) for a checkpoint, run folder or model folder."""
    weights = Path(weights)
    if is_model_folder(weights) or is_model_folder(weights / model_name):
        from humanmatting.models.keras_backend import KerasBackend
        from humanmatting.runtime import load_matter

        runner = KerasBackend if backend == "keras" else backend
        matter = load_matter(model_name, weights=weights, backend=runner, download=False)
        return matter.backend, {"weights": str(matter.folder), "backend": backend}
    from humanmatting.training.networks import best_checkpoint, load_checkpoint

    checkpoint = best_checkpoint(weights)
    model = load_checkpoint(checkpoint)
    return model.predict_on_batch, {
        "weights": str(checkpoint),
        "backend": "keras checkpoint",
    }


def _stats(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, np.float64)
    return {
        "mean": float(array.mean()),
        "median": float(np.median(array)),
        "p05": float(np.percentile(array, 5)),
        "min": float(array.min()),
        "max": float(array.max()),
    }


def _mask_folder_examples(
    data: Path, split: str, verify: bool, progress: bool
) -> tuple[list[Example], dict]:
    """The pairs of `split` of one mask-folder set ("all": train and test)."""
    if split != "all" and split not in SPLIT_FILES:
        raise ValueError(
            f"a mask-folder set has the splits {', '.join(SPLIT_FILES)} or all, not {split!r}"
        )
    examples, skipped = [], {}
    for name in SPLIT_FILES if split == "all" else (split,):
        found = index_mask_folder(data, name, verify=verify, progress=progress)
        print(found.report(), flush=True)
        examples += [
            Example(f"{IMAGES_DIR}/{Path(pair.image).name}", Path(pair.image), Path(pair.mask))
            for pair in found.pairs
        ]
        for reason, stems in found.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + len(stems)
    info = {"data": str(data), "split": f"{data.name} {split}", "set": data.name}
    return examples, {**info, "skipped": skipped}


def evaluate(
    model_name: str,
    weights: str | os.PathLike,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    split: str | None = None,
    split_lists: str | os.PathLike | None = None,
    val_fraction: float = 0.13,
    split_seed: int = 0,
    backend: str = "litert",
    long_side: int | None = None,
    max_images: int | None = None,
    worst: int = 6,
    verify: bool = True,
    progress: bool = True,
) -> dict:
    """Run the model over a split; write metrics.json, per_image.csv, worst.png; return metrics.

    `data`: the AISegment folder (`split` val by default, or train or all; split_lists,
    val_fraction and split_seed as in training) or one mask-folder set (`split` test by
    default, or train or all: the set's own lists)."""
    spec = get_spec(model_name)
    out_dir = Path(out_dir)
    examples, data_info, read_truth, split = _examples_of(
        Path(data), split, split_lists, val_fraction, split_seed, verify, progress
    )
    examples = examples[:max_images] if max_images else examples
    if not examples:
        raise ValueError(f"No images to evaluate in {data} ({split})")
    out_dir.mkdir(parents=True, exist_ok=True)
    predict, source = make_predictor(spec.name, weights, backend)
    rows, total = _score(examples, spec, predict, long_side, read_truth, progress)
    ranked = sorted(rows, key=lambda row: row["person_iou"])
    metrics = _summary(spec, source, data_info, rows, total, long_side, ranked[:worst])
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    with open(out_dir / "per_image.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    by_name = {example.name: example for example in examples}
    worst_cases_figure(
        [by_name[row["image"]] for row in ranked[:worst]],
        spec,
        predict,
        long_side,
        out_dir / "worst.png",
        scores={row["image"]: row["person_iou"] for row in ranked[:worst]},
        read_truth=read_truth,
    )
    print(
        f"{spec.name} on {len(rows)} {metrics['split']} images: mIoU "
        f"{metrics['mean_iou_2class']:.4f}, person IoU {metrics['person_iou']:.4f}; model "
        f"{metrics['speed']['model_ms_median']:.1f} ms/image -> {out_dir / 'metrics.json'}",
        flush=True,
    )
    return metrics


def _examples_of(
    data: Path,
    split: str | None,
    split_lists: str | os.PathLike | None,
    val_fraction: float,
    split_seed: int,
    verify: bool,
    progress: bool,
) -> tuple[list[Example], dict, Callable[[Example], np.ndarray], str]:
    """(examples, what data and split they are, how to read their truth, the split) of a
    mask-folder set or an AISegment folder."""
    if is_mask_folder(data):
        split = split or "test"
        examples, data_info = _mask_folder_examples(data, split, verify, progress)
        return examples, data_info, read_mask_folder_truth, split
    if sets := [path.name for path in mask_folder_sets_in(data)]:
        raise ValueError(
            f"{data} holds mask-folder sets ({', '.join(sets)}): evaluate one at a time, "
            f"e.g. --data {data / sets[0]}"
        )
    split = split or "val"
    index = index_dataset(data, verify=verify, progress=progress)
    print(index.report(), flush=True)
    if split == "all":
        pairs = index.pairs
    elif split in ("train", "val"):
        train_pairs, val_pairs, _ = split_pairs(index, split_lists, val_fraction, split_seed)
        pairs = {"train": train_pairs, "val": val_pairs}[split]
    else:
        raise ValueError(f"AISegment splits are val, train and all, not {split!r}")
    examples = [
        Example(pair.image, index.root / pair.image, index.root / pair.matte) for pair in pairs
    ]
    return examples, {"data": str(index.root), "split": split}, read_aisegment_truth, split


def _score(
    examples, spec, predict, long_side, read_truth, progress
) -> tuple[list[dict], np.ndarray]:
    """Per-image rows (IoUs, model ms) and the confusion matrix summed over all images."""
    total = np.zeros((2, 2), np.int64)
    rows, seen_shapes = [], set()
    for example in tqdm(
        examples, desc=f"evaluating {spec.name}", unit="image", disable=not progress
    ):
        rgb = load_rgb(example.image)
        size = model_input_size(*rgb.shape[:2], long_side)
        batch = prepare_input(rgb, spec.channels, size)
        if size not in seen_shapes:  # first call per shape traces or allocates: not timed
            predict(batch)
            seen_shapes.add(size)
        started = time.perf_counter()
        probabilities = np.asarray(predict(batch))[0]
        model_ms = (time.perf_counter() - started) * 1e3
        truth = resize(read_truth(example), size) >= PERSON_THRESHOLD
        predicted = probabilities[..., 1] > probabilities[..., 0]
        matrix = confusion(truth, predicted)
        total += matrix
        rows.append({"image": example.name, **ious(matrix), "model_ms": model_ms})
    return rows, total


def _summary(spec, source, data_info, rows, total, long_side, worst_rows) -> dict:
    """metrics.json: pooled and per-image IoUs, speed, the worst images."""
    overall = ious(total)
    model_ms = [row["model_ms"] for row in rows]
    return {
        "model": spec.name,
        **source,
        **data_info,
        "images": len(rows),
        "input_size": f"long side {long_side}" if long_side else "nearest aspect preset",
        "mean_iou_2class": overall["mean_iou"],
        "person_iou": overall["person_iou"],
        "background_iou": overall["background_iou"],
        "per_image": {
            "person_iou": _stats([row["person_iou"] for row in rows]),
            "mean_iou": _stats([row["mean_iou"] for row in rows]),
        },
        "speed": {
            "model_ms_median": float(np.median(model_ms)),
            "model_ms_mean": float(np.mean(model_ms)),
            "images_per_s": float(1e3 / np.mean(model_ms)),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "note": "model call only, batch 1, after one warm-up call per input shape",
        },
        "worst": [
            {key: row[key] for key in ("image", "person_iou", "mean_iou")} for row in worst_rows
        ],
    }


def worst_cases_figure(
    examples, spec, predict, long_side, path, scores, read_truth=read_aisegment_truth
) -> Path:
    """Rows of image | truth | predicted alpha | errors (red: false person, blue: missed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        len(examples), 4, figsize=(9, 2.6 * len(examples)), squeeze=False, constrained_layout=True
    )
    for row, example in enumerate(examples):
        rgb = load_rgb(example.image)
        size = model_input_size(*rgb.shape[:2], long_side)
        probabilities = np.asarray(predict(prepare_input(rgb, spec.channels, size)))[0]
        truth = resize(read_truth(example), size) >= PERSON_THRESHOLD
        predicted = probabilities[..., 1] > probabilities[..., 0]
        shown = resize(rgb, size)
        errors = shown.copy() // 2
        errors[predicted & ~truth] = (255, 40, 40)
        errors[~predicted & truth] = (40, 80, 255)
        panels = (
            (shown, f"{Path(example.name).name}"),
            (truth, "truth"),
            (probabilities[..., 1], "predicted alpha"),
            (errors, f"person IoU {scores[example.name]:.3f}\nred: false person, blue: missed"),
        )
        for axis, (picture, title) in zip(axes[row], panels, strict=True):
            axis.imshow(picture, cmap="gray", vmin=0, vmax=1 if picture.ndim == 2 else None)
            axis.set_title(title, fontsize=8)
            axis.axis("off")
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return Path(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("--model", required=True, choices=list(MODEL_SPECS))
    parser.add_argument("--weights", required=True, type=Path, help=".keras, run or model folder")
    parser.add_argument(
        "--data", required=True, type=Path, help="AISegment dataset folder or one mask-folder set"
    )
    parser.add_argument("--out", type=Path, help="output folder (default: evaluation/MODEL)")
    parser.add_argument(
        "--split",
        choices=("val", "train", "test", "all"),
        help="default: val (AISegment), test (a mask-folder set's test.txt)",
    )
    parser.add_argument("--split-lists", type=Path, help="folder with {x,y}_{train,val}.txt")
    parser.add_argument("--val-fraction", type=float, default=0.13)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--backend", choices=("litert", "keras"), default="litert")
    parser.add_argument("--long-side", type=int, help="model input long side (default: preset)")
    parser.add_argument("--max-images", type=int)
    parser.add_argument("--worst", type=int, default=6, help="rows in worst.png")
    parser.add_argument("--no-verify", action="store_true", help="skip decoding every pair")
    parser.add_argument(
        "--attach", action="store_true", help="also copy metrics.json into the model folder"
    )


def run(args: argparse.Namespace) -> int:
    out_dir = args.out or Path("evaluation") / args.model
    metrics = evaluate(
        args.model,
        args.weights,
        args.data,
        out_dir,
        split=args.split,
        split_lists=args.split_lists,
        val_fraction=args.val_fraction,
        split_seed=args.split_seed,
        backend=args.backend,
        long_side=args.long_side,
        max_images=args.max_images,
        worst=args.worst,
        verify=not args.no_verify,
    )
    if args.attach:
        if metrics["backend"] == "keras checkpoint":
            raise ValueError("--attach needs --weights to be an exported model folder")
        from humanmatting.training.export import attach_metrics

        print(f"attached {attach_metrics(metrics['weights'], out_dir / 'metrics.json')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.training.evaluate`: the same command as `humanmatting evaluate`."""
    return run_command("humanmatting.training.evaluate", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
