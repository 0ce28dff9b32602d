"""The exceptions ndbridge raises, shared by the C++ binding and Python code.

Each is an :class:`Error` and also the builtin a caller would naturally catch:
malformed input is a ``ValueError``, an operating-system failure an ``OSError``
(and, by ``errno``, ``FileNotFoundError``, ``PermissionError``...).
"""

from __future__ import annotations

import errno as _errno


class Error(Exception):
    """Base of every ndbridge error. Messages name the file and the problem."""


class FormatError(Error, ValueError):
    """The file is not well formed: bad magic, unparsable header, truncation."""


class UnsupportedError(Error, ValueError):
    """The file is well formed but holds content ndbridge does not handle."""


class MismatchError(Error, ValueError):
    """Files that are each fine but cannot go into one array: shapes or dtypes differ."""


class UsageError(Error, ValueError):
    """An argument does not fit the data, such as rows outside the first axis."""


class NotFoundError(Error, KeyError):
    """No dataset, group, attribute or archive member of that name."""

    def __str__(self) -> str:
        # KeyError quotes its argument; an error message reads better bare.
        return str(self.args[0]) if self.args else ""


class H5Error(Error, OSError):
    """The HDF5 library reported a failure; ``stack`` holds its error stack."""

    stack: str = ""


class FileError(Error, OSError):
    """The operating system refused an operation on a file."""


class _FileNotFound(FileError, FileNotFoundError):
    pass


class _PermissionDenied(FileError, PermissionError):
    pass


class _IsADirectory(FileError, IsADirectoryError):
    pass


class _NotADirectory(FileError, NotADirectoryError):
    pass


class _FileExists(FileError, FileExistsError):
    pass


_BY_ERRNO: dict[int, type[FileError]] = {
    _errno.ENOENT: _FileNotFound,
    _errno.EACCES: _PermissionDenied,
    _errno.EPERM: _PermissionDenied,
    _errno.EISDIR: _IsADirectory,
    _errno.ENOTDIR: _NotADirectory,
    _errno.EEXIST: _FileExists,
}


def file_error(errno: int, message: str) -> FileError:
    """Build the FileError for ``errno``, also an instance of the matching builtin."""
    cls = _BY_ERRNO.get(errno, FileError)
    if errno:
        return cls(errno, message)
    return cls(message)
