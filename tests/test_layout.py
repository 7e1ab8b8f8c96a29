"""The architecture holds: the engine's core never imports a UI, and entry points start light."""

import pkgutil
import subprocess
import sys

import engine

FRONT_END = {"engine.cli", "engine.progress", "engine.bench"}


def core_modules():
    return sorted(
        f"engine.{m.name}"
        for m in pkgutil.iter_modules(engine.__path__)
        if f"engine.{m.name}" not in FRONT_END
    )


def test_engine_core_never_imports_textual_rich_or_the_tui():
    modules = core_modules()
    assert "engine.api" in modules and "engine.indexing" in modules
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in {'textual', 'rich', 'ris_tui'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_does_not_import_torch():
    code = "import sys\nfrom engine.cli import _parser\n_parser().format_help()\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "engine.cli", "--help"],
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
