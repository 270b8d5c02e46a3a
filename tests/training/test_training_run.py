"""One small training run, then everything downstream of it: checkpoints, logs, curves,
resume, evaluation, export (the exported model must equal the trained one), the CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from harness.paths import REPO_ROOT
from humanmatting.preprocess import alpha_to_size, load_rgb, model_input_size, prepare_input
from humanmatting.runtime import load_matter
from humanmatting.specs import get_spec
from humanmatting.training.dataset import index_dataset, split_pairs
from humanmatting.training.synthetic import write_synthetic_dataset

# humanmatting.training.train, .networks and .recipe import Keras (seconds): imported in the tests,
# so that collecting the suite stays quick. The tests that train, or use the run the module's
# fixture trains (45 s), are marked training and slow.

PRESETS = ((64, 64), (96, 64))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("aisegment")
    write_synthetic_dataset(root, groups=4, per_group=6, size=(96, 72), seed=11, defects=True)
    return root


def _config(data_dir, out, epochs=2, **changes):
    from humanmatting.training.recipe import ORIGINAL
    from humanmatting.training.train import TrainConfig

    return TrainConfig(
        model="dark-light",
        data=data_dir,
        out=out,
        recipe=replace(ORIGINAL, epochs=epochs, batch_size=4),
        val_fraction=0.25,
        presets=PRESETS,
        verbose=0,
        **changes,
    )


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory):
    from humanmatting.training.train import run_training

    return run_training(_config(data_dir, tmp_path_factory.mktemp("runs") / "dark-light"))


def _log(run_dir):
    with open(run_dir / "log.csv", newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.slow
@pytest.mark.training
def test_run_writes_named_checkpoints_logs_and_curves(run):
    from humanmatting.training.networks import CHECKPOINT_PATTERN, best_checkpoint
    from humanmatting.training.train import LAST_CHECKPOINT

    rows = _log(run.run_dir)
    assert len(rows) == 2 == run.epochs_run
    assert {"loss", "miou", "person_iou", "val_loss", "val_miou", "val_person_iou"} <= set(rows[0])
    checkpoints = sorted(p.name for p in run.run_dir.glob("dark-light-*.keras"))
    assert checkpoints
    for name in checkpoints:  # {model}-{epoch:02d}-{val_miou:.4f}.keras, values from the log
        match = CHECKPOINT_PATTERN.match(name)
        assert match["model"] == "dark-light" and len(match["epoch"]) == 2
        logged = float(rows[int(match["epoch"]) - 1]["val_miou"])
        assert match["miou"] == f"{logged:.4f}"
    best_logged = max(float(row["val_miou"]) for row in rows)
    assert run.best_val_miou == pytest.approx(best_logged)
    assert run.best_checkpoint == best_checkpoint(run.run_dir)
    assert f"{best_logged:.4f}" in run.best_checkpoint.name
    for name in ("curves.png", "curves.svg", "run.json", "last.json", LAST_CHECKPOINT):
        assert (run.run_dir / name).stat().st_size > 0
    assert any((run.run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    info = json.loads((run.run_dir / "run.json").read_text())
    assert info["recipe"]["loss"] == "bce" and info["recipe"]["amsgrad"] is True
    assert info["skipped"] and info["split"]["source"] == "group-wise split"


@pytest.mark.slow
@pytest.mark.training
def test_resume_continues_the_run_with_its_optimizer_state(run, data_dir, tmp_path):
    from humanmatting.training.networks import load_checkpoint
    from humanmatting.training.train import LAST_CHECKPOINT, run_training

    copy = tmp_path / "dark-light"
    shutil.copytree(run.run_dir, copy)
    with pytest.raises(FileExistsError, match="--resume"):
        run_training(_config(data_dir, copy, epochs=3))
    steps = int(load_checkpoint(copy / LAST_CHECKPOINT, compile=True).optimizer.iterations)
    # A call killed mid-run leaves run.json without its total; last.json keeps the time.
    before = json.loads((copy / "last.json").read_text())["wall_seconds_total"]
    info = json.loads((copy / "run.json").read_text())
    assert 0 < before <= info.pop("wall_seconds_total")
    (copy / "run.json").write_text(json.dumps(info))
    resumed = run_training(_config(data_dir, copy, epochs=3, resume=True))
    assert resumed.epochs_run == 1
    total = json.loads((copy / "run.json").read_text())["wall_seconds_total"]
    assert total == pytest.approx(before + resumed.wall_seconds, abs=0.1)
    rows = _log(copy)
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert rows[:2] == _log(run.run_dir)
    iterations = int(load_checkpoint(copy / LAST_CHECKPOINT, compile=True).optimizer.iterations)
    assert iterations == steps * 3 // 2
    again = run_training(_config(data_dir, copy, epochs=3, resume=True))  # nothing left to do
    assert again.epochs_run == 0 and again.best_checkpoint == resumed.best_checkpoint


@pytest.mark.slow
@pytest.mark.training
def test_export_equals_the_trained_model_in_keras_and_tflite(run, data_dir, tmp_path):
    from humanmatting.models.keras_backend import KerasBackend
    from humanmatting.training.export import export_model
    from humanmatting.training.networks import load_checkpoint

    folder = export_model(run.run_dir, "dark-light", tmp_path, variants=("fp16",))
    assert folder == tmp_path / "dark-light"
    description = json.loads((folder / "humanmatting.json").read_text())
    assert description["training"]["checkpoint"] == run.best_checkpoint.name
    assert max(description["export_check"]["max_probability_difference"].values()) < 1e-4
    assert (folder / "model-fp16.tflite").is_file()

    trained = load_checkpoint(run.best_checkpoint)
    index = index_dataset(data_dir, progress=False)
    rgb = load_rgb(index.root / index.pairs[0].image)
    height, width = rgb.shape[:2]
    # The runtime's own choice for photos: the spec table's best long side.
    size = model_input_size(height, width, get_spec("dark-light").best_long_side)
    expected = alpha_to_size(
        np.asarray(trained(prepare_input(rgb, 1, size), training=False))[0, ..., 1], height, width
    )
    for backend, tolerance in ((KerasBackend, 1e-4), ("litert", 1e-4)):
        matter = load_matter("dark-light", weights=folder, backend=backend, download=False)
        # The network's matte, stretched (refinement is tests/runtime/test_refine.py's).
        np.testing.assert_allclose(
            matter.predict(rgb, refine=False).alpha, expected, atol=tolerance
        )
    fp16 = load_matter("dark-light", weights=folder, download=False, variant="fp16")
    assert np.abs(fp16.predict(rgb, refine=False).alpha - expected).max() < 0.05


@pytest.mark.slow
@pytest.mark.training
def test_evaluate_writes_metrics_and_agrees_with_the_training_metric(run, data_dir, tmp_path):
    from humanmatting.training.evaluate import evaluate
    from humanmatting.training.metrics import segmentation_metrics
    from humanmatting.training.networks import load_checkpoint
    from humanmatting.training.pipeline import make_dataset

    metrics = evaluate(
        "dark-light", run.run_dir, data_dir, tmp_path, val_fraction=0.25, long_side=64, worst=2,
        progress=False,
    )  # fmt: skip
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert metrics["weights"] == str(run.best_checkpoint)
    index = index_dataset(data_dir, progress=False)
    val_pairs = split_pairs(index, None, 0.25)[1]
    assert metrics["images"] == len(val_pairs)
    assert metrics["per_image"]["person_iou"]["min"] == metrics["worst"][0]["person_iou"]
    assert metrics["speed"]["images_per_s"] > 0
    with open(tmp_path / "per_image.csv") as file:
        assert len(file.readlines()) == len(val_pairs) + 1
    assert (tmp_path / "worst.png").stat().st_size > 0

    # The same images at the same size through Keras's compiled metrics: the same numbers.
    size = model_input_size(96, 72, long_side=64)
    model = load_checkpoint(run.best_checkpoint)
    model.compile(loss="binary_crossentropy", metrics=segmentation_metrics(), jit_compile=False)
    dataset = make_dataset(*index.paths(val_pairs), 1, 4, presets=(size,), shuffle=False)
    logs = model.evaluate(dataset, verbose=0, return_dict=True)
    assert metrics["mean_iou_2class"] == pytest.approx(logs["miou"], abs=1e-5)
    assert metrics["person_iou"] == pytest.approx(logs["person_iou"], abs=1e-5)


@pytest.mark.slow
@pytest.mark.training
def test_cli_trains_with_mirrored_strategy_and_the_improved_recipe(data_dir, tmp_path):
    """A fresh process: two logical CPUs stand in for two GPUs (MirroredStrategy)."""
    out = tmp_path / "run"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        "HUMANMATTING_TRAINING_SCRIPT": "train_demo.sh DATA RUNS",  # as the scripts set it
    }
    command = [
        sys.executable, "-m", "humanmatting.training.train", "--model", "dark-light",
        "--data", str(data_dir),
        "--out", str(out), "--epochs", "1", "--batch-size", "4", "--presets", "64x64,64x96",
        "--val-fraction", "0.25", "--recipe", "improved", "--cpu-replicas", "2", "--verbose", "2",
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s)" in result.stdout
    assert "val_miou: " in result.stdout  # Keras's per-epoch progress line
    info = json.loads((out / "run.json").read_text())
    assert info["replicas"] == 2
    assert info["script"] == "train_demo.sh DATA RUNS"
    assert info["recipe"]["loss"] == "bce+dice" and info["recipe"]["augmentation"]["flip"]
    assert np.isfinite(float(_log(out)[0]["val_loss"]))


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    from humanmatting.training.train import main

    assert main(["--model", "dark", "--data", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_fine_tuning_run_records_what_it_started_from(tmp_path):
    """run.json's init_from: the folder and the headline of that model's own training, which
    the card tells as the first stage; a folder without a description gives the folder only."""
    from humanmatting.folder import FolderDescription
    from humanmatting.training.train import starting_point
    from humanmatting.weights import PACKAGED_WEIGHTS_DIR

    folder = PACKAGED_WEIGHTS_DIR / "lite0"
    own = FolderDescription.load(folder).training
    point = starting_point(folder)
    assert point["folder"] == str(folder)
    assert point["checkpoint"] == own["checkpoint"] and point["val_miou"] == own["val_miou"]
    assert point["init_from"] == own["init_from"]  # the stage before, kept
    assert "sets" not in point and "recipe" not in point  # a headline, not the whole record
    assert starting_point(tmp_path) == {"folder": str(tmp_path)}


def test_an_export_keeps_the_script_and_the_stages_its_run_recorded(tmp_path):
    """What the card tells of a model's stages comes from the export's training record:
    run.json's script and init_from go into it with the checkpoint's own figures."""
    from humanmatting.training.export import _training_info

    earlier = {"folder": "runs/lite0-stage2/lite0", "val_miou": 0.9454, "script": "a.sh"}
    teacher = {"folder": "humanmatting/weights/lite0", "model": "lite0", "weight": 0.5}
    run = {"script": "b.sh SHARED RUNS", "init_from": earlier, "epochs_done": 7, "seed": 1,
           "distill_from": teacher, "freeze_norms": True}  # fmt: skip
    (tmp_path / "run.json").write_text(json.dumps(run))
    info = _training_info(tmp_path / "lite0-04-0.9450.keras")
    assert info["checkpoint"] == "lite0-04-0.9450.keras" and info["val_miou"] == 0.945
    assert info["script"] == "b.sh SHARED RUNS" and info["init_from"] == earlier
    assert info["distill_from"] == teacher and info["freeze_norms"] is True
    assert info["epochs_done"] == 7 and "seed" not in info
