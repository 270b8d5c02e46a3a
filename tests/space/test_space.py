"""The Space: its README front matter, the assembled folder, and the app started from it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from importlib.metadata import metadata, version

import gradio_client
import pytest
from huggingface_hub import SpaceCard
from packaging.specifiers import SpecifierSet

from harness.app_harness import REPO_ROOT, api_client, clean_env, launch_app
from humanmatting.settings import HUB_NAMESPACE_ENV
from humanmatting.specs import DEFAULT_MODEL, MODEL_SPECS, SHIPPED_MODELS

GRADIO_VERSION = version("gradio")  # the tested one (importing gradio itself takes seconds)


def requires_python() -> SpecifierSet:
    """The Pythons the package supports: pyproject.toml's requires-python (the one source),
    as the installed package's metadata carries it and pip enforces it."""
    return SpecifierSet(metadata("humanmatting")["Requires-Python"])


def test_front_matter_names_the_tested_gradio_and_the_model_repos(monkeypatch):
    monkeypatch.delenv(HUB_NAMESPACE_ENV, raising=False)
    data = SpaceCard.load(REPO_ROOT / "humanmatting" / "space" / "README.md").data
    assert data.sdk == "gradio" and data.sdk_version == GRADIO_VERSION
    assert data.app_file == "app.py" and data.license == "mit"
    # The Space's Python: a minor version ("3.11", quoted in the YAML) that the package
    # supports; the Python running these tests may be another one.
    assert isinstance(data.python_version, str), data.python_version
    assert re.fullmatch(r"3\.\d+", data.python_version), data.python_version
    assert data.python_version in requires_python(), (data.python_version, requires_python())
    assert data.models == [MODEL_SPECS[name].hub_repo_id for name in SHIPPED_MODELS]
    assert data.title and data.emoji and data.colorFrom and data.colorTo
    assert 0 < len(data.short_description) <= 60  # the Hub's limit


def test_upload_creates_a_gradio_space_and_sends_the_folder(tmp_path):
    from humanmatting.space.build import upload

    class RecordingApi:
        calls = []

        def create_repo(self, repo_id, **options):
            self.calls.append(("create_repo", repo_id, options))

        def upload_folder(self, **options):
            self.calls.append(("upload_folder", options["repo_id"], options))

        def repo_exists(self, repo_id, **options):
            return repo_id.endswith("-dark-light")  # only this one was pushed

    api = RecordingApi()
    card = SpaceCard.load(REPO_ROOT / "humanmatting" / "space" / "README.md")
    card.data.models = [MODEL_SPECS[name].hub_repo_id for name in SHIPPED_MODELS]
    card.save(tmp_path / "README.md")
    url = upload(tmp_path, "someone/humanmatting", api=api)
    assert SpaceCard.load(tmp_path / "README.md").data.models == [
        MODEL_SPECS["dark-light"].hub_repo_id
    ]
    assert url == "https://huggingface.co/spaces/someone/humanmatting"
    (_, _, create), (_, _, send) = api.calls
    assert create["repo_type"] == "space" and create["space_sdk"] == "gradio"
    assert send["repo_type"] == "space" and send["folder_path"] == str(tmp_path)


@pytest.fixture(scope="module")
def space_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("space") / "humanmatting"
    # humanmatting.space.build builds the in-browser camera with npm (CI has it); without npm, the
    # web/dist there is (tests/app/test_browser_camera.py skips when there is none).
    no_npm = [] if shutil.which("npm") else ["--no-web-build"]
    result = subprocess.run(
        [sys.executable, "-m", "humanmatting.space.build", "--dry-run", str(out), *no_npm],
        cwd=REPO_ROOT,
        env=clean_env(PYTHONPATH=str(REPO_ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_assembled_space_has_the_built_in_browser_camera(space_dir):
    if not shutil.which("npm") and not (REPO_ROOT / "web" / "dist" / "webcam.js").is_file():
        pytest.skip("no npm to build web/ and no web/dist (cd web && npm ci && npm run build)")
    dist = space_dir / "web" / "dist"
    for name in (
        "webcam.js",
        "worker.js",
        "wasm/litert_wasm_internal.wasm",
        "wasm/litert_wasm_compat_internal.wasm",
    ):
        assert (dist / name).is_file(), name
        assert (dist / name).read_bytes() == (REPO_ROOT / "web" / "dist" / name).read_bytes()
    assert not list(dist.rglob("*.map")) and not (space_dir / "web" / "node_modules").exists()


def test_assembled_space_has_app_package_requirements_examples(space_dir):
    expected = ["app.py", "README.md", "requirements.txt", "humanmatting/runtime.py"]
    expected += ["humanmatting/app/photos.py", "examples/astronaut.jpg", "examples/README.md"]
    for path in expected:
        assert (space_dir / path).is_file(), path
    assert not list(space_dir.rglob("__pycache__"))
    # The runtime and the app layer only: no Keras tools, training, Hub tools, Space, CLI.
    package = space_dir / "humanmatting"
    assert sorted(path.name for path in package.iterdir() if path.is_dir()) == ["app", "weights"]
    # The shipped models' runtime files, without the Keras files the repository keeps.
    shipped = space_dir / "humanmatting" / "weights" / "dark-light"
    assert {path.name for path in shipped.iterdir()} == {
        "humanmatting.json",
        "model.tflite",
        "model-int8.tflite",
    }
    requirements = (space_dir / "requirements.txt").read_text()
    assert "ai-edge-litert" in requirements and "gradio" not in requirements
    assert "tensorflow" not in requirements and "keras" not in requirements
    card = SpaceCard.load(space_dir / "README.md")
    assert card.data.sdk_version == GRADIO_VERSION


@pytest.mark.slow
def test_app_starts_from_the_assembled_space(space_dir, random_weights_dir, tmp_path):
    """dark-light from $HUMANMATTING_WEIGHTS_DIR, night and dark from the package copy the
    Space carries (no download); the author's model, not shipped, is offered with how to get
    it by /models (not in the start-up log)."""
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "dark-light").symlink_to(random_weights_dir / "dark-light")
    env = clean_env(HUMANMATTING_WEIGHTS_DIR=str(weights), HF_HOME=str(tmp_path / "hf-home"))
    with launch_app(space_dir / "app.py", tmp_path, [], env) as app:
        assert f"from {space_dir / 'humanmatting'}" in app.log()  # the Space's own copy
        client = api_client(app.url, tmp_path)
        models = client.predict(api_name="/models")
        assert list(models["available"]) == ["night", "dark", "dark-light", "lite0"]
        assert sorted(models["unavailable"]) == ["dark-light-original"]  # not shipped
        assert (
            "humanmatting.hub.pull dark-light-original"
            in models["unavailable"]["dark-light-original"]
        )
        *_, summary = client.predict(
            gradio_client.handle_file(str(space_dir / "examples" / "astronaut.jpg")),
            api_name="/matte",
        )
        assert summary.startswith(DEFAULT_MODEL) and "512x512 photo" in summary
        with urllib.request.urlopen(app.url + "config") as response:
            config = json.dumps(json.load(response))
        # How to get a model is for the operator (log, /models, README), not on the page.
        # The log names only what it serves: the author's model is not shipped, so not a
        # failure to report at every start.
        assert "humanmatting.hub.pull" not in config and "dark-light-original" not in app.log()
        if (space_dir / "web" / "dist" / "webcam.js").is_file():  # the in-browser camera
            with urllib.request.urlopen(app.url + "humanmatting/web/webcam.js") as response:
                assert response.read() == (space_dir / "web/dist/webcam.js").read_bytes()
            with urllib.request.urlopen(app.url + "humanmatting/camera.json") as response:
                assert sorted(json.load(response)["models"]) == sorted(models["available"])
        events = app.audit_events()
        assert events == [], events  # no internet, no TensorFlow
