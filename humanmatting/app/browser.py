"""What the in-browser camera (web/) needs from the server: the model files and the facts
of the server's own preprocessing, so that the page computes the same matte.

The page runs the very TFLite file the server's LiteRT runs for each model
(`runtime.tflite_file`), and takes every number that decides the matte from here, not
from a copy: aspect presets, the multiple of 32, the signature names, the smoothing weight,
the hard-edge threshold. Nothing here imports a web framework: tabs/browser_camera.py
serves it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from humanmatting.preprocess import ASPECT_PRESETS, MAX_LONG_SIDE, SIZE_MULTIPLE
from humanmatting.refine import REFINEMENTS, clean_settings
from humanmatting.runtime import tflite_file
from humanmatting.specs import DYNAMIC_SIGNATURE, fixed_signature, get_spec

# Built by `npm ci && npm run build` in web/ (never committed): what has to be there.
BUILD_FILES = (
    "webcam.js",
    "worker.js",
    "wasm/litert_wasm_internal.wasm",
    "wasm/litert_wasm_compat_internal.wasm",
)
# The fixed-shape signature name for any size, written by specs.fixed_signature itself.
FIXED_SIGNATURE_PATTERN = fixed_signature("{height}", "{width}")  # type: ignore[arg-type]
# The refinement of the server's camera frames (stream.StreamSession: quality="fast"),
# which the page repeats (web/src/refine.js; tests/app/test_browser_preprocess.py pins both).
CAMERA_REFINEMENT = "fast"


@dataclass(frozen=True)
class BrowserModel:
    """One model as the page gets it: the server's own file and what the page must know."""

    name: str
    path: Path
    variant: str
    channels: int
    sha256: str
    size: int

    @classmethod
    def of(cls, name: str, folder: Path) -> BrowserModel:
        path, variant = tflite_file(name, folder)
        content = path.read_bytes()
        return cls(
            name=name,
            path=path,
            variant=variant,
            channels=get_spec(name).channels,
            sha256=hashlib.sha256(content).hexdigest(),
            size=len(content),
        )


def built(dist: Path) -> bool:
    """Whether web/dist holds a build (the app offers in-browser matting only then)."""
    return all((Path(dist) / name).is_file() for name in BUILD_FILES)


def browser_models(folders: dict[str, Path]) -> dict[str, BrowserModel]:
    """The model files for the page, by name; models whose file cannot be found are left
    out (the page offers only what it can load; the server's stream still has them)."""
    models = {}
    for name, folder in folders.items():
        try:
            models[name] = BrowserModel.of(name, folder)
        except (OSError, ValueError):
            continue
    return models


def camera_config(
    models: dict[str, BrowserModel],
    default_model: str | None,
    *,
    model_url: str = "models/{name}.tflite",
    camera: tuple[int, int] = (640, 480),
    mirror: bool = True,
    default_long_side: int = 320,
    smoothing_weight: float = 0.5,
    hard_threshold: float = 0.5,
    default_background: str = "blur",
) -> dict:
    """The page's camera.json: model URLs (relative to it) and the preprocessing facts."""
    return {
        "models": {
            name: {
                "url": model_url.format(name=name),
                "channels": model.channels,
                "variant": model.variant,
                "sha256": model.sha256,
                "bytes": model.size,
            }
            for name, model in models.items()
        },
        "default_model": default_model if default_model in models else next(iter(models), None),
        # [width / height, height, width] in the server's order (nearest_preset picks the
        # first of equally near ones).
        "presets": [[ratio, height, width] for ratio, (height, width) in ASPECT_PRESETS.items()],
        "size_multiple": SIZE_MULTIPLE,
        "max_long_side": MAX_LONG_SIDE,
        "fixed_signature": FIXED_SIGNATURE_PATTERN,
        "dynamic_signature": DYNAMIC_SIGNATURE,
        "refine": dataclasses.asdict(REFINEMENTS[CAMERA_REFINEMENT]),
        # The refined matte made solid and empty away from the outline (refine.clean_alpha).
        "clean": clean_settings(),
        "smoothing_weight": smoothing_weight,
        "hard_threshold": hard_threshold,
        "default_background": default_background,
        "default_long_side": default_long_side,
        "camera": {"width": camera[0], "height": camera[1], "mirror": mirror},
    }


def config_json(config: dict) -> bytes:
    return json.dumps(config, indent=1).encode()
