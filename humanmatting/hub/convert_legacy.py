"""Convert the original humanMatting release into this project's model folders.

    humanmatting convert-legacy ../shared/reference/humanMatting-original OUTDIR [--no-quantize]
    (or: python -m humanmatting.hub.convert_legacy ...)

Writes OUTDIR/dark-light/ (Keras 3, TFLite fp32, and the fp16 and int8 variants that
`humanmatting.models.quantize` makes, about a minute; + humanmatting.json). Only dark-light's
weights survive upstream; night and dark are reported as unavailable. The output is
derived from the author's files: keep it out of the repository.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from humanmatting.command import run_command
from humanmatting.folder import FusionCheck, OriginalRelease
from humanmatting.specs import MODEL_SPECS

ORIGINAL_AUTHOR = (
    "Zhenzhong Tang"  # of humanMatting, the original release (humanmatting.hub.card cites it)
)


def convert_release(
    release_dir: Path, out_dir: Path, verify_fusion: bool = True, quantize: bool = False
) -> list[Path]:
    """Convert every model whose weights are in `release_dir`; returns the written folders.
    `quantize`: also write the fp16 and int8 LiteRT variants (dark-light runs int8 by default)."""
    from humanmatting.models.export import save_model_folder
    from humanmatting.models.legacy import load_legacy_weights
    from humanmatting.models.likeunet import build_model, fuse_acnet

    written = []
    for spec in MODEL_SPECS.values():
        if not spec.legacy_weights or not (release_dir / spec.legacy_weights).is_file():
            print(f"{spec.name}: no weights in {release_dir}, skipped", file=sys.stderr)
            continue
        model = load_legacy_weights(build_model(spec), release_dir / spec.legacy_weights)
        sections = {
            "source": f"original release, {spec.legacy_weights} (MIT, {ORIGINAL_AUTHOR})",
            # Read by humanmatting.hub.card: these are the author's weights, so the author's figures
            # apply.
            "original_release": OriginalRelease(spec.legacy_weights, ORIGINAL_AUTHOR, "MIT"),
        }
        acnet_path = release_dir / (spec.legacy_acnet_weights or "")
        if verify_fusion and spec.legacy_acnet_weights and acnet_path.is_file():
            import numpy as np

            acnet = load_legacy_weights(build_model(spec, acnet=True), acnet_path)
            fused = fuse_acnet(acnet, spec.name)
            worst = max(
                float(np.abs(a - b).max())
                for a, b in zip(fused.get_weights(), model.get_weights(), strict=True)
            )
            sections["fusion_check"] = FusionCheck(spec.legacy_acnet_weights, worst)
        folder = save_model_folder(model, spec.name, out_dir / spec.name, **sections)
        if quantize:
            # The one int8 path, calibrated on the sample photos (no training photos here).
            from humanmatting.models.quantize import Calibration, quantize_folder

            quantize_folder(folder, variants=("fp16", "int8"), calibration=Calibration())
        print(f"{spec.name}: wrote {folder}")
        written.append(folder)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("release_dir", type=Path, help="folder of the original release")
    parser.add_argument("out_dir", type=Path, help="where to write one folder per model")
    parser.add_argument(
        "--no-quantize",
        action="store_true",
        help="write fp32 only (skip the fp16 and int8 variants; the runtime then runs fp32)",
    )


def run(args: argparse.Namespace) -> int:
    if not args.release_dir.is_dir():
        raise NotADirectoryError(f"{args.release_dir} is not a folder")
    if not convert_release(args.release_dir, args.out_dir, quantize=not args.no_quantize):
        raise FileNotFoundError(f"No convertible weights found in {args.release_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m humanmatting.hub.convert_legacy`: the same command as `humanmatting
    convert-legacy`."""
    return run_command("humanmatting.hub.convert_legacy", add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
