"""What is inside an .npy, .npz or HDF5 file, as the C++ reader sees it.

The facts come from the C++ library (:func:`ndbridge.cpp.describe`), the
same ones ``ndbridge-ls`` prints; this module renders them.
:func:`describe` returns one JSON-ready document and :func:`format_listing`
the text ``ndbridge ls`` prints.

The document (``ndbridge ls --json``, and ``ndbridge-ls --json`` with the
same keys and facts) has these keys, always all present:

- ``path``: the file as given; ``format``: ``"npy"``, ``"npz"`` or ``"h5"``
  (told by the file's magic bytes, not its suffix); ``size``: the file's bytes;
- ``entries``: a list, in file order (HDF5: depth first from ``"/"``), of
  objects with
  - ``name``: the HDF5 path (``"/g/x"``), the .npz member name without
    ``.npy``, or ``null`` for an .npy file's single array;
  - ``kind``: ``"array"`` (anything holding an array), ``"group"``,
    ``"datatype"`` (a named HDF5 type) or ``"other"`` (links and the like);
  - ``dtype``: numpy's type string (``"<f4"``), or ``null`` when the C++
    reader has no numpy type for it (variable-length strings, which it reads
    as ``<U`` text, and types it cannot read);
  - ``shape``: a list of ints, ``null`` for non-arrays and HDF5 null dataspaces;
  - ``readable``: whether the C++ reader reads it (``null`` for non-arrays),
    and ``unreadable_reason``: why not (else ``null``);
  - ``type``: a description of the element type (HDF5's, or ``null``);
  - ``fortran_order``: a bool for .npy data, ``null`` for HDF5;
  - ``layout``: HDF5's ``"contiguous"``, ``"chunked"``, ``"compact"`` or
    ``"virtual"``, else ``null``;
  - ``chunks``: the HDF5 chunk shape as a list, else ``null``;
  - ``filters``: HDF5 filter names in pipeline order (``["shuffle", "gzip"]``),
    ``["deflate"]`` for a compressed .npz member, else ``[]``;
  - ``stored_bytes``: bytes the data occupies in the file when known
    (.npy data, .npz member, HDF5 dataset of a fixed-size dtype after
    filters), else ``null``;
  - ``nbytes``: bytes of the array in memory (``null`` when unknown);
  - ``virtual_sources``: for an HDF5 virtual dataset (such as the master
    file of a sharded pack), one ``{"file", "dataset", "found"}`` per
    mapping: the source file as stored (relative to the file's folder), the
    dataset in it, and the file HDF5 reads, or ``null`` when it is missing;
    else ``[]``;
  - ``error``: why libhdf5 cannot open this HDF5 object (a format version
    newer than it reads, a damaged header), else ``null``; ``dtype``,
    ``shape`` and ``type`` are then ``null`` and ``readable`` false;
  - ``attributes``: HDF5 attributes as ``{name: {"dtype", "shape", "preview"}}``
    with a short text preview of the value (each tool writes its own; ``{}``
    elsewhere); when the C++ reader cannot read an attribute, ``dtype`` and
    ``shape`` are ``null`` and ``preview`` says why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import cpp
from ._formats import HDF5, NPY, NPZ, PathLike

_PREVIEW_CHARS = 60


def preview(value: Any, limit: int = _PREVIEW_CHARS) -> str:
    """A one-line text preview of a value, at most ``limit`` characters."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.ndarray):
        text = np.array2string(value, threshold=8, edgeitems=3, max_line_width=10**6)
    elif isinstance(value, (str, np.str_, bytes, np.bytes_)):
        text = repr(value.item() if isinstance(value, np.generic) else value)
    else:
        text = str(value)  # numpy's own digits: a float32 shows as 3.14159
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _attribute(info: dict[str, Any]) -> dict[str, Any]:
    value = info["value"]
    if value is None:
        why = f"(not readable by ndbridge: {info['unreadable_reason']})"
        return {"dtype": None, "shape": None, "preview": why}
    return {"dtype": value.dtype.str, "shape": list(value.shape), "preview": preview(value)}


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    for key in ("shape", "chunks"):
        if out[key] is not None:
            out[key] = list(out[key])
    out["attributes"] = {name: _attribute(info) for name, info in entry["attributes"].items()}
    return out


def describe(path: PathLike) -> dict[str, Any]:
    """Describe every array (and HDF5 group) in ``path``; see the module docstring.

    Raises FormatError for files that are not .npy, .npz or HDF5 (or are
    malformed), and FileError when the file cannot be read.
    """
    doc = cpp.describe(path)
    doc["entries"] = [_entry(entry) for entry in doc["entries"]]
    return doc


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
        # row[3], the last cell, is not padded.
        cells = zip(row, widths, strict=False)
        line = "  ".join(cell.ljust(width) for cell, width in cells) + "  " + row[3]
        lines.append(line.rstrip())
        lines.extend(notes[index])
    return "\n".join(lines)
