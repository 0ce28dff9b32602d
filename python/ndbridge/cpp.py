"""ndbridge's C++ reader and writer, called from Python.

These functions run the same C++ code that inference programs link, so a test
that round-trips an array through them checks what the C++ side will see.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar, Union

import numpy as np
import numpy.typing as npt

from . import _core, options
from ._errors import UsageError

PathLike = Union[str, "os.PathLike[str]"]
#: What ``rows=`` takes: a ``(start, stop)`` tuple, or integer row indices
#: (a list, a range, an array of any shape) picked as numpy's ``a[indices]``.
Rows = Union[tuple[int, int], Sequence[int], "npt.NDArray[np.integer]", None]

#: The libhdf5 release the C++ library reads and writes HDF5 with, as
#: (major, minor, release), e.g. ``(1, 10, 8)``; None in a build without HDF5.
#: It is not h5py's (``h5py.version.hdf5_version``): h5py brings its own.
#: What opens depends on it: files in HDF5 2.0's format need 2.0, and 1.10
#: cannot decode h5py's bool and complex types written with libver "v112" on.
hdf5_version: tuple[int, int, int] | None = getattr(_core, "hdf5_version", None)

__all__ = [
    "H5File",
    "NpyReader",
    "NpzReader",
    "Rows",
    "describe",
    "detect_format",
    "hdf5_version",
    "list_h5",
    "list_npz",
    "read_h5",
    "read_h5_attrs",
    "read_npy",
    "read_npy_header",
    "read_npz",
    "write_h5",
    "write_npy",
    "write_npz",
]


#: Set to "0" to keep ``ndbridge.cpp`` from adding hdf5plugin's plugins
#: folder to libhdf5's plugin path (HDF5_PLUGIN_PATH is honoured either way).
HDF5PLUGIN_ENV = "NDBRIDGE_HDF5PLUGIN"


def _use_hdf5plugin() -> None:
    # hdf5plugin's filters (Blosc, Zstd, LZ4, Bitshuffle, BZip2...) are in
    # data files everywhere; when it is installed, its plugins folder goes
    # after HDF5_PLUGIN_PATH's. Found without importing it (that imports
    # h5py and registers the filters with h5py's own libhdf5, not ours).
    if os.environ.get(HDF5PLUGIN_ENV, "1") == "0" or not getattr(_core, "with_hdf5", False):
        return
    spec = importlib.util.find_spec("hdf5plugin")
    if spec is None or not spec.submodule_search_locations:
        return
    for location in spec.submodule_search_locations:
        folder = os.path.join(location, "plugins")
        if os.path.isdir(folder):
            _core.append_h5_plugin_path(folder)
            return


_use_hdf5plugin()


class _ClosedOnExit:
    """A context manager that closes the reader (its C++ base's ``close()``) on exit."""

    def __enter__(self: _Reader) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]


_Reader = TypeVar("_Reader", bound=_ClosedOnExit)


def _absolute(path: PathLike) -> str:
    # Readers pickle as their path, reopened in the receiving process: that
    # process may have another working directory.
    return os.path.abspath(os.fspath(path))


def detect_format(path: PathLike) -> str:
    """``"npy"``, ``"npz"`` or ``"h5"``: the format of ``path``, told by its first bytes.

    The suffix plays no part. HDF5's signature is found at offset 0 or after
    a user block (512, 1024, 2048... bytes). Raises FormatError for any other
    file and FileError (an OSError) when it cannot be read.
    """
    return _core.detect_format(path)


def describe(path: PathLike) -> dict[str, Any]:
    """What is inside an .npy, .npz or HDF5 file, as the C++ library reads it.

    The arrays are not read; HDF5 attribute values are. Returns
    ``{"path", "format", "size", "entries"}``, ``entries`` in file order (the
    .npy file's array, the .npz members, or the HDF5 objects depth first from
    ``"/"``), each a dict with

    - ``name``: the HDF5 path, the .npz member name, None for an .npy file;
    - ``kind``: ``"array"``, ``"group"``, ``"datatype"`` or ``"other"``;
    - ``dtype`` (numpy's type string, None when the type has no fixed dtype
      or is not read), ``shape`` (a tuple; None for HDF5's null dataspace);
    - ``readable`` (arrays: whether ndbridge reads it, else None) and
      ``unreadable_reason`` (why not, else None);
    - ``type``: HDF5's description of the type, else None;
    - ``fortran_order`` (.npy data), ``layout`` and ``chunks`` (HDF5), None
      where they do not apply; ``filters``: a list, ``["deflate"]`` for a
      compressed .npz member;
    - ``stored_bytes`` (bytes in the file: .npy data, .npz members, HDF5
      datasets of a fixed-size dtype after filters) and ``nbytes``
      (bytes in memory), None when unknown;
    - ``virtual_sources``: one ``{"file", "dataset", "found"}`` per mapping
      of a virtual dataset, ``found`` None when the file is missing;
    - ``error``: why libhdf5 cannot open the object, else None;
    - ``attributes``: ``{name: {"value", "unreadable_reason"}}``, ``value`` a
      numpy array (0-d for a scalar) or None when ndbridge does not read it.

    Raises FormatError for files that are not .npy, .npz or HDF5 (or are
    malformed) and FileError when the file cannot be read.
    """
    return _core.describe(path)


def read_npy(path: PathLike, *, mmap: bool = False, rows: Rows = None) -> np.ndarray:
    """Read an .npy file with the C++ reader.

    The result has the file's dtype (byte order included), shape and memory
    order. With ``mmap=True`` it is a read-only view of a memory map of the
    file: opening costs the same whatever the file size; a ``(start, stop)``
    range then maps only the pages that hold it, and picked rows are copied
    out of the map into new memory.

    ``rows`` picks rows along the first axis: ``(start, stop)`` (a tuple)
    reads that range, touching only its bytes; a list, range or array of
    integer indices reads those rows in that order, exactly as numpy's
    ``a[indices]`` (any order, repeats, negative from the end; an index
    array of any shape gives its shape to the result).

    Raises FormatError for malformed files, UnsupportedError for dtypes such
    as object or structured, UsageError for bad ``rows`` and FileError (an
    OSError) when the file cannot be read.
    """
    return _core.read_npy(path, bool(mmap), rows)


def read_npy_header(path: PathLike) -> dict[str, Any]:
    """The header of an .npy file, read and checked by the C++ reader.

    Keys: ``dtype`` (numpy's type string), ``shape``, ``fortran_order``,
    ``version`` (major, minor), ``data_offset`` and ``data_bytes``. The data
    is not read, nor checked for truncation.
    """
    return _core.read_npy_header(path)


def write_npy(path: PathLike, array: npt.ArrayLike) -> None:
    """Write ``array`` as an .npy file with the C++ writer.

    The file is byte-identical to what ``numpy.save`` writes for contiguous
    arrays; strided arrays are written in C order. It appears under its final
    name only once completely written.
    """
    _core.write_npy(path, np.asarray(array))


def read_npz(path: PathLike, *, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Read every array of an .npz archive with the C++ reader.

    Keys are as ``numpy.load(path).files`` shows them (member names without
    ``.npy``), in archive order; each array has its file's dtype, shape and
    memory order. Stored and deflated members and zip64 archives are read,
    and every member's CRC-32 is checked.

    ``max_bytes`` bounds how much the archive's deflated members may inflate
    to in all (default ``None``: the library's 16 GiB). It is checked against
    the sizes the archive declares before anything is allocated, so a zip
    bomb raises FormatError instead of exhausting memory; stored members do
    not count, as the file's size bounds them.

    Raises FormatError for malformed, truncated or corrupt archives (bad
    CRC, bad deflate data, sizes that disagree), UnsupportedError for
    members that are not .npy files, encrypted members, compression methods
    other than stored and deflate and dtypes ndbridge does not handle, and
    FileError (an OSError) when the file cannot be read.
    """
    return _core.read_npz(path, _max_bytes(max_bytes))


def _max_bytes(max_bytes: int | None) -> int | None:
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0
    ):
        raise UsageError(f"max_bytes must be a non-negative integer or None, not {max_bytes!r}")
    return None if max_bytes is None else int(max_bytes)


def list_npz(path: PathLike) -> list[dict[str, Any]]:
    """Describe the members of an .npz archive without reading their data.

    Returns one dict per member, in archive order, with the keys

    - ``name``: the key ``read_npz`` and ``numpy.load`` use (no ``.npy``);
    - ``dtype``: the numpy type string (``numpy.dtype.str``), e.g. ``'<f4'``;
    - ``shape``: a tuple of ints;
    - ``fortran_order``: whether the data is stored in column-major order;
    - ``compressed``: True for deflated members, False for stored ones;
    - ``compressed_size``: bytes the member occupies in the archive;
    - ``uncompressed_size``: bytes of the .npy file it holds.

    Dtype and shape come from each member's .npy header; only that header is
    inflated from a deflated member. Raises the errors ``read_npz`` does,
    except that CRCs are not checked (the data is not read).
    """
    return _core.list_npz(path)


def write_npz(
    path: PathLike,
    arrays: Mapping[str, npt.ArrayLike] | Sequence[npt.ArrayLike],
    *,
    compression: Literal["gzip", "none"] | None = None,
    compress: bool | None = None,
) -> None:
    """Write arrays as an .npz archive with the C++ writer.

    ``arrays`` maps names to arrays, as ``numpy.savez(path, **arrays)`` takes
    them; a sequence gives the names ``arr_0``, ``arr_1``... as
    ``numpy.savez(path, *arrays)`` does. Each member ``<name>.npy`` holds
    the bytes ``write_npy`` (and ``numpy.save``) would write; with
    ``compression="gzip"`` members are deflated (zip's deflate, as
    ``numpy.savez_compressed`` does), with "none" (the default) stored.
    ``compress=True``/``False`` is another spelling of "gzip"/"none".
    Unlike numpy, ``.npz`` is not appended to ``path``. The archive appears
    under its final name only once completely written.

    Raises UsageError for names that are not strings or contain NUL,
    UnsupportedError for dtypes such as object or structured and FileError
    when the file cannot be written.
    """
    if isinstance(arrays, Mapping):
        items = list(arrays.items())
    elif isinstance(arrays, Sequence) and not isinstance(arrays, (str, bytes)):
        items = [(f"arr_{i}", a) for i, a in enumerate(arrays)]
    else:
        raise UsageError(
            f"arrays must be a mapping of names to arrays or a sequence of arrays, "
            f"not {type(arrays).__name__}"
        )
    for name, _ in items:
        if not isinstance(name, str):
            raise UsageError(f"array names must be strings, not {name!r}")
    deflate = options.npz_deflates(compression, compress)
    _core.write_npz(path, [(name, np.asarray(a)) for name, a in items], deflate)


def list_h5(path: PathLike) -> list[dict[str, Any]]:
    """Describe every group and dataset of an HDF5 file, read by the C++ library.

    Each entry has ``path``, ``kind`` ("group", "dataset", ...),
    ``attributes`` (names, in the order h5py lists them) and
    ``unreadable_attributes`` (``{name: why}`` for those ``read_h5_attrs``
    leaves out); datasets also have ``dtype`` (numpy's type string,
    or None when ndbridge cannot read the type), ``readable``, ``type``
    (HDF5's description), ``shape``, ``null_dataspace``, ``layout``,
    ``chunks``, ``filters`` and ``virtual_sources``: for a virtual dataset
    (layout "virtual") one ``{"file", "dataset", "found"}`` per mapping, the
    source file name as stored, the dataset in it and the file HDF5 will
    read (None when it is missing), else an empty list. ``error`` is None,
    or why libhdf5 cannot open the object (a newer format version than it
    reads, a damaged header); a dataset's other fields are then None, and
    the rest of the file is still listed. ``unreadable_reason`` says why a
    dataset is not ``readable`` (a type ndbridge does not read, a filter
    whose plugin is not found), else None.

    Within a group, objects come in creation order where the group tracks
    it (netCDF-4 files, h5py's ``track_order=True``), else in name order,
    as h5py lists them.
    """
    return _core.list_h5(path)


def read_h5(path: PathLike, dataset: str, *, rows: Rows = None) -> np.ndarray:
    """Read an HDF5 dataset, or some of its rows, with the C++ reader.

    ``rows`` is as for ``read_npy``: a ``(start, stop)`` tuple or integer
    indices (numpy's ``a[indices]``). Each chunk the rows lie in is read and
    decoded once.

    Elements are what h5py gives, in the file's byte order: h5py's bool enum
    as bool, its {r, i} compound as complex, fixed-length strings as bytes and
    variable-length strings as ``<U`` text. Raises NotFoundError (a KeyError)
    for a missing dataset, UnsupportedError for types ndbridge does not read,
    H5Error (an OSError) when HDF5 fails, FormatError for non-HDF5 files.
    A virtual dataset reads through its source files (found relative to the
    file); a missing source raises FileError (a FileNotFoundError) naming
    it, and a source holding fewer elements than mapped FormatError.
    """
    return _core.read_h5(path, dataset, rows)


def _attribute_values(raw: dict[str, np.ndarray]) -> dict[str, Any]:
    # As h5py presents them: scalars as numpy scalars (np.str_ for text).
    return {name: value[()] if value.ndim == 0 else value for name, value in raw.items()}


def read_h5_attrs(path: PathLike, obj: str = "/") -> dict[str, Any]:
    """The attributes of a group or dataset: scalars as numpy scalars, else arrays.

    In the order h5py lists them. Object references read as the path of the
    object they refer to (h5py's ``f[ref].name``; ``""`` for a null one). An
    attribute of a type ndbridge does not read (a compound, a
    variable-length sequence such as netCDF's ``DIMENSION_LIST``) is left
    out and the others are read; ``list_h5`` names it and says why. A null
    attribute (``h5py.Empty``) is a zero-length array of its type.
    """
    return _attribute_values(_core.read_h5_attrs(path, obj))


class H5File(_ClosedOnExit, _core.H5File):
    """An HDF5 file kept open for repeated reads through the C++ library.

    Datasets stay open between calls, with HDF5's chunk cache, so reading
    many small row ranges costs far less than ``read_h5`` opening the file
    each time. ``read(dataset, *, rows=None, out=None)`` reads a whole
    dataset or some of its rows, as ``read_h5`` does (it is the C++ method
    itself: no Python in between); with ``out``, a writable C-contiguous
    numpy array of exactly the result's dtype and shape, it reads into that
    array and returns it. ``"name" in file`` says whether a group, dataset
    or named type of that path can be opened.

    Threads may share one file, and their reads run in parallel (compressed
    chunks are inflated outside libhdf5's lock). ``close()`` waits for reads
    under way in other threads, and reads after it raise UsageError. A file
    pickles as its path and reopens in the process that unpickles it (a
    DataLoader worker under spawn or forkserver); a forked child may go on
    using the file it inherited. Use as a context manager, or call
    ``close()``.
    """

    def __init__(self, path: PathLike) -> None:
        super().__init__(path)
        self.path = path
        self._absolute = _absolute(path)

    def attributes(self, obj: str = "/") -> dict[str, Any]:
        """The attributes of a group or dataset, as ``read_h5_attrs`` gives them."""
        return _attribute_values(super().attributes(obj))

    #: The same as ``attributes``, under h5py's name.
    attrs = attributes

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._absolute,))


class NpyReader(_ClosedOnExit, _core.NpyReader):
    """An .npy file opened once for many reads through the C++ library.

    The header is parsed and checked once; ``read(*, rows=None, out=None)``
    then reads the whole array or some of its rows as ``read_npy`` does,
    with ``out`` as for ``H5File.read``. With ``mmap=True`` the file is
    memory-mapped once: whole reads and ``(start, stop)`` ranges are
    read-only views of the map, picked rows are copied out of it. Threads
    may share a reader; it pickles as its path and options.
    """

    def __init__(self, path: PathLike, *, mmap: bool = False) -> None:
        super().__init__(path, bool(mmap))
        self.path = path
        self._absolute = _absolute(path)
        self._mmap = bool(mmap)
        header = super().header()
        #: The array's numpy dtype, shape and memory order.
        self.dtype = np.dtype(header["dtype"])
        self.shape: tuple[int, ...] = header["shape"]
        self.fortran_order: bool = header["fortran_order"]

    def read(self, *, rows: Rows = None, out: np.ndarray | None = None) -> np.ndarray:
        """The array, or the rows ``rows`` picks; into ``out`` when given."""
        return super().read(rows, out)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen_npy, (self._absolute, self._mmap))


def _reopen_npy(path: str, mmap: bool) -> NpyReader:
    return NpyReader(path, mmap=mmap)


class NpzReader(_ClosedOnExit, _core.NpzReader):
    """An .npz archive opened once for reads of single members, with no temporary files.

    ``names()`` lists the members (as ``numpy.load(path).files``; ``name in
    archive`` asks for one),
    ``members()`` describes them as ``list_npz`` does, and
    ``read(name, *, rows=None, mmap=False, out=None)`` reads one member, or
    some of its rows (``rows`` as for ``read_npy``), straight from the
    archive: a stored member's rows are copied from a memory map of the
    archive, and a deflated member is inflated only as far as the last row
    asked for. ``mmap=True`` returns a stored member (or a ``(start, stop)``
    range of it) as a read-only view of that map; a deflated member cannot
    be mapped (UsageError). A whole-member read checks the CRC-32; row reads
    cannot (they do not read every byte). ``extract(name, npy)`` copies one
    member, checked, to an .npy file (written under a temporary name and
    renamed): a large deflated member is then read by rows from that file
    without being inflated again for each read. ``max_bytes`` bounds what deflated
    members may inflate to, as for ``read_npz``. Every failure is an
    ``ndbridge.Error`` naming the archive and member. Threads may share a
    reader; it pickles as its path and options.
    """

    def __init__(self, path: PathLike, *, max_bytes: int | None = None) -> None:
        super().__init__(path, _max_bytes(max_bytes))
        self.path = path
        self._absolute = _absolute(path)
        self._max_bytes = max_bytes

    def read(
        self, name: str, *, rows: Rows = None, mmap: bool = False, out: np.ndarray | None = None
    ) -> np.ndarray:
        """One member, or the rows ``rows`` picks of it; into ``out`` when given."""
        return super().read(name, rows, bool(mmap), out)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen_npz, (self._absolute, self._max_bytes))


def _reopen_npz(path: str, max_bytes: int | None) -> NpzReader:
    return NpzReader(path, max_bytes=max_bytes)


def _attribute_array(value: Any) -> np.ndarray:
    if isinstance(value, str):
        return np.array(value, dtype=f"<U{max(len(value), 1)}")
    return np.asarray(value)


def write_h5(
    path: PathLike,
    dataset: str,
    array: npt.ArrayLike,
    *,
    mode: Literal["create", "overwrite", "append"] = "create",
    chunks: tuple[int, ...] | None = None,
    compression: Literal["gzip", "lzf", "none"] | None = None,
    gzip_level: int | None = None,
    shuffle: bool = False,
    fletcher32: bool = False,
    attrs: Mapping[str, Any] | None = None,
    compression_level: int | None = None,
) -> None:
    """Write ``array`` as dataset ``dataset`` of an HDF5 file with the C++ writer.

    The file is written as h5py would write it (libver earliest, bool enum,
    {r, i} complex, str as variable-length UTF-8) under a temporary name and
    renamed into place when complete. ``mode`` says what happens to a file
    already at ``path``: "create" (the default) refuses it with FileError (a
    FileExistsError); "overwrite" replaces it, as write_npy does; "append"
    keeps its content and adds the dataset (the whole file is copied, so add
    many datasets to a big file with h5py or one C++ H5Writer instead).
    ``compression`` is "gzip" (at ``gzip_level``, 0-9, default 4), "lzf" or
    "none" (None too); a compression, ``chunks``, ``shuffle`` or
    ``fletcher32`` makes the dataset chunked, with about 1 MiB chunks of
    whole rows unless ``chunks`` says. ``compression_level`` is another
    spelling of ``gzip_level``.
    """
    attributes = [(str(k), _attribute_array(v)) for k, v in (attrs or {}).items()]
    _core.write_h5(
        path,
        dataset,
        np.asarray(array),
        None if chunks is None else [int(c) for c in chunks],
        compression or "",
        options.gzip_level(gzip_level, compression_level),
        bool(shuffle),
        bool(fletcher32),
        attributes,
        mode,
    )
