"""Decode and shrink every training photo once, then train from memory-mapped arrays.

On 2 CPU cores, decoding an 800x600 JPEG for every sample of every epoch costs as much as
the training step of a small network. A cache folder holds each photo (RGB) and its mask
(uint8, 255 = person) shrunk so that the long side is at most `long_side` pixels, aspect
kept, as two flat `.npy` arrays plus an index of offsets and shapes. Its name carries a
hash of the sources and settings, so a changed list or file makes a new cache. Decoding
goes through `humanmatting.preprocess.load_rgb`, the runtime's own reader (EXIF, modes).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from humanmatting.preprocess import load_rgb, upright_transpose
from humanmatting.training.maskfolders import MaskPair, read_mask

CACHE_VERSION = 1
DEFAULT_LONG_SIDE = 384
INDEX_FILE = "index.json"


@dataclass
class DecodedSet:
    """Photos and masks of one set, decoded and shrunk, readable by position."""

    name: str
    stems: list[str]
    images: np.ndarray  # flat uint8, all photos (H, W, 3) back to back
    masks: np.ndarray  # flat uint8, all masks (H, W)
    shapes: np.ndarray  # (N, 2) int64 heights and widths
    offsets: np.ndarray  # (N,) int64 pixel offsets (multiply by 3 for images)

    def __len__(self) -> int:
        return len(self.stems)

    def image(self, position: int) -> np.ndarray:
        height, width = (int(v) for v in self.shapes[position])
        start = int(self.offsets[position]) * 3
        return self.images[start : start + height * width * 3].reshape(height, width, 3)

    def mask(self, position: int) -> np.ndarray:
        height, width = (int(v) for v in self.shapes[position])
        start = int(self.offsets[position])
        return self.masks[start : start + height * width].reshape(height, width)

    def subset(self, positions: list[int], name: str | None = None) -> DecodedSet:
        """The photos at `positions`, sharing this set's arrays (no copy)."""
        positions = list(positions)
        return DecodedSet(
            name or self.name,
            [self.stems[i] for i in positions],
            self.images,
            self.masks,
            self.shapes[positions].reshape(-1, 2),
            self.offsets[positions],
        )


def shrink(array: np.ndarray, long_side: int) -> np.ndarray:
    """Area-averaged shrink so that the long side is at most `long_side` (never enlarges)."""
    height, width = array.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1:
        return array
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA)


def orient_like_photo(mask: np.ndarray, image_path: str) -> np.ndarray:
    """The mask turned as `load_rgb` turns the photo (EXIF orientation). Masks are drawn on
    the stored pixels (the index checks the stored size), so they must follow the photo."""
    with Image.open(image_path) as image:
        method = upright_transpose(image)
    if method is None:
        return mask
    return np.asarray(Image.fromarray(mask).transpose(method)).copy()


def _decode(pair: MaskPair, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    rgb = load_rgb(pair.image)
    mask = orient_like_photo(read_mask(pair.mask), pair.image)
    if mask.shape != rgb.shape[:2]:  # only without verification: the index skips these
        mask = cv2.resize(mask, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
    return shrink(rgb, long_side), shrink(mask, long_side)


def cache_key(name: str, pairs: list[MaskPair], long_side: int) -> str:
    """Hash of the settings and of every source file's path, size and modification time."""
    digest = hashlib.sha256(f"v{CACHE_VERSION}:{name}:{long_side}".encode())
    for pair in pairs:
        for path in (pair.image, pair.mask):
            stat = os.stat(path)
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "humanmatting" / "training"


def _flat(
    images: list[np.ndarray], masks: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    shapes = np.array([mask.shape for mask in masks], np.int64).reshape(-1, 2)
    offsets = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1])[:-1]]).astype(np.int64)
    flat_images = np.concatenate([rgb.reshape(-1) for rgb in images]) if images else np.zeros(0)
    flat_masks = np.concatenate([mask.reshape(-1) for mask in masks]) if masks else np.zeros(0)
    return flat_images.astype(np.uint8), flat_masks.astype(np.uint8), shapes, offsets


def in_memory_set(
    name: str, stems: list[str], images: list[np.ndarray], masks: list[np.ndarray]
) -> DecodedSet:
    """A DecodedSet held in memory (made-up validation frames, subsets)."""
    flat_images, flat_masks, shapes, offsets = _flat(images, masks)
    return DecodedSet(name, list(stems), flat_images, flat_masks, shapes, offsets)


def write_cache(
    folder: Path,
    name: str,
    stems: list[str],
    images: list[np.ndarray],
    masks: list[np.ndarray],
    long_side: int,
) -> None:
    """Write a cache folder atomically (a partial folder renamed into place)."""
    flat_images, flat_masks, shapes, offsets = _flat(images, masks)
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.save(partial / "images.npy", flat_images)
    np.save(partial / "masks.npy", flat_masks)
    index = {
        "version": CACHE_VERSION,
        "name": name,
        "long_side": long_side,
        "stems": list(stems),
        "shapes": shapes.tolist(),
        "offsets": offsets.tolist(),
    }
    (partial / INDEX_FILE).write_text(json.dumps(index))
    try:
        os.replace(partial, folder)
    except OSError:
        if not (folder / INDEX_FILE).is_file():
            raise
        shutil.rmtree(partial, ignore_errors=True)  # another process built it meanwhile


def open_cache(folder: str | os.PathLike) -> DecodedSet:
    folder = Path(folder)
    index = json.loads((folder / INDEX_FILE).read_text())
    return DecodedSet(
        name=index["name"],
        stems=index["stems"],
        images=np.load(folder / "images.npy", mmap_mode="r"),
        masks=np.load(folder / "masks.npy", mmap_mode="r"),
        shapes=np.asarray(index["shapes"], np.int64).reshape(-1, 2),
        offsets=np.asarray(index["offsets"], np.int64),
    )


def decode_set(
    name: str,
    pairs: list[MaskPair],
    cache_dir: str | os.PathLike | None = None,
    long_side: int = DEFAULT_LONG_SIDE,
    workers: int | None = None,
    progress: bool = True,
) -> DecodedSet:
    """The decoded set for `pairs`, from the cache when it is there, else built (once)."""
    if not pairs:
        raise ValueError(f"{name}: no pairs to decode")
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    folder = cache_dir / f"{name}-{len(pairs)}-{long_side}px-{cache_key(name, pairs, long_side)}"
    if (folder / INDEX_FILE).is_file():
        return open_cache(folder)
    from tqdm.auto import tqdm

    with ThreadPoolExecutor(workers or min(4, (os.cpu_count() or 1) + 1)) as pool:
        decoded = list(
            tqdm(
                pool.map(lambda pair: _decode(pair, long_side), pairs),
                total=len(pairs),
                desc=f"decoding {name}",
                unit="photo",
                disable=not progress,
            )
        )
    write_cache(
        folder,
        name,
        [pair.stem for pair in pairs],
        [rgb for rgb, _ in decoded],
        [mask for _, mask in decoded],
        long_side,
    )
    return open_cache(folder)
