"""A model folder's description, humanmatting.json: one typed object that every writer uses
(humanmatting.models.export and .quantize, humanmatting.training.export, humanmatting.training.ship)
and every reader (the runtime's `load_matter`, humanmatting.hub.push, humanmatting.hub.card). No
TensorFlow here: the runtime checks each folder it loads, so one whose file names another model,
another input or a newer format is refused with what to do, instead of computing garbage.

The JSON on disk is FORMAT_VERSION 1, unchanged: the typed fields below are its keys in
their order on disk, and keys this version does not know are kept as they are (`extra`),
so `load` then `save` writes a file of this version back unchanged. The folder's
metrics.json (figures the model card publishes) is read and written here too
(`read_metrics`, `write_metrics`).
"""

from __future__ import annotations

import json
import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from humanmatting.files import atomic_path
from humanmatting.preprocess import ASPECT_PRESETS, INPUT_RANGE, SIZE_MULTIPLE
from humanmatting.specs import (
    CLASSES,
    FORMAT_FILE,
    FORMAT_VERSION,
    MODEL_SPECS,
    TFLITE_FILES,
    ModelSpec,
    get_spec,
)
from humanmatting.weights import InvalidWeightsError

METRICS_FILE = "metrics.json"
INPUT_LAYOUT = "NHWC float32, raw pixel values (no scaling)"
KERAS_OUTPUT = "softmax over classes, NHWC"
TFLITE_OUTPUT = "person probability (sigmoid of the logit difference), NHWC, 1 channel"
REMEDY = (
    "export the folder again (python -m humanmatting.training.export, "
    "python -m humanmatting.hub.convert_legacy) "
    "or download it again (python -m humanmatting.hub.pull MODEL --force-download)"
)


class FolderDescriptionError(InvalidWeightsError):
    """humanmatting.json is missing, unreadable, or describes a folder this runtime cannot
    use; the message names the file and what to do."""


class _Problem(ValueError):
    """What is wrong inside the JSON; `FolderDescription.load` adds the file and the remedy."""


def _plain(value: Any) -> Any:
    """JSON-ready form: records as objects, tuples as lists."""
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


class _Record:
    """A JSON object with typed keys. `NESTED` names the keys that hold records (a class)
    or objects of records (`(dict, class)`); keys not declared stay in `extra`. Fields that
    are None, or empty with metadata `omit_empty`, are left out of the JSON."""

    NESTED: ClassVar[dict[str, Any]] = {}
    extra: dict[str, Any]

    @classmethod
    def from_json(cls, data: Any, where: str):
        if not isinstance(data, dict):
            raise _Problem(f"{where} is not an object")
        declared = [item for item in fields(cls) if item.name != "extra"]
        missing = [
            item.name
            for item in declared
            if item.name not in data and item.default is MISSING and item.default_factory is MISSING
        ]
        if missing:
            raise _Problem(f"{where} lacks {', '.join(map(repr, missing))}")
        values = {}
        for item in declared:
            if item.name not in data:
                continue
            value, kind = data[item.name], cls.NESTED.get(item.name)
            inner = f"{where}.{item.name}"
            if isinstance(kind, tuple):
                if not isinstance(value, dict):
                    raise _Problem(f"{inner} is not an object")
                record = kind[1]
                value = {key: record.from_json(one, f"{inner}.{key}") for key, one in value.items()}
            elif kind is not None and value is not None:
                value = kind.from_json(value, inner)
            values[item.name] = value
        names = {item.name for item in declared}
        return cls(**values, extra={key: value for key, value in data.items() if key not in names})

    def to_json(self) -> dict[str, Any]:
        data = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "extra" or value is None:
                continue
            if item.metadata.get("omit_empty") and not value:
                continue
            data[item.name] = _plain(value)
        return {**data, **_plain(self.extra)}


@dataclass
class Agreement(_Record):
    """How a variant's person masks (alpha > 0.5) agree with fp32's on held-out views
    (humanmatting.models.quantize.mask_agreement)."""

    iou: float
    mean_iou: float
    min_iou: float
    mean_abs_difference: float
    max_view_abs_difference: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class VariantAgreement(_Record):
    """A variant against fp32: at the aspect presets (fixed-shape graphs) and at long side
    320 (the any-size graph)."""

    NESTED: ClassVar[dict[str, Any]] = {"presets": Agreement, "long_side_320": Agreement}

    held_out_photos: list[str]
    presets: Agreement
    long_side_320: Agreement
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CalibrationRecord(_Record):
    """What int8 was calibrated on: sample photos at every aspect preset, plus photos
    passed in (`folder_photos` of them, from `photos_from`)."""

    sample_photos: list[str]
    aspect_presets: int
    folder_photos: int
    inputs: int
    photos_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class VariantRecord(_Record):
    """How one quantized variant was made (int8) and how it agrees with fp32."""

    NESTED: ClassVar[dict[str, Any]] = {
        "calibration": CalibrationRecord,
        "agreement_with_fp32": VariantAgreement,
    }

    calibration: CalibrationRecord | None = None
    cross_layer_equalization: float | None = None
    first_conv: str | None = None
    weights: str | None = None
    agreement_with_fp32: VariantAgreement | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class OriginalRelease(_Record):
    """The folder holds the original author's weights (humanmatting.hub.convert_legacy)."""

    weights: str
    author: str | None = None
    license: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FusionCheck(_Record):
    """Fusing the author's ACNet file reproduced the released weights to this much."""

    acnet_weights: str
    max_weight_difference: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportCheck(_Record):
    """humanmatting.training.export's check: the folder, loaded back, against the trained
    checkpoint."""

    max_probability_difference: dict[str, float]
    images: str
    sizes: list[list[int]]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Shipped(_Record):
    """The files humanmatting.training.ship copied into the package, with their SHA-256."""

    files: dict[str, str]
    note: str
    extra: dict[str, Any] = field(default_factory=dict)


def _default_presets() -> list[list[int]]:
    return [list(size) for size in ASPECT_PRESETS.values()]


@dataclass
class FolderDescription(_Record):
    """humanmatting.json: what the folder holds and how its files were made."""

    NESTED: ClassVar[dict[str, Any]] = {
        "original_release": OriginalRelease,
        "fusion_check": FusionCheck,
        "quantization": (dict, VariantRecord),
        "export_check": ExportCheck,
        "shipped": Shipped,
    }
    REQUIRED: ClassVar[tuple[str, ...]] = ("format_version", "model", "channels", "input_range")

    format_version: int
    model: str
    channels: int
    color_mode: str | None = None
    input_range: list[float] = field(default_factory=lambda: list(INPUT_RANGE))
    input_layout: str = INPUT_LAYOUT
    size_multiple: int = SIZE_MULTIPLE
    aspect_presets: list[list[int]] = field(default_factory=_default_presets)
    classes: list[str] = field(default_factory=lambda: list(CLASSES))
    output: str = KERAS_OUTPUT
    tflite_output: str = TFLITE_OUTPUT
    # signature name -> what it takes; variant -> file name (specs.TFLITE_FILES)
    tflite_signatures: dict[str, str] = field(default_factory=dict)
    tflite: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    original_release: OriginalRelease | None = None
    fusion_check: FusionCheck | None = None
    # The training run's record (humanmatting.training.export: checkpoint, recipe, sets, ...),
    # free-form.
    training: dict[str, Any] = field(default_factory=dict, metadata={"omit_empty": True})
    quantization: dict[str, VariantRecord] = field(
        default_factory=dict, metadata={"omit_empty": True}
    )
    export_check: ExportCheck | None = None
    shipped: Shipped | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, model: str, **values: Any) -> FolderDescription:
        """The description of a folder freshly exported for `model`, in this version."""
        spec = get_spec(model)
        return cls(
            format_version=FORMAT_VERSION,
            model=spec.name,
            channels=spec.channels,
            color_mode=spec.color_mode,
            **values,
        )

    @classmethod
    def load(cls, folder: str | os.PathLike, spec: ModelSpec | None = None) -> FolderDescription:
        """Read and validate FOLDER/humanmatting.json (against `spec` when given)."""
        path = Path(folder) / FORMAT_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FolderDescriptionError(
                f"{path} does not exist: {Path(folder)} is not a model folder; {REMEDY}."
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise FolderDescriptionError(
                f"{path} cannot be read ({type(error).__name__}: {error}); {REMEDY}."
            ) from None
        except RecursionError:  # nested thousands of levels deep: no description's shape
            raise FolderDescriptionError(
                f"{path} cannot be read (nested too deeply to be a model description); {REMEDY}."
            ) from None
        try:
            if not isinstance(data, dict):
                raise _Problem("it is not a JSON object")
            _check_version(data.get("format_version"))
            missing = [name for name in cls.REQUIRED if name not in data]
            if missing:
                raise _Problem(f"it lacks {', '.join(map(repr, missing))}")
            description = cls.from_json(data, FORMAT_FILE)
        except _Problem as problem:
            raise FolderDescriptionError(f"{path}: {problem}; {REMEDY}.") from None
        description._validate(path, spec)
        return description

    def validate(self, spec: ModelSpec | None = None, where: str | os.PathLike = FORMAT_FILE):
        """Raise FolderDescriptionError if a runtime of this version cannot use the folder:
        an unknown format version or model, channels or classes other than the model's,
        an input range other than the raw 0..255 pixels the runtime feeds, a variant file
        under another name; with `spec`, a folder of another model."""
        self._validate(where, spec)

    def _validate(self, where: str | os.PathLike, spec: ModelSpec | None) -> None:
        try:
            _check_version(self.format_version)
            self._check_values()
        except _Problem as problem:
            raise FolderDescriptionError(f"{where}: {problem}; {REMEDY}.") from None
        if spec is not None and self.model != spec.name:
            if self.channels != spec.channels:
                problem = (
                    f"the model in it takes {self.channels}-channel input, but {spec.name!r} "
                    f"takes {spec.channels} (it describes {self.model!r})"
                )
            else:
                problem = f"it describes model {self.model!r}, not {spec.name!r}"
            raise FolderDescriptionError(
                f"{where}: {problem}; is this the folder of another model? Use it as "
                f"{self.model!r}, or give the folder of {spec.name!r}."
            )

    def _check_values(self) -> None:
        if not isinstance(self.model, str) or self.model not in MODEL_SPECS:
            raise _Problem(
                f"model {self.model!r} is not one this humanmatting knows "
                f"({', '.join(MODEL_SPECS)}); a newer version may (pip install -U humanmatting)"
            )
        spec = MODEL_SPECS[self.model]
        if self.channels != spec.channels:
            raise _Problem(
                f"channels is {self.channels!r}, but {spec.name!r} takes {spec.channels}"
            )
        if self.color_mode is not None and self.color_mode != spec.color_mode:
            raise _Problem(f"color_mode is {self.color_mode!r}, not {spec.color_mode!r}")
        if not _is_list(self.input_range) or list(self.input_range) != list(INPUT_RANGE):
            raise _Problem(
                f"input_range is {self.input_range!r}, but the runtime feeds raw pixel values "
                f"{list(INPUT_RANGE)}"
            )
        if not _is_list(self.classes) or list(self.classes) != list(CLASSES):
            raise _Problem(f"classes are {self.classes!r}, not {list(CLASSES)}")
        if self.size_multiple != SIZE_MULTIPLE:
            raise _Problem(f"size_multiple is {self.size_multiple!r}, not {SIZE_MULTIPLE}")
        if not isinstance(self.tflite, dict) or not isinstance(self.training, dict):
            raise _Problem("tflite and training must be objects")
        for variant, file in self.tflite.items():
            if TFLITE_FILES.get(variant) != file:
                raise _Problem(f"tflite names {file!r} for variant {variant!r}")

    def save(self, folder: str | os.PathLike) -> Path:
        """Validate, then write FOLDER/humanmatting.json atomically (never half-written)."""
        path = Path(folder) / FORMAT_FILE
        self._validate(path, None)
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path

    # --- what the model card reads ----------------------------------------------------------

    @property
    def variants(self) -> list[str]:
        """The TFLite variants the folder lists, in specs.TFLITE_FILES order."""
        return [variant for variant in TFLITE_FILES if variant in self.tflite]

    def agreements(self) -> dict[str, VariantAgreement]:
        """Variant -> how it agrees with fp32, for the variants that were measured."""
        return {
            variant: record.agreement_with_fp32
            for variant, record in self.quantization.items()
            if record.agreement_with_fp32 is not None
        }

    @property
    def int8_calibration(self) -> CalibrationRecord | None:
        record = self.quantization.get("int8")
        return record.calibration if record is not None else None

    @property
    def training_sets(self) -> dict[str, dict[str, Any]]:
        """Set name -> its record (path, weight, train, val, share) for our own runs."""
        return dict(self.training.get("sets") or {})


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _check_version(version: Any) -> None:
    if type(version) is not int:
        raise _Problem(f"format_version is {version!r}, not a number")
    if version > FORMAT_VERSION:
        raise _Problem(
            f"format_version {version} is newer than this humanmatting reads ({FORMAT_VERSION}): "
            "upgrade it (pip install -U humanmatting)"
        )
    if version != FORMAT_VERSION:
        raise _Problem(f"format_version {version} is unknown (this humanmatting reads 1)")


def read_metrics(source: str | os.PathLike) -> dict[str, Any]:
    """FOLDER/metrics.json, or the metrics file `source` (humanmatting.training.evaluate's,
    benchmarks/quality.py's, or the published form humanmatting.hub.card writes); {} when there is
    none."""
    path = Path(source)
    path = path / METRICS_FILE if path.is_dir() else path
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise FolderDescriptionError(
            f"{path} cannot be read ({type(error).__name__}: {error}); write it again "
            "(python -m humanmatting.training.evaluate --attach, or benchmarks/quality.py "
            "--model-metrics)."
        ) from None
    if not isinstance(metrics, dict):
        raise FolderDescriptionError(f"{path} is not a JSON object; write it again.")
    return metrics


def write_metrics(folder: str | os.PathLike, metrics: dict[str, Any]) -> Path:
    """Write FOLDER/metrics.json atomically."""
    path = Path(folder) / METRICS_FILE
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return path
