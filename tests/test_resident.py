"""The resident engine (`ris serve`), run as users run it: real `ris` processes, a real server
process with the real models, killed and stopped with real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.frontends import resident
from tests.conftest import (
    AOC_CLIPS,
    AOC_PHOTO,
    IMAGES,
    LMM_PHOTO,
    WEIGHTS,
    copy_media,
    make_settings,
    run_ris,
)

pytestmark = pytest.mark.slow


def ris(env: dict[str, str], *args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_ris(env, *map(str, args), timeout=timeout)


def photos() -> list[Path]:
    return sorted(p for p in IMAGES.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


class Served:
    """A `ris serve` process for one data directory, with its own runtime folder."""

    def __init__(self, env: dict[str, str], data_dir: Path, *extra: str) -> None:
        self.env, self.data_dir = env, data_dir
        self.log = data_dir.parent / f"serve-{time.monotonic_ns()}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "engine.frontends.cli",
                    "serve",
                    "--data-dir",
                    str(data_dir),
                    *extra,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_until(lambda: "serving" in self.text(), "the server to listen")

    def text(self) -> str:
        return self.log.read_text()

    def answered(self) -> int:
        return self.text().count("answered `")

    def wait_until(self, done, what: str, seconds: float = 120) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + seconds
        while not done():
            assert self.proc.poll() is None or done(), f"the server exited: {self.text()}"
            assert time.monotonic() < end, f"timed out waiting for {what}: {self.text()}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with_place = ris(self.env, "serve", "--stop", "--data-dir", self.data_dir, timeout=30)
            assert with_place.returncode == 0
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serve_env(ris_env: dict[str, str], tmp_path: Path, monkeypatch) -> dict[str, str]:
    """`ris` processes, and this one, with a runtime folder of their own for the sockets."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return {**ris_env, "XDG_RUNTIME_DIR": str(runtime)}


@pytest.fixture
def served_dev(dev_index, serve_env):  # type: ignore[no-untyped-def]
    engine, _ = dev_index
    server = Served(serve_env, engine.settings.data_dir)
    yield server
    server.stop()


@pytest.mark.parametrize("weights_by", ["variable", "flag"])
def test_answers_are_the_same_byte_for_byte_with_and_without_the_server(served_dev, weights_by):
    """The server was started with RIS_FACENET_WEIGHTS; the commands name the weights the same
    way, or by --weights (issue 26: that flag used to leave every command to itself)."""
    env, data = served_dev.env, served_dev.data_dir
    flag: tuple[object, ...] = ()
    if weights_by == "flag":
        env = {k: v for k, v in env.items() if k != "RIS_FACENET_WEIGHTS"}
        flag = ("--weights", WEIGHTS)
    off = {**env, "RIS_SERVE": "off"}
    queries = photos()
    assert len(queries) > 50
    if weights_by == "flag":
        queries = queries[:12]  # the full run is the variable's
    # every dev photo in one call (JSON Lines), one photo and one clip as text and JSON,
    # a query that fails, a threshold of its own, and the other read-only commands
    calls = [
        ("search", *queries, "--json"),
        ("search", AOC_PHOTO),
        ("search", AOC_CLIPS[2], "--json", "--top", "3"),
        ("search", LMM_PHOTO, "--threshold", "0.6", "--possible-margin", "0"),
        ("search", data / "no such photo.jpg"),
        ("status", "--json"),
        ("status",),
        ("faces", AOC_PHOTO, "--json"),
    ]
    for call in calls:
        before = served_dev.answered()
        served = ris(env, *call, "--data-dir", data, *flag)
        assert served_dev.answered() == before + 1, f"not served: {call[:2]}"
        alone = ris(off, *call, "--data-dir", data, *flag)
        assert served.returncode == alone.returncode, call[:2]
        assert served.stdout == alone.stdout, call[:2]
        assert served.stderr == alone.stderr, call[:2]
        assert served.stdout or served.stderr


def test_a_search_with_settings_of_its_own_is_left_to_the_command(served_dev):
    env, data = served_dev.env, served_dev.data_dir
    other = {**env, "RIS_MIN_FACE_SIZE": "40"}  # detection changes: the server's models differ
    before = served_dev.answered()
    served = ris(other, "search", AOC_PHOTO, "--json", "--data-dir", data)
    alone = ris({**other, "RIS_SERVE": "off"}, "search", AOC_PHOTO, "--json", "--data-dir", data)
    assert served.returncode == 0 and served.stdout == alone.stdout
    assert served_dev.answered() == before
    assert "left to the command: other settings: min_face_size" in served_dev.text()


def test_a_served_answer_into_a_closed_pipe_ends_quietly(served_dev):
    """`ris status | head -0` with a server answering: exit 0, no traceback, as in-process."""
    command = [
        sys.executable,
        "-m",
        "engine.frontends.cli",
        "status",
        "--data-dir",
        str(served_dev.data_dir),
    ]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    proc = subprocess.Popen(command, env=served_dev.env, **pipes)  # type: ignore[call-overload]
    proc.stdout.close()  # the reader is gone before ris writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err, err
    assert served_dev.answered() == 1


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_a_killed_or_stopped_server_never_blocks_or_changes_an_answer(dev_index, serve_env, how):
    engine, _ = dev_index
    data = engine.settings.data_dir
    server = Served(serve_env, data)
    server_files = resident.ServerFiles.of(data)
    sig = signal.SIGKILL if how == "killed" else signal.SIGSTOP
    try:
        os.kill(server.proc.pid, sig)
        if how == "killed":
            server.proc.wait()
            assert (
                server_files is not None and server_files.socket.exists()
            )  # left behind, as by a crash
        # the bound is the test's timeout: a command that waited on the server would hit it
        after = ris(serve_env, "search", AOC_PHOTO, "--json", "--data-dir", data, timeout=60)
        alone = ris(
            {**serve_env, "RIS_SERVE": "off"}, "search", AOC_PHOTO, "--json", "--data-dir", data
        )
        assert (
            after.returncode == 0 and after.stdout == alone.stdout and after.stderr == alone.stderr
        )
        if how == "killed":
            assert (
                server_files is not None and not server_files.socket.exists()
            )  # the dead socket is cleared
    finally:
        if how == "stopped":
            os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()


def test_the_server_follows_the_library_as_it_is_indexed_and_rebuilt(tmp_path, serve_env):
    media, data = tmp_path / "media", tmp_path / "data"
    copy_media(media, AOC_PHOTO)
    assert ris(serve_env, "index", media, "--data-dir", data).returncode == 0
    server = Served(serve_env, data)
    off = {**serve_env, "RIS_SERVE": "off"}
    try:

        def both() -> tuple[str, str]:
            served = ris(
                serve_env,
                "search",
                LMM_PHOTO,
                "--json",
                "--possible-margin",
                "0",
                "--data-dir",
                data,
            )
            alone = ris(
                off, "search", LMM_PHOTO, "--json", "--possible-margin", "0", "--data-dir", data
            )
            assert served.returncode == alone.returncode == 0, served.stderr
            assert served.stderr == alone.stderr
            return served.stdout, alone.stdout

        def found(answer: str) -> list[str]:
            return [Path(i["path"]).name for i in json.loads(answer)["images"]]

        served, alone = both()
        assert served == alone and found(served) == []  # only another person's photo so far
        copy_media(media, LMM_PHOTO)  # a new photo of the person, indexed while the server runs
        assert ris(serve_env, "index", media, "--data-dir", data).returncode == 0
        served, alone = both()
        assert served == alone and found(served) == [f"{LMM_PHOTO.parent.name}_{LMM_PHOTO.name}"]
        shutil.rmtree(data)  # the library built again from scratch: a new catalog file
        (media / f"{LMM_PHOTO.parent.name}_{LMM_PHOTO.name}").unlink()
        assert ris(serve_env, "index", media, "--data-dir", data).returncode == 0
        served, alone = both()
        assert served == alone and found(served) == []  # not the old catalog's answer
        assert "the catalog changed on disk" in server.text()
        assert server.answered() == 3
    finally:
        server.stop()


def test_ris_serve_auto_starts_a_server_that_answers_and_leaves_when_idle(tmp_path, serve_env):
    media, data = tmp_path / "media", tmp_path / "data"
    copy_media(media, AOC_PHOTO)
    assert ris(serve_env, "index", media, "--data-dir", data).returncode == 0
    env = {**serve_env, "RIS_SERVE": "auto", "RIS_SERVE_IDLE": "8"}
    first = ris(env, "search", AOC_PHOTO, "--json", "--data-dir", data)  # in-process, starts one
    assert first.returncode == 0
    server_files = resident.ServerFiles.of(data)
    assert server_files is not None
    log = server_files.log
    end = time.monotonic() + 120
    while "serving" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < end, log.read_text() if log.exists() else "no log"
        time.sleep(0.1)
    second = ris(env, "search", AOC_PHOTO, "--json", "--data-dir", data)
    assert second.stdout == first.stdout and "answered `search`" in log.read_text()
    end = time.monotonic() + 60  # idle for 8 s: it exits and takes its socket with it
    while server_files.socket.exists() or resident.running(data):
        assert time.monotonic() < end, log.read_text()
        time.sleep(0.2)
    assert "idle for 8 s: exiting" in log.read_text()


def serving(server: resident.Server, server_files: resident.ServerFiles) -> threading.Thread:
    """`server` serving in a thread of this process, once its socket is there."""
    thread = threading.Thread(target=server.serve, args=(server_files,), daemon=True)
    thread.start()
    end = time.monotonic() + 10
    while not server_files.socket.exists():
        assert time.monotonic() < end, "the server never listened"
        time.sleep(0.05)
    return thread


def test_the_socket_is_private_and_a_folder_open_to_others_is_not_used(tmp_path, monkeypatch):
    runtime = tmp_path / "run"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    server_files = resident.ServerFiles.of(tmp_path / "data", create=True)
    assert server_files is not None and (runtime / "ris").stat().st_mode & 0o777 == 0o700
    server = resident.Server(make_settings(tmp_path / "data"), lambda *a: 0, idle=60)
    thread = serving(server, server_files)
    try:
        assert server_files.socket.stat().st_mode & 0o777 == 0o600
        (runtime / "ris").chmod(0o755)  # someone opened the folder: the commands stop using it
        assert resident.ServerFiles.of(tmp_path / "data") is None
        (runtime / "ris").chmod(0o700)
    finally:
        assert resident.stop(tmp_path / "data")
        thread.join(10)
    assert not thread.is_alive() and not server_files.socket.exists()


def test_a_server_of_other_code_answers_nothing_and_exits(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    server_files = resident.ServerFiles.of(tmp_path / "data", create=True)
    assert server_files is not None
    asked = []
    server = resident.Server(make_settings(tmp_path / "data"), lambda *a: asked.append(a) or 0)
    server.code = "started before an upgrade"
    thread = serving(server, server_files)
    assert resident._ask(server_files, ["status"]) is None
    thread.join(10)
    assert not thread.is_alive() and not asked


def test_a_library_rebuilt_with_other_weights_is_searched_with_those(tmp_path, serve_env):
    """A server follows the library's weights (none named): rebuilt with others, it embeds the
    query with those, as a command does, rather than with the models it had loaded."""
    import torch

    media, data = tmp_path / "media", tmp_path / "data"
    copy_media(media, AOC_PHOTO, LMM_PHOTO)
    assert ris(serve_env, "index", media, "--data-dir", data).returncode == 0
    state = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    first = next(k for k, v in state.items() if v.dtype.is_floating_point and v.dim() == 4)
    state[first] = state[first] * 1.5  # other weights: other embeddings
    other = tmp_path / "other.pt"
    torch.save(state, other)
    library_weights = {k: v for k, v in serve_env.items() if k != "RIS_FACENET_WEIGHTS"}
    server = Served(library_weights, data)
    try:
        shutil.rmtree(data)
        env = {**serve_env, "RIS_FACENET_WEIGHTS": str(other)}
        assert ris(env, "index", media, "--data-dir", data).returncode == 0
        served = ris(library_weights, "search", AOC_PHOTO, "--json", "--data-dir", data)
        off = {**library_weights, "RIS_SERVE": "off"}
        alone = ris(off, "search", AOC_PHOTO, "--json", "--data-dir", data)
        assert served.returncode == alone.returncode == 0, served.stderr
        assert served.stdout == alone.stdout and server.answered() == 1
        assert '"score": 1.0' in served.stdout  # the photo finds itself: same weights both ways
    finally:
        server.stop()


def test_without_peer_credentials_the_private_folder_is_the_check(tmp_path, monkeypatch):
    """macOS has no SO_PEERCRED: asking and serving still work (the folder is 0700)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delattr(resident.socket, "SO_PEERCRED", raising=False)
    server_files = resident.ServerFiles.of(tmp_path / "data", create=True)
    assert server_files is not None
    server = resident.Server(make_settings(tmp_path / "data"), lambda *a: 0, idle=60)
    thread = serving(server, server_files)
    assert resident.stop(tmp_path / "data")  # a request went through and was obeyed
    thread.join(10)
    assert not thread.is_alive()
