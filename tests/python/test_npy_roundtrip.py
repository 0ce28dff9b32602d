"""Round trips between numpy's .npy reader and writer and ndbridge's C++ ones.

Property tests cover dtype x byte order x memory layout x shape in both
directions, bit for bit; the examples after them pin down format versions,
header spellings, edge shapes, memory maps, row ranges and I/O errors.
"""

from __future__ import annotations

import errno
import gc
import os
import struct
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from array_strategies import (
    arrays,
    assert_same_array,
    numpy_fortran_order,
    numpy_save_bytes,
    random_array,
    scratch_dir,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import ndbridge
from ndbridge import cpp

PROPERTY = settings(max_examples=200, deadline=None)

READ_MODES = [
    pytest.param({}, id="full"),
    pytest.param({"mmap": True}, id="mmap"),
    pytest.param({"rows": (0, 1)}, id="rows"),
]


# --- helpers ---------------------------------------------------------------


def shape_id(shape: tuple[int, ...]) -> str:
    """A readable test id for a shape: (3, 0, 2) -> "3x0x2"."""
    return "x".join(map(str, shape))


def header_fortran_order(path: Path) -> bool:
    """The fortran_order flag of a version 1.0 or 2.0 file, as numpy reads it."""
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    with path.open("rb") as f:
        version = np.lib.format.read_magic(f)
        _, fortran_order, _ = readers[version](f)
    return bool(fortran_order)


def assert_same_file_bytes(actual: bytes, expected: bytes) -> None:
    """Byte identity, comparing the readable header first for a useful diff."""
    header_end = expected.index(b"\n", 10) + 1
    assert actual[:header_end].decode("latin-1") == expected[:header_end].decode("latin-1")
    assert actual[header_end:] == expected[header_end:]


def assert_names(err: BaseException, path: Path) -> None:
    """Every ndbridge error message names the file it is about."""
    assert str(path) in str(err)


# --- properties: numpy writes, ndbridge reads ------------------------------


@PROPERTY
@given(arr=arrays())
def test_numpy_save_then_cpp_read(arr: np.ndarray) -> None:
    with scratch_dir() as folder:
        path = folder / "array.npy"
        np.save(path, arr)
        fortran_order = header_fortran_order(path)

        result = cpp.read_npy(path)
        assert_same_array(result, arr, fortran_order=fortran_order)
        assert result.flags.writeable

        mapped = cpp.read_npy(path, mmap=True)
        assert_same_array(mapped, arr, fortran_order=fortran_order)
        assert not mapped.flags.writeable


@PROPERTY
@given(arr=arrays(min_dims=1), data=st.data())
def test_numpy_save_then_cpp_read_rows(arr: np.ndarray, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, arr.shape[0]), label="start")
    stop = data.draw(st.integers(start, arr.shape[0]), label="stop")
    with scratch_dir() as folder:
        path = folder / "array.npy"
        np.save(path, arr)
        result = cpp.read_npy(path, rows=(start, stop))
        assert_same_array(result, arr[start:stop], fortran_order=header_fortran_order(path))


# --- properties: ndbridge writes, numpy reads ------------------------------


@PROPERTY
@given(arr=arrays())
def test_cpp_write_then_numpy_load(arr: np.ndarray) -> None:
    dtype_before, bytes_before = arr.dtype.str, arr.tobytes()
    with scratch_dir() as folder:
        path = folder / "array.npy"
        cpp.write_npy(path, arr)
        # The input is left alone (no in-place byte swap) and no temporary
        # file is left next to the result.
        assert (arr.dtype.str, arr.tobytes()) == (dtype_before, bytes_before)
        assert os.listdir(folder) == ["array.npy"]

        fortran_order = header_fortran_order(path)
        assert fortran_order == numpy_fortran_order(arr)
        assert_same_array(np.load(path, allow_pickle=False), arr, fortran_order=fortran_order)
        assert_same_array(cpp.read_npy(path), arr, fortran_order=fortran_order)
        # np.save writes strided input in C order with fortran_order False,
        # so every input, contiguous or not, must give np.save's exact bytes.
        assert_same_file_bytes(path.read_bytes(), numpy_save_bytes(arr))


# --- format versions and header spellings -----------------------------------

EXAMPLE_ARRAYS = [
    pytest.param(random_array(np.dtype("<f8"), (2, 3), 1), id="f8-C"),
    pytest.param(random_array(np.dtype(">i4"), (3, 4), 2, order="F"), id="be-i4-F"),
    pytest.param(random_array(np.dtype(">U3"), (4,), 3), id="be-unicode"),
    pytest.param(random_array(np.dtype("|S5"), (2, 2), 4), id="bytes"),
    pytest.param(random_array(np.dtype("|b1"), (3, 1, 2), 5), id="bool"),
    pytest.param(random_array(np.dtype(">c16"), (), 6), id="0d-be-c16"),
    pytest.param(random_array(np.dtype("<f2"), (3, 0, 2), 7), id="empty"),
]


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)], ids=["v1.0", "v2.0", "v3.0"])
@pytest.mark.parametrize("arr", EXAMPLE_ARRAYS)
def test_read_format_versions(tmp_path: Path, arr: np.ndarray, version: tuple[int, int]) -> None:
    path = tmp_path / "array.npy"
    with path.open("wb") as f:
        np.lib.format.write_array(f, arr, version=version)
    assert path.read_bytes()[6:8] == bytes(version)
    fortran_order = numpy_fortran_order(arr)

    assert_same_array(cpp.read_npy(path), arr, fortran_order=fortran_order)
    assert_same_array(cpp.read_npy(path, mmap=True), arr, fortran_order=fortran_order)
    if arr.ndim:
        rows = cpp.read_npy(path, rows=(1, arr.shape[0]))
        assert_same_array(rows, arr[1:], fortran_order=fortran_order)


SPELLED = random_array(np.dtype(">i2"), (2, 3), 8)

# (header text, fortran_order, version, padded to 64 like numpy)
SPELLINGS = [
    pytest.param(
        "{'descr': '>i2', 'fortran_order': False, 'shape': (2, 3), }",
        False,
        (1, 0),
        True,
        id="numpy-style",
    ),
    pytest.param(
        '{"descr": ">i2", "fortran_order": False, "shape": (2, 3)}',
        False,
        (1, 0),
        True,
        id="double-quotes",
    ),
    pytest.param(
        "{\"descr\": '>i2', 'fortran_order': False, \"shape\": (2, 3)}",
        False,
        (1, 0),
        True,
        id="mixed-quotes",
    ),
    pytest.param(
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '>i2'}",
        False,
        (1, 0),
        True,
        id="reversed-keys",
    ),
    pytest.param(
        "{'descr':'>i2','fortran_order':False,'shape':(2,3)}",
        False,
        (1, 0),
        True,
        id="no-spaces",
    ),
    pytest.param(
        "{\n  'descr' :\t'>i2' ,\n  'fortran_order' : False ,\n  'shape' : ( 2 ,  3 )\n}",
        False,
        (1, 0),
        True,
        id="extra-whitespace-and-newlines",
    ),
    pytest.param(
        "  {'descr': '>i2', 'fortran_order': False, 'shape': (2, 3)}",
        False,
        (1, 0),
        True,
        id="leading-spaces",
    ),
    pytest.param(
        "{'descr': '>i2', 'fortran_order': False, 'shape': (2, 3,),}",
        False,
        (1, 0),
        True,
        id="trailing-commas",
    ),
    pytest.param(
        "{'descr': '>i2', 'fortran_order': False, 'shape': (2L, 3L), }",
        False,
        (1, 0),
        True,
        id="python2-long-ints",
    ),
    pytest.param(
        "{'descr': '>i2', 'fortran_order': False, 'shape': (2L, 3L), }",
        False,
        (2, 0),
        True,
        id="python2-long-ints-v2.0",
    ),
    pytest.param(
        "{'descr': '>i2', 'fortran_order': False, 'shape': (2, 3), }",
        False,
        (1, 0),
        False,
        id="minimal-padding",
    ),
    pytest.param(
        "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }",
        True,
        (1, 0),
        True,
        id="fortran-order",
    ),
    pytest.param(
        '{"shape":(2,3),"descr":">i2","fortran_order":True}',
        True,
        (3, 0),
        False,
        id="v3.0-compact-fortran",
    ),
    pytest.param(
        "{'descr': '>i2', 'fortran_order': False, 'shape': (2, 3), }" + " " * 70_000,
        False,
        (2, 0),
        True,
        id="v2.0-header-over-64k",
    ),
]


@pytest.mark.parametrize(("header", "fortran_order", "version", "align"), SPELLINGS)
def test_read_header_spellings(
    raw_npy: Callable[..., Path],
    header: str,
    fortran_order: bool,
    version: tuple[int, int],
    align: bool,
) -> None:
    data = SPELLED.tobytes(order="F" if fortran_order else "C")
    path = raw_npy(header, data, version=version, align=align)
    # The file is valid: numpy reads it (warning about Python 2 headers).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from_numpy = np.load(path, allow_pickle=False, max_header_size=2**20)
    assert_same_array(from_numpy, SPELLED, fortran_order=fortran_order)

    assert_same_array(cpp.read_npy(path), SPELLED, fortran_order=fortran_order)
    assert_same_array(cpp.read_npy(path, mmap=True), SPELLED, fortran_order=fortran_order)
    rows = cpp.read_npy(path, rows=(1, 2))
    assert_same_array(rows, SPELLED[1:2], fortran_order=fortran_order)


# --- edge shapes -------------------------------------------------------------


@pytest.mark.parametrize(
    "arr",
    [
        pytest.param(np.array(1.5, dtype=">f8"), id="be-f8"),
        pytest.param(np.array(True), id="bool"),
        pytest.param(np.array(b"ab", dtype="S3"), id="bytes"),
        pytest.param(np.array("\u00e9\u2603", dtype="<U2"), id="unicode"),
    ],
)
def test_zero_dim(tmp_path: Path, arr: np.ndarray) -> None:
    written = tmp_path / "from_cpp.npy"
    cpp.write_npy(written, arr)
    assert_same_file_bytes(written.read_bytes(), numpy_save_bytes(arr))

    saved = tmp_path / "from_numpy.npy"
    np.save(saved, arr)
    assert_same_array(cpp.read_npy(saved), arr, fortran_order=False)
    assert_same_array(cpp.read_npy(saved, mmap=True), arr, fortran_order=False)
    with pytest.raises(ndbridge.UsageError) as info:
        cpp.read_npy(saved, rows=(0, 1))
    assert isinstance(info.value, ValueError)
    assert_names(info.value, saved)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (0, 5), (4, 0)], ids=shape_id)
def test_zero_size(tmp_path: Path, shape: tuple[int, ...], order: str) -> None:
    arr = np.zeros(shape, dtype="<c8", order=order)  # type: ignore[call-overload]
    written = tmp_path / "from_cpp.npy"
    cpp.write_npy(written, arr)
    assert_same_file_bytes(written.read_bytes(), numpy_save_bytes(arr))

    saved = tmp_path / "from_numpy.npy"
    np.save(saved, arr)
    assert_same_array(cpp.read_npy(saved), arr, fortran_order=False)
    assert_same_array(cpp.read_npy(saved, mmap=True), arr, fortran_order=False)
    for start, stop in [(0, shape[0]), (shape[0], shape[0])]:
        result = cpp.read_npy(saved, rows=(start, stop))
        assert_same_array(result, arr[start:stop], fortran_order=False)


def test_large_strided_write(tmp_path: Path) -> None:
    """Strided data is gathered in bounded chunks: make it span many of them,
    with rows reversed, every other column and odd sizes so that chunk
    boundaries fall inside rows."""
    base = random_array(np.dtype(">c8"), (2001, 2601), 9)
    arr = base[::-1, ::2]
    path = tmp_path / "large.npy"
    cpp.write_npy(path, arr)
    assert_same_file_bytes(path.read_bytes(), numpy_save_bytes(arr))


# --- memory maps and row ranges ---------------------------------------------


def test_mmap_is_read_only(tmp_path: Path) -> None:
    arr = np.arange(12, dtype="<i8").reshape(3, 4)
    path = tmp_path / "array.npy"
    np.save(path, arr)
    mapped = cpp.read_npy(path, mmap=True)
    assert not mapped.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        mapped[0, 0] = 5
    # Nor can the flag be switched back on: writes would hit a read-only mapping.
    with pytest.raises(ValueError):
        mapped.flags.writeable = True
    assert path.read_bytes() == numpy_save_bytes(arr)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shared page cache")
def test_mmap_reads_the_file_in_place(tmp_path: Path) -> None:
    """A mapped array shows a later write to the file: it is no copy."""
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(1024, dtype="<u8"))
    mapped = cpp.read_npy(path, mmap=True)
    with path.open("r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(struct.pack("<Q", 42))
    assert mapped[-1] == 42


@pytest.mark.skipif(sys.platform == "win32", reason="an open file cannot be deleted")
def test_mmap_outlives_file_and_parent_array(tmp_path: Path) -> None:
    arr = random_array(np.dtype("<f4"), (6, 5), 10)
    path = tmp_path / "array.npy"
    np.save(path, arr)
    view = cpp.read_npy(path, mmap=True)[1:, ::2]
    gc.collect()
    path.unlink()
    gc.collect()
    assert view.tobytes() == arr[1:, ::2].tobytes()


def test_write_from_mmap(tmp_path: Path) -> None:
    arr = random_array(np.dtype(">u2"), (5, 3), 11, order="F")
    source = tmp_path / "source.npy"
    np.save(source, arr)
    copy = tmp_path / "copy.npy"
    cpp.write_npy(copy, cpp.read_npy(source, mmap=True))
    assert copy.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2), (6,)], ids=shape_id)
def test_rows_of_fortran_array(tmp_path: Path, shape: tuple[int, ...]) -> None:
    arr = random_array(np.dtype(">f4"), shape, 12, order="F")
    path = tmp_path / "array.npy"
    np.save(path, arr)
    assert header_fortran_order(path) == (len(shape) > 1)
    n = shape[0]
    for start, stop in [(0, n), (1, 3), (2, 2), (n - 1, n)]:
        result = cpp.read_npy(path, rows=(start, stop))
        assert_same_array(result, arr[start:stop], fortran_order=len(shape) > 1)


@pytest.mark.parametrize(
    "rows", [(3, 2), (0, 5), (5, 5), (2, 6)], ids=["start>stop", "stop>n", "start>n", "past-end"]
)
def test_rows_out_of_range(tmp_path: Path, rows: tuple[int, int]) -> None:
    path = tmp_path / "array.npy"
    np.save(path, np.zeros((4, 2)))
    with pytest.raises(ndbridge.UsageError) as info:
        cpp.read_npy(path, rows=rows)
    assert isinstance(info.value, ValueError)
    assert_names(info.value, path)


# --- file system errors -------------------------------------------------------


@pytest.mark.parametrize("kwargs", READ_MODES)
def test_read_missing_file(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    path = tmp_path / "missing.npy"
    with pytest.raises(FileNotFoundError) as info:
        cpp.read_npy(path, **kwargs)
    assert isinstance(info.value, ndbridge.FileError)
    assert info.value.errno == errno.ENOENT
    assert_names(info.value, path)


@pytest.mark.parametrize("kwargs", READ_MODES)
def test_read_directory(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ndbridge.FileError) as info:
        cpp.read_npy(tmp_path, **kwargs)
    assert isinstance(info.value, OSError)
    assert_names(info.value, tmp_path)


def test_write_into_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "folder" / "array.npy"
    with pytest.raises(OSError) as info:
        cpp.write_npy(path, np.zeros(3))
    assert isinstance(info.value, ndbridge.FileError)
    assert info.value.errno == errno.ENOENT
    assert_names(info.value, path)
    assert os.listdir(tmp_path) == []


def test_write_leaves_only_the_file(tmp_path: Path) -> None:
    path = tmp_path / "array.npy"
    first = random_array(np.dtype("<f8"), (3, 4), 13)
    cpp.write_npy(path, first)
    assert os.listdir(tmp_path) == ["array.npy"]
    # Overwriting replaces the content, again without a leftover temporary.
    second = random_array(np.dtype(">i2"), (7,), 14)
    cpp.write_npy(path, second)
    assert os.listdir(tmp_path) == ["array.npy"]
    assert path.read_bytes() == numpy_save_bytes(second)


def test_write_onto_directory_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "taken.npy"
    target.mkdir()
    with pytest.raises(ndbridge.FileError) as info:
        cpp.write_npy(target, np.arange(3))
    assert isinstance(info.value, OSError)
    assert_names(info.value, target)
    assert os.listdir(tmp_path) == ["taken.npy"]
    assert os.listdir(target) == []


LONG_DOUBLE_IS_DOUBLE = np.dtype(np.longdouble).itemsize == 8


@pytest.mark.parametrize(
    "arr",
    [
        pytest.param(np.array([1, "a", None], dtype=object), id="object"),
        pytest.param(np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]), id="structured"),
        pytest.param(np.array(["2020-01-01"], dtype="<M8[ns]"), id="datetime"),
        pytest.param(np.zeros(2, dtype="<m8[s]"), id="timedelta"),
        pytest.param(np.zeros(2, dtype="|V8"), id="void"),
        pytest.param(
            np.zeros(2, dtype=np.longdouble),
            id="longdouble",
            marks=pytest.mark.skipif(LONG_DOUBLE_IS_DOUBLE, reason="longdouble is float64 here"),
        ),
    ],
)
def test_write_unsupported_dtype(tmp_path: Path, arr: np.ndarray) -> None:
    path = tmp_path / "array.npy"
    with pytest.raises(ndbridge.UnsupportedError) as info:
        cpp.write_npy(path, arr)
    assert isinstance(info.value, ValueError)
    assert_names(info.value, path)
    assert os.listdir(tmp_path) == []


# --- API surface ---------------------------------------------------------------


@pytest.mark.parametrize("as_path", [str, Path], ids=["str", "pathlib"])
def test_accepts_str_and_pathlib(tmp_path: Path, as_path: Callable[[Path], Any]) -> None:
    arr = random_array(np.dtype("<i4"), (3, 2), 15)
    path = as_path(tmp_path / "array.npy")
    cpp.write_npy(path, arr)
    assert_same_array(cpp.read_npy(path), arr, fortran_order=False)
    assert_same_array(cpp.read_npy(path, mmap=True), arr, fortran_order=False)
    assert_same_array(cpp.read_npy(path, rows=(1, 3)), arr[1:3], fortran_order=False)


def test_non_ascii_paths(tmp_path: Path) -> None:
    folder = tmp_path / "donn\u00e9es \u2603"
    folder.mkdir()
    arr = random_array(np.dtype("<u4"), (4,), 16)
    path = folder / "tableau-\u00fc.npy"
    cpp.write_npy(path, arr)
    assert_same_array(np.load(path), arr, fortran_order=False)
    assert_same_array(cpp.read_npy(path), arr, fortran_order=False)
    missing = folder / "manquant-\u00e9.npy"
    with pytest.raises(FileNotFoundError) as info:
        cpp.read_npy(missing)
    assert_names(info.value, missing)


def test_exception_hierarchy() -> None:
    assert issubclass(ndbridge.Error, Exception)
    for cls, builtin in [
        (ndbridge.FormatError, ValueError),
        (ndbridge.UnsupportedError, ValueError),
        (ndbridge.UsageError, ValueError),
        (ndbridge.FileError, OSError),
    ]:
        assert issubclass(cls, ndbridge.Error)
        assert issubclass(cls, builtin)
