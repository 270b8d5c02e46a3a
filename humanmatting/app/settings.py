"""The app's settings in one object, read once when the server starts and passed down.

`AppSettings.from_env()` reads the app's HUMANMATTING_* variables (and, through
`humanmatting.settings.Settings`, the runtime's); `parse_args` lays the command line over
them. A value that cannot be used raises SettingError (or exits with status 2 for an
option), with a message that names the variable.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from humanmatting.app.limits import QUEUE_SIZE, VideoLimits, setting
from humanmatting.command import OneLineParser, number_in
from humanmatting.settings import Settings

DESCRIPTION = (
    "humanmatting in the browser: photos, the live camera and videos, plus a named-endpoint API."
)
DOWNLOAD_ENV = "HUMANMATTING_ALLOW_DOWNLOAD"
WEBCAM_TIME_LIMIT_ENV = "HUMANMATTING_WEBCAM_TIME_LIMIT"
MAX_UPLOAD_ENV = "HUMANMATTING_MAX_UPLOAD_MB"
MAX_SHAPES_ENV = "HUMANMATTING_MAX_SHAPES"
QUEUE_SIZE_ENV = "HUMANMATTING_QUEUE_SIZE"
# Uploads are accepted up to this size, or up to the video limit when that is larger.
DEFAULT_MAX_UPLOAD_MB = 50


@dataclass(frozen=True)
class AppSettings:
    """Everything the server is told: environment variables, then the command line."""

    root: Path  # the folder of app.py: examples/ and web/dist are looked up there
    runtime: Settings = field(default_factory=Settings)
    video: VideoLimits = field(default_factory=VideoLimits)
    download: bool = False  # $HUMANMATTING_ALLOW_DOWNLOAD=1, or on a Hugging Face Space
    webcam_time_limit: int = 300  # seconds; $HUMANMATTING_WEBCAM_TIME_LIMIT
    max_upload_mb: float | None = None  # None: see upload_mb; $HUMANMATTING_MAX_UPLOAD_MB
    max_shapes: int = 1  # LiteRT interpreters per model and role; $HUMANMATTING_MAX_SHAPES
    queue_size: int = QUEUE_SIZE  # requests waiting; $HUMANMATTING_QUEUE_SIZE
    # The command line only.
    weights: str | None = None
    host: str | None = None
    port: int | None = None
    threads: int | None = None

    @classmethod
    def from_env(cls, root: Path, environ: Mapping[str, str] | None = None) -> AppSettings:
        """The settings in `environ` (os.environ by default); SettingError for a bad value."""
        environ = os.environ if environ is None else environ

        def whole(name: str, default: int) -> int:
            return int(setting(name, default, 1, whole=True, environ=environ))

        return cls(
            root=root,
            runtime=Settings.from_env(environ),
            video=VideoLimits.from_env(environ),
            download=environ.get(DOWNLOAD_ENV, "") == "1" or bool(environ.get("SPACE_ID")),
            webcam_time_limit=whole(WEBCAM_TIME_LIMIT_ENV, 300),
            max_upload_mb=setting(MAX_UPLOAD_ENV, 0, 0, environ=environ) or None,
            max_shapes=whole(MAX_SHAPES_ENV, 1),
            queue_size=whole(QUEUE_SIZE_ENV, QUEUE_SIZE),
        )

    @property
    def upload_mb(self) -> float:
        """The largest upload accepted, in MB."""
        return self.max_upload_mb or max(self.video.max_megabytes, DEFAULT_MAX_UPLOAD_MB)

    @property
    def examples_dir(self) -> Path:
        return self.root / "examples"

    @property
    def web_dist(self) -> Path:
        """The in-browser camera's build (`npm ci && npm run build` in web/)."""
        return self.root / "web" / "dist"


# The app's options: whole numbers of at least 1, and MB above 0.
positive_int = number_in(1, whole=True)
positive_float = number_in(0, low_open=True)


def parse_args(argv: list[str] | None, defaults: AppSettings) -> AppSettings:
    """`defaults` (from the environment) with the command line's options over them."""
    parser = OneLineParser(prog="humanmatting app", description=DESCRIPTION)
    parser.add_argument(
        "--weights",
        help="folder with one model folder per model (default: $HUMANMATTING_WEIGHTS_DIR, "
        "then the Hugging Face cache)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        default=defaults.download,
        help=f"allow downloading weights from the Hub (default off; on with {DOWNLOAD_ENV}=1 "
        "and on Hugging Face Spaces)",
    )
    parser.add_argument("--host", default=None, help="default 127.0.0.1 ($GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=None, help="default 7860 ($GRADIO_SERVER_PORT)")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="LiteRT threads per model"
    )
    parser.add_argument(
        "--max-shapes",
        type=positive_int,
        default=defaults.max_shapes,
        help="LiteRT interpreters kept per model and role (photos, camera, video), one per "
        "network input shape: about 80 MB at the 512x384 photo preset (int8); more saves a "
        f"10-50 ms re-allocation when photo shapes alternate (${MAX_SHAPES_ENV})",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=positive_float,
        default=defaults.max_upload_mb,
        help=f"largest upload accepted, in MB (default: {DEFAULT_MAX_UPLOAD_MB}, or the video "
        f"limit if larger; ${MAX_UPLOAD_ENV})",
    )
    parser.add_argument(
        "--webcam-time-limit",
        type=positive_int,
        default=defaults.webcam_time_limit,
        help=f"seconds a camera stream may run before it stops (${WEBCAM_TIME_LIMIT_ENV})",
    )
    return dataclasses.replace(defaults, **vars(parser.parse_args(argv)))
