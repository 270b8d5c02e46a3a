"""Train night, dark, dark-light or lite0 on the AISegment matting data or on mask-folder sets.

    humanmatting train --model dark-light --data AISEGMENT_DIR [--out runs/dark-light]
    python -m humanmatting.training.train --model dark-light --data ../shared/datasets \\
        --mix eg1800=0.45,viton=0.2,ccp=0.35 --recipe photos

With mask-folder sets (images/, masks/, train.txt; see humanmatting.training.maskfolders) the photos
are decoded once into a cache (humanmatting.training.cache), drawn by the `--mix` weights and
augmented for real photos (humanmatting.training.mixed); a held-out part of each train.txt picks the
checkpoints, and test.txt is never read.

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
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from humanmatting.command import run_command
from humanmatting.specs import MODEL_SPECS, get_spec
from humanmatting.training.callbacks import LAST_CHECKPOINT, LAST_STATE, LOG_FILE, run_callbacks
from humanmatting.training.dataset import DatasetIndex, Pair, index_dataset, split_pairs
from humanmatting.training.maskfolders import mask_folder_sets_in, training_sets_in
from humanmatting.training.pipeline import DEFAULT_PRESETS, Augmentation, parse_presets
from humanmatting.training.recipe import (
    LOSSES,
    ORIGINAL_EPOCHS,
    RECIPES,
    SCHEDULES,
    Recipe,
    parse_scale,
    with_overrides,
)

RUN_FILE = "run.json"
# Set by the scripts in training/scripts to their name and arguments: run.json records it,
# so that a card names the script that made each stage of a model.
TRAINING_SCRIPT_ENV = "HUMANMATTING_TRAINING_SCRIPT"
# Mask-folder sets: small inputs (any multiple of 32 serves), mostly portrait like the photos.
PHOTO_PRESETS: tuple[tuple[int, int], ...] = ((256, 192), (192, 256), (224, 224), (320, 224))
PHOTO_VAL_SIZE = (256, 192)
PHOTO_VAL_FRACTION = 0.05
PHOTO_VAL_LIMIT = 100  # held-out photos per set at most
DEFAULT_SAMPLES_PER_EPOCH = 3000


def parse_mix(text: str) -> dict[str, float]:
    """'eg1800=0.45,ccp=0.35' -> {'eg1800': 0.45, 'ccp': 0.35}; a bare name weighs 1."""
    mix: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, weight = (part.strip() for part in item.partition("="))
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise ValueError(f"--mix item {item!r} is not NAME=WEIGHT") from None
        if not name:
            raise ValueError(f"--mix item {item!r} has no set name")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"--mix weight of {name} must be a number >= 0, not {weight!r}")
        if name in mix:
            raise ValueError(f"--mix names {name} twice")
        mix[name] = value
    if not mix:
        raise ValueError(f"--mix {text!r} names no set")
    if not sum(mix.values()) > 0:
        raise ValueError(f"--mix weights must not all be 0 ({text!r})")
    return mix


def _mix_argument(text: str) -> dict[str, float]:
    try:
        return parse_mix(text)
    except ValueError as error:  # argparse would print only "invalid value"
        raise argparse.ArgumentTypeError(str(error)) from None


def _cache_long_side_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 32:
        raise argparse.ArgumentTypeError(
            f"--cache-long-side must be a whole number >= 32, not {text!r}"
        )
    return value


def mask_folder_sets(data: Path, mix: dict[str, float] | None) -> dict[Path, float]:
    """The mask-folder sets to train on, with their sampling weights: `data` itself, or the
    sets below it named in `mix` (default: every set below it, equal weights)."""
    from humanmatting.training.everyday import SOURCE_NAMES

    data = Path(data)
    found = {path.name: path for path in training_sets_in(data)}
    if not found:
        raise ValueError(f"{data} holds no mask-folder sets (images/, masks/, train.txt)")
    if mix is None:
        return dict.fromkeys(found.values(), 1.0)
    mix = {name: weight for name, weight in mix.items() if name not in SOURCE_NAMES}
    unknown = [name for name in mix if name not in found]
    if unknown:
        raise ValueError(
            f"--mix names {', '.join(unknown)}, not mask-folder sets in {data} "
            f"(found: {', '.join(found)})"
        )
    if not sum(mix.values()) > 0:
        raise ValueError(f"--mix weights must not all be 0: {mix}")
    return {found[name]: weight for name, weight in mix.items()}


@dataclass
class TrainConfig:
    model: str
    data: Path
    out: Path | None = None  # default runs/<model>
    recipe: Recipe = field(default_factory=lambda: RECIPES["original"])
    split_lists: Path | None = None  # folder with the author's {x,y}_{train,val}.txt
    val_fraction: float | None = None  # default 0.13 (AISegment) or 0.05 (mask folders)
    split_seed: int = 0
    presets: tuple[tuple[int, int], ...] | None = None  # default per layout
    mix: dict[str, float] | None = None  # mask-folder sets under `data` -> sampling weight
    samples_per_epoch: int | None = None  # mask-folder sets: draws per epoch
    cache_dir: Path | None = None  # decoded photos (default ~/.cache/humanmatting/training)
    cache_long_side: int | None = None  # photos shrunk to this long side (default 384)
    photos: Path | None = None  # unlabelled photos: the nobody, teacher and pasted sources
    teacher: Path | None = None  # the teacher's .tflite (MediaPipe selfie segmenter)
    init_from: Path | None = None  # a model folder whose network starts the training
    distill_from: Path | None = None  # a model folder whose probability joins the targets
    distill_weight: float = 0.5  # the teacher's share of each target
    freeze_norms: bool = False  # batch norms run on their statistics (fine-tuning)
    max_train: int | None = None  # use a seeded subset (quick runs, notebooks in CI)
    max_val: int | None = None
    mixed_precision: bool | str = False  # True = mixed_float16, or a Keras policy name
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
        config.val_fraction or 0.13,
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
    from humanmatting.training.curves import plot_training_curves
    from humanmatting.training.networks import best_checkpoint

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
        # Every call of a resumed run added up: the figure the README and model card give.
        wall_seconds_total=round(run_info.get("wall_seconds_before", 0.0) + result.wall_seconds, 1),
    )
    (run_dir / RUN_FILE).write_text(json.dumps(run_info, indent=2) + "\n")
    print(
        f"best: {best} (val mIoU {result.best_val_miou}); {result.wall_seconds:.0f} s", flush=True
    )
    return result


def is_mask_folder_data(data: Path) -> bool:
    """Mask-folder sets (a set, or a folder of sets) rather than the AISegment layout."""
    return bool(mask_folder_sets_in(data))


def aisegment_datasets(config: TrainConfig, channels: int, replicas: int, initial_epoch: int):
    """AISegment: decode per example (humanmatting.training.pipeline), group-wise or author's
    split."""
    from humanmatting.training.pipeline import make_dataset

    recipe = config.recipe
    if config.mix is not None:
        raise ValueError(
            f"--mix weighs mask-folder sets; {config.data} is not one nor a folder of them"
        )
    if config.distill_from is not None:
        raise ValueError(
            f"--distill-from works with mask-folder sets; {config.data} is not one nor a "
            "folder of them"
        )
    presets = config.presets or DEFAULT_PRESETS
    index = index_dataset(config.data, verify=config.verify, progress=config.verbose != 0)
    print(index.report(), flush=True)
    train_pairs, val_pairs, split_info = make_split(config, index)
    common = {"channels": channels, "batch_size": recipe.batch_size, "presets": presets}
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
    drop_val_remainder = 0 < remainder < replicas
    if drop_val_remainder:
        print(
            f"validating on {len(val_pairs) - remainder} pairs: the last {remainder} "
            f"cannot be split over {replicas} replicas",
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
    info = {
        "data": str(index.root),
        "presets": [list(p) for p in presets],
        "split": split_info,
        "skipped": {reason: len(paths) for reason, paths in index.skipped.items()},
    }
    return (
        train_data,
        val_data,
        steps_per_epoch,
        min(len(train_pairs), steps_per_epoch * recipe.batch_size),
        info,
    )


PASTED_VAL_FRAMES = 100


def _long_side(config: TrainConfig) -> dict:
    """The cache's long side when --cache-long-side sets one; else the cache's default."""
    return {"long_side": config.cache_long_side} if config.cache_long_side else {}


def everyday_sets(
    config: TrainConfig,
    weights: dict[str, float],
    people_train: list,
    people_val: list,
    fraction: float,
) -> tuple[list, list, dict]:
    """The `nobody`, `teacher` and `pasted` sources (humanmatting.training.everyday) named in --mix,
    their validation frames and their run.json entries."""
    from humanmatting.training.everyday import (
        PastedPeople,
        PhotoSource,
        split_unlabelled,
        validation_frames,
    )
    from humanmatting.training.mixed import WeightedSet
    from humanmatting.training.teacher import label_photos

    labels = label_photos(
        config.photos,
        config.teacher,
        config.cache_dir,
        progress=config.verbose != 0,
        **_long_side(config),
    )
    split = split_unlabelled(labels, fraction)
    print(split.report(), flush=True)
    sources = {
        "nobody": (PhotoSource(split.nobody_train, empty=True), False),
        "teacher": (PhotoSource(split.people_train), True),
        "pasted": (PastedPeople(people_train, split.nobody_train), False),
    }
    train = [
        WeightedSet(sources[name][0], weight, soft=sources[name][1])
        for name, weight in weights.items()
    ]
    val, info = [], {}
    for name, weight in weights.items():
        held_out = None
        if name == "nobody" and len(split.nobody_val):
            held_out = validation_frames(
                PhotoSource(split.nobody_val, empty=True),
                "nobody-val",
                len(split.nobody_val),
                PHOTO_VAL_SIZE,
                config.seed,
            )
        elif name == "pasted" and people_val and len(split.nobody_val):
            held_out = validation_frames(
                PastedPeople(people_val, split.nobody_val),
                "pasted-val",
                PASTED_VAL_FRAMES,
                PHOTO_VAL_SIZE,
                config.seed,
            )
        if held_out is not None:
            val.append(held_out)
        info[name] = {
            "path": str(config.photos),
            "teacher": str(config.teacher),
            "weight": weight,
            "train": len(sources[name][0]) if name != "pasted" else len(split.nobody_train),
            "val": len(held_out) if held_out is not None else 0,
        }
    return train, val, info


def distillation_from(folder: Path, weight: float, presets: tuple[tuple[int, int], ...]):
    """The model folder's most precise TFLite file as a teacher, run by the runtime (one
    interpreter per preset). It must take colour: the teacher sees the RGB frame whatever
    the student's channels."""
    from humanmatting.runtime import LiteRTBackend
    from humanmatting.specs import TFLITE_FILES
    from humanmatting.training.mixed import Distillation

    folder = Path(folder)
    files = [folder / TFLITE_FILES[variant] for variant in ("fp32", "fp16")]
    model_path = next((path for path in files if path.is_file()), None)
    if model_path is None:
        raise FileNotFoundError(
            f"--distill-from {folder} holds neither {files[0].name} nor {files[1].name}: pass "
            "a model folder such as humanmatting/weights/lite0"
        )
    backend = LiteRTBackend(model_path, threads=2, max_shapes=len(presets))
    if backend.channels != 3:
        raise ValueError(
            f"--distill-from {folder}: its model takes {backend.channels} channel(s); a teacher "
            "must take RGB (lite0 or night)"
        )
    return Distillation(backend.person_probability, weight), model_path


def photo_datasets(config: TrainConfig, channels: int, replicas: int, initial_epoch: int):
    """Mask-folder sets: decoded once (cache), mixed by weight, augmented for real photos;
    with the everyday sources (humanmatting.training.everyday) when --mix names them."""
    from humanmatting.training.augment import RESIZE_ONLY, PhotoAugmentation
    from humanmatting.training.cache import decode_set
    from humanmatting.training.everyday import SOURCE_NAMES
    from humanmatting.training.maskfolders import index_mask_folder
    from humanmatting.training.mixed import (
        WeightedSet,
        make_training_dataset,
        make_validation_dataset,
    )

    everyday = {name: w for name, w in (config.mix or {}).items() if name in SOURCE_NAMES}
    if everyday and (config.photos is None or config.teacher is None):
        raise ValueError(
            f"--mix names {', '.join(everyday)}: pass --photos (unlabelled photos, e.g. "
            "../shared/photos) and --teacher (MediaPipe's selfie_segmentation.tflite)"
        )
    recipe = config.recipe
    presets = config.presets or recipe.extra.get("presets") or PHOTO_PRESETS
    fraction = PHOTO_VAL_FRACTION if config.val_fraction is None else config.val_fraction
    augmentation = recipe.augmentation
    if augmentation is not None and not isinstance(augmentation, PhotoAugmentation):
        augmentation = PhotoAugmentation()  # the AISegment crop/flip settings do not apply
    train_sets, val_sets, sets_info = [], [], {}
    for folder, weight in mask_folder_sets(Path(config.data), config.mix).items():
        split = index_mask_folder(
            folder, "train", verify=config.verify, progress=config.verbose != 0
        )
        print(split.report(), flush=True)
        train_pairs, val_pairs = split.held_out(fraction, config.max_val or PHOTO_VAL_LIMIT)
        train_pairs = _subset(train_pairs, config.max_train, config.seed)
        decode = {
            "cache_dir": config.cache_dir,
            "progress": config.verbose != 0,
            **_long_side(config),
        }
        train_sets.append(
            WeightedSet(decode_set(f"{split.name}-train", train_pairs, **decode), weight)
        )
        if val_pairs:  # none with --val-fraction 0 or a one-pair set
            val_sets.append(decode_set(f"{split.name}-val", val_pairs, **decode))
        sets_info[split.name] = {
            "path": str(folder),
            "weight": weight,
            "train": len(train_pairs),
            "val": len(val_pairs),
            "skipped": {reason: len(stems) for reason, stems in split.skipped.items()},
        }
    if everyday:
        people_val = list(val_sets)
        more_train, more_val, more_info = everyday_sets(
            config, everyday, [item.data for item in train_sets], people_val, fraction
        )
        train_sets += more_train
        val_sets += more_val
        sets_info.update(more_info)
    total = sum(item.weight for item in train_sets)
    for item, info in zip(train_sets, sets_info.values(), strict=True):
        info["share"] = round(item.weight / total, 4)
    samples = config.samples_per_epoch or recipe.extra.get(
        "samples_per_epoch", DEFAULT_SAMPLES_PER_EPOCH
    )
    distillation, distillation_info = None, None
    if config.distill_from is not None:
        distillation, teacher_file = distillation_from(
            config.distill_from, config.distill_weight, presets
        )
        description = folder_description(config.distill_from)
        distillation_info = {
            **starting_point(config.distill_from),
            "model": description.model if description is not None else None,
            "file": teacher_file.name,
            "weight": config.distill_weight,
        }
        print(
            f"targets: {1 - config.distill_weight:.0%} the sets' masks, "
            f"{config.distill_weight:.0%} {teacher_file}",
            flush=True,
        )
    train_data = make_training_dataset(
        train_sets,
        channels,
        recipe.batch_size,
        presets,
        samples,
        augmentation or RESIZE_ONLY,
        seed=config.seed,
        first_epoch=initial_epoch,
        distillation=distillation,
    )
    val_data = make_validation_dataset(
        val_sets, channels, recipe.batch_size, PHOTO_VAL_SIZE, replicas=replicas
    )
    steps_per_epoch = int(train_data.cardinality())
    info = {
        "data": str(config.data),
        "layout": "mask folders",
        "sets": sets_info,
        "samples_per_epoch": steps_per_epoch * recipe.batch_size,
        "presets": [list(p) for p in presets],
        "val_size": list(PHOTO_VAL_SIZE),
        **({"cache_long_side": config.cache_long_side} if config.cache_long_side else {}),
        **({"distill_from": distillation_info} if distillation_info else {}),
        "split": {
            "source": "train.txt of each set; held out for validation: "
            f"{fraction:.0%} by stem hash, at most {config.max_val or PHOTO_VAL_LIMIT} a set"
        },
    }
    print(
        "mix: "
        + ", ".join(
            f"{name} {v['share']:.0%} ({v['train']} train, {v['val']} val)"
            for name, v in sets_info.items()
        ),
        flush=True,
    )
    return train_data, val_data, steps_per_epoch, steps_per_epoch * recipe.batch_size, info


def start_from(model, folder: Path, data) -> None:
    """Fine-tune: the model starts as the network of the model folder `folder` computes."""
    from humanmatting.models.keras_backend import load_keras_model
    from humanmatting.training.networks import initialize_from

    source = load_keras_model(Path(folder))
    batch = next(iter(data))[0]
    initialize_from(model, source, batch)
    print(f"starting from {folder} ({source.count_params():,} parameters)", flush=True)


def freeze_norms(model) -> None:
    """Every batch norm runs in inference mode on the statistics it starts with, its scale
    and offset fixed. A fine-tuned LikeUnet starts as the served network computes only on
    the batch its norms were fitted to; training on each batch's own statistics threw
    dark-light from val mIoU 0.81 to 0.46 in 20 steps."""
    import keras

    from humanmatting.training.networks import unwrap

    network, _ = unwrap(model)
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def folder_description(folder: Path):
    """A model folder's humanmatting.json, or None for a folder without a readable one."""
    from humanmatting.folder import FolderDescription, FolderDescriptionError

    try:
        return FolderDescription.load(folder)
    except FolderDescriptionError:
        return None


def starting_point(folder: Path) -> dict:
    """What a fine-tuning run started from: the model folder and the headline of its own
    training record (checkpoint, epochs, validation mIoU, wall time, script, what it started
    from), so that a card can tell every stage of how the weights came to be."""
    description = folder_description(folder)
    training = description.training if description is not None else {}
    keep = (
        "checkpoint", "epoch", "val_miou", "epochs_done", "wall_seconds_total", "script",
        "init_from",
    )  # fmt: skip
    return {"folder": str(folder), **{key: training[key] for key in keep if key in training}}


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
        run_info["wall_seconds_before"] = run_info.get("wall_seconds_total", 0.0)
        return _summarize(run_dir, started, {}, run_info)
    strategy = configure_devices(config)

    import keras

    from humanmatting.training.metrics import segmentation_metrics
    from humanmatting.training.networks import build_training_model, load_checkpoint
    from humanmatting.training.recipe import make_loss, make_optimizer

    run_dir.mkdir(parents=True, exist_ok=True)
    make_data = photo_datasets if is_mask_folder_data(config.data) else aisegment_datasets
    train_data, val_data, steps_per_epoch, trained_per_epoch, data_info = make_data(
        config,
        spec.channels,
        strategy.num_replicas_in_sync,
        initial_epoch=(last_state or {}).get("epoch", 0),
    )

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
            if config.freeze_norms:
                freeze_norms(model)
            model.compile(
                optimizer=make_optimizer(recipe, steps_per_epoch, epochs),
                loss=make_loss(recipe.loss),
                metrics=segmentation_metrics(),
                jit_compile=resolve_jit(config.jit_compile),
            )
            initial_epoch = 0
            if config.init_from is not None:
                start_from(model, config.init_from, val_data)

    earlier = json.loads((run_dir / RUN_FILE).read_text()) if last_state is not None else {}
    # Earlier calls' wall time: from last.json, written every epoch (a call killed mid-run
    # never writes run.json's total), else from run.json.
    wall_seconds_before = (last_state or {}).get(
        "wall_seconds_total", earlier.get("wall_seconds_total", earlier.get("wall_seconds", 0.0))
    )
    callbacks = run_callbacks(
        spec.name,
        run_dir,
        trained_per_epoch,
        best_so_far=last_state["best_val_miou"] if last_state else None,
        resuming=last_state is not None,
        wall_seconds_before=wall_seconds_before,
    )
    run_info = {
        "model": spec.name,
        "wall_seconds_before": wall_seconds_before,
        **data_info,
        "recipe": recipe.describe(),
        "epochs": epochs,
        "mixed_precision": config.mixed_precision,
        "replicas": strategy.num_replicas_in_sync,
        "jit_compile": bool(model.jit_compile),
        "parameters": model.count_params(),
        "seed": config.seed,
        **({"freeze_norms": True} if config.freeze_norms else {}),
    }
    # A resumed run keeps the script that began it when it is resumed by hand.
    script = os.environ.get(TRAINING_SCRIPT_ENV) or earlier.get("script")
    if script:
        run_info["script"] = script
    if config.init_from is not None:
        run_info["init_from"] = starting_point(Path(config.init_from))
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.epilog = (
        "Example: humanmatting train --model dark-light --data ~/aisegment "
        "--split-lists ../shared/reference/humanMatting-original"
    )
    parser.add_argument("--model", required=True, choices=list(MODEL_SPECS))
    parser.add_argument(
        "--data",
        required=True,
        type=Path,
        help="AISegment dataset folder, or a mask-folder set or a folder of such sets",
    )
    parser.add_argument(
        "--mix",
        type=_mix_argument,
        help="mask-folder sets under --data with sampling weights, e.g. eg1800=0.45,ccp=0.35",
    )
    parser.add_argument("--samples-per-epoch", type=int, help="mask-folder sets (default 3000)")
    parser.add_argument("--cache-dir", type=Path, help="decoded photos (mask-folder sets)")
    parser.add_argument(
        "--cache-long-side",
        type=_cache_long_side_argument,
        help="shrink the mask sets' and unlabelled photos to this long side once (default 384); "
        "larger keeps detail for inputs above 384 (a new cache, more memory)",
    )
    parser.add_argument(
        "--photos",
        type=Path,
        help="unlabelled photos for the nobody, teacher and pasted sources of --mix "
        "(e.g. ../shared/photos)",
    )
    parser.add_argument(
        "--teacher",
        type=Path,
        help="teacher model labelling --photos: MediaPipe's selfie_segmentation.tflite",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        help="model folder (Keras files) whose network the training starts from (fine-tuning)",
    )
    parser.add_argument(
        "--distill-from",
        type=Path,
        help="model folder of an RGB model of this project (e.g. humanmatting/weights/lite0) "
        "whose person probability is blended into every training target (mask-folder sets)",
    )
    parser.add_argument(
        "--distill-weight",
        type=float,
        default=0.5,
        help="the teacher's share of each target with --distill-from (default 0.5)",
    )
    parser.add_argument(
        "--freeze-norms",
        action="store_true",
        help="fine-tuning: batch norms keep the statistics, scale and offset they start with",
    )
    parser.add_argument("--out", type=Path, help="run folder (default runs/MODEL)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    split = parser.add_argument_group("split")
    split.add_argument("--split-lists", type=Path, help="folder with {x,y}_{train,val}.txt")
    split.add_argument(
        "--val-fraction", type=float, help="held out for validation (0.13 AISegment, 0.05 sets)"
    )
    split.add_argument("--split-seed", type=int, default=0)
    split.add_argument("--max-train", type=int, help="train on a seeded subset of N pairs")
    split.add_argument("--max-val", type=int, help="validate on a seeded subset of N pairs")
    split.add_argument("--no-verify", action="store_true", help="skip decoding every pair")
    recipe = parser.add_argument_group("recipe (defaults: the original's)")
    recipe.add_argument("--recipe", choices=list(RECIPES), default="original")
    recipe.add_argument(
        "--epochs",
        type=int,
        help="default: " + ", ".join(f"{n} {name}" for name, n in ORIGINAL_EPOCHS.items()),
    )
    recipe.add_argument("--batch-size", type=int)
    recipe.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    recipe.add_argument("--loss", choices=LOSSES)
    recipe.add_argument("--schedule", choices=SCHEDULES)
    recipe.add_argument("--warmup-epochs", type=float)
    recipe.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    recipe.add_argument("--input-scale", type=parse_scale, help="e.g. 1/255 (folded at export)")
    recipe.add_argument("--no-acnet", action="store_true", help="train dark-light without ACNet")
    recipe.add_argument(
        "--presets", type=parse_presets, help="HxW,HxW,... one per batch (default per layout)"
    )
    system = parser.add_argument_group("system")
    system.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPUs)")
    system.add_argument(
        "--bf16",
        action="store_true",
        help="mixed_bfloat16: about 3x faster training on CPUs with AMX or AVX-512 BF16",
    )
    system.add_argument("--distribute", choices=("auto", "mirrored", "none"), default="auto")
    system.add_argument("--cpu-replicas", type=int, default=0, help=argparse.SUPPRESS)
    system.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto")
    system.add_argument("--seed", type=int, default=0)
    system.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    recipe = with_overrides(
        RECIPES[args.recipe],
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        loss=args.loss,
        schedule=args.schedule,
        warmup_epochs=args.warmup_epochs,
        augmentation=(
            RECIPES[args.recipe].augmentation or Augmentation() if args.augment else None
        ),
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
        mix=args.mix,
        samples_per_epoch=args.samples_per_epoch,
        cache_dir=args.cache_dir,
        cache_long_side=args.cache_long_side,
        photos=args.photos,
        teacher=args.teacher,
        init_from=args.init_from,
        distill_from=args.distill_from,
        distill_weight=args.distill_weight,
        freeze_norms=args.freeze_norms,
        max_train=args.max_train,
        max_val=args.max_val,
        mixed_precision="mixed_bfloat16" if args.bf16 else args.mixed_precision,
        distribute=args.distribute,
        cpu_replicas=args.cpu_replicas,
        jit_compile=args.jit_compile,
        resume=args.resume,
        seed=args.seed,
        verify=not args.no_verify,
        verbose=args.verbose,
    )


def run(args: argparse.Namespace) -> int:
    run_training(config_from_args(args))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.training.train`: the same command as `humanmatting train`."""
    return run_command("humanmatting.training.train", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
