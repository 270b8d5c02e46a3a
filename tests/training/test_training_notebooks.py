"""Every notebook runs end to end (papermill) on a tiny synthetic AISegment-style dataset;
02 and 03 also on tiny mask-folder sets (the ../shared/datasets layout)."""

from __future__ import annotations

import json
import os

import pytest

from harness.paths import REPO_ROOT
from humanmatting.training.synthetic import write_synthetic_dataset
from humanmatting.weights import PACKAGED_WEIGHTS_DIR

pytestmark = [pytest.mark.training, pytest.mark.slow]

NOTEBOOKS = REPO_ROOT / "notebooks"
MODELS = ["night", "dark", "dark-light"]


def _execute(name, tmp_path, parameters):
    import papermill  # a [train] extra: in .[dev] (a quarter of a second to import)

    papermill.execute_notebook(
        str(NOTEBOOKS / name),
        str(tmp_path / "executed" / name),
        parameters=parameters,
        cwd=str(tmp_path),
        kernel_name="python3",
        progress_bar=False,
    )


def test_notebooks_download_train_evaluate_export(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    )
    (tmp_path / "executed").mkdir()
    data = tmp_path / "aisegment"
    write_synthetic_dataset(data, groups=3, per_group=4, size=(96, 64), defects=True)
    common = {"data_dir": str(data), "val_fraction": 0.3}

    _execute("01_data.ipynb", tmp_path, {**common, "samples": 3})
    _execute(
        "02_train.ipynb",
        tmp_path,
        {**common, "models": MODELS, "epochs": 1, "batch_size": 4, "presets": "64x64",
         "max_train": 8, "max_val": 4, "verbose": 0},
    )  # fmt: skip
    _execute(
        "03_evaluate_export.ipynb",
        tmp_path,
        {**common, "models": MODELS, "tflite_variants": "", "long_side": 64, "max_images": 4,
         "worst": 2},
    )  # fmt: skip

    for model in MODELS:
        assert (tmp_path / "runs" / model / "curves.png").is_file()
        folder = tmp_path / "models" / model
        description = json.loads((folder / "humanmatting.json").read_text())
        assert description["model"] == model
        assert max(description["export_check"]["max_probability_difference"].values()) < 1e-4
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["model"] == model and metrics["backend"] == "litert"
        assert (tmp_path / "evaluation" / model / "worst.png").is_file()
    executed = (tmp_path / "executed" / "01_data.ipynb").read_text()
    assert "skipped 1 (unreadable image)" in executed  # the index report is shown


def test_notebooks_train_evaluate_export_on_mask_folders(tmp_path, monkeypatch):
    """The same notebooks on two tiny sets in the ../shared/datasets layout: 02 trains with
    the photos recipe on the mix, 03 tests on each set's test.txt."""
    from tests.training.test_training_maskfolders import write_mask_folder_set

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    )
    (tmp_path / "executed").mkdir()
    data = tmp_path / "datasets"
    write_mask_folder_set(data / "a", train=10, test=3, seed=1)
    write_mask_folder_set(data / "b", train=10, test=2, seed=2)
    # night, and lite0 (its encoder from the ImageNet weights of the [train] extra).
    common = {"data_dir": str(data), "mix": "a=0.6,b=0.4", "models": ["night", "lite0"]}

    _execute(
        "02_train.ipynb",
        tmp_path,
        {**common, "epochs": 1, "batch_size": 4, "presets": "64x64", "samples_per_epoch": 8,
         "cache_dir": str(tmp_path / "cache"), "cache_long_side": 64, "verbose": 0,
         "freeze_norms": True,
         "distill_from": str(PACKAGED_WEIGHTS_DIR / "night"),
         "distill_weight": 0.25},
    )  # fmt: skip
    _execute(
        "03_evaluate_export.ipynb",
        tmp_path,
        {**common, "tflite_variants": "", "long_side": 64, "worst": 2},
    )

    for model in common["models"]:
        run = json.loads((tmp_path / "runs" / model / "run.json").read_text())
        assert run["layout"] == "mask folders" and run["recipe"]["loss"] == "bce+dice"
        shares = {name: entry["share"] for name, entry in run["sets"].items()}
        assert shares == {"a": 0.6, "b": 0.4}
        assert run["freeze_norms"] is True and run["cache_long_side"] == 64
        assert run["distill_from"]["model"] == "night" and run["distill_from"]["weight"] == 0.25
        for name, images in (("a", 3), ("b", 2)):
            folder = tmp_path / "evaluation" / model / name
            metrics = json.loads((folder / "metrics.json").read_text())
            assert metrics["split"] == f"{name} test" and metrics["images"] == images
            assert (folder / "worst.png").is_file()
        attached = json.loads((tmp_path / "models" / model / "metrics.json").read_text())
        assert attached["split"] == "a test"  # the first set of the mix
        description = json.loads((tmp_path / "models" / model / "humanmatting.json").read_text())
        assert description["model"] == model
    assert "a: share 60%" in (tmp_path / "executed" / "02_train.ipynb").read_text()
