"""`humanmatting pull`: download a model from the Hub, checked against its pins.

Runs humanmatting.hub.pull, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "download a model from the Hub, checked against its pins"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.hub import pull

    pull.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.hub import pull

    return pull.run(args)
