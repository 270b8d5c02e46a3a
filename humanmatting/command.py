"""How every command of the project ends: one line per error and an exit status.

`humanmatting <subcommand>` (humanmatting.cli) and the `python -m humanmatting.hub.pull`-style
aliases run a command the same way: `run_command(prog, add_arguments, run, argv)` parses the options
(argparse errors on one line too), reads the settings once (`args.settings`), and `guarded` turns
what the command raises into one line on stderr and an exit status:

    0 done (or what `run` returns: 1 for a folder run that skipped files)
    2 an error a person can act on: bad input, options, settings, weights, a missing
      extra (ValueError, OSError, ImportError, ActionableError, MemoryError)
    3 an unexpected error: a bug, reported in one line with where it happened
    130 interrupted (Ctrl+C), 143 terminated (SIGTERM)

Commands register with `add_arguments(parser)` + `run(args) -> int`. This module imports
only the standard library and the runtime's light modules: the layers above it (hub/,
training/, the app) may use it for their aliases.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from humanmatting.errors import ActionableError, missing_extra, one_line
from humanmatting.settings import read_number

# What a person can act on: the message says what is wrong and what to do.
USER_ERRORS = (ValueError, OSError, ImportError, ActionableError)

AddArguments = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], int]


def number_in(
    low: float,
    high: float = math.inf,
    whole: bool = False,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite number from `low` to `high` (settings.read_number)."""

    def parse(text: str) -> float:
        try:
            return read_number(text, low, high, whole, low_open, high_open)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


class Terminated(KeyboardInterrupt):
    """SIGTERM: stopped as for Ctrl+C (temporary files removed), with exit status 143."""


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors as one line, like every other error of a command."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _terminate(signum, frame):
    raise Terminated


def _where(error: BaseException) -> str:
    """' at FILE:LINE' of the innermost frame, so that a bug report can start there."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    return f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}"


def guarded(prog: str, command: Callable[[], int], stopped_note: str = "") -> int:
    """Run `command()`; its errors become one line `PROG: error: ...` on stderr and an exit
    status (see the module's docstring). `stopped_note` follows "interrupted"/"terminated"
    (the matte command promises that no partial output was left)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return command()
    except MemoryError:
        print(f"{prog}: error: out of memory; try a smaller input", file=sys.stderr)
        return 2
    except USER_ERRORS as error:
        message = missing_extra(error) or one_line(error, keep_lines=True)
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"{prog}: terminated{stopped_note}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"{prog}: interrupted{stopped_note}", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line all the same, and how to report it
        print(
            f"{prog}: error: unexpected {type(error).__name__}: {one_line(error)}"
            f"{_where(error)} (a bug: please report it with the command that failed)",
            file=sys.stderr,
        )
        return 3
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def parse_and_run(prog: str, add_arguments: AddArguments, run: Run, argv: list[str] | None) -> int:
    """Parse `argv` with the command's options, read the settings, run it (unguarded)."""
    from humanmatting.settings import Settings

    parser = OneLineParser(prog=prog)
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.settings = Settings.from_env()  # once, here at the edge; SettingError: status 2
    return run(args)


def run_command(
    prog: str,
    add_arguments: AddArguments,
    run: Run,
    argv: list[str] | None = None,
    stopped_note: str = "",
) -> int:
    """A whole command: parse, run, and one line and an exit status for what goes wrong."""
    return guarded(prog, lambda: parse_and_run(prog, add_arguments, run, argv), stopped_note)
