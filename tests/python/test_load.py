"""``ndbridge.load``: one array, or rows of it, from any .npy, .npz or HDF5 file."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import ndbridge
from ndbridge.loading import load

GRID = np.arange(60, dtype=">f4").reshape(12, 5)


def test_the_package_exports_load() -> None:
    # Twice: importing the defining module must not shadow the function.
    assert ndbridge.load is load
    assert ndbridge.load is load


def test_npy(tmp_path: Path) -> None:
    np.save(tmp_path / "grid.npy", GRID)
    whole = load(tmp_path / "grid.npy")
    assert whole.dtype.str == ">f4" and whole.tobytes() == GRID.tobytes()
    assert load(tmp_path / "grid.npy", rows=(3, 5)).tolist() == GRID[3:5].tolist()
    assert load(str(tmp_path / "grid.npy"), "grid", rows=(11, 12)).shape == (1, 5)
    with pytest.raises(ndbridge.NotFoundError, match="no array named 'other'"):
        load(tmp_path / "grid.npy", "other")


def test_h5(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "one.h5", "w", libver="earliest") as f:
        f.create_dataset("deep/grid", data=GRID, chunks=(2, 5), compression="gzip")
    assert load(tmp_path / "one.h5").tobytes() == GRID.tobytes()
    assert load(tmp_path / "one.h5", "deep/grid", rows=(4, 6)).tolist() == GRID[4:6].tolist()
    assert load(tmp_path / "one.h5", "/deep/grid", rows=(0, 0)).shape == (0, 5)
    with h5py.File(tmp_path / "one.h5", "a") as f:
        f["text"] = np.array(["a", "b"], dtype=h5py.string_dtype())
    assert load(tmp_path / "one.h5", "text").tolist() == ["a", "b"]
    with pytest.raises(ndbridge.UsageError, match=r"holds 2 datasets \(deep/grid, text\)"):
        load(tmp_path / "one.h5")
    with pytest.raises(KeyError, match="no object named 'missing'"):
        load(tmp_path / "one.h5", "missing")


def test_npz_reads_only_the_member_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "z.npz"
    np.savez(path, grid=GRID, other=np.arange(1000))
    # Corrupt "other": loading "grid" must not notice, as "other" is never read.
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("other.npy")
    data[info.header_offset + 30 + len("other.npy") + 200] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert load(path, "grid").tobytes() == GRID.tobytes()
    assert load(path, "grid", rows=(10, 12)).tolist() == GRID[10:12].tolist()
    with pytest.raises(ndbridge.FormatError, match=r"member 'other.npy': CRC-32 mismatch"):
        load(path, "other")
    assert [p.name for p in tmp_path.iterdir()] == ["z.npz"]  # temporary copies removed


def test_npz_names(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "one.npz", **{"g/only": GRID})
    assert load(tmp_path / "one.npz").tobytes() == GRID.tobytes()
    np.savez(tmp_path / "two.npz", a=GRID, b=GRID)
    with pytest.raises(ndbridge.UsageError, match=r"holds 2 members \(a, b\); name the one"):
        load(tmp_path / "two.npz")
    with pytest.raises(ndbridge.NotFoundError, match=r"no member named 'c' \(it has 'a', 'b'\)"):
        load(tmp_path / "two.npz", "c")
    np.savez(tmp_path / "s.npz", s=np.array(2.0))
    with pytest.raises(ndbridge.UsageError, match=r"s.npz' member 's.npy': a 0-d array has no"):
        load(tmp_path / "s.npz", rows=(0, 1))


@pytest.mark.parametrize("rows", [(5, 13), (-1, 2), (1,), "0:2", (0.5, 2)])
def test_bad_rows(tmp_path: Path, rows: object) -> None:
    np.save(tmp_path / "grid.npy", GRID)
    with pytest.raises(ndbridge.UsageError):
        load(tmp_path / "grid.npy", rows=rows)  # type: ignore[arg-type]


def test_format_by_content_and_bad_files(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", GRID)
    disguised = tmp_path / "x.h5"
    disguised.write_bytes((tmp_path / "x.npy").read_bytes())
    assert load(disguised, rows=(0, 1)).tolist() == GRID[:1].tolist()
    (tmp_path / "t.npy").write_text("not an array")
    with pytest.raises(ndbridge.FormatError, match=r"t.npy': not an .npy, .npz or HDF5 file"):
        load(tmp_path / "t.npy")
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-10])
    with pytest.raises(ndbridge.FormatError, match=r"cut.npy"):
        load(tmp_path / "cut.npy")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.npz")
