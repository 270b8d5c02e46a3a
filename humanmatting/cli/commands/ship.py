"""`humanmatting ship`: copy exported models into the package.

Runs humanmatting.training.ship, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "copy exported models into the package"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.training import ship

    ship.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.training import ship

    return ship.run(args)
