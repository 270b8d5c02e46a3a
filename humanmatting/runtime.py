"""Matter: load a model once, then turn any image into a person alpha matte.

Two backends run the same model folder: LiteRT (default; XNNPACK; never imports
TensorFlow, so the app starts fast) and Keras (TensorFlow; the reference), which lives in
humanmatting.models and is passed in by the caller as a backend factory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cachetools
import numpy as np

from humanmatting.errors import one_line
from humanmatting.folder import FolderDescription
from humanmatting.preprocess import (
    ImageInput,
    alpha_to_size,
    load_rgb,
    model_input_size,
    prepare_input,
)
from humanmatting.refine import refine_alpha
from humanmatting.settings import Settings
from humanmatting.specs import (
    DEFAULT_MODEL,
    DYNAMIC_SIGNATURE,
    FORMAT_FILE,
    MODEL_SPECS,
    TFLITE_FILES,
    ModelSpec,
    fixed_signature,
    get_spec,
)
from humanmatting.weights import (
    InvalidWeightsError,
    WeightsIntegrityError,
    resolve_model_folder,
    sha256_of,
)

BACKENDS = ("litert",)
logger = logging.getLogger(__name__)
# Any-size graphs are tried at two shapes (a square and a tall one), so that a damage that
# shows only at some sizes is found too.
PROBE_SHAPES = ((64, 64), (160, 96))
# SHA-256 of the model files that passed the probe in this process -> their channels: the
# app loads each model once per role, and probing every graph costs about 0.5 s.
_PROBED: dict[str, int] = {}


class Backend(Protocol):
    """What Matter needs from a backend: LiteRTBackend here, KerasBackend in
    humanmatting.models, or anything else that runs a model folder's network."""

    channels: int  # input channels: 3 (RGB) or 1 (gray)

    def person_probability(self, batch: np.ndarray) -> np.ndarray:
        """(1, H, W, C) float32 raw 0..255 -> (H, W) float32 person probability."""
        ...

    def close(self) -> None:
        """Release what the backend holds (interpreters, models)."""
        ...


# What load_matter(backend=...) takes besides "litert": model folder -> Backend.
BackendFactory = Callable[[Path], Backend]


def split_variant(name: str) -> tuple[str, str | None]:
    """'dark-light-int8' -> ('dark-light', 'int8'); plain names have no variant. For the
    edges (CLI, app) that offer "model-variant" names; the library takes `variant=`."""
    for variant in TFLITE_FILES:
        if name.endswith(f"-{variant}"):
            return name[: -len(variant) - 1], variant
    return name, None


class _SignatureRunner:
    """One TFLite signature of an interpreter, called with a (1, H, W, C) float32 batch."""

    def __init__(self, interpreter, signature: str | None):
        self.interpreter = interpreter
        if signature is None:  # a file without signatures: the classic single-graph API
            self._input = interpreter.get_input_details()[0]["index"]
            self._output = interpreter.get_output_details()[0]["index"]
            self._runner = None
        else:
            self._runner = interpreter.get_signature_runner(signature)
            self._input_name = next(iter(self._runner.get_input_details()))
            self._output_name = next(iter(self._runner.get_output_details()))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The graph's input shape; -1 for sides of any size."""
        if self._runner is None:
            details = self.interpreter.get_input_details()[0]
        else:
            details = self._runner.get_input_details()[self._input_name]
        return tuple(int(side) for side in details.get("shape_signature", details["shape"]))

    @property
    def channels(self) -> int:
        return self.input_shape[-1]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if self._runner is None:
            interpreter = self.interpreter
            if tuple(interpreter.get_input_details()[0]["shape"]) != batch.shape:
                interpreter.resize_tensor_input(self._input, list(batch.shape), strict=False)
                interpreter.allocate_tensors()
            interpreter.set_tensor(self._input, batch)
            interpreter.invoke()
            return interpreter.get_tensor(self._output)
        return self._runner(**{self._input_name: batch})[self._output_name]


class LiteRTBackend:
    """Runs a model folder's TFLite file with LiteRT (XNNPACK), never importing TensorFlow.

    Files written by `humanmatting.models.export` hold fixed-shape signatures for the common sizes
    (XNNPACK runs those graphs whole) and a `serving_default` signature for any size. Each
    input shape gets its own interpreter (allocation is the slow part, 10-50 ms; at most
    `max_shapes` are kept, least recently used dropped first). Output: the model's own
    channels (the person probability, or a 2-class softmax from older files).
    """

    def __init__(self, model_path: Path, threads: int | None = None, max_shapes: int = 8):
        from ai_edge_litert.interpreter import Interpreter

        self.model_path = Path(model_path)
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.max_shapes = max_shapes
        self._interpreter_class = Interpreter
        # Least recently used dropped first (cachetools), at most max_shapes (at least 1).
        self._runners: cachetools.LRUCache = cachetools.LRUCache(max(1, max_shapes))
        self._lock = threading.Lock()
        self._model_content = self.model_path.read_bytes()
        self.signatures: set[str] = set()
        self.channels = self._probe()

    def _probe(self) -> int:
        """Run every graph of the file once on a blank input (the any-size graph at
        PROBE_SHAPES, each fixed-shape graph at its shape), so that a damaged or foreign
        file fails here with a clear message, not at the first photo. Returns the channels.

        A single flipped bit can break one graph only: the probe of the any-size graph
        alone once passed a file whose 512x384 graph pointed at a tensor that does not
        exist, and the first photo failed with a RuntimeError.
        """
        graph = "the file"
        try:
            if not self._model_content:
                raise ValueError("the file is empty")
            interpreter = self._interpreter_class(model_content=self._model_content, num_threads=1)
            self.signatures = set(interpreter.get_signature_list())
            digest = hashlib.sha256(self._model_content).hexdigest()
            if digest in _PROBED:
                return _PROBED[digest]
            dynamic = self._dynamic_signature()
            runner = _SignatureRunner(interpreter, dynamic)
            channels = runner.channels
            for height, width in PROBE_SHAPES:
                graph = f"{dynamic or 'the graph'} at {height}x{width}"
                self._check_output(runner(np.zeros((1, height, width, channels), np.float32)))
            for signature in sorted(self.signatures - {dynamic}):
                graph = signature
                # One interpreter per graph, dropped at once: each holds its buffers.
                fixed = _SignatureRunner(
                    self._interpreter_class(model_content=self._model_content, num_threads=1),
                    signature,
                )
                shape = fixed.input_shape
                if fixed.channels != channels or min(shape) <= 0:
                    raise ValueError(f"its input shape {shape} does not match the model's")
                self._check_output(fixed(np.zeros(shape, np.float32)))
                del fixed
        except InvalidWeightsError:
            raise
        except (ValueError, RuntimeError, IndexError, KeyError, TypeError, StopIteration) as error:
            raise InvalidWeightsError(
                f"{self.model_path} is not a working TFLite model ({graph}: {one_line(error)}); "
                "it is damaged or truncated: delete the model folder and pull or export it again."
            ) from None
        _PROBED[digest] = channels
        return channels

    def _check_output(self, output: np.ndarray) -> None:
        """The person probability (1, H, W, 1) or 2-class matte (1, H, W, 2), finite."""
        if output.ndim != 4 or output.shape[0] != 1 or output.shape[-1] not in (1, 2):
            raise InvalidWeightsError(
                f"{self.model_path} outputs shape {output.shape}, not the person probability "
                "(1, H, W, 1) or 2-class matte (1, H, W, 2) of a humanmatting model."
            )
        if not np.isfinite(output).all():
            raise InvalidWeightsError(
                f"{self.model_path} computes NaN or infinite values; its weights are damaged: "
                "delete the model folder and pull or export it again."
            )

    def _dynamic_signature(self) -> str | None:
        if not self.signatures:
            return None
        if DYNAMIC_SIGNATURE in self.signatures:
            return DYNAMIC_SIGNATURE
        return sorted(self.signatures)[0]

    def signature_for(self, shape: tuple[int, ...]) -> str | None:
        """The signature that runs a (1, H, W, C) batch: a fixed-shape one when the file
        has it, else the any-size one (None: a file without signatures)."""
        fixed = fixed_signature(shape[1], shape[2])
        return fixed if fixed in self.signatures else self._dynamic_signature()

    def _runner_for(self, shape: tuple[int, ...]) -> _SignatureRunner:
        runner = self._runners.get(shape)  # also marks it as the most recently used
        if runner is not None:
            return runner
        # One interpreter per shape, even for the file's fixed-shape signatures: an
        # interpreter keeps every signature's buffers once used (about 80 MB at 512x384),
        # so only dropping the whole interpreter gives the memory back.
        interpreter = self._interpreter_class(
            model_content=self._model_content, num_threads=self.threads
        )
        runner = _SignatureRunner(interpreter, self.signature_for(shape))
        self._runners[shape] = runner
        return runner

    def _run(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            try:
                return self._runner_for(batch.shape)(batch)
            except (RuntimeError, ValueError) as error:  # what LiteRT raises for a bad graph
                raise InvalidWeightsError(
                    f"{self.model_path} failed on a {batch.shape[2]}x{batch.shape[1]} input "
                    f"({one_line(error)}); it is damaged: delete the model folder and pull or "
                    "export it again."
                ) from None

    def person_probability(self, batch: np.ndarray) -> np.ndarray:
        """(1, H, W, C) float32 -> (H, W) person probability (a view into the output)."""
        return self._run(batch)[0, :, :, -1]

    def close(self) -> None:
        """Drop the interpreters (the next call makes them again)."""
        with self._lock:
            self._runners.clear()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """(1, H, W, C) -> (1, H, W, 2) class probabilities, whatever the file's output."""
        output = self._run(batch)
        if output.shape[-1] == 1:
            output = np.concatenate([1.0 - output, output], axis=-1)
        return output


@dataclass
class Timing:
    """Milliseconds spent in each stage of one prediction."""

    preprocess_ms: float = 0.0
    model_ms: float = 0.0
    postprocess_ms: float = 0.0  # the matte to the photo's size, refinement included
    refine_ms: float = 0.0  # the refinement alone (part of postprocess_ms)

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.model_ms + self.postprocess_ms


@dataclass(frozen=True)
class Prediction:
    """What one `Matter.predict` call made: the alpha matte and how it was made."""

    alpha: np.ndarray  # (H, W) float32 in [0, 1], the (EXIF-rotated) input's size
    timing: Timing
    input_size: tuple[int, int]  # (height, width) the network saw
    model: str  # the model's name, with its variant when not fp32


class Matter:
    """A loaded model: `predict(image)` returns a Prediction with the float32 person
    probability at the image's size.

    Thread-safe: each call returns its own timing and input size. Close it (or use it as a
    context manager) to release the backend's interpreters.
    """

    def __init__(
        self,
        spec: ModelSpec,
        backend: Backend,
        folder: Path | None = None,
        variant: str = "fp32",
        settings: Settings | None = None,
    ):
        self.spec = spec
        self.backend = backend
        self.folder = folder
        self.variant = variant
        self.settings = settings or Settings()

    @property
    def name(self) -> str:
        return self.spec.name if self.variant == "fp32" else f"{self.spec.name}-{self.variant}"

    def __enter__(self) -> Matter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Release the backend (its interpreters or Keras model)."""
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()

    def input_size(
        self, height: int, width: int, long_side: int | None = None, quality: str = "best"
    ) -> tuple[int, int]:
        """(height, width) the network sees for a photo of that size: scaled so that its
        longer side is `long_side`, or the spec's long side for `quality` (QUALITIES), both
        sides rounded to multiples of 32."""
        by_quality = self.spec.long_side(quality)  # also refuses an unknown quality
        return model_input_size(height, width, long_side or by_quality)

    def predict(
        self,
        image: ImageInput,
        long_side: int | None = None,
        quality: str = "best",
        refine: bool = True,
    ) -> Prediction:
        """The person alpha in [0, 1], shape (H, W) of the (EXIF-rotated) input, with the
        time each stage took and the network's input size.

        `quality` ("best" for photos, "fast" for camera and video frames) picks the network
        input's size (unless `long_side` is given) and the refinement: with `refine`, the
        network's matte is upsampled guided by the photo, so that it follows the photo's
        edges at full resolution (humanmatting.refine); without, it is stretched bilinearly.
        """
        started = time.perf_counter()
        rgb = load_rgb(image, self.settings.max_pixels)
        height, width = rgb.shape[:2]
        size = self.input_size(height, width, long_side, quality)
        batch = prepare_input(rgb, self.spec.channels, size)
        prepared = time.perf_counter()
        probability = self.backend.person_probability(batch)
        inferred = time.perf_counter()
        if not np.isfinite(probability).all():
            raise InvalidWeightsError(
                f"Model {self.name} ({self.folder}) produced NaN or infinite values; its weights "
                "are damaged: delete the model folder and pull or export it again."
            )
        if refine:
            alpha = refine_alpha(rgb, probability, quality)
        else:
            alpha = alpha_to_size(probability, height, width)
        finished = time.perf_counter()
        timing = Timing(
            (prepared - started) * 1e3,
            (inferred - prepared) * 1e3,
            (finished - inferred) * 1e3,
            (finished - inferred) * 1e3 if refine else 0.0,
        )
        return Prediction(alpha, timing, size, self.name)


def tflite_file(name: str, folder: Path, variant: str | None = None) -> tuple[Path, str]:
    """(The TFLite file LiteRT runs for model `name` in `folder`, its variant): the one
    load_matter loads, and the one the app hands to the in-browser camera.

    Without a `variant`: the spec's `default_variant`, or fp32 (with a warning that says how
    to make the variant) when the folder lacks that file.
    """
    spec = get_spec(name)
    folder = Path(folder)
    if variant is not None and variant not in TFLITE_FILES:
        raise ValueError(f"Unknown variant {variant!r}; choose one of: {', '.join(TFLITE_FILES)}.")
    requested = variant
    variant = requested or spec.default_variant or "fp32"
    model_path = folder / TFLITE_FILES[variant]
    if not model_path.is_file() and requested is None and variant != "fp32":
        logger.warning(
            "%s has no %s (the default %s variant of %r); running the fp32 %s instead. "
            "Make the variant with: python -m humanmatting.models.quantize %s",
            folder,
            TFLITE_FILES[variant],
            variant,
            spec.name,
            TFLITE_FILES["fp32"],
            folder,
        )
        variant, model_path = "fp32", folder / TFLITE_FILES["fp32"]
    if not model_path.is_file():
        raise FileNotFoundError(
            f"{folder} has no {TFLITE_FILES[variant]} for variant {variant!r} of "
            f"{spec.name!r}; make it with: python -m humanmatting.models.quantize {folder}"
        )
    return model_path, variant


def verify_recorded_digest(model_path: Path, description: FolderDescription) -> None:
    """Check a weights file against the SHA-256 its humanmatting.json records (`shipped`),
    when it records one: a flipped bit can pass the load probe and matte every pixel as
    person (115 of 400 damaged copies of dark-light's int8 file loaded)."""
    recorded = description.shipped.files.get(model_path.name) if description.shipped else None
    if recorded is None:
        return
    actual = sha256_of(model_path)
    if actual != recorded:
        raise WeightsIntegrityError(
            f"{model_path} has SHA-256 {actual}, but its {FORMAT_FILE} records {recorded}; "
            "the file is damaged, so it was not used: reinstall the package, or pull or "
            "export the model again."
        )


def _check_backend(backend: str | BackendFactory) -> None:
    if not (backend in BACKENDS or callable(backend)):
        hint = (
            "; pass backend=KerasBackend (from humanmatting.models.keras_backend, the [keras] "
            "extra) for the Keras model"
            if backend == "keras"
            else ""
        )
        raise ValueError(
            f"backend must be {' or '.join(map(repr, BACKENDS))} or a backend factory, "
            f"not {backend!r}{hint}"
        )


def load_matter(
    name: str = DEFAULT_MODEL,
    weights: str | os.PathLike | None = None,
    backend: str | BackendFactory = "litert",
    threads: int | None = None,
    download: bool = True,
    max_shapes: int = 8,
    *,
    variant: str | None = None,
    settings: Settings | None = None,
) -> Matter:
    """Load model `name` from the resolved weights folder.

    `backend` is "litert" (the runtime's own) or a factory that takes the model folder and
    returns a Backend: the runtime never imports the layers above it, so a caller that wants
    the Keras model passes `humanmatting.models.keras_backend.KerasBackend` ([keras] extra).
    `variant` picks the TFLite file ("fp32", "fp16", "int8"); without one, LiteRT loads the
    spec table's `default_variant`, or fp32 (with a warning that says how to make the
    variant) when the folder lacks that file. A backend factory runs the folder's fp32
    model. LiteRT keeps one interpreter for each of at most `max_shapes` input shapes (least
    recently used dropped first). `settings` (default: read from the environment now) says
    where weights come from and how large an input may be.
    """
    _check_backend(backend)
    base_name, suffix = split_variant(name)
    if suffix is not None and base_name in MODEL_SPECS:
        raise ValueError(
            f"Pass the variant as an argument: load_matter({base_name!r}, variant={suffix!r})."
        )
    spec = get_spec(name)
    settings = settings or Settings.from_env()
    folder = resolve_model_folder(spec.name, weights, download=download, settings=settings)
    return open_matter(spec.name, folder, backend, threads, max_shapes, variant, settings)


def open_matter(
    name: str,
    folder: str | os.PathLike,
    backend: str | BackendFactory = "litert",
    threads: int | None = None,
    max_shapes: int = 8,
    variant: str | None = None,
    settings: Settings | None = None,
) -> Matter:
    """Load model `name` from `folder`, a model folder that `resolve_model_folder` found
    already (so it is looked up and checked against its pins once): what an edge that
    resolves the weights before it checks its other inputs (the CLI, the app's registry)
    calls. See load_matter for the arguments."""
    _check_backend(backend)
    spec = get_spec(name)
    settings = settings or Settings.from_env()
    folder = Path(folder)
    # humanmatting.json: a known format version, this model, its channels, raw 0..255 input.
    description = FolderDescription.load(folder, spec)
    if backend == "litert":
        model_path, variant = tflite_file(spec.name, folder, variant)
        verify_recorded_digest(model_path, description)
        runner = LiteRTBackend(model_path, threads, max_shapes)
    else:
        if variant not in (None, "fp32"):
            raise ValueError(
                "A backend factory runs the fp32 model; use backend='litert' for variants."
            )
        variant = "fp32"
        runner = backend(folder)
    if runner.channels != spec.channels:
        raise InvalidWeightsError(
            f"The model in {folder} takes {runner.channels}-channel input, but {spec.name!r} "
            f"takes {spec.channels}; is this the folder of another model?"
        )
    return Matter(spec, runner, folder, variant, settings)
