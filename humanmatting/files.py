"""Writing outputs so that nobody ever sees a half-written file."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden temporary path beside `destination`; move it into place on success.

    On an error or Ctrl+C the temporary file is removed and an existing `destination` is
    left as it was. The temporary name keeps the suffix, so writers that pick the format
    from it (Pillow, OpenCV) still do; it is unique, so parallel runs never collide.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(destination)
    temporary = destination.with_name(_temporary_name(destination))
    try:
        yield temporary
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def remove_stale_partials(destination: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that runs killed outright (SIGKILL, power loss: no
    clean-up ran) left beside `destination`: those whose process (named in them) no longer
    runs. Files of runs still writing are left alone. Returns the files removed."""
    destination = Path(destination)
    if os.name == "nt":  # no signal 0 to ask whether a process runs
        return []
    pattern = re.compile(rf"^\.(.*)\.(\d+)-[0-9a-f]{{8}}\.partial{re.escape(destination.suffix)}$")
    removed = []
    try:
        siblings = list(destination.parent.glob(f".*.partial{destination.suffix}"))
    except OSError:
        return []
    for sibling in siblings:
        match = pattern.match(sibling.name)
        if not match or not destination.stem.startswith(match.group(1)):
            continue
        if _running(int(match.group(2))):
            continue
        try:
            sibling.unlink()
        except OSError:
            continue
        removed.append(sibling)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; or not a pid
        return True
    return True


def _temporary_name(destination: Path) -> str:
    """`.<stem>.<pid>-<token>.partial<suffix>`, the stem shortened when the name would be
    longer than the file system allows (a valid 241-character name must stay writable);
    the process id tells a later run whether the file's writer is gone."""
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        limit = os.pathconf(destination.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows)
        limit = 255
    stem, tail = destination.stem, f".{token}.partial{destination.suffix}"
    while stem and len(f".{stem}{tail}".encode(errors="surrogateescape")) > limit:
        stem = stem[:-1]
    return f".{stem}{tail}"
