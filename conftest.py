"""Fixtures of tests/ and benchmarks/: the example photos, model folders built in temp dirs,
the shared reference files, hostile media. Their helpers live in harness/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.models import build_random_weights, random_weights_key
from harness.paths import EXAMPLES_DIR, SHARED_ENV, shared_dir


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = shared_dir() / "reference" / "humanMatting-original"
    if not (path / "dark-light-50-0.9735.h5").is_file():
        pytest.skip(f"original release not found at {path} (set {SHARED_ENV})")
    return path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """examples/astronaut.jpg (scikit-image's astronaut, 512x512 RGB)."""
    from humanmatting.preprocess import load_rgb

    return load_rgb(EXAMPLES_DIR / "astronaut.jpg")


@pytest.fixture(scope="session")
def grace_hopper_path() -> Path:
    """examples/grace_hopper.jpg (Matplotlib's sample photo, 600x512)."""
    return EXAMPLES_DIR / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def photos(astronaut, grace_hopper_path) -> dict[str, np.ndarray]:
    from humanmatting.preprocess import load_rgb

    return {"astronaut": astronaut, "grace_hopper": load_rgb(grace_hopper_path)}


@pytest.fixture(scope="session")
def original_weights_dir(reference_dir, tmp_path_factory) -> Path:
    """The author's dark-light converted by `python -m humanmatting.hub.convert_legacy` (never
    committed). fp32 only: quantizing takes a minute, and tests/models/test_quantize.py does it
    once."""
    from humanmatting.hub.convert_legacy import main

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
    pytest.importorskip("keras", reason="random model folders are built with Keras ([keras])")
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


@pytest.fixture(scope="session")
def bad_images(tmp_path_factory) -> dict[str, Path]:
    """harness/bad_media.py's hostile images, made once for the library, CLI and app tests."""
    from harness.bad_media import make_images

    return make_images(tmp_path_factory.mktemp("bad-images"))


@pytest.fixture(scope="session")
def bad_videos(tmp_path_factory) -> dict[str, Path]:
    """harness/bad_media.py's good, empty and corrupted videos, made once."""
    from harness.bad_media import make_videos

    return make_videos(tmp_path_factory.mktemp("bad-videos"))
