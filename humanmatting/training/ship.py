"""Copy exported models' runtime files into the package, so a fresh install needs no download.

    humanmatting ship EXPORT_DIR [--models night,dark,dark-light] [--budget-mb 15]

EXPORT_DIR holds one exported folder per model (`python -m humanmatting.training.export ... --out
EXPORT_DIR --variants fp16,int8`). For each model this writes humanmatting/weights/MODEL/
with humanmatting.json and the TFLite file the LiteRT runtime loads by default (the spec
table's `default_variant`); fp32 files are added, smallest first, while the whole stays
within the budget. The Keras files (config.json, metadata.json, model.weights.h5) are
copied beside them: the repository keeps them (cards, pushes, fine-tuning from a clone),
the wheel does not (pyproject's package-data names only the runtime files, and only those
count against the budget). Only models this project trained may be shipped: a folder converted
from the original release is refused. Shipping into the package also rewrites the spec
table's pins (`SHIPPED_SHA256` in humanmatting/specs.py) with the SHA-256 of every file
shipped: `hub.push` publishes those same files, and a pull must give exactly them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

from humanmatting import specs
from humanmatting.command import run_command
from humanmatting.folder import FolderDescription, Shipped
from humanmatting.specs import FORMAT_FILE, KERAS_FILES, SHIPPED_MODELS, TFLITE_FILES, get_spec
from humanmatting.weights import PACKAGED_WEIGHTS_DIR, sha256_of

DEFAULT_BUDGET_MB = 15.0
SPECS_FILE = Path(specs.__file__)
_PINS_BLOCK = re.compile(r"(# BEGIN SHIPPED PINS[^\n]*\n).*?(# END SHIPPED PINS)", re.DOTALL)


def pins_source(pins: dict[str, dict[str, str]]) -> str:
    """`SHIPPED_SHA256 = {...}` as Python source, formatted as ruff formats it."""
    if not pins:
        return "SHIPPED_SHA256: dict[str, dict[str, str]] = {}\n"
    lines = ["SHIPPED_SHA256: dict[str, dict[str, str]] = {"]
    for model in [
        *(m for m in SHIPPED_MODELS if m in pins),
        *sorted(set(pins) - set(SHIPPED_MODELS)),
    ]:
        lines.append(f'    "{model}": {{')
        lines += [f'        "{file}": "{digest}",' for file, digest in sorted(pins[model].items())]
        lines.append("    },")
    return "\n".join([*lines, "}"]) + "\n"


def write_pins(shipped: dict[str, dict[str, str]], specs_file: Path = SPECS_FILE) -> None:
    """Set the pins of the models in `shipped` ({model: {file: SHA-256}}) in the
    SHIPPED_SHA256 block of `specs_file`, keeping the other models' pins."""
    text = Path(specs_file).read_text()
    match = _PINS_BLOCK.search(text)
    if match is None:
        raise ValueError(f"{specs_file} has no '# BEGIN SHIPPED PINS' ... '# END' block")
    namespace: dict = {}
    exec(match.group(0), namespace)  # noqa: S102 - the block this function writes
    pins = {**namespace["SHIPPED_SHA256"], **shipped}
    block = match.group(1) + pins_source(pins) + match.group(2)
    Path(specs_file).write_text(text[: match.start()] + block + text[match.end() :])


def plan_files(
    export_dir: Path, models: tuple[str, ...], budget_bytes: int
) -> dict[str, list[str]]:
    """Model -> TFLite file names to ship: every default variant, then fp32 files while the
    total stays within `budget_bytes`. Raises if the default variants alone do not fit."""
    chosen: dict[str, list[str]] = {}
    total = 0
    for name in models:
        spec = get_spec(name)
        folder = export_dir / name
        description_path = folder / FORMAT_FILE
        if not description_path.is_file():
            raise FileNotFoundError(f"{folder} is not an exported model folder (no {FORMAT_FILE})")
        description = FolderDescription.load(folder, spec)
        if description.original_release is not None:
            raise ValueError(f"{folder} holds the original author's weights; only ours are shipped")
        default = TFLITE_FILES[spec.default_variant or "fp32"]
        if not (folder / default).is_file():
            raise FileNotFoundError(
                f"{folder} has no {default} (the default variant of {name!r}); export it with "
                "--variants fp16,int8"
            )
        chosen[name] = [default]
        total += (folder / default).stat().st_size + description_path.stat().st_size
    if total > budget_bytes:
        raise ValueError(f"The default variants take {total / 1e6:.1f} MB, over the budget")
    # A folder may lack fp32: one shipped before, copied back beside a new export, holds
    # only the runtime files.
    fp32 = sorted(
        (
            name
            for name in models
            if TFLITE_FILES["fp32"] not in chosen[name]
            and (export_dir / name / TFLITE_FILES["fp32"]).is_file()
        ),
        key=lambda name: (export_dir / name / TFLITE_FILES["fp32"]).stat().st_size,
    )
    for name in fp32:
        size = (export_dir / name / TFLITE_FILES["fp32"]).stat().st_size
        if total + size <= budget_bytes:
            chosen[name].append(TFLITE_FILES["fp32"])
            total += size
    return chosen


def ship(
    export_dir: str | os.PathLike,
    models: tuple[str, ...] = SHIPPED_MODELS,
    budget_mb: float = DEFAULT_BUDGET_MB,
    target_dir: str | os.PathLike = PACKAGED_WEIGHTS_DIR,
    specs_file: str | os.PathLike | None = None,
) -> dict[str, dict[str, int]]:
    """Write `target_dir`/MODEL/ for every model, and the SHA-256 of every file written into
    the spec table's pins of `specs_file` (default: humanmatting/specs.py when `target_dir`
    is the package's own weights, else none); returns {model: {file: bytes}}."""
    export_dir, target_dir = Path(export_dir), Path(target_dir)
    if specs_file is None and target_dir.resolve() == PACKAGED_WEIGHTS_DIR.resolve():
        specs_file = SPECS_FILE
    plan = plan_files(export_dir, models, int(budget_mb * 1e6))
    written: dict[str, dict[str, int]] = {}
    for name, files in plan.items():
        source, target = export_dir / name, target_dir / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        description = FolderDescription.load(source, get_spec(name))
        description.tflite = {
            variant: file for variant, file in TFLITE_FILES.items() if file in files
        }
        description.shipped = Shipped(
            files={file: sha256_of(source / file) for file in files},
            note="runtime files in the wheel; the Keras files beside them only in the repository",
        )
        for file in files:
            shutil.copyfile(source / file, target / file)
        for file in KERAS_FILES:
            if (source / file).is_file():
                shutil.copyfile(source / file, target / file)
        description.save(target)
        written[name] = {path.name: path.stat().st_size for path in sorted(target.iterdir())}
    if specs_file is not None:
        write_pins(
            {
                name: {file: sha256_of(target_dir / name / file) for file in files}
                for name, files in written.items()
            },
            Path(specs_file),
        )
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("export_dir", type=Path, help="folder with one exported folder a model")
    parser.add_argument("--models", default=",".join(SHIPPED_MODELS))
    parser.add_argument("--budget-mb", type=float, default=DEFAULT_BUDGET_MB)
    parser.add_argument("--target", type=Path, default=PACKAGED_WEIGHTS_DIR, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    written = ship(args.export_dir, tuple(args.models.split(",")), args.budget_mb, args.target)
    wheel = 0  # what the budget bounds: the runtime files, not the repository's Keras files
    for name, files in written.items():
        for file, size in files.items():
            kept = "repository only" if file in KERAS_FILES else "wheel"
            print(f"{name}/{file}: {size / 1e6:.2f} MB ({kept})")
            wheel += 0 if file in KERAS_FILES else size
    print(f"wheel: {wheel / 1e6:.2f} MB of the {args.budget_mb:g} MB budget, in {args.target}")
    if args.target.resolve() == PACKAGED_WEIGHTS_DIR.resolve():
        print(f"their SHA-256 pinned in {SPECS_FILE} (SHIPPED_SHA256)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.training.ship`: the same command as `humanmatting ship`."""
    return run_command("humanmatting.training.ship", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
