"""Assemble the Hugging Face Space folder (app, package, requirements, examples, the built
in-browser camera) and upload it.

    humanmatting space --dry-run OUTDIR        # assemble only, into OUTDIR
    humanmatting space [--repo-id NS/NAME]      # assemble into a temporary folder, upload
    (or: python -m humanmatting.space.build ...; both from a source checkout)

The in-browser camera (web/) is built first (`npm ci` when its node_modules is missing or
older than the lock file, then `npm run build`) and its web/dist copied in, so that the
Space's visitors matte their camera in their own browser; `--no-web-build` copies the
web/dist there is (none: the Space streams the camera to the server, as without a build).

The Space runs `app.py` beside a copy of the `humanmatting` package with only the runtime
and the app layer, humanmatting/app (no install step); the SDK installs gradio at the
README's `sdk_version`, so the Space's requirements.txt leaves gradio out. The gradio
version is pinned once, in the repository's requirements.txt (`gradio==X.Y.Z`, what the
app is tested with); the README's `sdk_version` and pyproject's [app] extra must agree with
it (tests/space/test_gradio_pin.py).
On a Space (SPACE_ID is set) the app may download weights from the model repos.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from huggingface_hub import HfApi, SpaceCard

from humanmatting.app.browser import built
from humanmatting.command import run_command
from humanmatting.errors import ActionableError
from humanmatting.settings import Settings
from humanmatting.specs import KERAS_FILES, MODEL_SPECS, SHIPPED_MODELS

PACKAGE = Path(__file__).resolve().parents[1]  # humanmatting/
# The checkout the Space is assembled from: app.py, requirements.txt, examples/, web/.
REPO_ROOT = PACKAGE.parent
# Subpackages a Space never runs: the Keras tools, training, Hub tools, this one, the CLI.
NOT_IN_SPACE = {"models", "training", "hub", "space", "cli"}
WEB_DIR = REPO_ROOT / "web"
SPACE_README = Path(__file__).with_name("README.md")
SPACE_NAME = "humanmatting"
# *.pyi: typing stubs Gradio writes beside component subclasses (humanmatting/app/components.pyi)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi", ".*")


def RUNTIME_ONLY(folder: str, names: list[str]) -> set[str]:  # noqa: N802 (an ignore pattern)
    """Like IGNORED, and leaves out the subpackages a Space never runs (NOT_IN_SPACE: the
    runtime and the app layer stay) and the shipped models' Keras files (the repository
    keeps them, the wheel does not)."""
    ignored = IGNORED(folder, names)
    if Path(folder) == PACKAGE:
        ignored.update(NOT_IN_SPACE & set(names))
    if Path(folder).parent == PACKAGE / "weights":
        ignored.update(name for name in names if name in KERAS_FILES)
    return ignored


def check_checkout(root: Path = REPO_ROOT) -> None:
    """The Space is assembled from a source checkout (app.py, requirements.txt, examples/,
    web/ beside the package): an ActionableError that says so when there is none."""
    missing = [
        name for name in ("app.py", "requirements.txt", "examples") if not (root / name).exists()
    ]
    if missing:
        raise ActionableError(
            f"humanmatting space assembles the Space from a source checkout (git clone, then "
            f"pip install -e .); {root} lacks {', '.join(missing)}."
        )


def pinned_gradio(requirements: Path = REPO_ROOT / "requirements.txt") -> str:
    """The gradio version the app is tested with: the one pin, `gradio==X.Y.Z` in
    requirements.txt."""
    found = re.search(r"^gradio==([0-9][^\s;#]*)\s*$", requirements.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"{requirements} pins no gradio version (a line gradio==X.Y.Z)")
    return found.group(1)


def space_card() -> SpaceCard:
    """The Space README, its `models:` taken from the spec table (so the namespace follows
    $HUMANMATTING_HUB_NAMESPACE): the models the Space serves, shipped in its package copy;
    its `sdk_version` the gradio pinned in requirements.txt."""
    card = SpaceCard.load(SPACE_README)
    settings = Settings.from_env()
    card.data.models = [settings.repo_id(MODEL_SPECS[name]) for name in SHIPPED_MODELS]
    card.data.sdk_version = pinned_gradio()
    return card


def space_requirements() -> str:
    """The app's runtime requirements without gradio (the Space SDK provides it)."""
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    kept = [line for line in lines if not line.strip().lower().startswith("gradio")]
    return "\n".join(kept) + "\n"


def build_web(web: Path = WEB_DIR) -> Path:
    """Build the in-browser camera: `npm ci` when node_modules is missing or older than the
    lock file, then `npm run build`; returns web/dist. OSError when npm fails or is absent."""
    npm = shutil.which("npm")
    if npm is None:
        raise OSError("npm not found: install Node.js 20 or later to build web/, or --no-web-build")
    installed = web / "node_modules" / ".package-lock.json"
    lock = web / "package-lock.json"
    commands = [["run", "build"]]
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        commands.insert(0, ["ci", "--no-audit", "--no-fund"])
    for command in commands:
        try:
            subprocess.run([npm, *command], cwd=web, check=True, stdout=sys.stderr)
        except subprocess.CalledProcessError as error:
            raise OSError(
                f"npm {' '.join(command)} in {web} failed (status {error.returncode})"
            ) from None
    return web / "dist"


def assemble(out_dir: str | Path, web_dist: Path | None = WEB_DIR / "dist") -> Path:
    """Write the Space folder to `out_dir` (which must not exist or be empty), with the
    in-browser camera's `web_dist` when it holds a build."""
    check_checkout()
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new folder for the Space.")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "app.py", out / "app.py")
    # The runtime and the app layer (humanmatting/app); the other layers stay out.
    shutil.copytree(PACKAGE, out / "humanmatting", ignore=RUNTIME_ONLY)
    shutil.copytree(REPO_ROOT / "examples", out / "examples", ignore=IGNORED)
    if web_dist is not None and built(web_dist):
        shutil.copytree(web_dist, out / "web" / "dist", ignore=shutil.ignore_patterns("*.map"))
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
    # The Space serves the models shipped in its package copy (no download); its front
    # matter links only the model repos that exist on the Hub now.
    card = SpaceCard.load(folder / "README.md")
    card.data.models = [repo for repo in card.data.models or [] if api.repo_exists(repo)]
    card.save(folder / "README.md")
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="space",
        commit_message="Update the humanmatting Space",
        delete_patterns=["*"],  # the folder is the whole Space: drop files no longer built
    )
    return f"https://huggingface.co/spaces/{repo_id}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("--dry-run", metavar="OUTDIR", help="assemble into OUTDIR, no upload")
    parser.add_argument(
        "--repo-id", help=f"NS/NAME (default: $HUMANMATTING_HUB_NAMESPACE/{SPACE_NAME})"
    )
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or `hf auth login`)")
    parser.add_argument(
        "--no-web-build", action="store_true", help="copy web/dist as it is, without npm"
    )


def run(args: argparse.Namespace) -> int:
    check_checkout()  # before npm runs
    web_dist = WEB_DIR / "dist" if args.no_web_build else build_web()
    if not built(web_dist):
        print(
            "humanmatting.space.build: web/dist is not built: the Space streams the camera to "
            "the server"
        )
    if args.dry_run:
        print(assemble(args.dry_run, web_dist))
        return 0
    repo_id = args.repo_id or f"{args.settings.hub_namespace}/{SPACE_NAME}"
    with tempfile.TemporaryDirectory(prefix="humanmatting-space-") as folder:
        space = assemble(Path(folder) / "space", web_dist)
        print(upload(space, repo_id, args.private, args.token))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.space.build`: the same command as `humanmatting space`."""
    return run_command("humanmatting.space.build", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
