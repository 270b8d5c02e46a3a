"""The server's own temporary folder, removed when it stops or by the next server."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no file locks, no clean-up of other servers' folders
    fcntl = None


class AppTempFolder:
    """A server's own temporary folder, `<base>/<name>/`, for everything it writes
    (uploads, results, videos being written): removed by `remove()` when the server stops,
    and, for a server that was killed, by the next one that starts.

    Each live server holds an exclusive lock on `<base>/<name>.lock` (taken before the
    folder is made), so a folder whose lock can be taken belongs to a server that is gone,
    and servers running side by side never remove each other's files.
    """

    def __init__(self, base: str | os.PathLike):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.removed = self.remove_leftovers(self.base)  # names of the folders removed
        name = f"{os.getpid()}-{os.urandom(4).hex()}"
        self._lock = open(self.base / f"{name}.lock", "w")  # noqa: SIM115 - held until remove
        if fcntl is not None:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.path = self.base / name
        self.path.mkdir(mode=0o700)

    @staticmethod
    def remove_leftovers(base: Path) -> list[str]:
        """Remove the folders of servers that are gone; returns their names."""
        if fcntl is None:  # no flock (Windows): never guess
            return []
        removed = []
        for lock_path in sorted(base.glob("*.lock")):
            try:
                with open(lock_path, "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: alive
                    shutil.rmtree(base / lock_path.stem, ignore_errors=True)
                    lock_path.unlink(missing_ok=True)
                removed.append(lock_path.stem)
            except OSError:
                continue
        for folder in base.iterdir():  # a folder without its lock file: nobody's
            if folder.is_dir() and not folder.with_name(f"{folder.name}.lock").exists():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        return removed

    def remove(self) -> None:
        """Delete the folder and everything in it (twice: a request may still be writing)."""
        for _ in range(2):
            shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.base / f"{self.path.name}.lock").unlink()
            self._lock.close()
