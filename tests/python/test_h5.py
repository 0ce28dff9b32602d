"""Round trips between h5py and ndbridge's C++ HDF5 reader and writer.

Both directions: h5py writes and ``ndbridge.cpp`` reads (list_h5, read_h5,
read_h5_attrs), and ``ndbridge.cpp.write_h5`` writes and h5py reads. Property
tests cover dtype x byte order x shape x layout x filter pipeline, bit for
bit against what h5py gives for the same dataset; the examples after them pin
down LZF with compressible data, row ranges, attributes, the listing, append
semantics, the file format version and failed writes.

h5py bundles its own libhdf5 and ndbridge links the system one
(``cpp.hdf5_version``). HDF5 locks files, so every file is closed in one
library before the other opens it, and h5py writes with
``libver="earliest"``: newer formats store bool, complex and enum types in a
form libhdf5 1.10 cannot decode (see the libver tests).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ndbridge
from ndbridge import cpp

PROPERTY = settings(max_examples=150, deadline=None)

# Element types drawn in both byte orders ('<' and '>'); numpy turns the
# order of one-byte types into '|'.
NUMERIC_CODES = (
    *("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"),
    *("f2", "f4", "f8", "c8", "c16"),
)
BYTES_CODES = ("S1", "S3", "S8")
MEMORY_LAYOUTS = ("C", "F", "strided", "reversed")

FILTER_NAMES = {
    h5py.h5z.FILTER_DEFLATE: "gzip",
    h5py.h5z.FILTER_SHUFFLE: "shuffle",
    h5py.h5z.FILTER_FLETCHER32: "fletcher32",
    h5py.h5z.FILTER_LZF: "lzf",
}
LAYOUT_NAMES = {
    h5py.h5d.COMPACT: "compact",
    h5py.h5d.CONTIGUOUS: "contiguous",
    h5py.h5d.CHUNKED: "chunked",
}
# Compressed chunks smaller than this are not required to shrink: LZF and
# deflate cannot win on a handful of bytes.
MIN_COMPRESSIBLE_CHUNK = 512


# --- helpers ---------------------------------------------------------------


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A fresh folder per hypothesis example (tmp_path is shared by them all)."""
    with tempfile.TemporaryDirectory(prefix="ndbridge-test-h5-") as name:
        yield Path(name)


@dataclass(frozen=True)
class Storage:
    """How a dataset is stored: layout and filter pipeline."""

    layout: str = "contiguous"  # "contiguous", "compact" or "chunked"
    compression: str | None = None  # None, "gzip" or "lzf"
    level: int = 4
    shuffle: bool = False
    fletcher32: bool = False

    @property
    def compresses(self) -> bool:
        return self.compression == "lzf" or (self.compression == "gzip" and self.level > 0)

    @property
    def filters(self) -> list[str]:
        """The pipeline in h5py's (and ndbridge's) order."""
        names = ["shuffle"] if self.shuffle else []
        if self.compression:
            names.append(self.compression)
        if self.fletcher32:
            names.append("fletcher32")
        return names

    def __str__(self) -> str:
        parts = [self.layout, *self.filters]
        if self.compression == "gzip":
            parts.append(f"level{self.level}")
        return "+".join(parts)


PLAIN_STORAGES = (Storage("contiguous"), Storage("compact"), Storage("chunked"))
FILTERED_STORAGES = (
    *(Storage("chunked", "gzip", level) for level in (0, 1, 4, 9)),
    Storage("chunked", "lzf"),
    Storage("chunked", shuffle=True),
    Storage("chunked", fletcher32=True),
    Storage("chunked", "gzip", 6, shuffle=True),
    Storage("chunked", "lzf", shuffle=True),
    Storage("chunked", "gzip", 1, shuffle=True, fletcher32=True),
    Storage("chunked", "lzf", shuffle=True, fletcher32=True),
)
STORAGES = (*PLAIN_STORAGES, *FILTERED_STORAGES)


def compressible(dtype: np.dtype[Any], shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Elements of `dtype` in runs of repeated small values, which every
    compressor shrinks; a few extreme values (limits, NaN, infinities, -0.0)
    come first so the bytes are not all tame."""
    n = math.prod(shape)
    rng = np.random.default_rng(seed)
    run = int(rng.integers(1, 9))
    k = (np.arange(n) // run) % 23 + int(rng.integers(0, 5))
    kind = dtype.kind
    if kind == "b":
        values: np.ndarray = k % 2 == 1
        specials: list[Any] = []
    elif kind == "i":
        values = k - 11
        specials = [np.iinfo(dtype).min, np.iinfo(dtype).max, -1]
    elif kind == "u":
        values = k
        specials = [np.iinfo(dtype).max, 0]
    elif kind == "f":
        values = k * 0.25 - 2.0
        specials = [np.nan, -np.inf, np.inf, -0.0]
    elif kind == "c":
        values = (k * 0.5) + 1j * (k % 3)
        specials = [complex(np.nan, 1.0), complex(-np.inf, -0.0)]
    elif kind == "S":
        values = np.array([b"ab%dcd" % v for v in k], dtype=object)
        specials = [b"", b"\xff\xfe"]
    else:
        raise AssertionError(f"no data for {dtype}")
    out = np.empty(n, dtype=dtype)
    out[...] = values if kind != "S" else values.astype(dtype)
    for i, special in enumerate(specials[: n // 2]):
        out[i] = special
    return out.reshape(shape)


def in_memory_layout(arr: np.ndarray, layout: str) -> np.ndarray:
    """The same elements as `arr`, laid out in memory as `layout` says."""
    if layout == "C" or arr.ndim == 0:
        return arr.copy()  # np.ascontiguousarray would make a 0-d array 1-d
    if layout == "F":
        return np.asfortranarray(arr)
    if layout == "strided":
        big = np.zeros((arr.shape[0] * 2, *arr.shape[1:]), dtype=arr.dtype)
        big[::2] = arr
        view = big[::2]
    elif layout == "reversed":
        view = arr[::-1].copy()[::-1]
    else:
        raise AssertionError(layout)
    assert np.array_equal(view, arr, equal_nan=arr.dtype.kind in "fc")
    return view


def chunk_shape(shape: tuple[int, ...], divisors: list[int]) -> tuple[int, ...]:
    """A chunk shape for `shape`: each axis split in about `divisor` parts."""
    return tuple(max(1, math.ceil(d / k)) for d, k in zip(shape, divisors, strict=False))


def h5py_dataset(
    f: h5py.File,
    name: str,
    data: np.ndarray,
    storage: Storage,
    chunks: tuple[int, ...] | None = None,
    dtype: Any = None,
) -> h5py.Dataset:
    """Create dataset `name` with h5py, stored as `storage` says."""
    kwargs: dict[str, Any] = {"data": data}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if storage.layout == "compact":
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        if data.ndim == 0:
            # create_dataset ignores the dcpl of scalars: go through h5d.
            parent, _, leaf = name.rpartition("/")
            group = f.require_group(parent) if parent else f
            type_id = h5py.h5t.py_create(
                np.dtype(dtype) if dtype is not None else data.dtype, logical=True
            )
            space = h5py.h5s.create(h5py.h5s.SCALAR)
            dset = h5py.Dataset(h5py.h5d.create(group.id, leaf.encode(), type_id, space, dcpl=dcpl))
            dset[()] = data
            assert dset.id.get_create_plist().get_layout() == h5py.h5d.COMPACT
            return dset
        kwargs["dcpl"] = dcpl
    elif storage.layout == "chunked":
        kwargs["chunks"] = chunks if chunks is not None else True
        if 0 in data.shape:
            kwargs["maxshape"] = (None,) * data.ndim  # chunks may exceed a zero extent
        if storage.compression is not None:
            kwargs["compression"] = storage.compression
            if storage.compression == "gzip":
                kwargs["compression_opts"] = storage.level
        kwargs["shuffle"] = storage.shuffle
        kwargs["fletcher32"] = storage.fletcher32
    dset = f.create_dataset(name, **kwargs)
    assert LAYOUT_NAMES[dset.id.get_create_plist().get_layout()] == storage.layout
    return dset


def filters_of(dset: h5py.Dataset) -> list[str]:
    """The filter pipeline of an h5py dataset, by ndbridge's names."""
    dcpl = dset.id.get_create_plist()
    return [FILTER_NAMES[dcpl.get_filter(i)[0]] for i in range(dcpl.get_nfilters())]


def stored_chunk_bytes(dset: h5py.Dataset) -> list[int]:
    """The stored (filtered) size of every chunk of `dset`."""
    return [dset.id.get_chunk_info(i).size for i in range(dset.id.get_num_chunks())]


def check_compressed(dset: h5py.Dataset, storage: Storage) -> None:
    """When `storage` compresses and chunks are big enough to shrink, every
    stored chunk must be smaller than its raw size: a filter that silently
    stored data raw would pass a plain round trip."""
    if not storage.compresses or dset.chunks is None or dset.size == 0:
        return
    raw = math.prod(dset.chunks) * dset.id.get_type().get_size()
    if raw < MIN_COMPRESSIBLE_CHUNK:
        return
    sizes = stored_chunk_bytes(dset)
    assert sizes, "no chunk was written"
    assert all(size < raw for size in sizes), (sizes, raw)


def h5py_value(dset: h5py.Dataset) -> np.ndarray:
    """What h5py reads, text as str objects."""
    if h5py.check_string_dtype(dset.dtype) is not None and dset.dtype.kind == "O":
        return np.asarray(dset.asstr()[...], dtype=object)
    # [...] rather than [()]: h5py turns a scalar into a numpy scalar, which
    # is always in native byte order.
    return np.asarray(dset[...])


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Bit for bit: type string, shape and element bytes."""
    assert isinstance(actual, np.ndarray)
    assert actual.dtype.str == expected.dtype.str
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


def assert_text(actual: np.ndarray, expected: np.ndarray) -> None:
    """`actual` is numpy text as wide as the longest of the strings `expected` holds."""
    widest = max((len(s) for s in expected.ravel().tolist()), default=0)
    assert actual.dtype.str == f"<U{max(widest, 1)}"
    assert actual.shape == expected.shape
    assert actual.tolist() == expected.tolist()


def dtype_strategy(codes: tuple[str, ...] = NUMERIC_CODES) -> st.SearchStrategy[np.dtype[Any]]:
    return st.builds(
        lambda code, order: np.dtype(order + code), st.sampled_from(codes), st.sampled_from("<>")
    )


def shapes(max_rows: int = 40) -> st.SearchStrategy[tuple[int, ...]]:
    """0-d, empty and 1-4 dimensional shapes."""
    dims = st.lists(st.integers(1, 5), min_size=0, max_size=3)
    # Big enough that chunks hold a few KiB, to check they were compressed.
    big = st.builds(
        lambda rows, rest: (rows, *rest),
        st.integers(100, 400),
        st.lists(st.integers(1, 8), min_size=0, max_size=2),
    )
    return st.one_of(
        st.sampled_from([(), (0,), (3, 0, 2), (0, 4)]),
        st.builds(lambda rows, rest: (rows, *rest), st.integers(1, max_rows), dims),
        big,
    )


def storage_for(shape: tuple[int, ...]) -> st.SearchStrategy[Storage]:
    """Storages valid for `shape`: no chunks (hence no filters) for 0-d."""
    return st.sampled_from(STORAGES if shape else (Storage("contiguous"), Storage("compact")))


def write_options(storage: Storage, chunks: tuple[int, ...] | None) -> dict[str, Any]:
    """Keyword arguments of cpp.write_h5 for `storage`."""
    if storage.layout != "chunked":
        return {}
    return {
        "chunks": chunks,
        "compression": storage.compression,
        "gzip_level": storage.level,
        "shuffle": storage.shuffle,
        "fletcher32": storage.fletcher32,
    }


text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6)


# --- h5py writes, ndbridge reads -------------------------------------------


@PROPERTY
@given(
    dtype=st.one_of(dtype_strategy(), dtype_strategy(BYTES_CODES)),
    shape_storage=shapes().flatmap(lambda s: st.tuples(st.just(s), storage_for(s))),
    divisors=st.lists(st.integers(1, 3), min_size=4, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_h5py_to_cpp(
    dtype: np.dtype[Any],
    shape_storage: tuple[tuple[int, ...], Storage],
    divisors: list[int],
    seed: int,
) -> None:
    shape, storage = shape_storage
    data = compressible(dtype, shape, seed)
    chunks = chunk_shape(shape, divisors) if storage.layout == "chunked" else None
    with scratch_dir() as tmp:
        path = tmp / "h5py.h5"
        with h5py.File(path, "w", libver="earliest") as f:
            dset = h5py_dataset(f, "group/data", data, storage, chunks)
            check_compressed(dset, storage)
            expected = h5py_value(dset)
        assert expected.dtype.str == data.dtype.str  # h5py keeps the byte order
        assert_same(cpp.read_h5(path, "group/data"), expected)
        assert_same(cpp.read_h5(path, "/group/data"), expected)
        [entry] = [e for e in cpp.list_h5(path) if e["path"] == "/group/data"]
        assert entry["dtype"] == data.dtype.str
        assert entry["shape"] == shape
        assert entry["layout"] == storage.layout
        assert entry["filters"] == storage.filters
        if chunks is not None:
            assert entry["chunks"] == chunks


@PROPERTY
@given(
    strings=st.lists(text, min_size=0, max_size=12),
    two_d=st.booleans(),
    storage=st.sampled_from(
        (*PLAIN_STORAGES, Storage("chunked", "gzip", 4), Storage("chunked", "lzf"))
    ),
)
def test_h5py_text_to_cpp(strings: list[str], two_d: bool, storage: Storage) -> None:
    """h5py's str datasets (variable-length UTF-8) read as '<U<longest>'."""
    data = np.array(strings, dtype=object)
    if two_d and len(strings) % 2 == 0 and strings:
        data = data.reshape(2, -1)
    with scratch_dir() as tmp:
        path = tmp / "text.h5"
        with h5py.File(path, "w", libver="earliest") as f:
            dset = h5py_dataset(f, "s", data, storage, dtype=h5py.string_dtype())
            expected = h5py_value(dset)
        assert_text(cpp.read_h5(path, "s"), expected)
        [entry] = [e for e in cpp.list_h5(path) if e["path"] == "/s"]
        assert entry["dtype"] is None and entry["readable"] is True
        assert entry["shape"] == data.shape


def test_h5py_text_scalar(tmp_path: Path) -> None:
    path = tmp_path / "scalar.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f["s"] = "héllo wörld ☃"
        expected = h5py_value(f["s"])
    assert expected.shape == ()
    assert_text(cpp.read_h5(path, "s"), expected)


def test_h5py_variable_length_ascii(tmp_path: Path) -> None:
    """h5py.string_dtype('ascii'): variable-length strings in the ASCII
    character set read as text like the UTF-8 ones."""
    path = tmp_path / "ascii.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("a", data=[b"ab", b"c", b""], dtype=h5py.string_dtype("ascii"))
        expected = np.array([s.decode("ascii") for s in f["a"][()]], dtype=object)
    assert_text(cpp.read_h5(path, "a"), expected)


def test_h5py_empty_dataset(tmp_path: Path) -> None:
    """h5py.Empty (a null dataspace) lists as such and reads as zero elements."""
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f["nothing"] = h5py.Empty("<f4")
    [entry] = [e for e in cpp.list_h5(path) if e["path"] == "/nothing"]
    assert entry["null_dataspace"] is True
    assert entry["dtype"] == "<f4"
    assert_same(cpp.read_h5(path, "nothing"), np.zeros(0, "<f4"))


LZF_DTYPES = ("<f4", ">f8", "<i2", ">u8", "|b1", "<c16", "|S4")


@pytest.mark.parametrize("dtype", LZF_DTYPES)
@pytest.mark.parametrize("shuffle", [False, True], ids=["plain", "shuffle"])
def test_h5py_lzf_compressible_reads_in_cpp(tmp_path: Path, dtype: str, shuffle: bool) -> None:
    """LZF chunks that really compressed (h5py stores incompressible ones raw), read in C++."""
    data = compressible(np.dtype(dtype), (2000, 7), seed=7)
    path = tmp_path / "lzf.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        dset = f.create_dataset("x", data=data, chunks=(300, 7), compression="lzf", shuffle=shuffle)
        raw = 300 * 7 * data.dtype.itemsize
        sizes = stored_chunk_bytes(dset)
        assert len(sizes) == 7 and all(size < raw // 2 for size in sizes), sizes
        # The first chunk as stored is LZF data, not the raw elements.
        _, stored = dset.id.read_direct_chunk((0, 0))
        assert len(stored) < raw and stored != data[:300].tobytes()
        expected = dset[()]
    assert_same(cpp.read_h5(path, "x"), expected)
    assert_same(cpp.read_h5(path, "x", rows=(250, 1900)), expected[250:1900])


@pytest.mark.parametrize("level", range(10))
def test_h5py_gzip_levels(tmp_path: Path, level: int) -> None:
    data = compressible(np.dtype("<i4"), (5000,), seed=level)
    path = tmp_path / "gzip.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        dset = f.create_dataset(
            "x", data=data, chunks=(1000,), compression="gzip", compression_opts=level
        )
        sizes = stored_chunk_bytes(dset)
        if level > 0:
            assert all(size < 4000 for size in sizes), sizes
        expected = dset[()]
    assert_same(cpp.read_h5(path, "x"), expected)


# --- ndbridge writes, h5py reads -------------------------------------------


@PROPERTY
@given(
    dtype=st.one_of(dtype_strategy(), dtype_strategy(BYTES_CODES)),
    shape_storage=shapes().flatmap(
        lambda s: st.tuples(
            st.just(s),
            st.sampled_from(
                (Storage("contiguous"), *FILTERED_STORAGES, Storage("chunked"))
                if s
                else (Storage("contiguous"),)
            ),
        )
    ),
    divisors=st.lists(st.integers(1, 3), min_size=4, max_size=4),
    memory=st.sampled_from(MEMORY_LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_cpp_to_h5py(
    dtype: np.dtype[Any],
    shape_storage: tuple[tuple[int, ...], Storage],
    divisors: list[int],
    memory: str,
    seed: int,
) -> None:
    shape, storage = shape_storage
    data = compressible(dtype, shape, seed)
    chunks = chunk_shape(shape, divisors) if storage.layout == "chunked" else None
    with scratch_dir() as tmp:
        path = tmp / "cpp.h5"
        cpp.write_h5(
            path, "a/b/data", in_memory_layout(data, memory), **write_options(storage, chunks)
        )
        assert os.listdir(tmp) == ["cpp.h5"]
        with h5py.File(path, "r") as f:
            dset = f["a/b/data"]
            assert_same(h5py_value(dset), data)
            if data.size > 0:
                assert LAYOUT_NAMES[dset.id.get_create_plist().get_layout()] == storage.layout
                assert filters_of(dset) == storage.filters
                assert dset.chunks == chunks
                check_compressed(dset, storage)
        assert_same(cpp.read_h5(path, "a/b/data"), data)


@PROPERTY
@given(
    strings=st.lists(text, min_size=0, max_size=12),
    order=st.sampled_from("<>"),
    memory=st.sampled_from(MEMORY_LAYOUTS),
    compression=st.sampled_from([None, "gzip", "lzf"]),
)
def test_cpp_text_to_h5py(
    strings: list[str], order: str, memory: str, compression: str | None
) -> None:
    """numpy text is written as variable-length UTF-8, as h5py writes str."""
    data = np.array(strings, dtype=f"{order}U{max([1, *map(len, strings)])}")
    if compression is not None and data.size == 0:
        compression = None
    with scratch_dir() as tmp:
        path = tmp / "text.h5"
        cpp.write_h5(
            path,
            "t",
            in_memory_layout(data, memory) if data.size else data,
            compression=compression,
        )
        with h5py.File(path, "r") as f:
            dset = f["t"]
            info = h5py.check_string_dtype(dset.dtype)
            assert info is not None and (info.encoding, info.length) == ("utf-8", None)
            expected = h5py_value(dset)
        assert expected.tolist() == strings
        assert_text(cpp.read_h5(path, "t"), expected)


def test_cpp_text_scalar_to_h5py(tmp_path: Path) -> None:
    path = tmp_path / "scalar.h5"
    cpp.write_h5(path, "s", np.array("ünïcode ✓"))
    with h5py.File(path, "r") as f:
        assert f["s"].shape == ()
        assert f["s"].asstr()[()] == "ünïcode ✓"


@pytest.mark.parametrize("dtype", LZF_DTYPES)
@pytest.mark.parametrize(
    "options",
    [
        {"compression": "lzf"},
        {"compression": "lzf", "shuffle": True},
        {"compression": "lzf", "shuffle": True, "fletcher32": True},
        {"compression": "gzip", "gzip_level": 1},
        {"compression": "gzip", "gzip_level": 9, "shuffle": True},
    ],
    ids=["lzf", "shuffle+lzf", "shuffle+lzf+fletcher32", "gzip1", "shuffle+gzip9"],
)
def test_cpp_compressed_reads_in_h5py(tmp_path: Path, dtype: str, options: dict[str, Any]) -> None:
    """C++-written compressed chunks, of compressible data, read by h5py
    (LZF through h5py's own filter)."""
    data = compressible(np.dtype(dtype), (2000, 7), seed=11)
    path = tmp_path / "compressed.h5"
    cpp.write_h5(path, "x", data, chunks=(300, 7), **options)
    raw = 300 * 7 * data.dtype.itemsize
    with h5py.File(path, "r") as f:
        dset = f["x"]
        assert dset.compression == options["compression"]
        assert dset.shuffle == options.get("shuffle", False)
        assert dset.fletcher32 == options.get("fletcher32", False)
        if options["compression"] == "gzip":
            assert dset.compression_opts == options["gzip_level"]
        sizes = stored_chunk_bytes(dset)
        assert len(sizes) == 7 and all(size < raw // 2 for size in sizes), sizes
        assert_same(h5py_value(dset), data)
        assert_same(np.asarray(dset[123:1234]), data[123:1234])
    assert_same(cpp.read_h5(path, "x"), data)


def test_cpp_lzf_incompressible_is_stored_raw(tmp_path: Path) -> None:
    """Random bytes do not shrink: the chunk is stored as is (the filter is
    optional, as h5py makes it) and still reads back in both libraries."""
    data = np.random.default_rng(0).integers(0, 256, size=4096, dtype=np.uint8)
    path = tmp_path / "raw.h5"
    cpp.write_h5(path, "x", data, chunks=(4096,), compression="lzf")
    with h5py.File(path, "r") as f:
        dset = f["x"]
        mask, stored = dset.id.read_direct_chunk((0,))
        assert mask & 1  # LZF (the first filter) was skipped for this chunk
        assert stored == data.tobytes()
        assert_same(h5py_value(dset), data)
    assert_same(cpp.read_h5(path, "x"), data)


def test_automatic_chunks(tmp_path: Path) -> None:
    """Compression without chunks: chunks of whole rows, every row kept."""
    data = compressible(np.dtype("<f8"), (70000, 3), seed=1)
    path = tmp_path / "auto.h5"
    cpp.write_h5(path, "x", data, compression="gzip")
    with h5py.File(path, "r") as f:
        dset = f["x"]
        assert dset.chunks is not None and dset.chunks[1:] == (3,)
        assert 1 <= dset.chunks[0] <= 70000
        assert_same(h5py_value(dset), data)


# --- row ranges ------------------------------------------------------------


@PROPERTY
@given(
    dtype=dtype_strategy(("b1", "i2", "u8", "f2", "f8", "c8")),
    shape=st.builds(
        lambda rows, rest: (rows, *rest),
        st.integers(0, 60),
        st.lists(st.integers(0, 4), max_size=2),
    ),
    storage=st.sampled_from(
        (
            Storage("contiguous"),
            Storage("compact"),
            Storage("chunked"),
            Storage("chunked", "gzip", 3, shuffle=True),
            Storage("chunked", "lzf", fletcher32=True),
        )
    ),
    chunk_rows=st.integers(1, 13),
    bounds=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    seed=st.integers(0, 2**32 - 1),
)
def test_rows_match_h5py_slices(
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    storage: Storage,
    chunk_rows: int,
    bounds: tuple[float, float],
    seed: int,
) -> None:
    data = compressible(dtype, shape, seed)
    start, stop = sorted(round(b * shape[0]) for b in bounds)
    chunks = (min(chunk_rows, shape[0]) or chunk_rows, *(max(1, d) for d in shape[1:]))
    with scratch_dir() as tmp:
        path = tmp / "rows.h5"
        with h5py.File(path, "w", libver="earliest") as f:
            dset = h5py_dataset(f, "x", data, storage, chunks)
            expected = np.asarray(dset[start:stop])
        assert_same(cpp.read_h5(path, "x", rows=(start, stop)), expected)


@pytest.mark.parametrize("layout", ["contiguous", "chunked", "lzf"])
def test_rows_across_chunk_boundaries(tmp_path: Path, layout: str) -> None:
    data = compressible(np.dtype(">i4"), (100, 3), seed=5)
    path = tmp_path / "rows.h5"
    options: dict[str, Any] = {}
    if layout != "contiguous":
        options["chunks"] = (10, 3)
    if layout == "lzf":
        options["compression"] = "lzf"
    cpp.write_h5(path, "x", data, **options)
    ranges = [(0, 100), (9, 11), (10, 20), (5, 95), (99, 100), (0, 0), (50, 50), (100, 100)]
    with h5py.File(path, "r") as f:
        expected = {r: np.asarray(f["x"][r[0] : r[1]]) for r in ranges}
    for r in ranges:
        assert_same(cpp.read_h5(path, "x", rows=r), expected[r])


@pytest.mark.parametrize("rows", [(0, 11), (5, 4), (11, 11), (3, 2**40)])
def test_rows_outside_the_first_axis(tmp_path: Path, rows: tuple[int, int]) -> None:
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("x", data=np.arange(10.0), chunks=(4,))
    with pytest.raises(ndbridge.UsageError, match=r"rows\.h5"):
        cpp.read_h5(path, "x", rows=rows)


@pytest.mark.parametrize(
    "rows", [(-1, 2), (1, -2), (1.0, 2), (True, 2), (1, 2, 3), "ab", (2**70, 2**70 + 1), [0.5, 2]]
)
def test_rows_malformed(tmp_path: Path, rows: Any) -> None:
    path = tmp_path / "rows.h5"
    cpp.write_h5(path, "x", np.arange(10.0))
    with pytest.raises(ndbridge.UsageError):
        cpp.read_h5(path, "x", rows=rows)
    # H5File.read parses rows in C++, with a fast path for a tuple of ints.
    with cpp.H5File(path) as f, pytest.raises(ndbridge.UsageError, match="rows must be"):
        f.read("x", rows=rows)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # A tuple is a range; anything else integer indices.
        ((2, 5), [2.0, 3.0, 4.0]),
        ((np.int64(2), np.uint8(5)), [2.0, 3.0, 4.0]),
        ([2, 5], [2.0, 5.0]),
        (range(2, 6, 3), [2.0, 5.0]),
        (np.array([5, -8], dtype=np.int16), [5.0, 2.0]),
    ],
)
def test_rows_spellings(tmp_path: Path, rows: Any, expected: list[float]) -> None:
    path = tmp_path / "rows.h5"
    cpp.write_h5(path, "x", np.arange(10.0))
    with cpp.H5File(path) as f:
        assert_same(f.read("x", rows=rows), np.array(expected))
    assert_same(cpp.read_h5(path, "x", rows=rows), np.array(expected))


def test_rows_of_a_scalar(tmp_path: Path) -> None:
    path = tmp_path / "scalar.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f["x"] = 3.5
    with pytest.raises(ndbridge.UsageError, match=r"scalar\.h5"):
        cpp.read_h5(path, "x", rows=(0, 0))
    assert_same(cpp.read_h5(path, "x"), np.array(3.5))


# --- attributes ------------------------------------------------------------


def assert_same_attr(actual: Any, expected: Any) -> None:
    """An attribute value as read_h5_attrs gives it equals h5py's: numbers
    of the same type, arrays bit for bit, text as str (numpy text array for
    h5py's object arrays of str)."""
    if isinstance(expected, str):
        assert isinstance(actual, str)
        assert actual == expected
    elif isinstance(expected, np.ndarray) and expected.dtype.kind == "O":
        assert isinstance(actual, np.ndarray) and actual.dtype.kind == "U"
        assert actual.tolist() == expected.tolist()
    elif isinstance(expected, np.ndarray):
        assert_same(actual, expected)
    else:
        assert type(actual) is type(expected)
        assert np.asarray(actual).tobytes() == np.asarray(expected).tobytes()


ATTRIBUTES: dict[str, Any] = {
    "int": 42,
    "negative": np.int8(-5),
    "float": 2.5,
    "big_endian_float": np.array(1.25, dtype=">f8"),
    "complex": 1 - 2j,
    "bool": True,
    "bool_array": np.array([True, False, True]),
    "ints": np.arange(6, dtype="<u2").reshape(2, 3),
    "big_endian_ints": np.arange(4, dtype=">i4"),
    "floats": np.linspace(0.0, 1.0, 5, dtype="<f4"),
    "empty": np.zeros(0, dtype="<f8"),
    "text": "héllo",
    "empty_text": "",
    "texts": ["a", "bcd", "ünï"],
    "bytes": np.bytes_(b"xyz"),
    "byte_array": np.array([b"ab", b"c"], dtype="S2"),
}


@pytest.mark.parametrize("obj", ["/", "/data"])
def test_h5py_attributes_to_cpp(tmp_path: Path, obj: str) -> None:
    path = tmp_path / "attrs.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f["data"] = np.arange(3)
        target = f[obj]
        for name, value in ATTRIBUTES.items():
            target.attrs[name] = value
        expected = dict(target.attrs.items())
    actual = cpp.read_h5_attrs(path, obj)
    assert list(actual) == sorted(ATTRIBUTES)
    for name in ATTRIBUTES:
        assert_same_attr(actual[name], expected[name])
    # The other object has none.
    assert cpp.read_h5_attrs(path, "/data" if obj == "/" else "/") == {}


def test_h5py_bytes_attribute(tmp_path: Path) -> None:
    """h5py stores Python bytes as a variable-length ASCII string and reads
    it back as str; ndbridge gives the same str."""
    path = tmp_path / "attrs.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.attrs["raw"] = b"xy"
        expected = f.attrs["raw"]
    assert_same_attr(cpp.read_h5_attrs(path)["raw"], expected)


def test_h5py_group_attributes(tmp_path: Path) -> None:
    path = tmp_path / "attrs.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_group("g/h").attrs["answer"] = np.uint16(42)
    assert_same_attr(cpp.read_h5_attrs(path, "g/h")["answer"], np.uint16(42))
    assert cpp.read_h5_attrs(path, "g") == {}
    with cpp.H5File(path) as f:  # both spellings, the same values as read_h5_attrs
        assert_same_attr(f.attributes("g/h")["answer"], np.uint16(42))
        assert_same_attr(f.attrs("g/h")["answer"], np.uint16(42))
        assert f.attributes("g") == f.attrs("g") == {}


def test_cpp_attributes_to_h5py(tmp_path: Path) -> None:
    path = tmp_path / "attrs.h5"
    attrs: dict[str, Any] = {
        "int": 42,
        "float": 2.5,
        "complex": 1 - 2j,
        "bool": True,
        "ints": np.arange(6, dtype=">i2").reshape(2, 3),
        "bools": np.array([True, False]),
        "text": "héllo ☃",
        "texts": np.array(["a", "bcd"]),
        "bytes": b"xyz",
        "empty": np.zeros(0, dtype="<f4"),
    }
    cpp.write_h5(path, "x", np.arange(3), attrs=attrs)
    with h5py.File(path, "r") as f:
        got = dict(f["x"].attrs.items())
    assert sorted(got) == sorted(attrs)
    assert_same_attr(got["int"], np.int64(42))
    assert_same_attr(got["float"], np.float64(2.5))
    assert_same_attr(got["complex"], np.complex128(1 - 2j))
    assert_same_attr(got["bool"], np.bool_(True))
    assert_same(got["ints"], attrs["ints"])
    assert_same(got["bools"], attrs["bools"])
    assert got["text"] == "héllo ☃"
    assert isinstance(got["text"], str)
    assert list(got["texts"]) == ["a", "bcd"]
    assert_same_attr(got["bytes"], np.bytes_(b"xyz"))
    assert_same(got["empty"], attrs["empty"])
    # And the C++ reader agrees with itself.
    back = cpp.read_h5_attrs(path, "x")
    assert back["text"] == "héllo ☃"
    assert_same(back["ints"], attrs["ints"])
    assert back["texts"].tolist() == ["a", "bcd"]


# --- listing ---------------------------------------------------------------


def h5py_listing(path: Path) -> list[dict[str, Any]]:
    """What list_h5 should report, built from h5py's view of the file."""
    out: list[dict[str, Any]] = []
    with h5py.File(path, "r") as f:
        names: list[str] = []
        f.visit_links(names.append)
        for name in ["/", *("/" + n for n in names)]:
            obj = f[name]
            entry: dict[str, Any] = {"path": name, "attributes": sorted(obj.attrs)}
            if isinstance(obj, h5py.Group):
                entry["kind"] = "group"
            else:
                dcpl = obj.id.get_create_plist()
                string = h5py.check_string_dtype(obj.dtype)
                is_vlen_text = string is not None and string.length is None
                entry.update(
                    kind="dataset",
                    dtype=None if is_vlen_text else obj.dtype.str,
                    readable=True,
                    shape=obj.shape,
                    layout=LAYOUT_NAMES[dcpl.get_layout()],
                    chunks=obj.chunks,
                    filters=filters_of(obj),
                )
            out.append(entry)
    return out


def test_listing_matches_h5py(tmp_path: Path) -> None:
    path = tmp_path / "tree.h5"
    rows = compressible(np.dtype("<f4"), (500, 4), seed=3)
    with h5py.File(path, "w", libver="earliest") as f:
        f.attrs["title"] = "tree"
        f.attrs["version"] = 3
        h5py_dataset(f, "plain", rows, Storage("contiguous"))
        h5py_dataset(f, "small", np.arange(5, dtype=">u2"), Storage("compact"))
        h5py_dataset(f, "deep/er/gz", rows, Storage("chunked", "gzip", 5, True, True), (100, 4))
        h5py_dataset(
            f, "deep/lzf", rows.astype("<c8"), Storage("chunked", "lzf", shuffle=True), (64, 2)
        )
        f["deep"].attrs["note"] = np.arange(3)
        f["deep/lzf"].attrs["unit"] = "m"
        f["deep/lzf"].attrs["scale"] = 0.5
        f["text"] = ["a", "bb"]
        f["bytes"] = np.array([b"abc"], dtype="S3")
        f["flag"] = True
        f.create_group("empty_group")
    expected = h5py_listing(path)
    actual = cpp.list_h5(path)
    assert [e["path"] for e in actual] == [e["path"] for e in expected]
    for got, want in zip(actual, expected, strict=True):
        assert {k: got[k] for k in want} == want
    by_path = {e["path"]: e for e in actual}
    assert by_path["/deep/er/gz"]["filters"] == ["shuffle", "gzip", "fletcher32"]
    assert by_path["/deep/lzf"]["filters"] == ["shuffle", "lzf"]
    assert by_path["/deep/lzf"]["chunks"] == (64, 2)
    assert by_path["/small"]["layout"] == "compact"
    assert by_path["/text"]["type"] == "variable-length UTF-8 string"
    assert by_path["/flag"]["dtype"] == "|b1" and by_path["/flag"]["shape"] == ()


def test_write_option_spellings(tmp_path: Path) -> None:
    data = np.arange(1000, dtype="<i4").reshape(100, 10)
    for name, options in {
        "new": {"gzip_level": 7},
        "alias": {"compression_level": 7},
        "both": {"gzip_level": 7, "compression_level": 7},
    }.items():
        cpp.write_h5(tmp_path / f"{name}.h5", "x", data, compression="gzip", **options)
        with h5py.File(tmp_path / f"{name}.h5") as f:
            assert f["x"].compression == "gzip" and f["x"].compression_opts == 7, name
    cpp.write_h5(tmp_path / "none.h5", "x", data, compression="none")
    with h5py.File(tmp_path / "none.h5") as f:
        assert f["x"].compression is None and f["x"].chunks is None
    with pytest.raises(ndbridge.UsageError, match="gzip_level=7 and compression_level=5 disagree"):
        cpp.write_h5(tmp_path / "x.h5", "x", data, gzip_level=7, compression_level=5)
    assert not (tmp_path / "x.h5").exists()


def test_contains(tmp_path: Path) -> None:
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f["g/x"] = np.arange(3)
        f["g"].attrs["a"] = 1
        f["dangling"] = h5py.SoftLink("/nowhere")
    with cpp.H5File(path) as file:
        assert "g" in file and "/g/x" in file and "g/x" in file
        assert "nope" not in file
        assert "g/x/y" not in file  # a path through a dataset
        assert "dangling" not in file  # a soft link to nothing
        assert "a" not in file  # an attribute is not an object


def test_listing_of_a_cpp_written_file(tmp_path: Path) -> None:
    path = tmp_path / "tree.h5"
    data = compressible(np.dtype(">f8"), (300, 2), seed=9)
    cpp.write_h5(
        path,
        "a/x",
        data,
        chunks=(50, 2),
        compression="lzf",
        shuffle=True,
        fletcher32=True,
        attrs={"unit": "s", "n": 3},
    )
    cpp.write_h5(path, "b", np.arange(4, dtype="<i2"), mode="append")
    expected = h5py_listing(path)
    actual = cpp.list_h5(path)
    assert [e["path"] for e in actual] == ["/", "/a", "/a/x", "/b"]
    for got, want in zip(actual, expected, strict=True):
        assert {k: got[k] for k in want} == want
    assert actual[2]["filters"] == ["shuffle", "lzf", "fletcher32"]
    assert actual[2]["attributes"] == ["n", "unit"]


# --- files: append, format version, failed writes ---------------------------


def test_write_modes(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    cpp.write_h5(path, "x", np.arange(3))  # "create": the file is new
    with pytest.raises(FileExistsError, match=r"m\.h5.*already exists") as info:
        cpp.write_h5(path, "y", np.arange(3))
    assert isinstance(info.value, ndbridge.FileError)
    cpp.write_h5(path, "y", np.arange(4), mode="append")
    assert [o["path"] for o in cpp.list_h5(path)] == ["/", "/x", "/y"]
    cpp.write_h5(path, "z", np.arange(5), mode="overwrite")
    assert [o["path"] for o in cpp.list_h5(path)] == ["/", "/z"]
    cpp.write_h5(tmp_path / "new.h5", "a", np.arange(2), mode="append")  # append creates
    assert cpp.read_h5(tmp_path / "new.h5", "a").tolist() == [0, 1]
    with pytest.raises(ndbridge.UsageError, match="unknown mode 'replace'"):
        cpp.write_h5(path, "w", np.arange(2), mode="replace")  # type: ignore[arg-type]
    with pytest.raises(ndbridge.UsageError, match=r"m\.h5.*unknown compression 'zstd'"):
        cpp.write_h5(path, "w", np.arange(2), mode="overwrite", compression="zstd")
    assert sorted(os.listdir(tmp_path)) == ["m.h5", "new.h5"]


def test_write_appends_to_an_h5py_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.h5"
    first = compressible(np.dtype("|b1"), (40,), seed=1)
    second = compressible(np.dtype("<c16"), (6, 2), seed=2)
    with h5py.File(path, "w", libver="earliest") as f:
        f["first"] = first
        f["g/second"] = second
        f["g"].attrs["kept"] = "yes"
    cpp.write_h5(path, "third", np.arange(5, dtype=">i8"), mode="append")
    cpp.write_h5(path, "g/fourth", np.array(["x", "yz"]), mode="append")
    assert sorted(os.listdir(tmp_path)) == ["shared.h5"]
    with h5py.File(path, "r") as f:
        assert_same(np.asarray(f["first"][()]), first)
        assert_same(np.asarray(f["g/second"][()]), second)
        assert f["g"].attrs["kept"] == "yes"
        assert_same(np.asarray(f["third"][()]), np.arange(5, dtype=">i8"))
        assert f["g/fourth"].asstr()[()].tolist() == ["x", "yz"]
        assert f.id.get_create_plist().get_version()[0] == 0


@pytest.mark.parametrize("name", ["x", "/x", "g", "g/y", "g/y/below"])
def test_write_refuses_an_existing_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / "taken.h5"
    cpp.write_h5(path, "x", np.arange(3))
    cpp.write_h5(path, "g/y", np.arange(3), mode="append")
    before = path.read_bytes()
    with pytest.raises(ndbridge.UsageError, match=r"taken\.h5"):
        cpp.write_h5(path, name, np.arange(4), mode="append")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["taken.h5"]


def test_written_file_uses_the_earliest_format(tmp_path: Path) -> None:
    """Superblock version 0, as h5py's libver='earliest' writes, even for
    the types (bool, complex) newer formats store differently."""
    path = tmp_path / "old.h5"
    cpp.write_h5(path, "b", np.array([True, False]))
    complex_ = np.array([1 + 2j], dtype=">c8")
    cpp.write_h5(path, "c", complex_, chunks=(1,), compression="gzip", mode="append")
    with h5py.File(path, "r") as f:
        superblock, _, _, _ = f.id.get_create_plist().get_version()
        assert superblock == 0
        assert_same(np.asarray(f["b"][()]), np.array([True, False]))
    with h5py.File(path, "r", libver="earliest") as f:
        assert_same(np.asarray(f["c"][()]), np.array([1 + 2j], dtype=">c8"))


BAD_WRITES = [
    pytest.param(np.array([object(), 1], dtype=object), {}, ndbridge.UnsupportedError, id="object"),
    pytest.param(
        np.array(["2020-01-01"], dtype="M8[D]"), {}, ndbridge.UnsupportedError, id="datetime"
    ),
    pytest.param(
        np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
        {},
        ndbridge.UnsupportedError,
        id="structured",
    ),
    pytest.param(np.zeros(2, dtype="V8"), {}, ndbridge.UnsupportedError, id="void"),
    pytest.param(np.array(["a\x00b"]), {}, ndbridge.UsageError, id="nul-in-text"),
    pytest.param(
        np.float64(1.0), {"compression": "gzip"}, ndbridge.UsageError, id="compressed-scalar"
    ),
    pytest.param(np.arange(10), {"chunks": (11,)}, ndbridge.UsageError, id="chunk-too-big"),
    pytest.param(np.arange(10), {"chunks": (0,)}, ndbridge.UsageError, id="chunk-zero"),
    pytest.param(np.arange(10), {"chunks": (2, 2)}, ndbridge.UsageError, id="chunk-rank"),
    pytest.param(
        np.arange(10), {"compression": "szip"}, ndbridge.UsageError, id="unknown-compression"
    ),
    pytest.param(
        np.arange(10),
        {"compression": "gzip", "gzip_level": 10},
        ndbridge.UsageError,
        id="gzip-level",
    ),
]


@pytest.mark.parametrize(("data", "options", "error"), BAD_WRITES)
def test_failed_write_leaves_nothing(
    tmp_path: Path, data: np.ndarray, options: dict[str, Any], error: type[Exception]
) -> None:
    path = tmp_path / "new.h5"
    with pytest.raises(error, match=r"new\.h5"):
        cpp.write_h5(path, "x", data, **options)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("data", "options", "error"), BAD_WRITES)
def test_failed_append_keeps_the_file(
    tmp_path: Path, data: np.ndarray, options: dict[str, Any], error: type[Exception]
) -> None:
    path = tmp_path / "old.h5"
    cpp.write_h5(path, "keep", np.arange(3))
    before = path.read_bytes()
    with pytest.raises(error, match=r"old\.h5"):
        cpp.write_h5(path, "x", data, **options, mode="append")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["old.h5"]


def test_append_to_a_non_hdf5_file(tmp_path: Path) -> None:
    """An existing file that is not HDF5 is malformed input, like for reading;
    it stays as it was."""
    path = tmp_path / "notes.h5"
    path.write_text("not HDF5 at all\n")
    with pytest.raises(ndbridge.FormatError, match=r"notes\.h5"):
        cpp.write_h5(path, "x", np.arange(3), mode="append")
    assert path.read_text() == "not HDF5 at all\n"
    assert os.listdir(tmp_path) == ["notes.h5"]


# --- h5py's newer file formats ---------------------------------------------


LIBVERS = ["earliest", "v108", "v110", "v112", "v114", "v200", "latest"]
# The libhdf5 release each format needs: libver "vXY" writes what release X.Y
# reads, and "latest" is h5py's own libhdf5's (HDF5 2.0 for h5py 3.16).
LIBVER_NEEDS = {
    "earliest": (1, 8), "v108": (1, 8), "v110": (1, 10), "v112": (1, 12),
    "v114": (1, 14), "v200": (2, 0), "latest": tuple(h5py.version.hdf5_version_tuple[:2]),
}  # fmt: skip
# The first format whose messages for these use a version libhdf5 1.10
# cannot decode: h5py's bool enum and complex compound ("types"), and the
# layout of filtered chunks ("layout"). Formats before them read anywhere.
FIRST_NEWER_MESSAGE = {"types": "v112", "layout": "v200"}


def opens_here(libver: str, what: str) -> bool:
    """Whether ndbridge's libhdf5 (``cpp.hdf5_version``) decodes ``what`` in
    a file h5py wrote with ``libver``."""
    if LIBVERS.index(libver) < LIBVERS.index(FIRST_NEWER_MESSAGE[what]):
        return True
    assert cpp.hdf5_version is not None
    return cpp.hdf5_version[:2] >= LIBVER_NEEDS[libver]


@pytest.mark.parametrize("libver", LIBVERS)
def test_h5py_libver_plain_float(tmp_path: Path, libver: str) -> None:
    """Plain floats, contiguous or in unfiltered chunks, read whatever format
    version h5py chose."""
    path = tmp_path / f"{libver}.h5"
    data = compressible(np.dtype("<f8"), (100, 3), seed=4)
    with h5py.File(path, "w", libver=libver) as f:
        f["contiguous"] = data
        f.create_dataset("chunked", data=data, chunks=(10, 3))
        f.attrs["n"] = 7
    for name in ("contiguous", "chunked"):
        assert_same(cpp.read_h5(path, name), data)
        assert_same(cpp.read_h5(path, name, rows=(15, 35)), data[15:35])
    assert cpp.read_h5_attrs(path)["n"] == 7


@pytest.mark.parametrize("libver", LIBVERS)
def test_h5py_libver_filtered_chunks(
    tmp_path: Path, libver: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Filtered chunks read up to libver v114; from v200 on h5py stores their
    layout in a message version only libhdf5 2.0 decodes, and reading fails
    with an H5Error naming the file and the dataset, printing nothing."""
    path = tmp_path / f"{libver}.h5"
    data = compressible(np.dtype("<f8"), (100, 3), seed=4)
    with h5py.File(path, "w", libver=libver) as f:
        f.create_dataset("gz", data=data, chunks=(10, 3), compression="gzip", shuffle=True)
    if opens_here(libver, "layout"):
        assert_same(cpp.read_h5(path, "gz"), data)
        return
    with pytest.raises(ndbridge.H5Error, match=rf"{libver}\.h5.*'gz'.*layout") as caught:
        cpp.read_h5(path, "gz")
    assert caught.value.stack
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("libver", LIBVERS)
@pytest.mark.parametrize(
    "value", [np.array([True, False]), np.array([1 + 2j])], ids=["bool", "complex"]
)
def test_h5py_libver_bool_complex(
    tmp_path: Path, value: np.ndarray, libver: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """From libver='v112' on, h5py stores its bool enum and complex compound
    with a datatype message version libhdf5 1.10 cannot decode: where this
    libhdf5 cannot, reading fails with an H5Error naming the file and the
    dataset and saying the format is too new, and prints nothing."""
    path = tmp_path / f"{libver}.h5"
    with h5py.File(path, "w", libver=libver) as f:
        f["v"] = value
    if opens_here(libver, "types"):
        assert_same(cpp.read_h5(path, "v"), value)
        return
    too_new = rf"{libver}\.h5.*'v'.*newer than this libhdf5"
    with pytest.raises(ndbridge.H5Error, match=too_new) as caught:
        cpp.read_h5(path, "v")
    assert caught.value.stack
    assert capfd.readouterr().err == ""


def test_h5py_latest_listing_keeps_going(tmp_path: Path) -> None:
    """A dataset libhdf5 before 2.0 cannot open lists with the reason, while
    the rest of the file lists and reads as usual; reading it says what to do."""
    if opens_here("latest", "layout"):
        pytest.skip(f"libhdf5 {cpp.hdf5_version} opens h5py's latest format")
    path = tmp_path / "latest.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("gz", data=np.arange(100.0), chunks=(10,), compression="gzip")
        f["plain"] = np.arange(3)
        f.create_group("g").attrs["n"] = 1
    listing = {e["path"]: e for e in cpp.list_h5(path)}
    assert set(listing) == {"/", "/g", "/gz", "/plain"}
    gz = listing["/gz"]
    assert gz["kind"] == "dataset" and gz["readable"] is False and gz["shape"] is None
    assert "bad version number for layout message" in gz["error"]
    assert listing["/plain"]["error"] is None and listing["/plain"]["shape"] == (3,)
    assert listing["/g"]["attributes"] == ["n"]
    with pytest.raises(ndbridge.H5Error, match=r"latest\.h5.*'gz'.*newer than this libhdf5"):
        cpp.read_h5(path, "gz")
    assert_same(cpp.read_h5(path, "plain"), np.arange(3))


@pytest.mark.parametrize("storage", ["contiguous", "gzip", "text", "big-endian"])
def test_open_file_rows_match_h5py(tmp_path: Path, storage: str) -> None:
    """H5File.read(rows=...) reads fixed-size elements straight into a numpy
    array and everything else through the general path; both equal h5py."""
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        if storage == "text":
            f.create_dataset("x", data=[f"s{i}" * (i % 4) for i in range(50)],
                             dtype=h5py.string_dtype())  # fmt: skip
        elif storage == "gzip":
            f.create_dataset("x", data=compressible(np.dtype("<f4"), (50, 3), seed=2),
                             chunks=(7, 3), compression="gzip")  # fmt: skip
        else:
            dtype = ">i8" if storage == "big-endian" else "<u2"
            f["x"] = compressible(np.dtype(dtype), (50, 2, 2), seed=3)
        ranges = [(0, 50), (3, 17), (49, 50), (8, 8)]
        expected = {r: h5py_value(f["x"])[r[0] : r[1]] for r in ranges}
    with cpp.H5File(path) as g:
        for (start, stop), want in expected.items():
            got = g.read("x", rows=(start, stop))
            if storage == "text":
                assert_text(got, want)
            else:
                assert_same(got, want)
                assert got.flags.writeable and got.flags.c_contiguous
        with pytest.raises(ndbridge.UsageError, match=r"rows\.h5"):
            g.read("x", rows=(10, 51))
