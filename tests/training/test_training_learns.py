"""It learns: dark-light, original recipe, on generated AISegment-style data, CPU minutes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from humanmatting.training.synthetic import write_synthetic_dataset

pytestmark = [pytest.mark.training, pytest.mark.slow]  # 15 epochs: about two minutes


def test_dark_light_reaches_val_miou_090_on_synthetic_data(tmp_path):
    from humanmatting.training.recipe import ORIGINAL  # Keras: imported here, not at collection
    from humanmatting.training.train import TrainConfig, run_training

    data = tmp_path / "aisegment"
    write_synthetic_dataset(data, groups=8, per_group=32, size=(128, 96), seed=1)
    result = run_training(
        TrainConfig(
            model="dark-light",
            data=data,
            out=tmp_path / "run",
            # The original recipe (Adam amsgrad, BCE, raw pixels, ACNet), smaller batches.
            recipe=replace(ORIGINAL, epochs=15, batch_size=8),
            val_fraction=0.2,  # 2 of the 8 shoot groups, never seen in training
            presets=((64, 64), (96, 64), (64, 96)),
            verbose=0,
        )
    )
    print(f"best val mIoU {result.best_val_miou:.4f} in {result.wall_seconds:.0f} s")
    assert result.best_val_miou >= 0.90
    assert result.history["miou"][-1] > result.history["miou"][0] + 0.2
