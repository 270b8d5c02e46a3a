"""Shared fixtures: real photos, model folders built in temp dirs, the shared reference files."""

from __future__ import annotations

import hashlib
import os
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_ENV = "HUMANMATTING_SHARED"


def shared_dir() -> Path:
    """../shared beside the repository, or $HUMANMATTING_SHARED."""
    return Path(os.environ.get(SHARED_ENV, REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = shared_dir() / "reference" / "humanMatting-original"
    if not (path / "dark-light-50-0.9735.h5").is_file():
        pytest.skip(f"original release not found at {path} (set {SHARED_ENV})")
    return path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def grace_hopper_path() -> Path:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def photos(astronaut, grace_hopper_path) -> dict[str, np.ndarray]:
    from humanmatting.preprocess import load_rgb

    return {"astronaut": astronaut, "grace_hopper": load_rgb(grace_hopper_path)}


@pytest.fixture(scope="session")
def original_weights_dir(reference_dir, tmp_path_factory) -> Path:
    """The author's dark-light converted by `python -m hub.convert_legacy` (never committed).
    fp32 only: quantizing takes a minute, and tests/test_quantize.py does it once."""
    from hub.convert_legacy import main

    out = tmp_path_factory.mktemp("converted")
    assert main([str(reference_dir), str(out), "--no-quantize"]) == 0
    return out


@pytest.fixture(scope="session")
def random_weights_dir(request, tmp_path_factory) -> Path:
    """Model folders of every model with seeded random weights: runtime tests without the
    reference files. BatchNorm statistics are randomised too so fusion is exercised.

    Building them (Keras, then the TFLite conversions) takes most of a minute, so they are
    kept in pytest's cache (.pytest_cache; `--cache-clear` drops it) under a key of the code
    that makes them and the libraries' versions; each session gets its own copy.
    """
    out = tmp_path_factory.mktemp("random-weights") / "models"
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    if cache is None:
        build_random_weights(out)
        return out
    root, key = cache.mkdir("random-weights"), random_weights_key()
    cached = root / key
    if not cached.is_dir():
        partial = root / f"{key}.{os.getpid()}.partial"
        build_random_weights(partial)
        for old in root.iterdir():  # the folders of older code: never used again
            if not old.name.endswith(".partial"):
                shutil.rmtree(old, ignore_errors=True)
        try:
            partial.rename(cached)
        except OSError:  # another session finished first: its folder is the same
            shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(cached, out)
    return out


def build_random_weights(out: Path) -> None:
    import keras

    from humanmatting.build.export import save_model_folder
    from humanmatting.specs import MODEL_SPECS

    keras.utils.set_random_seed(7)
    for name in MODEL_SPECS:
        save_model_folder(randomize(build_model(name)), name, out / name)


def random_weights_key() -> str:
    """A digest of what random_weights_dir's folders come from: the package's code, this
    file (randomize) and the versions of the libraries that build and convert them."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "humanmatting").rglob("*.py")) + [Path(__file__)]:
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + path.read_bytes())
    for package in ("numpy", "keras", "tensorflow", "tensorflow-cpu", "ai-edge-litert", "h5py"):
        try:
            digest.update(f"{package}=={version(package)}".encode())
        except PackageNotFoundError:
            pass
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def bad_images(tmp_path_factory) -> dict[str, Path]:
    """tests/bad_media.py's hostile images, made once for the library, CLI and app tests."""
    from tests.bad_media import make_images

    return make_images(tmp_path_factory.mktemp("bad-images"))


@pytest.fixture(scope="session")
def bad_videos(tmp_path_factory) -> dict[str, Path]:
    """tests/bad_media.py's good, empty and corrupted videos, made once."""
    from tests.bad_media import make_videos

    return make_videos(tmp_path_factory.mktemp("bad-videos"))


def build_model(name: str, acnet: bool = False):
    """humanmatting.build.models.build_model, imported at the first call: Keras takes
    seconds to import, and collecting the suite should not pay for it."""
    from humanmatting.build.models import build_model as build

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
