"""The gradio version is pinned once (requirements.txt); pyproject and the Space agree."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from harness.paths import REPO_ROOT
from humanmatting.space.build import pinned_gradio

PIN_FILES = ("requirements.txt", "pyproject.toml", "humanmatting/space/README.md")


def disagreements(root: Path) -> list[str]:
    """What in pyproject's [app] extra and the Space README's `sdk_version` does not match
    requirements.txt's `gradio==X.Y.Z`."""
    pinned = pinned_gradio(root / "requirements.txt")
    found = []
    app_extra = re.search(r"^app = \[(.*)\]$", (root / "pyproject.toml").read_text(), re.M)
    gradio = [Requirement(item.strip(" \"'")) for item in app_extra.group(1).split(",")]
    gradio = [requirement for requirement in gradio if requirement.name == "gradio"]
    if len(gradio) != 1 or not gradio[0].specifier.contains(pinned):
        found.append(f"pyproject.toml [app] {[str(r) for r in gradio]} excludes {pinned}")
    sdk = re.search(
        r"^sdk_version: *(\S+)$", (root / "humanmatting/space/README.md").read_text(), re.M
    )
    if sdk is None or sdk.group(1) != pinned:
        found.append(
            f"humanmatting/space/README.md sdk_version {sdk and sdk.group(1)} is not {pinned}"
        )
    return found


def test_the_gradio_pins_agree():
    assert disagreements(REPO_ROOT) == []


@pytest.mark.parametrize(
    "path, old, new",
    [
        ("humanmatting/space/README.md", "sdk_version: {pin}", "sdk_version: 5.0.0"),
        ("pyproject.toml", '"gradio==', '"gradio<6", "gradio-unused=='),
        ("requirements.txt", "gradio=={pin}", "gradio==7.0.0"),
    ],
)
def test_a_pin_that_moves_alone_is_found(tmp_path, path, old, new):
    for name in PIN_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / name, tmp_path / name)
    pin = pinned_gradio(REPO_ROOT / "requirements.txt")
    text = (tmp_path / path).read_text()
    assert old.format(pin=pin) in text
    (tmp_path / path).write_text(text.replace(old.format(pin=pin), new))
    assert len(disagreements(tmp_path)) >= 1


def test_requirements_without_a_gradio_pin_are_refused(tmp_path):
    (tmp_path / "requirements.txt").write_text("numpy>=1.26\ngradio>=6\n")
    with pytest.raises(ValueError, match="pins no gradio version"):
        pinned_gradio(tmp_path / "requirements.txt")
