"""Round trips between numpy's .npz reader and writer and ndbridge's C++ ones.

Property tests cover sets of arrays over the dtype space of the .npy suites,
member names (with '/', non-ASCII, empty) and both compressions, in both
directions, bit for bit; the examples pin down positional names, empty
archives, archives zipfile writes in other ways (data descriptors, data in
front, CP437 names, more than 65535 members), what ndbridge refuses, the
inflate limit and archives over 4 GiB (marked slow).
"""

from __future__ import annotations

import errno
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from array_strategies import (
    arrays,
    assert_same_array,
    numpy_fortran_order,
    numpy_save_bytes,
    random_array,
    scratch_dir,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import ndbridge
from ndbridge import cpp

PROPERTY = settings(max_examples=100, deadline=None)
SAVERS = {False: np.savez, True: np.savez_compressed}

# Member names: any text without NUL (which zipfile cuts the name at) or
# lone surrogates (which cannot be encoded), often with '/'.
names = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10),
    st.lists(st.text("abc.xyz_", min_size=1, max_size=4), min_size=1, max_size=4).map("/".join),
)
archives = st.dictionaries(names, arrays(), max_size=4)


def load_all(path: Path) -> dict[str, np.ndarray]:
    """What numpy.load reads from an archive, in its key order."""
    with np.load(path, allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


def assert_same_arrays(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    """Same keys in the same order, each array bit for bit with np.save's layout."""
    assert list(actual) == list(expected)
    for key, arr in expected.items():
        assert_same_array(actual[key], arr, fortran_order=numpy_fortran_order(arr))


def assert_listing(path: Path, expected: dict[str, np.ndarray]) -> None:
    """list_npz agrees with zipfile's directory and with the arrays."""
    listing = cpp.list_npz(path)
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
    assert [m["name"] for m in listing] == list(expected)
    for member, info, arr in zip(listing, infos, expected.values(), strict=True):
        assert member["dtype"] == arr.dtype.str
        assert member["shape"] == arr.shape
        assert member["fortran_order"] == numpy_fortran_order(arr)
        assert member["compressed"] == (info.compress_type == zipfile.ZIP_DEFLATED)
        assert member["compressed_size"] == info.compress_size
        assert member["uncompressed_size"] == info.file_size


# --- properties ----------------------------------------------------------------


@PROPERTY
@given(expected=archives, compress=st.booleans())
def test_numpy_savez_then_cpp_read(expected: dict[str, np.ndarray], compress: bool) -> None:
    with scratch_dir() as folder:
        path = folder / "arrays.npz"
        SAVERS[compress](path, **expected)
        result = cpp.read_npz(path)
        assert_same_arrays(result, expected)
        assert list(result) == list(load_all(path))
        assert all(a.flags.writeable for a in result.values())
        assert_listing(path, expected)


@PROPERTY
@given(expected=archives, compress=st.booleans())
def test_cpp_write_then_numpy_load(expected: dict[str, np.ndarray], compress: bool) -> None:
    before = {k: (a.dtype.str, a.tobytes()) for k, a in expected.items()}
    with scratch_dir() as folder:
        path = folder / "arrays.npz"
        cpp.write_npz(path, expected, compression="gzip" if compress else "none")
        assert {k: (a.dtype.str, a.tobytes()) for k, a in expected.items()} == before
        assert os.listdir(folder) == ["arrays.npz"]
        assert_same_arrays(load_all(path), expected)
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
            method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            assert [i.compress_type for i in z.infolist()] == [method] * len(expected)
            # Every member is the .npy file np.save writes, byte for byte.
            for key, arr in expected.items():
                assert z.read(key + ".npy") == numpy_save_bytes(arr)
        assert_same_arrays(cpp.read_npz(path), expected)
        assert_listing(path, expected)


# --- examples ------------------------------------------------------------------

EXAMPLES = {
    "f8": random_array(np.dtype("<f8"), (2, 3), 1),
    "be/i4/F": random_array(np.dtype(">i4"), (3, 4), 2, order="F"),
    "unicode": random_array(np.dtype(">U3"), (4,), 3),
    "bytes": random_array(np.dtype("|S5"), (2, 2), 4),
    "bool": random_array(np.dtype("|b1"), (3, 1, 2), 5),
    "0d": random_array(np.dtype(">c16"), (), 6),
    "empty": random_array(np.dtype("<f2"), (3, 0, 2), 7),
    "donn\u00e9es": random_array(np.dtype("<u8"), (5,), 8),
}
COMPRESS = pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])


@COMPRESS
def test_positional_names(tmp_path: Path, compress: bool) -> None:
    values = list(EXAMPLES.values())[:3]
    expected = {f"arr_{i}": a for i, a in enumerate(values)}
    saved = tmp_path / "numpy.npz"
    SAVERS[compress](saved, *values)
    assert_same_arrays(cpp.read_npz(saved), expected)
    written = tmp_path / "cpp.npz"
    cpp.write_npz(written, values, compression="gzip" if compress else "none")
    assert_same_arrays(load_all(written), expected)
    cpp.write_npz(written, tuple(values), compress=compress)
    assert_same_arrays(load_all(written), expected)


@COMPRESS
def test_empty_archive(tmp_path: Path, compress: bool) -> None:
    saved = tmp_path / "numpy.npz"
    SAVERS[compress](saved)
    assert cpp.read_npz(saved) == {}
    assert cpp.list_npz(saved) == []
    written = tmp_path / "cpp.npz"
    cpp.write_npz(written, {}, compress=compress)
    assert load_all(written) == {}
    assert written.read_bytes() == saved.read_bytes()  # both just the end record


@COMPRESS
def test_examples_both_ways(tmp_path: Path, compress: bool) -> None:
    saved = tmp_path / "numpy.npz"
    SAVERS[compress](saved, **EXAMPLES)
    assert_same_arrays(cpp.read_npz(saved), EXAMPLES)
    written = tmp_path / "cpp.npz"
    cpp.write_npz(written, EXAMPLES, compress=compress)
    assert_same_arrays(load_all(written), EXAMPLES)
    assert_same_arrays(cpp.read_npz(written), EXAMPLES)


class Unseekable(io.RawIOBase):
    """A write-only stream that cannot tell or seek, like a pipe."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)


@COMPRESS
def test_data_descriptors(tmp_path: Path, compress: bool) -> None:
    """numpy.savez into a pipe: zipfile writes sizes and CRC after the data."""
    stream = Unseekable()
    SAVERS[compress](stream, **EXAMPLES)
    path = tmp_path / "streamed.npz"
    path.write_bytes(bytes(stream.data))
    with zipfile.ZipFile(path) as z:
        assert all(i.flag_bits & 0x08 for i in z.infolist())
    assert_same_arrays(cpp.read_npz(path), EXAMPLES)


@COMPRESS
def test_data_in_front(tmp_path: Path, compress: bool) -> None:
    """Bytes before the archive shift its offsets; zipfile allows it, so do we
    (numpy.load does not: it looks for the zip signature at the start)."""
    buffer = io.BytesIO()
    SAVERS[compress](buffer, **EXAMPLES)
    path = tmp_path / "prefixed.npz"
    path.write_bytes(b"#!/bin/sh\nexit 0\n" * 10 + buffer.getvalue())
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
    assert_same_arrays(cpp.read_npz(path), EXAMPLES)


def test_cp437_names(tmp_path: Path) -> None:
    """Names stored without the UTF-8 flag are CP437, as zipfile reads them."""
    buffer = io.BytesIO()
    np.savez(buffer, **{"X-name": np.arange(3)})
    path = tmp_path / "cp437.npz"
    # b"\x82" is CP437's e acute; ASCII names carry no UTF-8 flag.
    path.write_bytes(buffer.getvalue().replace(b"X-name", b"\x82-name"))
    assert list(load_all(path)) == ["\u00e9-name"]
    assert list(cpp.read_npz(path)) == ["\u00e9-name"]


def test_more_than_65535_members(tmp_path: Path) -> None:
    """Counts past 16 bits need the zip64 end records; zipfile must agree."""
    path = tmp_path / "many.npz"
    count = 70_000
    one = np.ones(1, dtype="u1")
    cpp.write_npz(path, [one] * count)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert len(names) == count
    assert names[-1] == f"arr_{count - 1}.npy"
    with np.load(path) as f:
        assert f[f"arr_{count - 1}"].tolist() == [1]
    assert len(cpp.list_npz(path)) == count


# --- what ndbridge refuses ---------------------------------------------------------


def zip_with(path: Path, members: dict[str, bytes], method: int) -> Path:
    """An archive of raw members written by zipfile with one compression method."""
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_member_that_is_not_npy(tmp_path: Path) -> None:
    path = zip_with(
        tmp_path / "mixed.npz",
        {"a.npy": numpy_save_bytes(np.arange(3)), "readme.txt": b"hello"},
        zipfile.ZIP_STORED,
    )
    with np.load(path) as f:
        assert f.files == ["a", "readme.txt"]  # numpy shows such members as bytes
    for read in (cpp.read_npz, cpp.list_npz):
        with pytest.raises(ndbridge.UnsupportedError, match=r"readme\.txt.*not an \.npy") as info:
            read(path)
        assert isinstance(info.value, ValueError)
        assert str(path) in str(info.value)


def test_compression_spellings(tmp_path: Path) -> None:
    data = {"a": np.zeros(10_000)}
    for name, options, deflated in [
        ("gzip", {"compression": "gzip"}, True),
        ("none", {"compression": "none"}, False),
        ("default", {}, False),
        ("compress", {"compress": True}, True),
        ("both", {"compression": "gzip", "compress": True}, True),
    ]:
        path = tmp_path / f"{name}.npz"
        cpp.write_npz(path, data, **options)
        with zipfile.ZipFile(path) as z:
            method = z.getinfo("a.npy").compress_type
        assert method == (zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED), name
    with pytest.raises(ndbridge.UsageError, match="disagree"):
        cpp.write_npz(tmp_path / "x.npz", data, compression="none", compress=True)
    with pytest.raises(ndbridge.UsageError, match=r"gzip .*or none, not 'lzf'"):
        cpp.write_npz(tmp_path / "x.npz", data, compression="lzf")
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_extract_and_contains(tmp_path: Path, compress: bool) -> None:
    big = np.arange(600_000, dtype=">i4").reshape(6000, 100)  # more than one copy block
    path = tmp_path / "z.npz"
    (np.savez_compressed if compress else np.savez)(path, big=big, small=np.float16(2.5))
    with cpp.NpzReader(path) as archive:
        assert "big" in archive and "small" in archive and "nope" not in archive
        archive.extract("big", tmp_path / "big.npy")
        with pytest.raises(ndbridge.NotFoundError, match=r"z\.npz.*'nope'"):
            archive.extract("nope", tmp_path / "nope.npy")
    copy = np.load(tmp_path / "big.npy")
    assert copy.dtype == big.dtype and np.array_equal(copy, big)
    assert not (tmp_path / "nope.npy").exists()

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside big's data
    path.write_bytes(bytes(data))
    corrupt = r"z\.npz' member 'big\.npy'"
    with cpp.NpzReader(path) as archive, pytest.raises(ndbridge.FormatError, match=corrupt):
        archive.extract("big", tmp_path / "bad.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy", "z.npz"]


@pytest.mark.parametrize(
    ("method", "says"),
    [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")],
    ids=["bzip2", "lzma"],
)
def test_unsupported_compression(tmp_path: Path, method: int, says: str) -> None:
    path = zip_with(tmp_path / "other.npz", {"a.npy": numpy_save_bytes(np.arange(3))}, method)
    np.testing.assert_array_equal(load_all(path)["a"], np.arange(3))
    for read in (cpp.read_npz, cpp.list_npz):
        with pytest.raises(ndbridge.UnsupportedError, match=f"compression method.*{says}"):
            read(path)


@COMPRESS
def test_encrypted_member(tmp_path: Path, compress: bool) -> None:
    buffer = io.BytesIO()
    SAVERS[compress](buffer, a=np.arange(3))
    data = bytearray(buffer.getvalue())
    # Set bit 0 of the flags in the local header (offset 6) and the central
    # directory entry (offset 8).
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flags_at
        data[at] |= 1
    path = tmp_path / "encrypted.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="encrypted"):
        load_all(path)
    with pytest.raises(ndbridge.UnsupportedError, match="encrypted"):
        cpp.read_npz(path)


def test_read_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.arange(3))
    with pytest.raises(ndbridge.FormatError, match=r"an \.npy file, not an \.npz"):
        cpp.read_npz(path)


def test_read_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.npz"
    for read in (cpp.read_npz, cpp.list_npz):
        with pytest.raises(FileNotFoundError) as info:
            read(path)
        assert isinstance(info.value, ndbridge.FileError)
        assert info.value.errno == errno.ENOENT
        assert str(path) in str(info.value)


def test_write_refuses_unsupported_dtype(tmp_path: Path) -> None:
    path = tmp_path / "object.npz"
    with pytest.raises(ndbridge.UnsupportedError, match=r"member 'b\.npy'") as info:
        cpp.write_npz(path, {"a": np.arange(3), "b": np.array([None], dtype=object)})
    assert str(path) in str(info.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "arrays",
    [{"a\x00b": np.arange(3)}, {1: np.arange(3)}, 42],
    ids=["nul-in-name", "int-name", "not-a-collection"],
)
def test_write_refuses_bad_arguments(tmp_path: Path, arrays: Any) -> None:
    with pytest.raises(ndbridge.UsageError):
        cpp.write_npz(tmp_path / "bad.npz", arrays)
    assert os.listdir(tmp_path) == []


def test_write_into_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "a.npz"
    with pytest.raises(FileNotFoundError) as info:
        cpp.write_npz(path, {"a": np.arange(3)})
    assert isinstance(info.value, ndbridge.FileError)


# --- the inflate limit ------------------------------------------------------------


def test_max_bytes(tmp_path: Path) -> None:
    zeros = np.zeros(1 << 18, dtype="<f4")  # 1 MiB, deflates to about 1 KiB
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, z=zeros)
    with pytest.raises(ndbridge.FormatError, match=r"limit of 1000 bytes.*max_bytes") as info:
        cpp.read_npz(compressed, max_bytes=1000)
    assert str(compressed) in str(info.value)
    assert cpp.read_npz(compressed, max_bytes=2 << 20)["z"].nbytes == zeros.nbytes
    assert cpp.list_npz(compressed)[0]["shape"] == zeros.shape  # listing inflates the header only
    # Stored bytes are in the file, whose size bounds them: no limit applies.
    stored = tmp_path / "stored.npz"
    np.savez(stored, z=zeros)
    assert cpp.read_npz(stored, max_bytes=0)["z"].nbytes == zeros.nbytes


def test_max_bytes_counts_all_members(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    np.savez_compressed(path, a=np.zeros(1000, "u1"), b=np.zeros(1000, "u1"))
    cpp.read_npz(path, max_bytes=2 * 1128)
    with pytest.raises(ndbridge.FormatError, match="limit"):
        cpp.read_npz(path, max_bytes=2 * 1128 - 1)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_max_bytes_must_be_a_count(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ndbridge.UsageError):
        cpp.read_npz(tmp_path / "a.npz", max_bytes=bad)


# --- over 4 GiB (slow) ----------------------------------------------------------------

FOUR_GIB = 4 << 30


def big_pattern(nbytes: int) -> np.ndarray:
    """A large uint8 array that is cheap to make: 0, 1, ... 250 repeated."""
    return np.tile(np.arange(251, dtype=np.uint8), nbytes // 251 + 1)[:nbytes]


@pytest.mark.slow
@COMPRESS
def test_member_over_4_gib(tmp_path: Path, compress: bool) -> None:
    """A member past 32-bit sizes, both ways: zip64 sizes in every header."""
    arr = big_pattern(FOUR_GIB + 12345)
    saved = tmp_path / "numpy.npz"
    SAVERS[compress](saved, big=arr)
    result = cpp.read_npz(saved)["big"]
    assert np.array_equal(result, arr)
    del result
    written = tmp_path / "cpp.npz"
    cpp.write_npz(written, {"big": arr}, compress=compress)
    saved.unlink()
    with np.load(written) as f:
        assert np.array_equal(f["big"], arr)
    with zipfile.ZipFile(written) as z:
        assert z.infolist()[0].file_size > FOUR_GIB


@pytest.mark.slow
def test_archive_over_4_gib(tmp_path: Path) -> None:
    """Members whose offsets are past 4 GiB (zip64 offsets and end records)."""
    part = big_pattern(1536 << 20)
    expected = {"a": part, "b": part[::-1], "c": part, "small": np.arange(5)}
    saved = tmp_path / "numpy.npz"
    np.savez(saved, **expected)
    assert saved.stat().st_size > FOUR_GIB
    assert_same_arrays(cpp.read_npz(saved), expected)
    written = tmp_path / "cpp.npz"
    cpp.write_npz(written, expected)
    saved.unlink()
    assert written.stat().st_size > FOUR_GIB
    assert_same_arrays(load_all(written), expected)


@pytest.mark.slow
def test_numpy_savez_more_than_65535_members(tmp_path: Path) -> None:
    path = tmp_path / "many.npz"
    count = 70_000
    np.savez(path, *([np.ones(1, dtype="u1")] * count))
    result = cpp.read_npz(path)
    assert len(result) == count
    assert result[f"arr_{count - 1}"].tolist() == [1]
