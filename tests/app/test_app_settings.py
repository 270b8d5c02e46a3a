"""humanmatting.app.settings: the app's HUMANMATTING_* variables and options, read once into one
object; a value that cannot be used is refused with a message that names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from humanmatting.app.limits import SettingError, VideoLimits
from humanmatting.app.settings import AppSettings, parse_args
from humanmatting.settings import Settings

ROOT = Path("/srv/app")


def test_defaults_without_variables():
    settings = AppSettings.from_env(ROOT, environ={})
    assert settings.runtime == Settings() and settings.video == VideoLimits()
    assert (settings.download, settings.webcam_time_limit, settings.max_shapes) == (False, 300, 1)
    assert (settings.queue_size, settings.max_upload_mb, settings.upload_mb) == (32, None, 50)
    assert settings.examples_dir == ROOT / "examples"
    assert settings.web_dist == ROOT / "web" / "dist"


def test_variables_are_read_into_one_object():
    environ = {
        "HUMANMATTING_ALLOW_DOWNLOAD": "1",
        "HUMANMATTING_WEBCAM_TIME_LIMIT": "60",
        "HUMANMATTING_MAX_SHAPES": "3",
        "HUMANMATTING_QUEUE_SIZE": "4",
        "HUMANMATTING_VIDEO_MAX_MB": "80",
        "HUMANMATTING_VIDEO_MAX_SECONDS": "12.5",
        "HUMANMATTING_MAX_PIXELS": "1000000",
    }
    settings = AppSettings.from_env(ROOT, environ)
    assert settings.download and settings.webcam_time_limit == 60
    assert (settings.max_shapes, settings.queue_size) == (3, 4)
    assert settings.video == VideoLimits(max_megabytes=80, max_seconds=12.5)
    assert settings.upload_mb == 80  # the video limit, when it is above 50 MB
    assert settings.runtime.max_pixels == 1_000_000
    assert AppSettings.from_env(ROOT, {"SPACE_ID": "someone/space"}).download  # on a Space
    assert AppSettings.from_env(ROOT, {"HUMANMATTING_MAX_UPLOAD_MB": "7"}).upload_mb == 7


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "HUMANMATTING_QUEUE_SIZE",
            "lots",
            "HUMANMATTING_QUEUE_SIZE must be a whole number of at least 1, not 'lots'.",
        ),
        (
            "HUMANMATTING_WEBCAM_TIME_LIMIT",
            "0",
            "HUMANMATTING_WEBCAM_TIME_LIMIT must be a whole number of at least 1, not '0'.",
        ),
        (
            "HUMANMATTING_MAX_SHAPES",
            "1.5",
            "HUMANMATTING_MAX_SHAPES must be a whole number of at least 1, not '1.5'.",
        ),
        (
            "HUMANMATTING_MAX_UPLOAD_MB",
            "-2",
            "HUMANMATTING_MAX_UPLOAD_MB must be a number of at least 0, not '-2'.",
        ),
        (
            "HUMANMATTING_VIDEO_MAX_MB",
            "0",
            "HUMANMATTING_VIDEO_MAX_MB must be a number above 0, not '0'.",
        ),
        (
            "HUMANMATTING_MAX_PIXELS",
            "-1",
            "HUMANMATTING_MAX_PIXELS must be a positive number of pixels, not '-1'.",
        ),
    ],
)
def test_a_bad_variable_is_refused_by_name(name, value, message):
    with pytest.raises(SettingError) as refused:
        AppSettings.from_env(ROOT, {name: value})
    assert str(refused.value) == message


def test_options_override_the_environment(capsys):
    defaults = AppSettings.from_env(ROOT, {"HUMANMATTING_MAX_SHAPES": "3"})
    assert parse_args([], defaults) == defaults
    settings = parse_args(
        ["--weights", "models", "--port", "7861", "--max-shapes", "2", "--download"], defaults
    )
    assert (settings.weights, settings.port, settings.max_shapes) == ("models", 7861, 2)
    assert settings.download and settings.runtime is defaults.runtime
    with pytest.raises(SystemExit) as stopped:
        parse_args(["--webcam-time-limit", "0"], defaults)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("humanmatting app: error: argument --webcam-time-limit: must be a")
