"""The exception hierarchy users catch: ndbridge.Error plus the natural builtin."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

import ndbridge
from ndbridge import cpp


def test_hierarchy() -> None:
    assert issubclass(ndbridge.FormatError, ndbridge.Error)
    assert issubclass(ndbridge.FormatError, ValueError)
    assert issubclass(ndbridge.UnsupportedError, ValueError)
    assert issubclass(ndbridge.UsageError, ValueError)
    assert issubclass(ndbridge.FileError, OSError)


def test_missing_file_is_file_not_found_and_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.npy"
    with pytest.raises(FileNotFoundError) as info:
        cpp.read_npy(path)
    assert isinstance(info.value, ndbridge.FileError)
    assert info.value.errno == errno.ENOENT
    assert str(path) in str(info.value)


def test_directory_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as info:
        cpp.read_npy(tmp_path)
    assert isinstance(info.value, ndbridge.Error)


def test_unreadable_file_is_permission_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.npy"
    np.save(path, np.arange(3))
    path.chmod(0)
    try:
        with open(path, "rb"):
            pytest.skip("running with privileges that ignore file modes")
    except PermissionError:
        pass
    with pytest.raises(PermissionError) as info:
        cpp.read_npy(path)
    assert isinstance(info.value, ndbridge.FileError)


def test_write_into_missing_folder_names_the_destination(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "out.npy"
    with pytest.raises(FileNotFoundError) as info:
        cpp.write_npy(target, np.arange(3))
    assert "out.npy" in str(info.value)


@pytest.mark.parametrize("rows", [(3, 2), (0, 11), (-1, 2), (0.5, 2), "ab", (1, 2, 3), (True, 2)])
def test_bad_row_ranges_are_usage_errors(tmp_path: Path, rows: object) -> None:
    path = tmp_path / "ten.npy"
    np.save(path, np.arange(10))
    with pytest.raises(ndbridge.UsageError):
        cpp.read_npy(path, rows=rows)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "builtin"),
    [
        (errno.ENOENT, FileNotFoundError),
        (errno.EACCES, PermissionError),
        (errno.EISDIR, IsADirectoryError),
        (errno.ENOSPC, OSError),
    ],
)
def test_errno_picks_the_builtin_subclass(code: int, builtin: type[OSError]) -> None:
    # Root ignores file modes, so the PermissionError path is checked here
    # directly, on the function the binding calls for every C++ IOError.
    from ndbridge._errors import file_error

    exc = file_error(code, "'x.npy': cannot open")
    assert isinstance(exc, builtin)
    assert isinstance(exc, ndbridge.FileError)
    assert exc.errno == code


@pytest.mark.parametrize("rows", [(3, 2), (0, 11), (-1, 2), (0.5, 2), "ab", (1, 2, 3), (True, 2)])
def test_bad_row_ranges_on_an_open_h5_file_are_usage_errors(tmp_path: Path, rows: object) -> None:
    path = tmp_path / "ten.h5"
    cpp.write_h5(path, "x", np.arange(10))
    with cpp.H5File(path) as f, pytest.raises(ndbridge.UsageError):
        f.read("x", rows=rows)  # type: ignore[arg-type]


def test_open_h5_file_reads_lists_and_closes(tmp_path: Path) -> None:
    path = tmp_path / "ten.h5"
    cpp.write_h5(path, "x", np.arange(10), attrs={"unit": "m"})
    f = cpp.H5File(path)
    assert f.read("x", rows=(np.int64(2), 4)).tolist() == [2, 3]
    assert [o["path"] for o in f.list()] == ["/", "/x"]
    assert f.attrs("x") == {"unit": "m"}
    f.close()
    with pytest.raises(ndbridge.UsageError, match="closed"):
        f.read("x")
