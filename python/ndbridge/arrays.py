"""Any array in an .npy, .npz or HDF5 file, read in row blocks of bounded size.

An :class:`ArraySource` is what convert copies, verify compares and merge
and sharding check: a name, a dtype, a shape and a reader of row ranges.
HDF5 datasets are read through h5py here, the reference the C++ reader is
held to; .npy files through the C++ reader's memory map.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from . import cpp
from ._errors import Error, FormatError, H5Error, NotFoundError, UnsupportedError
from ._formats import PathLike, os_error, quoted

#: Bytes of one block read from a source.
BLOCK_BYTES = 16 << 20
_KINDS = "biufcSU"  # numpy kinds the C++ reader and writer handle


@dataclass
class ArraySource:
    """One array to copy: its name, dtype and shape, and a reader of row ranges.

    ``read(start, stop)`` returns rows ``start:stop`` along the first axis as
    an array of ``dtype`` (for a 0-d array it ignores its arguments and
    returns the whole array).
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    read: Callable[[int, int], np.ndarray]

    def blocks(self, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_row, block)`` pairs covering the array, each about ``block_bytes``."""
        if not self.shape:
            yield 0, self.read(0, 0)
            return
        step = rows_per_block(self.dtype, self.shape, block_bytes)
        for start in range(0, self.shape[0], step):
            yield start, self.read(start, min(start + step, self.shape[0]))
        if self.shape[0] == 0:
            yield 0, self.read(0, 0)


def rows_per_block(dtype: np.dtype, shape: tuple[int, ...], block_bytes: int) -> int:
    """How many rows of an array of ``dtype`` and ``shape`` fit in ``block_bytes`` (at least 1)."""
    row_bytes = math.prod(shape[1:]) * max(dtype.itemsize, 1)
    return max(1, block_bytes // max(row_bytes, 1))


def open_h5(path: PathLike) -> h5py.File:
    """Open an HDF5 file for reading with h5py, failures as ndbridge errors."""
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if exc.errno:
            raise os_error(path, exc) from None
        raise FormatError(f"{quoted(path)}: HDF5 cannot open it: {exc}") from None


@contextlib.contextmanager
def h5py_errors(path: PathLike) -> Iterator[None]:
    """h5py's failures on a damaged file (RuntimeError, KeyError, ValueError...
    with HDF5's words) as a FormatError naming the file."""
    try:
        yield
    except Error:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, OSError) and exc.errno:
            raise os_error(path, exc) from None
        reason = exc.args[0] if exc.args else exc
        raise FormatError(f"{quoted(path)}: HDF5 cannot read it: {reason}") from None


def _name_text(name: str | bytes) -> str:
    # h5py gives names that are not UTF-8 as bytes; ndbridge escapes such
    # bytes as lone surrogates, as the C++ binding's names do.
    return name if isinstance(name, str) else name.decode("utf-8", "surrogateescape")


def h5py_name(name: str) -> bytes:
    """``name`` as h5py takes it: the bytes, escaped ones included (h5py
    encodes a str strictly)."""
    return name.encode("utf-8", "surrogateescape")


def h5_dataset_names(file: h5py.File) -> list[str]:
    """Every dataset of an open file, as paths without the leading ``/``, sorted."""
    names: list[str] = []

    def visit(name: str | bytes, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            names.append(_name_text(name))

    with h5py_errors(file.filename):
        file.visititems(visit)
    return sorted(names)


def h5_dataset(file: h5py.File, path: PathLike, name: str) -> h5py.Dataset:
    """The dataset ``name`` of an open file; NotFoundError if it is missing or a group.

    ``name`` may hold bytes that are not UTF-8 escaped as lone surrogates (as
    h5_dataset_names and the C++ listing give them): h5py takes them as bytes.
    """
    with h5py_errors(path):
        obj = file.get(h5py_name(name))
    if obj is None:
        raise NotFoundError(f"{quoted(path)}: no dataset named '{name}'")
    if not isinstance(obj, h5py.Dataset):
        raise NotFoundError(f"{quoted(path)}: '{name}' is a group, not a dataset")
    return obj


def require_virtual_sources(path: PathLike, name: str) -> None:
    """Raise unless every source file of virtual dataset ``name`` is there as mapped.

    HDF5 (h5py's as well as the C++ side's) reads the rows of a missing
    source file as the fill value without a word. The C++ reader checks the
    sources whenever it opens a virtual dataset, looking where HDF5 looks:
    FileError (a FileNotFoundError) names the missing file, FormatError a
    source that is short or lacks the dataset.
    """
    with contextlib.suppress(UnsupportedError):  # a type C++ cannot read; sources checked
        cpp.read_h5(path, name, rows=(0, 0))


def h5py_source(path: PathLike, dataset: h5py.Dataset) -> ArraySource:
    """Read a dataset with h5py as ndbridge sees it: variable-length text as ``<U``.

    Raises UnsupportedError for what has no plain numpy form (compounds,
    references, variable-length sequences, null dataspaces), and for a
    virtual dataset what :func:`require_virtual_sources` raises.
    """
    name = _name_text(dataset.name)
    where = f"{quoted(path)}: dataset '{name}'"
    if dataset.is_virtual:
        require_virtual_sources(path, name)
    if dataset.shape is None:
        raise UnsupportedError(
            f"{where} has a null dataspace (no array), which ndbridge does not convert"
        )
    shape = tuple(dataset.shape)
    string = h5py.check_string_dtype(dataset.dtype)

    def guarded(read: Callable[[], Any]) -> Any:
        try:
            return read()
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            raise H5Error(f"{where}: HDF5 failed to read it: {exc}") from None

    def rows(view: Any, start: int, stop: int) -> Any:
        return guarded(lambda: view[()] if not shape else view[start:stop])

    if string is not None and string.length is None:
        text = dataset.asstr()
        # Fixed-width <U needs the longest string first: one pass over the blocks.
        probe = ArraySource(name, np.dtype("<U1"), shape, lambda a, b: rows(text, a, b))
        width = 1
        for _, block in probe.blocks():
            width = max(width, np.asarray(block, dtype=str).dtype.itemsize // 4)
        dtype = np.dtype(f"<U{width}")
        return ArraySource(
            name.lstrip("/"), dtype, shape, lambda a, b: np.asarray(rows(text, a, b), dtype)
        )
    dtype = np.dtype(dataset.dtype.str)  # drops h5py's enum/string metadata
    if dtype.kind not in _KINDS:
        raise UnsupportedError(
            f"{where} holds {dataset.dtype} elements, which ndbridge does not convert"
        )
    return ArraySource(
        name.lstrip("/"),
        dtype,
        shape,
        lambda a, b: np.asarray(rows(dataset, a, b)).view(dtype),
    )


def rows_of(array: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """A row-range reader over an in-memory (or memory-mapped) array."""
    return lambda start, stop: array[start:stop] if array.ndim else array


def npy_source(path: PathLike, name: str) -> ArraySource:
    array = cpp.read_npy(path, mmap=True)  # zero-copy: pages come and go as rows are copied
    return ArraySource(name, array.dtype, array.shape, rows_of(array))
