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
    token = uuid.uuid4().hex[:8]
    temporary = destination.with_name(f".{destination.stem}.{token}.partial{destination.suffix}")
    try:
        yield temporary
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)
