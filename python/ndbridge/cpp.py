"""ndbridge's C++ reader and writer, called from Python.

These functions run the same C++ code that inference programs link, so a test
that round-trips an array through them checks what the C++ side will see.
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np
import numpy.typing as npt

from . import _core
from ._errors import UsageError

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["read_npy", "write_npy"]


def _row_range(rows: tuple[int, int]) -> tuple[int, int]:
    try:
        start, stop = rows
    except (TypeError, ValueError):
        raise UsageError(f"rows must be a (start, stop) pair, not {rows!r}") from None
    for value in (start, stop):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise UsageError(f"rows must be non-negative integers, not {rows!r}")
    return int(start), int(stop)


def read_npy(
    path: PathLike, *, mmap: bool = False, rows: tuple[int, int] | None = None
) -> np.ndarray:
    """Read an .npy file with the C++ reader.

    The result has the file's dtype (byte order included), shape and memory
    order. With ``mmap=True`` it is a read-only view of a memory map of the
    file: opening costs the same whatever the file size. ``rows=(start, stop)``
    selects rows along the first axis and reads only their bytes.

    Raises FormatError for malformed files, UnsupportedError for dtypes such
    as object or structured, UsageError for a bad row range and FileError (an
    OSError) when the file cannot be read.
    """
    if rows is None:
        return _core.read_npy(path, bool(mmap))
    start, stop = _row_range(rows)
    return _core.read_npy_rows(path, start, stop, bool(mmap))


def write_npy(path: PathLike, array: npt.ArrayLike) -> None:
    """Write ``array`` as an .npy file with the C++ writer.

    The file is byte-identical to what ``numpy.save`` writes for contiguous
    arrays; strided arrays are written in C order. It appears under its final
    name only once completely written.
    """
    _core.write_npy(path, np.asarray(array))
