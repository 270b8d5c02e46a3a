"""Training throughput (images/s) of each model at one input size on this machine.

    python -m humanmatting.training.benchmark [--size 256x256] [--batch-size 8] [--steps 6]
        [--models ...]

Times `model.fit` steps (forward, backward, Adam update; the training form, so dark-light in ACNet
form) on one in-memory batch, after a warm-up that traces the step; optionally also the input
pipeline alone (`--data DIR`: decode + resize per image through `humanmatting.training.pipeline`).
Prints a table; a figure of merit, not a test: on a shared machine the numbers move with the load,
so compare runs taken side by side."""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from humanmatting.specs import MODEL_SPECS
from humanmatting.training.pipeline import parse_presets


def training_throughput(
    model_name: str, size: tuple[int, int], batch_size: int = 8, steps: int = 6, repeats: int = 3
) -> float:
    """Images per second of fit() steps (best of `repeats` timed epochs)."""
    import keras
    import tensorflow as tf

    from humanmatting.training.metrics import segmentation_metrics
    from humanmatting.training.networks import build_training_model
    from humanmatting.training.recipe import ORIGINAL, make_loss, make_optimizer

    keras.utils.set_random_seed(0)
    model = build_training_model(model_name, acnet=ORIGINAL.acnet)
    model.compile(
        make_optimizer(ORIGINAL, steps, 1),
        make_loss(ORIGINAL.loss),
        metrics=segmentation_metrics(),
        jit_compile=False,
    )
    rng = np.random.default_rng(0)
    channels = model.input_shape[-1]
    x = rng.uniform(0, 255, (batch_size, *size, channels)).astype("float32")
    person = (rng.random((batch_size, *size, 1)) < 0.4).astype("float32")
    batch = tf.data.Dataset.from_tensors((x, np.concatenate([1 - person, person], -1)))
    model.fit(batch.repeat(2), epochs=1, verbose=0, shuffle=False)  # trace + warm up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.fit(batch.repeat(steps), epochs=1, verbose=0, shuffle=False)
        best = min(best, time.perf_counter() - started)
    return steps * batch_size / best


def pipeline_throughput(data_dir: str, size: tuple[int, int], count: int = 64) -> float:
    """Images per second of the input pipeline alone (decode, resize, target), 1 channel."""
    from humanmatting.training.dataset import index_dataset
    from humanmatting.training.pipeline import make_dataset

    index = index_dataset(data_dir, verify=False, progress=False)
    images, mattes = index.paths(index.pairs[:count])
    dataset = make_dataset(images, mattes, 1, 8, presets=(size,), shuffle=False)
    for _ in dataset:  # warm up
        pass
    started = time.perf_counter()
    for _ in dataset:
        pass
    return len(images) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_SPECS), choices=MODEL_SPECS)
    parser.add_argument("--size", default="256x256", help="HxW (default 256x256)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--data", help="also time the input pipeline on this dataset")
    args = parser.parse_args(argv)
    (size,) = parse_presets(args.size)
    print(f"machine: {os.cpu_count()} CPUs; size {size[0]}x{size[1]}, batch {args.batch_size}")
    for name in args.models:
        rate = training_throughput(name, size, args.batch_size, args.steps)
        print(f"{name:12s} training {rate:8.1f} images/s", flush=True)
    if args.data:
        rate = pipeline_throughput(args.data, size)
        print(f"{'pipeline':12s} decode   {rate:8.1f} images/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
