"""Read every array of a file with numpy/h5py and with the C++ reader; compare bit for bit.

:func:`verify` returns a :class:`VerifyReport`; ``ndbridge verify`` prints it
as a table (or JSON) and exits 0 when nothing differs: every array identical,
or identical but for arrays the C++ reader does not support (a note says so;
``--strict`` fails then too), 1 when any array differs or fails to read. Two
reads are identical when dtype (``dtype.str``, byte order included), shape
and every byte of the elements agree. The reference side is numpy for .npy
and .npz (``numpy.load``) and h5py for HDF5, with h5py's variable-length
text taken as a ``<U`` array (``dataset.asstr()``) as the C++ reader gives
it. Arrays are compared in row blocks of bounded size, so memory use does
not grow with the file.

``--json`` prints ``{"path", "format", "ok", "identical", "counts": {result: n},
"arrays": [{"name", "dtype", "shape", "result", "detail"}]}``, with
``result`` one of ``"identical"``, ``"different"``, ``"unsupported"`` (the
C++ reader refuses the content; ``detail`` says why) or ``"error"`` (a
reader failed on content the other may read), and ``name`` null for an .npy
file's single array.
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import cpp
from ._difference import difference, layout_difference
from ._errors import Error, FormatError, UnsupportedError
from ._formats import HDF5, NPY, PathLike, detect_format, quoted
from .arrays import (
    BLOCK_BYTES,
    ArraySource,
    h5_dataset,
    h5_dataset_names,
    h5py_source,
    open_h5,
    rows_of,
)

#: How the two readers are named in what differs.
_SIDES = ("reference", "C++")
IDENTICAL = "identical"
DIFFERENT = "different"
UNSUPPORTED = "unsupported"
ERROR = "error"


@dataclass
class ArrayResult:
    """The verdict on one array: ``result`` is identical, different, unsupported or error."""

    name: str | None
    dtype: str | None
    shape: tuple[int, ...] | None
    result: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        shape = None if self.shape is None else list(self.shape)
        return {"name": self.name, "dtype": self.dtype, "shape": shape,
                "result": self.result, "detail": self.detail}  # fmt: skip


@dataclass
class VerifyReport:
    """Every array of one file and whether the C++ reader read it identically."""

    path: str
    format: str
    arrays: list[ArrayResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing differs: every array identical or unsupported by C++."""
        return all(a.result in (IDENTICAL, UNSUPPORTED) for a in self.arrays)

    @property
    def identical(self) -> bool:
        """True when every array is identical (and vacuously for a file with none)."""
        return all(a.result == IDENTICAL for a in self.arrays)

    def counts(self) -> dict[str, int]:
        """How many arrays got each result."""
        return dict(Counter(a.result for a in self.arrays))

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (the ``--json`` document)."""
        return {
            "path": self.path,
            "format": self.format,
            "ok": self.ok,
            "identical": self.identical,
            "counts": self.counts(),
            "arrays": [a.as_dict() for a in self.arrays],
        }


def compare(ref: ArraySource, cxx: ArraySource, block_bytes: int = BLOCK_BYTES) -> str | None:
    """None when both sources hold the same dtype, shape and bytes; else what differs."""
    found = layout_difference((ref.dtype, ref.shape), (cxx.dtype, cxx.shape), _SIDES)
    if found is not None:
        return found
    for start, block in ref.blocks(block_bytes):
        other = cxx.read(start, start + len(block)) if ref.shape else cxx.read(0, 0)
        if other.dtype.str != block.dtype.str or other.shape != block.shape:
            return (
                f"rows from {start}: reference {block.dtype.str} {block.shape}, "
                f"C++ {other.dtype.str} {other.shape}"
            )
        found = difference(block, other, labels=_SIDES, first_row=start)
        if found is not None:
            return found
    return None


def _short(path: PathLike, exc: BaseException) -> str:
    # The report names the file once; drop it from each message.
    return str(exc).removeprefix(f"{quoted(path)}: ")


def _judge(
    path: PathLike,
    name: str | None,
    reference: Callable[[], ArraySource],
    cxx: Callable[[], ArraySource],
    block_bytes: int,
    known: tuple[str | None, tuple[int, ...] | None] = (None, None),
) -> ArrayResult:
    # ``known``: dtype and shape to show when the C++ reader fails.
    try:
        theirs = cxx()
    except UnsupportedError as exc:
        return ArrayResult(name, *known, UNSUPPORTED, _short(path, exc))
    except Error as exc:
        return ArrayResult(name, *known, ERROR, f"C++ reader: {_short(path, exc)}")
    try:
        ours = reference()
    except (Error, ValueError, OSError, EOFError) as exc:
        detail = f"reference reader: {_short(path, exc)}"
        return ArrayResult(name, theirs.dtype.str, theirs.shape, ERROR, detail)
    try:
        difference = compare(ours, theirs, block_bytes)
    except Error as exc:
        return ArrayResult(name, ours.dtype.str, ours.shape, ERROR, _short(path, exc))
    if difference is None:
        return ArrayResult(name, ours.dtype.str, ours.shape, IDENTICAL)
    return ArrayResult(name, ours.dtype.str, ours.shape, DIFFERENT, difference)


def _verify_npy(path: PathLike, block_bytes: int) -> Iterator[ArrayResult]:
    def cxx() -> ArraySource:
        header = cpp.read_npy_header(path)
        dtype, shape = np.dtype(header["dtype"]), tuple(header["shape"])
        if not shape:
            return ArraySource("", dtype, shape, lambda a, b: cpp.read_npy(path))
        return ArraySource("", dtype, shape, lambda a, b: cpp.read_npy(path, rows=(a, b)))

    def reference() -> ArraySource:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        return ArraySource("", array.dtype, array.shape, rows_of(array))

    yield _judge(path, None, reference, cxx, block_bytes)


def _verify_npz(path: PathLike, block_bytes: int) -> Iterator[ArrayResult]:
    # Opened here: np.load leaves its own file open when the archive is damaged.
    with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
        names = list(archive.files)
        try:
            arrays: dict[str, np.ndarray] | Error = cpp.read_npz(path)
        except Error as exc:
            arrays = exc
        for name in names:

            def cxx(name: str = name) -> ArraySource:
                if isinstance(arrays, Error):
                    raise arrays
                if name not in arrays:
                    raise UnsupportedError(f"the C++ reader has no member '{name}'")
                array = arrays[name]
                return ArraySource(name, array.dtype, array.shape, rows_of(array))

            def reference(name: str = name) -> ArraySource:
                array = archive[name]
                return ArraySource(name, array.dtype, array.shape, rows_of(array))

            yield _judge(path, name, reference, cxx, block_bytes)
        if not isinstance(arrays, Error):
            for extra in arrays.keys() - set(names):
                yield ArrayResult(extra, None, None, DIFFERENT, "only the C++ reader lists it")


def _verify_h5(path: PathLike, block_bytes: int) -> Iterator[ArrayResult]:
    with open_h5(path) as file, cpp.H5File(path) as reader:
        listed = {obj["path"]: obj for obj in reader.list()}
        for name in h5_dataset_names(file):
            dataset = h5_dataset(file, path, name)
            entry = listed.get(f"/{name}")

            def cxx(name: str = name, entry: dict[str, Any] | None = entry) -> ArraySource:
                if entry is None or entry["dtype"] is None or entry["null_dataspace"]:
                    # Text (and null dataspaces) have no dtype until read: read it whole.
                    whole = reader.read(name)
                    return ArraySource(name, whole.dtype, whole.shape, rows_of(whole))
                shape = tuple(entry["shape"])
                if not shape:
                    return ArraySource(name, np.dtype(entry["dtype"]), shape,
                                       lambda a, b: reader.read(name))  # fmt: skip
                return ArraySource(name, np.dtype(entry["dtype"]), shape,
                                   lambda a, b: reader.read(name, rows=(a, b)))  # fmt: skip

            if dataset.shape is None:
                # h5py reads a null dataspace as h5py.Empty: no elements, only a type.
                empty = np.empty(0, dtype=dataset.dtype.str)

                def reference(name: str = name, empty: np.ndarray = empty) -> ArraySource:
                    return ArraySource(name, empty.dtype, empty.shape, rows_of(empty))
            else:

                def reference(dataset: Any = dataset) -> ArraySource:
                    return h5py_source(path, dataset)

            known = (dataset.dtype.str, dataset.shape)
            yield _judge(path, f"/{name}", reference, cxx, block_bytes, known)


def verify(path: PathLike, *, block_bytes: int = BLOCK_BYTES) -> VerifyReport:
    """Read every array of ``path`` with numpy/h5py and with the C++ reader and compare.

    Raises FormatError for files that are not .npy, .npz or HDF5 and
    FileError when the file cannot be read; everything found inside is
    reported per array in the returned :class:`VerifyReport`.
    """
    fmt = detect_format(path)
    check = {NPY: _verify_npy, HDF5: _verify_h5}.get(fmt, _verify_npz)
    try:
        arrays = list(check(path, max(1, int(block_bytes))))
    except Error:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, RuntimeError,
            TypeError) as exc:  # fmt: skip
        # numpy or h5py could not open or list a damaged file at all; each
        # array they can read is judged one by one above.
        reader = "h5py" if fmt == HDF5 else "numpy"
        raise FormatError(
            f"{quoted(path)}: {reader} cannot read it ({type(exc).__name__}: {exc})"
        ) from exc
    return VerifyReport(os.fspath(path), fmt, arrays)


def format_report(report: VerifyReport) -> str:
    """The report as the table ``ndbridge verify`` prints."""
    rows = [("array", "dtype", "shape", "result")]
    for a in report.arrays:
        result = {
            IDENTICAL: "identical",
            DIFFERENT: f"DIFFERENT ({a.detail})",
            UNSUPPORTED: f"unsupported by C++ ({a.detail})",
            ERROR: f"ERROR ({a.detail})",
        }[a.result]
        shape = "?" if a.shape is None else str(tuple(a.shape))
        rows.append((a.name or "(array)", a.dtype or "?", shape, result))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    # The last cell, row[3], is not padded.
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[3]
        for row in rows
    ]
    counts = report.counts()
    summary = ", ".join(f"{n} {result}" for result, n in sorted(counts.items())) or "no arrays"
    if report.identical:
        verdict = "all identical"
    elif report.ok:
        verdict = "nothing differs; the C++ reader does not support some arrays (--strict fails)"
    else:
        verdict = "NOT all identical"
    lines.append(f"{report.path}: {len(report.arrays)} arrays: {summary} -- {verdict}")
    return "\n".join(lines)
