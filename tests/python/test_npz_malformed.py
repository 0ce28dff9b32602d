"""Malformed and hostile .npz archives: each must fail with a specific error.

Every archive is built at test time: written by numpy and then truncated,
corrupted or patched to lie, or assembled from raw zip records (zip64
records, zip bombs). Each must raise ndbridge.FormatError (a ValueError)
naming the file and saying what is wrong; the same cases are run once more
in a subprocess whose address space is capped at 4 GiB, where a reader that
believed a lying size would fail to allocate or be killed.
"""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import ndbridge
from ndbridge import cpp

FORMAT = ndbridge.FormatError
MEMBER_A = np.arange(100, dtype="<i4")
MEMBER_B = np.array([1.5, -2.0, 3.25])


def numpy_archive(compress: bool) -> bytes:
    """A two-member archive as numpy writes it."""
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, a=MEMBER_A, b=MEMBER_B)
    return buffer.getvalue()


@dataclass(frozen=True)
class Layout:
    """Where the first member's records sit in an archive numpy wrote."""

    local: int  # local header
    data: int  # first data byte
    data_size: int  # compressed size
    central: int  # its central directory entry
    end: int  # end of central directory record


def layout(data: bytes) -> Layout:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.infolist()[0]
    local = info.header_offset
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    end = data.rindex(b"PK\x05\x06")
    (central,) = struct.unpack_from("<I", data, end + 16)
    return Layout(local, local + 30 + name_len + extra_len, info.compress_size, central, end)


def patched(data: bytes, *edits: tuple[int, str, int]) -> bytes:
    """`data` with struct-packed values written at offsets."""
    out = bytearray(data)
    for offset, fmt, value in edits:
        struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def set_crc(data: bytes, crc: int, *, local: bool = True) -> bytes:
    at = layout(data)
    edits = [(at.central + 16, "<I", crc)]
    if local:
        edits.append((at.local + 14, "<I", crc))
    return patched(data, *edits)


def set_sizes(
    data: bytes, *, compressed: int | None = None, uncompressed: int | None = None
) -> bytes:
    """Changes the first member's sizes consistently wherever the writer put
    them: the central directory, the local header's 32-bit fields unless they
    defer to zip64 (0xFFFFFFFF; the zipfile of Debian 12's Python 3.11.2 fills
    them in as well), and the zip64 extra field of the local header."""
    at = layout(data)
    name_len, extra_len = struct.unpack_from("<HH", data, at.local + 26)
    extra_at = at.local + 30 + name_len
    zip64_at = None
    pos = extra_at
    while pos + 4 <= extra_at + extra_len:
        tag, size = struct.unpack_from("<HH", data, pos)
        if tag == 1:
            zip64_at = pos + 4
        pos += 4 + size
    out = data
    # The zip64 extra holds the uncompressed size first, then the compressed.
    for value, central_at, local_at, zip64_slot in (
        (uncompressed, at.central + 24, at.local + 22, 0),
        (compressed, at.central + 20, at.local + 18, 8),
    ):
        if value is None:
            continue
        edits = [(central_at, "<I", value)]
        if struct.unpack_from("<I", data, local_at)[0] != 0xFFFFFFFF:
            edits.append((local_at, "<I", value))
        if zip64_at is not None:
            edits.append((zip64_at + zip64_slot, "<Q", value))
        out = patched(out, *edits)
    return out


def flip(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 0xFF
    return bytes(out)


# --- raw zip records, for what numpy never writes -------------------------------


def raw_zip(
    name: bytes,
    payload: bytes,
    *,
    method: int,
    crc: int,
    uncompressed: int,
    zip64_end: tuple[int, int] | None = None,
) -> bytes:
    """One member with zip64 sizes in both headers, as numpy writes them.
    `zip64_end` adds zip64 end records claiming (central size, offset)."""
    csize = len(payload)
    extra = struct.pack("<HHQQ", 1, 16, uncompressed, csize)
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 33, crc,
        0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra),
    )  # fmt: skip
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 33, crc,
        0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, 0,
    )  # fmt: skip
    body = local + name + extra + payload
    directory = central + name + extra
    tail = b""
    if zip64_end is not None:
        cd_size, cd_offset = zip64_end
        where = len(body) + len(directory)
        tail = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, cd_size, cd_offset)
        tail += struct.pack("<IIQI", 0x07064B50, 0, where, 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(body), 0)
    if zip64_end is not None:
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + directory + tail + end


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def zip_bomb(gib: int, declared: int | None = None) -> bytes:
    """A deflated member that really inflates to `gib` GiB of zeros after a
    valid .npy header saying so, in about a MiB of archive per GiB: one
    full-flushed block of a MiB of zeros, repeated. `declared` overrides
    the uncompressed size the archive declares (and the header's shape)."""
    mib = 1 << 20
    count = gib * 1024
    size = declared if declared is not None else count * mib
    header = npy_header((size,))
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = packer.compress(header) + packer.flush(zlib.Z_FULL_FLUSH)
    # After a full flush nothing refers back, so the block repeats verbatim.
    block = packer.compress(bytes(mib)) + packer.flush(zlib.Z_FULL_FLUSH)
    payload = start + block * count + packer.flush(zlib.Z_FINISH)
    # The CRC is never reached: the limit or the size check stops first.
    return raw_zip(b"bomb.npy", payload, method=8, crc=0, uncompressed=len(header) + size)


# --- the cases -------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An archive, the error reading it must raise and words its message says."""

    build: Callable[[], bytes]
    says: str
    error: type[Exception] = FORMAT
    max_bytes: int | None = None


def stored() -> bytes:
    return numpy_archive(False)


def deflated() -> bytes:
    return numpy_archive(True)


def lying_npy_header(compress: bool) -> bytes:
    """A member whose .npy header promises far more data than the member holds;
    zipfile writes it with honest sizes and CRC."""
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=method) as z:
        z.writestr("a.npy", npy_header((10**12,), "<f8") + bytes(80))
    return buffer.getvalue()


CASES = {
    # CRC-32
    "bad-crc-stored": Case(lambda: set_crc(stored(), 0x12345678), "CRC-32 mismatch"),
    "bad-crc-deflated": Case(lambda: set_crc(deflated(), 0x12345678), "CRC-32 mismatch"),
    "crc-headers-disagree": Case(
        lambda: set_crc(stored(), 0x12345678, local=False), "local file header gives CRC-32"
    ),
    "flipped-data-stored": Case(
        lambda: flip(stored(), layout(stored()).data + 200), "CRC-32 mismatch"
    ),
    # deflate data
    "corrupt-deflate": Case(
        lambda: patched(deflated(), (layout(deflated()).data, "<B", 0xFF)), "corrupt deflate data"
    ),
    "deflate-cut-short": Case(
        lambda: set_sizes(deflated(), compressed=layout(deflated()).data_size // 2),
        "cut short|corrupt deflate",
    ),
    # lying sizes
    "stored-sizes-differ": Case(
        lambda: set_sizes(stored(), uncompressed=layout(stored()).data_size + 1), "sizes differ"
    ),
    "uncompressed-size-too-big": Case(
        lambda: set_sizes(deflated(), uncompressed=528 + 64),
        "ends after 528 bytes, but the archive declares 592",
    ),
    "uncompressed-size-too-small": Case(
        lambda: set_sizes(deflated(), uncompressed=200), "lying size"
    ),
    "compressed-size-past-end": Case(
        lambda: set_sizes(stored(), compressed=10**9, uncompressed=10**9), "run past"
    ),
    "npy-header-lies-stored": Case(lambda: lying_npy_header(False), "lying size"),
    "npy-header-lies-deflated": Case(lambda: lying_npy_header(True), "lying size"),
    "local-header-offset-past-end": Case(
        lambda: patched(stored(), (layout(stored()).central + 42, "<I", 10**8)),
        "local header offset",
    ),
    "central-directory-offset-lies": Case(
        lambda: patched(stored(), (layout(stored()).end + 16, "<I", 10**8)), "central directory"
    ),
    "central-directory-size-lies": Case(
        lambda: patched(stored(), (layout(stored()).end + 12, "<I", 10**8)), "central directory"
    ),
    "zip64-end-record-lies": Case(
        lambda: raw_zip(
            b"a.npy", b"", method=0, crc=0, uncompressed=0, zip64_end=(1 << 62, 1 << 62)
        ),
        "central directory",
    ),
    "declares-terabyte-from-bytes": Case(
        lambda: raw_zip(b"a.npy", b"\x03\x00", method=8, crc=0, uncompressed=1 << 40),
        "more than .* deflate data can hold",
    ),
    # zip bombs: real deflate data, honest sizes, past the default limit (16 GiB)
    "zip-bomb-past-default-limit": Case(lambda: zip_bomb(17), "limit of 17179869184 bytes"),
    "zip-bomb-past-max-bytes": Case(lambda: zip_bomb(1), "limit of 1000000", max_bytes=10**6),
    # a bomb that declares a small size but inflates to more
    "zip-bomb-declares-less": Case(lambda: zip_bomb(1, declared=1000), "more than the 1128 bytes"),
    # structure
    "empty-file": Case(lambda: b"", "too short"),
    "not-a-zip": Case(lambda: b"hello, world" * 10, "not an .npz archive"),
}


def write_case(folder: Path, name: str) -> Path:
    path = folder / f"{name}.npz"
    path.write_bytes(CASES[name].build())
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_malformed(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    path = write_case(tmp_path, name)
    with pytest.raises(case.error) as info:
        cpp.read_npz(path, max_bytes=case.max_bytes)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value)
    assert re.search(case.says, str(info.value)), str(info.value)


@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_every_truncation(tmp_path: Path, compress: bool) -> None:
    data = numpy_archive(compress)
    path = tmp_path / "cut.npz"
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        for read in (cpp.read_npz, cpp.list_npz):
            with pytest.raises(FORMAT) as info:
                read(path)
            assert str(path) in str(info.value), cut


def test_every_corrupt_deflate_byte(tmp_path: Path) -> None:
    """Any byte of deflate data changed: a deflate, size, header or CRC error."""
    data = numpy_archive(True)
    at = layout(data)
    path = tmp_path / "corrupt.npz"
    for offset in range(at.data, at.data + at.data_size):
        path.write_bytes(flip(data, offset))
        with pytest.raises(ndbridge.Error) as info:
            cpp.read_npz(path)
        # A corrupt header can happen to name a dtype ndbridge refuses before
        # the CRC is reached; anything else is a FormatError.
        assert isinstance(info.value, (FORMAT, ndbridge.UnsupportedError)), offset
        assert isinstance(info.value, ValueError)


def test_cases_are_valid_without_the_damage(tmp_path: Path) -> None:
    """The undamaged archives and a bomb within a raised limit do read."""
    for compress in (False, True):
        path = tmp_path / "good.npz"
        path.write_bytes(numpy_archive(compress))
        result = cpp.read_npz(path)
        np.testing.assert_array_equal(result["a"], MEMBER_A)
        np.testing.assert_array_equal(result["b"], MEMBER_B)


RUN_CAPPED = """
import json, resource, sys
from ndbridge import cpp
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
results = {}
for path, max_bytes in json.loads(sys.argv[1]):
    try:
        cpp.read_npz(path, max_bytes=max_bytes)
        results[path] = ["no error", ""]
    except Exception as e:
        results[path] = [type(e).__name__, str(e)]
print(json.dumps(results))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux counts it")
def test_malformed_under_4_gib_address_space(tmp_path: Path) -> None:
    """Every case again, with the address space capped at 4 GiB: each still
    gives its specific error. A bomb within a raised limit fails to
    allocate (MemoryError), never kills the process."""
    jobs = {write_case(tmp_path, name): name for name in CASES}
    requests = [[str(p), CASES[n].max_bytes] for p, n in jobs.items()]
    allowed = tmp_path / "allowed-bomb.npz"
    allowed.write_bytes(zip_bomb(6))
    requests.append([str(allowed), 1 << 40])
    done = subprocess.run(
        [sys.executable, "-c", RUN_CAPPED, json.dumps(requests)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for path, name in jobs.items():
        kind, message = results[str(path)]
        assert kind == CASES[name].error.__name__, (name, kind, message)
        assert re.search(CASES[name].says, message), (name, message)
    assert results[str(allowed)][0] == "MemoryError"
