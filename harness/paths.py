"""The repository's paths for tests and benchmarks: the checkout, ../shared and examples/."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_ENV = "HUMANMATTING_SHARED"
# The repository's own public-domain photos (examples/README.md): the sample photos of the
# tests, so that runtime tests need neither scikit-image nor matplotlib.
EXAMPLES_DIR = REPO_ROOT / "examples"


def shared_dir() -> Path:
    """../shared beside the repository, or $HUMANMATTING_SHARED."""
    return Path(os.environ.get(SHARED_ENV, REPO_ROOT.parent / "shared"))
