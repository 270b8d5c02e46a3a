"""Where a model folder comes from: explicit path, local directory, Hugging Face cache, the
files shipped inside this package, the Hub.

The first source that has the model wins. When none does, the error says exactly how to
get the weights, because the most common first-run failure is simply not having them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from humanmatting.settings import PACKAGED_WEIGHTS_ENV, WEIGHTS_DIR_ENV, Settings
from humanmatting.specs import (
    DEFAULT_HUB_NAMESPACE,
    FORMAT_FILE,
    KERAS_FILES,
    TFLITE_FILES,
    ModelSpec,
    get_spec,
)

# Our own trained models' runtime files (humanmatting.json + TFLite), inside the package so
# that a fresh offline install serves every model. Set HUMANMATTING_PACKAGED_WEIGHTS=0 to
# ignore them (for example to test what happens without weights).
PACKAGED_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
__all__ = ["PACKAGED_WEIGHTS_ENV", "WEIGHTS_DIR_ENV"]  # re-exported from settings


def packaged_folder(name: str, settings: Settings | None = None) -> Path | None:
    """The model folder shipped in the package for `name`, or None (also when
    `settings.packaged_weights` is off)."""
    if not (settings or Settings()).packaged_weights:
        return None
    folder = PACKAGED_WEIGHTS_DIR / name
    return folder if is_model_folder(folder) else None


class WeightsNotFoundError(FileNotFoundError):
    """No source had the model; the message lists what was tried and what to do, and
    `how_to_get` holds the ways to get the weights (one command per line) for front ends
    that show them apart."""

    def __init__(self, message: str, how_to_get: str = ""):
        super().__init__(message)
        self.how_to_get = how_to_get


class InvalidWeightsError(ValueError):
    """A model folder cannot be used: damaged, unsafe, or not the model it claims to be."""


class WeightsIntegrityError(InvalidWeightsError):
    """A weights file does not match the SHA-256 pinned in the spec table."""


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and (path / FORMAT_FILE).is_file()


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hub_commit_of(folder: Path) -> str | None:
    """The Hub commit a folder was downloaded at, or None for a folder built locally.

    Knows the two layouts huggingface_hub writes: a cache snapshot
    (`models--ORG--NAME/snapshots/<commit>/`) and a `local_dir` download (its
    `.cache/huggingface/download/*.metadata` records the commit).
    """
    folder = Path(folder)
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.name
    if (folder / ".cache" / "huggingface").is_dir():
        try:
            from huggingface_hub._local_folder import read_download_metadata
        except ImportError:
            return None
        metadata = read_download_metadata(folder, FORMAT_FILE)
        return metadata.commit_hash if metadata is not None else None
    return None


def hub_repo_of(folder: Path) -> str | None:
    """The Hub repository a cache snapshot came from (`models--ORG--NAME/snapshots/<commit>`
    -> ORG/NAME), or None where the layout does not say (a `local_dir` download, a folder
    built locally)."""
    folder = Path(folder)
    cached = folder.parent.parent.name
    if folder.parent.name == "snapshots" and cached.startswith("models--"):
        return cached.removeprefix("models--").replace("--", "/", 1)
    return None


def pins_apply(spec: ModelSpec, commit: str | None, repo_id: str | None = None) -> bool:
    """Whether the spec table's SHA-256 pins describe a Hub download at `commit` from
    `repo_id` (None: not known, taken as the model's own repo).

    Pins describe the files of the model's own repo (DEFAULT_HUB_NAMESPACE): at every
    revision when the spec names none (our models: the files shipped in the package, which
    push publishes), else at `hub_revision` only. Folders built locally (no commit), other
    revisions and other repos (a fork, $HUMANMATTING_HUB_NAMESPACE) have nothing to be
    checked against."""
    if not spec.sha256 or commit is None:
        return False
    if repo_id is not None and repo_id != spec.hub_repo_id:
        return False
    return spec.hub_revision is None or spec.hub_revision == commit


def default_revision(spec: ModelSpec, repo_id: str | None = None) -> str | None:
    """The pinned revision for the spec's own repo; other repos (a fork, a namespace given
    by $HUMANMATTING_HUB_NAMESPACE or --repo-id) default to their main branch."""
    canonical = f"{DEFAULT_HUB_NAMESPACE}/{spec.hub_repo_name}"
    return spec.hub_revision if (repo_id or spec.hub_repo_id) == canonical else None


# What the runtime and the Keras backend read from a model folder: in a download the pins
# apply to, each of these must be pinned (an extra model-fp16.tflite beside pinned files
# would otherwise be loaded, unchecked, by variant="fp16").
LOADED_FILES = (FORMAT_FILE, *KERAS_FILES, *TFLITE_FILES.values())


def verify_folder(spec: ModelSpec, folder: Path, require_all: bool = False) -> list[str]:
    """Check every file pinned in the spec table; returns the names checked.

    Unpinned files pass. With `require_all` (a Hub download), a pinned file that is missing
    is an error too (the download is incomplete), and so is a file the runtime loads that
    no pin describes.
    """
    folder = Path(folder)
    checked = []
    if require_all:
        unpinned = [
            name for name in LOADED_FILES if name not in spec.sha256 and (folder / name).exists()
        ]
        if unpinned:
            raise WeightsIntegrityError(
                f"{folder} holds {', '.join(unpinned)}, which the spec table does not pin for "
                f"{spec.name!r} (pinned: {', '.join(sorted(spec.sha256))}); it is not the "
                "published model, so it was not used."
            )
    for filename, expected in sorted(spec.sha256.items()):
        path = folder / filename
        if not path.exists():
            if require_all:
                raise WeightsIntegrityError(
                    f"{filename} is missing from {folder}, but the spec table pins it for "
                    f"{spec.name!r}; the download is incomplete. "
                    f"Run: python -m humanmatting.hub.pull {spec.name} --force-download"
                )
            continue
        actual = sha256_of(path)
        if actual != expected:
            raise WeightsIntegrityError(
                f"{path} has SHA-256 {actual}, expected {expected} (pinned in humanmatting/"
                f"specs.py for {spec.name!r} at revision {spec.hub_revision or 'any'}); "
                "the file is damaged or not the published one, so it was not used. "
                f"Fetch it again with: python -m humanmatting.hub.pull {spec.name} --force-download"
            )
        checked.append(filename)
    return checked


def how_to_get(spec: ModelSpec, settings: Settings | None = None) -> str:
    """The ways to get `spec`'s weights, one per line, as commands to run."""
    repo_id = (settings or Settings()).repo_id(spec)
    lines = [
        f"  python -m humanmatting.hub.pull {spec.name}  # download from the Hub ({repo_id})",
        f"  or put a model folder at ${WEIGHTS_DIR_ENV}/{spec.name}/ or pass --weights DIR",
    ]
    if spec.legacy_weights:
        lines.append(
            "  or convert the original release: python -m humanmatting.hub.convert_legacy "
            "PATH/TO/humanMatting-original OUTDIR, then use --weights OUTDIR/" + spec.name
        )
    elif spec.shipped:
        lines.append(
            f"  or reinstall the package (it ships {spec.name}: pip install -e .), or train it: "
            f"python -m humanmatting.training.train --model {spec.name} --data DATASETS_DIR "
            "--recipe photos"
        )
    else:  # ours, not (yet) shipped in the package
        lines.append(
            f"  or train it (pip install -e '.[train]'): "
            f"python -m humanmatting.training.train --model {spec.name} --data DATASETS_DIR "
            "--recipe photos, "
            "then python -m humanmatting.training.export"
        )
    return "\n".join(lines)


def _hub_failure(error: Exception) -> str:
    """One line on why the Hub (or the cache) did not give us the folder."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set, so the Hub was not contacted"
    cause = error.__cause__ if error.__cause__ is not None else error
    name = type(cause).__name__
    if name in ("ConnectError", "ConnectTimeout", "ReadTimeout", "TimeoutException"):
        return f"could not connect ({name}; is HF_ENDPOINT right and the network up?)"
    status = getattr(getattr(error, "response", None), "status_code", None)
    if name == "RepositoryNotFoundError" or status in (401, 404):
        return (
            f"the repository is not there (HTTP {status}; a private one needs "
            "`hf auth login` or HF_TOKEN)"
        )
    if name == "RevisionNotFoundError":
        return "the pinned revision does not exist there"
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{name}: {first_line}".rstrip(": ")


def _from_hub(spec: ModelSpec, local_files_only: bool, repo_id: str) -> tuple[Path | None, str]:
    """(folder, "") from the HF cache or the Hub, or (None, why not)."""
    try:
        from huggingface_hub import constants, snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        return None, "huggingface_hub is not installed"
    try:
        folder = Path(
            snapshot_download(
                repo_id,
                revision=default_revision(spec, repo_id),
                local_files_only=local_files_only,
            )
        )
    except LocalEntryNotFoundError as error:
        if local_files_only:
            return None, f"not in {constants.HF_HUB_CACHE}"
        return None, _hub_failure(error)
    except Exception as error:  # HTTP, network and Hub errors all mean "not from the Hub"
        return None, _hub_failure(error)
    if not is_model_folder(folder):
        return None, f"{folder} has no {FORMAT_FILE}: not a humanmatting model repo"
    if local_files_only and any(not (folder / name).exists() for name in spec.sha256):
        return None, f"the cached snapshot {folder} is incomplete"
    return folder, ""


def _verified(spec: ModelSpec, folder: Path) -> Path:
    """Check folders downloaded from the Hub against the spec table's pins."""
    commit = hub_commit_of(folder)
    if pins_apply(spec, commit, hub_repo_of(folder)):
        verify_folder(spec, folder, require_all=True)
    return folder


def resolve_model_folder(
    name: str,
    weights: str | os.PathLike | None = None,
    download: bool = True,
    settings: Settings | None = None,
) -> Path:
    """Find the folder of model `name`: explicit path, `settings.weights_dir`
    ($HUMANMATTING_WEIGHTS_DIR), HF cache, the package's own files, Hub.

    The Hub is `$HF_ENDPOINT` (huggingface.co by default) and the cache honours `HF_HOME` /
    `HF_HUB_CACHE` and `HF_HUB_OFFLINE`, as everywhere in huggingface_hub. Folders that came
    from the Hub are checked against the SHA-256 pins of the spec table. `settings`
    defaults to the environment, read now.
    """
    spec = get_spec(name)
    settings = settings or Settings.from_env()
    tried = []
    if weights is not None:
        path = Path(weights)
        for candidate in (path, path / spec.name):
            if is_model_folder(candidate):
                return _verified(spec, candidate)
        raise WeightsNotFoundError(
            f"{path} is not a model folder for {spec.name!r} (no {FORMAT_FILE} in it or in "
            f"{path / spec.name}). To get the weights:\n{how_to_get(spec, settings)}",
            how_to_get(spec, settings),
        )
    if settings.weights_dir is not None:
        candidate = settings.weights_dir / spec.name
        if is_model_folder(candidate):
            return _verified(spec, candidate)
        tried.append(f"${WEIGHTS_DIR_ENV}/{spec.name} ({candidate}: no {FORMAT_FILE})")
    repo_id = settings.repo_id(spec)
    for local_only in (True, False) if download else (True,):
        folder, why_not = _from_hub(spec, local_only, repo_id)
        if folder is not None:
            return _verified(spec, folder)
        where = "the Hugging Face cache" if local_only else f"the Hub ({hub_endpoint()}/{repo_id})"
        tried.append(f"{where}: {why_not}")
        if local_only:
            shipped = packaged_folder(spec.name, settings)
            if shipped is not None:
                return shipped
            tried.append(f"the package ({PACKAGED_WEIGHTS_DIR / spec.name}: not shipped)")
    raise WeightsNotFoundError(
        f"No weights for model {spec.name!r}. Tried:\n"
        + "".join(f"  - {attempt}\n" for attempt in tried)
        + "To get them:\n"
        + how_to_get(spec, settings),
        how_to_get(spec, settings),
    )


def hub_endpoint() -> str:
    """The Hub this process talks to: $HF_ENDPOINT, read by huggingface_hub at import."""
    from huggingface_hub import constants

    return constants.ENDPOINT
