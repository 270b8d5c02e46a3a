"""Keras files for a model folder that holds only LiteRT files (our own shipped models, whose
Keras files were lost with the machine that trained them).

The fp32 (or fp16) LiteRT graph of `humanmatting.models.export.litert_graph` keeps every
weight: each Conv2D is a CONV_2D op in layer order, each stride-1 Conv2DTranspose a CONV_2D
with its kernel flipped and its channel axes swapped, each BatchNormalization that follows a
conv is folded into that conv (the Keras layer gets the identity), one that stands alone
(night, dark) is a MUL and an ADD, and the two-class softmax head is one conv on the logit
difference (split back as +-half: softmax([-d/2, d/2]) = sigmoid(d)). Reading them back in
that order rebuilds `build_model(name)` with the same outputs (checked against LiteRT).

    # writes the Keras files:
    python -m humanmatting.training.recover humanmatting/weights/dark-light
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from humanmatting.command import run_command
from humanmatting.folder import FolderDescription

CONV_OPS = ("CONV_2D",)


def _constant(interpreter, index: int, producers: dict[int, dict]) -> np.ndarray:
    """A constant tensor's value; through a DEQUANTIZE (fp16 files) to its stored values."""
    producer = producers.get(index)
    if producer is not None and producer["op_name"] == "DEQUANTIZE":
        index = int(producer["inputs"][0])
    return np.asarray(interpreter.get_tensor(index), np.float32)


def litert_weights(path: str | Path) -> list[tuple[str, list[np.ndarray]]]:
    """("conv", [kernel OHWI, bias]) and ("scale", [mul, add]) in the graph's op order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    ops = [op for op in ops if op["op_name"] != "DELEGATE"]  # XNNPACK's nodes repeat them
    producers = {int(out): op for op in ops for out in op["outputs"]}
    shapes = {t["index"]: tuple(t["shape"]) for t in interpreter.get_tensor_details()}
    found: list[tuple[str, list[np.ndarray]]] = []
    pending_scale: np.ndarray | None = None
    for op in ops:
        inputs = [int(i) for i in op["inputs"] if i >= 0]
        if op["op_name"] in CONV_OPS:
            found.append(("conv", [_constant(interpreter, i, producers) for i in inputs[1:3]]))
        elif op["op_name"] in ("MUL", "ADD") and len(shapes[inputs[0]]) == 4:
            # A BatchNormalization standing alone: x * mul + add, the vectors constant.
            vector = _constant(interpreter, inputs[1], producers)
            if op["op_name"] == "MUL":
                pending_scale = vector
            else:
                found.append(("scale", [pending_scale, vector]))
                pending_scale = None
    return found


def keras_from_litert(model_name: str, tflite_path: str | Path):
    """`build_model(model_name)` with the weights of a LiteRT file that export wrote."""
    import keras

    from humanmatting.models.export import _is_plain_transpose
    from humanmatting.models.likeunet import build_model

    model = build_model(model_name)
    weighted = [layer for layer in model.layers if layer.weights]
    read = litert_weights(tflite_path)
    position = 0
    for layer in weighted:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            identity = [
                np.ones(channels),
                np.zeros(channels),
                np.zeros(channels),
                np.full(channels, 1 - layer.epsilon),
            ]
            if read[position][0] == "scale":  # standing alone; else folded into its conv
                mul, add = read[position][1]
                identity[0], identity[1] = mul, add
                position += 1
            layer.set_weights([np.asarray(w, np.float32) for w in identity])
            continue
        kind, (kernel, bias) = read[position]
        position += 1
        if kind != "conv":
            raise ValueError(f"{tflite_path}: expected a conv for {layer.name}, found {kind}")
        kernel = np.transpose(kernel, (1, 2, 3, 0))  # OHWI -> HWIO
        if _is_plain_transpose(layer):
            kernel = np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))
        elif layer is model.layers[-1] and layer.filters == 2 and kernel.shape[-1] == 1:
            kernel = np.concatenate([-kernel / 2, kernel / 2], axis=-1)
            bias = np.concatenate([-bias / 2, bias / 2])
        layer.set_weights([kernel, bias])
    if position != len(read):
        raise ValueError(f"{tflite_path}: {len(read) - position} weight ops left unread")
    return model


def largest_difference(model, tflite_path: str | Path, size: tuple[int, int] = (256, 192)) -> float:
    """Largest person-probability difference between the model and the LiteRT file."""
    from ai_edge_litert.interpreter import Interpreter

    rng = np.random.default_rng(0)
    channels = model.input_shape[-1]
    batch = rng.uniform(0, 255, (1, *size, channels)).astype(np.float32)
    batch = cv2.GaussianBlur(batch[0], (0, 0), 3).reshape(batch.shape)  # smooth, photo-like
    runner = Interpreter(model_path=str(tflite_path)).get_signature_runner("serving_default")
    (litert,) = runner(image=batch).values()
    ours = np.asarray(model(batch))[..., 1:]
    return float(np.abs(ours - litert).max())


def recover_folder(folder: str | Path) -> float:
    """Write the Keras files into `folder` from its most precise LiteRT file; returns the
    largest probability difference between the two on a test input."""
    import keras

    from humanmatting.models.likeunet import with_upsampling

    folder = Path(folder)
    description = FolderDescription.load(folder)
    variant = next(v for v in ("fp32", "fp16") if v in description.tflite)
    tflite_path = folder / description.tflite[variant]
    model = keras_from_litert(description.model, tflite_path)
    difference = largest_difference(model, tflite_path)
    if difference > (1e-4 if variant == "fp32" else 2e-2):
        raise ValueError(
            f"{folder}: recovered model differs from {tflite_path.name} by {difference}"
        )
    assets = folder / "assets"  # Keras refuses to write over one; empty for these models
    _remove_if_empty(assets)
    keras.saving.save_model(
        with_upsampling(model, keras.layers.UpSampling2D), str(folder), zipped=False
    )
    _remove_if_empty(assets)
    return difference


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("folders", nargs="+", type=Path, help="model folders to complete")


def run(args: argparse.Namespace) -> int:
    for folder in args.folders:
        difference = recover_folder(folder)
        print(f"{folder}: Keras files written (largest difference to LiteRT {difference:.2e})")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("humanmatting.training.recover", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
