"""`humanmatting convert-legacy`: convert the original humanMatting release into model folders.

Runs humanmatting.hub.convert_legacy, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "convert the original humanMatting release into model folders [keras]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.hub import convert_legacy

    convert_legacy.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.hub import convert_legacy

    return convert_legacy.run(args)
