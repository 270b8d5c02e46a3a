"""`humanmatting card`: print the model card that push would upload.

Runs humanmatting.hub.card, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "print the model card that push would upload"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.hub import card

    card.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.hub import card

    return card.run(args)
