"""`humanmatting evaluate`: measure a model on a dataset.

Runs humanmatting.training.evaluate, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "measure a model on a dataset [keras]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.training import evaluate

    evaluate.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.training import evaluate

    return evaluate.run(args)
