"""Converting arrays between .npy, .npz and HDF5, streaming.

An .npy source is memory-mapped by the C++ reader and copied in row blocks of
bounded size, so converting it never holds the whole array in memory; HDF5
datasets are read with h5py in row blocks too, and .npz archives member by
member (each member is copied out to a temporary .npy and then streamed).

Names: an .npy file is one dataset (named after the file's stem, or
``datasets[0]``); .npz members and HDF5 datasets map to each other by name,
``/`` making HDF5 groups. HDF5 stores arrays in C order, so a Fortran-order
.npy comes back in C order with the same values; a ``<U`` array becomes
h5py's variable-length UTF-8 text and comes back as ``<U`` of the longest
string's width. Everything else round-trips byte for byte.

Outputs are written under a temporary name in the output's folder and renamed
into place only when complete; HDF5 outputs use ``libver='earliest'`` so that
libhdf5 1.10 and the C++ reader open them.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import zipfile
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import h5py
import numpy as np

from . import options
from ._errors import Error, NotFoundError, UsageError
from ._formats import (
    HDF5,
    NPY,
    NPZ,
    PathLike,
    detect_format,
    npz_member_as_npy,
    npz_members,
    os_error,
    quoted,
    system_errno,
)
from ._npy_stream import npy_header
from .arrays import (
    BLOCK_BYTES,
    ArraySource,
    h5_dataset,
    h5_dataset_names,
    h5py_errors,
    h5py_name,
    h5py_source,
    npy_source,
    open_h5,
)
from .options import COMPRESSIONS, SUFFIXES, format_name

#: Bytes of one HDF5 chunk of whole rows, when the output is compressed.
CHUNK_BYTES = 1 << 20


@dataclass
class ConvertSummary:
    """What :func:`convert` wrote: formats, and each array's name, dtype and shape."""

    source: str
    output: str
    source_format: str
    output_format: str
    arrays: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return {
            "input": self.source,
            "output": self.output,
            "input_format": self.source_format,
            "output_format": self.output_format,
            "arrays": self.arrays,
        }


def _source_names(path: Path, fmt: str, datasets: Sequence[str]) -> list[str]:
    if fmt == NPY:
        if len(datasets) > 1:
            raise UsageError(
                f"{quoted(path)} holds one array; give at most one --dataset name for it"
            )
        return [datasets[0] if datasets else path.stem]
    if fmt == NPZ:
        members = npz_members(path)
        missing = [name for name in datasets if name not in members]
        if missing:
            raise NotFoundError(
                f"{quoted(path)}: no member named '{missing[0]}' "
                f"(members: {', '.join(members) or 'none'})"
            )
        return list(datasets) or members
    with open_h5(path) as file:
        for name in datasets:
            h5_dataset(file, path, name)
        return [n.lstrip("/") for n in datasets] or h5_dataset_names(file)


def _sources(
    path: Path, fmt: str, names: list[str], folder: Path
) -> Generator[ArraySource, None, None]:
    if fmt == NPY:
        yield npy_source(path, names[0])
    elif fmt == NPZ:
        for name in names:
            with npz_member_as_npy(path, name, folder) as copy:
                yield npy_source(copy, name)
    else:
        with open_h5(path) as file:
            for name in names:
                with h5py_errors(path):
                    source = h5py_source(path, h5_dataset(file, path, name))
                yield source


# ---------------------------------------------------------------- outputs


def write_npy_stream(f: BinaryIO, source: ArraySource, block_bytes: int = BLOCK_BYTES) -> int:
    """Write ``source`` as .npy bytes (C order, numpy's header) to ``f``; returns data bytes."""
    f.write(npy_header(source.dtype, source.shape))
    written = 0
    for _, block in source.blocks(block_bytes):
        data = np.ascontiguousarray(block, dtype=source.dtype).tobytes()
        f.write(data)
        written += len(data)
    return written


@dataclass
class _Options:
    compression: str
    level: int
    shuffle: bool
    block_bytes: int


def _h5_chunks(source: ArraySource) -> tuple[int, ...] | bool:
    row_bytes = math.prod(source.shape[1:]) * source.dtype.itemsize
    if row_bytes > CHUNK_BYTES:
        return True  # h5py picks a chunk smaller than one row
    rows = min(source.shape[0], max(1, CHUNK_BYTES // max(row_bytes, 1)))
    return (rows, *source.shape[1:])


def _write_h5(out: Path, tmp: Path, sources: Iterator[ArraySource], opts: _Options) -> None:
    with h5py.File(tmp, "w", libver="earliest") as file:
        for source in sources:
            dtype = h5py.string_dtype() if source.dtype.kind == "U" else source.dtype
            filters: dict[str, Any] = {}
            filtered = opts.compression != "none" or opts.shuffle
            if filtered and source.shape and math.prod(source.shape) > 0:
                filters = {"chunks": _h5_chunks(source), "shuffle": opts.shuffle}
                if opts.compression != "none":
                    filters["compression"] = opts.compression
                if opts.compression == "gzip":
                    filters["compression_opts"] = opts.level
            try:
                # A name read as escaped non-UTF-8 bytes is written back as them.
                dataset = file.create_dataset(
                    h5py_name(source.name),
                    shape=source.shape,
                    dtype=dtype,
                    **filters,
                )
            except (ValueError, TypeError) as exc:
                raise UsageError(
                    f"{quoted(out)}: cannot create dataset '{source.name}': {exc}"
                ) from None
            for start, block in source.blocks(opts.block_bytes):
                if source.shape:
                    dataset[start : start + len(block)] = block
                else:
                    dataset[()] = block


def _write_zip(out: Path, tmp: Path, sources: Iterator[ArraySource], opts: _Options) -> None:
    deflate = options.npz_deflates(opts.compression, None)
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    level = opts.level if method == zipfile.ZIP_DEFLATED else None
    seen: set[str] = set()
    with zipfile.ZipFile(tmp, "w", compression=method, compresslevel=level, allowZip64=True) as zf:
        for source in sources:
            if source.name in seen:
                raise UsageError(f"{quoted(out)}: two arrays named '{source.name}'")
            seen.add(source.name)
            try:
                source.name.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(
                    f"{quoted(out)}: cannot name a member '{source.name}.npy': the name holds "
                    "bytes that are not UTF-8, which an .npz member name cannot; write HDF5"
                ) from None
            with zf.open(f"{source.name}.npy", "w", force_zip64=True) as member:
                write_npy_stream(member, source, opts.block_bytes)


def _write_npy(out: Path, tmp: Path, sources: Iterator[ArraySource], opts: _Options) -> None:
    with open(tmp, "wb") as f:
        for source in sources:
            write_npy_stream(f, source, opts.block_bytes)


_WRITERS = {HDF5: _write_h5, NPZ: _write_zip, NPY: _write_npy}


@contextlib.contextmanager
def written_atomically(out: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary path next to ``out``, renamed to ``out`` only on success.

    Refuses (UsageError) to replace an existing ``out`` unless ``force``; the
    temporary file is removed on any error.
    """
    if out.is_dir():
        raise UsageError(f"{quoted(out)} is a folder")
    if out.exists() and not force:
        raise UsageError(f"{quoted(out)} already exists; use --force to replace it")
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.partial")
    try:
        open(tmp, "xb").close()  # created with the usual permissions, unlike mkstemp's 0600
    except OSError as exc:
        raise os_error(out, exc) from None
    try:
        yield tmp
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def output_format(out: PathLike, to: str | None = None) -> str:
    """The format to write: ``to`` if given, else told by the suffix of ``out``."""
    if to is not None:
        return format_name(to, "the output format")
    suffix = Path(out).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(
            f"cannot tell the output format of {quoted(out)} from its suffix; "
            "name it .npy, .npz, .h5 or .hdf5, or give the format (--to)"
        )
    return SUFFIXES[suffix]


def _check_options(fmt: str, compression: str, level: int, shuffle: bool) -> None:
    if compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compression!r}; use gzip, lzf or none")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 9:
        raise UsageError(f"compression level must be an integer from 0 to 9, not {level!r}")
    if fmt == NPY and compression != "none":
        raise UsageError(".npy files are not compressed; use --compression none or write .npz")
    if fmt == NPZ and compression == "lzf":
        raise UsageError("lzf is an HDF5 filter; .npz archives are compressed with gzip (deflate)")
    if fmt != HDF5 and shuffle:
        raise UsageError("--shuffle is an HDF5 filter; it applies to HDF5 outputs only")


def convert(
    source: PathLike,
    out: PathLike,
    *,
    datasets: Sequence[str] = (),
    compression: str | None = None,
    gzip_level: int | None = None,
    shuffle: bool = False,
    force: bool = False,
    to: str | None = None,
    block_bytes: int = BLOCK_BYTES,
    level: int | None = None,
) -> ConvertSummary:
    """Convert the arrays of ``source`` (.npy, .npz or HDF5) into ``out``, streaming.

    ``datasets`` selects .npz members or HDF5 datasets (default: all), or
    names the dataset an .npy becomes. ``compression`` ("gzip", "lzf" or
    "none"; gzip at ``gzip_level``) and ``shuffle`` apply to HDF5 outputs; .npz
    outputs take "gzip" (deflate) or "none". The output format is ``to``
    ("npy", "npz" or "h5"; "hdf5" too) or told by the suffix of ``out``; an .npy
    output takes exactly one array. Raises ndbridge errors naming the file
    and the problem; never leaves a partial file under ``out``.
    """
    src, dst = Path(source), Path(out)
    fmt_in, fmt_out = detect_format(src), output_format(dst, to)
    compression = compression or "none"
    gzip_level = options.gzip_level(gzip_level, level, "level")
    _check_options(fmt_out, compression, gzip_level, shuffle)
    names = _source_names(src, fmt_in, list(datasets))
    if fmt_out == NPY and len(names) != 1:
        raise UsageError(
            f"{quoted(src)} holds {len(names)} arrays ({', '.join(names) or 'none'}); "
            "an .npy file holds one: choose it with --dataset"
        )
    summary = ConvertSummary(str(src), str(dst), fmt_in, fmt_out)

    def noted(sources: Iterator[ArraySource]) -> Iterator[ArraySource]:
        for s in sources:
            summary.arrays.append({"name": s.name, "dtype": s.dtype.str, "shape": list(s.shape)})
            yield s

    opts = _Options(compression, gzip_level, shuffle, max(1, int(block_bytes)))
    with written_atomically(dst, force) as tmp:
        sources = _sources(src, fmt_in, names, tmp.parent)
        try:
            _WRITERS[fmt_out](dst, tmp, noted(sources), opts)
        except Error:
            raise
        except (OSError, RuntimeError) as exc:
            if not isinstance(exc, OSError) and system_errno(exc) is None:
                raise
            raise os_error(dst, exc) from None
        finally:
            sources.close()
    return summary
