"""How a request's failure reaches the visitor: one gr.Error with the library's message
(files named as the visitor called them, never by their path on this server), and one
line in the server's log, never a traceback."""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
from pathlib import Path

import gradio as gr

USER_ERRORS = (ValueError, LookupError, OSError)  # InvalidImageError, WeightsNotFound, ...
# Server paths never reach a visitor: uploads live in Gradio's cache (<tmp>/gradio/<hash>/<name>).
SERVER_ROOTS = {tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()}
SERVER_PATH = re.compile(
    "|".join(re.escape(root.rstrip(os.sep)) + r"(?:/[^\s/]+)+" for root in SERVER_ROOTS)
)
HEAP_ADDRESS = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>|\s+at 0x[0-9a-fA-F]+")


def user_error(error: BaseException, *uploads: str | None) -> gr.Error:
    """gr.Error with the library's message, naming uploads by their file name (as the
    visitor called them), never by their path on this server."""
    if isinstance(error, MemoryError):
        message = "The server ran out of memory for this request; try a smaller file."
    else:
        message = str(error)
        for upload in uploads:
            if isinstance(upload, (str, os.PathLike)) and os.sep in str(upload):
                message = message.replace(str(upload), Path(upload).name)
        message = SERVER_PATH.sub(lambda match: Path(match.group()).name, message)
        message = HEAP_ADDRESS.sub(
            lambda match: "" if match.group()[0].isspace() else "data", message
        )
    one_line = " ".join(message.split())
    print(f"refused a request: {one_line}", file=sys.stderr, flush=True)  # no traceback
    return gr.Error(message, print_exception=False)


def answers_errors(function):
    """Make a request handler answer every failure with a gr.Error (never Gradio's generic
    "upstream Gradio app has raised an exception"): the library's message for what a
    visitor can fix, naming uploads by their file names; for anything else (a bug) a
    short apology, with one line in the server's log."""

    @functools.wraps(function)
    def handler(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except (*USER_ERRORS, MemoryError) as error:
            raise user_error(error, *args, *kwargs.values()) from None
        except Exception as error:
            reason = " ".join(HEAP_ADDRESS.sub("", str(error)).split())[:300]
            print(
                f"failed a request: {type(error).__name__}: {reason}", file=sys.stderr, flush=True
            )
            raise gr.Error(
                "The server could not process this request (an internal error, logged); "
                "try another file.",
                print_exception=False,
            ) from None

    return handler
