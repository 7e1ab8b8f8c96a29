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
"""

from __future__ import annotations

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


class WeightsFileError(ValueError):
    """The file is not a torch state_dict this reader understands."""


def load_state(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the state_dict saved at `path`, by name, as read-only numpy arrays."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            return _zip_state(path)
        with path.open("rb") as f:
            return _legacy_state(f)
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
    storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: object
) -> np.ndarray:
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * item for s in stride)
    )
    view.flags.writeable = False
    return view


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
        kind, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(kind, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {kind!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        return self._storage(kind, key, numel)


def _zip_state(path: Path) -> dict[str, np.ndarray]:
    whole = np.memmap(path, np.uint8, "r")  # pages are read as the arrays are used
    with zipfile.ZipFile(path) as z:
        pickled = next(n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
        prefix = pickled[: -len("data.pkl")]
        members = {i.filename: i for i in z.infolist()}

        def storage(kind: _StorageType, key: str, numel: int) -> np.ndarray:
            info = members[f"{prefix}data/{key}"]
            if info.compress_type != zipfile.ZIP_STORED:
                return np.frombuffer(z.read(info), kind.dtype, numel)
            start = _data_offset(whole, info)
            return whole[start : start + numel * kind.dtype.itemsize].view(kind.dtype)

        with z.open(pickled) as f:
            return _as_state(_StateUnpickler(f, storage).load())  # type: ignore[arg-type]


def _data_offset(whole: np.ndarray, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes begin: after its local header (30 bytes, its name and its
    own extra field, which may differ from the central directory's)."""
    at = info.header_offset
    name_len, extra_len = struct.unpack("<HH", whole[at + 26 : at + 30].tobytes())
    return at + 30 + name_len + extra_len


def _legacy_state(f: BinaryIO) -> dict[str, np.ndarray]:
    if _plain(f) != LEGACY_MAGIC or _plain(f) != LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("not a torch file: wrong magic number or protocol")
    _plain(f)  # system info: byte order and sizes, little-endian on every machine we run
    wanted: dict[str, tuple[np.ndarray, _StorageType, int]] = {}

    def storage(kind: _StorageType, key: str, numel: int) -> np.ndarray:
        if key not in wanted:
            wanted[key] = (np.empty(numel, kind.dtype), kind, numel)
        return wanted[key][0]

    state = _StateUnpickler(f, storage).load()
    for key in _plain(f):  # the storages follow in this order
        array, kind, numel = wanted[str(key)]
        (count,) = struct.unpack("<q", f.read(8))
        if count != numel:
            raise pickle.UnpicklingError(f"storage {key}: {count} values where {numel} expected")
        data = f.read(count * kind.dtype.itemsize)
        array[:] = np.frombuffer(data, kind.dtype, count)
    return _as_state(state)


def _as_state(obj: object) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise pickle.UnpicklingError("the file holds no state_dict of tensors")
    return {str(k): v for k, v in obj.items()}
