"""ndbridge-ls (C++) and ``ndbridge ls`` (Python) give the same facts.

Both render the C++ library's description of a file (``ndbridge.cpp.describe``),
each in its own words: the attribute previews may differ, nothing else in
``--json`` may. The C++ tools' own suite (tests/cpp/test_tools.cpp) needs no
Python; this one compares the two on files that numpy and h5py wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from _cpp_build import tools_dir


@pytest.fixture(scope="module")
def ndbridge_ls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C++ ndbridge-ls."""
    return tools_dir(tmp_path_factory.mktemp("tools")) / "ndbridge-ls"


def _files(folder: Path) -> list[Path]:
    np.save(folder / "big_endian.npy", np.arange(12, dtype=">f4").reshape(3, 4))
    np.save(folder / "fortran.npy", np.asfortranarray(np.arange(6, dtype="<i8").reshape(2, 3)))
    np.save(folder / "scalar.npy", np.array(3.5))
    np.save(folder / "text.npy", np.array(["ab", "h\u00e9llo"]))
    np.savez_compressed(folder / "pair.npz", a=np.zeros(1000), **{"g/b": np.arange(3)})
    with h5py.File(folder / "data.h5", "w", libver="earliest") as f:
        f.attrs["title"] = "h\u00e9llo\nworld"
        f.attrs["count"] = 5
        f.attrs["pi"] = np.float32(3.14159)
        f.attrs["ints"] = np.arange(20)
        f.attrs["matrix"] = np.arange(20).reshape(4, 5)
        f.attrs["odd"] = np.array([0.1, 10.0, np.nan, -np.inf], dtype=np.float32)
        f.attrs["flags"] = np.array([True, False])
        f.attrs["raw"] = np.bytes_(b"x\x01'")
        f.attrs["complex"] = np.array([1 + 2j, -0.5 - 1j])
        f.attrs["pair"] = np.zeros(1, dtype=[("a", "<i4"), ("b", "<i4")])
        f.create_group("grp/sub").attrs["u8"] = np.uint8(7)
        x = np.arange(1000.0).reshape(100, 10)
        f.create_dataset("grp/x", data=x, chunks=(10, 10), compression="gzip", shuffle=True)
        f.create_dataset("grp/l", data=x.astype(">u2"), chunks=(10, 10), compression="lzf")
        f.create_dataset("bools", data=np.array([True, False]))
        f.create_dataset("cplx", data=np.array([1 + 2j], dtype=np.complex64))
        f.create_dataset("strings", data=["a", "bb"], dtype=h5py.string_dtype())
        f.create_dataset("fixed", data=np.array([b"ab", b"c"]))
        f.create_dataset("empty", data=h5py.Empty("f4"))
        f.create_dataset("scalar", data=7)
        f.create_dataset("pairs", data=np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]))
        f["named"] = np.dtype("<i2")
    # libver="latest": datasets libhdf5 1.10 cannot open, listed as such.
    with h5py.File(folder / "latest.h5", "w", libver="latest") as f:
        f.create_dataset("gz", data=np.arange(100), chunks=(10,), compression="gzip")
        f["flags"] = np.array([True, False])
        f["plain"] = np.arange(3)
    return sorted(folder.iterdir())


def _facts(stdout: str) -> dict[str, Any]:
    """The JSON document without what each tool words its own way: previews
    of the attribute values it read."""
    doc = json.loads(stdout)
    for entry in doc["entries"]:
        for info in entry["attributes"].values():
            if info["dtype"] is not None:
                assert info.pop("preview")
    return doc


def _both(ndbridge_ls: Path, path: Path, *flags: str) -> tuple[Any, Any]:
    python = subprocess.run(
        [sys.executable, "-m", "ndbridge", "ls", *flags, path], capture_output=True, text=True
    )
    cpp = subprocess.run([ndbridge_ls, *flags, path], capture_output=True, text=True)
    return python, cpp


def test_ls_tools_give_the_same_facts(ndbridge_ls: Path, tmp_path: Path) -> None:
    for path in _files(tmp_path):
        python, cpp = _both(ndbridge_ls, path, "--json")
        assert python.returncode == cpp.returncode == 0, (path.name, python.stderr, cpp.stderr)
        facts = _facts(python.stdout)
        assert _facts(cpp.stdout) == facts, path.name
        assert facts["path"] == str(path) and facts["entries"]
        # The text listings name the same entries on the same lines.
        python, cpp = _both(ndbridge_ls, path)
        assert python.returncode == cpp.returncode == 0
        first = [line.split()[0] for line in python.stdout.splitlines() if "@" not in line]
        assert [line.split()[0] for line in cpp.stdout.splitlines() if "@" not in line] == first


def test_the_facts_are_those_of_the_file(ndbridge_ls: Path, tmp_path: Path) -> None:
    """What the comparison above compares is right, not merely equal."""
    _files(tmp_path)
    doc = _facts(_both(ndbridge_ls, tmp_path / "data.h5", "--json")[1].stdout)
    by_name = {e["name"]: e for e in doc["entries"]}
    assert by_name["/grp/l"]["dtype"] == ">u2" and by_name["/grp/l"]["filters"] == ["lzf"]
    assert by_name["/grp/x"]["chunks"] == [10, 10] and by_name["/grp/x"]["nbytes"] == 8000
    assert by_name["/empty"]["shape"] is None and by_name["/scalar"]["shape"] == []
    assert by_name["/pairs"]["readable"] is False and by_name["/named"]["kind"] == "datatype"
    assert by_name["/"]["attributes"]["matrix"] == {"dtype": "<i8", "shape": [4, 5]}
    assert by_name["/"]["attributes"]["pair"]["dtype"] is None
    assert "compound" in by_name["/"]["attributes"]["pair"]["preview"]


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
        python, cpp = _both(ndbridge_ls, master, "--json")
        assert _facts(cpp.stdout) == _facts(python.stdout)
        [entry] = [e for e in _facts(cpp.stdout)["entries"] if e["name"] == "/x"]
        assert [s["found"] is None for s in entry["virtual_sources"]] == [False, missing, False]
        for flags in ([], ["--json"]):
            python, cpp = _both(ndbridge_ls, master, *flags)
            assert cpp.returncode == python.returncode == (1 if missing else 0)
            for run in (python, cpp):
                assert ("'m.shards/s1.h5' is missing" in run.stderr) == missing
                if not flags:
                    assert "virtual over 3 files" in run.stdout
                    assert ("1 MISSING: 'm.shards/s1.h5'" in run.stdout) == missing


@pytest.mark.parametrize("content", [b"", b"just some text", b"\x93NUMPY\x01\x00\x10"])
def test_bad_files_are_one_line_naming_the_file(
    ndbridge_ls: Path, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    python, cpp = _both(ndbridge_ls, path)
    for run in (python, cpp):
        assert run.returncode == 1 and run.stdout == ""
        assert run.stderr.count("\n") == 1 and f"'{path}'" in run.stderr
    # The same words: both come from the C++ library.
    assert python.stderr.split(": error: ", 1)[1] == cpp.stderr.split(": ", 1)[1]
