"""Keras 3 builders for the LikeUnet family (night, dark, dark-light) and ACNet fusion.

Layer names follow the original Keras-2 release so that its weights files line up layer by
layer (see legacy.py). dark-light's training form replaces each 3x3 conv block `conv{i}` by
three parallel convs `conv{i}-1` (3x3), `conv{i}-2` (1x3), `conv{i}-3` (3x1) summed
(ACNet); `fuse_acnet` folds them back into one 3x3 conv for inference.

The decoder's bilinear x2 upsampling is `BilinearUpSampling2D`: Keras's UpSampling2D, which
also traces with unknown height and width (fit on batches of several sizes, `predict` on a
new size, the any-size TFLite graph). `with_upsampling` converts between the two, for files
saved with Keras's layer and for the plain-Keras files of a model folder.
"""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np
from keras import layers

from humanmatting.specs import Architecture, ModelSpec, PretrainedUnetArchitecture, get_spec


@keras.saving.register_keras_serializable(package="humanmatting")
class BilinearUpSampling2D(layers.UpSampling2D):
    """`keras.layers.UpSampling2D(size, interpolation="bilinear")` that traces with unknown
    height and width.

    Keras's layer passes the target size to `keras.ops.image.resize`, which checks
    `size[0] <= 0` in Python: on a symbolic height that check fails, so a graph with unknown
    H, W cannot be built. This computes the size as a tensor and calls the same
    `tf.image.resize`, so the numbers are Keras's; with a fixed input shape the size folds
    to a constant (XNNPACK needs that). Same config as UpSampling2D (`with_upsampling`).
    """

    def __init__(self, size=2, data_format=None, interpolation="bilinear", **kwargs):
        super().__init__(size=size, data_format=data_format, interpolation=interpolation, **kwargs)
        if self.interpolation != "bilinear" or self.data_format != "channels_last":
            raise ValueError(
                "BilinearUpSampling2D is bilinear and channels_last only, not "
                f"{self.interpolation!r}, {self.data_format!r}"
            )

    def call(self, inputs):
        if keras.backend.backend() != "tensorflow":
            return super().call(inputs)
        import tensorflow as tf

        shape = tf.shape(inputs)
        target = (shape[1] * self.size[0], shape[2] * self.size[1])
        return tf.image.resize(inputs, target, method="bilinear")


def _is_bilinear_upsampling(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, layers.UpSampling2D) and layer.interpolation == "bilinear"


def with_upsampling(
    model: keras.Model, kind: type[layers.UpSampling2D] = BilinearUpSampling2D
) -> keras.Model:
    """`model` with every bilinear upsampling layer (nested models too) of class `kind`.

    The result calls the same layers, so it shares their weights (and an optimizer built
    on them stays valid), and it computes the same numbers. Checkpoints and model folders
    saved with `keras.layers.UpSampling2D` load as they are; loaders turn them into
    BilinearUpSampling2D with this. `kind=keras.layers.UpSampling2D` gives the plain-Keras
    form that a model folder's Keras files hold. Returns `model` itself when it already
    has only `kind`.
    """

    def differs(layer: keras.layers.Layer) -> bool:
        if isinstance(layer, keras.Model):
            return any(differs(inner) for inner in layer.layers)
        return _is_bilinear_upsampling(layer) and type(layer) is not kind

    if not differs(model):
        return model

    def convert(layer: keras.layers.Layer) -> keras.layers.Layer:
        return kind.from_config(layer.get_config()) if differs(layer) else layer

    return keras.models.clone_model(model, clone_function=convert, recursive=True)


class _Names:
    """Keras-2 style automatic names (conv2d, conv2d_1, ...), independent of global state."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, base: str) -> str:
        index = self.counts[base]
        self.counts[base] += 1
        return base if index == 0 else f"{base}_{index}"


def build_likeunet(
    architecture: Architecture, channels: int, acnet: bool = False, name: str = "likeunet"
) -> keras.Model:
    """Build a LikeUnet: input (batch, 32*h, 32*w, channels), output 2-class softmax per pixel."""
    if acnet and not architecture.batchnorm_blocks:
        raise ValueError("ACNet blocks exist only in the batch-norm (dark-light) architecture")
    auto = _Names()
    block_index = 0

    def conv_block(x, filters: int):
        """conv{i} -> BN -> ReLU (dark-light) or conv+ReLU (night, dark)."""
        nonlocal block_index
        if not architecture.batchnorm_blocks:
            return layers.Conv2D(
                filters, 3, padding="same", activation="relu", name=auto("conv2d")
            )(x)
        block_index += 1
        if acnet:
            branches = [
                layers.Conv2D(filters, kernel, padding="same", name=f"conv{block_index}-{part}")(x)
                for part, kernel in ((1, (3, 3)), (2, (1, 3)), (3, (3, 1)))
            ]
            x = layers.Add(name=auto("add"))(branches)
        else:
            x = layers.Conv2D(filters, 3, padding="same", name=f"conv{block_index}")(x)
        x = layers.BatchNormalization(name=auto("batch_normalization"))(x)
        return layers.ReLU(name=auto("re_lu"))(x)

    def transpose_block(x, filters: int):
        if not architecture.batchnorm_blocks:
            return layers.Conv2DTranspose(
                filters, 3, padding="same", activation="relu", name=auto("conv2d_transpose")
            )(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same", name=auto("conv2d_transpose"))(x)
        x = layers.BatchNormalization(name=auto("batch_normalization"))(x)
        return layers.ReLU(name=auto("re_lu"))(x)

    inputs = keras.Input(shape=(None, None, channels), name="input_1")
    x = inputs
    if architecture.stem_filters:
        x = layers.Conv2D(
            architecture.stem_filters, 3, padding="same", activation="relu", name=auto("conv2d")
        )(x)

    skips = []
    for filters in architecture.encoder_filters:
        x = conv_block(x, filters)
        x = layers.MaxPooling2D(2, name=auto("max_pooling2d"))(x)
        skips.append(x)

    if not architecture.batchnorm_blocks:
        x = layers.BatchNormalization(name=auto("batch_normalization"))(x)
    x = conv_block(x, architecture.bottleneck_filters)

    # Each decoder stage doubles the resolution and joins the pooled encoder output of that size.
    skip_sources = skips[-2::-1]
    for stage, filters in enumerate(architecture.decoder_filters):
        x = transpose_block(x, filters)
        x = BilinearUpSampling2D(2, name=auto("up_sampling2d"))(x)
        if stage < len(architecture.skip_filters):
            x = layers.Concatenate(name=auto("concatenate"))([skip_sources[stage], x])
            x = conv_block(x, architecture.skip_filters[stage])

    x = layers.Conv2D(
        architecture.head_filters, 3, padding="same", activation="relu", name=auto("conv2d")
    )(x)
    # Under a mixed policy the softmax still computes in float32 (Keras's advice): in bfloat16,
    # whose steps near 1 are 2^-8, confident pixels round to exactly 0 or 1 and the clipped
    # cross-entropy gives the wrong ones no gradient.
    head_dtype = "float32" if keras.config.dtype_policy().name.startswith("mixed") else None
    outputs = layers.Conv2D(
        2, 1, padding="same", activation="softmax", dtype=head_dtype, name=auto("conv2d")
    )(x)
    return keras.Model(inputs, outputs, name=name)


def build_pretrained_unet(
    architecture: PretrainedUnetArchitecture, channels: int = 3, name: str = "pretrained-unet"
) -> keras.Model:
    """A U-Net on an EfficientNet-Lite0 encoder (specs.PretrainedUnetArchitecture): input
    (batch, 32*h, 32*w, 3) raw 0..255 RGB, output 2-class softmax per pixel.

    The encoder's layers are named as `efficientnet.lite0_features` names them, so
    `efficientnet.load_imagenet_weights` finds them; its weights here are Keras's initial
    ones (training loads ImageNet's; a model folder holds the trained ones).
    """
    from humanmatting.models import efficientnet

    if architecture.encoder != "efficientnet-lite0" or channels != 3:
        raise ValueError(
            f"Only an RGB efficientnet-lite0 encoder is built, not {architecture.encoder!r} "
            f"with {channels} channel(s)"
        )
    inputs = keras.Input(shape=(None, None, channels), name="image")
    scale = architecture.encoder_scale
    if scale not in (1, 2) or (architecture.detail_filters > 0) != (scale == 2):
        raise ValueError(
            f"encoder_scale 1 without a detail branch or 2 with one, not {scale} with "
            f"detail_filters={architecture.detail_filters}"
        )
    encoder_input = inputs
    if scale == 2:
        encoder_input = layers.AveragePooling2D(2, name="encoder_downscale")(inputs)
    features = efficientnet.lite0_features(
        encoder_input, last_block=architecture.encoder_blocks - 1
    )
    # Skips by their stride in the input's pixels.
    skips = {scale * stride: x for stride, x in features.items() if isinstance(stride, int)}
    bottom_stride = max(skips)

    def conv_bn_relu(x, filters: int, name: str, depthwise: bool = False):
        if depthwise:
            x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(x)
        else:
            x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}{'_dw' if depthwise else ''}_bn")(x)
        return layers.ReLU(name=f"{name}{'_dw' if depthwise else ''}_relu")(x)

    if architecture.detail_filters:
        detail = layers.Conv2D(
            architecture.detail_filters,
            3,
            strides=2,
            padding="same",
            use_bias=False,
            name="detail_conv",
        )(inputs)
        detail = layers.BatchNormalization(name="detail_bn")(detail)
        skips[2] = layers.ReLU(name="detail_relu")(detail)

    x = conv_bn_relu(features["blocks"][-1], architecture.bottom_filters, "bottom")
    skip_strides = [stride for stride in (16, 8, 4, 2) if stride < bottom_stride]
    if len(skip_strides) != len(architecture.decoder_filters):
        raise ValueError(
            f"{len(skip_strides)} skips (strides {skip_strides}) need as many decoder_filters, "
            f"not {architecture.decoder_filters}"
        )
    for stride, filters in zip(skip_strides, architecture.decoder_filters, strict=True):
        stage = f"decoder{stride}"
        x = BilinearUpSampling2D(2, name=f"{stage}_up")(x)
        x = layers.Concatenate(name=f"{stage}_join")([skips[stride], x])
        x = conv_bn_relu(x, filters, stage)
        x = conv_bn_relu(x, filters, stage, depthwise=True)
    x = conv_bn_relu(x, architecture.head_filters, "mask_head")
    x = BilinearUpSampling2D(2, name="mask_head_up")(x)
    # Softmax in float32 under a mixed policy, as in build_likeunet.
    head_dtype = "float32" if keras.config.dtype_policy().name.startswith("mixed") else None
    outputs = layers.Conv2D(2, 1, activation="softmax", dtype=head_dtype, name="mask")(x)
    return keras.Model(inputs, outputs, name=name)


def build_model(name_or_spec: str | ModelSpec, acnet: bool = False) -> keras.Model:
    """Build a model from the spec table; `acnet=True` gives dark-light's training form."""
    spec = get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    if acnet and not spec.acnet_training:
        raise ValueError(f"Model {spec.name!r} has no ACNet training form")
    if isinstance(spec.architecture, PretrainedUnetArchitecture):
        return build_pretrained_unet(spec.architecture, spec.channels, name=spec.name)
    suffix = "-acnet" if acnet else ""
    return build_likeunet(
        spec.architecture, spec.channels, acnet=acnet, name=f"{spec.name}{suffix}"
    )


def fuse_acnet_kernels(
    square: tuple[np.ndarray, np.ndarray],
    horizontal: tuple[np.ndarray, np.ndarray],
    vertical: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Fold (3x3, 1x3, 3x1) conv weights into one 3x3 conv.

    Convolution is linear and 'same' padding centres each kernel, so the 1x3 kernel is the
    middle row of a 3x3 kernel and the 3x1 kernel its middle column; biases add up.
    Kernels are (kh, kw, in, out) as Keras stores them.
    """
    kernel = square[0].copy()
    kernel[1:2, :, :, :] += horizontal[0]
    kernel[:, 1:2, :, :] += vertical[0]
    return kernel, square[1] + horizontal[1] + vertical[1]


def fuse_acnet(acnet_model: keras.Model, spec_name: str = "dark-light") -> keras.Model:
    """Return the plain (inference) model equivalent to a trained ACNet model."""
    spec = get_spec(spec_name)
    fused = build_likeunet(
        spec.architecture, acnet_model.input_shape[-1], acnet=False, name=spec.name
    )
    source = {layer.name: layer for layer in acnet_model.layers}
    for layer in fused.layers:
        if not layer.weights:
            continue
        if layer.name in source:
            layer.set_weights(source[layer.name].get_weights())
            continue
        branches = [source.get(f"{layer.name}-{part}") for part in (1, 2, 3)]
        if any(branch is None for branch in branches):
            raise ValueError(
                f"ACNet model {acnet_model.name!r} has no layer {layer.name!r} "
                f"nor its branches {layer.name}-1/-2/-3"
            )
        layer.set_weights(list(fuse_acnet_kernels(*(tuple(b.get_weights()) for b in branches))))
    return fused


def count_multiply_accumulates(model: keras.Model, height: int, width: int) -> int:
    """Multiply-accumulates of the conv layers (nearly all the work) for one frame."""
    convs = [
        layer
        for layer in model.layers
        if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose, layers.DepthwiseConv2D))
    ]
    probe = keras.Model(model.inputs, [layer.output for layer in convs])
    output_specs = probe.compute_output_spec(
        keras.KerasTensor((1, height, width, model.input.shape[-1]))
    )
    return int(
        sum(
            spec.shape[1] * spec.shape[2] * int(np.prod(layer.kernel.shape))
            for layer, spec in zip(convs, output_specs, strict=True)
        )
    )
