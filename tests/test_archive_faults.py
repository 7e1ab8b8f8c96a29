"""What real archives hold, through `ris` as a user runs it: names that are not UTF-8 or hold a
newline, folders that cannot be read, a library shared read-only.

Permissions are tested as an ordinary user would meet them: root reads everything, so when the
suite runs as root the commands under test run without root's override of file permissions
(setpriv drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AOC_PHOTO, HAMILTON, LMM_PHOTO, run_ris

pytestmark = pytest.mark.slow

_NO_OVERRIDE = "-dac_override,-dac_read_search"


def as_user(env: dict[str, str], *args: object) -> subprocess.CompletedProcess:
    """`ris ARGS` bound by file permissions, as an ordinary user is."""
    prefix = (
        ["setpriv", f"--bounding-set={_NO_OVERRIDE}", f"--inh-caps={_NO_OVERRIDE}"]
        if os.geteuid() == 0
        else []
    )
    return subprocess.run(
        [*prefix, sys.executable, "-m", "engine.frontends.cli", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def restore_modes():  # type: ignore[no-untyped-def]
    """Folders and files a test made unreadable or read-only, made writable again after it."""
    changed: list[Path] = []
    yield changed
    for path in changed:
        for sub in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.chmod(sub, 0o755 if sub.is_dir() else 0o644)


def test_names_that_are_not_utf8_or_hold_a_newline_are_indexed_found_and_shown(tmp_path, ris_env):
    media = tmp_path / "media"
    media.mkdir()
    video = media / os.fsdecode(b"caf\xe9 \xff hamilton.mp4")  # Latin-1 bytes, invalid UTF-8
    photo = media / os.fsdecode(b"lin\xe9.png")
    two_lines = media / "two\nlines.jpg"
    shutil.copy(HAMILTON, video)
    shutil.copy(LMM_PHOTO, photo)
    shutil.copy(AOC_PHOTO, two_lines)
    data = tmp_path / "data"

    run = run_ris(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "indexed 3 files" in run.stderr and "0 failed" in run.stderr

    run = run_ris(ris_env, "search", LMM_PHOTO, "--json", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)  # \udcNN escapes: the exact name, back to bytes with fsencode
    assert [Path(v["path"]) for v in found["videos"]] == [video]
    assert os.fsencode(found["videos"][0]["path"]).endswith(b"caf\xe9 \xff hamilton.mp4")
    assert Path(found["images"][0]["path"]) == photo

    run = run_ris(ris_env, "status", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    listed = [line for line in run.stdout.splitlines() if line.startswith("  indexed")]
    assert len(listed) == 3  # one line per file: the newline is escaped
    assert any(line.endswith("caf\\xe9 \\xff hamilton.mp4") for line in listed)
    assert any(line.endswith("two\\nlines.jpg") for line in listed)

    status = json.loads(run_ris(ris_env, "status", "--json", "--data-dir", data).stdout)
    assert {Path(p) for p, _, _ in status["files"]} == {video, photo, two_lines}

    run = run_ris(ris_env, "index", media, "--data-dir", data)  # nothing changed: nothing to do
    assert "3 unchanged" in run.stderr and "0 failed" in run.stderr


def test_an_unreadable_folder_is_reported_and_its_indexed_files_are_kept(
    tmp_path, ris_env, restore_modes
):
    media = tmp_path / "media"
    (media / "aa").mkdir(parents=True)
    (media / "zz").mkdir()  # walked last: a problem there must still be reported
    shutil.copy(LMM_PHOTO, media / "aa" / "lmm.png")
    shutil.copy(HAMILTON, media / "zz" / "hamilton.mp4")
    data = tmp_path / "data"
    run = as_user(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "indexed 2 files" in run.stderr

    os.chmod(media / "zz", 0o000)
    restore_modes.append(media / "zz")
    run = as_user(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "gone from disk" not in run.stderr
    assert f"{media / 'zz'}: cannot list the folder: Permission denied" in run.stderr
    assert "what was indexed there is kept" in run.stderr

    status = json.loads(as_user(ris_env, "status", "--json", "--data-dir", data).stdout)
    kept = {p: (state, faces) for p, state, faces in status["files"]}
    assert kept[str(media / "zz" / "hamilton.mp4")][0] == "indexed"
    assert kept[str(media / "zz" / "hamilton.mp4")][1] > 0

    run = as_user(ris_env, "search", LMM_PHOTO, "--json", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert [v["path"] for v in json.loads(run.stdout)["videos"]] == [
        str(media / "zz" / "hamilton.mp4")
    ]


def test_a_library_shared_read_only_is_searched_and_not_written(tmp_path, ris_env, restore_modes):
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(HAMILTON, media / "hamilton.mp4")
    shutil.copy(LMM_PHOTO, media / "lmm.png")
    data = tmp_path / "data"
    assert run_ris(ris_env, "index", media, "--data-dir", data).returncode == 0
    expected = json.loads(
        run_ris(ris_env, "search", LMM_PHOTO, "--json", "--data-dir", data).stdout
    )

    for path in [data, *data.iterdir()]:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    restore_modes.append(data)
    before = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}

    run = as_user(ris_env, "search", LMM_PHOTO, "--json", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == expected
    assert as_user(ris_env, "status", "--data-dir", data).returncode == 0

    run = as_user(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "indexing needs write access" in run.stderr
    assert {p.name: p.stat().st_mtime_ns for p in data.iterdir()} == before


def test_the_library_is_private_and_its_lock_never_follows_a_link(tmp_path, ris_env):
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(LMM_PHOTO, media / "lmm.png")
    data = tmp_path / "data"
    mask = os.umask(0o022)
    os.umask(mask)
    assert run_ris(ris_env, "index", media, "--data-dir", data).returncode == 0
    assert data.stat().st_mode & 0o777 == 0o700 & ~mask
    for name in ("catalog.sqlite", "faces.usearch", "faces.json", "index.lock"):
        assert (data / name).stat().st_mode & 0o777 == 0o600 & ~mask, name

    victim = tmp_path / "bashrc"
    victim.write_text("export PATH=...\n")
    (data / "index.lock").unlink()
    (data / "index.lock").symlink_to(victim)
    run = run_ris(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "cannot write to the data directory" in run.stderr
    assert victim.read_text() == "export PATH=...\n"


def write_clip(path: Path, frames, display_rotation: int = 0) -> None:  # type: ignore[no-untyped-def]
    """An H.264 clip of `frames` (upright RGB) stored turned so that a player, applying the
    container's display rotation (degrees counterclockwise), shows them upright."""
    import av
    import numpy as np

    turns = -display_rotation // 90
    stored = [np.ascontiguousarray(np.rot90(f, turns)) for f in frames]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=2)
        stream.height, stream.width = stored[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if display_rotation:
            stream.set_display_rotation(display_rotation)
        for f in stored:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(stream.encode())


def test_a_clip_with_a_display_rotation_is_seen_upright(tmp_path, ris_env):
    import decord

    reader = decord.VideoReader(str(HAMILTON))
    step = max(1, round(reader.get_avg_fps() / 2))
    frames = reader.get_batch(list(range(0, len(reader), step))).asnumpy()
    media = tmp_path / "media"
    media.mkdir()
    write_clip(media / "upright.mp4", frames)
    write_clip(media / "phone.mp4", frames, display_rotation=-90)  # decord turns MP4 itself
    write_clip(media / "phone.mkv", frames, display_rotation=90)  # and Matroska not
    write_clip(media / "upside_down.mkv", frames, display_rotation=180)
    data = tmp_path / "data"
    run = run_ris(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr

    found = json.loads(run_ris(ris_env, "search", LMM_PHOTO, "--json", "--data-dir", data).stdout)
    by_name = {Path(v["path"]).name: v for v in found["videos"]}
    assert set(by_name) == {"upright.mp4", "phone.mp4", "phone.mkv", "upside_down.mkv"}
    upright = by_name.pop("upright.mp4")
    for name, video in by_name.items():
        assert abs(video["score"] - upright["score"]) <= 0.02, name
        # boxes as a player shows the frame: where the upright clip has them
        first, same = video["matches"][0], upright["matches"][0]
        assert abs(first["t"] - same["t"]) < 0.01, name
        assert max(abs(a - b) for a, b in zip(first["bbox"], same["bbox"], strict=True)) < 8, name


def test_a_full_disk_stops_the_run_in_one_line_and_the_next_run_goes_on(tmp_path, ris_env):
    import resource

    media = tmp_path / "media"
    media.mkdir()
    for f in (HAMILTON, LMM_PHOTO, AOC_PHOTO):
        shutil.copy(f, media / f.name)
    data = tmp_path / "data"

    def small_disk() -> None:  # files may grow to 150 KB: the catalog outgrows it mid-run
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.frontends.cli",
            "index",
            str(media),
            "--data-dir",
            str(data),
        ],
        env=ris_env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=small_disk,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("ris: error:")]
    assert len(errors) == 1 and "is the disk full?" in errors[0]

    run = run_ris(ris_env, "index", media, "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert run_ris(ris_env, "check", "--data-dir", data).returncode == 0
    status = json.loads(run_ris(ris_env, "status", "--json", "--data-dir", data).stdout)
    assert [state for _, state, _ in status["files"]] == ["indexed"] * 3


def test_odd_photos_tiny_sixteen_bit_and_huge(tmp_path, ris_env):
    import numpy as np
    from PIL import Image

    media = tmp_path / "media"
    media.mkdir()
    Image.new("RGB", (1, 1)).save(media / "dot.png")
    grey = np.asarray(Image.open(LMM_PHOTO).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(media / "sixteen_bit.png")  # read by Pillow as 32-bit integers
    data = tmp_path / "data"
    run = run_ris(ris_env, "index", media, media / "sixteen_bit.png", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    assert "2 files found" in run.stderr  # a file under two given paths is embedded once
    assert "indexed 2 files" in run.stderr and "0 failed" in run.stderr
    status = json.loads(run_ris(ris_env, "status", "--json", "--data-dir", data).stdout)
    faces = {Path(p).name: n for p, _, n in status["files"]}
    assert faces == {"dot.png": 0, "sixteen_bit.png": 1}
    assert status["vectors"] == 1 and status["vectors_behind"] == 0

    run = run_ris(ris_env, "search", LMM_PHOTO, "--json", "--data-dir", data)
    assert [Path(i["path"]).name for i in json.loads(run.stdout)["images"]] == ["sixteen_bit.png"]

    run = run_ris(ris_env, "search", media / "dot.png", "--data-dir", data)
    assert run.returncode == 2 and "no face found" in run.stderr and "Traceback" not in run.stderr

    Image.new("L", (14_000, 13_000)).save(tmp_path / "huge.png")  # over Pillow's bomb limit
    run = run_ris(ris_env, "search", tmp_path / "huge.png", "--data-dir", data)
    assert run.returncode == 2 and "too large to read safely" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_damaged_query_clip_is_one_line_without_the_decoders_log(tmp_path, ris_env):
    data = tmp_path / "data"
    shutil.copy(LMM_PHOTO, tmp_path / "lmm.png")
    assert run_ris(ris_env, "index", tmp_path / "lmm.png", "--data-dir", data).returncode == 0
    (tmp_path / "cut.mp4").write_bytes(HAMILTON.read_bytes()[:300_000])
    run = run_ris(ris_env, "search", tmp_path / "cut.mp4", "--data-dir", data)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        "ris: error: cannot read the query cut.mp4: cannot decode the video: moov atom not "
        "found; Invalid data found when processing input (damaged, truncated or not a video)"
    ]


def test_a_milvus_password_never_reaches_a_message(tmp_path, ris_env):
    shutil.copy(LMM_PHOTO, tmp_path / "lmm.png")
    env = {**ris_env, "RIS_MILVUS_TIMEOUT": "3"}
    uri = "http://ris:S3cret-pw@127.0.0.1:9"  # nothing listens on the discard port
    run = run_ris(
        env, "index", tmp_path / "lmm.png", "--data-dir", tmp_path / "d", "--milvus-uri", uri
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "http://ris:***@127.0.0.1:9" in run.stderr
    assert "S3cret" not in run.stderr + run.stdout
