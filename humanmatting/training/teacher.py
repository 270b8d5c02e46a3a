"""Soft person labels for unlabelled photos, from a teacher network, made once and cached.

The teacher is MediaPipe's selfie segmenter (Google, Apache-2.0; `../shared/anchors`): read
by path at training time, never shipped, never converted. Its labels are soft targets, not
ground truth: it also fires on animals and statues. They give the networks what no mask
set has: photos of every kind, and photos of nobody (where the teacher marks almost
nothing, the target is an empty mask, see `humanmatting.training.everyday`).

The labels sit beside the photos in the same cache format as the mask sets
(`humanmatting.training.cache`): masks are the teacher's probability in 0..255 at the cached photo's
size."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

from humanmatting.preprocess import IMAGE_SUFFIXES, load_rgb
from humanmatting.training.cache import (
    DEFAULT_LONG_SIDE,
    INDEX_FILE,
    DecodedSet,
    default_cache_dir,
    open_cache,
    shrink,
    write_cache,
)

TEACHER_VERSION = 1


class Teacher:
    """MediaPipe's selfie segmenter as a labeller: RGB photo -> person probability at the
    photo's size (the photo squashed to the model's 256x256 input, as MediaPipe runs it)."""

    def __init__(self, path: str | os.PathLike, threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"No teacher model at {path}: pass --teacher with MediaPipe's "
                "selfie_segmentation.tflite (../shared/anchors/mediapipe-selfie-segmentation/)"
            )
        self.path = path
        # Its custom op (Convolution2DTransposeBias) resolves only with XNNPACK on, the default.
        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.size = tuple(int(side) for side in self.input["shape"][1:3])

    def digest(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W) float32 person probability in [0, 1]."""
        height, width = rgb.shape[:2]
        interpolation = cv2.INTER_AREA if max(height, width) > max(self.size) else cv2.INTER_LINEAR
        small = cv2.resize(rgb, self.size[::-1], interpolation=interpolation)
        self.interpreter.set_tensor(
            self.input["index"], (small.astype(np.float32) * np.float32(1 / 255))[None]
        )
        self.interpreter.invoke()
        probability = np.ascontiguousarray(self.interpreter.get_tensor(self.output)[0, :, :, 0])
        probability = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(probability, 0.0, 1.0)


def photo_files(folder: str | os.PathLike) -> list[Path]:
    """Every image file below `folder`, sorted (subfolders included)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Photo folder {folder} does not exist (--photos)")
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )
    if not files:
        raise ValueError(f"{folder} holds no photos")
    return files


def _labels_key(files: list[Path], root: Path, teacher: Teacher, long_side: int) -> str:
    digest = hashlib.sha256(f"v{TEACHER_VERSION}:{teacher.digest()}:{long_side}".encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def label_photos(
    folder: str | os.PathLike,
    teacher_path: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    long_side: int = DEFAULT_LONG_SIDE,
    progress: bool = True,
) -> DecodedSet:
    """Every photo below `folder` (shrunk like the mask sets) with the teacher's soft mask;
    from the cache when it is there, else labelled once. Stems are paths relative to
    `folder`, e.g. `bsds500/100007`."""
    root = Path(folder)
    files = photo_files(root)
    teacher = Teacher(teacher_path)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    key = _labels_key(files, root, teacher, long_side)
    target = cache_dir / f"photos-teacher-{len(files)}-{long_side}px-{key}"
    if (target / INDEX_FILE).is_file():
        return open_cache(target)
    from tqdm.auto import tqdm

    stems, images, masks = [], [], []
    for path in tqdm(files, desc="teacher labels", unit="photo", disable=not progress):
        rgb = shrink(load_rgb(path), long_side)
        stems.append(str(path.relative_to(root).with_suffix("")))
        images.append(rgb)
        masks.append(np.rint(teacher(rgb) * 255).astype(np.uint8))
    write_cache(target, "photos-teacher", stems, images, masks, long_side)
    return open_cache(target)
