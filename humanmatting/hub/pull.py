"""Download a model repo from the Hugging Face Hub and check it against the spec table.

    humanmatting pull dark-light [--revision REV] [--local-dir DIR] [--repo-id ORG/NAME]
                      [--force-download]                  (or: python -m humanmatting.hub.pull ...)

Files land in the Hugging Face cache (HF_HOME / HF_HUB_CACHE), or in --local-dir, with
huggingface_hub's progress bars; the runtime, the CLI and the app then find them there.
Without --revision the pinned revision of the spec table is fetched (main for our shipped
models, pinned at every revision by the files the package ships). Every file pinned in the
spec table must match its SHA-256, and every file the runtime loads must be pinned; else
the download is refused and removed, and the command exits with status 2. A download that
no pins describe (a model the spec table pins nothing for, another revision, another repo)
is refused and removed the same way unless --allow-unpinned says to keep it: a repo that
serves another model's graph under the right name would otherwise be used in place of the
shipped weights. With HF_HUB_OFFLINE=1 only the cache is used. The last line of the output
is the folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from humanmatting.command import run_command
from humanmatting.errors import ActionableError, first_line
from humanmatting.settings import Settings
from humanmatting.specs import MODEL_SPECS, ModelSpec, get_spec
from humanmatting.weights import (
    WeightsIntegrityError,
    default_revision,
    hub_commit_of,
    is_model_folder,
    pins_apply,
    sha256_of,
    verify_folder,
)


class PullError(ActionableError, RuntimeError):
    """The model could not be fetched or was refused; the message says what to do."""


def _remove_download(folder: Path, local_dir: Path | None) -> str:
    """Take a refused download out of reach of every loader; returns what was removed."""
    if local_dir is not None:
        shutil.rmtree(folder)
        return str(folder)
    from huggingface_hub import scan_cache_dir

    commit = folder.name
    cache = folder.parents[2]  # <cache>/models--ORG--NAME/snapshots/<commit>
    scan_cache_dir(cache).delete_revisions(commit).execute()
    return f"revision {commit} from the cache {cache}"


def pull(
    spec: ModelSpec,
    repo_id: str | None = None,
    revision: str | None = None,
    local_dir: Path | None = None,
    force_download: bool = False,
    allow_unpinned: bool = False,
) -> tuple[Path, list[str]]:
    """Download `spec`'s repo; returns (folder, names of the files verified against pins).
    A download no pins apply to is refused (and removed) unless `allow_unpinned`."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo_id = repo_id or Settings.from_env().repo_id(spec)
    revision = revision or default_revision(spec, repo_id)
    where = f"{repo_id}@{revision or 'main'}"
    try:
        folder = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                local_dir=local_dir,
                force_download=force_download,
            )
        )
    except LocalEntryNotFoundError as error:
        if constants.HF_HUB_OFFLINE:
            raise PullError(
                f"HF_HUB_OFFLINE is set and {where} is not in the Hugging Face cache "
                f"({constants.HF_HUB_CACHE}). Unset HF_HUB_OFFLINE to download it, or point "
                "HF_HOME at a cache that has it."
            ) from error
        raise PullError(
            f"Could not download {where} from {constants.ENDPOINT}, and it is not in the cache: "
            f"{first_line(error.__cause__ or error)}. Check the network and HF_ENDPOINT."
        ) from error
    except Exception as error:  # repository/revision not found, HTTP errors, connection
        raise PullError(
            f"Could not download {where} from {constants.ENDPOINT}: {first_line(error)}"
        ) from error
    if not is_model_folder(folder):
        raise PullError(f"{where} is not a humanmatting model repo (no humanmatting.json).")
    commit = hub_commit_of(folder)
    if not pins_apply(spec, commit, repo_id):
        if allow_unpinned:
            return folder, []
        removed = _remove_download(folder, local_dir) if commit is not None else "nothing"
        if not spec.sha256:
            pinned = "pins no SHA-256 for this model"
        elif repo_id != spec.hub_repo_id:
            pinned = f"pins the files of {spec.hub_repo_id} only"
        else:
            pinned = f"pins only revision {spec.hub_revision}"
        raise PullError(
            f"Refused {where} (commit {commit}): the spec table {pinned}, so its files cannot "
            f"be checked. Removed {removed}. Pass --allow-unpinned to use files nobody has "
            "checked (your own repo or revision), or use the weights shipped in the package."
        )
    try:
        checked = verify_folder(spec, folder, require_all=True)
    except WeightsIntegrityError as error:
        removed = _remove_download(folder, local_dir)
        raise PullError(
            f"Refused {where} (commit {commit}): {error} Removed {removed}. If this happens "
            "again, the repo does not hold the files pinned in humanmatting/specs.py: do not "
            "use it, and report it."
        ) from error
    return folder, checked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Download a model from the Hugging Face Hub, checked against the spec table."
    )
    parser.add_argument("model", help=f"one of: {', '.join(MODEL_SPECS)}")
    parser.add_argument("--revision", help="branch, tag or commit (default: the pinned one)")
    parser.add_argument(
        "--local-dir", type=Path, help="download into this folder instead of the HF cache"
    )
    parser.add_argument("--repo-id", help="ORG/NAME (default: the spec table's repo)")
    parser.add_argument(
        "--force-download", action="store_true", help="download again even if cached"
    )
    parser.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="keep a download that no SHA-256 pins of the spec table describe (default: "
        "refused and removed)",
    )


def run(args: argparse.Namespace) -> int:
    spec = get_spec(args.model)
    repo_id = args.repo_id or args.settings.repo_id(spec)
    folder, checked = pull(
        spec, repo_id, args.revision, args.local_dir, args.force_download, args.allow_unpinned
    )
    commit = hub_commit_of(folder)
    if checked:
        print(f"Verified {len(checked)} files against the SHA-256 pins of {spec.name!r}.")
    elif spec.sha256:
        print(
            f"{repo_id} at commit {commit} is not what the pins of {spec.name!r} describe "
            f"({spec.hub_repo_id}, revision {spec.hub_revision or 'any'}): its files were not "
            "checked against the spec table."
        )
    else:
        print(f"The spec table pins no files for {spec.name!r}; SHA-256 of what was downloaded:")
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            print(f"  {path.name:24} {sha256_of(path)}")
    print(folder)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.hub.pull`: the same command as `humanmatting pull`."""
    return run_command("humanmatting.hub.pull", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
