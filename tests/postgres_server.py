"""A throwaway PostgreSQL server for the tests, started from this machine's own binaries.

`initdb` in a temporary folder, a unix socket there, no TCP. PostgreSQL refuses to run as root:
when the tests run as root (as CI does) the server runs as the `postgres` user (or `nobody`).
`PostgresServer.unavailable()` says why none can be had, for a skip with a reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def _bindir() -> Path | None:
    config = shutil.which("pg_config")
    if config:
        out = subprocess.run([config, "--bindir"], capture_output=True, text=True)
        found = Path(out.stdout.strip())
        if (found / "initdb").exists():
            return found
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return Path(dirs[-1]) if dirs and Path(dirs[-1], "initdb").exists() else None


def _server_user() -> str | None:
    """Who runs the server: this user, or an unprivileged one when this is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root, with no postgres or nobody user to run PostgreSQL as")


class PostgresServer:
    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL binaries (pg_config, /usr/lib/postgresql/*/bin)")
        self.bindir = bindir
        self.user = _server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="ris-pg-"))
        self.data = self.folder / "data"
        self.socket = self.folder  # a short path: a socket's name has a 107-byte limit
        self.superuser = self.user or pwd.getpwuid(os.geteuid()).pw_name
        self._as_user = ["runuser", "-u", self.user, "--"] if self.user else []
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        os.chmod(self.folder, 0o755)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            self.superuser,
            "--no-sync",
            "-E",
            "UTF8",
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            f"-c listen_addresses='' -k {self.socket} -c fsync=off -c max_connections=100",
            "-w",
            "-t",
            "60",
            "start",
        )

    def _run(self, *args: str) -> None:
        out = subprocess.run([*self._as_user, *args], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {out.stderr or out.stdout}")

    @staticmethod
    def unavailable() -> str | None:
        """Why no server can be started here, or None."""
        if _bindir() is None:
            return "no PostgreSQL binaries on this machine (apt-get install postgresql)"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg is not installed (pip install -e '.[dev]')"
        if os.geteuid() == 0 and not shutil.which("runuser"):
            return "running as root without runuser to start PostgreSQL unprivileged"
        return None

    def uri(self, database: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@/{database}?host={self.socket}"

    def new_database(self) -> str:
        """A fresh, empty database; its URI."""
        import psycopg

        name = "ris_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.uri(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.uri(name)

    def sql(self, uri: str, statement: str) -> None:
        import psycopg

        with psycopg.connect(uri, autocommit=True) as db:
            db.execute(statement)  # type: ignore[arg-type]

    def restart(self) -> None:
        """Stop the server (its clients' connections drop) and start it again."""
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),  # not our pipes: the server outlives this call
            "-w",
            "-m",
            "fast",
            "restart",
        )

    def stop(self) -> None:
        subprocess.run(
            [*self._as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate"]
            + ["-w", "stop"],
            capture_output=True,
        )
        time.sleep(0.1)
        shutil.rmtree(self.folder, ignore_errors=True)
