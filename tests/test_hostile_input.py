"""Strange names, planted links, special files and other users' libraries (issue 26, section 5):
each is reported in one clear line or shown as it is, and never crashes ris or ris-tui.

The end-to-end tests build one small library the way a user would (`ris index` in a
subprocess): a photo named like markup, a damaged video named with "[/", weights at a path
holding a terminal escape, a planted link where the vector file's temporary copy goes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from engine.library.private_files import private_dir
from engine.media.finding import walk
from tests.conftest import AOC_PHOTO, ROOT, WEIGHTS, run_ris

MARKUP_PHOTO = "[red]amy[bold] x.png"
BAD_VIDEO = "bad [/b] clip.mp4"  # a folder "bad [" and in it "b] clip.mp4": the path holds "[/"


def test_parents_a_data_directory_needs_are_private_under_umask_000(tmp_path):
    data = tmp_path / "a" / "b" / "data"
    old = os.umask(0)
    try:
        private_dir(data)
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", data):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_ris_index_makes_its_data_directory_and_parents_private_under_umask_000(tmp_path, ris_env):
    empty = tmp_path / "empty"
    empty.mkdir()
    data = tmp_path / "x" / "y" / "data"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.frontends.cli",
            "index",
            str(empty),
            "--data-dir",
            str(data),
        ],
        env=ris_env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0),
    )
    assert run.returncode == 0, run.stderr
    for folder in (tmp_path / "x", tmp_path / "x" / "y", data):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


@pytest.mark.parametrize(
    "make, what",
    [
        (lambda d: Path("/dev/zero"), "character device"),
        (lambda d: (os.mkfifo(d / "pipe.mp4"), d / "pipe.mp4")[1], "named pipe"),
        (lambda d: Path("/proc/self/status"), "/proc"),
    ],
    ids=["/dev/zero", "fifo", "/proc"],
)
def test_special_files_are_named_for_what_they_are(tmp_path, make, what):
    path = make(tmp_path)
    (found,) = list(walk([path]))
    assert "not a regular file" in found.reason and what in found.reason, found


def test_a_fifo_in_a_folder_is_skipped_with_its_reason_and_the_run_goes_on(tmp_path, ris_env):
    media = tmp_path / "media"
    media.mkdir()
    os.mkfifo(media / "stream.mp4")
    run = run_ris(ris_env, "index", str(media), "--data-dir", str(tmp_path / "data"))
    assert run.returncode == 0, run.stderr
    assert "stream.mp4" in run.stderr and "not a regular file (a named pipe)" in run.stderr
    assert "empty file" not in run.stderr


AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def runs_unprivileged() -> bool:
    """Whether this test can run ris as `nobody`: as root, with setpriv, from a checkout and a
    Python that nobody may read (a clone under a private home folder is not)."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(
        [*AS_NOBODY, sys.executable, "-c", "import engine.frontends.cli"],
        cwd=ROOT,
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not runs_unprivileged(), reason="needs root, setpriv and a checkout nobody may read"
)
@pytest.mark.parametrize("command", ["status", "search", "check"])
def test_another_users_private_library_is_one_line_and_exit_2(command, ris_env):
    top = Path(tempfile.mkdtemp())
    try:
        top.chmod(0o755)  # the library's folder is reachable, the library itself is not
        library = top / "library"
        library.mkdir(mode=0o700)
        (library / "catalog.sqlite").write_bytes(b"")
        args = [command, *([str(AOC_PHOTO)] if command == "search" else []), "--data-dir"]
        run = subprocess.run(
            [*AS_NOBODY, sys.executable, "-m", "engine.frontends.cli", *args, str(library)],
            env={**ris_env, "HOME": str(top), "RIS_SERVE": "off"},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    finally:
        shutil.rmtree(top)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 2, run.stderr  # the error and its hint
    assert "permission denied (it belongs to uid 0)" in run.stderr


@pytest.fixture(scope="module")
def odd_library(tmp_path_factory, ris_env):
    """A library indexed by `ris index` with odd names, odd weights and a planted link."""
    root = tmp_path_factory.mktemp("odd")
    media = root / "media"
    media.mkdir()
    shutil.copyfile(AOC_PHOTO, media / MARKUP_PHOTO)
    (media / BAD_VIDEO).parent.mkdir()
    (media / BAD_VIDEO).write_text("not a video\n")
    weights = root / "w\x1b[31mred.pt"  # a terminal escape in the weights' path
    shutil.copyfile(WEIGHTS, weights)
    data = root / "data"
    data.mkdir(mode=0o700)
    victim = root / "victim.txt"
    victim.write_text("keep me\n")
    victim.chmod(0o644)
    (data / "faces.usearch.tmp").symlink_to(victim)
    env = {k: v for k, v in ris_env.items() if k != "RIS_FACENET_WEIGHTS"}
    env["RIS_SERVE"] = "off"
    run = run_ris(env, "index", str(media), "--data-dir", str(data), "--weights", str(weights))
    assert run.returncode == 0, run.stderr
    return data, victim, env


@pytest.mark.slow
def test_a_planted_link_at_the_temporary_vector_file_is_not_followed(odd_library):
    data, victim, _ = odd_library
    assert victim.read_text() == "keep me\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert (data / "faces.usearch").is_file() and not (data / "faces.usearch").is_symlink()


@pytest.mark.slow
def test_ris_status_escapes_the_weights_path(odd_library):
    data, _, env = odd_library
    run = run_ris(env, "status", "--data-dir", str(data))
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout
    assert "weights: " in run.stdout and "\\x1b[31mred.pt" in run.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_ris_tui_shows_names_with_brackets_as_they_are(odd_library, ris_env):
    """ris-tui crashed (MarkupError) at start-up with "[/" in a failed file's name, and showed
    "[red]amy[bold] x.png" as "amy x.png"; the weights' escape reached the terminal raw."""
    from tests.test_tui_real import Tmux

    data, _, env = odd_library
    cmd = (
        f"{sys.executable} -m ris_tui.app --data-dir {data} --query {AOC_PHOTO}; "
        'echo "ris-tui exited $?"; sleep 30'
    )
    term = Tmux("ris-hostile", cmd, {**env, "TERM": "xterm-256color"}, (160, 40))
    try:
        term.wait_for("Photos (1)", 240)  # the search is done
        term.keys("2")  # the photos found: the one named like markup, as it is named
        shown = term.wait_for(MARKUP_PHOTO, 240)
        assert "exited" not in shown
        term.keys("3")
        shown = term.wait_for(BAD_VIDEO, 60)
        assert "\\x1b[31mred.pt" in shown, shown
        assert "exited" not in shown
    finally:
        term.close()
