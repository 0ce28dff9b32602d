"""What is inside an .npy, .npz or HDF5 file, as the C++ reader sees it.

:func:`describe` returns one JSON-ready document; :func:`format_listing`
renders it as the text ``ndbridge ls`` prints. Everything comes from the C++
library (``cpp.read_npy_header``, ``cpp.list_npz``, ``cpp.list_h5`` and
``cpp.read_h5_attrs``), so the listing shows what C++ programs will read.

The document (``ndbridge ls --json``) has these keys, always all present:

- ``path``: the file as given; ``format``: ``"npy"``, ``"npz"`` or ``"hdf5"``
  (told by the file's magic bytes, not its suffix); ``size``: the file's bytes;
- ``entries``: a list, in file order (HDF5: sorted by path), of objects with
  - ``name``: the HDF5 path (``"/g/x"``), the .npz member name without
    ``.npy``, or ``null`` for an .npy file's single array;
  - ``kind``: ``"array"`` (anything holding an array), ``"group"``,
    ``"datatype"`` (a named HDF5 type) or ``"other"`` (links and the like);
  - ``dtype``: numpy's type string (``"<f4"``), or ``null`` when the C++
    reader has no numpy type for it (variable-length strings, which it reads
    as ``<U`` text, and types it cannot read);
  - ``shape``: a list of ints, ``null`` for non-arrays and HDF5 null dataspaces;
  - ``readable``: whether the C++ reader reads it (``null`` for non-arrays);
  - ``type``: a description of the element type (HDF5's, or ``null``);
  - ``fortran_order``: a bool for .npy data, ``null`` for HDF5;
  - ``layout``: HDF5's ``"contiguous"``, ``"chunked"`` or ``"compact"``, else ``null``;
  - ``chunks``: the HDF5 chunk shape as a list, else ``null``;
  - ``filters``: HDF5 filter names in pipeline order (``["shuffle", "gzip"]``),
    ``["deflate"]`` for a compressed .npz member, else ``[]``;
  - ``stored_bytes``: bytes the data occupies in the file when known
    (.npy data, .npz member), else ``null``;
  - ``nbytes``: bytes of the array in memory (``null`` when unknown);
  - ``virtual_sources``: for an HDF5 virtual dataset (layout ``"virtual"``,
    such as the master file of a sharded pack), one ``{"file", "dataset",
    "found"}`` per mapping: the source file as stored (relative to the
    file's folder), the dataset in it, and the file HDF5 reads, or ``null``
    when it is missing; else ``[]``;
  - ``error``: why libhdf5 cannot open this HDF5 object (a format version
    newer than it reads, a damaged header), else ``null``; ``dtype``,
    ``shape`` and ``type`` are then ``null`` and ``readable`` false;
  - ``attributes``: HDF5 attributes as ``{name: {"dtype", "shape", "preview"}}``
    with a short text preview of the value (``{}`` elsewhere); when the
    C++ reader cannot read an attribute (or any of a damaged object's),
    ``dtype`` and ``shape`` are ``null`` and ``preview`` says why.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from . import cpp
from ._errors import Error
from ._formats import HDF5, NPY, NPZ, PathLike, detect_format

_PREVIEW_CHARS = 60


def preview(value: Any, limit: int = _PREVIEW_CHARS) -> str:
    """A one-line text preview of a value, at most ``limit`` characters."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        text = np.array2string(value, threshold=8, edgeitems=3, max_line_width=10**6)
    elif isinstance(value, (str, np.str_, bytes, np.bytes_)):
        text = repr(value.item() if isinstance(value, np.generic) else value)
    else:
        text = str(value.item() if isinstance(value, (np.generic, np.ndarray)) else value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _nbytes(dtype: str | None, shape: tuple[int, ...] | None) -> int | None:
    if dtype is None or shape is None:
        return None
    return math.prod(shape) * np.dtype(dtype).itemsize


def _entry(name: str | None, kind: str, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "dtype": None,
        "shape": None,
        "readable": None,
        "type": None,
        "fortran_order": None,
        "layout": None,
        "chunks": None,
        "filters": [],
        "stored_bytes": None,
        "nbytes": None,
        "virtual_sources": [],
        "error": None,
        "attributes": {},
    }
    entry.update(fields)
    if entry["shape"] is not None:
        entry["shape"] = list(entry["shape"])
        entry["nbytes"] = _nbytes(entry["dtype"], tuple(entry["shape"]))
    return entry


def _npy_entries(path: PathLike) -> list[dict[str, Any]]:
    header = cpp.read_npy_header(path)
    return [
        _entry(
            None,
            "array",
            dtype=header["dtype"],
            shape=header["shape"],
            readable=True,
            fortran_order=header["fortran_order"],
            stored_bytes=header["data_bytes"],
        )
    ]


def _npz_entries(path: PathLike) -> list[dict[str, Any]]:
    return [
        _entry(
            member["name"],
            "array",
            dtype=member["dtype"],
            shape=member["shape"],
            readable=True,
            fortran_order=member["fortran_order"],
            filters=["deflate"] if member["compressed"] else [],
            stored_bytes=member["compressed_size"],
        )
        for member in cpp.list_npz(path)
    ]


def _attributes(
    path: PathLike, obj: str, names: list[str], unreadable: dict[str, str]
) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    try:
        values = cpp.read_h5_attrs(path, obj)
    except Error as exc:
        why = f"(not readable by ndbridge: {exc})"
        return {name: {"dtype": None, "shape": None, "preview": why} for name in names}
    out = {}
    for name in names:
        if name not in values:
            why = f"(not readable by ndbridge: {unreadable.get(name, 'unknown reason')})"
            out[name] = {"dtype": None, "shape": None, "preview": why}
            continue
        value = np.asarray(values[name])
        out[name] = {
            "dtype": value.dtype.str,
            "shape": list(value.shape),
            "preview": preview(values[name]),
        }
    return out


def _h5_entries(path: PathLike) -> list[dict[str, Any]]:
    entries = []
    for obj in cpp.list_h5(path):
        if obj["error"] is not None:
            kind = "array" if obj["kind"] == "dataset" else obj["kind"]
            readable = False if kind == "array" else None
            entries.append(_entry(obj["path"], kind, readable=readable, error=obj["error"]))
            continue
        attrs = _attributes(
            path, obj["path"], list(obj["attributes"]), obj["unreadable_attributes"]
        )
        if obj["kind"] != "dataset":
            entries.append(_entry(obj["path"], obj["kind"], type=obj.get("type"), attributes=attrs))
            continue
        entries.append(
            _entry(
                obj["path"],
                "array",
                dtype=obj["dtype"],
                shape=None if obj["null_dataspace"] else obj["shape"],
                readable=obj["readable"],
                type=obj["type"],
                layout=obj["layout"],
                chunks=None if obj["chunks"] is None else list(obj["chunks"]),
                filters=list(obj["filters"]),
                virtual_sources=[dict(s) for s in obj["virtual_sources"]],
                attributes=attrs,
            )
        )
    return entries


def describe(path: PathLike) -> dict[str, Any]:
    """Describe every array (and HDF5 group) in ``path``; see the module docstring.

    Raises FormatError for files that are not .npy, .npz or HDF5 (or are
    malformed), and FileError when the file cannot be read.
    """
    fmt = detect_format(path)
    read = {NPY: _npy_entries, NPZ: _npz_entries, HDF5: _h5_entries}[fmt]
    entries = read(path)
    return {
        "path": os.fspath(path),
        "format": fmt,
        "size": os.path.getsize(path),
        "entries": entries,
    }


def _human(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def missing_sources(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """``(dataset, source file)`` for every virtual dataset's missing source file."""
    return [
        (entry["name"], source["file"])
        for entry in doc["entries"]
        for source in entry["virtual_sources"]
        if source["found"] is None
    ]


def _virtual_text(sources: list[dict[str, Any]]) -> str:
    files = list(dict.fromkeys(s["file"] for s in sources))
    text = f"virtual over {len(files)} file{'s' if len(files) != 1 else ''}"
    missing = list(dict.fromkeys(s["file"] for s in sources if s["found"] is None))
    if missing:
        shown = ", ".join(f"'{m}'" for m in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        text += f", {len(missing)} MISSING: {shown}{more}"
    return text


def _storage(entry: dict[str, Any]) -> str:
    parts = []
    if entry["fortran_order"]:
        parts.append("Fortran order")
    if entry["chunks"] is not None:
        parts.append("chunks " + "x".join(str(c) for c in entry["chunks"]))
    elif entry["layout"] == "virtual":
        parts.append(_virtual_text(entry["virtual_sources"]))
    elif entry["layout"] not in (None, "contiguous"):
        parts.append(entry["layout"])
    if entry["filters"]:
        parts.append("+".join(entry["filters"]))
    if entry["stored_bytes"] is not None and entry["filters"]:
        parts.append(f"{_human(entry['stored_bytes'])} stored")
    return ", ".join(parts)


def _dtype_text(entry: dict[str, Any]) -> str:
    if entry["dtype"] is not None:
        return entry["dtype"]
    if entry["readable"]:
        return "str"  # variable-length text, read as <U
    return "?"


def _shape_text(entry: dict[str, Any]) -> str:
    if entry["shape"] is None:
        return "null"
    return str(tuple(entry["shape"]))


def format_listing(doc: dict[str, Any]) -> str:
    """Render :func:`describe`'s document as an indented, column-aligned tree."""
    kinds = {NPY: ".npy", NPZ: ".npz", HDF5: "HDF5"}
    arrays = sum(e["kind"] == "array" for e in doc["entries"])
    lines = [
        f"{doc['path']}: {kinds[doc['format']]}, {_human(doc['size'])}, "
        f"{arrays} array{'s' if arrays != 1 else ''}"
    ]
    rows: list[tuple[str, str, str, str]] = []
    notes: dict[int, list[str]] = {}
    for entry in doc["entries"]:
        name = entry["name"]
        if doc["format"] == HDF5:
            depth = 0 if name == "/" else name.count("/")
            label = "  " * depth + ("/" if name == "/" else name.rsplit("/", 1)[1])
            if entry["kind"] == "group" and name != "/":
                label += "/"
        else:
            depth = 0
            label = name if name is not None else "(array)"
        if entry["error"] is not None:
            shape = "?" if entry["kind"] == "array" else ""
            kind = "?" if entry["kind"] == "array" else entry["kind"]
            rows.append((label, kind, shape, f"cannot be opened: {entry['error']}"))
        elif entry["kind"] == "array":
            detail = _storage(entry)
            if not entry["readable"]:
                detail = f"{entry['type']}: not readable by ndbridge"
            elif entry["dtype"] is None and entry["type"]:
                detail = ", ".join(p for p in (entry["type"], detail) if p)
            rows.append((label, _dtype_text(entry), _shape_text(entry), detail))
        else:
            rows.append((label, entry["kind"], "", entry["type"] or ""))
        notes[len(rows) - 1] = [
            f"{'  ' * (depth + 1)}@{attr} = {info['preview']}"
            for attr, info in entry["attributes"].items()
        ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    for index, row in enumerate(rows):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3]
        lines.append(line.rstrip())
        lines.extend(notes[index])
    return "\n".join(lines)
