"""Photo/mask sets in the mask-folder layout (EG1800, VITON, CCP in ../shared/datasets):

    <set>/images/<stem>.jpg     the photo
    <set>/masks/<stem>.png      same size; white (or any value >= 128) = person
    <set>/train.txt             stems for training, one a line
    <set>/test.txt              stems held out for evaluation

Training reads only `train.txt`; a small, deterministic part of it is held out as the
validation set that picks checkpoints, so the test split is never seen before measuring.
Damaged entries (missing or unreadable photo or mask, mask of another size, empty mask)
are reported with counts and skipped. No TensorFlow needed.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

# The photos are decoded by the runtime's load_rgb, so a set may hold any image it reads.
from humanmatting.preprocess import IMAGE_SUFFIXES

IMAGES_DIR = "images"
MASKS_DIR = "masks"
MASK_SUFFIX = ".png"
SPLIT_FILES = {"train": "train.txt", "test": "test.txt"}
PERSON_LEVEL = 128  # mask values >= this are person

# Reasons an entry is skipped, as shown in reports.
MISSING_IMAGE = "photo missing"
MISSING_MASK = "mask missing"
UNREADABLE_IMAGE = "unreadable photo"
UNREADABLE_MASK = "unreadable mask"
SIZE_MISMATCH = "mask of another size"
EMPTY_MASK = "empty mask (no person pixel)"


@dataclass(frozen=True, order=True)
class MaskPair:
    """One example: absolute photo and mask paths and the stem that names both."""

    image: str
    mask: str
    stem: str


@dataclass
class MaskFolderSplit:
    """The usable pairs of one split of one set, plus what was skipped and why."""

    root: Path
    split: str
    pairs: list[MaskPair]
    skipped: dict[str, list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.root.name

    def report(self, examples: int = 3) -> str:
        lines = [f"{self.root} [{self.split}]: {len(self.pairs):,} photo/mask pairs"]
        for reason, stems in sorted(self.skipped.items()):
            shown = ", ".join(stems[:examples]) + (", ..." if len(stems) > examples else "")
            lines.append(f"  skipped {len(stems):,} ({reason}): {shown}")
        if not self.skipped:
            lines.append("  nothing skipped")
        return "\n".join(lines)

    def held_out(self, fraction: float, limit: int | None = None) -> tuple[list, list]:
        """(train, val): a deterministic `fraction` of the stems (by hash, at most `limit`)
        for validation, at least one when `fraction` > 0, and never every pair (one is
        always left to train on). Stable when other stems come or go."""
        if not 0 <= fraction < 1:
            raise ValueError(f"the validation fraction must be in [0, 1), not {fraction}")
        ranked = sorted(self.pairs, key=lambda pair: validation_rank(pair.stem))
        count = max(1, round(fraction * len(ranked))) if fraction > 0 else 0
        if limit is not None:
            count = min(count, limit)
        count = max(0, min(count, len(ranked) - 1))
        val = sorted(ranked[:count])
        val_stems = {pair.stem for pair in val}
        return [pair for pair in self.pairs if pair.stem not in val_stems], val


def validation_rank(stem: str) -> str:
    """A stable hash of a stem: the held-out photos are those it ranks first."""
    return hashlib.sha256(f"humanmatting-val:{stem}".encode()).hexdigest()


def is_mask_folder(path: str | os.PathLike) -> bool:
    """True for a folder with images/, masks/ and a train.txt or test.txt."""
    path = Path(path)
    return (
        (path / IMAGES_DIR).is_dir()
        and (path / MASKS_DIR).is_dir()
        and any((path / name).is_file() for name in SPLIT_FILES.values())
    )


def mask_folder_sets_in(path: str | os.PathLike) -> list[Path]:
    """`path` itself when it is a set, else the sets directly below it (sorted by name);
    empty when there are none (an AISegment folder, a missing path)."""
    path = Path(path)
    if is_mask_folder(path):
        return [path]
    if not path.is_dir():
        return []
    return [child for child in sorted(path.iterdir()) if is_mask_folder(child)]


def training_sets_in(path: str | os.PathLike) -> list[Path]:
    """The sets of `mask_folder_sets_in` that have a training split (coco128, a test-only
    set, has none: it is never trained or calibrated on)."""
    return [root for root in mask_folder_sets_in(path) if (root / SPLIT_FILES["train"]).is_file()]


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """HxW uint8 mask, 255 = person: a grayscale/1-bit mask as is, an RGBA matte's alpha."""
    with Image.open(path) as image:
        if "A" in image.getbands() or "transparency" in image.info:
            return np.asarray(image.convert("RGBA"))[:, :, 3].copy()
        return np.asarray(image.convert("L")).copy()


def _check(pair: MaskPair) -> str | None:
    """None when the photo decodes and the mask decodes, matches its size and has a person."""
    try:
        with Image.open(pair.image) as image:
            size = image.size
            image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
            image.load()
    except Exception:  # noqa: BLE001 - any decoder failure means "unreadable"
        return UNREADABLE_IMAGE
    try:
        mask = read_mask(pair.mask)
    except Exception:  # noqa: BLE001
        return UNREADABLE_MASK
    if (mask.shape[1], mask.shape[0]) != size:
        return SIZE_MISMATCH
    if not (mask >= PERSON_LEVEL).any():
        return EMPTY_MASK
    return None


def read_split_file(root: Path, split: str) -> list[str]:
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_FILES)}, not {split!r}")
    path = root / SPLIT_FILES[split]
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: a mask-folder set needs {SPLIT_FILES[split]} with one "
            f"photo stem a line (the layout is {IMAGES_DIR}/STEM.jpg + {MASKS_DIR}/STEM.png)."
        )
    stems = [line.strip() for line in path.read_text().splitlines()]
    return [stem for stem in stems if stem and not stem.startswith("#")]


def index_mask_folder(
    root: str | os.PathLike,
    split: str = "train",
    verify: bool = True,
    workers: int | None = None,
    progress: bool = True,
) -> MaskFolderSplit:
    """The pairs listed in `root`/<split>.txt, every one checked (threads) when `verify`."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder {root} does not exist")
    if not (root / IMAGES_DIR).is_dir() or not (root / MASKS_DIR).is_dir():
        raise FileNotFoundError(f"{root} has no {IMAGES_DIR}/ and {MASKS_DIR}/ folders")
    skipped: dict[str, list[str]] = defaultdict(list)
    images = {
        p.stem: p for p in (root / IMAGES_DIR).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
    }
    candidates = []
    for stem in dict.fromkeys(read_split_file(root, split)):  # drop repeated lines
        mask = root / MASKS_DIR / f"{stem}{MASK_SUFFIX}"
        if stem not in images:
            skipped[MISSING_IMAGE].append(stem)
        elif not mask.is_file():
            skipped[MISSING_MASK].append(stem)
        else:
            candidates.append(MaskPair(str(images[stem]), str(mask), stem))
    pairs = candidates
    if verify and candidates:
        from tqdm.auto import tqdm

        with ThreadPoolExecutor(workers or min(8, (os.cpu_count() or 1) + 1)) as pool:
            reasons = list(
                tqdm(
                    pool.map(_check, candidates),
                    total=len(candidates),
                    desc=f"checking {root.name}/{split}",
                    unit="pair",
                    disable=not progress,
                )
            )
        pairs = []
        for pair, reason in zip(candidates, reasons, strict=True):
            if reason is None:
                pairs.append(pair)
            else:
                skipped[reason].append(pair.stem)
    return MaskFolderSplit(root, split, pairs, {k: v for k, v in skipped.items() if v})
