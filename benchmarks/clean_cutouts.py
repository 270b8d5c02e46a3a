"""Clean cutouts: how much of a cutout is semi-transparent where it should be solid or empty.

    python -m benchmarks.clean_cutouts [--sets eg1800,ccp,coco128] [--split test]
        [--limit N] [--model dark-light] [--max-hole F] [--repeats N] [--no-time]
        [--out benchmarks/clean_cutouts]
    python -m benchmarks.clean_cutouts --figures [docs/images]

The CLI's default photo matte (`humanmatting cutout`: the model's default variant,
`Matter.predict` defaults: quality "best", refined) on each set's split at the photos' own
resolution, before and after `refine.clean_alpha` (the refinement without and with it):

  ghost share   the share of the frame's pixels with 0.04 < alpha < 0.96 that lie farther
                than the band (1% of the long side, at least 3 px) from
                the ground truth's outline: ghosts of the background and see-through person
  soft share    the share of the frame with 0.04 < alpha < 0.96 anywhere
  person IoU, boundary F (3 px)   person = alpha >= 0.5
                (humanmatting.training.metrics.mask_scores, as benchmarks/quality.py and
                benchmarks/refinement.py)

For reference, MediaPipe's selfie segmenter (../shared/anchors, as benchmarks/quality.py
runs it: 256x256, its matte stretched bilinearly), unless --no-mediapipe.

Means over the photos. A photo without a person in its mask (coco128 has 67) counts every
soft pixel as a ghost; IoU and boundary F are over the photos with a person only.

Time: what the cleaning adds to `Matter.predict` at 1280x720 (quality "best" and "fast",
the latter as camera and video frames) and at 12 MP, median of --repeats interleaved runs.

--max-hole chooses refine.MAX_HOLE: run it on the training split (never on test).

Writes results.md and results.json into --out; never a photo.

--figures: instead, before/after crops of the project's own examples/ photos (public
domain) on magenta, enlarged, into docs/images/ (the README's edges section shows them).
"""

from __future__ import annotations

import argparse
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

from humanmatting import compose, refine
from humanmatting.preprocess import load_rgb, prepare_input
from humanmatting.runtime import load_matter
from humanmatting.training.maskfolders import PERSON_LEVEL, index_mask_folder, read_mask
from humanmatting.training.metrics import boundary, mask_scores

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
SOFT = (0.04, 0.96)
# The figure: soft pixels farther than this from the true outline (share of the
# long side, at least GHOST_BAND_MIN pixels). Its own constants, not the refinement's: the
# yardstick must not move with what it measures.
GHOST_BAND = 0.01
GHOST_BAND_MIN = 3.0
FRAME_SIZE = (720, 1280)  # (height, width)
LARGE_SIZE = (3000, 4000)


def soft(alpha: np.ndarray) -> np.ndarray:
    low, high = SOFT
    return (alpha > low) & (alpha < high)


def ghost_share(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Share of the frame that is soft farther than the band from truth's outline."""
    height, width = truth.shape
    outline = boundary(truth)
    if not outline.any():
        return float(soft(alpha).mean())
    distance = cv2.distanceTransform((~outline).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    band = max(GHOST_BAND_MIN, GHOST_BAND * max(height, width))
    return float((soft(alpha) & (distance > band)).mean())


def scores(alpha: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    row = {"ghost": ghost_share(alpha, truth), "soft": float(soft(alpha).mean())}
    if truth.any():
        both = mask_scores(truth, alpha >= 0.5)
        row.update(person_iou=both["person_iou"], boundary_f=both["boundary_f"])
    return row


def probability(matter, rgb: np.ndarray) -> np.ndarray:
    """The network's probability at `predict`'s default input (a copy: LiteRT reuses it)."""
    size = matter.input_size(*rgb.shape[:2], quality="best")
    batch = prepare_input(rgb, matter.spec.channels, size)
    return np.array(matter.backend.person_probability(batch), np.float32)


def measure(args, matter, mediapipe=None) -> dict:
    """{set: {"before": [rows], "after": [rows]}} on each set's split."""
    from tqdm.auto import tqdm

    results = {}
    for name in args.sets.split(","):
        pairs = index_mask_folder(args.datasets / name, args.split, verify=False).pairs
        if args.limit:  # spread over the list, not its first stems only
            pairs = pairs[:: max(1, len(pairs) // args.limit)][: args.limit]
        rows: dict[str, list] = {"before": [], "after": []}
        if mediapipe is not None:
            rows["mediapipe"] = []
        for pair in tqdm(pairs, desc=name, unit="photo"):
            rgb, truth = load_rgb(pair.image), read_mask(pair.mask) >= PERSON_LEVEL
            before = refine.refine_alpha(rgb, probability(matter, rgb), "best", clean=False)
            if args.max_hole is None:
                after = matter.predict(rgb).alpha  # the CLI's default matte itself
            else:
                after = refine.clean_alpha(before, args.max_hole)
            rows["before"].append({"stem": pair.stem, **scores(before, truth)})
            rows["after"].append({"stem": pair.stem, **scores(after, truth)})
            if mediapipe is not None:
                plain = mediapipe.predict(rgb)[0]
                rows["mediapipe"].append({"stem": pair.stem, **scores(plain, truth)})
        results[name] = rows
    return results


def mean(rows: list[dict], key: str) -> float:
    values = [row[key] for row in rows if key in row]
    return float(np.mean(values)) if values else float("nan")


LABELS = {
    "before": "refined (before)",
    "after": "refined + clean",
    "mediapipe": "MediaPipe selfie, plain matte (reference)",
}


def quality_table(results: dict) -> list[str]:
    lines = [
        "| set | photos (with a person) | matte | ghost share | soft share | person IoU "
        "| boundary F |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, rows in results.items():
        for key, found in rows.items():
            label = LABELS[key]
            people = sum("person_iou" in row for row in found)
            lines.append(
                f"| {name} | {len(found)} ({people}) | {label} | "
                f"{100 * mean(found, 'ghost'):.2f}% | {100 * mean(found, 'soft'):.2f}% | "
                f"{mean(found, 'person_iou'):.4f} | {mean(found, 'boundary_f'):.4f} |"
            )
    return lines


def measure_time(matter, rgb: np.ndarray, repeats: int) -> list[str]:
    """Milliseconds clean_alpha adds to predict, for a frame and a large photo."""
    lines = [
        "| picture | quality | predict without cleaning (ms) | cleaning adds (ms) | share |",
        "| --- | --- | --- | --- | --- |",
    ]
    for (height, width), quality in (
        (FRAME_SIZE, "fast"),
        (FRAME_SIZE, "best"),
        (LARGE_SIZE, "best"),
    ):
        if (rgb.shape[0] > rgb.shape[1]) != (height > width):
            rgb = np.ascontiguousarray(rgb.transpose(1, 0, 2))
        picture = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)
        plain, cleaning = [], []
        for index in range(repeats + 1):
            started = time.perf_counter()
            network = probability(matter, picture)
            alpha = refine.refine_alpha(picture, network, quality, clean=False)
            refined = time.perf_counter()
            refine.clean_alpha(alpha)
            finished = time.perf_counter()
            if index:  # the first: warm-up
                plain.append((refined - started) * 1e3)
                cleaning.append((finished - refined) * 1e3)
        base, added = statistics.median(plain), statistics.median(cleaning)
        lines.append(
            f"| {width}x{height} | {quality} | {base:.1f} | {added:.1f} | "
            f"{100 * added / base:.0f}% |"
        )
    return lines


# (photo, crop name, top, left) in examples/; crops of FIGURE_CROP pixels.
FIGURE_CROPS = (
    ("grace_hopper", "cap and hair", 0, 120),
    ("grace_hopper", "shoulder", 250, 0),
    ("astronaut", "hair", 0, 130),
    ("astronaut", "shoulder", 140, 300),
)
FIGURE_CROP = 180
FIGURE_SCALE = 2
MAGENTA = "#ff00ff"


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((26, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, tile])


def save_figures(matter, folder: Path) -> list[Path]:
    """One PNG per example photo: each crop before and after, side by side, on magenta."""
    written = []
    for name in dict.fromkeys(photo for photo, *_ in FIGURE_CROPS):
        rgb = load_rgb(REPO_ROOT / "examples" / f"{name}.jpg")
        before = refine.refine_alpha(rgb, probability(matter, rgb), "best", clean=False)
        after = matter.predict(rgb).alpha
        pictures = [compose.replace_background(rgb, alpha, MAGENTA) for alpha in (before, after)]
        rows = []
        for photo, part, top, left in FIGURE_CROPS:
            if photo != name:
                continue
            tiles = []
            for picture, when in zip(pictures, ("before", "after"), strict=True):
                tile = picture[top : top + FIGURE_CROP, left : left + FIGURE_CROP]
                tile = cv2.resize(
                    tile, None, fx=FIGURE_SCALE, fy=FIGURE_SCALE, interpolation=cv2.INTER_NEAREST
                )
                tiles.append(_label(tile, f"{part}: {when}"))
            rows.append(
                np.hstack([np.pad(t, ((0, 6), (0, 6), (0, 0)), constant_values=255) for t in tiles])
            )
        path = folder / f"clean-cutouts-{name.replace('_', '-')}.png"
        figure = cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(path), figure, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=SHARED_DIR / "datasets")
    parser.add_argument("--sets", default="eg1800,ccp,coco128")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, help="at most N photos of each set (spread out)")
    parser.add_argument("--model", default="dark-light")
    parser.add_argument(
        "--max-hole", type=float, help="instead of refine.MAX_HOLE (choose it on --split train)"
    )
    parser.add_argument("--anchors", type=Path, default=SHARED_DIR / "anchors")
    parser.add_argument("--no-mediapipe", action="store_true", help="skip the reference rows")
    parser.add_argument("--repeats", type=int, default=9, help="timing runs")
    parser.add_argument("--no-time", action="store_true", help="skip the timing")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "clean_cutouts")
    parser.add_argument(
        "--figures", type=Path, nargs="?", const=REPO_ROOT / "docs" / "images",
        help="instead: before/after crops of examples/ into this folder (docs/images)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        for path in save_figures(load_matter(args.model), args.figures):
            print(path)
        return 0
    if args.max_hole is not None and args.split == "test":
        parser.error("--max-hole chooses a setting: run it on the training split")
    matter = load_matter(args.model, max_shapes=64)
    command = "python -m benchmarks.clean_cutouts " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    started = time.perf_counter()
    lines = [
        f"Written by `{command}` on {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"{platform.machine()}, {os.cpu_count()} logical CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the start. Model {matter.name}, split {args.split}; "
        f"max hole {args.max_hole if args.max_hole is not None else refine.MAX_HOLE:g}.",
        "",
        "## Quality",
        "",
    ]
    mediapipe = None
    if not args.no_mediapipe and args.max_hole is None:
        from benchmarks.quality import MEDIAPIPE_FILE, MediaPipeSegmenter

        path = args.anchors / MEDIAPIPE_FILE
        if path.is_file():
            mediapipe = MediaPipeSegmenter(path, 2)
        else:
            lines += [f"MediaPipe: skipped, not found at {path}.", ""]
    results = measure(args, matter, mediapipe)
    lines += quality_table(results)
    if not args.no_time:
        first = index_mask_folder(args.datasets / args.sets.split(",")[0], args.split, verify=False)
        lines += ["", f"## Time (median of {args.repeats})", ""]
        lines += measure_time(matter, load_rgb(first.pairs[0].image), args.repeats)
    lines += ["", f"{(time.perf_counter() - started) / 60:.1f} min in all."]
    args.out.mkdir(parents=True, exist_ok=True)
    name = "results" if args.max_hole is None else f"train-max-hole-{args.max_hole:g}"
    record = {"command": command, "model": matter.name, "quality": results}
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=1))
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
