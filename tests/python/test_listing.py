"""``ndbridge ls``: what is inside .npy, .npz and HDF5 files, as the C++ reader sees it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import ndbridge
from ndbridge import cpp
from ndbridge.__main__ import main
from ndbridge._formats import detect_format
from ndbridge.listing import describe, preview

ENTRY_KEYS = {
    "name", "kind", "dtype", "shape", "readable", "unreadable_reason", "type", "fortran_order",
    "layout", "chunks", "filters", "stored_bytes", "nbytes", "virtual_sources", "error",
    "attributes",
}  # fmt: skip


def ls(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["ls", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def sample_h5(tmp_path: Path) -> Path:
    path = tmp_path / "sample.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f.attrs["title"] = "a sample"
        images = f.create_dataset(
            "train/images",
            data=np.zeros((8, 4, 4, 3), dtype=np.uint8),
            chunks=(1, 4, 4, 3),
            compression="gzip",
            shuffle=True,
        )
        images.attrs["mean"] = np.arange(20, dtype=np.float32)
        images.attrs["unit"] = "pixel"
        f.create_dataset("train/labels", data=np.arange(8, dtype=">i8"), compression="lzf")
        f["names"] = np.array(["cat", "dog"], dtype=h5py.string_dtype())
        f["scalar"] = 1.5
        f["pairs"] = np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")])
    return path


def test_h5_tree(sample_h5: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = ls([str(sample_h5)], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{sample_h5}: HDF5, ")
    assert lines[0].endswith(", 5 arrays")
    text = "\n".join(line.rstrip() for line in lines[1:])
    assert "@title = 'a sample'" in text
    assert "  train/" in text
    assert "    images  |u1" in text and "(8, 4, 4, 3)" in text
    assert "chunks 1x4x4x3, shuffle+gzip" in text
    assert "      @mean = [ 0. 1. 2. ... 17. 18. 19.]" in text
    assert "      @unit = 'pixel'" in text
    assert "labels  >i8" in text and "lzf" in text
    assert "names" in text and "variable-length UTF-8 string" in text
    assert "compound {a, b}: not readable by ndbridge" in text
    assert "scalar" in text and "()" in text


def test_h5_json(sample_h5: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = ls([str(sample_h5), "--json"], capsys)
    assert status == 0
    doc = json.loads(out)
    assert set(doc) == {"path", "format", "size", "entries"}
    assert doc["format"] == "h5" and doc["size"] == sample_h5.stat().st_size
    for entry in doc["entries"]:
        assert set(entry) == ENTRY_KEYS
    by_name = {e["name"]: e for e in doc["entries"]}
    assert by_name["/"]["kind"] == "group"
    assert by_name["/"]["attributes"] == {
        "title": {"dtype": "<U8", "shape": [], "preview": "'a sample'"}
    }
    images = by_name["/train/images"]
    assert images["kind"] == "array" and images["readable"] is True
    assert (images["dtype"], images["shape"], images["nbytes"]) == ("|u1", [8, 4, 4, 3], 384)
    assert (images["layout"], images["chunks"]) == ("chunked", [1, 4, 4, 3])
    assert images["filters"] == ["shuffle", "gzip"]
    assert images["attributes"]["mean"]["shape"] == [20]
    assert by_name["/train/labels"]["filters"] == ["lzf"]
    assert by_name["/names"]["dtype"] is None and by_name["/names"]["readable"] is True
    assert by_name["/pairs"]["readable"] is False
    assert "compound" in by_name["/pairs"]["unreadable_reason"]
    assert by_name["/train/images"]["unreadable_reason"] is None
    assert by_name["/scalar"]["shape"] == []
    # Bytes in the file, as h5py's id.get_storage_size() counts them.
    with h5py.File(sample_h5) as f:
        for name in ("/train/images", "/train/labels", "/scalar"):
            assert by_name[name]["stored_bytes"] == f[name].id.get_storage_size(), name
    assert by_name["/train/images"]["stored_bytes"] < images["nbytes"]  # zeros compress
    assert by_name["/scalar"]["stored_bytes"] == by_name["/scalar"]["nbytes"] == 8
    assert by_name["/names"]["stored_bytes"] is None  # references into a heap, not the text


def test_npy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.npy"
    np.save(path, np.asfortranarray(np.zeros((3, 5), dtype=">f4")))
    status, out, _ = ls([str(path)], capsys)
    assert status == 0
    assert out.splitlines()[1].split() == ["(array)", ">f4", "(3,", "5)", "Fortran", "order"]
    doc = json.loads(ls([str(path), "--json"], capsys)[1])
    (entry,) = doc["entries"]
    assert set(entry) == ENTRY_KEYS
    assert entry["name"] is None and entry["fortran_order"] is True
    assert entry["stored_bytes"] == entry["nbytes"] == 60


def test_an_empty_axis_makes_nothing_however_large_the_others(tmp_path: Path) -> None:
    path = tmp_path / "z.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", shape=(2**40, 2**40, 0), dtype="u1")
    (entry,) = [e for e in cpp.describe(path)["entries"] if e["name"] == "/x"]
    assert entry["shape"] == (2**40, 2**40, 0)
    assert entry["nbytes"] == 0 and entry["stored_bytes"] == 0


def test_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "z.npz"
    np.savez_compressed(path, a=np.zeros(1000), **{"g/b": np.arange(3, dtype=np.int16)})
    status, out, _ = ls([str(path)], capsys)
    assert status == 0
    assert "2 arrays" in out.splitlines()[0]
    assert "deflate" in out
    doc = json.loads(ls([str(path), "--json"], capsys)[1])
    assert doc["format"] == "npz"
    entries = {e["name"]: e for e in doc["entries"]}
    assert set(entries) == {"a", "g/b"}
    assert entries["a"]["filters"] == ["deflate"]
    assert entries["a"]["stored_bytes"] < entries["a"]["nbytes"]
    assert (entries["g/b"]["dtype"], entries["g/b"]["shape"]) == ("<i2", [3])


def test_format_is_told_by_content_not_suffix(tmp_path: Path) -> None:
    npy_named_h5 = tmp_path / "really_npy.h5"
    np.save(tmp_path / "x.npy", np.arange(3))
    npy_named_h5.write_bytes((tmp_path / "x.npy").read_bytes())
    assert describe(npy_named_h5)["format"] == "npy"
    # An HDF5 file behind a 512-byte user block.
    with h5py.File(tmp_path / "ub.dat", "w", libver="earliest", userblock_size=512) as f:
        f["x"] = np.arange(3)
    doc = describe(tmp_path / "ub.dat")
    assert doc["format"] == "h5"
    assert [e["name"] for e in doc["entries"]] == ["/", "/x"]
    np.savez(tmp_path / "z.npz", a=np.arange(3))
    (tmp_path / "z.npz").rename(tmp_path / "z.bin")
    for name, fmt in (("really_npy.h5", "npy"), ("ub.dat", "h5"), ("z.bin", "npz")):
        assert cpp.detect_format(tmp_path / name) == detect_format(tmp_path / name) == fmt
    (tmp_path / "x.txt").write_bytes(b"x")
    with pytest.raises(ndbridge.FormatError, match="it starts with b'x'"):
        cpp.detect_format(tmp_path / "x.txt")


def test_cpp_describe_gives_attribute_values(sample_h5: Path) -> None:
    entries = {e["name"]: e for e in cpp.describe(sample_h5)["entries"]}
    mean = entries["/train/images"]["attributes"]["mean"]
    np.testing.assert_array_equal(mean["value"], np.arange(20, dtype=np.float32))
    assert mean["unreadable_reason"] is None
    assert entries["/"]["attributes"]["title"]["value"][()] == "a sample"
    assert entries["/train/images"]["shape"] == (8, 4, 4, 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an .npy, .npz or HDF5 file (it is empty)"),
        (b"just some text", "not an .npy, .npz or HDF5 file (it starts with b'just som')"),
        (b"\x93NUMPY\x01\x00\x10", "x.h5'"),
        (b"\x89HDF\r\n\x1a\n" + bytes(64), "x.h5'"),
    ],
)
def test_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    status, out, err = ls([str(path)], capsys)
    assert status == 1 and out == ""  # a data problem
    assert err.startswith(f"ndbridge ls: error: '{path}'")
    assert message in err


def test_truncated_h5(sample_h5: Path) -> None:
    data = sample_h5.read_bytes()
    sample_h5.write_bytes(data[: len(data) // 2])
    with pytest.raises(ndbridge.Error, match="truncated"):
        describe(sample_h5)


def test_missing_file_and_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = ls([str(tmp_path / "none.h5")], capsys)
    assert status == 1 and err.count("\n") == 1
    assert "none.h5' for reading: No such file or directory" in err
    with pytest.raises(IsADirectoryError):
        describe(tmp_path)


def test_newer_format_dataset_is_listed_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """h5py's libver="latest" stores filtered chunks in a layout libhdf5
    before 2.0 cannot open: ls lists that dataset with the reason and the
    rest as usual."""
    if cpp.hdf5_version >= tuple(h5py.version.hdf5_version_tuple[:2]):
        pytest.skip(f"libhdf5 {cpp.hdf5_version} opens h5py's latest format")
    path = tmp_path / "latest.h5"
    with h5py.File(path, "w", libver="latest") as f:
        f.create_dataset("gz", data=np.arange(100.0), chunks=(10,), compression="gzip")
        f["plain"] = np.arange(3)
    entries = {e["name"]: e for e in describe(path)["entries"]}
    assert entries["/gz"]["kind"] == "array" and entries["/gz"]["readable"] is False
    assert entries["/gz"]["shape"] is None and "layout message" in entries["/gz"]["error"]
    assert entries["/plain"]["error"] is None and entries["/plain"]["shape"] == [3]
    status, out, _ = ls([str(path)], capsys)
    assert status == 0
    [line] = [row for row in out.splitlines() if row.strip().startswith("gz")]
    assert line.split()[1:3] == ["?", "?"] and "cannot be opened: bad version number" in line


def test_unreadable_attribute_is_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "a.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f["x"] = np.arange(3)
        f["x"].attrs["pair"] = np.zeros(1, dtype=[("a", "<i4"), ("b", "<i4")])
    entry = describe(path)["entries"][1]
    info = entry["attributes"]["pair"]
    assert info["dtype"] is None and info["shape"] is None
    assert info["preview"].startswith("(not readable by ndbridge: ")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.str_("hello"), "'hello'"),
        (np.bytes_(b"raw"), "b'raw'"),
        (np.float64(2.5), "2.5"),
        (np.int32(7), "7"),
        (np.array([1, 2, 3]), "[1 2 3]"),
        ("x" * 100, "'" + "x" * 56 + "..."),
        (np.arange(100), "[ 0 1 2 ... 97 98 99]"),
    ],
)
def test_preview(value: Any, text: str) -> None:
    assert preview(value) == text
    assert len(preview(value)) <= 60
