"""Keras models with seeded random weights, and the model folders made from them: what the
tests (and benchmarks that need a model) run without the trained weights. Needs [keras]."""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from harness.paths import REPO_ROOT


def build_random_weights(out: Path) -> None:
    import keras

    from humanmatting.models.export import save_model_folder
    from humanmatting.specs import MODEL_SPECS

    keras.utils.set_random_seed(7)
    for name in MODEL_SPECS:
        save_model_folder(randomize(build_model(name)), name, out / name)


def random_weights_key() -> str:
    """A digest of what random_weights_dir's folders come from: the runtime's and the Keras
    tools' code, this file (randomize) and the versions of the libraries that build and
    convert them."""
    package = REPO_ROOT / "humanmatting"
    sources = sorted(package.glob("*.py")) + sorted((package / "models").rglob("*.py"))
    digest = hashlib.sha256()
    for path in [*sources, Path(__file__)]:
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + path.read_bytes())
    for library in ("numpy", "keras", "tensorflow", "tensorflow-cpu", "ai-edge-litert", "h5py"):
        try:
            digest.update(f"{library}=={version(library)}".encode())
        except PackageNotFoundError:
            pass
    return digest.hexdigest()[:16]


def build_model(name: str, acnet: bool = False):
    """humanmatting.models.likeunet.build_model, imported at the first call: Keras takes
    seconds to import, and collecting the suite should not pay for it."""
    from humanmatting.models.likeunet import build_model as build

    return build(name, acnet=acnet)


def randomize(model, seed: int = 0):
    """Give every weight (BN statistics included) non-trivial values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if layer.__class__.__name__ == "BatchNormalization":
            gamma, beta, mean, variance = weights
            weights = [
                rng.uniform(0.5, 1.5, gamma.shape),
                rng.normal(0, 0.1, beta.shape),
                rng.normal(0, 0.5, mean.shape),
                rng.uniform(0.5, 2.0, variance.shape),
            ]
        else:
            kernel, *bias = weights  # convs before a BatchNorm have no bias (lite0)
            depthwise = layer.__class__.__name__ == "DepthwiseConv2D"
            fan_in = np.prod(kernel.shape[:2] if depthwise else kernel.shape[:-1])
            weights = [
                rng.normal(0, 1 / np.sqrt(fan_in), kernel.shape),
                *(rng.normal(0, 0.05, b.shape) for b in bias),
            ]
        layer.set_weights([w.astype("float32") for w in weights])
    return model
