"""The architecture holds: the engine's core never imports a UI, and entry points start light."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[1]

OUTSIDE_THE_CORE = ("engine.frontends", "engine.tools")  # the wings that drive the core


def core_modules():
    return sorted(
        m.name
        for m in pkgutil.walk_packages(engine.__path__, "engine.")
        if not m.name.startswith(OUTSIDE_THE_CORE)
    )


def test_engine_core_never_imports_textual_rich_or_the_tui():
    modules = core_modules()
    assert "engine.api" in modules and "engine.indexing.run" in modules
    assert "engine.library.stores.usearch" in modules and "engine.models.numpy_faces" in modules
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in {'textual', 'rich', 'ris_tui'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_does_not_import_torch():
    code = "import sys\nfrom engine.frontends.cli import _parser\n_parser().format_help()\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "engine.frontends.cli", "--help"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "usage: ris" in run.stdout
    assert " torch" not in run.stderr and "decord" not in run.stderr


def test_opening_the_engine_does_not_load_the_models_libraries():
    """A front end can build an Engine, read status and results without paying for torch."""
    code = (
        "import sys\nfrom engine.api import build_engine\n"
        "print(sorted(m for m in ('torch', 'decord', 'facenet_pytorch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_contracts_hold():
    """The layers, no cycles, the TUI's one door, only the chooser importing a backend
    (pyproject.toml's import-linter contracts, which `just lint` also checks)."""
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run(
        [str(lint), "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "broken" in out.stdout and " 0 broken" in out.stdout


def test_the_core_never_prints():
    """The core reports through events, errors and its notify callback; only front ends print."""
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        rel = path.relative_to(ROOT / "engine")
        if rel.parts[0] in ("frontends", "tools"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{rel}:{node.lineno}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("stderr", "stdout")
                and getattr(node.value, "id", None) == "sys"
            ):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_every_test_the_docs_name_exists():
    """The README and docs/ back their guarantees with named tests; a renamed or deleted test
    breaks it. In each page, `::test_x` names a test of the file named last before it."""
    import re

    named = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        current = None
        for file, name in re.findall(
            r"`(?:(?:tests/)?(test_\w+\.py))?::(test_\w+)`", page.read_text()
        ):
            current = file or current
            assert current, f"{page.name} names ::{name} before naming its file"
            named.append((current, name))
    assert len(named) > 20
    for file, name in named:
        source = (ROOT / "tests" / file).read_text()
        assert re.search(rf"^(async )?def {name}\(", source, re.M), f"README names {file}::{name}"


def test_a_main_guard_is_the_last_statement_of_its_module():
    """`python -m ris_tui.app` runs the module as a script: anything defined after its
    `if __name__ == "__main__":` does not exist yet when main() runs (a helper placed there
    crashed ris-tui on its first result while the pilot tests, importing it, passed)."""
    guarded = 0
    for path in sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("ris_tui/**/*.py")]):
        body = ast.parse(path.read_text()).body
        for i, node in enumerate(body):
            test = node.test if isinstance(node, ast.If) else None
            if isinstance(test, ast.Compare) and getattr(test.left, "id", None) == "__name__":
                guarded += 1
                assert i == len(body) - 1, f"{path.relative_to(ROOT)}: code after the main guard"
    assert guarded >= 3
