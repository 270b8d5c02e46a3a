"""Where benchmarks write figures made from the data sets' photos: never into a tracked path.

The data sets' photos may not be copied into the repository (../shared/datasets/README.md),
and neither may galleries or crops made from them. They go under `out/` at the repository
root, which .gitignore ignores, or anywhere outside the checkout.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "out"  # ignored (.gitignore: /out/)


class TrackedFolderError(ValueError):
    """A folder for photo figures that git would track."""


def check_untracked_folder(folder: Path, repo_root: Path = REPO_ROOT) -> Path:
    """`folder`, resolved, when figures written into it cannot be committed: it lies outside
    `repo_root` or git ignores it there. Raises TrackedFolderError otherwise.

    Outside a git checkout (an unpacked sdist) nothing can be committed, so any folder does.
    """
    folder = Path(folder).expanduser().resolve()
    root = Path(repo_root).resolve()
    if folder != root and root not in folder.parents:
        return folder
    probe = folder / "figure.png"  # a file in it: git matches directory patterns on paths
    try:
        checked = subprocess.run(
            ["git", "check-ignore", "--quiet", str(probe.relative_to(root))],
            cwd=root,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return folder
    if checked.returncode == 1:  # 0: ignored; 128: not a git checkout
        raise TrackedFolderError(
            f"{folder} is inside the repository and not ignored by git: figures made from the "
            f"data sets' photos must not be committed. Use a folder under {OUT_DIR} "
            "(ignored) or outside the checkout."
        )
    return folder


def shown_path(path: Path, repo_root: Path = REPO_ROOT) -> str:
    """`path` relative to the repository root when inside it (as reports name it), else as
    given."""
    resolved = Path(path).resolve()
    root = Path(repo_root).resolve()
    if root in resolved.parents:
        return resolved.relative_to(root).as_posix()
    return str(path)
