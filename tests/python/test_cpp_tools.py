"""ndbridge-ls (C++) prints what ``ndbridge ls`` (Python) prints, on numpy/h5py files.

The C++ tools' own suite (tests/cpp/test_tools.cpp) needs no Python; this one
checks that the two listings stay the same document, on files that numpy and
h5py wrote. It runs once the Python package has ``ndbridge.listing``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from _cpp_build import tools_dir

pytest.importorskip("ndbridge.listing", reason="this package has no Python `ndbridge ls` yet")


@pytest.fixture(scope="module")
def ndbridge_ls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C++ ndbridge-ls."""
    return tools_dir(tmp_path_factory.mktemp("tools")) / "ndbridge-ls"


def _files(folder: Path) -> list[Path]:
    np.save(folder / "big_endian.npy", np.arange(12, dtype=">f4").reshape(3, 4))
    np.save(folder / "fortran.npy", np.asfortranarray(np.arange(6, dtype="<i8").reshape(2, 3)))
    np.save(folder / "scalar.npy", np.array(3.5))
    np.save(folder / "text.npy", np.array(["ab", "h\u00e9llo"]))
    with h5py.File(folder / "data.h5", "w", libver="earliest") as f:
        f.attrs["title"] = "h\u00e9llo\nworld"
        f.attrs["count"] = 5
        f.attrs["pi"] = np.float32(3.14159)
        f.attrs["ints"] = np.arange(20)
        f.attrs["matrix"] = np.arange(20).reshape(4, 5)
        f.attrs["floats"] = np.array([1.5, 2.0, 3.25])
        f.attrs["small"] = np.array([1e-5, 1.0, -2.5])
        f.attrs["odd"] = np.array([0.1, 10.0, np.nan, -np.inf], dtype=np.float32)
        f.attrs["flags"] = np.array([True, False])
        f.attrs["raw"] = np.bytes_(b"x\x01'")
        f.attrs["complex"] = np.array([1 + 2j, -0.5 - 1j])
        f.attrs["long"] = "x" * 100
        f.create_group("grp/sub").attrs["u8"] = np.uint8(7)
        x = np.arange(1000.0).reshape(100, 10)
        f.create_dataset("grp/x", data=x, chunks=(10, 10), compression="gzip", shuffle=True)
        f.create_dataset("grp/l", data=x.astype("u2"), chunks=(10, 10), compression="lzf")
        f.create_dataset("bools", data=np.array([True, False]))
        f.create_dataset("cplx", data=np.array([1 + 2j], dtype=np.complex64))
        f.create_dataset("strings", data=["a", "bb"], dtype=h5py.string_dtype())
        f.create_dataset("fixed", data=np.array([b"ab", b"c"]))
        f.create_dataset("empty", data=h5py.Empty("f4"))
        f.create_dataset("scalar", data=7)
    # libver="latest": datasets libhdf5 1.10 cannot open, listed as such.
    with h5py.File(folder / "latest.h5", "w", libver="latest") as f:
        f.create_dataset("gz", data=np.arange(100), chunks=(10,), compression="gzip")
        f["flags"] = np.array([True, False])
        f["plain"] = np.arange(3)
    return sorted(folder.iterdir())


def test_ls_prints_what_the_python_ls_prints(ndbridge_ls: Path, tmp_path: Path) -> None:
    for path in _files(tmp_path):
        for flags in ([], ["--json"]):
            python = subprocess.run(
                [sys.executable, "-m", "ndbridge", "ls", *flags, path],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            cpp = subprocess.run(
                [ndbridge_ls, *flags, path], capture_output=True, text=True, check=True
            )
            assert cpp.stdout == python.stdout, (path.name, flags)
            if flags:
                assert json.loads(cpp.stdout)["path"] == str(path)


def test_ls_lists_virtual_datasets_and_missing_sources(ndbridge_ls: Path, tmp_path: Path) -> None:
    (tmp_path / "m.shards").mkdir()
    for i in range(3):
        with h5py.File(tmp_path / f"m.shards/s{i}.h5", "w", libver="earliest") as f:
            f["x"] = np.arange(4) + 10 * i
    with h5py.File(tmp_path / "m.h5", "w", libver="earliest") as f:
        layout = h5py.VirtualLayout(shape=(12,), dtype="<i8")
        for i in range(3):
            layout[4 * i : 4 * i + 4] = h5py.VirtualSource(f"m.shards/s{i}.h5", "x", shape=(4,))
        f.create_virtual_dataset("x", layout)
    master = tmp_path / "m.h5"
    for missing in (False, True):
        if missing:
            (tmp_path / "m.shards/s1.h5").unlink()
        for flags in ([], ["--json"]):
            python = subprocess.run(
                [sys.executable, "-m", "ndbridge", "ls", *flags, master],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            cpp = subprocess.run([ndbridge_ls, *flags, master], capture_output=True, text=True)
            assert cpp.stdout == python.stdout, (missing, flags)
            assert cpp.returncode == python.returncode == (1 if missing else 0)
            assert ("'m.shards/s1.h5' is missing" in cpp.stderr) == missing
            if not flags:
                assert "virtual over 3 files" in cpp.stdout
                assert ("1 MISSING: 'm.shards/s1.h5'" in cpp.stdout) == missing
