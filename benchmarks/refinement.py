"""Edge refinement, foreground colours and the input size: what each step adds, measured.

    python -m benchmarks.refinement [--sets eg1800,ccp] [--split test] [--limit N]
        [--models night,dark-light] [--hq-model night] [--hq-limit N] [--hq-seconds S]
        [--repeats N] [--out benchmarks/refinement] [--crops out/refinement]
    python -m benchmarks.refinement --tune [--split train] [--limit N]
    python -m benchmarks.refinement --work-scales 1.0,1.25,1.5 [--frame 640] [--limit N]
    python -m benchmarks.refinement --sizes 256,320,384,512 [--original FOLDER]

Quality: on each set's split (../shared/datasets, --datasets) at the photos' own resolution,
every model's matte after each step in turn:

  preset, stretched     the old default: the aspect preset nearest the photo (256x256 for
                        a square one), the network's matte stretched bilinearly
  fast size, stretched  quality="fast"'s input (0.8 of the best long side), stretched
  fast (size + refine)  quality="fast": that input and the cheap refinement
  best size, stretched  quality="best"'s input (the spec table's best_long_side)
  best (size + refine)  quality="best": the new default for photos
  + HQ                  refine.hq_matte on the best matte, on the first --hq-limit photos
                        of each set (one model, --hq-model), beside "best" on the same photos

Person = alpha >= 0.5 against the mask (white = person): person IoU and boundary F at 3 px
(humanmatting.training.metrics.mask_scores, as benchmarks/quality.py), means over the photos.

Time: one test photo enlarged (bicubic) to 1 MP and to 12 MP, sent as a JPEG through a photo
request as the app makes it (decode, network, cutout, PNG file), first with refinement and
foreground colours off, then with each; the step's own time, median of --repeats
interleaved runs, and its share of the request. Camera frames (640x480, quality "fast") too.

Crops: the test photos (of the first set) whose background just outside the person is the
darkest and the lightest, among those where the network's mask is at least as good as the
median (so that the crops show edges, not the network's misses); a hair crop (top of the
head) and a shoulder crop of each: the photo, then the cutout on a contrasting colour with
the old default, refined, refined + foreground colours, and HQ.

--tune: the refinement settings on the training split instead (never on test): IoU and
boundary F of each candidate setting, to choose humanmatting.refine.REFINEMENTS (tune.md).

--work-scales: the frames' refinement (REFINEMENTS["fast"]) at each working scale, on the
training split (never on test) with each photo shrunk to a camera frame's long side
(--frame) and the network at quality "fast"'s input: IoU, boundary F and the refinement's
milliseconds (work-scales-FRAME.md; the camera's setting is chosen from it).

--sizes: instead, each model's own matte (stretched) at each network long side, on the
test splits, as the spec table's best_long_side is chosen (sizes.md); --original FOLDER
adds the author's dark-light.

Writes into --out: results.md (the tables, for the README) and results.json (every number);
crops-dark.png and crops-light.png (a few hundred pixels of each photo, never a whole one)
show the data sets' photos, so they go into --crops, out/refinement by default: ignored by
git, never committed (a tracked folder is refused).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.outputs import OUT_DIR, TrackedFolderError, check_untracked_folder, shown_path
from humanmatting import compose, refine
from humanmatting.app.outputs import PNG_OPTIONS
from humanmatting.preprocess import (
    alpha_to_size,
    load_rgb,
    model_input_size,
    prepare_input,
)
from humanmatting.runtime import load_matter
from humanmatting.specs import SHIPPED_MODELS
from humanmatting.training.maskfolders import PERSON_LEVEL, index_mask_folder, read_mask
from humanmatting.training.metrics import mask_scores

REPO_ROOT = Path(__file__).resolve().parents[1]

SHARED_DIR = REPO_ROOT.parent / "shared"
STEPS = (
    ("preset", "preset, stretched (old default)"),
    ("fast_size", "fast size, stretched"),
    ("fast", "fast (size + refine)"),
    ("size", "best size, stretched"),
    ("best", "best (size + refine)"),
)
HQ_STEP = ("hq", "best + HQ")
METRICS = ("person_iou", "boundary_f")
THRESHOLD = 0.5
CROP = 200  # pixels of the photo in each crop
CROP_SCALE = 1.5  # shown enlarged (nearest), so that edge pixels can be seen
MEGAPIXEL_SIZES = {"1 MP": (1155, 866), "12 MP": (4000, 3000)}  # (height, width), 3:4
CAMERA_SIZE = (480, 640)


def person(alpha: np.ndarray) -> np.ndarray:
    return alpha >= THRESHOLD


def probability(matter, rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The network's person probability at input `size` (a copy: LiteRT reuses its buffer)."""
    batch = prepare_input(rgb, matter.spec.channels, size)
    return np.array(matter.backend.person_probability(batch), np.float32)


def step_mattes(matter, rgb: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Alpha after each step of STEPS, and the milliseconds of each step's refinement."""
    height, width = rgb.shape[:2]
    preset = probability(matter, rgb, model_input_size(height, width))
    best = probability(matter, rgb, matter.input_size(height, width, quality="best"))
    fast = probability(matter, rgb, matter.input_size(height, width, quality="fast"))
    mattes, times = {}, {}
    for key, function in (
        ("preset", lambda: alpha_to_size(preset, height, width)),
        ("fast_size", lambda: alpha_to_size(fast, height, width)),
        ("fast", lambda: refine.refine_alpha(rgb, fast, "fast")),
        ("size", lambda: alpha_to_size(best, height, width)),
        ("best", lambda: refine.refine_alpha(rgb, best, "best")),
    ):
        started = time.perf_counter()
        mattes[key] = function()
        times[key] = (time.perf_counter() - started) * 1e3
    return mattes, times


def load_splits(args, split_name: str) -> dict:
    splits = {}
    for name in args.sets.split(","):
        split = index_mask_folder(args.datasets / name, split_name, verify=False)
        pairs = split.pairs
        if args.limit:  # spread over the list, not its first stems only
            pairs = pairs[:: max(1, len(pairs) // args.limit)][: args.limit]
        splits[name] = pairs
    return splits


def read_pair(pair) -> tuple[np.ndarray, np.ndarray]:
    return load_rgb(pair.image), read_mask(pair.mask) >= PERSON_LEVEL


def measure_quality(args, splits: dict, matters: dict) -> dict:
    """{set: {model: {step: [per-photo scores]}}}, plus HQ rows for --hq-model."""
    from tqdm.auto import tqdm

    results: dict = {}
    for set_name, pairs in splits.items():
        results[set_name] = {name: {key: [] for key, _ in STEPS} for name in matters}
        if args.hq_model in matters:
            results[set_name][args.hq_model]["hq"] = []
            results[set_name][args.hq_model]["best_on_hq_photos"] = []
        for index, pair in enumerate(tqdm(pairs, desc=set_name, unit="photo")):
            rgb, truth = read_pair(pair)
            for name, matter in matters.items():
                mattes, times = step_mattes(matter, rgb)
                for key, alpha in mattes.items():
                    scores = mask_scores(truth, person(alpha))
                    row = {"stem": pair.stem, "ms": times[key]}
                    row.update({metric: scores[metric] for metric in METRICS})
                    results[set_name][name][key].append(row)
                if name == args.hq_model and index < args.hq_limit:
                    started = time.perf_counter()
                    hq = refine.hq_matte(rgb, mattes["best"], args.hq_seconds, progress=False)
                    row = {"stem": pair.stem, "ms": (time.perf_counter() - started) * 1e3}
                    scores = mask_scores(truth, person(hq))
                    row.update({metric: scores[metric] for metric in METRICS})
                    results[set_name][name]["hq"].append(row)
                    results[set_name][name]["best_on_hq_photos"].append(
                        results[set_name][name]["best"][-1]
                    )
    return results


def mean(rows: list[dict], key: str) -> float:
    return float(np.mean([row[key] for row in rows])) if rows else float("nan")


def quality_table(results: dict) -> list[str]:
    lines = [
        "| set | model | step | photos | person IoU | boundary F | ms of the step (median) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for set_name, models in results.items():
        for name, steps in models.items():
            labels = dict(STEPS) | {
                "best_on_hq_photos": "best (size + refine), HQ's photos",
                "hq": HQ_STEP[1],
            }
            for key, rows in steps.items():
                if not rows:
                    continue
                milliseconds = statistics.median(row["ms"] for row in rows)
                timing = f"{milliseconds:.1f}" if key in ("fast", "best", "hq") else "-"
                lines.append(
                    f"| {set_name} | {name} | {labels[key]} | {len(rows)} | "
                    f"{mean(rows, 'person_iou'):.4f} | {mean(rows, 'boundary_f'):.4f} | "
                    f"{timing} |"
                )
    return lines


# --- time ------------------------------------------------------------------------------------


def enlarged_jpeg(rgb: np.ndarray, size: tuple[int, int]) -> bytes:
    height, width = size
    if rgb.shape[0] < rgb.shape[1]:  # keep the photo's orientation
        height, width = width, height
    big = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def photo_request(matter, jpeg: bytes, refined: bool, foreground: bool, hq_seconds=None):
    """The app's photo request (decode, network, cutout, PNG); times of its parts in ms."""
    started = time.perf_counter()
    rgb = load_rgb(jpeg)
    prediction = matter.predict(rgb, quality="best", refine=refined)
    alpha = prediction.alpha
    refine_ms = prediction.timing.refine_ms
    stretched_ms = 0.0 if refined else prediction.timing.postprocess_ms
    hq_ms = 0.0
    if hq_seconds:
        hq_started = time.perf_counter()
        alpha = refine.hq_matte(rgb, alpha, hq_seconds, progress=False)
        hq_ms = (time.perf_counter() - hq_started) * 1e3
    foreground_started = time.perf_counter()
    colors = compose.soft_edge_colors(rgb, alpha) if foreground else None
    cutout_started = time.perf_counter()
    cutout = compose.cutout(rgb, alpha, colors=colors)  # paints the colours in
    cutout_ms = (time.perf_counter() - cutout_started) * 1e3
    foreground_ms = (cutout_started - foreground_started) * 1e3
    ok, _ = cv2.imencode(".png", cv2.cvtColor(cutout, cv2.COLOR_RGBA2BGRA), PNG_OPTIONS)
    assert ok
    return {
        "request_ms": (time.perf_counter() - started) * 1e3,
        "refine_ms": refine_ms,
        "stretch_ms": stretched_ms,
        "foreground_ms": foreground_ms,
        "cutout_ms": cutout_ms,
        "hq_ms": hq_ms,
    }


def measure_time(args, matter, rgb: np.ndarray) -> dict:
    """Per photo size: the request without the new steps, and each step's own time."""
    results = {}
    for label, size in MEGAPIXEL_SIZES.items():
        jpeg = enlarged_jpeg(rgb, size)
        runs = {"plain": [], "refined": []}
        photo_request(matter, jpeg, False, False)  # warm-up: interpreters, first calls
        photo_request(matter, jpeg, True, True)
        for _ in range(args.repeats):
            runs["plain"].append(photo_request(matter, jpeg, False, False))
            runs["refined"].append(photo_request(matter, jpeg, True, True))
        plain = statistics.median(run["request_ms"] for run in runs["plain"])
        stretch = statistics.median(run["stretch_ms"] for run in runs["plain"])
        refine_ms = statistics.median(run["refine_ms"] for run in runs["refined"])
        # The estimate, and what painting its colours into the cutout adds to the cutout.
        foreground = statistics.median(run["foreground_ms"] for run in runs["refined"])
        foreground += statistics.median(run["cutout_ms"] for run in runs["refined"])
        foreground -= statistics.median(run["cutout_ms"] for run in runs["plain"])
        full = statistics.median(run["request_ms"] for run in runs["refined"])
        hq = photo_request(matter, jpeg, True, True, args.hq_seconds)["hq_ms"]
        results[label] = {
            "pixels": int(np.prod(size)),
            "request_ms": plain,
            "request_refined_ms": full,
            "refine_ms": refine_ms - stretch,  # what it adds over the bilinear stretch
            "foreground_ms": foreground,
            "hq_ms": hq,
        }
    frame = cv2.resize(rgb, CAMERA_SIZE[::-1], interpolation=cv2.INTER_AREA)
    runs: dict[bool, list] = {False: [], True: []}
    for index in range(2 * (args.repeats + 1)):
        refined = bool(index % 2)
        prediction = matter.predict(frame, quality="fast", refine=refined)
        alpha, timing = prediction.alpha, prediction.timing
        started = time.perf_counter()
        if refined:
            compose.soft_edge_colors(frame, alpha)
        if index >= 2:  # the first of each: warm-up
            runs[refined].append((timing, (time.perf_counter() - started) * 1e3))
    stretch = statistics.median(timing.postprocess_ms for timing, _ in runs[False])
    results["camera 640x480 (fast)"] = {
        "pixels": CAMERA_SIZE[0] * CAMERA_SIZE[1],
        "request_ms": statistics.median(timing.total_ms for timing, _ in runs[False]),
        "refine_ms": statistics.median(timing.refine_ms for timing, _ in runs[True]) - stretch,
        "foreground_ms": statistics.median(ms for _, ms in runs[True]),
    }
    return results


def time_table(times: dict) -> list[str]:
    lines = [
        "| picture | request without the steps (ms) | refinement adds | foreground colours add "
        "| both | request with both (ms) | HQ (opt-in) adds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, row in times.items():
        base = row["request_ms"]

        def share(ms: float, base: float = base) -> str:
            return f"{ms:.0f} ms ({100 * ms / base:.0f}%)"

        hq = share(row["hq_ms"]) if "hq_ms" in row else "-"
        both = row["refine_ms"] + row["foreground_ms"]
        full = f"{row['request_refined_ms']:.0f}" if "request_refined_ms" in row else "-"
        lines.append(
            f"| {label} | {base:.0f} | {share(row['refine_ms'])} | "
            f"{share(row['foreground_ms'])} | {share(both)} | {full} | {hq} |"
        )
    return lines


# --- crops -----------------------------------------------------------------------------------


def background_brightness(rgb: np.ndarray, truth: np.ndarray) -> float:
    """Mean luma of the background within a few pixels of the person."""
    kernel = np.ones((15, 15), np.uint8)
    ring = cv2.dilate(truth.view(np.uint8), kernel).astype(bool) & ~truth
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(gray[ring].mean()) if ring.any() else 128.0


def crop_boxes(truth: np.ndarray) -> dict[str, tuple[int, int]] | None:
    """Top-left corners of a hair crop (the top of the head) and a shoulder crop (the
    person's outline 55-90% of the way down), or None when the photo's border cuts them
    (a head cut by the top of the photo has no hair edge to show)."""
    height, width = truth.shape
    rows = np.flatnonzero(truth.any(axis=1))
    if rows.size == 0 or rows[0] < CROP // 4:
        return None
    top = int(rows[0])
    top_columns = np.flatnonzero(truth[top])
    column = int(top_columns[len(top_columns) // 2])

    def corner(row: int, column: int) -> tuple[int, int]:
        return (
            int(np.clip(row - CROP // 2, 0, max(0, height - CROP))),
            int(np.clip(column - CROP // 2, 0, max(0, width - CROP))),
        )

    for fraction in (0.7, 0.6, 0.8, 0.55, 0.9):
        row = int(rows[0] + fraction * (rows[-1] - rows[0]))
        columns = np.flatnonzero(truth[row])
        if columns.size and columns[0] >= CROP // 4:
            return {"hair": corner(top + CROP // 4, column), "shoulder": corner(row, columns[0])}
        if columns.size and columns[-1] < width - CROP // 4:
            return {"hair": corner(top + CROP // 4, column), "shoulder": corner(row, columns[-1])}
    return None


def label(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((24, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, tile])


def crop_figure(matter, rgb: np.ndarray, truth: np.ndarray, backdrop, hq_seconds: float):
    """Rows: hair, shoulder; columns: photo, old default, refined, + foreground, HQ."""
    mattes, _ = step_mattes(matter, rgb)
    best = mattes["best"]
    hq = refine.hq_matte(rgb, best, hq_seconds, progress=False)
    columns = [
        ("photo", None, None),
        ("old default", mattes["preset"], False),
        ("refined", best, False),
        ("refined + colours", best, True),
        ("HQ + colours", hq, True),
    ]
    pictures = []
    for name, alpha, clean in columns:
        if alpha is None:
            pictures.append((name, rgb))
        else:
            pictures.append((name, compose.replace_background(rgb, alpha, backdrop, None, clean)))
    rows = []
    for part, (top, left) in crop_boxes(truth).items():
        tiles = []
        for name, picture in pictures:
            tile = picture[top : top + CROP, left : left + CROP]
            tile = cv2.resize(
                tile, None, fx=CROP_SCALE, fy=CROP_SCALE, interpolation=cv2.INTER_NEAREST
            )
            tiles.append(label(tile, f"{part}: {name}"))
        rows.append(
            np.hstack([np.pad(t, ((0, 4), (0, 4), (0, 0)), constant_values=255) for t in tiles])
        )
    return np.vstack(rows)


def save_crops(args, splits: dict, matter, out: Path) -> dict:
    """The darkest- and lightest-background photos of the first set (see the docstring),
    written into `out` (an ignored folder: they show the data set's photos)."""
    set_name, pairs = next(iter(splits.items()))
    candidates = []
    for pair in pairs:
        rgb, truth = read_pair(pair)
        iou = mask_scores(truth, person(matter.predict(rgb, refine=False).alpha))["person_iou"]
        candidates.append((pair, background_brightness(rgb, truth), iou, crop_boxes(truth)))
    median_iou = statistics.median(c[2] for c in candidates)
    good = [c[:3] for c in candidates if c[2] >= median_iou and c[3] is not None]
    chosen = {"dark": min(good, key=lambda c: c[1]), "light": max(good, key=lambda c: c[1])}
    written = {}
    for kind, (pair, brightness, iou) in chosen.items():
        rgb, truth = read_pair(pair)
        backdrop = "#f4f4f4" if kind == "dark" else "#202020"  # contrasting: spill shows
        figure = crop_figure(matter, rgb, truth, backdrop, args.hq_seconds)
        path = out / f"crops-{kind}.png"
        cv2.imwrite(
            str(path), cv2.cvtColor(figure, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]
        )
        written[kind] = {
            "set": set_name,
            "stem": pair.stem,
            "background_luma": round(brightness, 1),
            "network_iou": round(iou, 4),
            "backdrop": backdrop,
            "file": shown_path(path),
        }
    return written


# --- tuning ----------------------------------------------------------------------------------

TUNE_CANDIDATES = [
    *(
        refine.Refinement(guide, work_scale, radius, 1e-3, (0.25, 0.75))
        for guide in ("rgb", "gray")
        for work_scale in (1.5, 2.0)
        for radius in (4.0, 6.0, 8.0, 12.0, 16.0)
    ),
    *(
        refine.Refinement("rgb", 2.0, 8.0, eps, levels)
        for eps, levels in (
            (1e-2, (0.25, 0.75)),
            (1e-4, (0.25, 0.75)),
            (1e-3, (0.1, 0.9)),
            (1e-3, (0.0, 1.0)),
        )
    ),
]


def tune(args, splits: dict, matters: dict) -> list[str]:
    """IoU and boundary F of every TUNE_CANDIDATES setting on the (training) split."""
    from tqdm.auto import tqdm

    rows = {}
    for set_name, pairs in splits.items():
        for pair in tqdm(pairs, desc=f"tune {set_name}", unit="photo"):
            rgb, truth = read_pair(pair)
            for name, matter in matters.items():
                best = probability(matter, rgb, matter.input_size(*rgb.shape[:2], quality="best"))
                settings = [None, *TUNE_CANDIDATES]
                for setting in settings:
                    if setting is None:
                        alpha = alpha_to_size(best, *rgb.shape[:2])
                    else:
                        alpha = refine.guided_upsample(rgb, best, setting, max(best.shape))
                    scores = mask_scores(truth, person(alpha))
                    key = (set_name, name, repr(setting))
                    rows.setdefault(key, []).append(scores)
    lines = [
        "| set | model | setting | person IoU | boundary F |",
        "| --- | --- | --- | --- | --- |",
    ]
    for (set_name, name, setting), scores in rows.items():
        lines.append(
            f"| {set_name} | {name} | {setting.replace('Refinement', '')} | "
            f"{mean(scores, 'person_iou'):.4f} | {mean(scores, 'boundary_f'):.4f} |"
        )
    return lines


def work_scales(splits: dict, matters: dict, scales: list[float], frame: int) -> list[str]:
    """REFINEMENTS["fast"] at each working scale on photos shrunk to a frame's long side."""
    from tqdm.auto import tqdm

    fast = refine.REFINEMENTS["fast"]
    settings = {"stretched": None}
    settings.update({f"{scale:g}": dataclasses.replace(fast, work_scale=scale) for scale in scales})
    rows: dict = {}
    for set_name, pairs in splits.items():
        for pair in tqdm(pairs, desc=f"work scales {set_name}", unit="photo"):
            rgb, truth = read_pair(pair)
            scale = frame / max(rgb.shape[:2])
            size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            truth = cv2.resize(truth.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            for name, matter in matters.items():
                fast_input = matter.input_size(*rgb.shape[:2], quality="fast")
                network = probability(matter, rgb, fast_input)
                for key, setting in settings.items():
                    started = time.perf_counter()
                    if setting is None:
                        alpha = alpha_to_size(network, *rgb.shape[:2])
                    else:
                        alpha = refine.guided_upsample(rgb, network, setting, max(network.shape))
                    milliseconds = (time.perf_counter() - started) * 1e3
                    scores = {**mask_scores(truth, person(alpha)), "ms": milliseconds}
                    rows.setdefault((set_name, name, key), []).append(scores)
    lines = [
        f"Frames of long side {frame}; {fast} with each work_scale.",
        "",
        "| set | model | work_scale | person IoU | boundary F | refinement ms (median) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for (set_name, name, key), scores in rows.items():
        lines.append(
            f"| {set_name} | {name} | {key} | {mean(scores, 'person_iou'):.4f} | "
            f"{mean(scores, 'boundary_f'):.4f} | "
            f"{statistics.median(score['ms'] for score in scores):.1f} |"
        )
    return lines


def sweep_sizes(splits: dict, matters: dict, sizes: list[int]) -> list[str]:
    """Mean person IoU of each model's own matte (stretched) at each long side: where the
    spec table's best_long_side comes from."""
    from tqdm.auto import tqdm

    scores: dict = {}
    for set_name, pairs in splits.items():
        for pair in tqdm(pairs, desc=f"sizes {set_name}", unit="photo"):
            rgb, truth = read_pair(pair)
            for name, matter in matters.items():
                for size in sizes:
                    shape = model_input_size(*rgb.shape[:2], size)
                    alpha = alpha_to_size(probability(matter, rgb, shape), *rgb.shape[:2])
                    iou = mask_scores(truth, person(alpha))["person_iou"]
                    scores.setdefault((name, size), {}).setdefault(set_name, []).append(iou)
    sets = list(splits)
    lines = [
        "| model | long side | " + " | ".join(f"{name} person IoU" for name in sets) + " | mean |",
        "| --- | --- |" + " --- |" * (len(sets) + 1),
    ]
    for (name, size), by_set in scores.items():
        means = [float(np.mean(by_set[set_name])) for set_name in sets]
        lines.append(
            f"| {name} | {size} | "
            + " | ".join(f"{value:.4f}" for value in means)
            + f" | {np.mean(means):.4f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=SHARED_DIR / "datasets")
    parser.add_argument("--sets", default="eg1800,ccp")
    parser.add_argument("--split", default=None, help="default: test (train with --tune)")
    parser.add_argument("--limit", type=int, help="at most N photos of each set (spread out)")
    parser.add_argument("--models", default="night,dark-light")
    parser.add_argument("--hq-model", default="night", help="the model HQ rows are for")
    parser.add_argument("--hq-limit", type=int, default=20, help="photos of each set for HQ")
    parser.add_argument("--hq-seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=5, help="timing runs of each request")
    parser.add_argument("--no-time", action="store_true", help="skip the timing")
    parser.add_argument("--no-crops", action="store_true", help="skip the crops")
    parser.add_argument("--tune", action="store_true", help="compare settings on --split train")
    parser.add_argument(
        "--work-scales", help="instead: the frames' refinement at these work scales (train split)"
    )
    parser.add_argument("--frame", type=int, default=640, help="with --work-scales: long side")
    parser.add_argument(
        "--sizes", help="instead: each model's own matte at these long sides (e.g. 256,320,384)"
    )
    parser.add_argument(
        "--original", type=Path, help="with --sizes: also the author's dark-light, this folder"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "refinement")
    parser.add_argument(
        "--crops",
        type=Path,
        default=OUT_DIR / "refinement",
        help="folder for crops-*.png (the data sets' photos: outside the repository or in an "
        "ignored folder, never committed)",
    )
    args = parser.parse_args(argv)
    if not args.no_crops:
        try:
            args.crops = check_untracked_folder(args.crops)
        except TrackedFolderError as error:
            parser.error(f"--crops: {error}")
    chooses = args.tune or args.work_scales
    split_name = args.split or ("train" if chooses else "test")
    if chooses and split_name == "test":
        parser.error("--tune and --work-scales choose settings: run them on the training split")
    names = [name for name in args.models.split(",") if name]
    unknown = sorted(set(names) - set(SHIPPED_MODELS))
    if unknown:
        parser.error(f"--models: not shipped models: {', '.join(unknown)}")
    matters = {name: load_matter(name, max_shapes=64) for name in names}
    if args.original:
        matters["dark-light-original"] = load_matter(
            "dark-light-original", args.original, download=False, max_shapes=64
        )
    splits = load_splits(args, split_name)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    command = "python -m benchmarks.refinement " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    header = [
        f"Written by `{command}` on "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"{platform.machine()}, {os.cpu_count()} logical CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the start.",
        "",
        "Photos: "
        + ", ".join(f"{name} {split_name} {len(pairs)}" for name, pairs in splits.items()),
        "",
    ]
    if args.sizes:
        lines = header + sweep_sizes(splits, matters, [int(size) for size in args.sizes.split(",")])
        (args.out / "sizes.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0
    if args.work_scales:
        scales = [float(scale) for scale in args.work_scales.split(",")]
        lines = header + work_scales(splits, matters, scales, args.frame)
        (args.out / f"work-scales-{args.frame}.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0
    if args.tune:
        lines = header + tune(args, splits, matters)
        (args.out / "tune.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0
    record: dict = {"command": command, "split": split_name}
    record["quality"] = measure_quality(args, splits, matters)
    lines = header + ["## Quality", ""] + quality_table(record["quality"])
    if not args.no_time:
        first_pair = next(iter(splits.values()))[0]
        record["time"] = measure_time(args, matters[names[0]], load_rgb(first_pair.image))
        lines += ["", f"## Time ({names[0]}, median of {args.repeats})", ""]
        lines += time_table(record["time"])
    if not args.no_crops:
        args.crops.mkdir(parents=True, exist_ok=True)
        record["crops"] = save_crops(args, splits, matters[args.hq_model], args.crops)
        lines += ["", "## Crops", ""]
        for kind, crop in record["crops"].items():
            lines.append(
                f"- {kind}: {crop['set']} {crop['stem']} (background luma "
                f"{crop['background_luma']}, network IoU {crop['network_iou']}), "
                f"on {crop['backdrop']}: `{crop['file']}`"
            )
    lines += ["", f"{(time.perf_counter() - started) / 60:.1f} min in all."]
    (args.out / "results.json").write_text(json.dumps(record, indent=1))
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
