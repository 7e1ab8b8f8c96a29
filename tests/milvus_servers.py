"""Milvus servers for the tests, started by them: Milvus Lite in server mode (a gRPC server that
several processes reach, as they would a Milvus server) and the PyPI `milvus` 2.3 standalone
server (a real Milvus, which keeps every insert of a key as another row: Milvus Lite does
not, so only it shows duplicated vectors)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the Milvus server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"no Milvus server on port {port} after {timeout:g} s")


class MilvusLiteServer:
    """`python -m milvus_lite server` on a free local port, its data in a temporary folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ris-milvus-lite-"))
        self.port = free_port()
        self.log = open(self.folder / "server.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.folder / "d")]
            + ["--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        _wait_for_port(self.port, self.proc, 60)
        self.uri = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class MilvusStandalone:
    """The `milvus` package's embedded Milvus 2.3 server on a free local port."""

    @staticmethod
    def unavailable() -> str | None:
        try:
            import milvus  # noqa: F401
        except ImportError:
            return "the PyPI `milvus` server package is not installed (pip install milvus==2.3.5)"
        return None

    def __init__(self) -> None:
        from milvus import MilvusServer

        self.folder = Path(tempfile.mkdtemp(prefix="ris-milvus-"))
        self.server = MilvusServer()
        self.server.set_base_dir(str(self.folder))
        self.server.listen_port = self.port = free_port()
        self.server.start()
        _wait_for_port(self.port, None, 120)
        self.uri = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
