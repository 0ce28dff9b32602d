"""Reads of chunked datasets that touch many chunks.

The C++ reader hands such reads to HDF5 in slabs of at most 4096 chunks
(libhdf5 1.10 keeps a record per chunk of one read: a dataset declaring
millions of unstored chunks once took over 23 GB), split along the first
axis whose later axes hold few enough chunks. Every way of splitting must
give back exactly what h5py reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

import ndbridge
from ndbridge import cpp


@pytest.mark.parametrize(
    ("shape", "chunks"),
    [
        pytest.param((9000,), (1,), id="1d-split-along-rows"),
        pytest.param((7, 9000), (2, 1), id="2d-split-along-columns"),
        pytest.param((5, 70, 100), (1, 1, 1), id="3d-split-along-the-middle-axis"),
        pytest.param((3, 5, 4097), (2, 3, 1), id="3d-split-along-the-last-axis"),
        pytest.param((50, 3, 3), (1, 3, 3), id="few-chunks-one-read"),
    ],
)
def test_many_chunks_read_as_written(
    tmp_path: Path, shape: tuple[int, ...], chunks: tuple[int, ...]
) -> None:
    data = np.random.default_rng(len(shape)).integers(0, 1 << 30, shape, dtype="<i4")
    path = tmp_path / "many.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("x", data=data, chunks=chunks)
        f.create_dataset("gz", data=data, chunks=chunks, compression="gzip", compression_opts=1)
    for name in ("x", "gz"):
        np.testing.assert_array_equal(cpp.read_h5(path, name), data)
        file = cpp.H5File(path)
        for start, stop in [(0, 1), (1, shape[0]), (shape[0] // 2, shape[0] // 2 + 2)]:
            stop = min(stop, shape[0])
            np.testing.assert_array_equal(file.read(name, rows=(start, stop)), data[start:stop])
            np.testing.assert_array_equal(
                ndbridge.load(path, name, rows=(start, stop)), data[start:stop]
            )


def test_strings_in_many_chunks(tmp_path: Path) -> None:
    texts = np.array([f"row {i} \u00e9" for i in range(5000)], dtype=object)
    path = tmp_path / "text.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("t", data=texts, dtype=h5py.string_dtype(), chunks=(1,))
    got = cpp.read_h5(path, "t")
    assert got.tolist() == texts.tolist()
    assert cpp.read_h5(path, "t", rows=(4090, 4100)).tolist() == texts[4090:4100].tolist()


FILTERS = [
    pytest.param({}, id="unfiltered"),
    pytest.param({"compression": "gzip"}, id="gzip"),
    pytest.param({"compression": "gzip", "shuffle": True}, id="gzip-shuffle"),
    pytest.param({"compression": "lzf", "shuffle": True}, id="lzf-shuffle"),
]


@pytest.mark.parametrize("filters", FILTERS)
def test_partly_written_chunks_read_the_fill_value(
    tmp_path: Path, filters: dict[str, object]
) -> None:
    path = tmp_path / "sparse.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        d = f.create_dataset(
            "x", shape=(6, 20000), dtype="<i2", chunks=(4, 16), fillvalue=-3, **filters
        )
        d[5, 19990:] = 9
        d[0, :16] = 1
    expected = np.full((6, 20000), -3, dtype="<i2")
    expected[5, 19990:] = 9
    expected[0, :16] = 1
    np.testing.assert_array_equal(cpp.read_h5(path, "x"), expected)
    np.testing.assert_array_equal(cpp.read_h5(path, "x", rows=(4, 6)), expected[4:])


def test_millions_of_unstored_chunks_in_bounded_memory(tmp_path: Path) -> None:
    # The fuzzer's file: 4 million (4, 16) chunks, none stored, so 256 MiB
    # of fill values from a file of a few kilobytes. libhdf5 1.10 reading it
    # in one call grew past 23 GB; in slabs it fits a cap of 1.5 GiB above
    # what the interpreter already uses.
    path = tmp_path / "unstored.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("x", shape=(16, 16777232), dtype="u1", chunks=(4, 16), fillvalue=5)
    assert path.stat().st_size < 100_000
    script = textwrap.dedent(
        f"""
        import resource
        from ndbridge import cpp
        vm = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (vm + (3 << 29), vm + (3 << 29)))
        a = cpp.read_h5({str(path)!r}, "x")
        summary = (a.shape, a.min(), a.max())
        assert summary == ((16, 16777232), 5, 5), summary
        print("ok")
        """
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("dtype", ["|S3", ">c16", "<u8", "|b1"])
def test_edge_chunks_and_odd_elements(
    tmp_path: Path, filters: dict[str, object], dtype: str
) -> None:
    # Chunks overhanging every edge, elements of 1 to 16 bytes (3 for the
    # byte strings, which shuffle leaves a remainder for), rows cut mid-chunk.
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (23, 7, 5, np.dtype(dtype).itemsize), dtype="u1")
    data = data.view(dtype).reshape(23, 7, 5)
    if np.dtype(dtype).kind == "b":
        data = data.view("u1") % 2 == 1
    path = tmp_path / "edges.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("x", data=data, chunks=(4, 3, 2), **filters)
    np.testing.assert_array_equal(cpp.read_h5(path, "x"), data)
    for start, stop in [(0, 1), (3, 9), (21, 23), (5, 6)]:
        np.testing.assert_array_equal(cpp.read_h5(path, "x", rows=(start, stop)), data[start:stop])
