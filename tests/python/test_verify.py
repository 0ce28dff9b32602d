"""``ndbridge verify``: numpy/h5py and the C++ reader, compared bit for bit."""

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
from ndbridge.verify import verify

ARRAYS: dict[str, np.ndarray] = {
    "f4": np.linspace(0, 1, 30, dtype=np.float32).reshape(10, 3),
    "i8_be": np.arange(-5, 5, dtype=">i8"),
    "flags": np.array([True, False, True]),
    "c16": np.array([1 + 2j, np.nan - 1j]),
    "half": np.array([1.5, -0.0], dtype=np.float16),
    "bytes": np.array([b"ab", b"c"]),
    "scalar": np.array(7, dtype=np.int16),
    "empty": np.zeros((0, 2), dtype=np.uint32),
}


def run_verify(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["verify", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def h5_file(tmp_path: Path) -> Path:
    path = tmp_path / "d.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        for name, array in ARRAYS.items():
            f[name] = array
        f.create_dataset("g/chunked", data=np.arange(1000.0).reshape(100, 10),
                         chunks=(7, 10), compression="gzip", shuffle=True)  # fmt: skip
        f.create_dataset("g/lzf", data=np.tile(np.arange(50, dtype="<i4"), 40), compression="lzf")
        f["text"] = np.array(["日本", "longer text", ""], dtype=h5py.string_dtype())
        f["text0"] = np.array("one", dtype=h5py.string_dtype())
        f["null"] = h5py.Empty("<f8")
    return path


def test_h5_all_identical(h5_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_verify([str(h5_file)], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["array", "dtype", "shape", "result"]
    assert len(lines) == 1 + len(ARRAYS) + 5 + 1
    assert all(line.rstrip().endswith("identical") for line in lines[1:-1])
    assert "/text   " in out and "<U11" in out
    assert "/g/chunked  <f8" in out
    assert lines[-1] == f"{h5_file}: 13 arrays: 13 identical -- all identical"


def test_small_blocks_give_the_same_verdict(h5_file: Path) -> None:
    report = verify(h5_file, block_bytes=40)
    assert report.ok, report.as_dict()


@pytest.mark.parametrize("name", list(ARRAYS))
def test_npy_identical(tmp_path: Path, name: str) -> None:
    np.save(tmp_path / "x.npy", ARRAYS[name])
    report = verify(tmp_path / "x.npy", block_bytes=16)
    assert report.ok
    (result,) = report.arrays
    expected = ARRAYS[name]
    assert (result.name, result.dtype, result.shape) == (None, expected.dtype.str, expected.shape)


def test_fortran_order_npy(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.asfortranarray(np.arange(20.0).reshape(4, 5)))
    assert verify(tmp_path / "f.npy", block_bytes=8).ok


def test_unsupported_by_cpp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.h5"
    with h5py.File(path, "w", libver="earliest") as f:
        f["ok"] = np.arange(3)
        f["pairs"] = np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")])
    status, out, _ = run_verify([str(path)], capsys)
    assert status == 0  # nothing differs
    assert "/pairs  |V12   (2,)   unsupported by C++ (dataset 'pairs' holds compound {a, b}" in out
    assert out.splitlines()[-1].endswith(
        "1 identical, 1 unsupported -- nothing differs; the C++ reader does not support some "
        "arrays (--strict fails)"
    )
    assert run_verify([str(path), "--strict"], capsys)[0] == 1


def test_object_npy_is_unsupported(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([1, None], dtype=object), allow_pickle=True)
    (result,) = verify(tmp_path / "o.npy").arrays
    assert result.result == "unsupported"
    assert "dtype '|O'" in result.detail


def altered_h5_read(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Make the C++ side return altered data, to prove the comparison catches it."""
    real = cpp.H5File.read

    def read(self: cpp.H5File, dataset: str, *, rows: tuple[int, int] | None = None) -> np.ndarray:
        return change(dataset, rows, real(self, dataset, rows=rows))

    monkeypatch.setattr(cpp.H5File, "read", read)


def test_detects_a_changed_value(
    h5_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(dataset: str, rows: tuple[int, int] | None, array: np.ndarray) -> np.ndarray:
        if dataset == "g/chunked" and rows is not None and rows[0] <= 42 < rows[1]:
            array = array.copy()
            array[42 - rows[0], 3] = -1.0
        return array

    altered_h5_read(monkeypatch, change)
    status, out, _ = run_verify([str(h5_file)], capsys)
    assert status == 1
    line = next(line for line in out.splitlines() if line.startswith("/g/chunked"))
    assert "DIFFERENT (1 element(s) differ" in line
    assert "first at (42, 3): reference 423.0 (bytes 0000000000707a40), " in line
    assert "C++ -1.0 (bytes 000000000000f0bf)" in line
    # Compared in small blocks, the index is still the array's own.
    report = verify(h5_file, block_bytes=100)
    (bad,) = [a for a in report.arrays if a.result != "identical"]
    assert bad.name == "/g/chunked" and "first at (42, 3)" in bad.detail


def test_detects_a_changed_dtype_and_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.save(tmp_path / "x.npy", ARRAYS["f4"])
    real = cpp.read_npy_header

    def swapped(path: Any) -> dict[str, Any]:
        return {**real(path), "dtype": ">f4"}

    monkeypatch.setattr(cpp, "read_npy_header", swapped)
    (result,) = verify(tmp_path / "x.npy").arrays
    assert (result.result, result.detail) == (
        "different",
        "dtype: reference <f4, C++ >f4 (byte order)",
    )

    monkeypatch.setattr(cpp, "read_npy_header", lambda path: {**real(path), "shape": (3, 10)})
    (result,) = verify(tmp_path / "x.npy").arrays
    assert result.detail == "shape: reference (10, 3), C++ (3, 10)"


def test_detects_a_text_difference(h5_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def change(dataset: str, rows: tuple[int, int] | None, array: np.ndarray) -> np.ndarray:
        return np.array(["a", "longer text", ""]) if dataset == "text" else array

    altered_h5_read(monkeypatch, change)
    (bad,) = [a for a in verify(h5_file).arrays if a.result != "identical"]
    assert bad.name == "/text"
    assert bad.detail.startswith("1 element(s) differ in rows from 0; first at (0,): ")
    assert "reference '日本', C++ 'a'" in bad.detail


def test_json(h5_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_verify([str(h5_file), "--json"], capsys)
    assert status == 0
    doc = json.loads(out)
    assert set(doc) == {"path", "format", "ok", "identical", "counts", "arrays"}
    assert doc["ok"] is True and doc["format"] == "h5" and doc["counts"] == {"identical": 13}
    first = doc["arrays"][0]
    assert set(first) == {"name", "dtype", "shape", "result", "detail"}
    null = next(a for a in doc["arrays"] if a["name"] == "/null")
    assert null == {"name": "/null", "dtype": "<f8", "shape": [0], "result": "identical",
                    "detail": ""}  # fmt: skip


def test_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez_compressed(tmp_path / "z.npz", **{k: v for k, v in ARRAYS.items() if k != "scalar"},
                        **{"nested/scalar": ARRAYS["scalar"]})  # fmt: skip
    status, out, _ = run_verify([str(tmp_path / "z.npz")], capsys)
    assert status == 0, out
    assert "nested/scalar" in out
    assert verify(tmp_path / "z.npz").counts() == {"identical": len(ARRAYS)}


def test_unsupported_arrays_fail_only_when_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file with one array C++ does not read, and nothing that differs,
    # must not fail a CI job that verifies it, unless asked to.
    np.savez(tmp_path / "z.npz", ok=np.arange(3), obj=np.array([None], dtype=object))
    report = verify(tmp_path / "z.npz")
    assert report.ok and not report.identical
    assert "unsupported" in report.counts()
    status, out, _ = run_verify([str(tmp_path / "z.npz")], capsys)
    assert status == 0 and "does not support some arrays" in out
    status, out, _ = run_verify([str(tmp_path / "z.npz"), "--strict"], capsys)
    assert status == 1


@pytest.mark.parametrize("content", [b"", b"plain text", b"\x89HDF\r\n\x1a\n" + bytes(64)])
def test_unreadable_files_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    status, out, err = run_verify([str(path)], capsys)
    assert status == 1 and out == ""
    assert err.startswith(f"ndbridge verify: error: '{path}'")


def test_truncated_npy_is_an_error_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "x.npy", np.arange(100.0))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(data[:-8])
    status, out, _ = run_verify([str(tmp_path / "x.npy")], capsys)
    assert status == 1
    assert "ERROR (" in out


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ndbridge.FileError, match=r"nope.npy"):
        verify(tmp_path / "nope.npy")
