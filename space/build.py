"""Assemble the Hugging Face Space folder (app, package, requirements, examples) and upload it.

    python -m space.build --dry-run OUTDIR        # assemble only, into OUTDIR
    python -m space.build [--repo-id NS/NAME]      # assemble into a temporary folder, upload

The Space runs `app.py` beside a copy of the `humanmatting` package (no install step); the
SDK installs gradio at the README's `sdk_version`, so requirements.txt leaves gradio out.
On a Space (SPACE_ID is set) the app may download weights from the model repos.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from huggingface_hub import HfApi, SpaceCard

from humanmatting.specs import (
    DEFAULT_HUB_NAMESPACE,
    HUB_NAMESPACE_ENV,
    MODEL_SPECS,
    SHIPPED_MODELS,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE_README = Path(__file__).with_name("README.md")
SPACE_NAME = "humanmatting"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def space_card() -> SpaceCard:
    """The Space README, its `models:` taken from the spec table (so the namespace follows
    $HUMANMATTING_HUB_NAMESPACE): the models the Space serves, shipped in its package copy."""
    card = SpaceCard.load(SPACE_README)
    card.data.models = [MODEL_SPECS[name].hub_repo_id for name in SHIPPED_MODELS]
    return card


def space_requirements() -> str:
    """The app's runtime requirements without gradio (the Space SDK provides it)."""
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    kept = [line for line in lines if not line.strip().lower().startswith("gradio")]
    return "\n".join(kept) + "\n"


def assemble(out_dir: str | Path) -> Path:
    """Write the Space folder to `out_dir` (which must not exist or be empty)."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new folder for the Space.")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "app.py", out / "app.py")
    shutil.copytree(REPO_ROOT / "humanmatting", out / "humanmatting", ignore=IGNORED)
    shutil.copytree(REPO_ROOT / "examples", out / "examples", ignore=IGNORED)
    (out / "requirements.txt").write_text(space_requirements())
    space_card().save(out / "README.md")
    return out


def upload(
    folder: Path,
    repo_id: str,
    private: bool = False,
    token: str | None = None,
    api: HfApi | None = None,
) -> str:
    """Create the Space if needed and upload the folder as one commit; returns its URL."""
    api = api or HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="space",
        commit_message="Update the humanmatting Space",
        delete_patterns=["*"],  # the folder is the whole Space: drop files no longer built
    )
    return f"https://huggingface.co/spaces/{repo_id}"


def main(argv: list[str] | None = None) -> int:
    namespace = os.environ.get(HUB_NAMESPACE_ENV, DEFAULT_HUB_NAMESPACE)
    parser = argparse.ArgumentParser(prog="python -m space.build", description=__doc__)
    parser.add_argument("--dry-run", metavar="OUTDIR", help="assemble into OUTDIR, no upload")
    parser.add_argument("--repo-id", default=f"{namespace}/{SPACE_NAME}")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or `hf auth login`)")
    args = parser.parse_args(argv)
    try:
        if args.dry_run:
            print(assemble(args.dry_run))
            return 0
        with tempfile.TemporaryDirectory(prefix="humanmatting-space-") as folder:
            print(upload(assemble(Path(folder) / "space"), args.repo_id, args.private, args.token))
    except (FileExistsError, OSError) as error:
        print(f"space.build: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
