"""A decoder that dies never hangs a run, and no decoder outlives the run that started it.

Each test kills real processes: the decoding worker (SIGKILL, as the kernel's out-of-memory
killer does, and SIGSEGV, as a crash in a native decoder does), halfway through sending a
multi-megabyte message of frames, and `ris index` itself (SIGKILL, SIGTERM).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.media.decoding import Decoder
from engine.media.finding import MediaFile
from engine.media.sampling import SampleOptions
from engine.vocabulary import MediaKind
from tests.conftest import AOC_CLIPS, HAMILTON, VIDEOS, copy_media, run_ris

LONG = VIDEOS / "unlabeled" / "KwaiVGI_LivePortrait" / "driving" / "d6.mp4"  # 33.6 s


def media(path: Path) -> MediaFile:
    st = path.stat()
    return MediaFile(path, MediaKind.VIDEO, st.st_size, st.st_mtime_ns)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def workers_of(pid: int) -> list[int]:
    """Decoding workers started by process `pid` (their command line names it), still alive."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"engine.media.decode_worker" in argv
            and str(pid).encode() in argv
            and alive(int(entry.name))
        ):
            found.append(int(entry.name))
    return found


def wait_for(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV], ids=["SIGKILL", "SIGSEGV"])
def test_a_decoder_killed_mid_message_fails_that_file_only(sig: signal.Signals):
    # two frames of 1280x720 per message: 5.5 MB, far more than a pipe holds, so the worker is
    # blocked halfway through writing one when it dies
    decoder = Decoder(SampleOptions(chunk=2), timeout=60, read_ahead=1)
    outcome: dict[str, str] = {}
    killed: list[int] = []
    started = time.monotonic()
    for ev in decoder.decode([media(HAMILTON), media(AOC_CLIPS[2])]):
        if ev.info is not None and not killed:
            (pid,) = decoder.pids()
            os.kill(pid, sig)
            killed.append(pid)
        if ev.done or ev.error:
            outcome[ev.file.path.name] = ev.error or "done"
    assert time.monotonic() - started < 60  # no waiting out a timeout: the death is seen
    assert (
        outcome[HAMILTON.name]
        == f"the decoder crashed on this file (killed by {sig.name}); skipped"
    )
    assert outcome[AOC_CLIPS[2].name] == "done"  # a fresh worker took the next file
    assert not alive(killed[0]) and decoder.pids() == []
    assert workers_of(os.getpid()) == []


def test_several_workers_decode_every_file_alike_each_in_order():
    files = [media(p) for p in (HAMILTON, *AOC_CLIPS)]

    def per_file(events):
        out: dict[Path, list] = {}
        for e in events:
            out.setdefault(e.file.path, []).append(e)
        return out

    one = per_file(Decoder(SampleOptions(), workers=1).decode(files))
    three = per_file(Decoder(SampleOptions(), workers=3).decode(files))
    assert list(one) == [f.path for f in files]  # one worker: file after file
    assert set(three) == set(one)
    for path, events in one.items():
        theirs = three[path]
        assert [(e.info, e.done, e.error) for e in theirs] == [
            (e.info, e.done, e.error) for e in events
        ]
        assert theirs[-1].done  # each file's events end with its end
        frames = [e.chunk.frames for e in events if e.chunk is not None]
        assert all(
            (a == b).all()
            for a, b in zip(frames, [e.chunk.frames for e in theirs if e.chunk], strict=True)
        )
    assert workers_of(os.getpid()) == []


def test_a_long_file_holds_up_no_other():
    """Files are decoded side by side: short files given after a long one finish first (but
    the one already queued behind it on its own worker)."""
    files = [media(p) for p in (LONG, *AOC_CLIPS)]
    ends = [e.file.path for e in Decoder(SampleOptions(rate=8), workers=2).decode(files) if e.done]
    assert set(ends) == {f.path for f in files}
    assert ends.index(LONG) >= len(AOC_CLIPS) - 1  # the other worker went on meanwhile
    assert workers_of(os.getpid()) == []


def _start_index(tmp_path: Path, ris_env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    media_dir, data = tmp_path / "media", tmp_path / "data"
    copy_media(media_dir, LONG, AOC_CLIPS[2])
    # 8 samples/s: the long clip's frames far outnumber what the pipe and read-ahead hold, so
    # seconds in, its worker is still busy with it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.frontends.cli",
            "index",
            str(media_dir),
            "--sample-rate",
            "8",
        ]
        + ["--data-dir", str(data)],
        env=ris_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # ctrl+c's SIGINT as a terminal delivers it: a suite started in the background by a
        # shell (without job control) hands its children SIGINT ignored, and Python then
        # installs no handler for it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert wait_for(lambda: workers_of(proc.pid), 60), "no decoding worker started"
    return proc, data


@pytest.mark.slow
def test_ris_index_finishes_when_its_decoder_crashes(tmp_path: Path, ris_env: dict[str, str]):
    proc, data = _start_index(tmp_path, ris_env)
    time.sleep(4)  # the models load and detection starts; the worker waits mid-file on the pipe
    (worker,) = workers_of(proc.pid)
    os.kill(worker, signal.SIGSEGV)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "the decoder crashed on this file (killed by SIGSEGV)" in err
    assert "indexed 1 file " in err and "1 failed" in err
    assert workers_of(proc.pid) == []
    st = json.loads(run_ris(ris_env, "status", "--json", "--data-dir", str(data)).stdout)
    assert [Path(f["path"]).name for f in st["failed"]] == [f"driving_{LONG.name}"]
    # the lock is released: the next run goes ahead and tries the file again
    media_dir = str(tmp_path / "media")
    again = run_ris(ris_env, "index", media_dir, "--retry-failed", "--data-dir", str(data))
    assert again.returncode == 0, again.stderr
    assert "indexed 1 file " in again.stderr and "0 failed" in again.stderr


@pytest.mark.slow
def test_no_decoder_outlives_a_killed_ris_index(tmp_path: Path, ris_env: dict[str, str]):
    proc, _ = _start_index(tmp_path, ris_env)
    workers = workers_of(proc.pid)
    proc.kill()
    proc.communicate(timeout=30)
    assert wait_for(lambda: not any(alive(w) for w in workers), 2.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "says"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
def test_sigterm_stops_ris_index_like_ctrl_c(
    tmp_path: Path, ris_env: dict[str, str], sig: signal.Signals, code: int, says: str
):
    proc, data = _start_index(tmp_path, ris_env)
    workers = workers_of(proc.pid)
    time.sleep(4)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"ris: {says}; finished files are kept" in err and "Traceback" not in err
    assert not any(alive(w) for w in workers)
    from engine.library.catalog import Catalog

    saved = json.loads((data / "faces.json").read_text())
    catalog = Catalog(data / "catalog.sqlite")
    assert saved["version"] == catalog.version and saved["count"] == catalog.face_count()
    catalog.close()
