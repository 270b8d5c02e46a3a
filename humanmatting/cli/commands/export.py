"""`humanmatting export`: export a trained checkpoint.

Runs humanmatting.training.export, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "export a trained checkpoint [keras]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.training import export

    export.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.training import export

    return export.run(args)
