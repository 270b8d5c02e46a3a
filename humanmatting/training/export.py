"""Export a trained checkpoint as the core library's model folder (Keras 3 + TFLite + JSON).

    python -m humanmatting.training.export runs/dark-light --model dark-light --out models/ \\
        [--metrics evaluation/dark-light/metrics.json] [--variants fp16,int8 --calibration-data DIR]

Writes OUT/MODEL/: ACNet branches fused and any training input scale folded into the first
convolution (humanmatting.training.networks.inference_model), then
`humanmatting.models.export.save_model_folder` (config.json, metadata.json, model.weights.h5,
model*.tflite, humanmatting.json), plus metrics.json when given. Before returning it loads the
folder back through the runtime (`load_matter`, Keras and LiteRT) and checks that it computes what
the checkpoint computes; the differences are recorded in humanmatting.json under "export_check". """

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from humanmatting.command import run_command
from humanmatting.errors import ActionableError
from humanmatting.folder import ExportCheck, FolderDescription, read_metrics, write_metrics
from humanmatting.preprocess import prepare_input
from humanmatting.specs import MODEL_SPECS, TFLITE_FILES, get_spec

CHECK_SIZES = ((128, 96), (96, 160))  # two shapes: the TFLite file must serve any H, W
CHECK_TOLERANCE = 1e-3  # max |probability difference|; fusion and TFLite give ~1e-5


class ExportMismatchError(ActionableError, RuntimeError):
    """The exported model does not compute what the trained checkpoint computes."""


def check_images(count: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Deterministic synthetic portraits for the export check (no dataset needed)."""
    from humanmatting.training.synthetic import synthetic_example

    rng = np.random.default_rng(seed)
    return [synthetic_example(rng, 160, 120)[0] for _ in range(count)]


def compare_with_folder(trained, model_name: str, folder: Path, images=None) -> dict[str, float]:
    """Max |p_exported - p_trained| over check images, for the Keras and LiteRT backends."""
    from humanmatting.models.keras_backend import KerasBackend
    from humanmatting.runtime import load_matter

    spec = get_spec(model_name)
    images = images if images is not None else check_images()
    worst = {}
    for backend, runner in (("keras", KerasBackend), ("litert", "litert")):
        # fp32 explicitly: the int8 default variant is measured apart (quantize agreement).
        matter = load_matter(
            spec.name, weights=folder, backend=runner, download=False, variant="fp32"
        )
        difference = 0.0
        for rgb, size in zip(images, CHECK_SIZES, strict=False):
            batch = prepare_input(rgb, spec.channels, size)
            expected = np.asarray(trained(batch, training=False), np.float32)
            difference = max(difference, float(np.abs(matter.backend(batch) - expected).max()))
        worst[backend] = difference
    return worst


def training_photos(data: str | os.PathLike, count: int) -> list[np.ndarray]:
    """`count` training photos (evenly spaced; never a test or validation photo of the
    AISegment author's split) for int8 calibration: from the train.txt of mask-folder sets
    (a set or a folder of sets, an equal share each), or from an AISegment folder."""
    from humanmatting.models.quantize import evenly_spaced_photos
    from humanmatting.training.maskfolders import (
        index_mask_folder,
        mask_folder_sets_in,
        training_sets_in,
    )

    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"Calibration data folder {data} does not exist")
    sets = training_sets_in(data)
    if not mask_folder_sets_in(data):
        from humanmatting.training.dataset import index_dataset

        index = index_dataset(data, verify=False, progress=False)
        return evenly_spaced_photos([index.root / pair.image for pair in index.pairs], count)
    if not sets:
        raise ValueError(f"{data} holds no mask-folder set with a train.txt to calibrate on")
    photos = []
    for number, folder in enumerate(sets):
        pairs = index_mask_folder(folder, "train", verify=False, progress=False).pairs
        share = count // len(sets) + (number < count % len(sets))
        photos += evenly_spaced_photos([pair.image for pair in pairs], share)
    return photos


def _training_info(checkpoint: Path) -> dict:
    from humanmatting.training.networks import CHECKPOINT_PATTERN

    info: dict = {"checkpoint": checkpoint.name}
    match = CHECKPOINT_PATTERN.match(checkpoint.name)
    if match:
        info.update(epoch=int(match["epoch"]), val_miou=float(match["miou"]))
    run_file = checkpoint.parent / "run.json"
    if run_file.is_file():
        run = json.loads(run_file.read_text())
        keys = (
            "recipe",
            "split",
            "epochs",
            "epochs_done",
            "layout",
            "sets",
            "samples_per_epoch",
            "presets",
            "val_size",
            "best_val_miou",
            "wall_seconds_total",
            "parameters",
            "script",
            "init_from",
            "distill_from",
            "freeze_norms",
        )
        info.update({key: run[key] for key in keys if key in run})
    return info


def export_model(
    weights: str | os.PathLike,
    model_name: str,
    out_dir: str | os.PathLike,
    metrics: str | os.PathLike | None = None,
    variants: tuple[str, ...] = (),
    calibration_data: str | os.PathLike | None = None,
    calibration_count: int = 64,
    check: bool = True,
) -> Path:
    """Write OUT/MODEL from a checkpoint or run folder; returns the model folder."""
    from humanmatting.models.export import save_model_folder
    from humanmatting.models.quantize import Calibration, quantize_folder
    from humanmatting.training.networks import (
        best_checkpoint,
        float32_twin,
        inference_model,
        load_checkpoint,
    )

    spec = get_spec(model_name)
    for variant in variants:
        if variant not in TFLITE_FILES or variant == "fp32":
            raise ValueError(f"variant must be fp16 or int8, not {variant!r} (fp32 is always made)")
    if "int8" in variants and calibration_data is None:
        raise ValueError("int8 needs --calibration-data (the training data folder)")
    checkpoint = best_checkpoint(weights)
    trained = load_checkpoint(checkpoint)
    model = inference_model(trained, spec.name)
    folder = Path(out_dir) / spec.name
    save_model_folder(
        model,
        spec.name,
        folder,
        source="trained with this project's training pipeline",
        training=_training_info(checkpoint),
    )
    for curves in ("curves.png", "curves.svg"):  # the run's curves, shown in the model card
        if (checkpoint.parent / curves).is_file():
            shutil.copyfile(checkpoint.parent / curves, folder / curves)
    if variants:
        # The one int8 path (humanmatting.models.quantize), calibrated on training photos of people.
        calibration = Calibration()
        if "int8" in variants:
            photos = training_photos(calibration_data, calibration_count)
            calibration = Calibration(
                tuple(photos), f"{len(photos)} training photos from {calibration_data}"
            )
        quantize_folder(folder, variants=tuple(variants), calibration=calibration)
    if metrics is not None:
        attach_metrics(folder, metrics)
    if check:
        differences = compare_with_folder(float32_twin(trained, spec.name), spec.name, folder)
        description = FolderDescription.load(folder, spec)
        description.export_check = ExportCheck(
            max_probability_difference=differences,
            images="humanmatting.training.export.check_images()",
            sizes=[list(size) for size in CHECK_SIZES],
        )
        description.save(folder)
        if max(differences.values()) > CHECK_TOLERANCE:
            raise ExportMismatchError(
                f"Exported {folder} differs from {checkpoint} by {differences} "
                f"(tolerance {CHECK_TOLERANCE}); do not publish it."
            )
    print(f"{spec.name}: wrote {folder} from {checkpoint}", flush=True)
    return folder


def attach_metrics(folder: str | os.PathLike, metrics: str | os.PathLike) -> Path:
    """Copy an evaluation's metrics.json into a model folder (the Hub scripts read it)."""
    FolderDescription.load(folder)  # a model folder, readable by this version
    if not Path(metrics).is_file():
        raise FileNotFoundError(f"No metrics file at {metrics}")
    return write_metrics(folder, read_metrics(metrics))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("weights", type=Path, help="checkpoint (.keras) or run folder (best)")
    parser.add_argument("--model", required=True, choices=list(MODEL_SPECS))
    parser.add_argument("--out", type=Path, default=Path("models"), help="writes OUT/MODEL/")
    parser.add_argument(
        "--metrics", type=Path, help="metrics.json from humanmatting.training.evaluate"
    )
    parser.add_argument("--variants", default="", help="extra TFLite variants: fp16,int8")
    parser.add_argument("--calibration-data", type=Path, help="dataset folder for int8")
    parser.add_argument("--calibration-count", type=int, default=64)


def run(args: argparse.Namespace) -> int:
    export_model(
        args.weights,
        args.model,
        args.out,
        metrics=args.metrics,
        variants=tuple(v for v in args.variants.split(",") if v),
        calibration_data=args.calibration_data,
        calibration_count=args.calibration_count,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.training.export`: the same command as `humanmatting export`."""
    return run_command("humanmatting.training.export", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
