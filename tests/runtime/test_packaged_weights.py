"""Our own models ship inside the package: a fresh offline install serves every one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.paths import REPO_ROOT
from humanmatting import weights as weights_module
from humanmatting.specs import FORMAT_FILE, KERAS_FILES, SHIPPED_MODELS, TFLITE_FILES, get_spec
from humanmatting.training.ship import plan_files, ship
from humanmatting.weights import (
    PACKAGED_WEIGHTS_DIR,
    PACKAGED_WEIGHTS_ENV,
    WeightsNotFoundError,
    resolve_model_folder,
)

# The wheel's weights: the LikeUnets' 15 MB, and lite0's own 8 MB (its issue's budget).
BUDGET_BYTES = {"lite0": 8_000_000}
LIKEUNET_BUDGET_BYTES = 15_000_000


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HUMANMATTING_", "HF_"))
    }
    env.update(HF_HOME=str(tmp_path / "empty-hf-home"), HF_HUB_OFFLINE="1", **extra)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


@pytest.fixture
def export_dir(random_weights_dir, tmp_path) -> Path:
    """Exported folders of the shipped models, with their default variant's file (a copy of
    fp32: the plumbing is under test here, not the quantization)."""
    out = tmp_path / "export"
    for name in SHIPPED_MODELS:
        shutil.copytree(random_weights_dir / name, out / name)
        default = TFLITE_FILES[get_spec(name).default_variant]
        shutil.copyfile(out / name / TFLITE_FILES["fp32"], out / name / default)
    return out


def test_the_package_ships_every_model_within_its_budget():
    likeunets = 0
    for name in SHIPPED_MODELS:
        folder = PACKAGED_WEIGHTS_DIR / name
        description = json.loads((folder / FORMAT_FILE).read_text())
        assert description["model"] == name
        assert "original_release" not in description  # never the author's weights
        default = TFLITE_FILES[get_spec(name).default_variant or "fp32"]
        assert (folder / default).is_file()
        assert set(description["tflite"].values()) == {
            path.name for path in folder.glob("*.tflite")
        }
        # The wheel's files (pyproject's package-data); the Keras files stay in the repository.
        wheel = [*folder.glob("*.tflite"), folder / FORMAT_FILE]
        size = sum(path.stat().st_size for path in wheel)
        if name in BUDGET_BYTES:
            assert size <= BUDGET_BYTES[name], name
        else:
            likeunets += size
        keras_files = {path.name for path in folder.iterdir()} - {path.name for path in wheel}
        assert keras_files == set(KERAS_FILES)
    assert likeunets <= LIKEUNET_BUDGET_BYTES


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_a_fresh_offline_process_loads_the_shipped_model_and_finds_the_person(
    name, grace_hopper_path, tmp_path
):
    script = (
        "import sys; from humanmatting import load_matter\n"
        f"matter = load_matter({name!r})\n"
        "alpha = matter.predict(sys.argv[1]).alpha\n"
        "h, w = alpha.shape\n"
        "middle, top = alpha[h // 2 :, w // 3 : 2 * w // 3].mean(), alpha[: h // 10].mean()\n"
        "print(matter.folder, middle, top)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(grace_hopper_path)],
        env=offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    folder, person, top = result.stdout.split()
    assert Path(folder) == PACKAGED_WEIGHTS_DIR / name
    assert float(person) > 0.8  # Grace Hopper fills the lower middle of her portrait
    assert float(top) < float(person)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_the_cli_cuts_out_with_the_shipped_model_offline(name, grace_hopper_path, tmp_path):
    out = tmp_path / f"{name}.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "humanmatting.cli",
            str(grace_hopper_path),
            "--model",
            name,
            "--mode",
            "transparent",
            "-o",
            str(out),
        ],
        env=offline_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(out) as cutout:
        alpha = np.asarray(cutout.convert("RGBA"))[:, :, 3]
    height, width = alpha.shape
    assert alpha[height // 2 :, width // 3 : 2 * width // 3].mean() > 200  # her uniform, kept
    assert alpha[: height // 10, : width // 10].mean() < alpha.mean()


def packaged_copy(name: str, random_weights_dir: Path, tmp_path: Path, monkeypatch) -> Path:
    """The package's weights folder replaced by one holding `name`'s random weights, and
    no $HUMANMATTING_WEIGHTS_DIR."""
    packaged = tmp_path / "packaged"
    shutil.copytree(random_weights_dir / name, packaged / name)
    monkeypatch.setattr(weights_module, "PACKAGED_WEIGHTS_DIR", packaged)
    monkeypatch.delenv(weights_module.WEIGHTS_DIR_ENV, raising=False)
    return packaged


def test_resolution_order_explicit_then_cache_then_package(
    random_weights_dir, tmp_path, monkeypatch
):
    packaged = packaged_copy("dark", random_weights_dir, tmp_path, monkeypatch)
    monkeypatch.delenv(PACKAGED_WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model_folder("dark", download=False) == packaged / "dark"
    assert resolve_model_folder("dark", random_weights_dir) == random_weights_dir / "dark"
    monkeypatch.setenv(weights_module.WEIGHTS_DIR_ENV, str(random_weights_dir))
    assert resolve_model_folder("dark", download=False) == random_weights_dir / "dark"


def test_packaged_weights_can_be_switched_off_and_the_error_says_what_was_tried(
    random_weights_dir, tmp_path, monkeypatch
):
    packaged_copy("night", random_weights_dir, tmp_path, monkeypatch)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv(PACKAGED_WEIGHTS_ENV, "0")
    with pytest.raises(WeightsNotFoundError, match="the package") as error:
        resolve_model_folder("night", download=False)
    assert "humanmatting.training.train --model night" in str(error.value)


def test_ship_copies_the_runtime_files_and_records_their_hashes(export_dir, tmp_path):
    target = tmp_path / "weights"
    # These stand-ins are fp32 files (7 MB for night and dark): a budget that fits them.
    written = ship(export_dir, budget_mb=30, target_dir=target)
    assert set(written) == set(SHIPPED_MODELS)
    for name in SHIPPED_MODELS:
        folder = target / name
        for file in KERAS_FILES:  # kept beside them for the repository (not in the wheel)
            assert (folder / file).read_bytes() == (export_dir / name / file).read_bytes()
        description = json.loads((folder / FORMAT_FILE).read_text())
        for file, digest in description["shipped"]["files"].items():
            assert (folder / file).read_bytes() == (export_dir / name / file).read_bytes()
            assert weights_module.sha256_of(folder / file) == digest
    runtime = sum(
        size
        for files in written.values()
        for file, size in files.items()
        if file not in KERAS_FILES
    )
    assert runtime <= 30e6


def test_the_spec_table_pins_every_shipped_file_by_its_sha256():
    """Issue 29, row 8: no model was pinned, so a pull had nothing to check. Our models are
    the files shipped here, and push publishes those same files: each is pinned (at every
    revision), and the pins equal the shipped files' SHA-256 (training.ship writes both)."""
    for name in SHIPPED_MODELS:
        spec = get_spec(name)
        folder = PACKAGED_WEIGHTS_DIR / name
        shipped = {path.name: weights_module.sha256_of(path) for path in folder.iterdir()}
        assert spec.sha256 == shipped, name
        assert spec.hub_revision is None
        assert {FORMAT_FILE, *KERAS_FILES, TFLITE_FILES[spec.default_variant]} <= set(shipped)
    assert weights_module.pins_apply(get_spec("dark-light"), "0" * 40)  # any revision
    assert not weights_module.pins_apply(get_spec("dark-light"), "0" * 40, "someone/fork")


def test_ship_writes_the_pins_of_what_it_ships(export_dir, tmp_path):
    """Shipping into the package rewrites the spec table's pins from the shipped files; a
    subset keeps the other models' pins; the file stays valid Python."""
    import ast

    from humanmatting import specs

    specs_file = tmp_path / "specs.py"
    shutil.copyfile(specs.__file__, specs_file)
    target = tmp_path / "weights"
    ship(export_dir, ("night",), budget_mb=30, target_dir=target, specs_file=specs_file)
    ast.parse(specs_file.read_text())
    namespace: dict = {}
    exec(compile(specs_file.read_text(), str(specs_file), "exec"), namespace)
    pins = namespace["SHIPPED_SHA256"]
    night = target / "night"
    assert pins["night"] == {p.name: weights_module.sha256_of(p) for p in night.iterdir()}
    assert pins["night"] != specs.SHIPPED_SHA256["night"]  # random weights, not ours
    assert pins["dark"] == specs.SHIPPED_SHA256["dark"]  # not shipped this time: kept
    assert namespace["MODEL_SPECS"]["night"].sha256 == pins["night"]
    # Into another folder (these tests), humanmatting/specs.py is left alone.
    before = Path(specs.__file__).read_bytes()
    ship(export_dir, ("dark",), budget_mb=30, target_dir=tmp_path / "elsewhere")
    assert Path(specs.__file__).read_bytes() == before


def test_ship_adds_fp32_files_smallest_first_only_within_the_budget(export_dir):
    defaults = sum(
        (export_dir / name / TFLITE_FILES[get_spec(name).default_variant]).stat().st_size
        for name in SHIPPED_MODELS
    )
    smallest = min(SHIPPED_MODELS, key=lambda n: (export_dir / n / "model.tflite").stat().st_size)
    fp32_smallest = (export_dir / smallest / TFLITE_FILES["fp32"]).stat().st_size
    plan = plan_files(export_dir, SHIPPED_MODELS, defaults + fp32_smallest + 10_000)
    assert [name for name, files in plan.items() if TFLITE_FILES["fp32"] in files] == [smallest]
    with pytest.raises(ValueError, match="over the budget"):
        plan_files(export_dir, SHIPPED_MODELS, defaults // 2)


def test_ship_takes_back_a_shipped_folder_that_has_no_fp32_file(export_dir, tmp_path):
    """Re-shipping one new model beside folders copied from the package (runtime files only)."""
    first = ship(export_dir, budget_mb=30, target_dir=tmp_path / "first")
    night = export_dir / "night"
    shutil.rmtree(night)
    shutil.copytree(tmp_path / "first" / "night", night)
    (night / TFLITE_FILES["fp32"]).unlink(missing_ok=True)
    plan = plan_files(export_dir, SHIPPED_MODELS, 30_000_000)
    assert plan["night"] == [TFLITE_FILES[get_spec("night").default_variant]]
    assert TFLITE_FILES["fp32"] in plan["dark"]
    again = ship(export_dir, budget_mb=30, target_dir=tmp_path / "again")
    default = TFLITE_FILES[get_spec("night").default_variant]
    assert again["night"][default] == first["night"][default]


def test_ship_refuses_the_original_authors_weights(export_dir):
    path = export_dir / "dark-light" / FORMAT_FILE
    description = json.loads(path.read_text())
    description["original_release"] = {"weights": "dark-light-50-0.9735.h5"}
    path.write_text(json.dumps(description))
    with pytest.raises(ValueError, match="original author"):
        plan_files(export_dir, SHIPPED_MODELS, 30_000_000)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_the_repository_keeps_each_shipped_models_keras_files(name):
    """The Keras files beside the shipped runtime files load with safe_mode and compute what
    the runtime's file computes (cards, pushes and fine-tuning work from a clone)."""
    import keras

    from humanmatting.training.recover import largest_difference

    folder = PACKAGED_WEIGHTS_DIR / name
    model = keras.saving.load_model(str(folder), compile=False, safe_mode=True)
    description = json.loads((folder / FORMAT_FILE).read_text())
    most_precise = next(v for v in ("fp32", "fp16") if v in description["tflite"])
    difference = largest_difference(model, folder / description["tflite"][most_precise])
    assert difference < (1e-4 if most_precise == "fp32" else 2e-2)


def test_push_dry_run_from_a_clone_needs_no_source_folder(tmp_path, capsys):
    from humanmatting.hub.push import main

    staged = tmp_path / "staged"
    assert main(["dark-light", "--dry-run", str(staged)]) == 0
    names = {path.name for path in staged.iterdir()}
    assert {*KERAS_FILES, "README.md", "model-int8.tflite", FORMAT_FILE} <= names
    assert "nothing was uploaded" in capsys.readouterr().out
