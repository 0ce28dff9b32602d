"""ndbridge's C++ reader and writer, called from Python.

These functions run the same C++ code that inference programs link, so a test
that round-trips an array through them checks what the C++ side will see.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from . import _core
from ._errors import UsageError

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["list_npz", "read_npy", "read_npz", "write_npy", "write_npz"]


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


def read_npz(path: PathLike, *, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Read every array of an .npz archive with the C++ reader.

    Keys are as ``numpy.load(path).files`` shows them (member names without
    ``.npy``), in archive order; each array has its file's dtype, shape and
    memory order. Stored and deflated members and zip64 archives are read,
    and every member's CRC-32 is checked.

    ``max_bytes`` bounds how much the archive's deflated members may inflate
    to in all (default ``None``: the library's 16 GiB). It is checked against
    the sizes the archive declares before anything is allocated, so a zip
    bomb raises FormatError instead of exhausting memory; stored members do
    not count, as the file's size bounds them.

    Raises FormatError for malformed, truncated or corrupt archives (bad
    CRC, bad deflate data, sizes that disagree), UnsupportedError for
    members that are not .npy files, encrypted members, compression methods
    other than stored and deflate and dtypes ndbridge does not handle, and
    FileError (an OSError) when the file cannot be read.
    """
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0
    ):
        raise UsageError(f"max_bytes must be a non-negative integer or None, not {max_bytes!r}")
    return _core.read_npz(path, None if max_bytes is None else int(max_bytes))


def list_npz(path: PathLike) -> list[dict[str, Any]]:
    """Describe the members of an .npz archive without reading their data.

    Returns one dict per member, in archive order, with the keys

    - ``name``: the key ``read_npz`` and ``numpy.load`` use (no ``.npy``);
    - ``dtype``: the numpy type string (``numpy.dtype.str``), e.g. ``'<f4'``;
    - ``shape``: a tuple of ints;
    - ``fortran_order``: whether the data is stored in column-major order;
    - ``compressed``: True for deflated members, False for stored ones;
    - ``compressed_size``: bytes the member occupies in the archive;
    - ``uncompressed_size``: bytes of the .npy file it holds.

    Dtype and shape come from each member's .npy header; only that header is
    inflated from a deflated member. Raises the errors ``read_npz`` does,
    except that CRCs are not checked (the data is not read).
    """
    return _core.list_npz(path)


def write_npz(
    path: PathLike,
    arrays: Mapping[str, npt.ArrayLike] | Sequence[npt.ArrayLike],
    *,
    compress: bool = False,
) -> None:
    """Write arrays as an .npz archive with the C++ writer.

    ``arrays`` maps names to arrays, as ``numpy.savez(path, **arrays)`` takes
    them; a sequence gives the names ``arr_0``, ``arr_1``... as
    ``numpy.savez(path, *arrays)`` does. Each member ``<name>.npy`` holds
    the bytes ``write_npy`` (and ``numpy.save``) would write; with
    ``compress=True`` members are deflated, as ``numpy.savez_compressed``
    does. Unlike numpy, ``.npz`` is not appended to ``path``. The archive
    appears under its final name only once completely written.

    Raises UsageError for names that are not strings or contain NUL,
    UnsupportedError for dtypes such as object or structured and FileError
    when the file cannot be written.
    """
    if isinstance(arrays, Mapping):
        items = list(arrays.items())
    elif isinstance(arrays, Sequence) and not isinstance(arrays, (str, bytes)):
        items = [(f"arr_{i}", a) for i, a in enumerate(arrays)]
    else:
        raise UsageError(
            f"arrays must be a mapping of names to arrays or a sequence of arrays, "
            f"not {type(arrays).__name__}"
        )
    for name, _ in items:
        if not isinstance(name, str):
            raise UsageError(f"array names must be strings, not {name!r}")
    _core.write_npz(path, [(name, np.asarray(a)) for name, a in items], bool(compress))
