"""Filter plugins: datasets compressed with hdf5plugin's and PyTables' filters.

``ndbridge.cpp`` loads a filter's plugin as libhdf5 does (HDF5_PLUGIN_PATH)
plus, when the package is installed, hdf5plugin's plugins folder (opt out
with NDBRIDGE_HDF5PLUGIN=0), and checks that every chunk decompresses to
exactly the chunk's size. A missing plugin is an UnsupportedError naming the
filter and where to get it, and ``list_h5`` says the dataset is not readable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import ndbridge
from ndbridge import cpp

hdf5plugin = pytest.importorskip("hdf5plugin")
tables = pytest.importorskip("tables")

# Compressible, so that every chunk really goes through the filter.
DATA = (np.arange(240 * 7, dtype="<i4") // 5).reshape(240, 7)
ROWS = (37, 151)

HDF5PLUGIN_FILTERS = {
    "blosc-lz4": lambda: hdf5plugin.Blosc(cname="lz4"),
    "blosc-zstd": lambda: hdf5plugin.Blosc(cname="zstd", shuffle=hdf5plugin.Blosc.BITSHUFFLE),
    "blosc-blosclz": lambda: hdf5plugin.Blosc(cname="blosclz", shuffle=hdf5plugin.Blosc.NOSHUFFLE),
    "blosc2": lambda: hdf5plugin.Blosc2(),
    "zstd": lambda: hdf5plugin.Zstd(),
    "lz4": lambda: hdf5plugin.LZ4(),
    "bitshuffle": lambda: hdf5plugin.Bitshuffle(),
    "bitshuffle-lz4": lambda: hdf5plugin.Bitshuffle(cname="lz4"),
    "bzip2": lambda: hdf5plugin.BZip2(),
}


def write_hdf5plugin(path: Path, name: str, shuffle: bool = False) -> None:
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset(
            "x", data=DATA, chunks=(16, 7), shuffle=shuffle, **HDF5PLUGIN_FILTERS[name]()
        )


def in_subprocess(code: str, **env: str) -> Any:
    """Run ``code`` (which sets ``result``) in a fresh interpreter, where
    libhdf5 reads HDF5_PLUGIN_PATH anew; returns ``result`` as JSON gives it."""
    script = f"import json\nfrom ndbridge import cpp\n{code}\nprint(json.dumps(result))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", HDF5PLUGIN_FILTERS)
def test_hdf5plugin_filters_read_bit_exactly(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.h5"
    write_hdf5plugin(path, name)
    with h5py.File(path, "r") as f:
        expected = f["x"][()]
    np.testing.assert_array_equal(expected, DATA)
    got = cpp.read_h5(path, "x")
    assert got.dtype == DATA.dtype and got.tobytes() == DATA.tobytes()
    assert cpp.read_h5(path, "x", rows=ROWS).tobytes() == DATA[ROWS[0] : ROWS[1]].tobytes()
    with cpp.H5File(path) as f:
        assert f.read("x", rows=(0, 3)).tobytes() == DATA[:3].tobytes()
    [entry] = [e for e in cpp.list_h5(path) if e["path"] == "/x"]
    assert entry["readable"] is True and entry["unreadable_reason"] is None
    assert entry["filters"][0].startswith("filter ")


def test_shuffle_before_a_plugin(tmp_path: Path) -> None:
    path = tmp_path / "shuffle-zstd.h5"
    write_hdf5plugin(path, "zstd", shuffle=True)
    assert cpp.read_h5(path, "x").tobytes() == DATA.tobytes()


@pytest.mark.parametrize("complib", ["blosc:lz4", "blosc:zstd", "blosc2:zstd", "bzip2", "zlib"])
def test_pytables_filters_read_bit_exactly(tmp_path: Path, complib: str) -> None:
    path = tmp_path / "t.h5"
    with tables.open_file(str(path), "w") as f:
        filters = tables.Filters(complevel=5, complib=complib, shuffle=True)
        f.create_carray("/", "x", obj=DATA, chunkshape=(16, 7), filters=filters)
    assert cpp.read_h5(path, "/x").tobytes() == DATA.tobytes()
    assert cpp.read_h5(path, "/x", rows=ROWS).tobytes() == DATA[ROWS[0] : ROWS[1]].tobytes()


def test_hdf5_plugin_path_is_honoured_and_a_missing_plugin_is_named(tmp_path: Path) -> None:
    """Without hdf5plugin's folder (NDBRIDGE_HDF5PLUGIN=0) the plugin is
    found through HDF5_PLUGIN_PATH, as libhdf5 finds it; with neither, the
    read is refused naming the filter and where to get it, and the listing
    says so before any read."""
    path = tmp_path / "zstd.h5"
    write_hdf5plugin(path, "zstd")
    read = f"result = cpp.read_h5({str(path)!r}, 'x').tolist()"
    plugins = hdf5plugin.PLUGIN_PATH
    assert in_subprocess(read, NDBRIDGE_HDF5PLUGIN="0", HDF5_PLUGIN_PATH=plugins) == DATA.tolist()
    assert in_subprocess(read) == DATA.tolist()  # hdf5plugin's folder, found by itself
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    refused = f"""
try:
    cpp.read_h5({str(path)!r}, 'x')
    result = None
except Exception as e:
    result = [type(e).__name__, str(e)]
[entry] = [e for e in cpp.list_h5({str(path)!r}) if e['path'] == '/x']
result = [result, entry['readable'], entry['unreadable_reason']]
"""
    (kind, message), readable, reason = in_subprocess(
        refused, NDBRIDGE_HDF5PLUGIN="0", HDF5_PLUGIN_PATH=str(empty)
    )
    assert kind == "UnsupportedError"
    assert "zstd.h5" in message and "'x'" in message
    # The name as the file has it, whole (106 characters, not cut short).
    assert "filter 32015 (HDF5 zstd filter; see " in message
    assert "/RegisteredFilterPlugins.md) is not available" in message and str(empty) in message
    assert "pip install hdf5plugin" in message
    assert readable is False and "filter 32015" in reason


def test_plugin_output_must_be_the_chunk_size(tmp_path: Path) -> None:
    """A chunk whose plugin-compressed data decompresses to fewer bytes than
    the chunk holds (a damaged or forged file) is an error naming the
    dataset, never a read of whatever lay past the decompressed bytes."""
    small, path = tmp_path / "small.h5", tmp_path / "forged.h5"
    with h5py.File(small, "w", libver="earliest") as f:
        f.create_dataset("x", data=DATA[:8], chunks=(8, 7), **hdf5plugin.Zstd())
    with h5py.File(small, "r") as f:
        _, half_chunk = f["x"].id.read_direct_chunk((0, 0))
    with h5py.File(path, "w", libver="earliest") as f:
        d = f.create_dataset("x", shape=DATA.shape, dtype=DATA.dtype, chunks=(16, 7),
                             **hdf5plugin.Zstd())  # fmt: skip
        d.id.write_direct_chunk((0, 0), half_chunk)
        d[16:] = DATA[16:]
    with pytest.raises(ndbridge.H5Error, match=r"forged\.h5.*'x'") as caught:
        cpp.read_h5(path, "x")
    assert "unfilters to 224 bytes, but the dataset's chunks hold 448" in caught.value.stack
    assert cpp.read_h5(path, "x", rows=(16, 240)).tobytes() == DATA[16:].tobytes()
