"""Shared fixtures: the real dev media and weights beside the project, and real indexes of them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RIS_SHARED", ROOT.parent / "shared")).resolve()
DEV = SHARED / "data" / "dev"
WEIGHTS = SHARED / "models" / "facenet" / "casia-webface-20180408-102900.pt"
VIDEOS = DEV / "videos"
IMAGES = DEV / "images"
AOC_PHOTO = IMAGES / "Alexandria_Ocasio-Cortez" / "tencent-ailab_V-Express" / "ref.jpg"
AOC_CLIPS = [
    VIDEOS
    / "Alexandria_Ocasio-Cortez"
    / "OpenTalker_SadTalker"
    / "WDA_AlexandriaOcasioCortez_000.mp4",
    VIDEOS / "Alexandria_Ocasio-Cortez" / "OpenTalker_video-retalking" / "3.mp4",
    VIDEOS / "Alexandria_Ocasio-Cortez" / "tencent-ailab_V-Express" / "gt.mp4",
]
HAMILTON = VIDEOS / "Lin-Manuel_Miranda" / "ageitgey_face_recognition" / "short_hamilton_clip.mp4"
LMM_PHOTO = IMAGES / "Lin-Manuel_Miranda" / "ageitgey_face_recognition" / "lin-manuel-miranda.png"
NO_FACE_VIDEO = VIDEOS / "no_faces" / "udacity_CarND-LaneLines-P1" / "solidWhiteRight.mp4"


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [p for p in (DEV, WEIGHTS) if not p.exists()]
    if missing:
        raise pytest.UsageError(
            f"the tests need the shared dev data and weights beside the project: missing {missing} "
            "(set RIS_SHARED to the folder that holds data/dev and models/facenet)"
        )


def kills(default: int) -> int:
    """How many seeded moments a fault-injection test kills at: `default` in the suite (CI has
    30 minutes on 2 cores), more with RIS_TEST_KILLS=N for a longer soak."""
    return int(os.environ.get("RIS_TEST_KILLS", default))


@pytest.fixture(scope="session")
def ris_env() -> dict[str, str]:
    """Environment for `ris` subprocesses: the local weights, no stray settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIS_")}
    env["RIS_FACENET_WEIGHTS"] = str(WEIGHTS)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def media_info(kind: str = "video", samples: int = 0, duration: float | None = None, step=None):  # type: ignore[no-untyped-def]
    """What decoding reports about a file, for tests that write the catalog directly."""
    from engine.media.sampling import MediaInfo
    from engine.vocabulary import MediaKind

    return MediaInfo(MediaKind(kind), 640, 360, duration, None, samples, step, 1.0)


def run_ris(env: dict[str, str], *args: str, timeout: float = 600, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    """`ris ARGS...` as a user runs it: a subprocess, output captured."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "engine.frontends.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def make_settings(data_dir: Path, **kw: object):  # type: ignore[no-untyped-def]
    from engine.settings import Settings

    return Settings.from_env(env={}, data_dir=data_dir, weights=WEIGHTS, **kw)


@pytest.fixture(scope="session")
def bad_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A truncated copy of a real video and a text file named .mp4."""
    folder = tmp_path_factory.mktemp("bad_media")
    data = HAMILTON.read_bytes()
    (folder / "truncated_hamilton.mp4").write_bytes(data[: len(data) // 3])
    (folder / "notes.mp4").write_text("this is a text file, not a video\n")
    return folder


@pytest.fixture(scope="session")
def dev_index(tmp_path_factory: pytest.TempPathFactory, bad_media: Path):  # type: ignore[no-untyped-def]
    """The whole dev library (videos, photos, the bad files), indexed once with the real models."""
    from engine.api import build_engine

    data_dir = tmp_path_factory.mktemp("dev_index")
    engine = build_engine(make_settings(data_dir))
    events = list(engine.index([VIDEOS, IMAGES, bad_media]))
    yield engine, events
    engine.close()


@pytest.fixture(scope="session")
def dev_index_milvus(tmp_path_factory: pytest.TempPathFactory, bad_media: Path):  # type: ignore[no-untyped-def]
    """The same library indexed from scratch into Milvus Lite (`--backend milvus`)."""
    from engine.api import build_engine

    data_dir = tmp_path_factory.mktemp("dev_index_milvus")
    settings = make_settings(data_dir, backend="milvus", milvus_uri=str(data_dir / "milvus.db"))
    engine = build_engine(settings)
    events = list(engine.index([VIDEOS, IMAGES, bad_media]))
    yield engine, events
    engine.close()


@pytest.fixture(params=["usearch", "milvus"])
def library(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The indexed dev library on each vector store in turn (engine, index events)."""
    return request.getfixturevalue(
        "dev_index" if request.param == "usearch" else "dev_index_milvus"
    )


def copy_media(dest: Path, *files: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        target = dest / f"{f.parent.name}_{f.name}"
        shutil.copy2(f, target)
        out.append(target)
    return out


def _served(server_class):  # type: ignore[no-untyped-def]
    """A test server for the session: skipped, saying why, where it cannot be had (its
    `unavailable()`), stopped at the end."""
    unavailable = getattr(server_class, "unavailable", None)
    why = unavailable() if unavailable else None
    if why:
        pytest.skip(why)
    server = server_class()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """A real PostgreSQL server for the session, from this machine's binaries (see
    tests/postgres_server.py); the tests that need it skip, saying why, where none can be had."""
    from tests.postgres_server import PostgresServer

    yield from _served(PostgresServer)


@pytest.fixture
def pg_uri(postgres) -> str:  # type: ignore[no-untyped-def]
    """The URI of a fresh, empty database on the session's PostgreSQL server."""
    return postgres.new_database()


@pytest.fixture(scope="session")
def milvus_lite_server():  # type: ignore[no-untyped-def]
    """Milvus Lite in server mode for the session: a Milvus URI several processes share."""
    from tests.milvus_servers import MilvusLiteServer

    yield from _served(MilvusLiteServer)


@pytest.fixture(scope="session")
def milvus_standalone():  # type: ignore[no-untyped-def]
    """A real Milvus 2.3 server (the PyPI `milvus` package) for the session."""
    from tests.milvus_servers import MilvusStandalone

    yield from _served(MilvusStandalone)
