"""Which kind of array file a path holds, and access to single .npz members.

Shared by ``convert``, ``verify`` and ``load``. The format is told by the
file's first bytes, never by its suffix (the C++ library tells it): a ``.h5``
that is really an .npy file is read as what it is.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Union

from . import cpp
from ._errors import FormatError, NotFoundError, UnsupportedError, UsageError, file_error

PathLike = Union[str, "os.PathLike[str]"]

NPY = "npy"
NPZ = "npz"
HDF5 = "h5"

_COPY_BLOCK = 1 << 20


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


def _open_zip(path: PathLike) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise FormatError(f"{quoted(path)}: not a readable .npz archive: {exc}") from None
    except OSError as exc:
        raise os_error(path, exc) from None


def npz_members(path: PathLike) -> list[str]:
    """The array names of an .npz archive (member names without ``.npy``), in order.

    Raises FormatError for a broken archive and UnsupportedError for members
    that are not .npy files.
    """
    with _open_zip(path) as archive:
        names = archive.namelist()
    for name in names:
        if not name.endswith(".npy"):
            raise UnsupportedError(
                f"{quoted(path)}: member '{name}' is not an .npy file, which ndbridge does not read"
            )
    return [name[: -len(".npy")] for name in names]


@contextmanager
def npz_member_as_npy(path: PathLike, name: str, folder: PathLike | None = None) -> Iterator[Path]:
    """Copy one member of an .npz archive to a temporary .npy file and yield its path.

    Only that member is read, in blocks of bounded size, with its CRC-32
    checked; the copy is deleted on exit. ``folder`` is where the copy goes
    (default: the system's temporary folder). Raises NotFoundError for a
    missing member, FormatError for a corrupt one and UnsupportedError for an
    encrypted one or an unknown compression method.
    """
    with _open_zip(path) as archive:
        member = f"{name}.npy"
        if member not in archive.NameToInfo:
            available = ", ".join(n[: -len(".npy")] for n in archive.namelist()) or "none"
            raise NotFoundError(f"{quoted(path)}: no member named '{name}' (members: {available})")
        with tempfile.TemporaryDirectory(prefix=".ndbridge-", dir=folder) as tmp:
            copy = Path(tmp) / "member.npy"
            try:
                with archive.open(member) as src, open(copy, "wb") as dst:
                    shutil.copyfileobj(src, dst, _COPY_BLOCK)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise FormatError(f"{quoted(path)}: member '{member}' is corrupt: {exc}") from None
            except (NotImplementedError, RuntimeError) as exc:
                # zipfile's words for unknown compression methods and encryption.
                raise UnsupportedError(f"{quoted(path)}: member '{member}': {exc}") from None
            try:
                yield copy
            except (FormatError, UnsupportedError, UsageError) as exc:
                # Name the archive and member, not the temporary copy.
                text = str(exc)
                if quoted(copy) not in text:
                    raise
                where = f"{quoted(path)}: member '{member}'"
                raise type(exc)(text.replace(quoted(copy), where)) from None
