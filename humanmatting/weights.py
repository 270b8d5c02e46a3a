"""Where a model folder comes from: explicit path, local directory, Hugging Face cache, Hub.

The first source that has the model wins. When none does, the error says exactly how to
get the weights, because the most common first-run failure is simply not having them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from humanmatting.specs import FORMAT_FILE, ModelSpec, get_spec

WEIGHTS_DIR_ENV = "HUMANMATTING_WEIGHTS_DIR"


class WeightsNotFoundError(FileNotFoundError):
    """No source had the model; the message lists what was tried and what to do."""


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


def verify_folder(spec: ModelSpec, folder: Path) -> None:
    """Check every file pinned in the spec table; unpinned files pass (local builds)."""
    for filename, expected in spec.sha256.items():
        path = folder / filename
        if path.exists() and (actual := sha256_of(path)) != expected:
            raise WeightsIntegrityError(
                f"{path} has SHA-256 {actual}, expected {expected} for {spec.name!r}; "
                "the file is damaged or not the published one. Delete it and pull again."
            )


def how_to_get(spec: ModelSpec) -> str:
    lines = [
        f"  python -m hub.pull {spec.name}            # download from the Hub ({spec.hub_repo_id})",
        f"  or put a model folder at ${WEIGHTS_DIR_ENV}/{spec.name}/ or pass --weights DIR",
    ]
    if spec.legacy_weights:
        lines.append(
            "  or convert the original release: python -m hub.convert_legacy "
            "PATH/TO/humanMatting-original OUTDIR, then use --weights OUTDIR/" + spec.name
        )
    else:
        lines.append(
            f"  or train it: python -m training.train --model {spec.name} --data AISEGMENT_DIR"
        )
    return "\n".join(lines)


def _from_hub(spec: ModelSpec, local_files_only: bool) -> Path | None:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError:
        return None
    try:
        folder = snapshot_download(
            spec.hub_repo_id, revision=spec.hub_revision, local_files_only=local_files_only
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError):
        return None
    return Path(folder) if is_model_folder(Path(folder)) else None


def resolve_model_folder(
    name: str, weights: str | os.PathLike | None = None, download: bool = True
) -> Path:
    """Find the folder of model `name`: explicit path, $HUMANMATTING_WEIGHTS_DIR, HF cache, Hub."""
    spec = get_spec(name)
    tried = []
    if weights is not None:
        path = Path(weights)
        for candidate in (path, path / spec.name):
            if is_model_folder(candidate):
                verify_folder(spec, candidate)
                return candidate
        raise WeightsNotFoundError(
            f"{path} is not a model folder for {spec.name!r} (no {FORMAT_FILE} in it or in "
            f"{path / spec.name}). To get the weights:\n{how_to_get(spec)}"
        )
    if os.environ.get(WEIGHTS_DIR_ENV):
        candidate = Path(os.environ[WEIGHTS_DIR_ENV]) / spec.name
        if is_model_folder(candidate):
            verify_folder(spec, candidate)
            return candidate
        tried.append(f"${WEIGHTS_DIR_ENV}/{spec.name} ({candidate})")
    for local_only in (True, False) if download else (True,):
        folder = _from_hub(spec, local_files_only=local_only)
        if folder is not None:
            verify_folder(spec, folder)
            return folder
        tried.append("the Hugging Face cache" if local_only else f"the Hub ({spec.hub_repo_id})")
    raise WeightsNotFoundError(
        f"No weights for model {spec.name!r} (tried {', '.join(tried)}). To get them:\n"
        + how_to_get(spec)
    )
