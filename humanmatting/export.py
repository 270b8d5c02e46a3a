"""Write a model folder: Keras 3 (the `hf://` layout), TFLite, and humanmatting.json.

Layout (FORMAT_VERSION 1), the same on disk and in a Hub model repo:

    config.json, metadata.json, model.weights.h5   Keras 3 `save_model(..., zipped=False)`
    model.tflite                                    fp32 LiteRT model, any H, W multiple of 32
    model-<variant>.tflite                          optional quantized variants (fp16, int8)
    humanmatting.json                               channels, input range, classes, presets

Keras owns `config.json` (it is what `keras.saving.load_model("hf://...")` reads), so
our own description lives in `humanmatting.json`. Needs TensorFlow; the runtime does not.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from humanmatting.preprocess import ASPECT_PRESETS, INPUT_RANGE, SIZE_MULTIPLE
from humanmatting.specs import CLASSES, FORMAT_FILE, FORMAT_VERSION, TFLITE_FILES, get_spec


def format_description(model_name: str, variants: list[str], **extra: Any) -> dict[str, Any]:
    """The contents of humanmatting.json for one model."""
    spec = get_spec(model_name)
    return {
        "format_version": FORMAT_VERSION,
        "model": spec.name,
        "channels": spec.channels,
        "color_mode": spec.color_mode,
        "input_range": list(INPUT_RANGE),
        "input_layout": "NHWC float32, raw pixel values (no scaling)",
        "size_multiple": SIZE_MULTIPLE,
        "aspect_presets": [list(size) for size in ASPECT_PRESETS.values()],
        "classes": list(CLASSES),
        "output": "softmax over classes, NHWC",
        "tflite": {variant: TFLITE_FILES[variant] for variant in variants},
        **extra,
    }


class _DynamicBilinearUpSampling(keras.layers.Layer):
    """2x bilinear upsampling that traces with unknown H, W (export only, never saved).

    Keras 3's UpSampling2D checks `size[0] <= 0` in Python, which fails on a symbolic
    height; TFLite needs a graph with unknown H, W so one file serves every preset.
    """

    def call(self, inputs):
        import tensorflow as tf

        shape = tf.shape(inputs)
        return tf.image.resize(inputs, (shape[1] * 2, shape[2] * 2), method="bilinear")


def _graph_exportable(model: keras.Model) -> keras.Model:
    def swap_upsampling(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.UpSampling2D):
            return _DynamicBilinearUpSampling(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=swap_upsampling)
    clone.set_weights(model.get_weights())
    return clone


def convert_to_tflite(
    model: keras.Model,
    quantization: str = "fp32",
    calibration_inputs: list[np.ndarray] | None = None,
) -> bytes:
    """LiteRT flatbuffer with input (1, None, None, C); fp16 or int8 weights on request.

    int8 is full-integer with float input/output, calibrated on `calibration_inputs`
    (model-ready arrays of shape (1, h, w, C), raw 0..255).
    """
    import tensorflow as tf

    channels = model.input_shape[-1]
    exportable = _graph_exportable(model)
    archive = keras.export.ExportArchive()
    archive.track(exportable)
    archive.add_endpoint(
        "serve",
        lambda x: exportable(x, training=False),
        input_signature=[tf.TensorSpec([1, None, None, channels], tf.float32, name="image")],
    )
    with tempfile.TemporaryDirectory() as saved_model_dir:
        archive.write_out(saved_model_dir, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        if quantization == "fp16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "int8":
            if not calibration_inputs:
                raise ValueError("int8 quantization needs calibration_inputs")
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([x] for x in calibration_inputs)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        elif quantization != "fp32":
            raise ValueError(
                f"quantization must be one of {list(TFLITE_FILES)}, not {quantization!r}"
            )
        return converter.convert()


def save_model_folder(
    model: keras.Model,
    model_name: str,
    out_dir: str | Path,
    tflite_variants: dict[str, bytes] | None = None,
    **extra: Any,
) -> Path:
    """Write the Keras model, its fp32 TFLite (and given variants) and humanmatting.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.saving.save_model(model, str(out_dir), zipped=False)
    variants = {"fp32": convert_to_tflite(model), **(tflite_variants or {})}
    for variant, flatbuffer in variants.items():
        (out_dir / TFLITE_FILES[variant]).write_bytes(flatbuffer)
    description = format_description(model_name, sorted(variants), **extra)
    (out_dir / FORMAT_FILE).write_text(json.dumps(description, indent=2) + "\n")
    return out_dir
