"""`humanmatting train`: train one of this project's models.

Runs humanmatting.training.train, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

from humanmatting.specs import OUR_MODELS

SUMMARY = f"train one of {', '.join(OUR_MODELS)} [train]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.training import train

    train.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.training import train

    return train.run(args)
