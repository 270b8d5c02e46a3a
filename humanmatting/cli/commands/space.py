"""`humanmatting space`: assemble and upload the Hugging Face Space.

Runs humanmatting.space.build, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "assemble and upload the Hugging Face Space"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.space import build

    build.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.space import build

    return build.run(args)
