"""humanmatting.json through humanmatting.folder: the shipped files load unchanged, every
problem is refused with the file and what to do, and the runtime checks each folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from humanmatting.folder import (
    METRICS_FILE,
    FolderDescription,
    FolderDescriptionError,
    OriginalRelease,
    read_metrics,
    write_metrics,
)
from humanmatting.runtime import load_matter
from humanmatting.specs import FORMAT_FILE, FORMAT_VERSION, SHIPPED_MODELS, get_spec
from humanmatting.weights import PACKAGED_WEIGHTS_DIR, InvalidWeightsError


@pytest.fixture
def shipped_copy(tmp_path) -> Path:
    """A copy of the shipped dark-light folder (LiteRT only: no TensorFlow needed)."""
    return Path(shutil.copytree(PACKAGED_WEIGHTS_DIR / "dark-light", tmp_path / "dark-light"))


def edit(folder: Path, **changes) -> Path:
    """Rewrite FOLDER/humanmatting.json with keys changed (None: removed), by hand."""
    path = folder / FORMAT_FILE
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_shipped_descriptions_load_and_save_back_unchanged(name, tmp_path):
    folder = PACKAGED_WEIGHTS_DIR / name
    raw = (folder / FORMAT_FILE).read_text()
    description = FolderDescription.load(folder, get_spec(name))
    assert description.to_json() == json.loads(raw)
    assert list(description.to_json()) == list(json.loads(raw))  # the keys' order too
    assert description.save(tmp_path).read_text() == raw
    assert description.model == name and description.channels == get_spec(name).channels


def test_typed_accessors_give_what_the_model_card_shows():
    description = FolderDescription.load(PACKAGED_WEIGHTS_DIR / "dark-light")
    raw = json.loads((PACKAGED_WEIGHTS_DIR / "dark-light" / FORMAT_FILE).read_text())
    agreements = description.agreements()
    assert "int8" in agreements and set(agreements) == set(raw["quantization"])
    expected = raw["quantization"]["int8"]["agreement_with_fp32"]["presets"]["iou"]
    assert agreements["int8"].presets.iou == expected
    assert (
        description.int8_calibration.inputs == raw["quantization"]["int8"]["calibration"]["inputs"]
    )
    assert set(description.training_sets) == set(raw["training"]["sets"])
    assert description.variants == ["fp32", "int8"]
    assert description.original_release is None


def test_unknown_keys_are_kept(shipped_copy):
    edit(shipped_copy, future_note={"a": [1, 2]})
    description = FolderDescription.load(shipped_copy)
    assert description.extra == {"future_note": {"a": [1, 2]}}
    description.save(shipped_copy)
    assert json.loads((shipped_copy / FORMAT_FILE).read_text())["future_note"] == {"a": [1, 2]}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"format_version": FORMAT_VERSION + 1}, "newer than this humanmatting reads"),
        ({"format_version": 0}, "format_version 0 is unknown"),
        ({"format_version": "1"}, "not a number"),
        ({"channels": None}, "lacks 'channels'"),
        ({"input_range": None}, "lacks 'input_range'"),
        ({"channels": 3}, "channels is 3, but 'dark-light' takes 1"),
        ({"input_range": [0.0, 1.0]}, "the runtime feeds raw pixel values"),
        ({"classes": ["person", "background"]}, "classes are"),
        ({"model": "dark-lite"}, "not one this humanmatting knows"),
        ({"tflite": {"int8": "model.tflite"}}, "names 'model.tflite' for variant 'int8'"),
        ({"quantization": {"int8": {"agreement_with_fp32": {"presets": {}}}}}, "lacks"),
        ({"original_release": "yes"}, "original_release is not an object"),
    ],
)
def test_problems_are_refused_naming_the_file_and_what_to_do(shipped_copy, changes, message):
    edit(shipped_copy, **changes)
    with pytest.raises(FolderDescriptionError, match=message) as error:
        FolderDescription.load(shipped_copy)
    assert str(shipped_copy / FORMAT_FILE) in str(error.value)
    assert "pip install -U humanmatting" in str(error.value) or "again" in str(error.value)
    assert isinstance(error.value, InvalidWeightsError)  # the CLI and the app report these


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", "\xff\xfe"])
def test_unreadable_files_are_refused(shipped_copy, content):
    (shipped_copy / FORMAT_FILE).write_bytes(content.encode("latin-1"))
    with pytest.raises(FolderDescriptionError, match=FORMAT_FILE):
        FolderDescription.load(shipped_copy)


def test_a_missing_file_says_the_folder_is_not_a_model_folder(tmp_path):
    with pytest.raises(FolderDescriptionError, match="is not a model folder"):
        FolderDescription.load(tmp_path)


def test_the_runtime_refuses_a_folder_that_says_another_model_or_a_future_format(shipped_copy):
    load_matter("dark-light", shipped_copy.parent, download=False)  # the copy itself loads
    edit(shipped_copy, model="dark")
    with pytest.raises(InvalidWeightsError, match="describes model 'dark', not 'dark-light'"):
        load_matter("dark-light", shipped_copy.parent, download=False)
    edit(shipped_copy, model="dark-light", format_version=FORMAT_VERSION + 1)
    with pytest.raises(InvalidWeightsError, match="upgrade it"):
        load_matter("dark-light", shipped_copy.parent, download=False)
    edit(shipped_copy, format_version=FORMAT_VERSION, input_range=[-1.0, 1.0])
    with pytest.raises(InvalidWeightsError, match="raw pixel values"):
        load_matter("dark-light", shipped_copy.parent, download=False)


def test_save_validates_first_and_never_leaves_a_partial_file(shipped_copy):
    before = (shipped_copy / FORMAT_FILE).read_text()
    description = FolderDescription.load(shipped_copy)
    description.channels = 3
    with pytest.raises(FolderDescriptionError, match="channels is 3"):
        description.save(shipped_copy)
    assert (shipped_copy / FORMAT_FILE).read_text() == before
    assert not list(shipped_copy.glob(".*partial*"))


def test_new_descriptions_are_this_version_and_typed_sections_round_trip(tmp_path):
    description = FolderDescription.new(
        "dark-light-original",
        tflite={"fp32": "model.tflite"},
        original_release=OriginalRelease("dark-light-50-0.9735.h5", "Zhenzhong Tang"),
    )
    description.save(tmp_path)
    data = json.loads((tmp_path / FORMAT_FILE).read_text())
    assert data["format_version"] == FORMAT_VERSION and data["channels"] == 1
    assert data["original_release"] == {
        "weights": "dark-light-50-0.9735.h5",
        "author": "Zhenzhong Tang",
    }
    assert "training" not in data and "quantization" not in data
    assert FolderDescription.load(tmp_path).original_release.author == "Zhenzhong Tang"


def test_metrics_are_written_atomically_and_read_back(tmp_path):
    assert read_metrics(tmp_path) == {}
    write_metrics(tmp_path, {"test_splits": {"eg1800": {"person_iou": 0.9}}})
    assert read_metrics(tmp_path)["test_splits"]["eg1800"]["person_iou"] == 0.9
    assert read_metrics(tmp_path / METRICS_FILE) == read_metrics(tmp_path)
    (tmp_path / METRICS_FILE).write_text("[]")
    with pytest.raises(FolderDescriptionError, match="not a JSON object"):
        read_metrics(tmp_path)


def test_the_folder_module_imports_no_tensorflow():
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    code = (
        "import sys, humanmatting.folder, humanmatting.runtime; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]"
