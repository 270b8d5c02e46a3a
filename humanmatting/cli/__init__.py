"""`humanmatting <subcommand>`: the project's one command line, the top of the layers.

    humanmatting INPUT [options]            matte (the default): an image, a folder of
    humanmatting matte INPUT [options]      images, a video or the camera
    humanmatting pull|push|card|convert-legacy|quantize|train|evaluate|export|ship|space|app

Exit status (humanmatting.command, one wrapper for every subcommand): 0 done; 1 a folder
run skipped some files (listed); 2 bad input, options, settings or weights, or a missing
extra; 3 an unexpected error (a bug: please report it); 130 interrupted (Ctrl+C); 143
terminated (SIGTERM). Every error is one line on stderr.

Each subcommand is a small module in `humanmatting.cli.commands` that imports the layer it
runs (hub, models, training, space, app) inside its functions, so that `humanmatting
--help` and a matte load neither TensorFlow, Keras nor Gradio (the base install has none).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from humanmatting.cli.commands import (
    app,
    card,
    convert_legacy,
    evaluate,
    export,
    matte,
    pull,
    push,
    quantize,
    ship,
    space,
    train,
)
from humanmatting.command import OneLineParser, guarded, parse_and_run


@dataclass(frozen=True)
class Subcommand:
    name: str
    summary: str
    run: Callable  # run(args) after add_arguments; main(argv) when add_arguments is None
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    stopped_note: str = ""  # after "interrupted" / "terminated"


def _options(name: str, module, stopped_note: str = "") -> Subcommand:
    """A subcommand whose module has add_arguments(parser) and run(args)."""
    return Subcommand(name, module.SUMMARY, module.run, module.add_arguments, stopped_note)


SUBCOMMANDS = {
    command.name: command
    for command in (
        Subcommand(
            "matte", matte.SUMMARY, matte.run_matte, matte.add_arguments, matte.STOPPED_NOTE
        ),
        _options("pull", pull),
        _options("push", push),
        _options("card", card),
        _options("convert-legacy", convert_legacy),
        _options("quantize", quantize),
        _options("train", train),
        _options("evaluate", evaluate),
        _options("export", export),
        _options("ship", ship),
        _options("space", space),
        Subcommand("app", app.SUMMARY, app.main),  # the app parses its own options
    )
}


def top_parser() -> argparse.ArgumentParser:
    """Only for `humanmatting --help`: the subcommands and their summaries."""
    parser = OneLineParser(
        prog="humanmatting",
        usage="humanmatting [matte] INPUT [options]\n       humanmatting SUBCOMMAND [options]",
        description="Real-time human matting: cut people out of images, videos or the camera, "
        "and the tools that build, train and publish the models.",
        epilog="`humanmatting SUBCOMMAND --help` lists a subcommand's options. [keras], [train] "
        'and [app] name the extra a subcommand needs (pip install "humanmatting[keras]").',
    )
    choices = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    for command in SUBCOMMANDS.values():
        choices.add_parser(command.name, help=command.summary, add_help=False)
    return parser


def run_subcommand(name: str, argv: list[str], prog: str | None = None) -> int:
    """Run subcommand `name` with `argv` (its options), inside the one error wrapper."""
    command = SUBCOMMANDS[name]
    prog = prog or f"humanmatting {name}"

    def start() -> int:
        # A missing extra fails inside (the command's import): one line that names it.
        if command.add_arguments is None:
            return command.run(argv)
        return parse_and_run(prog, command.add_arguments, command.run, argv)

    return guarded(prog, start, command.stopped_note)


def main(argv: list[str] | None = None) -> int:
    """`humanmatting SUBCOMMAND ...`; `humanmatting INPUT ...` (the first argument not a
    subcommand's name) is `humanmatting matte INPUT ...`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["-h"], ["--help"]):
        top_parser().print_help()
        return 0
    if argv and argv[0] in SUBCOMMANDS:
        return run_subcommand(argv[0], argv[1:])
    return run_subcommand("matte", argv, prog="humanmatting")
