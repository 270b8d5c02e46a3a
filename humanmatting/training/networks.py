"""Training-form networks, checkpoints, and their conversion to the served form.

The network itself always comes from `humanmatting.models.likeunet.build_model` (one definition for
training and serving). Training may wrap it:

    image (raw 0..255) -> [Rescaling(input_scale)] -> network -> [float32 cast]

(the rescaling for the improved recipe, the cast for mixed precision). `inference_model`
undoes the wrapping exactly: ACNet branches are fused, the input scale is multiplied into
the first convolution's kernel (exact: the scale is linear and 'same' zero padding stays
zero), and the result is a plain float32 `build_model(name)` network on raw pixels.

A model on a pretrained encoder (lite0) starts from the encoder's ImageNet weights, with
the ImageNet input normalisation folded into its stem for the recipe's input scale
(`humanmatting.models.efficientnet.load_imagenet_weights`); the decoder starts from Keras's
initial weights. Checkpoints hold the trained weights, so resuming reads no ImageNet file.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import keras
from keras import layers

import humanmatting.training.recipe  # noqa: F401 - registers the custom loss for loading checkpoints
from humanmatting.models.likeunet import build_model, fuse_acnet, with_upsampling
from humanmatting.specs import PretrainedUnetArchitecture, get_spec

INPUT_SCALING = "input_scaling"
OUTPUT_CAST = "output_float32"
CHECKPOINT_PATTERN = re.compile(r"^(?P<model>.+)-(?P<epoch>\d+)-(?P<miou>\d\.\d+)\.keras$")


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build layers under a global dtype policy, then restore the previous one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_training_model(
    name: str,
    acnet: bool = True,
    input_scale: float = 1.0,
    mixed_precision: bool | str = False,
    pretrained: bool = True,
) -> keras.Model:
    """The network to train: `build_model(name, acnet)` plus the optional wrapping above;
    with `pretrained`, a pretrained encoder's ImageNet weights (models without one ignore it)."""
    spec = get_spec(name)
    # True: mixed_float16 (GPU tensor cores); or a policy name, e.g. "mixed_bfloat16", which
    # runs about 3x faster on CPUs with AMX/AVX-512 BF16 (measured here for night and dark).
    policy = (
        mixed_precision
        if isinstance(mixed_precision, str)
        else ("mixed_float16" if mixed_precision else "float32")
    )
    mixed_precision = policy != "float32"
    with dtype_policy(policy):
        network = build_model(spec, acnet=acnet and spec.acnet_training)
        if pretrained and isinstance(spec.architecture, PretrainedUnetArchitecture):
            from humanmatting.models.efficientnet import load_imagenet_weights

            load_imagenet_weights(network, input_scale=input_scale)
        if input_scale == 1.0 and not mixed_precision:
            return network
        inputs = keras.Input((None, None, spec.channels), name="image")
        x = inputs
        if input_scale != 1.0:
            x = layers.Rescaling(input_scale, name=INPUT_SCALING)(x)
        x = network(x)
        if mixed_precision:
            x = layers.Activation("linear", dtype="float32", name=OUTPUT_CAST)(x)
        return keras.Model(inputs, x, name=f"{network.name}-training")


def unwrap(model: keras.Model) -> tuple[keras.Model, float]:
    """(the bare network, the input scale) of a training model."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not nested:
        return model, 1.0
    scale = 1.0
    for layer in model.layers:
        if isinstance(layer, layers.Rescaling):
            if layer.offset:
                raise ValueError("Only a pure input scale can be folded (offset must be 0)")
            scale = float(layer.scale)
    return nested[0], scale


def is_acnet(network: keras.Model) -> bool:
    return any(layer.name.endswith("-1") for layer in network.layers)


def float32_twin(model: keras.Model, name: str) -> keras.Model:
    """`model` computing in float32 (same weights): the reference an export is checked
    against, since a mixed-precision model's own outputs carry its float16/bfloat16 error."""
    if all(layer.compute_dtype == "float32" for layer in model.layers):
        return model
    network, scale = unwrap(model)
    twin = build_training_model(name, acnet=is_acnet(network), input_scale=scale, pretrained=False)
    twin.set_weights(model.get_weights())
    return twin


def inference_model(model: keras.Model, name: str) -> keras.Model:
    """The served float32 network equal to a (possibly wrapped, ACNet) training model."""
    spec = get_spec(name)
    network, scale = unwrap(model)
    with dtype_policy("float32"):
        if is_acnet(network):
            plain = fuse_acnet(network, spec.name)
        else:
            plain = build_model(spec)
            for layer in plain.layers:
                if layer.weights:
                    layer.set_weights(network.get_layer(layer.name).get_weights())
    if scale != 1.0:
        first_convs = [layer for layer in plain.layers if _reads_pixels(layer, plain)]
        if not first_convs:
            raise ValueError("No convolution reads the input; cannot fold the input scale")
        for conv in first_convs:
            kernel, *bias = conv.get_weights()  # no bias before a BatchNorm (lite0)
            conv.set_weights([kernel * scale, *bias])
    return plain


def _reads_pixels(layer: keras.layers.Layer, model: keras.Model) -> bool:
    """Whether `layer` is a convolution fed by the input, directly or through average
    pooling (linear, so a scale of the pixels can move into the convolution's kernel)."""
    if not isinstance(layer, layers.Conv2D):
        return False
    tensor = layer.input
    while tensor is not model.inputs[0]:
        producer = tensor._keras_history.operation  # noqa: SLF001 - Keras's graph link
        if not isinstance(producer, layers.AveragePooling2D):
            return False
        tensor = producer.input
    return True


def load_checkpoint(path: str | os.PathLike, compile: bool = False) -> keras.Model:
    """A `.keras` checkpoint written by training (safe_mode: no code is deserialized).

    Checkpoints saved before `BilinearUpSampling2D` hold Keras's UpSampling2D; they come
    back with the new layer (`with_upsampling`: the same layers and weights) and, with
    `compile`, compiled as saved, the optimizer's state (step, moments) copied over.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}")
    saved = keras.saving.load_model(path, compile=compile, safe_mode=True)
    model = with_upsampling(saved)
    if model is not saved and compile and saved.optimizer is not None:
        model.compile_from_config(saved.get_compile_config())
        for copy, value in zip(model.optimizer.variables, saved.optimizer.variables, strict=True):
            copy.assign(value)
    return model


def best_checkpoint(run_dir: str | os.PathLike) -> Path:
    """The checkpoint `{model}-{epoch:02d}-{val_miou:.4f}.keras` with the best val mIoU
    in `run_dir` (latest epoch on ties), or `run_dir` itself if it is a file."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return run_dir
    scored = []
    for path in run_dir.glob("*.keras"):
        match = CHECKPOINT_PATTERN.match(path.name)
        if match:
            scored.append((float(match["miou"]), int(match["epoch"]), path))
    if not scored:
        raise FileNotFoundError(
            f"No checkpoint named MODEL-EPOCH-VALMIOU.keras in {run_dir}; train first "
            "(python -m humanmatting.training.train) or pass a .keras file."
        )
    return max(scored)[2]


def initialize_from(model: keras.Model, source: keras.Model, batch) -> None:
    """Start a training model from a trained served network (`inference_model`'s form).

    Fine-tuning on new data keeps what the network learned. The served network has its
    batch norms folded or not; here each conv takes the source's kernel (the input scale
    unfolded from those that read the pixels; ACNet's 3x3 branch takes the fused kernel,
    its 1x3 and 3x1 branches start at zero, so the sum is unchanged), and each norm is set so that
    it passes its input through unchanged both at inference (its moving statistics) and in
    training (its scale and offset undo the batch's own statistics on `batch`): the
    training model then starts as the source computes, in both modes. A source with the
    training network's own layers (lite0: no ACNet, norms kept) gives every weight as it
    is, norms included: their statistics were learned with batches, so training goes on
    from where that run stopped rather than from one batch's statistics.
    """
    import numpy as np

    network, scale = unwrap(model)
    by_name = {layer.name: layer for layer in source.layers}
    # Every conv reading the pixels took the input scale (lite0: its stem and detail convs).
    pixel_convs = {layer.name for layer in network.layers if _reads_pixels(layer, network)}
    same_layers = all(
        layer.name in by_name
        and [w.shape for w in by_name[layer.name].weights] == [w.shape for w in layer.weights]
        for layer in network.layers
        if layer.weights
    )
    for layer in network.layers:
        if not layer.weights or (isinstance(layer, layers.BatchNormalization) and not same_layers):
            continue
        name, _, part = layer.name.rpartition("-")
        if layer.name in by_name:
            weights = [np.asarray(w) for w in by_name[layer.name].get_weights()]
        elif part in ("1", "2", "3") and name in by_name:
            if part == "1":
                weights = [np.asarray(w) for w in by_name[name].get_weights()]
            else:
                weights = [np.zeros(w.shape) for w in layer.get_weights()]
        else:
            raise ValueError(f"{source.name} has no layer for {layer.name}")
        if layer.name in pixel_convs and scale != 1.0:
            weights[0] = weights[0] / scale
        layer.set_weights([w.astype(np.float32) for w in weights])
    if same_layers:
        return  # every norm took the source's own statistics: training goes on as it was
    norms = [layer for layer in network.layers if isinstance(layer, layers.BatchNormalization)]
    if not norms:
        return
    # Each norm's input on `batch`, with the norms before it already set (they pass through).
    for norm in norms:
        source_norm = by_name[norm.name]
        gamma, beta, mean, variance = (np.asarray(w) for w in source_norm.get_weights())
        inputs = keras.Model(network.inputs, norm.input)
        x = np.asarray(inputs(np.asarray(batch) * scale), np.float64)
        # The source's own norm y = (x - mean) * gamma / sqrt(variance + eps) + beta, as an
        # affine map a * x + b, written as a norm over this batch's statistics.
        a = gamma / np.sqrt(variance + source_norm.epsilon)
        b = beta - mean * a
        batch_mean = x.mean(axis=(0, 1, 2))
        batch_std = np.sqrt(x.var(axis=(0, 1, 2)) + norm.epsilon)
        norm.set_weights(
            [
                (a * batch_std).astype(np.float32),
                (a * batch_mean + b).astype(np.float32),
                batch_mean.astype(np.float32),
                (batch_std**2 - norm.epsilon).astype(np.float32),
            ]
        )
