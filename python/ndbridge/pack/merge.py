"""``ndbridge merge``: stitch packed .h5 files (shards) into one master file.

The master holds no sample data. Each dataset of the packed layout (see
``ndbridge.packed``) that has rows in the shards becomes an HDF5 virtual dataset
(VDS) mapping the shards' rows one after another, in the order the shards
are given:

- virtual: ``images`` (or ``encoded`` and ``shapes`` with ``--store
  encoded``), ``labels``, ``paths``, ``skipped/paths``,
  ``skipped/reasons``, ``ignored/paths`` and ``ignored/reasons`` (plain
  instead, from the whole tree, for a sharded pack). Skip records are thus
  merged by concatenation in
  shard order; for the shards of one sharded pack that is the order a
  single-file pack records them in, so every dataset equals the single
  file's.
- plain, in the master: ``class_names`` (identical in every shard),
  ``offsets`` (``--store encoded``: each shard's offsets moved past the
  bytes of the shards before it, so ``encoded[offsets[i]:offsets[i + 1]]``
  is sample ``i`` of the whole) and datasets no shard has rows for (empty).
- root attributes as a packed file has them (``format``, ``store``,
  ``count``, ``ndbridge_version``, ``created``; ``pixels`` summed over the
  shards; ``names`` "escaped" if any shard's names are; ``source_root`` and
  ``options`` when every shard agrees on them), plus ``shards``, the number
  of shard files.

Shard files are named by their path relative to the master's folder, so the
master and its shards can move together; HDF5 looks for them beside the
master whatever the working directory (the C++ reader checks that each is
there before reading, as HDF5 would silently read zeros in place of a
missing one).

Shards must be finished ndbridge pack files (``format`` and ``count``
attributes) of one ``store``, with the same class names and, dataset by
dataset, the same dtype and the same shape past the first axis; anything
else is a UsageError naming the file that differs from the first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .. import packed
from .._core import __version__
from .._errors import FormatError, UsageError
from .._formats import PathLike, quoted
from ..arrays import open_h5
from .interrupt import completed

#: Datasets whose rows run over the samples (or skipped files), in the order
#: they are created in the master.
ROW_DATASETS = (
    packed.IMAGES, packed.ENCODED, packed.SHAPES, packed.LABELS, packed.PATHS,
    packed.SKIPPED_PATHS, packed.SKIPPED_REASONS, packed.IGNORED_PATHS, packed.IGNORED_REASONS,
)  # fmt: skip
IGNORED = (packed.IGNORED_PATHS, packed.IGNORED_REASONS)
_STR = h5py.string_dtype()


@dataclass
class MergeSummary:
    """What a merge wrote; ``as_dict()`` is what ``ndbridge merge --json`` prints."""

    output: str
    shards: int
    images: int
    skipped: int
    classes: list[str]
    store: str
    datasets: dict[str, list[int]] = field(default_factory=dict)  # name -> shape

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class _Shard:
    path: Path
    store: str
    classes: list[str]
    attrs: dict[str, Any]
    datasets: dict[str, tuple[np.dtype, tuple[int, ...], int]]  # name -> dtype, row shape, rows


def attr_text(value: Any) -> str:
    """A text attribute as str, whether h5py gives str or bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


def read_shard(path: Path) -> _Shard:
    """What merging needs to know of a packed file; FormatError unless it is a finished one."""
    with open_h5(path) as f:
        attrs = {key: f.attrs[key] for key in f.attrs}
        if attr_text(attrs.get(packed.ATTR_FORMAT, "")) != packed.FORMAT:
            raise FormatError(
                f"{quoted(path)} is not a file ndbridge pack wrote "
                f"(no format='{packed.FORMAT}' attribute)"
            )
        if packed.ATTR_COUNT not in attrs:
            raise FormatError(
                f"{quoted(path)} is not finished (no 'count' attribute): pack it again"
            )
        datasets = {}
        for name in ROW_DATASETS:
            obj = f.get(name)
            if isinstance(obj, h5py.Dataset):
                if obj.is_virtual:
                    raise UsageError(
                        f"{quoted(path)} is itself a master file of virtual datasets; "
                        "merge the shard files it maps instead"
                    )
                datasets[name] = (obj.dtype, tuple(obj.shape[1:]), int(obj.shape[0]))
        classes = (
            [attr_text(c) for c in f[packed.CLASS_NAMES][()]] if packed.CLASS_NAMES in f else []
        )
    return _Shard(
        path, attr_text(attrs.get(packed.ATTR_STORE, "decoded")), classes, attrs, datasets
    )


def _show(dtype: np.dtype, row: tuple[int, ...]) -> str:
    kind = "str" if h5py.check_string_dtype(dtype) else dtype.str
    return f"{kind} rows of shape {row}"


def _check_compatible(shards: list[_Shard]) -> None:
    first = shards[0]
    for shard in shards[1:]:
        where = f"{quoted(shard.path)} does not fit {quoted(first.path)}"
        if shard.store != first.store:
            raise UsageError(f"{where}: it stores '{shard.store}' samples, not '{first.store}'")
        if shard.classes != first.classes:
            raise UsageError(f"{where}: its class names are {shard.classes}, not {first.classes}")
    seen: dict[str, tuple[_Shard, np.dtype, tuple[int, ...]]] = {}
    for shard in shards:
        for name, (dtype, row, _) in shard.datasets.items():
            if name not in seen:
                seen[name] = (shard, dtype, row)
                continue
            other, other_dtype, other_row = seen[name]
            same_text = bool(h5py.check_string_dtype(dtype)) and bool(
                h5py.check_string_dtype(other_dtype)
            )
            if (not same_text and dtype != other_dtype) or row != other_row:
                hint = (
                    "; images of different sizes need --resize HxW or --store encoded"
                    if name == packed.IMAGES
                    else ""
                )
                raise UsageError(
                    f"{quoted(shard.path)} does not fit {quoted(other.path)}: its '{name}' "
                    f"holds {_show(dtype, row)}, not {_show(other_dtype, other_row)}{hint}"
                )


def _common_attrs(shards: list[_Shard]) -> dict[str, Any]:
    # What every shard agrees on is true of the whole; the rest is left out.
    out: dict[str, Any] = {}
    roots = {attr_text(s.attrs.get(packed.ATTR_SOURCE_ROOT, "")) for s in shards}
    if len(roots) == 1 and "" not in roots:
        out[packed.ATTR_SOURCE_ROOT] = roots.pop()
    options = set()
    for s in shards:
        parsed = json.loads(attr_text(s.attrs.get(packed.ATTR_OPTIONS, "{}")))
        parsed.pop("workers", None)  # speed only
        options.add(json.dumps(parsed, sort_keys=True))
    if len(options) == 1:
        out[packed.ATTR_OPTIONS] = options.pop()
    return out


def _source_name(shard: Path, master: Path) -> str:
    return os.path.relpath(shard.resolve(), master.resolve().parent)


def merge(
    shard_paths: Sequence[PathLike],
    master: PathLike,
    *,
    force: bool = False,
    attrs: dict[str, Any] | None = None,
    ignored: list[tuple[str, str]] | None = None,
) -> MergeSummary:
    """Stitch packed .h5 files into ``master``, a file of virtual datasets over them.

    The shards' rows follow one another in the order given; the module
    docstring describes the layout and the checks. ``attrs`` replaces the
    root attributes otherwise taken from the shards (``source_root``,
    ``options``); ``format``, ``store``, ``count``, ``shards``,
    ``ndbridge_version`` and ``created`` are always set here. ``ignored``
    (stored path, reason) replaces the shards' ignored files. The master is
    written as ``MASTER.partial`` and renamed when complete.
    """
    master = Path(master)
    if not shard_paths:
        raise UsageError("give at least one shard file to merge")
    if master.exists() and not force:
        raise UsageError(f"'{master}' already exists; use --force to replace it")
    shards = [read_shard(Path(p)) for p in shard_paths]
    resolved = [s.path.resolve() for s in shards]
    if master.resolve() in resolved:
        raise UsageError(f"'{master}' is one of the shards; write the master elsewhere")
    _check_compatible(shards)
    partial = master.with_name(master.name + ".partial")
    first = shards[0]
    shapes: dict[str, list[int]] = {}
    try:
        with h5py.File(partial, "w", libver="earliest") as f:
            f.attrs[packed.ATTR_VERSION] = __version__
            f.attrs[packed.ATTR_CREATED] = datetime.now(UTC).isoformat(timespec="seconds")
            for key, value in (attrs if attrs is not None else _common_attrs(shards)).items():
                f.attrs[key] = value
            f.attrs[packed.ATTR_FORMAT] = packed.FORMAT
            f.attrs[packed.ATTR_STORE] = first.store
            f.attrs[packed.ATTR_SHARDS] = len(shards)
            f.attrs[packed.ATTR_PIXELS] = json.dumps(_pixels(shards), sort_keys=True)
            escaped = any(
                attr_text(s.attrs.get(packed.ATTR_NAMES, "utf-8")) != "utf-8" for s in shards
            )
            f.attrs[packed.ATTR_NAMES] = "escaped" if escaped else "utf-8"
            if first.classes:
                f.create_dataset(
                    packed.CLASS_NAMES, data=np.array(first.classes, dtype=object), dtype=_STR
                )
            for name in ROW_DATASETS:
                if ignored is not None and name in IGNORED:
                    values = (
                        [p for p, _ in ignored] if name == IGNORED[0] else [r for _, r in ignored]
                    )
                    f.create_dataset(name, data=np.array(values, dtype=object), dtype=_STR)
                    shapes[name] = [len(values)]
                elif any(name in s.datasets for s in shards):
                    shapes[name] = _stitch(f, name, shards, master)
            if first.store == "encoded":
                f.create_dataset(packed.OFFSETS, data=_offsets(shards))
                shapes[packed.OFFSETS] = list(f[packed.OFFSETS].shape)
            images = shapes.get(packed.PATHS, [0])[0]
            f.attrs[packed.ATTR_COUNT] = images
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, master)
        completed()  # a pack's stitched output is in place: it has succeeded
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return MergeSummary(
        output=str(master), shards=len(shards), images=images,
        skipped=shapes.get(packed.SKIPPED_PATHS, [0])[0], classes=first.classes, store=first.store,
        datasets=shapes,
    )  # fmt: skip


def _pixels(shards: list[_Shard]) -> dict[str, int]:
    total: dict[str, int] = {}
    for shard in shards:
        for key, count in json.loads(attr_text(shard.attrs.get(packed.ATTR_PIXELS, "{}"))).items():
            total[key] = total.get(key, 0) + int(count)
    return total


def _stitch(f: h5py.File, name: str, shards: list[_Shard], master: Path) -> list[int]:
    pieces = [(s, s.datasets[name]) for s in shards if name in s.datasets]
    dtype, row, _ = pieces[0][1]
    total = sum(rows for _, (_, _, rows) in pieces)
    if total == 0:
        f.create_dataset(name, shape=(0, *row), dtype=dtype)
        return [0, *row]
    layout = h5py.VirtualLayout(shape=(total, *row), dtype=dtype)
    at = 0
    for shard, (_, _, rows) in pieces:
        if rows:
            layout[at : at + rows] = h5py.VirtualSource(
                _source_name(shard.path, master), name, shape=(rows, *row), dtype=dtype
            )
            at += rows
    f.create_virtual_dataset(name, layout)
    return [total, *row]


def _offsets(shards: list[_Shard]) -> np.ndarray:
    parts = [np.zeros(1, dtype=np.int64)]
    base = 0
    for shard in shards:
        with open_h5(shard.path) as f:
            offsets = f[packed.OFFSETS][()].astype(np.int64)
        parts.append(offsets[1:] + base)
        base += int(offsets[-1])
    return np.concatenate(parts)
