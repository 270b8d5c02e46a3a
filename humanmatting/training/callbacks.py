"""Keras callbacks of a training run: checkpoints, resume state, logs, throughput."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras

from humanmatting.training.metrics import MEAN_IOU

LAST_CHECKPOINT = "last.keras"
LAST_STATE = "last.json"
LOG_FILE = "log.csv"


class SaveLastEpoch(keras.callbacks.Callback):
    """last.keras (model + optimizer state) and last.json after every epoch, for --resume.

    Written to a temporary name first and moved into place, so an interrupted save never
    leaves a broken last.keras behind.
    """

    def __init__(
        self, run_dir: Path, best_so_far: float | None = None, wall_seconds_before: float = 0.0
    ):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.best = best_so_far
        # The wall time of earlier calls of a resumed run, so that a call killed at the end
        # of a session still counts in the total (run.json is written at the end only).
        self.wall_seconds_before = wall_seconds_before
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(f"val_{MEAN_IOU}")
        if value is not None and (self.best is None or value > self.best):
            self.best = float(value)
        partial = self.run_dir / "last.partial.keras"
        self.model.save(partial)
        os.replace(partial, self.run_dir / LAST_CHECKPOINT)
        state = {
            "epoch": epoch + 1,
            "best_val_miou": self.best,
            "wall_seconds_total": round(
                self.wall_seconds_before + time.perf_counter() - self.started, 1
            ),
            "logs": {key: float(v) for key, v in logs.items()},
        }
        (self.run_dir / LAST_STATE).write_text(json.dumps(state, indent=2) + "\n")


class Throughput(keras.callbacks.Callback):
    """Adds train_images_per_s to the logs (training part of the epoch, validation excluded)."""

    def __init__(self, images_per_epoch: int):
        super().__init__()
        self.images_per_epoch = images_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.train_seconds = None

    def on_test_begin(self, logs=None):
        if self.train_seconds is None:
            self.train_seconds = time.perf_counter() - self.started

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.train_seconds or (time.perf_counter() - self.started)
        if logs is not None:
            logs["train_images_per_s"] = self.images_per_epoch / seconds


def run_callbacks(
    model_name: str,
    run_dir: Path,
    images_per_epoch: int,
    best_so_far: float | None = None,
    resuming: bool = False,
    wall_seconds_before: float = 0.0,
) -> list[keras.callbacks.Callback]:
    """Everything a run writes: best checkpoints named
    {model}-{epoch:02d}-{val_miou:.4f}.keras, last.keras/last.json, log.csv, tensorboard/."""
    checkpoint_name = f"{model_name}-{{epoch:02d}}-{{val_{MEAN_IOU}:.4f}}.keras"
    return [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / checkpoint_name),
            monitor=f"val_{MEAN_IOU}",
            mode="max",
            save_best_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False),
        Throughput(images_per_epoch),  # before CSVLogger, which then logs its column
        keras.callbacks.CSVLogger(str(run_dir / LOG_FILE), append=resuming),
        SaveLastEpoch(run_dir, best_so_far, wall_seconds_before),
    ]
