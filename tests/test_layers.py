"""The import rules of docs/ARCHITECTURE.md: each folder is one layer and imports only
downward. Read from the source (every import statement, also those inside functions), so a
lazy import that breaks a rule is caught too; and checked at run time for the runtime."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Layer of each package (a module belongs to its longest matching prefix); a layer may
# import its own and lower layers. training and hub are siblings: neither imports the other.
LAYERS = {
    "humanmatting": 0,  # the runtime
    "humanmatting.build": 1,  # [keras] build tools
    "training": 2,
    "hub": 2,
    "space": 3,
    "gradio_app": 3,
    "app": 4,  # app.py
}
SIBLINGS_APART = {("training", "hub"), ("hub", "training")}
# The edges: the command line dispatches to every layer (lazily, inside each subcommand).
EDGES = {"humanmatting.cli", "humanmatting.__main__"}
# Third-party packages a layer must never import (the base install lacks them, or they
# belong to another layer).
FORBIDDEN = {
    "humanmatting": {"tensorflow", "keras", "gradio", "gradio_client", "matplotlib", "torch"},
    "humanmatting.build": {"gradio", "gradio_client"},
    "training": {"gradio", "gradio_client"},
    "hub": {"gradio", "gradio_client"},
    "gradio_app": {"tensorflow", "keras"},
    "app": {"tensorflow", "keras"},
}
PACKAGES = ("humanmatting", "training", "hub", "space", "gradio_app")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The LAYERS key a module belongs to (its longest prefix), or None (outside them)."""
    matches = [name for name in LAYERS if module == name or module.startswith(name + ".")]
    return max(matches, key=len) if matches else None


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            for alias in node.names:  # `from humanmatting import build`: a subpackage
                submodule = REPO_ROOT.joinpath(*node.module.split("."), alias.name)
                if submodule.with_suffix(".py").is_file() or submodule.is_dir():
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
    return found


def sources() -> list[Path]:
    files = [REPO_ROOT / "app.py"]
    for package in PACKAGES:
        files += sorted((REPO_ROOT / package).rglob("*.py"))
    return files


def violations(path: Path) -> list[str]:
    module = module_name(path)
    if module in EDGES:
        return []
    own = layer_of(module)
    found = []
    for line, imported in imports_of(path):
        where = f"{path.relative_to(REPO_ROOT)}:{line} imports {imported}"
        top = imported.split(".")[0]
        if top in FORBIDDEN.get(own, ()):
            found.append(f"{where} ({own} never imports {top})")
        target = layer_of(imported)
        if target is None or imported in EDGES or layer_of(imported) == own:
            continue
        if imported.split(".")[0] == "humanmatting" and target == "humanmatting":
            continue
        if (own, target) in SIBLINGS_APART:
            found.append(f"{where} ({own} and {target} are siblings)")
        elif LAYERS[target] > LAYERS[own]:
            found.append(f"{where} (layer {own} imports the higher layer {target})")
    return found


def test_every_module_imports_only_downward():
    problems = [problem for path in sources() for problem in violations(path)]
    assert problems == []


def test_the_checker_finds_an_upward_import(tmp_path, monkeypatch):
    """The rule check itself: an upward import, a sibling import and a forbidden package
    in a throwaway module are each reported (so the test above can fail)."""
    package = tmp_path / "humanmatting"
    package.mkdir()
    (package / "bad.py").write_text(
        "def f():\n    import gradio_app.serving\n    from training import train\n"
        "    import tensorflow\n"
    )
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "bad.py").write_text("from hub.push import stage_repo\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    runtime = violations(package / "bad.py")
    assert any("higher layer gradio_app" in problem for problem in runtime)
    assert any("higher layer training" in problem for problem in runtime)
    assert any("never imports tensorflow" in problem for problem in runtime)
    assert violations(tmp_path / "training" / "bad.py") == [
        "training/bad.py:1 imports hub.push (training and hub are siblings)"
    ]


@pytest.mark.parametrize(
    "code",
    [
        "import humanmatting; m = humanmatting.load_matter('dark', download=False); "
        "m.predict('examples/grace_hopper.jpg')",
        "import humanmatting.cli, gradio_app.serving, gradio_app.browser",
    ],
)
def test_the_runtime_runs_without_tensorflow_or_gradio(code):
    """What the base install (and the app's import of the request policy) loads at run
    time: no TensorFlow, Keras or Gradio."""
    check = (
        f"{code}; import sys; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'gradio') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
