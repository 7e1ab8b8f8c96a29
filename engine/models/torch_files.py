"""Reading a `torch.save` state_dict into numpy arrays, without importing torch.

A cold `ris search` of a photo runs the face models in numpy (see `numpy_faces`), and `import
torch` alone costs it 1.4 s or more on a small machine. Both of torch's file formats are read:

- the zip format (torch >= 1.6; the FaceNet weights): `*/data.pkl` pickles the dict and names
  each tensor's storage, a member `*/data/KEY` of raw little-endian values. The zip is stored
  uncompressed, so each storage is mapped from the file, not read;
- the legacy format (facenet-pytorch's MTCNN weights): a few pickles one after another (magic
  number, protocol, system info, the dict, the storage keys), then each storage as an int64
  element count and its raw values.

Only what a state_dict holds is unpickled: ordered dicts, tensors rebuilt from storages, and the
storage types. Anything else (code, in a file from elsewhere) is refused, as
`torch.load(weights_only=True)` refuses it.

The bytes may come from anywhere, so nothing in them is trusted: every tensor view is checked
against its storage (offset, sizes, strides) before it is made, every storage against the bytes
the file really holds, a zip with two entries of one name is refused (torch and Python's zipfile
would read different ones), and nothing is decompressed past `MAX_BYTES`. Any failure is a
`WeightsFileError`.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


MAX_BYTES = 256 << 20  # the most one weights file may unpack to (FaceNet's holds 107 MB)
MAX_PICKLE = 16 << 20  # the most its pickled dict may take (FaceNet's: 60 KB)


class WeightsFileError(ValueError):
    """The file is not a torch state_dict this reader understands."""


def load_state(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the state_dict saved at `path`, by name, as read-only numpy arrays."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            return _zip_state(path)
        with path.open("rb") as f:
            return _legacy_state(f, path.stat().st_size)
    except Exception as err:  # bytes from anywhere: any failure to parse them says the same
        raise WeightsFileError(f"{path} is not a readable torch state_dict: {err}") from err


class _StorageType:
    def __init__(self, name: str) -> None:
        if name not in DTYPES:
            raise pickle.UnpicklingError(f"storage type torch.{name} is not supported")
        self.dtype = np.dtype(DTYPES[name])


class _PlainUnpickler(pickle.Unpickler):
    """Plain values only (numbers, strings, lists, dicts): the legacy format's header pickles
    and storage keys. Nothing of a module is ever looked up, so nothing can run."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} where plain values were expected")

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")


def _plain(f: BinaryIO) -> Any:
    return _PlainUnpickler(f).load()


def _rebuild_tensor(
    storage: np.ndarray, offset: object, size: object, stride: object, *_: object
) -> np.ndarray:
    """A tensor: a view of its storage, checked to lie inside it before it is made (as_strided
    itself checks nothing: a stride past the storage reads other memory, or crashes)."""
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("a tensor without a storage")
    shape, steps = _ints(size, "size"), _ints(stride, "stride")
    (start,) = _ints((offset,), "offset")
    if len(shape) != len(steps):
        raise pickle.UnpicklingError(f"a tensor of {len(shape)} sizes and {len(steps)} strides")
    last = start + sum((n - 1) * s for n, s in zip(shape, steps, strict=True) if n > 0)
    if 0 in shape:
        last = start - 1  # an empty tensor reads nothing
    if start > len(storage) or last >= len(storage):
        raise pickle.UnpicklingError(
            f"a tensor reaches element {last} of a storage of {len(storage)}"
        )
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[start:], shape=shape, strides=tuple(s * item for s in steps)
    )
    view.flags.writeable = False
    return view


def _ints(values: object, what: str) -> tuple[int, ...]:
    """Non-negative integers that fit an index (torch never writes a negative size, stride or
    offset), or an error naming `what`."""
    if not isinstance(values, tuple | list) or len(values) > 32:
        raise pickle.UnpicklingError(f"a tensor's {what} is not a short list of integers")
    if not all(type(v) is int and 0 <= v < 2**40 for v in values):
        raise pickle.UnpicklingError(f"a tensor's {what} is out of range: {values!r}"[:200])
    return tuple(values)


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, f: BinaryIO, storage: Callable[[_StorageType, str, int], np.ndarray]):
        super().__init__(f)
        self._storage = storage

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a state_dict")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not isinstance(pid, tuple) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        kind, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(kind, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {kind!r}")
        if type(numel) is not int or not 0 <= numel <= MAX_BYTES // kind.dtype.itemsize:
            raise pickle.UnpicklingError(f"storage {key}: {numel!r} values is out of range"[:200])
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        return self._storage(kind, key, numel)


def _zip_state(path: Path) -> dict[str, np.ndarray]:
    whole = np.memmap(path, np.uint8, "r")  # pages are read as the arrays are used
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        if len(names) != len(set(names)):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise pickle.UnpicklingError(f"the zip holds two entries named {twice[0]!r}")
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise pickle.UnpicklingError(f"the zip holds {len(pickles)} data.pkl entries, not 1")
        prefix = pickles[0][: -len("data.pkl")]
        members = {i.filename: i for i in z.infolist()}
        budget = [MAX_BYTES]

        def storage(kind: _StorageType, key: str, numel: int) -> np.ndarray:
            info = members.get(f"{prefix}data/{key}")
            if info is None:
                raise pickle.UnpicklingError(f"storage {key} is missing from the zip")
            size = numel * kind.dtype.itemsize
            if info.file_size != size:
                raise pickle.UnpicklingError(
                    f"storage {key}: {info.file_size} bytes where {size} expected"
                )
            if info.compress_type != zipfile.ZIP_STORED:
                budget[0] -= size
                if budget[0] < 0:
                    raise pickle.UnpicklingError(f"the file unpacks to over {MAX_BYTES} bytes")
                return np.frombuffer(_read_capped(z, info, size), kind.dtype, numel)
            start = _data_offset(whole, info)
            if start + size > len(whole) or info.compress_size != size:
                raise pickle.UnpicklingError(f"storage {key} runs past the end of the file")
            return whole[start : start + size].view(kind.dtype)

        pickled = io.BytesIO(_read_capped(z, members[pickles[0]], MAX_PICKLE))
        return _as_state(_StateUnpickler(pickled, storage).load())


def _read_capped(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, refusing more than `limit` whatever its header claims (a zip bomb)."""
    with z.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise pickle.UnpicklingError(f"{info.filename} unpacks to over {limit} bytes")
    return data


def _data_offset(whole: np.ndarray, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes begin: after its local header (30 bytes, its name and its
    own extra field, which may differ from the central directory's)."""
    at = info.header_offset
    if not 0 <= at <= len(whole) - 30:
        raise pickle.UnpicklingError(f"{info.filename}: its header lies outside the file")
    name_len, extra_len = struct.unpack("<HH", whole[at + 26 : at + 30].tobytes())
    return at + 30 + name_len + extra_len


def _legacy_state(f: BinaryIO, file_size: int) -> dict[str, np.ndarray]:
    if _plain(f) != LEGACY_MAGIC or _plain(f) != LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("not a torch file: wrong magic number or protocol")
    _plain(f)  # system info: byte order and sizes, little-endian on every machine we run
    wanted: dict[str, tuple[np.ndarray, _StorageType, int]] = {}

    declared = [0]

    def storage(kind: _StorageType, key: str, numel: int) -> np.ndarray:
        if key not in wanted:
            declared[0] += numel * kind.dtype.itemsize
            if declared[0] > file_size:  # the values follow in the file: they cannot be more
                raise pickle.UnpicklingError("the storages declare more bytes than the file has")
            wanted[key] = (np.empty(numel, kind.dtype), kind, numel)
        elif wanted[key][1].dtype != kind.dtype or wanted[key][2] != numel:
            raise pickle.UnpicklingError(f"storage {key} is declared twice, differently")
        return wanted[key][0]

    state = _StateUnpickler(f, storage).load()
    for key in _plain(f):  # the storages follow in this order
        array, kind, numel = wanted[str(key)]
        (count,) = struct.unpack("<q", f.read(8))
        if count != numel:
            raise pickle.UnpicklingError(f"storage {key}: {count} values where {numel} expected")
        data = f.read(count * kind.dtype.itemsize)
        if len(data) != count * kind.dtype.itemsize:
            raise pickle.UnpicklingError(f"storage {key} is cut short")
        array[:] = np.frombuffer(data, kind.dtype, count)
    return _as_state(state)


def _as_state(obj: object) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise pickle.UnpicklingError("the file holds no state_dict of tensors")
    return {str(k): v for k, v in obj.items()}
