"""Make a model folder's fast LiteRT variants (fp16, int8) and measure how well they agree.

    python -m humanmatting.models.quantize MODEL_DIR [--calibration-dir DIR] [--count 64]

Writes MODEL_DIR/model.tflite (fp32, re-exported with the fast graph), model-fp16.tflite
and model-int8.tflite, and records in humanmatting.json how int8 was calibrated and how
each variant agrees with fp32 on held-out photos. Needs TensorFlow (the runtime does not).

int8 here is full-integer (XNNPACK's int8 kernels), with three choices that matter:

- calibration on real photos at every aspect preset the runtime uses: scikit-image's
  sample photos (and, with --calibration-dir, your own, e.g. AISegment validation images);
  matplotlib's grace_hopper and scikit-image's camera are held out to measure agreement;
- cross-layer equalization (`equalize_channels`): per-channel scales moved between a conv
  and the convs that read it, exact in float, so every channel uses the int8 range;
- the first conv kept in float (see `humanmatting.models.export.convert_to_tflite`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from humanmatting.folder import (
    Agreement,
    CalibrationRecord,
    FolderDescription,
    VariantAgreement,
    VariantRecord,
)
from humanmatting.preprocess import (
    ASPECT_PRESETS,
    IMAGE_SUFFIXES,
    load_rgb,
    model_input_size,
    prepare_input,
)
from humanmatting.specs import TFLITE_FILES, get_spec

# scikit-image sample photos used for calibration (camera is held out, with grace_hopper).
CALIBRATION_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "stereo_motorcycle",
    "hubble_deep_field",
    "retina",
    "immunohistochemistry",
    "coins",
    "moon",
    "brick",
    "grass",
    "gravel",
    "page",
    "clock",
    "cell",
    "colorwheel",
)
HELD_OUT_PHOTOS = ("grace_hopper", "camera")
THRESHOLD = 0.5  # alpha > 0.5 is "person" for the IoU
EQUALIZE_STRENGTH = 0.5  # 0: no equalization; 1: every channel scaled to the largest range


def sample_photo(name: str) -> np.ndarray:
    """A named sample photo as HxWx3 uint8: matplotlib's grace_hopper, or scikit-image's."""
    if name == "grace_hopper":
        import matplotlib.cbook

        return load_rgb(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    try:
        import skimage.data
    except ImportError:
        raise ImportError(
            "Calibration and agreement use scikit-image's sample photos: "
            "pip install scikit-image (or pass --calibration-dir with your own photos)."
        ) from None
    photo = getattr(skimage.data, name)()
    return load_rgb(photo[0] if name == "stereo_motorcycle" else photo)


def crop_to_aspect(rgb: np.ndarray, ratio: float) -> np.ndarray:
    """The centred crop of `rgb` with width / height = `ratio`."""
    height, width = rgb.shape[:2]
    if width / height > ratio:
        new_width = max(1, round(height * ratio))
        left = (width - new_width) // 2
        return rgb[:, left : left + new_width]
    new_height = max(1, round(width / ratio))
    top = (height - new_height) // 2
    return rgb[top : top + new_height]


def preset_views(
    photos: Iterable[np.ndarray], channels: int, flips: bool = False
) -> list[np.ndarray]:
    """Model inputs of every photo cropped to every aspect preset (and mirrored)."""
    inputs = []
    for rgb in photos:
        for ratio, size in ASPECT_PRESETS.items():
            crop = crop_to_aspect(rgb, ratio)
            for mirrored in (False, True) if flips else (False,):
                view = np.ascontiguousarray(crop[:, ::-1]) if mirrored else crop
                inputs.append(prepare_input(view, channels, size))
    return inputs


def evenly_spaced_photos(paths: Sequence[str | os.PathLike], count: int) -> list[np.ndarray]:
    """Up to `count` of `paths` (evenly spaced, in the order given), loaded as HxWx3 uint8: the one
    sampler of calibration photos (humanmatting.training.export takes training photos with it)."""
    step = max(1, len(paths) // max(1, count))
    return [load_rgb(path) for path in list(paths)[::step][:count]]


def folder_photos(folder: str | os.PathLike, count: int) -> list[np.ndarray]:
    """Up to `count` photos from a folder (recursively; evenly spaced in name order).

    An AISegment root is read from its `clip_img` folder, so mattes are never taken
    for photos.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Calibration folder {folder} does not exist.")
    root = folder / "clip_img" if (folder / "clip_img").is_dir() else folder
    paths = sorted(
        path
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and "matting" not in path.parts
    )
    if not paths:
        raise FileNotFoundError(f"No images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {root}.")
    return evenly_spaced_photos(paths, count)


@dataclass(frozen=True)
class Calibration:
    """What int8 is calibrated on: the sample photos (CALIBRATION_PHOTOS) at every aspect
    preset, plus `photos` (HxWx3 uint8, for example training photos of people) each at the
    size the runtime gives it; `source` says where those came from (humanmatting.json)."""

    photos: tuple[np.ndarray, ...] = ()
    source: str | None = None

    @classmethod
    def from_folder(cls, folder: str | os.PathLike | None, count: int = 64) -> Calibration:
        """The sample photos plus up to `count` photos of `folder` (none when None)."""
        if folder is None:
            return cls()
        return cls(tuple(folder_photos(folder, count)), str(folder))

    def inputs(self, channels: int) -> list[np.ndarray]:
        inputs = preset_views((sample_photo(name) for name in CALIBRATION_PHOTOS), channels)
        for rgb in self.photos:
            inputs.append(prepare_input(rgb, channels, model_input_size(*rgb.shape[:2])))
        return inputs

    def record(self) -> CalibrationRecord:
        presets = len(ASPECT_PRESETS)
        return CalibrationRecord(
            sample_photos=list(CALIBRATION_PHOTOS),
            aspect_presets=presets,
            folder_photos=len(self.photos),
            inputs=len(CALIBRATION_PHOTOS) * presets + len(self.photos),
            photos_from=self.source,
        )


def held_out_inputs(channels: int, long_side: int | None = None) -> list[np.ndarray]:
    """Agreement inputs: held-out photos at every aspect preset, mirrored too (28 views);
    with `long_side`, each view scaled to that long side instead (the any-size graph)."""
    if long_side is None:
        return preset_views((sample_photo(name) for name in HELD_OUT_PHOTOS), channels, True)
    inputs = []
    for ratio in ASPECT_PRESETS:
        for name in HELD_OUT_PHOTOS:
            crop = crop_to_aspect(sample_photo(name), ratio)
            for view in (crop, np.ascontiguousarray(crop[:, ::-1])):
                size = model_input_size(*view.shape[:2], long_side)
                inputs.append(prepare_input(view, channels, size))
    return inputs


def mask_agreement(reference: list[np.ndarray], candidate: list[np.ndarray]) -> dict[str, float]:
    """IoU of the alpha > 0.5 masks (pooled over all pixels, per-view mean and minimum) and
    mean absolute alpha difference (mean and worst view)."""
    intersection = union = 0
    ious, differences = [], []
    for expected, actual in zip(reference, candidate, strict=True):
        mask_expected, mask_actual = expected > THRESHOLD, actual > THRESHOLD
        both = int(np.count_nonzero(mask_expected & mask_actual))
        either = int(np.count_nonzero(mask_expected | mask_actual))
        intersection, union = intersection + both, union + either
        ious.append(both / either if either else 1.0)
        differences.append(float(np.abs(expected - actual).mean()))
    return {
        "iou": intersection / union if union else 1.0,
        "mean_iou": float(np.mean(ious)),
        "min_iou": float(np.min(ious)),
        "mean_abs_difference": float(np.mean(differences)),
        "max_view_abs_difference": float(np.max(differences)),
    }


def predictions(model_path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Person probability of each input with the LiteRT runtime (as the app runs it)."""
    from humanmatting.runtime import LiteRTBackend

    backend = LiteRTBackend(model_path, max_shapes=64)
    return [np.array(backend.person_probability(x)) for x in inputs]


def agreement_report(folder: Path, variants: Iterable[str]) -> dict[str, dict]:
    """Each variant against the folder's fp32 TFLite on held-out photos: at the aspect
    presets (the fixed-shape graphs) and at long side 320 (the any-size graph)."""
    from humanmatting.runtime import LiteRTBackend

    channels = LiteRTBackend(folder / TFLITE_FILES["fp32"]).channels
    report = {}
    for label, long_side in (("presets", None), ("long_side_320", 320)):
        inputs = held_out_inputs(channels, long_side)
        reference = predictions(folder / TFLITE_FILES["fp32"], inputs)
        for variant in variants:
            candidate = predictions(folder / TFLITE_FILES[variant], inputs)
            report.setdefault(variant, {})[label] = mask_agreement(reference, candidate)
    return report


# --- cross-layer equalization -------------------------------------------------------------


def _inbound_layers(layer_config: dict) -> list[str]:
    """Names of the layers whose outputs a layer reads, in order (Keras 3 functional config)."""
    names: list[str] = []

    def visit(item) -> None:
        if isinstance(item, dict):
            history = item.get("config", {}).get("keras_history") if "config" in item else None
            if item.get("class_name") == "__keras_tensor__" and history:
                names.append(history[0])
                return
            for value in item.values():
                visit(value)
        elif isinstance(item, (list, tuple)):
            for value in item:
                visit(value)

    visit(layer_config.get("inbound_nodes", []))
    return names


def equalize_channels(model, calibration: list[np.ndarray], strength: float = EQUALIZE_STRENGTH):
    """Cross-layer equalization (Nagel et al. 2019), in place; returns the model.

    BatchNormalization is folded into the conv before it first. Then for each conv whose
    output goes through ReLU (and pooling, upsampling, concatenation: all commute with a
    positive per-channel scale) only into other convs, output channel c is multiplied by
    s_c = (max range / range_c) ** strength and the readers' input weights for c divided
    by s_c. The float function is unchanged; int8's per-tensor activation scale then
    wastes fewer levels on small channels. Ranges come from `calibration`.
    """
    import keras

    layers = keras.layers
    config = {layer["name"]: layer for layer in model.get_config()["layers"]}
    readers: dict[str, list[str]] = {name: [] for name in config}
    for name, layer_config in config.items():
        for source in _inbound_layers(layer_config):
            readers[source].append(name)
    by_name = {layer.name: layer for layer in model.layers}
    pass_through = (layers.MaxPooling2D, layers.UpSampling2D, layers.ReLU)

    def is_conv(layer) -> bool:
        return isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.Conv2DTranspose)

    def only(name: str):
        return by_name[readers[name][0]] if len(readers[name]) == 1 else None

    def convs_reading(name: str, offset: int = 0) -> list[tuple[object, int]] | None:
        """(conv, input-channel offset) of every conv reached from `name`; None if the
        output also reaches anything a per-channel scale does not commute with."""
        found: list[tuple[object, int]] = []
        if not readers[name]:
            return None  # a model output
        for reader_name in readers[name]:
            reader = by_name[reader_name]
            if is_conv(reader):
                found.append((reader, offset))
                continue
            if isinstance(reader, layers.Concatenate):
                inputs = _inbound_layers(config[reader_name])
                position = inputs.index(name)
                start = sum(by_name[source].output.shape[-1] for source in inputs[:position])
                more = convs_reading(reader_name, offset + start)
            elif isinstance(reader, pass_through):
                more = convs_reading(reader_name, offset)
            else:
                more = None
            if more is None:
                return None
            found += more
        return found

    producers = []  # (conv, name of its post-ReLU output, convs reading it)
    for layer in model.layers:
        if not is_conv(layer) or not layer.use_bias:
            continue
        end = layer.name
        if layer.get_config()["activation"] != "relu":
            batchnorm = only(end)
            if isinstance(batchnorm, layers.BatchNormalization):
                _fold_batchnorm(layer, batchnorm)
                end = batchnorm.name
            relu = only(end)
            if not (isinstance(relu, layers.ReLU) and relu.get_config()["max_value"] is None):
                continue
            end = relu.name
        consumers = convs_reading(end)
        if consumers:
            producers.append((layer, end, consumers))
    if not producers:
        return model

    probe = keras.Model(model.input, [by_name[end].output for _, end, _ in producers])
    ranges = [np.zeros(conv.filters, np.float64) for conv, _, _ in producers]
    for batch in calibration:
        outputs = probe(batch)
        for index, output in enumerate(outputs if len(producers) > 1 else [outputs]):
            maximum = np.asarray(output).max(axis=(0, 1, 2))
            ranges[index] = np.maximum(ranges[index], maximum)
    for (conv, _, consumers), channel_range in zip(producers, ranges, strict=True):
        largest = channel_range.max()
        if largest <= 0:
            continue
        scale = np.where(
            channel_range > 0, (largest / np.maximum(channel_range, 1e-30)) ** strength, 1.0
        ).astype(np.float32)
        kernel, bias = conv.get_weights()
        conv.set_weights([kernel * scale, bias * scale])
        for reader, offset in consumers:
            reader_kernel, *rest = reader.get_weights()
            divisor = np.ones(reader_kernel.shape[2], np.float32)
            divisor[offset : offset + scale.size] = scale
            reader.set_weights([reader_kernel / divisor[:, None], *rest])
    return model


def _fold_batchnorm(conv, batchnorm) -> None:
    """Fold `batchnorm` into the conv before it; the BatchNormalization becomes identity."""
    gamma, beta, mean, variance = (
        weights.astype(np.float64) for weights in batchnorm.get_weights()
    )
    factor = gamma / np.sqrt(variance + batchnorm.epsilon)
    kernel, bias = conv.get_weights()
    conv.set_weights(
        [
            (kernel * factor).astype(np.float32),
            ((bias - mean) * factor + beta).astype(np.float32),
        ]
    )
    ones = np.ones_like(gamma, dtype=np.float32)
    batchnorm.set_weights([ones, 0 * ones, 0 * ones, (1 - batchnorm.epsilon) * ones])


# --- the command --------------------------------------------------------------------------


def quantize_folder(
    folder: str | os.PathLike,
    variants: tuple[str, ...] = ("fp32", "fp16", "int8"),
    calibration: Calibration | None = None,
    measure: bool = True,
    shapes: list[tuple[int, int]] | None = None,
) -> dict:
    """Write the TFLite `variants` of a model folder from its Keras weights; record in
    humanmatting.json the variants, how int8 was calibrated (`calibration`, default: the sample
    photos only) and how each agrees with fp32. Returns the records, as in the JSON. `shapes`: the
    fixed-shape signatures (default `export.fixed_shapes()`). The one int8 path: `python -m
    humanmatting.models.quantize`, humanmatting.hub.convert_legacy, humanmatting.training.export."""
    from humanmatting.models.export import convert_to_tflite
    from humanmatting.models.keras_backend import load_keras_model

    folder = Path(folder)
    description = FolderDescription.load(folder)
    unknown = [variant for variant in variants if variant not in TFLITE_FILES]
    if unknown:
        raise ValueError(f"Unknown variants {unknown}; choose from {list(TFLITE_FILES)}.")
    calibration = calibration if calibration is not None else Calibration()
    model = load_keras_model(folder)
    channels = int(model.input_shape[-1])
    architecture = get_spec(description.model).architecture if description.model else None
    float_ops = getattr(architecture, "int8_float_ops", ())
    float_layers = getattr(architecture, "int8_float_layers", ())
    for variant in variants:
        inputs = calibration.inputs(channels) if variant == "int8" else None
        print(f"{folder.name}: converting {variant} ...", flush=True)
        flatbuffer = convert_to_tflite(
            model, variant, inputs, shapes=shapes, float_ops=float_ops, float_layers=float_layers
        )
        (folder / TFLITE_FILES[variant]).write_bytes(flatbuffer)

    present = [variant for variant in TFLITE_FILES if (folder / TFLITE_FILES[variant]).is_file()]
    description.tflite = {variant: TFLITE_FILES[variant] for variant in present}
    records: dict[str, VariantRecord] = {}
    if "int8" in variants:
        records["int8"] = VariantRecord(
            calibration=calibration.record(),
            cross_layer_equalization=EQUALIZE_STRENGTH,
            first_conv="float32",
            weights="int8 per channel",
            extra={"kept_float": {"ops": list(float_ops), "layers": list(float_layers)}}
            if float_ops or float_layers
            else {},
        )
    if measure:
        compared = [variant for variant in present if variant != "fp32"]
        for variant, figures in agreement_report(folder, compared).items():
            record = records.setdefault(variant, VariantRecord())
            record.agreement_with_fp32 = VariantAgreement(
                held_out_photos=list(HELD_OUT_PHOTOS),
                presets=Agreement(**figures["presets"]),
                long_side_320=Agreement(**figures["long_side_320"]),
            )
    for variant in variants:  # a file made again: its old record no longer applies
        description.quantization.pop(variant, None)
    for variant, record in records.items():
        if variant in variants:
            description.quantization[variant] = record
        else:  # measured again only: how it was made stays
            kept = description.quantization.setdefault(variant, VariantRecord())
            kept.agreement_with_fp32 = record.agreement_with_fp32
    description.save(folder)
    return {variant: record.to_json() for variant, record in records.items()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("folder", type=Path, help="a model folder (with humanmatting.json)")
    parser.add_argument(
        "--calibration-dir", type=Path, help="more calibration photos (e.g. AISegment val)"
    )
    parser.add_argument("--count", type=int, default=64, help="photos taken from that folder")
    parser.add_argument("--variants", default="fp32,fp16,int8", help="comma-separated")
    parser.add_argument("--no-agreement", action="store_true", help="skip the measurement")


def run(args: argparse.Namespace) -> int:
    record = quantize_folder(
        args.folder,
        tuple(variant for variant in args.variants.split(",") if variant),
        Calibration.from_folder(args.calibration_dir, args.count),
        measure=not args.no_agreement,
    )
    for variant, figures in record.items():
        for label, agreement in figures.get("agreement_with_fp32", {}).items():
            if isinstance(agreement, dict):
                print(
                    f"{variant:5s} vs fp32, {label:13s}: IoU {agreement['iou']:.4f} "
                    f"(views: mean {agreement['mean_iou']:.4f}, min {agreement['min_iou']:.4f}), "
                    f"mean |alpha difference| {agreement['mean_abs_difference']:.4f}"
                )
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.models.quantize`: the same command as `humanmatting quantize`."""
    from humanmatting.command import run_command

    return run_command("humanmatting.models.quantize", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
