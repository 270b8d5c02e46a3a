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


# What a request's value for an input must be, by the data model Gradio checks it against.
EXPECTED_VALUES = {
    "ImageData": "an image (an uploaded file or a data: URL)",
    "VideoUpload": "a video (an uploaded file)",
    "FileData": "an uploaded file",
}
TOO_FEW_VALUES = re.compile(r"enough input values \(needed: (\d+), got: (\d+)\)")
COMPONENT_AT = re.compile(r"input component at index (\d+) \(a `(\w+)` component\)")


def request_shape_problem(error: BaseException) -> str:
    """One line on why Gradio refused a request's values before any handler ran (a value
    of the wrong type, too few values), naming the input but never quoting the value:
    Gradio's own message quotes it (a photo's bytes once went to the log)."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        expected = EXPECTED_VALUES.get(error.title, f"a {error.title}")
        return f"A value sent is not {expected}; send it as the API page shows."
    text = str(error)
    found = COMPONENT_AT.search(text)
    if found:
        index, kind = int(found.group(1)), found.group(2)
        return f"Input {index + 1} (a {kind}) cannot take the value sent; see the API page."
    too_few = TOO_FEW_VALUES.search(text)
    if too_few:
        return f"The request has {too_few.group(2)} values; this endpoint takes {too_few.group(1)}."
    return f"The request's values do not fit this endpoint ({type(error).__name__})."


def answers_request_shape_errors() -> None:
    """Make Gradio answer a request whose values it refuses itself (before the handler:
    a number for an image, a string for a slider, too few values) with one typed line,
    to the visitor and in the log, instead of a bare "Error" and a traceback. Gradio
    checks the values inside Blocks.process_api, wrapped here (it offers no hook); the
    app's handlers turn their own errors into gr.Error already (answers_errors)."""
    from gradio.blocks import Blocks

    process_api = Blocks.process_api
    if getattr(process_api, "answers_shape_errors", False):
        return

    @functools.wraps(process_api)
    async def checked(self, *args, **kwargs):
        try:
            return await process_api(self, *args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:
            message = request_shape_problem(error)
            print(f"refused a request: {message}", file=sys.stderr, flush=True)
            raise gr.Error(message, print_exception=False) from None

    checked.answers_shape_errors = True
    Blocks.process_api = checked
