"""The import rules of docs/ARCHITECTURE.md: each subpackage of humanmatting is one layer
and imports only downward, with no exemption. Read from the source (every import
statement, also those inside functions, and any module name handed to importlib), so a
lazy import that breaks a rule is caught too; and checked at run time for the runtime."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

# Layer of each package (a module belongs to its longest matching prefix); a layer may
# import its own and lower layers. training and hub are siblings: neither imports the other.
LAYERS = {
    "humanmatting": 0,  # the runtime: humanmatting/*.py
    "humanmatting.models": 1,  # [keras] Keras builders, export, quantize, Keras backend
    "humanmatting.training": 2,
    "humanmatting.hub": 2,
    "humanmatting.app": 3,  # [app]
    "humanmatting.space": 4,  # assembles the Space from the runtime and the app
    "humanmatting.cli": 5,  # the top: every subcommand
    "app": 6,  # app.py, what a Space runs
}
SIBLINGS_APART = {
    ("humanmatting.training", "humanmatting.hub"),
    ("humanmatting.hub", "humanmatting.training"),
}
# Third-party packages a layer must never import (the base install lacks them, or they
# belong to another layer).
FORBIDDEN = {
    "humanmatting": {"tensorflow", "keras", "gradio", "gradio_client", "matplotlib", "torch"},
    "humanmatting.models": {"gradio", "gradio_client"},
    "humanmatting.training": {"gradio", "gradio_client"},
    "humanmatting.hub": {"gradio", "gradio_client"},
    "humanmatting.app": {"tensorflow", "keras"},
    "humanmatting.space": {"tensorflow", "keras"},
    "app": {"tensorflow", "keras"},
}
# Ways to import a module named by a string.
DYNAMIC_IMPORTS = {"import_module", "__import__", "spec_from_file_location", "run_module"}
# Folders that run from the checkout: tests and benchmarks share harness/ and never import
# from each other's folder.
CHECKOUT_FOLDERS = {
    "tests": {"benchmarks"},
    "benchmarks": {"tests"},
    "harness": {"tests", "benchmarks"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] in ("__init__", "__main__"):
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The LAYERS key a module belongs to (its longest prefix), or None (outside them)."""
    matches = [name for name in LAYERS if module == name or module.startswith(name + ".")]
    return max(matches, key=len) if matches else None


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in the file, and for every
    string handed to a dynamic import (importlib.import_module("..."), __import__)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            for alias in node.names:  # `from humanmatting import cli`: a subpackage
                submodule = REPO_ROOT.joinpath(*node.module.split("."), alias.name)
                if submodule.with_suffix(".py").is_file() or submodule.is_dir():
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
        elif isinstance(node, ast.Call):
            function = node.func
            name = getattr(function, "attr", None) or getattr(function, "id", None)
            if name in DYNAMIC_IMPORTS:
                for argument in node.args[:1]:
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                        found.append((node.lineno, argument.value))
                    else:  # a name computed at run time cannot be checked: refused
                        found.append((node.lineno, f"<{name} of a computed name>"))
    return sorted(found)


def sources() -> list[Path]:
    return [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "humanmatting").rglob("*.py"))]


def violations(path: Path) -> list[str]:
    module = module_name(path)
    own = layer_of(module)
    found = []
    for line, imported in imports_of(path):
        where = f"{path.relative_to(REPO_ROOT)}:{line} imports {imported}"
        if imported.startswith("<"):
            found.append(f"{where} (a module name the check cannot read)")
            continue
        top = imported.split(".")[0]
        if top in FORBIDDEN.get(own, ()):
            found.append(f"{where} ({own} never imports {top})")
        target = layer_of(imported)
        if target is None or target == own:
            continue
        if (own, target) in SIBLINGS_APART:
            found.append(f"{where} ({own} and {target} are siblings)")
        elif LAYERS[target] > LAYERS[own]:
            found.append(f"{where} (layer {own} imports the higher layer {target})")
    return found


def checkout_violations(path: Path) -> list[str]:
    """tests/, benchmarks/ and harness/: none imports from a folder it must not."""
    folder = path.relative_to(REPO_ROOT).parts[0]
    return [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {imported}"
        for line, imported in imports_of(path)
        if imported.split(".")[0] in CHECKOUT_FOLDERS.get(folder, ())
    ]


def test_every_module_imports_only_downward():
    problems = [problem for path in sources() for problem in violations(path)]
    assert problems == []


def test_tests_and_benchmarks_share_only_the_harness():
    files = [
        path for folder in CHECKOUT_FOLDERS for path in sorted((REPO_ROOT / folder).rglob("*.py"))
    ]
    assert len(files) > 50
    assert [problem for path in files for problem in checkout_violations(path)] == []


def test_the_checker_finds_each_broken_rule(tmp_path, monkeypatch):
    """The rule check itself: upward imports (a statement in a function, a name handed to
    importlib), a sibling import, a forbidden package and a test importing a benchmark in
    throwaway modules are each reported (so the tests above can fail)."""
    package = tmp_path / "humanmatting"
    for folder in ("models", "training", "hub", "app", "cli"):
        (package / folder).mkdir(parents=True)
    (package / "bad.py").write_text(
        "import importlib\n"
        "def f(name):\n    import humanmatting.app.photos\n"
        "    from humanmatting.training import train\n"
        "    import tensorflow\n"
        '    importlib.import_module("humanmatting.models.keras_backend")\n'
        "    from humanmatting import cli\n"
        "    importlib.import_module(name)\n"
    )
    (package / "training" / "bad.py").write_text("from humanmatting.hub.push import stage_repo\n")
    (package / "models" / "bad.py").write_text("import humanmatting.training.train\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_bad.py").write_text("from benchmarks.quality import measure\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    assert violations(package / "bad.py") == [
        "humanmatting/bad.py:3 imports humanmatting.app.photos "
        "(layer humanmatting imports the higher layer humanmatting.app)",
        "humanmatting/bad.py:4 imports humanmatting.training "
        "(layer humanmatting imports the higher layer humanmatting.training)",
        "humanmatting/bad.py:5 imports tensorflow (humanmatting never imports tensorflow)",
        "humanmatting/bad.py:6 imports humanmatting.models.keras_backend "
        "(layer humanmatting imports the higher layer humanmatting.models)",
        "humanmatting/bad.py:7 imports humanmatting.cli "
        "(layer humanmatting imports the higher layer humanmatting.cli)",
        "humanmatting/bad.py:8 imports <import_module of a computed name> "
        "(a module name the check cannot read)",
    ]
    assert violations(package / "training" / "bad.py") == [
        "humanmatting/training/bad.py:1 imports humanmatting.hub.push "
        "(humanmatting.training and humanmatting.hub are siblings)"
    ]
    assert violations(package / "models" / "bad.py") == [
        "humanmatting/models/bad.py:1 imports humanmatting.training.train "
        "(layer humanmatting.models imports the higher layer humanmatting.training)"
    ]
    assert checkout_violations(tmp_path / "tests" / "test_bad.py") == [
        "tests/test_bad.py:1 imports benchmarks.quality"
    ]


@pytest.mark.parametrize(
    "code",
    [
        "import humanmatting; m = humanmatting.load_matter('dark', download=False); "
        "m.predict('examples/grace_hopper.jpg')",
        "from humanmatting.cli import main, top_parser; top_parser().format_help()",
        "import humanmatting.app.photos, humanmatting.app.videos, humanmatting.app.stream, "
        "humanmatting.app.browser",
    ],
)
def test_the_runtime_runs_without_tensorflow_or_gradio(code):
    """What the base install (and the command line's table, and the app's request policy)
    loads at run time: no TensorFlow, Keras or Gradio."""
    check = (
        f"{code}; import sys; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'gradio') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
