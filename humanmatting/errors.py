"""How an error reads to a person: one line, and which extra to install when a module is missing.

The runtime quotes the errors of the libraries it calls inside its own messages, the
commands (humanmatting.command) print them as their last line, and the app shows them: all
through these functions, so that an error reads the same wherever it surfaces.
"""

from __future__ import annotations

# Modules that the base install leaves out -> what installs them. The extras are
# pyproject.toml's (tests/cli/test_cli.py checks that they declare these packages).
INSTALL_HINTS = {
    "tensorflow": 'pip install "humanmatting[keras]"',
    "keras": 'pip install "humanmatting[keras]"',
    "h5py": 'pip install "humanmatting[keras]"',
    "gradio": 'pip install "humanmatting[app]"',
    "pymatting": 'pip install "humanmatting[hq]"',
    "matplotlib": 'pip install "humanmatting[train]"',
    "kagglehub": 'pip install "humanmatting[train]"',
    "papermill": 'pip install "humanmatting[train]"',
    "tensorboard": 'pip install "humanmatting[train]"',
    "skimage": "pip install scikit-image",
}


class ActionableError(Exception):
    """An error whose message says what a person can do about it: a command reports it in
    one line with exit status 2, as it does ValueError and OSError."""


def one_line(error: BaseException, keep_lines: bool = False) -> str:
    """The message of `error` on one line, or its type's name when it has none; an OSError
    as 'reason: file' (the file name, not the tuple). `keep_lines`: the line breaks that the
    message itself chose are kept (a list of what was tried and how to get weights)."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    text = str(error) if keep_lines else " ".join(str(error).split())
    return text or type(error).__name__


def first_line(error: BaseException) -> str:
    """`Type: first line` of a library's error (huggingface_hub's and HTTP errors run to
    many lines of server output)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def missing_extra(error: BaseException) -> str | None:
    """For an import of a module that an extra provides: what is missing and how to install
    it, in one line; None for anything else."""
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    module = error.name.split(".")[0]
    hint = INSTALL_HINTS.get(module)
    if hint is None:
        return None
    return f"this needs {module}, which the base install leaves out: {hint}"
