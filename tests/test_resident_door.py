"""The resident engine's door (issue 26, section 4): a server started by RIS_SERVE=auto serves
the command that started it, flag or variable; three first commands at once load the models
once; the server itself takes only what it serves, in the shape a command sends it, within a
size and a deadline; weights replaced under it never make it answer otherwise than a command
in-process would; a runtime folder it cannot use is said in one line with the fix.

The door's own checks run against a server in a thread of this process with a stand-in
answer (no models: they are about the socket); the rest are real processes, as users run them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.frontends import cli, resident
from tests.conftest import AOC_PHOTO, LMM_PHOTO, WEIGHTS, copy_media, make_settings, run_ris
from tests.test_resident import Served, serving


@pytest.fixture
def door(tmp_path, monkeypatch):
    """A server in this process for a library under tmp_path, answering through a recorder."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    server_files = resident.ServerFiles.of(tmp_path / "data", create=True)
    assert server_files is not None
    asked: list[list[str]] = []

    def answer(server, argv, env):  # type: ignore[no-untyped-def]
        asked.append(argv)
        print("answered")
        return 0

    server = resident.Server(make_settings(tmp_path / "data"), answer, idle=60)
    thread = serving(server, server_files)
    yield server_files, asked
    resident.stop(tmp_path / "data")
    thread.join(10)
    assert not thread.is_alive()


def exchange(server_files: resident.ServerFiles, payload: bytes, timeout: float = 10) -> list[dict]:
    """Send raw bytes as a request; the messages the server sends back until it closes."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    conn.connect(str(server_files.socket))
    conn.sendall(payload)
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    conn.close()
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def request(argv: list[str], **extra: object) -> bytes:
    message = {"code": resident.code_id(), "argv": argv, "cwd": os.getcwd(), "env": {}, **extra}
    return json.dumps(message).encode() + b"\n"


def test_a_request_in_the_shape_of_a_command_is_answered(door):
    server_files, asked = door
    replies = exchange(server_files, request(["status"]))
    assert replies[0] == {"accepted": True} and replies[-1]["exit"] == 0
    assert asked == [["status"]]


@pytest.mark.parametrize("command", ["index", "check", "repair", "migrate", "serve", "eval"])
def test_the_server_itself_refuses_what_it_does_not_serve(door, command):
    server_files, asked = door
    replies = exchange(server_files, request([command, "/tmp"]))
    assert len(replies) == 1 and "not served" in replies[0]["bypass"]
    assert asked == []


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps({"argv": "status", "cwd": "/", "env": {}}),
        json.dumps({"argv": ["status"], "cwd": "/", "env": {"LD_PRELOAD": "/tmp/x.so"}}),
        json.dumps({"argv": ["status"], "cwd": 7, "env": {}}),
        json.dumps(["status"]),
        "not json at all",
    ],
    ids=["argv-not-a-list", "other-variables", "cwd-not-text", "not-an-object", "not-json"],
)
def test_a_request_of_another_shape_is_refused(door, payload):
    server_files, asked = door
    replies = exchange(server_files, payload.encode() + b"\n")
    assert all("accepted" not in r for r in replies) and asked == []


def test_json_nested_past_the_parser_is_refused_without_a_traceback(door, monkeypatch):
    server_files, asked = door
    died: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    assert exchange(server_files, b"[" * 200_000 + b"\n") == []
    assert exchange(server_files, b'{"argv": ' + b"[" * 200_000 + b"\n") == []
    assert died == [] and asked == []
    assert exchange(server_files, request(["status"]))[-1]["exit"] == 0  # still serving


def test_a_request_larger_than_the_cap_is_cut_off(door):
    server_files, asked = door
    huge = request(["search", "x" * (resident.MAX_REQUEST * 4)])
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(10)
    conn.connect(str(server_files.socket))
    with contextlib.suppress(OSError):  # closed before it had all: a broken pipe or a reset
        conn.sendall(huge)  # the server stops reading past the cap and closes
    try:
        got = conn.recv(10)
    except ConnectionResetError:
        got = b""
    conn.close()
    assert got == b"" and asked == []


def test_slow_clients_are_cut_off_at_the_deadline_and_hold_no_threads(door, monkeypatch):
    server_files, asked = door
    monkeypatch.setattr(resident, "REQUEST_DEADLINE", 1.0)
    before = threading.active_count()
    slow = []
    for _ in range(resident.MAX_CONNECTIONS + 20):  # more than it takes at once
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(str(server_files.socket))
        with contextlib.suppress(OSError):  # one over the limit may be closed at once (EPIPE)
            conn.sendall(b"{")
        slow.append(conn)
    for _ in range(4):  # a byte now and then: each arrives before any per-read timeout
        time.sleep(0.4)
        for conn in slow:
            with contextlib.suppress(OSError):  # already cut off
                conn.sendall(b" ")
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threading.active_count() <= before, "handler threads outlived the deadline"
    for conn in slow:
        conn.settimeout(2)
        with contextlib.suppress(ConnectionResetError):
            assert conn.recv(10) == b""  # closed by the server, nothing sent
        conn.close()
    assert asked == []
    assert exchange(server_files, request(["status"]))[-1]["exit"] == 0


def test_a_runtime_folder_too_long_for_a_socket_falls_back_to_a_short_one(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    server_files = resident.ServerFiles.of(tmp_path / "data", create=True)
    assert server_files is not None
    assert len(os.fsencode(server_files.socket)) <= resident.SOCKET_PATH_MAX
    assert server_files.socket.parent == Path(f"/tmp/ris-{os.getuid()}")


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a folder of another user")
def test_a_sockets_folder_of_another_user_is_named_with_the_fix(tmp_path, monkeypatch, capsys):
    taken = tmp_path / "ris-taken"
    taken.mkdir(mode=0o700)
    os.chown(taken, 65534, 65534)  # nobody's, as if made first by another user
    monkeypatch.setattr(resident, "runtime_dir", lambda: taken)
    code = cli.main(["serve", "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "belongs to another user (uid 65534)" in err and "XDG_RUNTIME_DIR" in err
    assert taken.stat().st_uid == 65534  # never touched


@pytest.fixture
def small_library(tmp_path, ris_env, monkeypatch):
    """A library of two photos indexed with a copy of the weights; the environment names no
    weights, so each test says how it passes them."""
    media, data = tmp_path / "media", tmp_path / "data"
    copy_media(media, AOC_PHOTO, LMM_PHOTO)
    weights = tmp_path / "weights" / "casia.pt"
    weights.parent.mkdir()
    shutil.copyfile(WEIGHTS, weights)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in ris_env.items() if k != "RIS_FACENET_WEIGHTS"}
    env["XDG_RUNTIME_DIR"] = str(runtime)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # this process finds the same sockets
    run = run_ris(env, "index", str(media), "--data-dir", str(data), "--weights", str(weights))
    assert run.returncode == 0, run.stderr
    return data, weights, env


def wait_for_log(server_files: resident.ServerFiles, text: str, seconds: float = 120) -> str:
    end = time.monotonic() + seconds
    while True:
        shown = server_files.log.read_text() if server_files.log.exists() else ""
        if text in shown:
            return shown
        assert time.monotonic() < end, f"{text!r} never logged:\n{shown}"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flag", "variable"])
def test_ris_serve_auto_serves_the_command_that_started_it(small_library, how):
    """With --weights, the auto-started server was started without it and left every later
    command to itself ("other settings: weights")."""
    data, weights, env = small_library
    env = {**env, "RIS_SERVE": "auto", "RIS_SERVE_IDLE": "30"}
    args = ["search", str(AOC_PHOTO), "--json", "--data-dir", str(data)]
    if how == "flag":
        args += ["--weights", os.path.relpath(weights)]  # as typed, relative to the folder
    else:
        env["RIS_FACENET_WEIGHTS"] = str(weights)
    server_files = resident.ServerFiles.of(data, create=True)
    assert server_files is not None
    try:
        first = run_ris(env, *args)
        assert first.returncode == 0, first.stderr
        wait_for_log(server_files, "serving")
        second = run_ris(env, *args)
        log = server_files.log.read_text()
        assert second.returncode == 0 and second.stdout == first.stdout
        assert "answered `search`" in log and "left to the command" not in log, log
    finally:
        run_ris(env, "serve", "--stop", "--data-dir", str(data))


@pytest.mark.slow
def test_the_same_weights_by_another_path_are_served(small_library):
    """A server started with the variable answers a command naming the same file by --weights,
    through a link: the weights are keyed by what they are."""
    data, weights, env = small_library
    link = weights.parent / "link.pt"
    link.symlink_to(weights)
    copy = weights.parent / "copy.pt"
    shutil.copyfile(weights, copy)
    server = Served({**env, "RIS_FACENET_WEIGHTS": str(weights)}, data)
    try:
        for other in (link, copy):
            args = ["search", str(AOC_PHOTO), "--json", "--data-dir", str(data)]
            served = run_ris(env, *args, "--weights", str(other))
            alone = run_ris({**env, "RIS_SERVE": "off"}, *args, "--weights", str(other))
            assert served.returncode == 0 and served.stdout == alone.stdout
        assert server.answered() == 2, server.text()
    finally:
        server.stop()


@pytest.mark.slow
def test_three_first_commands_at_once_load_the_models_once(small_library):
    data, weights, env = small_library
    env = {**env, "RIS_SERVE": "auto", "RIS_SERVE_IDLE": "20", "RIS_FACENET_WEIGHTS": str(weights)}
    args = [
        sys.executable,
        "-m",
        "engine.frontends.cli",
        "search",
        str(AOC_PHOTO),
        "--data-dir",
        str(data),
    ]
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL) for _ in range(3)]
    server_files = resident.ServerFiles.of(data, create=True)
    assert server_files is not None
    try:
        assert all(p.wait(300) == 0 for p in procs)
        log = wait_for_log(server_files, "serving")
        time.sleep(2)  # any other server started meanwhile has had time to give up, or load
        log = server_files.log.read_text()
        assert log.count("loading the models") == 1, log
        assert log.count("serving ") == 1, log
    finally:
        run_ris(env, "serve", "--stop", "--data-dir", str(data))


@pytest.mark.slow
def test_weights_replaced_under_the_server_are_refused_as_in_process(small_library):
    """Served answers went on (exit 0) after the weights file was replaced at the same path,
    while a command in-process refused it (exit 2: other weights)."""
    import torch

    data, weights, env = small_library
    env = {**env, "RIS_FACENET_WEIGHTS": str(weights)}
    server = Served(env, data)
    try:
        args = ["search", str(AOC_PHOTO), "--json", "--data-dir", str(data)]
        before = run_ris(env, *args)
        assert before.returncode == 0 and server.answered() == 1
        state = torch.load(weights, map_location="cpu", weights_only=True)
        first = next(k for k, v in state.items() if v.dtype.is_floating_point and v.dim() == 4)
        state[first] = state[first] * 1.5
        torch.save(state, weights.with_name("new.pt"))
        os.replace(weights.with_name("new.pt"), weights)  # the same path, other weights
        served = run_ris(env, *args)
        alone = run_ris({**env, "RIS_SERVE": "off"}, *args)
        assert alone.returncode == 2 and "other FaceNet weights" in alone.stderr
        assert (served.returncode, served.stdout, served.stderr) == (
            alone.returncode,
            alone.stdout,
            alone.stderr,
        )
    finally:
        server.stop()
