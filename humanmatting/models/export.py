"""Write a model folder: Keras 3 (the `hf://` layout), TFLite, and humanmatting.json.

Layout (FORMAT_VERSION 1), the same on disk and in a Hub model repo:

    config.json, metadata.json, model.weights.h5   Keras 3 `save_model(..., zipped=False)`
    model.tflite                                    fp32 LiteRT model, any H, W multiple of 32
    model-<variant>.tflite                          optional quantized variants (fp16, int8)
                                                    (python -m humanmatting.models.quantize FOLDER)
    humanmatting.json                               channels, input range, classes, presets
                                                    (humanmatting.folder.FolderDescription)

Keras owns `config.json` (it is what `keras.saving.load_model("hf://...")` reads), so
our own description lives in `humanmatting.json`. Needs TensorFlow; the runtime does not.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from humanmatting.folder import FolderDescription
from humanmatting.models.likeunet import BilinearUpSampling2D, with_upsampling
from humanmatting.preprocess import ASPECT_PRESETS, model_input_size
from humanmatting.specs import DYNAMIC_SIGNATURE, FORMAT_FILE, TFLITE_FILES, fixed_signature


def _is_plain_transpose(layer: keras.layers.Layer) -> bool:
    """A stride-1 'same' Conv2DTranspose with an odd kernel: a Conv2D in disguise."""
    return (
        isinstance(layer, keras.layers.Conv2DTranspose)
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.padding == "same"
        and all(size % 2 == 1 for size in layer.kernel_size)
    )


def _is_two_class_softmax_head(layer: keras.layers.Layer) -> bool:
    return (
        isinstance(layer, keras.layers.Conv2D)
        and not isinstance(layer, keras.layers.Conv2DTranspose)
        and layer.filters == 2
        and tuple(layer.kernel_size) == (1, 1)
        and layer.get_config()["activation"] == "softmax"
        and layer.use_bias
    )


def litert_graph(model: keras.Model) -> keras.Model:
    """The same function, rewritten with the ops LiteRT's XNNPACK runs fastest (export only).

    - Keras's bilinear UpSampling2D (a model loaded from older files) ->
      `models.BilinearUpSampling2D` (traces with unknown H, W);
    - stride-1 Conv2DTranspose -> Conv2D with the kernel flipped and its channel axes
      swapped: TRANSPOSE_CONV needs a constant output shape to run in XNNPACK, and the
      dynamic graph computes it at run time (13.6 ms instead of 8 ms at 256x256);
    - a 1x1 two-class softmax head -> one 1x1 conv on the logit difference + sigmoid
      (softmax([a, b])[1] == sigmoid(b - a)): the output is the person probability,
      (1, H, W, 1), and XNNPACK's per-pixel softmax over 2 channels (1 ms) is gone.
    """
    head = model.layers[-1] if _is_two_class_softmax_head(model.layers[-1]) else None

    def rewrite(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if isinstance(layer, keras.layers.UpSampling2D):
            return BilinearUpSampling2D.from_config(config)
        if _is_plain_transpose(layer):
            keep = ("name", "filters", "kernel_size", "activation", "use_bias", "dtype")
            return keras.layers.Conv2D(padding="same", **{key: config[key] for key in keep})
        if layer is head:
            return keras.layers.Conv2D(1, 1, activation="sigmoid", name=layer.name)
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(model, clone_function=rewrite)
    for layer in clone.layers:
        if not layer.weights:
            continue
        source = model.get_layer(layer.name)
        weights = source.get_weights()
        if _is_plain_transpose(source):
            # Keras transpose kernels are (kh, kw, out, in); correlation with the flipped
            # kernel is the same sum.
            weights[0] = np.ascontiguousarray(np.transpose(weights[0][::-1, ::-1], (0, 1, 3, 2)))
        elif source is head:
            kernel, bias = weights
            weights = [kernel[..., 1:] - kernel[..., :1], bias[1:] - bias[:1]]
        layer.set_weights(weights)
    return clone


def fixed_shapes() -> list[tuple[int, int]]:
    """Input sizes that get their own fixed-shape signature: the aspect presets, and the
    presets scaled to a 512 long side (only the square one is new)."""
    sizes = set(ASPECT_PRESETS.values())
    sizes |= {model_input_size(height, width, 512) for height, width in ASPECT_PRESETS.values()}
    return sorted(sizes)


def _float_nodes(
    flatbuffer: bytes, first_convs: bool = True, ops: Iterable[str] = (), layers: Iterable[str] = ()
) -> list[str]:
    """Names of the output tensors int8 leaves in float: (with `first_convs`) of the
    convolutions that read a graph input directly, of the ops of the kinds `ops` (LiteRT names, e.g.
    "DEPTHWISE_CONV_2D") and of the ops made from Keras layers whose names start with one of
    `layers` (a tensor's name holds its layers' names, e.g. "lite0_1/decoder4_relu_1/Relu")."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    kinds = {value: name for name, value in vars(schema.BuiltinOperator).items() if name.isupper()}
    code_kinds = [
        kinds.get(max(code.builtinCode, code.deprecatedBuiltinCode)) for code in model.operatorCodes
    ]
    ops, prefixes = set(ops), tuple(layers)
    names = []
    for subgraph in model.subgraphs:
        for operator in subgraph.operators:
            kind = code_kinds[operator.opcodeIndex]
            name = subgraph.tensors[operator.outputs[0]].name
            name = name.decode() if isinstance(name, bytes) else name
            parts = [part for piece in name.split(";") for part in piece.split("/")[1:2]]
            if (
                (first_convs and kind == "CONV_2D" and operator.inputs[0] in subgraph.inputs)
                or kind in ops
                or any(part.startswith(prefixes) for part in parts)
            ):
                names.append(name)
    return names


def _quantize_int8(
    converter, keep_first_conv_float: bool, float_ops: Iterable[str], float_layers: Iterable[str]
) -> bytes:
    """Calibrate, then quantize every op to int8 except (optionally) the first conv and
    what the model's spec keeps in float.

    The first conv reads raw 0..255 pixels; quantizing its output is the largest single
    source of int8 error for the LikeUnets (IoU with fp32 0.987 -> 0.994 when it stays
    float, at no measurable cost in speed). Selective quantization is what TensorFlow's
    QuantizationDebugger does (`denylisted_nodes`); it uses the same two calls.
    """
    float_ops, float_layers = tuple(float_ops), tuple(float_layers)
    if not keep_first_conv_float and not float_ops and not float_layers:
        return converter.convert()
    from tensorflow.lite.python import convert as tflite_convert

    converter._experimental_calibrate_only = True  # noqa: SLF001 - see the docstring
    calibrated = converter.convert()
    return tflite_convert.mlir_quantize(
        calibrated,
        denylisted_nodes=_float_nodes(calibrated, keep_first_conv_float, float_ops, float_layers),
    )


def convert_to_tflite(
    model: keras.Model,
    quantization: str = "fp32",
    calibration_inputs: list[np.ndarray] | None = None,
    shapes: list[tuple[int, int]] | None = None,
    equalize: bool = True,
    keep_first_conv_float: bool = True,
    float_ops: Iterable[str] = (),
    float_layers: Iterable[str] = (),
) -> bytes:
    """LiteRT flatbuffer: signature `serving_default` takes (1, None, None, C) (any size),
    and one fixed-shape signature per size in `shapes` (default `fixed_shapes()`; named by
    `specs.fixed_signature`), which XNNPACK runs whole. The output is the person
    probability, (1, H, W, 1) (see `litert_graph`); fp16 or int8 weights on request.

    int8 is full-integer with float input/output, calibrated on `calibration_inputs`
    (model-ready arrays of shape (1, h, w, C), raw 0..255; each fixed signature is
    calibrated on the inputs of its size, or on all of them resized to it). With
    `equalize`, channel ranges are equalized first (`quantize.equalize_channels`).
    `float_ops` and `float_layers` stay float in int8 (`_float_nodes`; a spec's
    `int8_float_ops` and `int8_float_layers`).
    """
    import tensorflow as tf

    if quantization not in TFLITE_FILES:
        raise ValueError(f"quantization must be one of {list(TFLITE_FILES)}, not {quantization!r}")
    if quantization == "int8" and not calibration_inputs:
        raise ValueError("int8 quantization needs calibration_inputs")
    channels = model.input_shape[-1]
    shapes = fixed_shapes() if shapes is None else list(shapes)
    exportable = litert_graph(model)
    if quantization == "int8" and equalize:
        from humanmatting.models.quantize import equalize_channels

        equalize_channels(exportable, calibration_inputs)
    archive = keras.export.ExportArchive()
    archive.track(exportable)
    signatures = {DYNAMIC_SIGNATURE: [1, None, None, channels]}
    signatures |= {fixed_signature(h, w): [1, h, w, channels] for h, w in shapes}
    for name, shape in signatures.items():
        archive.add_endpoint(
            name,
            lambda x: exportable(x, training=False),
            input_signature=[tf.TensorSpec(shape, tf.float32, name="image")],
        )
    with tempfile.TemporaryDirectory() as saved_model_dir:
        archive.write_out(saved_model_dir, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        if quantization == "fp16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: _calibration_samples(
                calibration_inputs, signatures
            )
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            return _quantize_int8(converter, keep_first_conv_float, float_ops, float_layers)
        return converter.convert()


def _calibration_samples(inputs: list[np.ndarray], signatures: dict[str, list]):
    """(signature, {"image": array}) pairs. Each fixed signature sees the inputs of its size
    (all inputs resized to it when none has it); the any-size one sees every input scaled
    to a 256 long side: 4x faster to calibrate, and as good on held-out photos (IoU with
    fp32 0.9885 vs 0.9888 at long side 320)."""
    import cv2

    def scaled(array: np.ndarray, height: int, width: int) -> np.ndarray:
        if array.shape[1:3] == (height, width):
            return array
        image = cv2.resize(array[0], (width, height), interpolation=cv2.INTER_AREA)
        return image.reshape(1, height, width, array.shape[-1])

    for name, (_, height, width, _) in signatures.items():
        if height is None:
            chosen = [
                scaled(x, *model_input_size(*x.shape[1:3], min(256, max(x.shape[1:3]))))
                for x in inputs
            ]
        else:
            chosen = [x for x in inputs if x.shape[1:3] == (height, width)] or [
                scaled(x, height, width) for x in inputs
            ]
        for array in chosen:
            yield name, {"image": np.asarray(array, np.float32)}


def tflite_signatures(shapes: list[tuple[int, int]] | None = None) -> dict[str, str]:
    """What each signature of `convert_to_tflite`'s files takes (humanmatting.json)."""
    shapes = fixed_shapes() if shapes is None else shapes
    return {
        DYNAMIC_SIGNATURE: "any height and width",
        **{fixed_signature(h, w): f"{h}x{w} only" for h, w in sorted(shapes)},
    }


def save_model_folder(
    model: keras.Model,
    model_name: str,
    out_dir: str | Path,
    tflite_variants: dict[str, bytes] | None = None,
    **sections: Any,
) -> Path:
    """Write the Keras model, its fp32 TFLite (and given variants) and humanmatting.json;
    `sections` are more `FolderDescription` fields (source, training, original_release, ...)."""
    out_dir = Path(out_dir)
    if (out_dir / FORMAT_FILE).is_file():
        # A model folder written earlier: start afresh, so no file of older weights (a stale
        # int8 variant, Keras's assets/) stays beside the new ones.
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Keras's own UpSampling2D in the Keras files: `keras.saving.load_model("hf://...")`
    # loads them without this package (our loaders turn it back: keras_backend).
    keras.saving.save_model(
        with_upsampling(model, keras.layers.UpSampling2D), str(out_dir), zipped=False
    )
    variants = {"fp32": convert_to_tflite(model), **(tflite_variants or {})}
    for variant, flatbuffer in variants.items():
        (out_dir / TFLITE_FILES[variant]).write_bytes(flatbuffer)
    FolderDescription.new(
        model_name,
        tflite_signatures=tflite_signatures(),
        tflite={variant: TFLITE_FILES[variant] for variant in sorted(variants)},
        **sections,
    ).save(out_dir)
    return out_dir
