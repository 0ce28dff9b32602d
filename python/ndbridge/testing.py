"""Round-trip checks for users' own test suites.

One line in a pytest test proves that what the Python side writes, the C++
side reads identically, and the other way round::

    from ndbridge.testing import assert_roundtrip

    def test_features_cross_to_cpp():
        assert_roundtrip(make_features(), fmt="npz")

``roundtrip`` returns what the C++ reader read, for checks of your own.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import cpp
from ._difference import difference
from ._errors import Error
from .options import FORMATS, format_name

__all__ = ["FORMATS", "assert_roundtrip", "roundtrip"]

#: Names used inside the files written here.
_MEMBER = "array"


@contextlib.contextmanager
def _folder(tmp_path: str | os.PathLike[str] | None) -> Iterator[Path]:
    if tmp_path is not None:
        yield Path(tmp_path)
        return
    with tempfile.TemporaryDirectory(prefix="ndbridge-roundtrip-") as name:
        yield Path(name)


def _check_format(fmt: str) -> str:
    return format_name(fmt, "fmt")


def _write_python(array: np.ndarray, fmt: str, path: Path) -> None:
    if fmt == "npy":
        np.save(path, array, allow_pickle=array.dtype.hasobject)
    elif fmt == "npz":
        np.savez(path, **{_MEMBER: array})
    else:
        import h5py

        data: np.ndarray = array
        if array.dtype.kind == "U":  # h5py stores text as variable-length UTF-8 str
            data = array.astype(object)
        with h5py.File(path, "w", libver="earliest") as f:
            kind = h5py.string_dtype() if array.dtype.kind == "U" else None
            f.create_dataset(_MEMBER, data=data, dtype=kind)


def _read_python(fmt: str, path: Path) -> np.ndarray:
    if fmt == "npy":
        return np.load(path, allow_pickle=False)
    if fmt == "npz":
        with np.load(path, allow_pickle=False) as archive:
            return archive[_MEMBER]
    import h5py

    with h5py.File(path, "r") as f:
        data = f[_MEMBER]
        if data.dtype.kind == "O" and h5py.check_string_dtype(data.dtype) is not None:
            return _as_text(np.asarray(data.asstr()[()], dtype=object))
        return data[()]


def _read_cpp(fmt: str, path: Path) -> np.ndarray:
    if fmt == "npy":
        return cpp.read_npy(path)
    if fmt == "npz":
        return cpp.read_npz(path)[_MEMBER]
    return cpp.read_h5(path, _MEMBER)


def _write_cpp(array: np.ndarray, fmt: str, path: Path) -> None:
    if fmt == "npy":
        cpp.write_npy(path, array)
    elif fmt == "npz":
        cpp.write_npz(path, {_MEMBER: array})
    else:
        cpp.write_h5(path, _MEMBER, array, mode="overwrite")


def roundtrip(
    array: npt.ArrayLike, fmt: str = "npy", *, tmp_path: str | os.PathLike[str] | None = None
) -> np.ndarray:
    """Write ``array`` with numpy (or h5py for ``fmt="h5"``), read it back with
    ndbridge's C++ reader and return what C++ read.

    ``tmp_path`` is a folder for the file (pytest's ``tmp_path`` fixture fits);
    by default a temporary folder is made and removed. ndbridge errors from
    the C++ side propagate unchanged.
    """
    fmt = _check_format(fmt)
    array = np.asarray(array)
    with _folder(tmp_path) as folder:
        path = folder / f"roundtrip-python.{fmt}"
        _write_python(array, fmt, path)
        return _read_cpp(fmt, path)


def _as_text(strings: np.ndarray) -> np.ndarray:
    # Native-order unicode as wide as the longest string (at least 1), the
    # way ndbridge's C++ reader returns variable-length HDF5 text.
    width = max((len(s) for s in strings.ravel().tolist()), default=0)
    return strings.astype(f"=U{max(width, 1)}")


def _same_text(fmt: str, expected: np.ndarray) -> np.ndarray:
    # HDF5 keeps text as variable-length UTF-8: width and byte order of a
    # numpy U array do not survive, only the strings do.
    if fmt == "h5" and expected.dtype.kind == "U":
        return _as_text(expected)
    return expected


def assert_roundtrip(
    array: npt.ArrayLike, fmt: str = "npy", *, tmp_path: str | os.PathLike[str] | None = None
) -> None:
    """Check both directions bit for bit, or raise an AssertionError saying what differs.

    Python writes -> C++ reads, and C++ writes -> Python (numpy or h5py)
    reads. The message names the direction, then the dtype (byte order
    included), the shape, or the first differing element and both values.
    A dtype the C++ side cannot handle fails the assertion with its reason.
    """
    fmt = _check_format(fmt)
    array = np.asarray(array)
    expected = _same_text(fmt, array)
    with _folder(tmp_path) as folder:
        there = folder / f"roundtrip-python.{fmt}"
        back = folder / f"roundtrip-cpp.{fmt}"
        _write_python(array, fmt, there)
        try:
            read_by_cpp = _read_cpp(fmt, there)
        except Error as exc:
            raise AssertionError(
                f"Python -> C++ ({fmt}): the C++ reader cannot read dtype "
                f"{array.dtype.str!r}: {exc}"
            ) from exc
        if (what := difference(expected, read_by_cpp)) is not None:
            raise AssertionError(f"Python -> C++ ({fmt}): {what}")
        try:
            _write_cpp(array, fmt, back)
        except Error as exc:
            raise AssertionError(
                f"C++ -> Python ({fmt}): the C++ writer cannot write dtype "
                f"{array.dtype.str!r}: {exc}"
            ) from exc
        if (what := difference(expected, _read_python(fmt, back))) is not None:
            raise AssertionError(f"C++ -> Python ({fmt}): {what}")
