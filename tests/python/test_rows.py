"""Rows picked by index (``rows=[...]``) through every reader, against numpy's
fancy indexing; ``out=``; and the readers' life: close while other threads
read, pickling into spawned processes, use after fork."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from array_strategies import arrays, numpy_fortran_order, scratch_dir
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import ndbridge
from ndbridge import cpp

# Every way a file can hold an array, each with a reader of picked rows.
Store = Callable[[Path, np.ndarray], Callable[[Any], np.ndarray]]


def npy(mmap: bool) -> Store:
    def store(folder: Path, array: np.ndarray) -> Callable[[Any], np.ndarray]:
        np.save(folder / "a.npy", array)
        return lambda rows: cpp.read_npy(folder / "a.npy", mmap=mmap, rows=rows)

    return store


def npy_reader(folder: Path, array: np.ndarray) -> Callable[[Any], np.ndarray]:
    np.save(folder / "a.npy", array)
    reader = cpp.NpyReader(folder / "a.npy")
    return lambda rows: reader.read(rows=rows)


def npz(compressed: bool) -> Store:
    def store(folder: Path, array: np.ndarray) -> Callable[[Any], np.ndarray]:
        (np.savez_compressed if compressed else np.savez)(folder / "a.npz", a=array)
        return lambda rows: ndbridge.load(folder / "a.npz", "a", rows=rows)

    return store


def h5(**options: Any) -> Store:
    def store(folder: Path, array: np.ndarray) -> Callable[[Any], np.ndarray]:
        with h5py.File(folder / "a.h5", "w", libver="earliest") as f:
            if options and array.size:
                f.create_dataset("a", data=array, **options)
            else:
                f["a"] = array
        file = cpp.H5File(folder / "a.h5")
        return lambda rows: file.read("a", rows=rows)

    return store


STORES = {
    "npy": npy(False),
    "npy-mmap": npy(True),
    "npy-reader": npy_reader,
    "npz-stored": npz(False),
    "npz-deflated": npz(True),
    "h5-contiguous": h5(),
    "h5-chunked": h5(chunks=True),
    "h5-gzip-shuffle": h5(chunks=True, compression="gzip", shuffle=True),
    "h5-lzf": h5(chunks=True, compression="lzf"),
    "h5-fletcher32": h5(chunks=True, compression="gzip", fletcher32=True),
}


def compressible(array: np.ndarray) -> np.ndarray:
    # Random bytes do not shrink, and LZF stores what does not shrink as it
    # is: small repeating values keep its decoder in the test.
    flat = array.reshape(-1).view(np.uint8)
    flat[:] = np.arange(flat.size, dtype=np.uint64) // 7 % (2 if array.dtype.kind == "b" else 5)
    return array


@pytest.mark.parametrize("name", STORES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_picked_rows_equal_numpy_fancy_indexing(name: str, data: st.DataObject) -> None:
    store = STORES[name]
    array = data.draw(arrays(min_dims=1))
    # h5py stores no fixed-width unicode.
    assume(not (name.startswith("h5") and array.dtype.kind == "U"))
    array = compressible(np.array(array, order="F" if numpy_fortran_order(array) else "C"))
    n = array.shape[0]
    indices = data.draw(st.lists(st.integers(-n, n - 1), max_size=12)) if n else []
    with scratch_dir() as folder:
        read = store(folder, array)
        got = read(indices)
        expected = array[np.array(indices, dtype=np.int64)]
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()
        # An index array of any shape gives its shape to the result.
        if len(indices) >= 4:
            grid = np.array(indices[:4]).reshape(2, 2)
            assert np.array_equal(read(grid), array[grid], equal_nan=array.dtype.kind in "fc")
        with pytest.raises(ndbridge.UsageError, match=f"row index {n} is outside"):
            read([0, n] if n else [n])


def test_rows_read_into_out(tmp_path: Path) -> None:
    array = np.arange(240, dtype="<i4").reshape(12, 4, 5)
    np.save(tmp_path / "a.npy", array)
    np.savez_compressed(tmp_path / "a.npz", a=array)
    cpp.write_h5(tmp_path / "a.h5", "a", array, compression="gzip", chunks=(5, 4, 5))
    readers: dict[str, Callable[..., np.ndarray]] = {
        "npy": cpp.NpyReader(tmp_path / "a.npy").read,
        "npz": lambda **kw: cpp.NpzReader(tmp_path / "a.npz").read("a", **kw),
        "h5": lambda **kw: cpp.H5File(tmp_path / "a.h5").read("a", **kw),
    }
    for name, read in readers.items():
        out = np.full((3, 4, 5), -1, dtype="<i4")
        assert read(rows=[11, 0, 11], out=out) is out, name
        assert np.array_equal(out, array[[11, 0, 11]]), name
        assert np.array_equal(read(rows=(2, 5), out=out), array[2:5]), name
        whole = np.empty_like(array)
        assert np.array_equal(read(out=whole), array), name
        for bad in (
            np.empty((3, 4, 5), dtype="<i8"),
            np.empty((2, 4, 5), dtype="<i4"),
            np.empty((3, 5, 4), dtype="<i4").transpose(0, 2, 1),
            np.empty((3, 4, 5), dtype="<i4")[::-1],
        ):
            with pytest.raises(ndbridge.UsageError, match="out must be") as info:
                read(rows=[0, 1, 2], out=bad)
            assert "a." in str(info.value), name
        readonly = np.empty((3, 4, 5), dtype="<i4")
        readonly.flags.writeable = False
        with pytest.raises(ndbridge.UsageError, match="writable"):
            read(rows=[0, 1, 2], out=readonly)


def test_out_gets_native_values_from_big_endian_files(tmp_path: Path) -> None:
    # Written big-endian by numpy and h5py; out= in either byte order gets
    # the same values, converted, and another element type is refused.
    array = (np.arange(60, dtype=np.float64) * 0.25 - 3.5).reshape(12, 5)
    big = array.astype(">f4")
    np.save(tmp_path / "a.npy", big)
    np.savez(tmp_path / "a.npz", a=big)
    np.savez_compressed(tmp_path / "c.npz", a=big)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("a", data=big)
        f.create_dataset("c", data=big, chunks=(5, 5), compression="gzip")
    readers: dict[str, Callable[..., np.ndarray]] = {
        "npy": cpp.NpyReader(tmp_path / "a.npy").read,
        "npy mmap": cpp.NpyReader(tmp_path / "a.npy", mmap=True).read,
        "npz": lambda **kw: cpp.NpzReader(tmp_path / "a.npz").read("a", **kw),
        "npz deflated": lambda **kw: cpp.NpzReader(tmp_path / "c.npz").read("a", **kw),
        "h5": lambda **kw: cpp.H5File(tmp_path / "a.h5").read("a", **kw),
        "h5 gzip": lambda **kw: cpp.H5File(tmp_path / "a.h5").read("c", **kw),
    }
    for name, read in readers.items():
        assert read().dtype == np.dtype(">f4"), name
        for order in "<>":
            out = np.full((3, 5), -1, dtype=f"{order}f4")
            assert read(rows=[11, 0, -1], out=out) is out, name
            assert np.array_equal(out, array[[11, 0, 11]]), (name, order)
            assert np.array_equal(read(rows=(2, 5), out=out), array[2:5]), (name, order)
        with pytest.raises(ndbridge.UsageError, match="out must be a >f4 array") as info:
            read(rows=[0, 1, 2], out=np.empty((3, 5), dtype="<i4"))
        assert "a." in str(info.value) or "c.npz" in str(info.value), name


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (np.zeros(100_000), "not a float64 array of shape (100000,)"),
        ([*range(100_000), 0.5], "not a list of 100001 items"),
        ([True, False], "not a boolean mask"),
        (3, "not 3"),
        ("0:2", "not '0:2'"),
        ({0, 1}, "not {0, 1}"),
        (np.array([2**63], dtype=np.uint64), "row index 9223372036854775808 is beyond"),
    ],
)
def test_bad_rows_are_described_not_printed(tmp_path: Path, rows: object, says: str) -> None:
    np.save(tmp_path / "a.npy", np.arange(10))
    cpp.write_h5(tmp_path / "a.h5", "a", np.arange(10))
    calls = [
        lambda: cpp.read_npy(tmp_path / "a.npy", rows=rows),
        lambda: cpp.read_h5(tmp_path / "a.h5", "a", rows=rows),
        lambda: ndbridge.load(tmp_path / "a.h5", rows=rows),
    ]
    for call in calls:
        with pytest.raises(ndbridge.UsageError) as info:
            call()
        message = str(info.value)
        assert says in message and "a." in message and len(message) < 300


def test_npz_members_read_in_place_without_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "no-such-folder"))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    big = np.zeros((4096, 256), dtype="<f4")  # 4 MiB, deflates to almost nothing
    big[7] = 7
    np.savez_compressed(tmp_path / "z.npz", big=big, small=np.arange(5))
    np.savez(tmp_path / "s.npz", big=big)
    assert ndbridge.load(tmp_path / "z.npz", "big", rows=[7, 0]).tolist() == big[[7, 0]].tolist()
    assert ndbridge.load(tmp_path / "s.npz", rows=(7, 8)).tolist() == big[7:8].tolist()
    # A deflated member is inflated only as far as the last row asked for:
    # row 7 of 4096 fits in a budget that the whole member does not.
    with cpp.NpzReader(tmp_path / "z.npz", max_bytes=64 << 10) as archive:
        assert archive.read("big", rows=[7]).tolist() == big[[7]].tolist()
        with pytest.raises(ndbridge.FormatError, match=r"member 'big\.npy'.*the limit"):
            archive.read("big")
        mapped = cpp.NpzReader(tmp_path / "s.npz").read("big", mmap=True)
        assert not mapped.flags.writeable and np.array_equal(mapped, big)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz", "z.npz"]


def test_damaged_archives_raise_ndbridge_errors(tmp_path: Path) -> None:
    path = tmp_path / "z.npz"
    np.savez_compressed(path, a=np.arange(3000, dtype="<i8").reshape(300, 10) % 17)
    clean = path.read_bytes()
    rng = np.random.default_rng(0)
    damaged = tmp_path / "d.npz"
    outcomes = {"read": 0, "error": 0}
    for _ in range(200):
        data = bytearray(clean)
        for at in rng.integers(0, len(data), size=3):
            data[at] ^= int(rng.integers(1, 256))
        damaged.write_bytes(bytes(data))
        for rows in ([299, 3], (0, 300), None):
            try:
                ndbridge.load(damaged, "a", rows=rows)
                outcomes["read"] += 1
            except ndbridge.Error as exc:
                assert "d.npz" in str(exc)
                outcomes["error"] += 1
    assert outcomes["error"] > 100  # most damage is seen; none escapes as another error


# --- the readers' life ------------------------------------------------------------


def gzip_file(path: Path) -> np.ndarray:
    array = (np.arange(400 * 1024, dtype="<u4").reshape(400, 1024) // 3) % 1000
    cpp.write_h5(path, "x", array, compression="gzip", chunks=(4, 1024))
    return array


def read_until_closed(
    file: cpp.H5File, array: np.ndarray, started: threading.Event, results: list[object]
) -> None:
    try:
        while True:
            started.set()
            results.append(np.array_equal(file.read("x"), array))
    except ndbridge.UsageError as exc:
        results.append(str(exc))


def test_close_waits_for_reads_in_other_threads(tmp_path: Path) -> None:
    array = gzip_file(tmp_path / "g.h5")
    for _ in range(5):
        file = cpp.H5File(tmp_path / "g.h5")
        started = threading.Event()
        results: list[object] = []
        threads = [
            threading.Thread(target=read_until_closed, args=(file, array, started, results))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        started.wait()
        file.close()
        for t in threads:
            t.join(60)
        # Every read that ran was whole and right; each thread then met the
        # closed file.
        closed = [r for r in results if isinstance(r, str)]
        assert len(closed) == 2 and all("g.h5': the file is closed" in r for r in closed)
        assert all(r is True for r in results if not isinstance(r, str))
        with pytest.raises(ndbridge.UsageError, match=r"g\.h5': the file is closed"):
            file.read("x", rows=[0])


def read_picked(reader: Any, rows: list[int]) -> bytes:
    if isinstance(reader, cpp.H5File):
        return reader.read("x", rows=rows).tobytes()
    if isinstance(reader, cpp.NpzReader):
        return reader.read("x", rows=rows).tobytes()
    return reader.read(rows=rows).tobytes()


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_readers_reach_other_processes(
    tmp_path: Path, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    array = gzip_file(tmp_path / "g.h5")
    np.save(tmp_path / "x.npy", array)
    np.savez(tmp_path / "x.npz", x=array)
    monkeypatch.chdir(tmp_path)  # relative paths: the receiver may start elsewhere
    readers = [cpp.H5File("g.h5"), cpp.NpyReader("x.npy", mmap=True), cpp.NpzReader("x.npz")]
    rows = [399, 0, 5, 5]
    context = multiprocessing.get_context(method)
    with context.Pool(2) as pool:
        got = pool.starmap(read_picked, [(r, rows) for r in readers])
    assert got == [array[rows].tobytes()] * 3
    for reader in readers:
        assert read_picked(pickle.loads(pickle.dumps(reader)), rows) == array[rows].tobytes()


def test_fork_while_a_thread_reads(tmp_path: Path) -> None:
    # The child of a fork made while another thread is inside libhdf5 must
    # not inherit its lock held: it reads the inherited file at once.
    array = gzip_file(tmp_path / "g.h5")
    file = cpp.H5File(tmp_path / "g.h5")
    stop = threading.Event()

    def keep_reading() -> None:
        while not stop.is_set():
            file.read("x")

    thread = threading.Thread(target=keep_reading)
    thread.start()
    try:
        context = multiprocessing.get_context("fork")
        for _ in range(3):
            with context.Pool(1) as pool:
                got = pool.apply_async(read_picked, (file, [7, 1])).get(timeout=60)
            assert got == array[[7, 1]].tobytes()
    finally:
        stop.set()
        thread.join()


def test_archive_member_rows_match_zipfile(tmp_path: Path) -> None:
    # Stored members are read in place: what zipfile extracts is what is read.
    array = np.arange(50, dtype=">f8").reshape(10, 5)
    np.savez(tmp_path / "s.npz", a=array)
    with zipfile.ZipFile(tmp_path / "s.npz") as zf:
        assert zf.getinfo("a.npy").compress_type == zipfile.ZIP_STORED
    with cpp.NpzReader(tmp_path / "s.npz") as archive:
        assert archive.names() == ["a"]
        got = archive.read("a", rows=np.array([9, -10]))
        assert got.dtype.str == ">f8" and got.tobytes() == array[[9, 0]].tobytes()
