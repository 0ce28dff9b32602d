"""HDF5 strings as other writers store them, read by ``ndbridge.cpp`` as h5py reads them.

h5py writes str as variable-length UTF-8; PyTables, netCDF, HighFive and
h5py's ``string_dtype('ascii')`` write variable-length ASCII, and fixed-length
strings come padded with NULs, spaces or a terminating NUL. Variable-length
strings read as text when they are UTF-8 and as bytes when they are not;
fixed-length ones as bytes, padded as h5py gives them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from ndbridge import cpp


def write_fixed(path: Path, name: str, padding: int, values: list[bytes], size: int) -> None:
    """A fixed-length ASCII string dataset with the given padding, bytes as given."""
    with h5py.File(path, "a", libver="earliest") as f:
        string = h5py.h5t.C_S1.copy()
        string.set_size(size)
        string.set_strpad(padding)
        space = h5py.h5s.create_simple((len(values),))
        dataset = h5py.h5d.create(f.id, name.encode(), string, space)
        dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array(values, dtype=f"S{size}"), mtype=string)


def h5py_reads(path: Path, name: str) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f[name][()]


@pytest.mark.parametrize(
    "padding", [h5py.h5t.STR_NULLPAD, h5py.h5t.STR_NULLTERM, h5py.h5t.STR_SPACEPAD],
    ids=["nullpad", "nullterm", "spacepad"],
)  # fmt: skip
@pytest.mark.parametrize("layout", ["contiguous", "chunked", "gzip", "attribute"])
def test_fixed_length_padding_as_h5py(tmp_path: Path, padding: int, layout: str) -> None:
    """Space-padded strings lose their trailing spaces, NUL-terminated ones
    end at the first NUL, NUL-padded ones stay as stored: what h5py gives,
    whichever way the bytes are read (one pread, chunks, inflated chunks)."""
    path = tmp_path / "fixed.h5"
    values = [b"ab  ", b"abcd", b"a\0b ", b"    ", b" x  "]
    if layout == "contiguous":
        write_fixed(path, "s", padding, values, 4)
    else:
        with h5py.File(path, "w", libver="earliest") as f:
            string = h5py.h5t.C_S1.copy()
            string.set_size(4)
            string.set_strpad(padding)
            if layout == "attribute":
                space = h5py.h5s.create_simple((len(values),))
                attr = h5py.h5a.create(f.id, b"s", string, space)
                attr.write(np.array(values, dtype="S4"), mtype=string)
            else:
                dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                dcpl.set_chunk((2,))
                if layout == "gzip":
                    dcpl.set_deflate(4)
                space = h5py.h5s.create_simple((len(values),))
                dataset = h5py.h5d.create(f.id, b"s", string, space, dcpl=dcpl)
                stored = np.array(values, dtype="S4")
                dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, stored, mtype=string)
    if layout == "attribute":
        with h5py.File(path, "r") as f:
            expected = f.attrs["s"]
        got = cpp.read_h5_attrs(path)["s"]
    else:
        expected = h5py_reads(path, "s")
        got = cpp.read_h5(path, "s")
        assert cpp.read_h5(path, "s", rows=(1, 4)).tolist() == expected[1:4].tolist()
        with cpp.H5File(path) as f:
            assert f.read("s", rows=(2, 5)).tolist() == expected[2:5].tolist()
    assert got.dtype == np.dtype("S4")
    assert got.tolist() == expected.tolist()
    # The padding itself, as h5py's array holds it (numpy hides trailing NULs).
    assert got.tobytes() == expected.astype("S4").tobytes()


@pytest.mark.parametrize("encoding", ["ascii", "utf-8"])
def test_variable_length_strings_read_whatever_was_read_before(
    tmp_path: Path, encoding: str
) -> None:
    """ASCII and UTF-8 variable-length strings read as text in a fresh
    process, first thing, through every call that reads them: libhdf5
    converts between character sets only after it has converted some UTF-8
    string (see h5_memory_type)."""
    path = tmp_path / "vlen.h5"
    texts = ["ab", "", "cdé" if encoding == "utf-8" else "cde", "x" * 40]
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("d", data=texts, dtype=h5py.string_dtype(encoding))
        f.create_dataset("c", data=texts * 30, dtype=h5py.string_dtype(encoding), chunks=(16,),
                         compression="gzip")  # fmt: skip
        f.attrs.create("a", texts, dtype=h5py.string_dtype(encoding))
        f.attrs.create("one", texts[0], dtype=h5py.string_dtype(encoding))
    for call in (
        "cpp.read_h5(p, 'd').tolist()",
        "cpp.read_h5(p, 'c', rows=(0, 4)).tolist()",
        "cpp.read_h5_attrs(p)['a'].tolist()",
        "str(cpp.read_h5_attrs(p)['one'])",
        "cpp.H5File(p).read('d', rows=(0, 4)).tolist()",
    ):
        script = f"from ndbridge import cpp; p = {str(path)!r}; print(repr({call}))"
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{call}: {result.stderr}"
        expected = texts[0] if "one" in call else texts
        assert eval(result.stdout) == expected, call


def test_strings_that_are_not_utf8_come_back_as_bytes(tmp_path: Path) -> None:
    """Variable-length strings holding bytes that are not UTF-8 (Latin-1
    text labelled ASCII, say) read as the bytes stored, as h5py gives them,
    in a bytes array as wide as the longest."""
    path = tmp_path / "latin1.h5"
    stored = [b"caf\xe9", b"", b"plain ascii", b"\xff\xfe"]
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("d", data=stored, dtype=h5py.string_dtype("ascii"))
        f.attrs.create("a", stored, dtype=h5py.string_dtype("ascii"))
    got = cpp.read_h5(path, "d")
    assert got.dtype == np.dtype("S11")
    assert got.tolist() == stored == h5py_reads(path, "d").tolist()
    assert cpp.read_h5_attrs(path)["a"].tolist() == stored
    # Rows without the offending strings are text again: each read decides.
    assert cpp.read_h5(path, "d", rows=(1, 3)).tolist() == ["", "plain ascii"]
