"""``ndbridge.load``: one array, or rows of it, from an .npy, .npz or HDF5 file, read by C++."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import cpp
from ._errors import NotFoundError, UsageError
from ._formats import NPY, NPZ, PathLike, detect_format, quoted


def _only(path: PathLike, names: list[str], what: str) -> str:
    if len(names) != 1:
        listed = ", ".join(names) or "none"
        raise UsageError(
            f"{quoted(path)} holds {len(names)} {what}s ({listed}); name the one to load"
        )
    return names[0]


def load(path: PathLike, name: str | None = None, *, rows: cpp.Rows = None) -> np.ndarray:
    """Read one array, or some of its rows, with the C++ reader.

    ``path`` is an .npy, .npz or HDF5 file (told by its content, not its
    suffix). ``name`` is the HDF5 dataset (``"group/x"``) or .npz member; it
    may be omitted when the file holds exactly one array (for an .npy file it
    must be omitted or be the file's stem). ``rows`` is a ``(start, stop)``
    range or integer row indices (any order, repeats, negative from the end,
    as numpy's ``a[indices]``). Only the requested array, and with ``rows``
    only those rows along the first axis, are read into memory: an .npz
    member straight from the archive (a deflated one inflated only as far as
    the last row asked for), never through a temporary file.

    Raises UsageError when ``name`` is needed but missing or ``rows`` does not
    fit, NotFoundError (a KeyError) for a missing dataset or member, and the
    reader's FormatError, UnsupportedError, H5Error or FileError otherwise.
    """
    fmt = detect_format(path)
    if fmt == NPY:
        if name is not None and name != Path(path).stem:
            raise NotFoundError(
                f"{quoted(path)}: an .npy file holds one array; no array named '{name}'"
            )
        return cpp.read_npy(path, rows=rows)
    if fmt == NPZ:
        with cpp.NpzReader(path) as archive:
            if name is None:
                name = _only(path, archive.names(), "member")
            return archive.read(name, rows=rows)
    if name is None:
        objects = cpp.list_h5(path)
        datasets = [obj["path"].lstrip("/") for obj in objects if obj["kind"] == "dataset"]
        name = _only(path, datasets, "dataset")
    return cpp.read_h5(path, name, rows=rows)
