"""The resident engine: `ris serve` keeps the models and the library open and answers the
read-only commands (`search`, `status`, `faces`) of `ris` processes over a local socket.

A command sends its arguments, working folder and RIS_* variables; the server runs the very
code a command runs in-process, in that folder, and sends back its exit code, stdout and
stderr, so the answer is the same byte for byte. Nothing depends on it: whenever the server is
missing, dead, stopped, busy for long, running other code, set up otherwise or failing, the
command is told nothing and runs in-process (`ask` returns None).

One server per data directory and user: its socket lives in a folder only the user can open
(`$XDG_RUNTIME_DIR/ris`, else `/tmp/ris-UID`), is itself private, and the peer's user is
checked on both ends. It exits after `idle` seconds without a request. It notices a library
rebuilt or re-indexed: a new catalog file gets a new engine (the models are kept if the weights
are the same), and each search catches the vectors up with the catalog's version first.

This module imports only the standard library at the top: asking costs a `ris` process
nothing it would not spend anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from engine.api import Engine
    from engine.models.face_models import FaceModels
    from engine.settings import Settings

SERVED = ("search", "status", "faces")  # read-only commands a server answers
PER_REQUEST = ("threshold", "possible_margin", "top")  # settings a request may choose itself
DEFAULT_IDLE = 900.0  # seconds without a request before a server exits (RIS_SERVE_IDLE)
ACCEPT_TIMEOUT = 1.5  # seconds for a server to take a request (a stopped one never does)
BEAT = 0.5  # seconds between a working server's signs of life
SILENCE = 10.0  # seconds without one before the command gives up on the server
BUSY_WAIT = 2.0  # seconds a request waits behind another before it runs in-process instead
MODES = ("on", "off", "auto")  # RIS_SERVE: use a running server (on), never, or start one
MAX_REQUEST = 1 << 20  # bytes of one request (arguments, folder, RIS_* variables)
REQUEST_DEADLINE = 5.0  # seconds a connection has to send its whole request
MAX_CONNECTIONS = 32  # requests handled at once; more are closed at once
SOCKET_PATH_MAX = 107  # bytes of a Unix socket's path (sun_path holds 108 with its NUL)
# the flags of a command that choose its engine: an auto-started server is given the same
STARTING_FLAGS = ("catalog", "weights", "device", "backend", "milvus_uri", "milvus_collection")


class RunInProcess(Exception):
    """The server will not answer this request; the command runs in-process."""


# where ---------------------------------------------------------------------------------------
def runtime_dir() -> Path:
    """$XDG_RUNTIME_DIR/ris, or /tmp/ris-UID where that is unset, missing or too long for a
    socket's path (Unix sockets take about 107 bytes)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        folder = Path(base) / "ris"
        if len(os.fsencode(folder / f"{'0' * 16}.sock")) <= SOCKET_PATH_MAX:
            return folder
    return Path("/tmp") / f"ris-{os.getuid()}"


def why_not_private() -> str:
    """What is wrong with the sockets' folder when `private_dir` refuses it, in words."""
    folder = runtime_dir()
    try:
        st = folder.lstat()
    except OSError as err:
        return f"{folder} cannot be made: {err.strerror}"
    import stat

    if st.st_uid != os.getuid():
        return f"{folder} belongs to another user (uid {st.st_uid}): ris never uses it"
    if not stat.S_ISDIR(st.st_mode):
        return f"{folder} is not a folder"
    return f"{folder} is open to other users (mode {stat.S_IMODE(st.st_mode):o})"


def private_dir(create: bool) -> Path | None:
    """The folder of the sockets, if it is the user's own and closed to others (else None)."""
    folder = runtime_dir()
    if create:
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700, parents=False)
    try:
        st = folder.lstat()
    except OSError:
        return None
    import stat

    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return folder


def library_key(data_dir: Path) -> str:
    return hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ServerFiles:
    """A server's files for one data directory."""

    socket: Path
    lock: Path
    log: Path

    @classmethod
    def of(cls, data_dir: Path, create: bool = False) -> ServerFiles | None:
        folder = private_dir(create)
        if folder is None:
            return None
        key = library_key(data_dir)
        return cls(folder / f"{key}.sock", folder / f"{key}.lock", folder / f"{key}.log")


def code_id() -> str:
    """What the running code is: ris's version and its engine files' sizes and times. A server
    started before an upgrade or an edit answers nothing (it could answer differently)."""
    from engine import __version__

    root = Path(__file__).resolve().parents[1]  # the engine package, every wing
    parts = [__version__, sys.version]
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _peer_uid(conn: socket.socket) -> int:
    """The user id of the process at the other end (Linux's SO_PEERCRED). Where a system has
    no such option (macOS), the private folder is the check: this user's id is returned."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return os.getuid()
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


# the command's side --------------------------------------------------------------------------
def mode() -> str:
    value = os.environ.get("RIS_SERVE", "on").strip().lower() or "on"
    return value if value in MODES else "on"


def ask(
    data_dir: Path, argv: list[str], out: TextIO, err: TextIO, flags: list[str] | None = None
) -> int | None:
    """The command's exit code, its output written to `out` and `err`, if a server of this
    library answered it; None if the command must run in-process (nothing was written).
    `flags` are the command's engine flags, for a server RIS_SERVE=auto starts."""
    how = mode()
    if how == "off":
        return None
    server_files = ServerFiles.of(data_dir)
    answer = (
        _ask(server_files, argv)
        if server_files is not None and server_files.socket.exists()
        else None
    )
    if answer is None:
        if how == "auto":
            start(data_dir, flags)
        return None
    code, stdout, stderr = answer
    err.write(stderr)
    err.flush()
    out.write(stdout)
    out.flush()
    return code


def _ask(server_files: ServerFiles, argv: list[str]) -> tuple[int, str, str] | None:
    request = {
        "code": code_id(),
        "argv": argv,
        "cwd": os.getcwd(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("RIS_")},
    }
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(ACCEPT_TIMEOUT)
        try:
            conn.connect(str(server_files.socket))
        except ConnectionRefusedError:  # a server that died: its socket is left behind
            with contextlib.suppress(OSError):
                server_files.socket.unlink()
            return None
        if _peer_uid(conn) != os.getuid():
            return None
        _send(conn, request)
        reader = conn.makefile("rb")
        first = _read(reader)
        if not first or not first.get("accepted"):
            return None
        conn.settimeout(SILENCE)
        while True:
            message = _read(reader)
            if message is None or "bypass" in message:
                return None
            if "exit" in message:
                return int(message["exit"]), str(message["out"]), str(message["err"])
    except (OSError, ValueError):
        return None
    finally:
        conn.close()


def _read(reader: io.BufferedReader) -> dict[str, Any] | None:
    line = reader.readline()
    if not line:
        return None
    message = json.loads(line)
    return message if isinstance(message, dict) else None


def running(data_dir: Path) -> bool:
    """Whether a server holds this library (started or starting)."""
    from engine.library.lock import held

    server_files = ServerFiles.of(data_dir)
    return server_files is not None and held(server_files.lock)


def start(data_dir: Path, flags: list[str] | None = None) -> bool:
    """Start a server for this library in the background (RIS_SERVE=auto), unless one runs,
    with the flags that chose the starting command's engine (`--weights W`...), so that it
    answers that command from the next one on."""
    server_files = ServerFiles.of(data_dir, create=True)
    if server_files is None or running(data_dir):
        return False
    command = [
        sys.executable,
        "-m",
        "engine.frontends.cli",
        "serve",
        "--data-dir",
        str(data_dir.resolve()),
    ]
    with server_files.log.open("a") as log:
        subprocess.Popen(
            command + (flags or []),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[2],  # the project: engine importable
        )
    return True


def stop(data_dir: Path) -> bool:
    """Ask this library's server to exit; True if one was running and said it would."""
    server_files = ServerFiles.of(data_dir)
    if server_files is None or not server_files.socket.exists():
        return False
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(ACCEPT_TIMEOUT)
        conn.connect(str(server_files.socket))
        _send(conn, {"stop": True})
        reply = _read(conn.makefile("rb"))
        return bool(reply and reply.get("stopping"))
    except (OSError, ValueError):
        return False
    finally:
        conn.close()


# the server's side ---------------------------------------------------------------------------
Answer = Callable[["Server", list[str], dict[str, str]], int]


class Server:
    """Answers requests for one data directory, one at a time, with one engine.

    `answer(server, argv, env)` runs a command as `ris` would (the CLI's code) and returns its
    exit code; it gets its engine from `server.engine_for(settings)`, which raises RunInProcess
    when the request's settings are not the server's.
    """

    def __init__(
        self,
        settings: Settings,
        answer: Answer,
        idle: float = DEFAULT_IDLE,
        say: Callable[[str], None] = lambda text: None,
        notify: Callable[[str], None] = lambda text: None,
    ) -> None:
        """`say` is the server's log; `notify` the engine's messages, as a command gets them."""
        self.data_dir = settings.data_dir.resolve()
        self.settings = replace(settings, data_dir=self.data_dir)
        self._mine = self._key(self.settings)
        self._answer = answer
        self.idle = idle
        self._say = say
        self._notify = notify
        self.code = code_id()
        self._work = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stopping = threading.Event()
        self._last = time.monotonic()
        self._engine: Engine | None = None
        self._catalog_identity: tuple[int, int] | None = None
        self._models: FaceModels | None = None

    # engine ------------------------------------------------------------------------------
    def _key(self, settings: Settings) -> Settings:
        """What must match for the server's engine to answer as an in-process one would: the
        weights by what they are (their sha256), not by the path that named them."""
        weights: Any = settings.weights.expanduser().resolve() if settings.weights else None
        if weights is not None:
            from engine.models.weights import file_weights

            with contextlib.suppress(Exception):  # missing: the command says so in-process
                weights = file_weights(weights).id
        blank: dict[str, Any] = {name: None for name in PER_REQUEST}
        return replace(settings, data_dir=settings.data_dir.resolve(), weights=weights, **blank)

    def engine_for(self, settings: Settings) -> Engine:
        """The engine, with the request's settings, fresh for the library as it is on disk."""
        mine, theirs = self._mine, self._key(settings)
        if mine != theirs:
            differ = [
                f.name for f in fields(mine) if getattr(mine, f.name) != getattr(theirs, f.name)
            ]
            raise RunInProcess(f"other settings: {', '.join(differ)}")
        engine = self._fresh_engine()
        engine.settings = settings
        if not engine.models_current():  # the weights file was replaced under the models
            self._say("the weights changed on disk: models dropped, to be loaded anew")
            self._models = None
            self._engine = None
            engine.close()
            raise RunInProcess("the weights changed since the models were loaded")
        return engine

    def _fresh_engine(self) -> Engine:
        from engine.api import Engine

        try:
            st = self.settings.catalog_path.stat()
            identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            identity = None
        if self._engine is not None and identity == self._catalog_identity:
            return self._engine
        if self._engine is not None:  # rebuilt, or removed: start again on what is there now
            self._say(f"the catalog changed on disk ({self.settings.catalog_path}): reopened")
            self._engine.close()
        engine = Engine(self.settings, notify=self._notify)
        if self._models is not None:
            engine.share_models(self._models)
        self._engine, self._catalog_identity = engine, identity
        return engine

    def warm(self) -> str:
        """Load the models and open the library now; the device they run on."""
        engine = self._fresh_engine()
        device = engine.load_models()
        self._models = engine.models
        with contextlib.suppress(Exception):  # a damaged library: each request says so
            engine.open_library()
        return device

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()

    # serving -----------------------------------------------------------------------------
    def serve(
        self,
        server_files: ServerFiles,
        warm: Callable[[], None] = lambda: None,
        ready: Callable[[], None] = lambda: None,
    ) -> None:
        """Claim the library, then `warm` (load the models), then listen (and say `ready`)
        until idle for `idle` seconds or stopped (SIGTERM, SIGINT, `ris serve --stop`). Only
        one server holds a library: another one started meanwhile exits before it loads
        anything."""
        with server_files.lock.open("a") as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunInProcess("another server already serves this library") from None
            warm()
            with contextlib.suppress(FileNotFoundError):
                server_files.socket.unlink()
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old_mask = os.umask(0o177)
            try:
                listener.bind(str(server_files.socket))
            except OSError as err:
                listener.close()
                raise RunInProcess(
                    f"cannot listen on {server_files.socket}: {err.strerror or err}"
                ) from None
            finally:
                os.umask(old_mask)
            os.chmod(server_files.socket, 0o600)
            mine = server_files.socket.stat().st_ino
            listener.listen(16)
            ready()
            self._last = time.monotonic()
            listener.settimeout(1.0)
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, lambda *_: self._stopping.set())
            try:
                while not self._stopping.is_set():
                    try:
                        conn, _ = listener.accept()
                    except TimeoutError:
                        idle = time.monotonic() - self._last
                        if not self._work.locked() and idle > self.idle:
                            self._say(f"idle for {self.idle:.0f} s: exiting")
                            break
                        continue
                    except InterruptedError:
                        continue
                    if not self._slots.acquire(blocking=False):
                        conn.close()  # as many requests as it takes at once: the command
                        continue  # runs in-process
                    threading.Thread(target=self._handle, args=(conn,), daemon=True).start()
            finally:
                listener.close()
                with contextlib.suppress(OSError):
                    if server_files.socket.stat().st_ino == mine:  # not a successor's
                        server_files.socket.unlink()
                self.close()

    def _handle(self, conn: socket.socket) -> None:
        try:
            with conn:
                if _peer_uid(conn) != os.getuid():  # the socket is private; this is a backstop
                    return
                request = _read_request(conn)
                if request is None:
                    return
                conn.settimeout(None)
                if request.get("stop") is True:
                    _send(conn, {"stopping": True})
                    self._stopping.set()
                    return
                why = _unserved(request)
                if why:
                    _send(conn, {"bypass": why})
                    self._say(f"refused a request: {why}")
                    return
                _send(conn, {"accepted": True})
                self._last = time.monotonic()
                self._reply(conn, request)
                self._last = time.monotonic()
        except (OSError, ValueError, RecursionError):
            return
        finally:
            self._slots.release()

    def _reply(self, conn: socket.socket, request: dict[str, Any]) -> None:
        if request.get("code") != self.code:
            _send(conn, {"bypass": "the server runs other code (ris was updated): exiting"})
            self._say("a command of other code asked: exiting, to be started anew")
            self._stopping.set()
            return
        beating = threading.Event()
        gone = threading.Event()
        sending = threading.Lock()

        def beat() -> None:
            while not beating.wait(BEAT):
                try:
                    with sending:
                        _send(conn, {"beat": True})
                except OSError:
                    gone.set()
                    return

        pulse = threading.Thread(target=beat, daemon=True)
        pulse.start()
        try:
            if not self._work.acquire(timeout=BUSY_WAIT):
                message: dict[str, Any] = {"bypass": "busy with another request"}
            else:
                try:
                    message = self._run(request, gone)
                finally:
                    self._work.release()
        finally:
            beating.set()
            pulse.join()
        with contextlib.suppress(OSError):
            _send(conn, message)

    def _run(self, request: dict[str, Any], gone: threading.Event) -> dict[str, Any]:
        out, err = _Output(gone), _Output(gone)
        here, began = os.getcwd(), time.perf_counter()
        try:
            os.chdir(request["cwd"])
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = self._answer(self, list(request["argv"]), dict(request["env"]))
            if self._engine is not None and self._engine.models is not None:
                self._models = self._engine.models  # loaded anew for other weights
        except RunInProcess as why:
            self._say(f"left to the command: {why}")
            return {"bypass": str(why)}
        except Exception as bug:  # noqa: BLE001 - the command in-process says it best
            self._say(f"request failed ({type(bug).__name__}: {bug}): left to the command")
            return {"bypass": f"{type(bug).__name__}"}
        finally:
            os.chdir(here)
        seconds = time.perf_counter() - began
        self._say(f"answered `{' '.join(request['argv'][:1])}` in {seconds:.2f} s (exit {code})")
        return {"exit": code, "out": out.getvalue(), "err": err.getvalue()}


def _read_request(conn: socket.socket) -> dict[str, Any] | None:
    """One request line, read whole within REQUEST_DEADLINE and MAX_REQUEST bytes (a client
    sending a byte a second, or without end, is cut off); None for anything else."""
    deadline = time.monotonic() + REQUEST_DEADLINE
    data = bytearray()
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or len(data) > MAX_REQUEST:
            return None
        conn.settimeout(left)
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    if len(data) > MAX_REQUEST + 1:
        return None
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):  # not JSON, or nested past what json can parse
        return None
    return message if isinstance(message, dict) else None


def _unserved(request: dict[str, Any]) -> str | None:
    """Why the server will not run a request, or None: only the read-only commands, asked in
    the shape `ask` asks them, are run here (`index`, `check`, `repair` never are)."""
    argv, cwd, env = request.get("argv"), request.get("cwd"), request.get("env")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return "a request without its arguments"
    if not argv or argv[0] not in SERVED:
        return f"`{argv[0] if argv else ''}` is not served (only {', '.join(SERVED)})"[:200]
    if not isinstance(cwd, str) or not isinstance(env, dict):
        return "a request without its folder and variables"
    if not all(
        isinstance(k, str) and k.startswith("RIS_") and isinstance(v, str) for k, v in env.items()
    ):
        return "a request with variables other than RIS_* ones"
    return None


class _Output(io.StringIO):
    """A command's stdout or stderr, kept for the reply; writing fails once the asking command
    has gone (Ctrl-C), which stops a run of several queries as a closed pipe does."""

    def __init__(self, gone: threading.Event) -> None:
        super().__init__()
        self._gone = gone

    def write(self, text: str) -> int:
        if self._gone.is_set():
            raise BrokenPipeError("the command that asked has gone")
        return super().write(text)
