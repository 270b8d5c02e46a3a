"""`humanmatting quantize`: write a model folder's fp16 and int8 LiteRT variants.

Runs humanmatting.models.quantize, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "write a model folder's fp16 and int8 LiteRT variants [keras]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.models import quantize

    quantize.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.models import quantize

    return quantize.run(args)
