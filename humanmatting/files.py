"""Writing outputs so that nobody ever sees a half-written file."""

from __future__ import annotations

import os
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
    temporary = destination.with_name(_temporary_name(destination))
    try:
        yield temporary
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def _temporary_name(destination: Path) -> str:
    """`.<stem>.<token>.partial<suffix>`, the stem shortened when the name would be longer
    than the file system allows (a valid 241-character name must stay writable)."""
    token = uuid.uuid4().hex[:8]
    try:
        limit = os.pathconf(destination.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows)
        limit = 255
    stem, tail = destination.stem, f".{token}.partial{destination.suffix}"
    while stem and len(f".{stem}{tail}".encode(errors="surrogateescape")) > limit:
        stem = stem[:-1]
    return f".{stem}{tail}"
