"""Damaged or hostile weights files (issue 26, section 2): the reader that loads them without
torch (engine/torch_files.py) checks every tensor against the bytes the file really holds, so
a crafted file is a WeightsFileError, never a crash (SIGBUS, SIGSEGV), a silent read of other
memory, or a process that swells past 512 MB. Each file is read in a process of its own, as a
cold `ris search` reads it, and that process's exit status and peak memory are checked."""

from __future__ import annotations

import pickle
import subprocess
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from engine.models.torch_files import WeightsFileError, load_state
from tests.conftest import AOC_PHOTO, ROOT, WEIGHTS, run_ris

MEMORY_CAP_KB = 512 * 1024

# Stand-ins for torch's names: pickled under these, then renamed to torch's own in the bytes
# (protocol 2 writes each global as "module\nname\n", so the rename keeps the pickle valid).
_UTILS = types.ModuleType("risfake_utils")
_TORCH = types.ModuleType("risfake_torch")


def _rebuild_tensor_v2(*args: object) -> None: ...


class FloatStorage:
    pass


_rebuild_tensor_v2.__module__ = "risfake_utils"
FloatStorage.__module__ = "risfake_torch"
_UTILS._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
_TORCH.FloatStorage = FloatStorage  # type: ignore[attr-defined]
sys.modules.setdefault("risfake_utils", _UTILS)
sys.modules.setdefault("risfake_torch", _TORCH)


class _Storage:
    def __init__(self, key: str, numel: int) -> None:
        self.key, self.numel = key, numel


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.args = (storage, offset, size, stride, False, OrderedDict())

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild_tensor_v2, self.args)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: object):  # type: ignore[no-untyped-def]
        if isinstance(obj, _Storage):
            return ("storage", FloatStorage, obj.key, "cpu", obj.numel)
        return None


def state_pickle(tensors: dict[str, _Tensor]) -> bytes:
    import io

    out = io.BytesIO()
    _Pickler(out, protocol=2).dump(OrderedDict(tensors))
    return (
        out.getvalue()
        .replace(b"risfake_utils\n", b"torch._utils\n")
        .replace(b"risfake_torch\n", b"torch\n")
    )


def weights_zip(
    path: Path,
    offset: int = 0,
    size: tuple = (2, 3),
    stride: tuple = (3, 1),
    numel: int = 6,
    values: int = 6,
) -> Path:
    """A zip-format state_dict of one float32 tensor 'w' over a storage of `values` floats
    (0, 1, 2...), its view and declared storage size as given."""
    storage = _Storage("0", numel)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", state_pickle({"w": _Tensor(storage, offset, size, stride)}))
        z.writestr("archive/data/0", np.arange(values, dtype=np.float32).tobytes())
        z.writestr("archive/version", "3\n")
    return path


def read_in_a_process(path: Path) -> tuple[int, str, int]:
    """Read `path` as a cold search does, in a fresh process: (exit status, what it said,
    its peak resident memory in kB)."""
    script = (
        "import sys\n"
        "from engine.models.torch_files import WeightsFileError, load_state\n"
        "try:\n"
        "    state = load_state(sys.argv[1])\n"
        "    print('read', sum(float(v.sum()) for v in state.values()))\n"
        "except WeightsFileError as err:\n"
        "    print('refused', err)\n"
        "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(peak.split()[1]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True
    )
    lines = run.stdout.strip().splitlines()
    return run.returncode, "\n".join(lines[:-1]) + run.stderr, int(lines[-1]) if lines else 0


def test_a_crafted_file_read_honestly_equals_what_torch_reads(tmp_path):
    # the crafting is faithful: torch itself loads the honest file to the same tensor
    import torch

    path = weights_zip(tmp_path / "honest.pt")
    mine = load_state(path)["w"]
    assert np.array_equal(mine, np.arange(6, dtype=np.float32).reshape(2, 3))
    theirs = torch.load(path, map_location="cpu", weights_only=True)["w"]
    assert np.array_equal(theirs.numpy(), mine)


CRAFTED = {
    "shape past the storage (was SIGBUS)": dict(size=(1 << 20, 1 << 20), stride=(1 << 20, 1)),
    "stride of 2**40 (was SIGSEGV)": dict(size=(2, 3), stride=(2**40, 1)),
    "negative stride (was SIGSEGV)": dict(size=(2, 3), stride=(-3, 1)),
    "negative offset (read other tensors' bytes)": dict(offset=-4, size=(2,), stride=(1,)),
    "offset past the end (read beyond the file)": dict(offset=100, size=(2,), stride=(1,)),
    "storage declared far beyond its data": dict(numel=10**8, size=(10**4,), stride=(1,)),
    "sizes and strides of different lengths": dict(size=(2, 3), stride=(1,)),
    "a size that is not an integer": dict(size=("2", 3), stride=(3, 1)),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_a_crafted_tensor_view_is_refused_never_a_crash(tmp_path, case):
    path = weights_zip(tmp_path / "crafted.pt", **CRAFTED[case])
    with pytest.raises(WeightsFileError, match="crafted.pt"):
        load_state(path)
    status, said, peak = read_in_a_process(path)
    assert status == 0, f"{case}: the reading process died ({status}): {said}"
    assert said.startswith("refused"), said
    assert peak < MEMORY_CAP_KB, f"{case}: {peak} kB"


def test_a_legacy_file_declaring_more_than_it_holds_is_refused(tmp_path):
    from engine.models.torch_files import LEGACY_MAGIC, LEGACY_PROTOCOL

    path = tmp_path / "legacy.pt"
    with path.open("wb") as f:
        for part in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}):
            pickle.dump(part, f)
        big = _Tensor(_Storage("0", 1 << 28), 0, (1 << 28,), (1,))  # 1 GiB declared
        f.write(state_pickle({"w": big}))
        pickle.dump(["0"], f)
        f.write((1 << 28).to_bytes(8, "little") + b"\0" * 64)
    status, said, peak = read_in_a_process(path)
    assert status == 0 and said.startswith("refused"), said
    assert peak < MEMORY_CAP_KB, f"{peak} kB"


def deflated_zeros(z: zipfile.ZipFile, name: str, mib: int) -> None:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with z.open(info, "w", force_zip64=True) as f:
        zeros = bytes(1 << 20)
        for _ in range(mib):
            f.write(zeros)


def test_a_zip_bomb_is_refused_within_the_memory_cap(tmp_path):
    pkl_bomb = tmp_path / "pkl_bomb.pt"  # the pickle itself unpacks to 768 MiB
    with zipfile.ZipFile(pkl_bomb, "w", zipfile.ZIP_DEFLATED) as z:
        deflated_zeros(z, "archive/data.pkl", 768)
    storage_bomb = tmp_path / "storage_bomb.pt"  # a tensor whose storage unpacks to 768 MiB
    storage = _Storage("0", 768 << 18)
    with zipfile.ZipFile(storage_bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", state_pickle({"w": _Tensor(storage, 0, (10,), (1,))}))
        deflated_zeros(z, "archive/data/0", 768)
    for bomb in (pkl_bomb, storage_bomb):
        assert bomb.stat().st_size < 4 << 20
        status, said, peak = read_in_a_process(bomb)
        assert status == 0 and said.startswith("refused"), said
        assert peak < MEMORY_CAP_KB, f"{bomb.name}: {peak} kB"


def evil_copy(tmp_path: Path) -> Path:
    """The real FaceNet weights with a second data.pkl appended: torch reads the first (the
    real one); a reader of the last would build views past their storages."""
    evil = tmp_path / "evil.pt"
    evil.write_bytes(WEIGHTS.read_bytes())
    with zipfile.ZipFile(WEIGHTS) as z:
        prefix = next(n for n in z.namelist() if n.endswith("data.pkl"))
    storage = _Storage("0", 1 << 30)
    hostile = {"conv.weight": _Tensor(storage, 0, (1 << 30, 1 << 30), (1 << 30, 1))}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it writes
        with zipfile.ZipFile(evil, "a") as z:
            z.writestr(prefix, state_pickle(hostile))
    return evil


def test_a_second_data_pkl_is_refused_by_the_reader(tmp_path):
    evil = evil_copy(tmp_path)
    with pytest.raises(WeightsFileError, match="two entries named"):
        load_state(evil)
    status, said, _ = read_in_a_process(evil)
    assert status == 0 and said.startswith("refused"), said


@pytest.mark.slow
def test_ris_with_a_second_data_pkl_searches_as_torch_reads_the_file(tmp_path, ris_env):
    """The reported case end to end: a library indexed with the doctored file (torch reads its
    first data.pkl) is searched (a cold search, no torch first) without a crash, with the
    answer the honest weights give."""
    evil = evil_copy(tmp_path)
    env = {k: v for k, v in ris_env.items() if k != "RIS_FACENET_WEIGHTS"}
    answers = []
    for weights in (WEIGHTS, evil):
        data = tmp_path / f"data-{weights.stem}"
        args = ("--data-dir", str(data), "--weights", str(weights))
        run = run_ris(env, "index", str(AOC_PHOTO), *args)
        assert run.returncode == 0, run.stderr
        search = run_ris(env, "search", str(AOC_PHOTO), "--json", *args)
        assert search.returncode == 0, f"exit {search.returncode}: {search.stderr}"
        answers.append(search.stdout.replace(str(data), "DATA"))
    assert answers[0] == answers[1]
