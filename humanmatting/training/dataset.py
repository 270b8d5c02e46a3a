"""Index of image/matte pairs in the AISegment "Matting Human Datasets" layout, and splits.

Layout (paths relative to the dataset root, as in the author's split lists):

    clip_img/<group>/clip_<n>/<name>.jpg        the portrait
    matting/<group>/matting_<n>/<name>.png      RGBA; the matte is the alpha channel

`<group>` is one shoot (a timestamp such as 1803271840): images of one group show the same
people, so a fair validation split never puts one group on both sides. The real download
has macOS `._*` files, images without mattes and a few damaged files; they are reported
and skipped here, once, instead of failing an epoch later. No TensorFlow needed.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

IMAGE_DIR = "clip_img"
MATTE_DIR = "matting"
CLIP_SUFFIXES = (".jpg", ".jpeg")  # AISegment's photos are JPEGs; other files are not pairs
MATTE_SUFFIX = ".png"
SPLIT_LIST_FILES = {"train": ("x_train.txt", "y_train.txt"), "val": ("x_val.txt", "y_val.txt")}
KAGGLE_DATASET = "laurentmih/aisegmentcom-matting-human-datasets"

# Reasons a file is skipped, as shown in reports.
HIDDEN = "macOS '._' metadata file"
UNPAIRED_IMAGE = "image without matte"
UNPAIRED_MATTE = "matte without image"
UNREADABLE_IMAGE = "unreadable image"
UNREADABLE_MATTE = "unreadable matte"
NO_ALPHA = "matte has no alpha channel"
SIZE_MISMATCH = "image and matte sizes differ"
MISPLACED = "file outside the clip_<n>/matting_<n> layout"


@dataclass(frozen=True, order=True)
class Pair:
    """One example: paths relative to the dataset root (POSIX separators) and its shoot group."""

    image: str
    matte: str
    group: str


@dataclass
class DatasetIndex:
    """Matched pairs plus every file that was skipped, by reason."""

    root: Path
    pairs: list[Pair]
    skipped: dict[str, list[str]] = field(default_factory=dict)

    @property
    def groups(self) -> list[str]:
        return sorted({pair.group for pair in self.pairs})

    def paths(self, pairs: list[Pair] | None = None) -> tuple[list[str], list[str]]:
        """Absolute image and matte paths of `pairs` (default: all), for the input pipeline."""
        pairs = self.pairs if pairs is None else pairs
        return (
            [str(self.root / pair.image) for pair in pairs],
            [str(self.root / pair.matte) for pair in pairs],
        )

    def report(self, examples: int = 3) -> str:
        """Counts and a few example paths per skip reason, for logs and notebooks."""
        lines = [
            f"{self.root}: {len(self.pairs):,} image/matte pairs in {len(self.groups)} shoot groups"
        ]
        for reason, paths in sorted(self.skipped.items()):
            shown = ", ".join(paths[:examples]) + (", ..." if len(paths) > examples else "")
            lines.append(f"  skipped {len(paths):,} ({reason}): {shown}")
        if not self.skipped:
            lines.append("  nothing skipped")
        return "\n".join(lines)


def matte_path_for(image_path: str) -> str | None:
    """clip_img/G/clip_N/x.jpg -> matting/G/matting_N/x.png (None when not in that layout)."""
    parts = PurePosixPath(image_path).parts
    if len(parts) != 4 or parts[0] != IMAGE_DIR or not parts[2].startswith("clip_"):
        return None
    clip = parts[2].removeprefix("clip_")
    stem = PurePosixPath(parts[3]).stem
    return f"{MATTE_DIR}/{parts[1]}/matting_{clip}/{stem}{MATTE_SUFFIX}"


def _relative_files(root: Path, top: str) -> list[str]:
    base = root / top
    found = []
    for directory, _, files in os.walk(base):
        relative_dir = Path(directory).relative_to(root).as_posix()
        found.extend(f"{relative_dir}/{name}" for name in files)
    return sorted(found)


def find_dataset_root(path: str | os.PathLike) -> Path:
    """The folder holding clip_img/ and matting/: `path` itself or the shallowest one below.

    kagglehub downloads into a versioned cache folder whose inner layout may change; the
    Kaggle copy also nests a second copy (matting_human_half/), so the shallowest wins.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"Dataset folder {path} does not exist")
    candidates = [path]
    for _ in range(4):
        for candidate in sorted(candidates):
            if (candidate / IMAGE_DIR).is_dir() and (candidate / MATTE_DIR).is_dir():
                return candidate
        candidates = [child for c in candidates for child in c.iterdir() if child.is_dir()]
        if not candidates:
            break
    raise FileNotFoundError(
        f"No folder with {IMAGE_DIR}/ and {MATTE_DIR}/ inside {path}; point --data at the "
        f"AISegment dataset (Kaggle {KAGGLE_DATASET})."
    )


def read_matte(path: str | os.PathLike) -> np.ndarray:
    """The alpha channel of an AISegment matte PNG as HxW uint8 (255 = person)."""
    with Image.open(path) as image:
        if "A" not in image.getbands() and "transparency" not in image.info:
            raise ValueError(f"{path} has no alpha channel (mode {image.mode})")
        return np.asarray(image.convert("RGBA"))[:, :, 3].copy()


def _check_pair(root: Path, pair: Pair) -> str | None:
    """None if both files decode and match; otherwise the skip reason.

    JPEGs are decoded at 1/8 scale (draft mode still reads every byte, so truncation
    shows); PNGs are CRC-checked with verify(), which is much cheaper than inflating them.
    """
    try:
        with Image.open(root / pair.image) as image:
            size = image.size
            image.draft("L", (max(1, size[0] // 8), max(1, size[1] // 8)))
            image.load()
    except Exception:  # noqa: BLE001 - any decoder failure means "unreadable"
        return UNREADABLE_IMAGE
    try:
        with Image.open(root / pair.matte) as matte:
            if "A" not in matte.getbands() and "transparency" not in matte.info:
                return NO_ALPHA
            if matte.size != size:
                return SIZE_MISMATCH
            matte.verify()
    except Exception:  # noqa: BLE001
        return UNREADABLE_MATTE
    return None


def index_dataset(
    root: str | os.PathLike,
    verify: bool = True,
    workers: int | None = None,
    progress: bool = True,
) -> DatasetIndex:
    """Match images to mattes under `root` (or the dataset folder found below it).

    With `verify`, every pair is opened and checked (threads; Pillow releases the GIL while
    decoding); damaged pairs are skipped with the reason recorded in `skipped`.
    """
    root = find_dataset_root(root)
    skipped: dict[str, list[str]] = defaultdict(list)
    mattes = set()
    for path in _relative_files(root, MATTE_DIR):
        if PurePosixPath(path).name.startswith("._"):
            skipped[HIDDEN].append(path)
        elif path.lower().endswith(MATTE_SUFFIX):
            mattes.add(path)
    candidates = []
    for path in _relative_files(root, IMAGE_DIR):
        if PurePosixPath(path).name.startswith("._"):
            skipped[HIDDEN].append(path)
            continue
        if not path.lower().endswith(CLIP_SUFFIXES):
            continue
        matte = matte_path_for(path)
        if matte is None:
            skipped[MISPLACED].append(path)
        elif matte not in mattes:
            skipped[UNPAIRED_IMAGE].append(path)
        else:
            mattes.discard(matte)
            candidates.append(Pair(path, matte, PurePosixPath(path).parts[1]))
    skipped[UNPAIRED_MATTE].extend(sorted(mattes))

    pairs = candidates
    if verify and candidates:
        from tqdm.auto import tqdm

        with ThreadPoolExecutor(workers or min(8, (os.cpu_count() or 1) + 1)) as pool:
            reasons = list(
                tqdm(
                    pool.map(lambda pair: _check_pair(root, pair), candidates),
                    total=len(candidates),
                    desc="checking pairs",
                    unit="pair",
                    disable=not progress,
                )
            )
        pairs = []
        for pair, reason in zip(candidates, reasons, strict=True):
            if reason is None:
                pairs.append(pair)
            else:
                skipped[reason].append(pair.matte if "matte" in reason else pair.image)
    return DatasetIndex(root, pairs, {k: v for k, v in skipped.items() if v})


def _group_rank(group: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()


def split_by_group(
    pairs: list[Pair], val_fraction: float = 0.13, seed: int = 0
) -> tuple[list[Pair], list[Pair]]:
    """Deterministic train/val split by shoot group: no group is on both sides.

    Groups are ordered by a seeded hash of their name (stable when other groups come or
    go) and taken into validation until it holds `val_fraction` of the pairs. The
    author's split was 4,425 of 34,424 pairs (12.9%) in validation.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    by_group: dict[str, list[Pair]] = defaultdict(list)
    for pair in sorted(pairs):
        by_group[pair.group].append(pair)
    if len(by_group) < 2:
        raise ValueError(
            f"A group-wise split needs at least 2 shoot groups; found {len(by_group)}."
        )
    order = sorted(by_group, key=lambda group: _group_rank(group, seed))
    target = val_fraction * len(pairs)
    val_groups: list[str] = []
    count = 0
    for group in order[:-1]:  # at least one group stays in training
        if val_groups and count + len(by_group[group]) / 2 > target:
            break
        val_groups.append(group)
        count += len(by_group[group])
    val = [pair for group in sorted(val_groups) for pair in by_group[group]]
    train = [
        pair for group in sorted(by_group) if group not in val_groups for pair in by_group[group]
    ]
    return train, val


@dataclass
class SplitLists:
    """The author's split applied to an index: what was found, and what was not."""

    train: list[Pair]
    val: list[Pair]
    not_in_index: dict[str, list[str]]  # split -> listed images missing or skipped here
    not_listed: list[str]  # indexed images in neither list

    def report(self, examples: int = 3) -> str:
        lines = [f"author's split: {len(self.train):,} train, {len(self.val):,} val pairs"]
        for split, missing in self.not_in_index.items():
            if missing:
                lines.append(
                    f"  {len(missing):,} listed {split} images not usable here: "
                    + ", ".join(missing[:examples])
                )
        if self.not_listed:
            lines.append(
                f"  {len(self.not_listed):,} indexed images in neither list (unused): "
                + ", ".join(self.not_listed[:examples])
            )
        return "\n".join(lines)


def read_split_lists(lists_dir: str | os.PathLike) -> dict[str, list[tuple[str, str]]]:
    """{x,y}_{train,val}.txt from `lists_dir` -> {"train": [(image, matte), ...], "val": ...}."""
    lists_dir = Path(lists_dir)
    result = {}
    for split, (x_name, y_name) in SPLIT_LIST_FILES.items():
        x_path, y_path = lists_dir / x_name, lists_dir / y_name
        for path in (x_path, y_path):
            if not path.is_file():
                raise FileNotFoundError(
                    f"Split list {path} not found; --split-lists must be a folder with "
                    f"{', '.join(n for names in SPLIT_LIST_FILES.values() for n in names)}."
                )
        images = x_path.read_text().split()
        mattes = y_path.read_text().split()
        if len(images) != len(mattes):
            raise ValueError(f"{x_path} has {len(images)} lines but {y_path} has {len(mattes)}")
        for image, matte in zip(images, mattes, strict=True):
            if matte_path_for(image) != matte:
                raise ValueError(f"{x_name}/{y_name} pair does not match: {image} vs {matte}")
        result[split] = list(zip(images, mattes, strict=True))
    return result


def apply_split_lists(index: DatasetIndex, lists_dir: str | os.PathLike) -> SplitLists:
    """Split `index` with the author's lists (paths relative to the dataset root)."""
    lists = read_split_lists(lists_dir)
    by_image = {pair.image: pair for pair in index.pairs}
    splits: dict[str, list[Pair]] = {}
    missing: dict[str, list[str]] = {}
    for split, entries in lists.items():
        splits[split] = [by_image[image] for image, _ in entries if image in by_image]
        missing[split] = [image for image, _ in entries if image not in by_image]
    listed = {image for entries in lists.values() for image, _ in entries}
    overlap = {p.image for p in splits["train"]} & {p.image for p in splits["val"]}
    if overlap:
        raise ValueError(f"{len(overlap)} images are in both split lists, e.g. {min(overlap)}")
    return SplitLists(
        train=splits["train"],
        val=splits["val"],
        not_in_index=missing,
        not_listed=sorted(image for image in by_image if image not in listed),
    )


def split_pairs(
    index: DatasetIndex,
    split_lists: str | os.PathLike | None = None,
    val_fraction: float = 0.13,
    seed: int = 0,
    log=print,
) -> tuple[list[Pair], list[Pair], dict]:
    """Train and val pairs from the author's lists (if given) or a group-wise split, plus a
    JSON-ready description. Training and evaluation both call this, so "val" is one set."""
    if split_lists:
        lists = apply_split_lists(index, split_lists)
        log(lists.report())
        train, val = lists.train, lists.val
        info = {"source": f"split lists in {split_lists}"}
    else:
        train, val = split_by_group(index.pairs, val_fraction, seed)
        val_groups = sorted({pair.group for pair in val})
        info = {
            "source": "group-wise split",
            "seed": seed,
            "val_fraction": val_fraction,
            "val_groups": val_groups,
        }
        log(
            f"group-wise split: {len(train):,} train / {len(val):,} val pairs "
            f"({len(val_groups)} of {len(index.groups)} groups in val)"
        )
    if not train or not val:
        raise ValueError(
            f"Empty split ({len(train)} train, {len(val)} val pairs); "
            "check the data folder, the split lists or the validation fraction."
        )
    return train, val, info


def download_aisegment(output_dir: str | os.PathLike | None = None) -> Path:
    """Download the Kaggle dataset with kagglehub (cached; needs Kaggle credentials in
    ~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY) and return its dataset root."""
    import kagglehub

    kwargs = {"output_dir": str(output_dir)} if output_dir else {}
    return find_dataset_root(kagglehub.dataset_download(KAGGLE_DATASET, **kwargs))
