"""``ndbridge convert``: .npy/.npz <-> HDF5, streaming, atomic, with clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import ndbridge
from ndbridge import convert as convert_module
from ndbridge import cpp
from ndbridge.__main__ import main
from ndbridge.convert import convert

SAMPLES: dict[str, np.ndarray] = {
    "float32": np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4),
    "int64 big-endian": np.arange(-10, 10, dtype=">i8").reshape(5, 4),
    "bool": np.array([True, False, True, True, False]),
    "uint8 image": np.arange(3 * 4 * 5 * 3, dtype=np.uint8).reshape(3, 4, 5, 3),
    "float16": np.array([0.5, -2.0, np.inf], dtype=np.float16),
    "complex128": np.array([1 + 2j, -3.5j, np.nan + 0j]),
    "complex64 big-endian": np.array([[1 - 1j, 2j]], dtype=">c8"),
    "bytes": np.array([b"ab", b"", b"xyz12"]),
    "unicode": np.array(["ndbridge", "é", "C++"]),
    "0-d": np.array(3.25),
    "empty": np.zeros((0, 3), dtype=np.int32),
}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(args)
    out, err = capsys.readouterr()
    return status, out, err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("name", list(SAMPLES))
def test_npy_to_h5_to_npy_is_byte_identical(tmp_path: Path, name: str) -> None:
    src, h5, back = tmp_path / "a.npy", tmp_path / "a.h5", tmp_path / "b.npy"
    np.save(src, SAMPLES[name])
    # A tiny block size makes every row its own block.
    convert(src, h5, block_bytes=8)
    convert(h5, back, block_bytes=8)
    assert back.read_bytes() == src.read_bytes()
    read = cpp.read_h5(h5, "a")
    assert read.dtype.str == SAMPLES[name].dtype.str
    assert read.tobytes() == SAMPLES[name].tobytes()
    assert leftovers(tmp_path) == []


def test_cli_round_trip_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "features.npy"
    np.save(src, SAMPLES["float32"])
    status, out, _ = run_cli(["convert", str(src), str(tmp_path / "f.h5")], capsys)
    assert status == 0
    assert "features  <f4  (6, 4)" in out
    status, _, _ = run_cli(["convert", str(tmp_path / "f.h5"), str(tmp_path / "g.npy")], capsys)
    assert status == 0
    assert (tmp_path / "g.npy").read_bytes() == src.read_bytes()


def test_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "x.npy"
    np.save(src, SAMPLES["bool"])
    status, out, _ = run_cli(["convert", str(src), str(tmp_path / "x.h5"), "--json"], capsys)
    assert status == 0
    doc = json.loads(out)
    assert doc == {
        "input": str(src),
        "output": str(tmp_path / "x.h5"),
        "input_format": "npy",
        "output_format": "h5",
        "arrays": [{"name": "x", "dtype": "|b1", "shape": [5]}],
    }


def test_dataset_names_the_npy_and_may_nest(tmp_path: Path) -> None:
    src = tmp_path / "x.npy"
    np.save(src, SAMPLES["float32"])
    convert(src, tmp_path / "x.h5", datasets=["train/features"])
    with h5py.File(tmp_path / "x.h5", "r") as f:
        assert isinstance(f["train"], h5py.Group)
        np.testing.assert_array_equal(f["train/features"][()], SAMPLES["float32"])
    with pytest.raises(ndbridge.UsageError, match="at most one --dataset"):
        convert(src, tmp_path / "y.h5", datasets=["a", "b"])


def test_fortran_order_comes_back_in_c_order_with_the_same_values(tmp_path: Path) -> None:
    array = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    np.save(tmp_path / "f.npy", array)
    convert(tmp_path / "f.npy", tmp_path / "f.h5", block_bytes=16)
    convert(tmp_path / "f.h5", tmp_path / "c.npy")
    back = np.load(tmp_path / "c.npy")
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, array)


def test_unicode_width_follows_the_longest_string(tmp_path: Path) -> None:
    np.save(tmp_path / "u.npy", np.array(["a", "bc"], dtype="<U10"))
    convert(tmp_path / "u.npy", tmp_path / "u.h5")
    with h5py.File(tmp_path / "u.h5", "r") as f:
        assert h5py.check_string_dtype(f["u"].dtype).encoding == "utf-8"
    convert(tmp_path / "u.h5", tmp_path / "v.npy")
    assert np.load(tmp_path / "v.npy").dtype.str == "<U2"


@pytest.mark.parametrize(
    ("args", "compression", "opts", "shuffle"),
    [
        ([], None, None, False),
        (["--compression", "none"], None, None, False),
        (["--compression", "gzip"], "gzip", 4, False),
        (["--compression", "gzip", "--level", "9", "--shuffle"], "gzip", 9, True),
        (["--compression", "gzip", "--gzip-level", "7", "--to", "h5"], "gzip", 7, False),
        (["--compression", "gzip", "--to", "hdf5"], "gzip", 4, False),
        (["--compression", "lzf"], "lzf", None, False),
        (["--shuffle"], None, None, True),
    ],
)
def test_hdf5_compression_options(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    compression: str | None,
    opts: int | None,
    shuffle: bool,
) -> None:
    array = np.tile(np.arange(1000, dtype=np.float64), (50, 1))  # compressible
    np.save(tmp_path / "x.npy", array)
    args = ["convert", str(tmp_path / "x.npy"), str(tmp_path / "x.h5"), *args]
    status, _, err = run_cli(args, capsys)
    assert status == 0, err
    with h5py.File(tmp_path / "x.h5", "r") as f:
        d = f["x"]
        assert (d.compression, d.compression_opts, d.shuffle) == (compression, opts, shuffle)
        if compression or shuffle:
            assert d.chunks is not None and d.chunks[1:] == (1000,)
    # libver earliest: superblock version 0, which libhdf5 1.10 and the C++ reader open.
    assert (tmp_path / "x.h5").read_bytes()[8] == 0
    assert cpp.read_h5(tmp_path / "x.h5", "x").tobytes() == array.tobytes()


def test_scalar_and_empty_arrays_are_written_unfiltered(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", s=SAMPLES["0-d"], e=SAMPLES["empty"])
    convert(tmp_path / "a.npz", tmp_path / "a.h5", compression="gzip")
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert f["s"].compression is None and f["s"][()] == 3.25
        assert f["e"].shape == (0, 3)


def make_h5(path: Path) -> None:
    with h5py.File(path, "w", libver="earliest") as f:
        f["x"] = SAMPLES["float32"]
        f.create_dataset("group/y", data=SAMPLES["int64 big-endian"])
        f["group/text"] = np.array(["a", "bcd"], dtype=h5py.string_dtype())
        f["flags"] = SAMPLES["bool"]


def test_h5_to_npz_member_by_member(tmp_path: Path) -> None:
    make_h5(tmp_path / "d.h5")
    summary = convert(tmp_path / "d.h5", tmp_path / "d.npz")
    assert [a["name"] for a in summary.arrays] == ["flags", "group/text", "group/y", "x"]
    with np.load(tmp_path / "d.npz") as z:
        assert z.files == ["flags", "group/text", "group/y", "x"]
        assert z["group/y"].dtype.str == ">i8"
        np.testing.assert_array_equal(z["group/text"], np.array(["a", "bcd"]))
        np.testing.assert_array_equal(z["x"], SAMPLES["float32"])
    with zipfile.ZipFile(tmp_path / "d.npz") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}


def test_npz_output_deflated_with_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_h5(tmp_path / "d.h5")
    out = tmp_path / "d.npz"
    status, _, _ = run_cli(
        ["convert", str(tmp_path / "d.h5"), str(out), "--compression", "gzip", "--dataset", "x"],
        capsys,
    )
    assert status == 0
    with zipfile.ZipFile(out) as zf:
        assert [(i.filename, i.compress_type) for i in zf.infolist()] == [
            ("x.npy", zipfile.ZIP_DEFLATED)
        ]
    np.testing.assert_array_equal(np.load(out)["x"], SAMPLES["float32"])


def test_npz_to_h5_and_back(tmp_path: Path) -> None:
    arrays = {"a": SAMPLES["float16"], "nested/b": SAMPLES["uint8 image"], "c": SAMPLES["unicode"]}
    np.savez_compressed(tmp_path / "in.npz", **arrays)
    convert(tmp_path / "in.npz", tmp_path / "mid.h5", block_bytes=32)
    with h5py.File(tmp_path / "mid.h5", "r") as f:
        assert isinstance(f["nested"], h5py.Group)
    convert(tmp_path / "mid.h5", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as z:
        for name, array in arrays.items():
            assert z[name].dtype.str == array.dtype.str
            assert z[name].tobytes() == array.tobytes()
    assert leftovers(tmp_path) == []


def test_selecting_one_array_for_npy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_h5(tmp_path / "d.h5")
    status, _, err = run_cli(["convert", str(tmp_path / "d.h5"), str(tmp_path / "o.npy")], capsys)
    assert status == 2
    assert "holds 4 arrays (flags, group/text, group/y, x)" in err
    assert "--dataset" in err
    args = ["convert", str(tmp_path / "d.h5"), str(tmp_path / "o.npy"), "--dataset", "/group/y"]
    assert run_cli(args, capsys)[0] == 0
    assert np.load(tmp_path / "o.npy").tobytes() == SAMPLES["int64 big-endian"].tobytes()
    np.savez(tmp_path / "z.npz", p=SAMPLES["bytes"], q=SAMPLES["bool"])
    convert(tmp_path / "z.npz", tmp_path / "q.npy", datasets=["q"])
    np.testing.assert_array_equal(np.load(tmp_path / "q.npy"), SAMPLES["bool"])


def test_to_overrides_the_suffix(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", SAMPLES["bool"])
    convert(tmp_path / "x.npy", tmp_path / "x.data", to="hdf5")
    assert cpp.read_h5(tmp_path / "x.data", "x").tolist() == SAMPLES["bool"].tolist()
    with pytest.raises(ndbridge.UsageError, match="cannot tell the output format"):
        convert(tmp_path / "x.npy", tmp_path / "x.bin")


def test_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "x.npy", SAMPLES["bool"])
    out = tmp_path / "x.h5"
    out.write_bytes(b"precious")
    status, _, err = run_cli(["convert", str(tmp_path / "x.npy"), str(out)], capsys)
    assert status == 2
    assert err == f"ndbridge convert: error: '{out}' already exists; use --force to replace it\n"
    assert out.read_bytes() == b"precious"
    assert run_cli(["convert", str(tmp_path / "x.npy"), str(out), "--force"], capsys)[0] == 0
    assert cpp.read_h5(out, "x").tolist() == SAMPLES["bool"].tolist()


def test_failure_midway_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.savez(tmp_path / "z.npz", a=SAMPLES["float32"], b=SAMPLES["bool"])
    out = tmp_path / "z.h5"
    out.write_bytes(b"old")
    real = convert_module.npy_source
    calls: list[str] = []

    def failing(path: Path, name: str) -> Any:
        calls.append(name)
        if name == "b":
            raise ndbridge.FormatError("simulated failure on the second member")
        return real(path, name)

    monkeypatch.setattr(convert_module, "npy_source", failing)
    with pytest.raises(ndbridge.FormatError, match="simulated"):
        convert(tmp_path / "z.npz", out, force=True)
    assert calls == ["a", "b"]
    assert out.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an .npy, .npz or HDF5 file (it is empty)"),
        (b"name,value\n1,2\n", "not an .npy, .npz or HDF5 file (it starts with b'name,val')"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "not an .npy, .npz or HDF5 file"),
        (b"\x93NUMPY\x01\x00", "npy"),  # truncated inside the header
        (b"PK\x03\x04" + bytes(30), "not an .npz archive, or a truncated one"),
        (b"\x89HDF\r\n\x1a\n" + bytes(40), "HDF5 cannot open it"),
    ],
)
def test_bad_input_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    src = tmp_path / "bad.npy"
    src.write_bytes(content)
    status, _, err = run_cli(["convert", str(src), str(tmp_path / "o.h5")], capsys)
    assert status == 1  # a data problem
    assert err.startswith(f"ndbridge convert: error: '{src}'")
    assert message in err
    assert not (tmp_path / "o.h5").exists()
    assert leftovers(tmp_path) == []


def test_truncated_npy_data(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(1000, dtype=np.float64))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(data[:-100])
    with pytest.raises(ndbridge.FormatError, match=r"x.npy"):
        convert(tmp_path / "x.npy", tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_truncated_h5(tmp_path: Path) -> None:
    make_h5(tmp_path / "d.h5")
    data = (tmp_path / "d.h5").read_bytes()
    (tmp_path / "d.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(ndbridge.FormatError, match=r"d.h5': HDF5 cannot open it: .*truncated"):
        convert(tmp_path / "d.h5", tmp_path / "d.npz")


def test_missing_input(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing.npy"):
        convert(tmp_path / "nothing.npy", tmp_path / "o.h5")


def test_missing_datasets_and_members(tmp_path: Path) -> None:
    make_h5(tmp_path / "d.h5")
    with pytest.raises(ndbridge.NotFoundError, match="no dataset named 'nope'"):
        convert(tmp_path / "d.h5", tmp_path / "o.npz", datasets=["x", "nope"])
    with pytest.raises(ndbridge.NotFoundError, match="'group' is a group, not a dataset"):
        convert(tmp_path / "d.h5", tmp_path / "o.npy", datasets=["group"])
    np.savez(tmp_path / "z.npz", a=SAMPLES["bool"])
    with pytest.raises(ndbridge.NotFoundError, match=r"no member named 'b' \(members: a\)"):
        convert(tmp_path / "z.npz", tmp_path / "o.h5", datasets=["b"])
    assert leftovers(tmp_path) == []


def test_unsupported_content(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "c.h5", "w", libver="earliest") as f:
        f["compound"] = np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")])
        f["empty"] = h5py.Empty("f4")
    with pytest.raises(ndbridge.UnsupportedError, match="dataset '/compound' holds"):
        convert(tmp_path / "c.h5", tmp_path / "c.npz", datasets=["compound"])
    with pytest.raises(ndbridge.UnsupportedError, match="'/empty' has a null dataspace"):
        convert(tmp_path / "c.h5", tmp_path / "c.npy", datasets=["empty"])
    np.save(tmp_path / "o.npy", np.array([1, None], dtype=object), allow_pickle=True)
    with pytest.raises(ndbridge.UnsupportedError, match=r"o.npy"):
        convert(tmp_path / "o.npy", tmp_path / "o.h5")
    np.savez(tmp_path / "o.npz", ok=SAMPLES["bool"], obj=np.array([1, None], dtype=object))
    with pytest.raises(ndbridge.UnsupportedError, match=r"o.npz' member 'obj.npy': dtype '\|O'"):
        convert(tmp_path / "o.npz", tmp_path / "o2.h5")
    with zipfile.ZipFile(tmp_path / "t.npz", "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(
        ndbridge.UnsupportedError, match=r"t.npz' member 'notes.txt': not an .npy member"
    ):
        convert(tmp_path / "t.npz", tmp_path / "t.h5")
    assert leftovers(tmp_path) == []


def test_corrupt_npz_member(tmp_path: Path) -> None:
    np.savez(tmp_path / "z.npz", a=np.arange(100))
    data = bytearray((tmp_path / "z.npz").read_bytes())
    data[200] ^= 0xFF  # inside a's data: the CRC no longer matches
    (tmp_path / "z.npz").write_bytes(bytes(data))
    with pytest.raises(
        ndbridge.FormatError, match=r"z.npz' member 'a.npy': CRC-32 mismatch.*corrupt member"
    ):
        convert(tmp_path / "z.npz", tmp_path / "z.h5")


@pytest.mark.parametrize(
    ("out", "options", "message"),
    [
        ("o.npy", {"compression": "gzip"}, ".npy files are not compressed"),
        ("o.npz", {"compression": "lzf"}, "lzf is an HDF5 filter"),
        ("o.npz", {"shuffle": True}, "--shuffle is an HDF5 filter"),
        ("o.h5", {"compression": "zstd"}, "unknown compression 'zstd'"),
        ("o.h5", {"level": 10}, "compression level must be an integer from 0 to 9"),
        ("o.h5", {"level": True}, "compression level must be an integer from 0 to 9"),
        ("o.h5", {"gzip_level": 2.5}, "compression level must be an integer from 0 to 9"),
        ("o.h5", {"to": "csv"}, "the output format must be npy, npz or h5, not 'csv'"),
    ],
)
def test_option_errors(tmp_path: Path, out: str, options: dict[str, Any], message: str) -> None:
    np.save(tmp_path / "x.npy", SAMPLES["bool"])
    with pytest.raises(ndbridge.UsageError, match=message):
        convert(tmp_path / "x.npy", tmp_path / out, **options)
    assert not (tmp_path / out).exists()


def test_npy_source_is_streamed_under_a_memory_cap(tmp_path: Path) -> None:
    """Convert a 200 MB .npy with 120 MB of heap: only a full load would need more.

    RLIMIT_DATA caps private writable memory (heap, anonymous maps) but not
    the read-only file mapping the source is read through; RLIMIT_AS would
    count that mapping like a full load and so could not tell them apart.
    """
    src, out = tmp_path / "big.npy", tmp_path / "big.h5"
    rows, cols = 25_000, 1_000  # 200 MB of float64 zeros, stored sparse
    with open(src, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (rows, cols)}
        )
        f.truncate(f.tell() + rows * cols * 8)
    script = textwrap.dedent(
        f"""
        import resource
        import numpy as np
        from ndbridge import cpp
        from ndbridge.convert import convert

        def vm_data():
            for line in open("/proc/self/status"):
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024

        cap = vm_data() + 120 * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
        convert({str(src)!r}, {str(out)!r})
        try:
            cpp.read_npy({str(src)!r})
        except MemoryError:
            print("a full load fails under the cap")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "a full load fails under the cap" in result.stdout
    with h5py.File(out, "r") as f:
        assert f["big"].shape == (rows, cols)
        assert f["big"][-1, -1] == 0.0
