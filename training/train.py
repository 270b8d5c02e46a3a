"""Train night, dark or dark-light on the AISegment matting data.

    python -m training.train --model dark-light --data AISEGMENT_DIR [--out runs/dark-light]

Defaults reproduce the original recipe (Adam amsgrad, binary cross-entropy on the 2-class
softmax, batch 60, 15 epochs for night/dark and 50 for dark-light in ACNet form, raw
0..255 inputs, one random aspect preset per batch). `--recipe improved` or the single
options change that. The run folder gets checkpoints `{model}-{epoch:02d}-{val_miou:.4f}.keras`
(best so far), `last.keras` + `last.json` (for --resume), `log.csv`, `tensorboard/`,
`run.json` and `curves.png/.svg`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from humanmatting.specs import MODEL_SPECS, get_spec
from training.callbacks import LAST_CHECKPOINT, LAST_STATE, LOG_FILE, run_callbacks
from training.dataset import DatasetIndex, Pair, index_dataset, split_pairs
from training.pipeline import DEFAULT_PRESETS, Augmentation, parse_presets
from training.recipe import LOSSES, RECIPES, SCHEDULES, Recipe, parse_scale, with_overrides

RUN_FILE = "run.json"


@dataclass
class TrainConfig:
    model: str
    data: Path
    out: Path | None = None  # default runs/<model>
    recipe: Recipe = field(default_factory=lambda: RECIPES["original"])
    split_lists: Path | None = None  # folder with the author's {x,y}_{train,val}.txt
    val_fraction: float = 0.13
    split_seed: int = 0
    presets: tuple[tuple[int, int], ...] = DEFAULT_PRESETS
    max_train: int | None = None  # use a seeded subset (quick runs, notebooks in CI)
    max_val: int | None = None
    mixed_precision: bool = False
    distribute: str = "auto"  # auto | mirrored | none
    cpu_replicas: int = 0  # testing: split the CPU into N devices for MirroredStrategy
    jit_compile: str = "auto"  # auto (XLA on GPU only) | on | off
    resume: bool = False
    seed: int = 0
    verify: bool = True
    verbose: int | str = "auto"

    @property
    def run_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.model


@dataclass
class TrainResult:
    run_dir: Path
    best_checkpoint: Path | None
    best_val_miou: float | None
    epochs_run: int
    wall_seconds: float
    history: dict = field(default_factory=dict)


def _subset(pairs: list[Pair], limit: int | None, seed: int) -> list[Pair]:
    if limit is None or limit >= len(pairs):
        return pairs
    return sorted(random.Random(seed).sample(pairs, limit))


def make_split(config: TrainConfig, index: DatasetIndex) -> tuple[list[Pair], list[Pair], dict]:
    """Train/val pairs (the author's lists or a group-wise split), subsets applied."""
    train_pairs, val_pairs, info = split_pairs(
        index,
        config.split_lists,
        config.val_fraction,
        config.split_seed,
        log=lambda text: print(text, flush=True),
    )
    train_pairs = _subset(train_pairs, config.max_train, config.seed)
    val_pairs = _subset(val_pairs, config.max_val, config.seed)
    info.update(train=len(train_pairs), val=len(val_pairs))
    return train_pairs, val_pairs, info


def configure_devices(config: TrainConfig):
    """The tf.distribute strategy to build and train under."""
    import tensorflow as tf

    if config.cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * config.cpu_replicas
            )
        except RuntimeError as error:
            raise RuntimeError(
                "--cpu-replicas must be set before TensorFlow starts (run in a fresh process)"
            ) from error
        devices = [f"/cpu:{i}" for i in range(config.cpu_replicas)]
        return tf.distribute.MirroredStrategy(devices)
    gpus = tf.config.list_physical_devices("GPU")
    if config.distribute == "mirrored" or (config.distribute == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if config.distribute not in ("auto", "mirrored", "none"):
        raise ValueError(f"distribute must be auto, mirrored or none, not {config.distribute!r}")
    return tf.distribute.get_strategy()


def resolve_jit(setting: str) -> bool:
    """XLA compiles once per batch shape: worth it on GPUs, slower than eager graphs on CPU
    for short runs (measured here: compile time dominates)."""
    import tensorflow as tf

    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    if setting not in ("on", "off"):
        raise ValueError(f"jit_compile must be auto, on or off, not {setting!r}")
    return setting == "on"


def _previous_state(config: TrainConfig) -> dict | None:
    """last.json of the run being resumed; refuses to overwrite a run by accident."""
    run_dir = config.run_dir
    if (run_dir / LAST_CHECKPOINT).exists():
        if not config.resume:
            raise FileExistsError(
                f"{run_dir} holds an earlier run ({LAST_CHECKPOINT}); pass --resume to "
                "continue it or choose another --out."
            )
        return json.loads((run_dir / LAST_STATE).read_text())
    if config.resume:
        raise FileNotFoundError(f"--resume: no {LAST_CHECKPOINT} in {run_dir}")
    return None


def _summarize(run_dir: Path, started: float, history: dict, run_info: dict) -> TrainResult:
    """Curves, best checkpoint, run.json; the result handed back to callers."""
    from training.curves import plot_training_curves
    from training.networks import best_checkpoint

    if (run_dir / LOG_FILE).is_file() and (run_dir / LOG_FILE).stat().st_size:
        plot_training_curves(run_dir / LOG_FILE, run_dir)
    try:
        best = best_checkpoint(run_dir)
    except FileNotFoundError:
        best = None
    state = json.loads((run_dir / LAST_STATE).read_text())
    result = TrainResult(
        run_dir=run_dir,
        best_checkpoint=best,
        best_val_miou=state.get("best_val_miou"),
        epochs_run=len(history.get("loss", [])),
        wall_seconds=time.perf_counter() - started,
        history=history,
    )
    run_info.update(
        best_checkpoint=best.name if best else None,
        best_val_miou=result.best_val_miou,
        epochs_done=state["epoch"],
        wall_seconds=round(result.wall_seconds, 1),
    )
    (run_dir / RUN_FILE).write_text(json.dumps(run_info, indent=2) + "\n")
    print(
        f"best: {best} (val mIoU {result.best_val_miou}); {result.wall_seconds:.0f} s", flush=True
    )
    return result


def run_training(config: TrainConfig) -> TrainResult:
    """Index, split, build (or resume), fit, log; returns where everything went."""
    spec = get_spec(config.model)
    recipe = config.recipe
    epochs = recipe.epochs_for(spec.name)
    run_dir = config.run_dir
    started = time.perf_counter()
    last_state = _previous_state(config)
    if last_state is not None and last_state["epoch"] >= epochs:
        print(f"{run_dir} already has {last_state['epoch']} of {epochs} epochs; nothing to do.")
        run_info = json.loads((run_dir / RUN_FILE).read_text())
        return _summarize(run_dir, started, {}, run_info)
    strategy = configure_devices(config)

    import keras

    from training.metrics import segmentation_metrics
    from training.networks import build_training_model, load_checkpoint
    from training.pipeline import make_dataset
    from training.recipe import make_loss, make_optimizer
    from training.steps import trace_per_shape

    run_dir.mkdir(parents=True, exist_ok=True)
    index = index_dataset(config.data, verify=config.verify, progress=config.verbose != 0)
    print(index.report(), flush=True)
    train_pairs, val_pairs, split_info = make_split(config, index)
    common = {"channels": spec.channels, "batch_size": recipe.batch_size, "presets": config.presets}
    train_data = make_dataset(
        *index.paths(train_pairs),
        **common,
        shuffle=True,
        augmentation=recipe.augmentation,
        seed=config.seed,
        drop_remainder=True,
    )
    # A last val batch smaller than the replica count leaves a replica empty: NaN loss.
    remainder = len(val_pairs) % recipe.batch_size
    drop_val_remainder = 0 < remainder < strategy.num_replicas_in_sync
    if drop_val_remainder:
        print(
            f"validating on {len(val_pairs) - remainder} pairs: the last {remainder} "
            f"cannot be split over {strategy.num_replicas_in_sync} replicas",
            flush=True,
        )
    val_data = make_dataset(
        *index.paths(val_pairs),
        **common,
        shuffle=False,
        seed=config.seed + 1,
        drop_remainder=drop_val_remainder,
    )
    steps_per_epoch = int(train_data.cardinality())

    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        if last_state is not None:
            model = load_checkpoint(run_dir / LAST_CHECKPOINT, compile=True)
            initial_epoch = last_state["epoch"]
            print(f"resuming {run_dir / LAST_CHECKPOINT} after epoch {initial_epoch}", flush=True)
        else:
            model = build_training_model(
                spec.name,
                acnet=recipe.acnet,
                input_scale=recipe.input_scale,
                mixed_precision=config.mixed_precision,
            )
            model.compile(
                optimizer=make_optimizer(recipe, steps_per_epoch, epochs),
                loss=make_loss(recipe.loss),
                metrics=segmentation_metrics(),
                jit_compile=resolve_jit(config.jit_compile),
            )
            initial_epoch = 0
    trace_per_shape(model)

    trained_per_epoch = min(len(train_pairs), steps_per_epoch * recipe.batch_size)
    callbacks = run_callbacks(
        spec.name,
        run_dir,
        trained_per_epoch,
        best_so_far=last_state["best_val_miou"] if last_state else None,
        resuming=last_state is not None,
    )
    run_info = {
        "model": spec.name,
        "data": str(index.root),
        "recipe": recipe.describe(),
        "epochs": epochs,
        "presets": [list(p) for p in config.presets],
        "split": split_info,
        "skipped": {reason: len(paths) for reason, paths in index.skipped.items()},
        "mixed_precision": config.mixed_precision,
        "replicas": strategy.num_replicas_in_sync,
        "jit_compile": bool(model.jit_compile),
        "parameters": model.count_params(),
        "seed": config.seed,
    }
    (run_dir / RUN_FILE).write_text(json.dumps(run_info, indent=2) + "\n")
    print(
        f"training {spec.name} ({model.count_params():,} parameters, "
        f"{strategy.num_replicas_in_sync} replica(s)) for epochs {initial_epoch + 1}..{epochs}, "
        f"{steps_per_epoch} steps of {recipe.batch_size}",
        flush=True,
    )
    history = model.fit(
        train_data,
        validation_data=val_data,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=config.verbose,
        shuffle=False,  # the dataset reshuffles itself every epoch
    )
    history = {key: [float(v) for v in values] for key, values in history.history.items()}
    return _summarize(run_dir, started, history, run_info)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: python -m training.train --model dark-light --data ~/aisegment "
        "--split-lists ../shared/reference/humanMatting-original",
    )
    parser.add_argument("--model", required=True, choices=list(MODEL_SPECS))
    parser.add_argument("--data", required=True, type=Path, help="AISegment dataset folder")
    parser.add_argument("--out", type=Path, help="run folder (default runs/MODEL)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    split = parser.add_argument_group("split")
    split.add_argument("--split-lists", type=Path, help="folder with {x,y}_{train,val}.txt")
    split.add_argument("--val-fraction", type=float, default=0.13, help="group-wise split")
    split.add_argument("--split-seed", type=int, default=0)
    split.add_argument("--max-train", type=int, help="train on a seeded subset of N pairs")
    split.add_argument("--max-val", type=int, help="validate on a seeded subset of N pairs")
    split.add_argument("--no-verify", action="store_true", help="skip decoding every pair")
    recipe = parser.add_argument_group("recipe (defaults: the original's)")
    recipe.add_argument("--recipe", choices=list(RECIPES), default="original")
    recipe.add_argument("--epochs", type=int, help="default 15 (night, dark) or 50 (dark-light)")
    recipe.add_argument("--batch-size", type=int)
    recipe.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    recipe.add_argument("--loss", choices=LOSSES)
    recipe.add_argument("--schedule", choices=SCHEDULES)
    recipe.add_argument("--warmup-epochs", type=float)
    recipe.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    recipe.add_argument("--input-scale", type=parse_scale, help="e.g. 1/255 (folded at export)")
    recipe.add_argument("--no-acnet", action="store_true", help="train dark-light without ACNet")
    recipe.add_argument(
        "--presets", type=parse_presets, default=DEFAULT_PRESETS, help="HxW,HxW,... per batch"
    )
    system = parser.add_argument_group("system")
    system.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPUs)")
    system.add_argument("--distribute", choices=("auto", "mirrored", "none"), default="auto")
    system.add_argument("--cpu-replicas", type=int, default=0, help=argparse.SUPPRESS)
    system.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto")
    system.add_argument("--seed", type=int, default=0)
    system.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    recipe = with_overrides(
        RECIPES[args.recipe],
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        loss=args.loss,
        schedule=args.schedule,
        warmup_epochs=args.warmup_epochs,
        augmentation=Augmentation() if args.augment else None,
        input_scale=args.input_scale,
        acnet=False if args.no_acnet else None,
    )
    if args.augment is False:
        recipe = replace(recipe, augmentation=None)
    return TrainConfig(
        model=args.model,
        data=args.data,
        out=args.out,
        recipe=recipe,
        split_lists=args.split_lists,
        val_fraction=args.val_fraction,
        split_seed=args.split_seed,
        presets=args.presets,
        max_train=args.max_train,
        max_val=args.max_val,
        mixed_precision=args.mixed_precision,
        distribute=args.distribute,
        cpu_replicas=args.cpu_replicas,
        jit_compile=args.jit_compile,
        resume=args.resume,
        seed=args.seed,
        verify=not args.no_verify,
        verbose=args.verbose,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        run_training(config)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
