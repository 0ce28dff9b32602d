"""Which kind of array file a path holds, and access to single .npz members.

Shared by ``convert``, ``verify`` and ``load``. The format is told by the
file's first bytes, never by its suffix (the C++ library tells it): a ``.h5``
that is really an .npy file is read as what it is.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Union

from . import cpp
from ._errors import FormatError, UnsupportedError, UsageError, file_error

PathLike = Union[str, "os.PathLike[str]"]

NPY = "npy"
NPZ = "npz"
HDF5 = "h5"


def quoted(path: PathLike) -> str:
    """The path as error messages show it: ``'dir/file.npy'``."""
    return f"'{os.fspath(path)}'"


_HDF5_ERRNO = re.compile(r"errno = (\d+)")


def system_errno(exc: BaseException) -> int | None:
    """The errno of the system call behind ``exc``, if one failed.

    h5py raises OSError with it set for most failures, but a file that
    cannot be flushed on close comes as a RuntimeError whose text holds
    HDF5's report ("..., errno = 27, error message = 'File too large'").
    """
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    found = _HDF5_ERRNO.search(str(exc))
    if found is None or int(found.group(1)) == 0:
        return None
    return int(found.group(1))


def os_error(path: PathLike, exc: BaseException) -> Exception:
    """An ndbridge FileError naming ``path`` for an operating-system failure."""
    code = system_errno(exc) or 0
    # h5py's strerror is HDF5's whole report (time, descriptor, buffer...);
    # the system's text for the errno is what a reader needs.
    return file_error(code, f"{quoted(path)}: {os.strerror(code) if code else exc}")


def detect_format(path: PathLike) -> str:
    """``"npy"``, ``"npz"`` or ``"h5"``, told by the file's magic bytes (C++'s
    :func:`ndbridge.cpp.detect_format`).

    Raises FormatError for anything else and FileError when the file cannot
    be read.
    """
    return cpp.detect_format(path)


def npz_members(path: PathLike) -> list[str]:
    """The array names of an .npz archive (member names without ``.npy``), in order.

    Raises FormatError for a broken archive and UnsupportedError for members
    that are not .npy files.
    """
    with cpp.NpzReader(path) as archive:
        return [member["name"] for member in archive.members()]


@contextmanager
def npz_member_as_npy(path: PathLike, name: str, folder: PathLike | None = None) -> Iterator[Path]:
    """Copy one member of an .npz archive to a temporary .npy file and yield its path.

    The C++ reader copies it (``NpzReader.extract``: blocks of bounded size,
    header and CRC-32 checked), so its rows can then be read in any order
    without inflating the member again; the copy is deleted on exit.
    ``folder`` is where the copy goes (default: the system's temporary
    folder). Raises NotFoundError for a missing member, FormatError for a
    corrupt one and UnsupportedError for one ndbridge cannot decode.
    """
    with tempfile.TemporaryDirectory(prefix=".ndbridge-", dir=folder) as tmp:
        copy = Path(tmp) / "member.npy"
        with cpp.NpzReader(path) as archive:
            archive.extract(name, copy)
        try:
            yield copy
        except (FormatError, UnsupportedError, UsageError) as exc:
            # Name the archive and member, not the temporary copy.
            text = str(exc)
            if quoted(copy) not in text:
                raise
            where = f"{quoted(path)}: member '{name}.npy'"
            raise type(exc)(text.replace(quoted(copy), where)) from None
