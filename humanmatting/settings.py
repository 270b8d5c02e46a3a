"""The runtime's settings in one object, read from the environment once, at an edge.

The CLI and the app call `Settings.from_env()` when they start and pass the object down;
a library caller may build one (`Settings(weights_dir=...)`) or let `load_matter` read the
environment once per call. Nothing below the edges reads `HUMANMATTING_*` variables.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from humanmatting.specs import DEFAULT_HUB_NAMESPACE, ModelSpec

WEIGHTS_DIR_ENV = "HUMANMATTING_WEIGHTS_DIR"
PACKAGED_WEIGHTS_ENV = "HUMANMATTING_PACKAGED_WEIGHTS"
HUB_NAMESPACE_ENV = "HUMANMATTING_HUB_NAMESPACE"
MAX_PIXELS_ENV = "HUMANMATTING_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: larger than any phone photo, far below a bomb
_OFF = ("0", "false", "no", "off")


class SettingError(ValueError):
    """A setting (an environment variable) has a value that cannot be used."""


def read_number(
    text: str,
    low: float = 0,
    high: float = math.inf,
    whole: bool = False,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """The one number check of the settings and every command's options: a finite number
    from `low` (above it with `low_open`) to `high` (below it with `high_open`), whole with
    `whole`; ValueError "must be a number from 0 to 1, not 'nan'" (the caller names the
    setting) otherwise."""
    try:
        number = float(text)
        if whole and number != int(number):
            raise ValueError
    except (ValueError, OverflowError, TypeError):
        number = math.nan
    above_low = number > low if low_open else number >= low  # False for NaN
    below_high = number < high if high_open else number <= high
    if not (above_low and below_high) or math.isinf(number):
        kind = "a whole number" if whole else "a number"
        if math.isinf(high):
            bound = f"above {low:g}" if low_open else f"of at least {low:g}"
        else:
            below = "below " if high_open else ""
            bound = f"{'above' if low_open else 'from'} {low:g} to {below}{high:g}"
        raise ValueError(f"must be {kind} {bound}, not {text!r}")
    return int(number) if whole else number


def positive_number(
    environ: Mapping[str, str],
    name: str,
    default: float,
    minimum: float = 0,
    whole: bool = False,
    above: bool = False,
) -> float:
    """The number in environ[name] (`default` when unset): at least `minimum` (above it
    with `above`), whole with `whole`; SettingError that says what is wrong otherwise."""
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        return read_number(value, minimum, whole=whole, low_open=above)
    except ValueError as error:
        raise SettingError(f"{name} {error}.") from None


@dataclass(frozen=True)
class Settings:
    """Where weights come from and how large an input may be."""

    weights_dir: Path | None = None  # $HUMANMATTING_WEIGHTS_DIR: model folders by name
    packaged_weights: bool = True  # $HUMANMATTING_PACKAGED_WEIGHTS=0 ignores shipped models
    hub_namespace: str = DEFAULT_HUB_NAMESPACE  # $HUMANMATTING_HUB_NAMESPACE
    max_pixels: int = DEFAULT_MAX_PIXELS  # $HUMANMATTING_MAX_PIXELS: decoded image limit

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the HUMANMATTING_* variables (os.environ by default); bad values raise
        SettingError naming the variable."""
        environ = os.environ if environ is None else environ
        weights_dir = environ.get(WEIGHTS_DIR_ENV, "").strip()
        max_pixels = environ.get(MAX_PIXELS_ENV, "").strip()
        if max_pixels:
            try:
                limit = int(float(max_pixels))  # also "40_000_000" and "4e7"
            except (ValueError, OverflowError):
                limit = 0
            if limit <= 0:
                raise SettingError(
                    f"{MAX_PIXELS_ENV} must be a positive number of pixels, not {max_pixels!r}."
                )
        else:
            limit = DEFAULT_MAX_PIXELS
        return cls(
            weights_dir=Path(weights_dir) if weights_dir else None,
            packaged_weights=environ.get(PACKAGED_WEIGHTS_ENV, "1").strip().lower() not in _OFF,
            hub_namespace=environ.get(HUB_NAMESPACE_ENV, "").strip() or DEFAULT_HUB_NAMESPACE,
            max_pixels=limit,
        )

    def repo_id(self, spec: ModelSpec) -> str:
        """The Hub repository of `spec` in this namespace."""
        return f"{self.hub_namespace}/{spec.hub_repo_name}"

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)
