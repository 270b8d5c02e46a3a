"""Which models this server can run, each loaded once per role (photos, camera, video)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from humanmatting.runtime import Matter, open_matter
from humanmatting.settings import Settings
from humanmatting.specs import DEFAULT_FRAMES_MODEL, DEFAULT_MODEL, MODEL_SPECS
from humanmatting.weights import (
    WeightsIntegrityError,
    WeightsNotFoundError,
    resolve_model_folder,
)

# What a model is loaded for: each role keeps its own interpreters (see ModelRegistry).
ROLES = ("photo", "camera", "video")


class ModelUnavailableError(LookupError):
    """The requested model has no weights here; the message says how to get them."""


class ModelRegistry:
    """Which models have weights (checked once, at start-up), each loaded on first use.

    Nothing is downloaded unless `download` is true, so a default start makes no
    network request. LiteRT keeps one interpreter per network input shape, and each holds
    its own buffers: about 80 MB at the 512x384 photo preset (int8). To keep the server's
    memory bounded, each model is loaded once per role (ROLES: photos, camera frames,
    video frames), each keeping at most `max_shapes` interpreters, so the live camera and
    a video never evict the photos' interpreter or each other's. A new shape costs one
    allocation (10-50 ms).
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        download: bool = False,
        threads: int | None = None,
        names: tuple[str, ...] = tuple(MODEL_SPECS),
        max_shapes: int = 1,
        settings: Settings | None = None,
    ):
        self.settings = settings or Settings.from_env()
        self.weights = weights
        self.download = download
        self.threads = threads
        self.max_shapes = max_shapes
        self.folders: dict[str, Path] = {}
        self.problems: dict[str, str] = {}
        self._how_to_get: dict[str, str] = {}
        for name in names:
            try:
                self.folders[name] = resolve_model_folder(
                    name, weights, download=download, settings=self.settings
                )
            except (WeightsNotFoundError, WeightsIntegrityError) as error:
                self.problems[name] = str(error)
                self._how_to_get[name] = (getattr(error, "how_to_get", "") or str(error)).strip()
        self._matters: dict[tuple[str, str], Matter] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> list[str]:
        return list(self.folders)

    @property
    def default(self) -> str | None:
        """The model a photo gets when none is chosen (DEFAULT_MODEL, else the first)."""
        return self._default_among(DEFAULT_MODEL)

    @property
    def default_for_frames(self) -> str | None:
        """The camera's and the Video tab's default: the fastest (DEFAULT_FRAMES_MODEL)."""
        return self._default_among(DEFAULT_FRAMES_MODEL)

    def _default_among(self, preferred: str) -> str | None:
        if preferred in self.folders:
            return preferred
        return next(iter(self.folders), None)

    def how_to_get(self, name: str) -> str:
        """The commands that get model `name`'s weights (the error's `how_to_get`; its
        problem also lists the folders tried on this server: never shown to visitors)."""
        return self._how_to_get.get(name, "")

    def summary(self) -> dict:
        """Which models this server can run (names), and how to get the others."""
        # The API's /models (this docstring is its description): no server paths in it.
        return {
            "available": self.available,
            "unavailable": {name: self.how_to_get(name) for name in self.problems},
        }

    def is_loaded(self, name: str | None, role: str = "photo") -> bool:
        """Whether model `name` (None: the role's default) is loaded for `role` already: its
        first load takes seconds, which the page says while it happens."""
        name = name or (self.default if role == "photo" else self.default_for_frames)
        return (name, role) in self._matters

    def matter(self, name: str | None, role: str = "photo") -> Matter:
        """The model `name` (None: the default for photos, or for frames for the camera and
        video roles) loaded for `role`, one of ROLES."""
        name = name or (self.default if role == "photo" else self.default_for_frames)
        if name not in self.folders:
            if name in self.problems:
                raise ModelUnavailableError(
                    f"Model {name} is not available on this server. To get it:\n"
                    + self.how_to_get(name)
                )
            raise ModelUnavailableError(
                f"Unknown model {name!r}; choose one of {', '.join(self.available)}."
            )
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        with self._lock:
            if (name, role) not in self._matters:
                matter = open_matter(  # the folder found at start-up: not looked up again
                    name,
                    self.folders[name],
                    threads=self.threads,
                    max_shapes=self.max_shapes,
                    settings=self.settings,
                )
                self._matters[name, role] = matter
            return self._matters[name, role]
