"""Publish a model folder as a Hugging Face Hub model repo, with its model card.

    humanmatting push dark-light --from models/ [--repo-id ORG/NAME]
                      [--revision BRANCH | --create-pr] [--curves curves.png]
                      [--dry-run OUTDIR]                  (or: python -m humanmatting.hub.push ...)

The repo becomes exactly the staged folder: the Keras 3 files (`hf://` loading), the TFLite files,
humanmatting.json, metrics.json, a training-curve image when there is one, and README.md
(humanmatting.hub.card). Files of an earlier upload that are not in it are deleted, so a stale
quantized model can never sit beside new weights. `--dry-run OUTDIR` stages into OUTDIR and uploads
nothing. The Hub is $HF_ENDPOINT (default huggingface.co); log in first with `hf auth login` or set
HF_TOKEN.

After an upload it prints the commit and the SHA-256 of every file: for a model the package
does not ship, paste them into the model's entry in humanmatting/specs.py (`hub_revision=`,
`sha256=`) so that pulls and the runtime check what they download against them. Our shipped
models are pinned by their shipped files already (SHIPPED_SHA256, written by training.ship):
push them from the package's folder, unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from humanmatting.command import run_command
from humanmatting.errors import first_line
from humanmatting.folder import FolderDescription, FolderDescriptionError, write_metrics
from humanmatting.hub.card import CARD_FILE, CURVE_FILES, build_card, collect_results
from humanmatting.specs import (
    FORMAT_FILE,
    KERAS_FILES,
    MODEL_SPECS,
    TFLITE_FILES,
    ModelSpec,
    get_spec,
)
from humanmatting.weights import hub_endpoint, sha256_of


class PushError(ValueError):
    """The folder cannot be published as it is; the message says what to fix."""


def find_model_folder(spec: ModelSpec, source: Path) -> Path:
    """`source` itself or `source/<model>`, checked to hold this model's complete folder."""
    source = Path(source)
    folder = source if (source / FORMAT_FILE).is_file() else source / spec.name
    if not (folder / FORMAT_FILE).is_file():
        raise PushError(
            f"{source} is not a model folder (no {FORMAT_FILE} in it or in {source / spec.name}). "
            "Make one with `python -m humanmatting.training.export` or "
            "`python -m humanmatting.hub.convert_legacy`."
        )
    try:
        FolderDescription.load(folder, spec)
    except FolderDescriptionError as error:
        raise PushError(f"{error} Push a folder under its own model's name.") from None
    missing = [name for name in KERAS_FILES if not (folder / name).is_file()]
    # A LiteRT file the runtime can load: fp32, or the default variant (night and dark ship
    # fp16 only).
    runtime_files = {TFLITE_FILES["fp32"], TFLITE_FILES[spec.default_variant or "fp32"]}
    if not any((folder / name).is_file() for name in runtime_files):
        missing.append(" or ".join(sorted(runtime_files)))
    if missing:
        raise PushError(f"{folder} lacks {', '.join(missing)}; export the model again.")
    return folder


def stage_repo(
    spec: ModelSpec,
    folder: Path,
    out_dir: Path,
    repo_id: str,
    curves: Path | None = None,
) -> Path:
    """Write the repo's files into `out_dir` (which must be empty or absent); returns it."""
    out_dir = Path(out_dir)
    if curves is not None and (curves.suffix not in (".png", ".svg") or not curves.is_file()):
        raise PushError(f"--curves must be an existing .png or .svg image, not {curves}")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise PushError(f"{out_dir} is not empty; give an empty or new folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [*KERAS_FILES, FORMAT_FILE, *TFLITE_FILES.values(), *CURVE_FILES]
    for name in names:
        if (folder / name).is_file():
            shutil.copyfile(folder / name, out_dir / name)
    if curves is not None:
        shutil.copyfile(curves, out_dir / f"curves{curves.suffix}")
    metrics = collect_results(spec, folder)
    write_metrics(out_dir, metrics)
    card = build_card(spec, out_dir, repo_id, metrics)
    (out_dir / CARD_FILE).write_text(str(card))
    return out_dir


def pins_snippet(spec: ModelSpec, revision: str, folder: Path) -> str:
    """What to paste into the model's ModelSpec so pulls verify this upload."""
    lines = [f'    hub_revision="{revision}",', "    sha256={"]
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        lines.append(f'        "{path.name}": "{sha256_of(path)}",')
    lines.append("    },")
    return "\n".join(lines)


def upload(
    staged: Path,
    repo_id: str,
    revision: str | None = None,
    create_pr: bool = False,
    private: bool = False,
    message: str | None = None,
):
    """create_repo + (create_branch) + upload_folder; returns huggingface_hub's CommitInfo."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=staged,
        revision=revision,
        create_pr=create_pr,
        commit_message=message or f"Upload {staged.name}",
        delete_patterns="*",  # the repo mirrors the staged folder (.gitattributes is kept)
    )


def push_folder(
    model_name: str, folder: str | os.PathLike, dry_run_dir: str | os.PathLike | None = None
) -> int:
    """Publish `folder` as `humanmatting push MODEL --from FOLDER [--dry-run DIR]` does, in
    this process (the export notebook's last step); RuntimeError when the push fails."""
    argv = [model_name, "--from", str(folder)]
    if dry_run_dir is not None:
        argv += ["--dry-run", str(dry_run_dir)]
    print("$ humanmatting push", " ".join(argv), flush=True)
    status = main(argv)
    if status != 0:
        raise RuntimeError(f"humanmatting push {model_name} failed (exit status {status})")
    return status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Publish a model folder to the Hugging Face Hub with its model card."
    parser.add_argument("model", help=f"one of: {', '.join(MODEL_SPECS)}")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="the model folder, or a folder holding one per model; default: resolve the "
        "weights as the runtime does (in a clone: the shipped folder with its Keras files)",
    )
    parser.add_argument("--repo-id", help="ORG/NAME (default: the spec table's repo)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--revision", help="branch to commit to (created if missing)")
    target.add_argument(
        "--create-pr", action="store_true", help="open a pull request instead of committing"
    )
    parser.add_argument("--curves", type=Path, help="training-curve image (.png or .svg)")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--message", help="commit message")
    parser.add_argument(
        "--dry-run",
        type=Path,
        metavar="OUTDIR",
        help="stage the repo's files into OUTDIR and upload nothing",
    )


def run(args: argparse.Namespace) -> int:
    spec = get_spec(args.model)
    repo_id = args.repo_id or args.settings.repo_id(spec)
    if args.source is None:
        from humanmatting.weights import resolve_model_folder

        args.source = resolve_model_folder(spec.name, settings=args.settings, download=False)
    folder = find_model_folder(spec, args.source)
    if args.dry_run:
        staged = stage_repo(spec, folder, args.dry_run, repo_id, args.curves)
        print(f"Dry run: staged {repo_id} in {staged}; nothing was uploaded.")
        for path in sorted(staged.iterdir()):
            print(f"  {path.name:24} {path.stat().st_size:>10,} bytes")
        return 0
    with tempfile.TemporaryDirectory(prefix=f"hub-push-{spec.name}-") as temporary:
        staged = stage_repo(spec, folder, Path(temporary) / spec.name, repo_id, args.curves)
        message = args.message or f"Upload {spec.name} from {folder.name}/ (humanmatting.hub.push)"
        try:
            info = upload(staged, repo_id, args.revision, args.create_pr, args.private, message)
        except Exception as error:  # network and Hub errors: one line, no traceback
            raise PushError(
                f"upload to {hub_endpoint()}/{repo_id} failed: {first_line(error)}"
            ) from None
        pins = pins_snippet(spec, info.oid, staged)
    where = info.pr_url or f"{repo_id}@{args.revision or 'main'}"
    print(f"Pushed {spec.name} to {where}: commit {info.oid}")
    print(f"\nTo pin this upload, set in the {spec.name!r} entry of humanmatting/specs.py:")
    print(pins)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.hub.push`: the same command as `humanmatting push`."""
    return run_command("humanmatting.hub.push", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
