"""`humanmatting push`: publish a model folder to the Hub with its model card.

Runs humanmatting.hub.push, imported inside the functions (its extra: only then)."""

from __future__ import annotations

import argparse

SUMMARY = "publish a model folder to the Hub with its model card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from humanmatting.hub import push

    push.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from humanmatting.hub import push

    return push.run(args)
