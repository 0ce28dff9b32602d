"""Sharded packing: shards on a real dask.distributed LocalCluster, a master file of
virtual datasets over them, and ``ndbridge merge``.

The cluster has two single-threaded worker processes, as a small real cluster
has; one module-wide cluster keeps the suite fast.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import imageio.v3 as iio
import numpy as np
import pytest

import ndbridge
from ndbridge import cpp
from ndbridge.__main__ import main
from ndbridge.verify import verify

distributed = pytest.importorskip("distributed")

DATASETS = ("images", "labels", "paths", "class_names", "skipped/paths", "skipped/reasons",
            "ignored/paths", "ignored/reasons")  # fmt: skip
ENCODED = ("encoded", "offsets", "shapes", "labels", "paths", "class_names")
CLASSES = {"cat": 7, "dog": 5, "emu": 3}


def make_tree(root: Path, classes: dict[str, int] = CLASSES, shape: tuple[int, ...] = (12, 16, 3),
              corrupt: str | None = "dog/0002.png", seed: int = 0) -> None:  # fmt: skip
    """Class folders of small random PNGs; ``corrupt`` is a file that is no image."""
    rng = np.random.default_rng(seed)
    for name, count in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            iio.imwrite(root / name / f"{i:04d}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    if corrupt:
        (root / corrupt).write_bytes(b"not an image")
    # Left out, and recorded as such by a single-file pack and a master alike.
    (root / "cat" / "notes.txt").write_text("not packed")
    (root / ".cache").mkdir(exist_ok=True)


def h5py_read(path: Path, name: str) -> np.ndarray:
    with h5py.File(path, "r") as f:
        data = f[name]
        return data.asstr()[()] if h5py.check_string_dtype(data.dtype) else data[()]


def assert_same(single: Path, sharded: Path, names: tuple[str, ...] = DATASETS) -> None:
    """Every dataset reads the same from both files, with h5py and with the C++ reader,
    whole and in row ranges that cross shard boundaries."""
    for name in names:
        a, b = h5py_read(single, name), h5py_read(sharded, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert a.tolist() == b.tolist(), name
        whole = cpp.read_h5(single, name)
        other = cpp.read_h5(sharded, name)
        assert whole.dtype == other.dtype and whole.tobytes() == other.tobytes(), name
    with cpp.H5File(sharded) as reader:
        n = len(h5py_read(single, "paths"))
        images = cpp.read_h5(single, "images")
        for start in range(n):
            for stop in (start + 1, min(n, start + 5), n):
                got = reader.read("images", rows=(start, stop))
                assert got.tobytes() == images[start:stop].tobytes(), (start, stop)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of two single-threaded worker processes, and a client on it."""
    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True,
        dashboard_address="127.0.0.1:0", silence_logs=50,
    )  # fmt: skip
    with local, distributed.Client(local) as client:
        yield client


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The test tree and its single-file pack, made once."""
    root = tmp_path_factory.mktemp("packed")
    make_tree(root / "src")
    ndbridge.pack(root / "src", root / "single.h5", labels="dirs", on_error="skip", workers=1)
    return root / "src", root / "single.h5"


def test_dask_shards_equal_the_single_file_pack(
    cluster: Any, packed: tuple[Path, Path], tmp_path: Path
) -> None:
    src, single = packed
    out = tmp_path / "out.h5"
    summary = ndbridge.pack(
        src, out, labels="dirs", on_error="skip", shards=4, scheduler="dask",
        dask_address=cluster.scheduler.address,
    )  # fmt: skip
    assert (summary.shards, summary.shards_packed, summary.shards_reused) == (4, 4, 0)
    assert summary.images == 14 and summary.skipped == 1
    assert [f["path"] for f in summary.skipped_files] == ["dog/0002.png"]
    assert_same(single, out)
    with h5py.File(out, "r") as f:
        virtual = {name: f[name].is_virtual for name in DATASETS}
        plain = {"class_names": False, "ignored/paths": False, "ignored/reasons": False}
        assert virtual == dict.fromkeys(DATASETS, True) | plain
        assert f.attrs["count"] == 14 and f.attrs["shards"] == 4
        assert f.attrs["format"] == "ndbridge-pack/1"
        assert json.loads(f.attrs["options"])["scheduler"] == "dask"
        sources = {s.file_name for s in f["images"].virtual_sources()}
    names = [f"out.shards/out-{i:05d}-of-00004.h5" for i in range(4)]
    assert sources == set(names)  # relative to the master's folder
    # Each shard is a complete pack file of its own range: 15 files as 4+4+4+3.
    with h5py.File(single, "r") as whole:
        paths = whole["paths"].asstr()[()].tolist()
    start = 0
    for i, name in enumerate(names):
        with h5py.File(tmp_path / name, "r") as f:
            assert f.attrs["shard_index"] == i and f.attrs["shard_count"] == 4
            assert (f.attrs["shard_start"], f.attrs["shard_stop"]) == (
                [0, 4, 8, 12][i],
                [4, 8, 12, 15][i],
            )
            assert not f["images"].is_virtual
            rows = f["paths"].asstr()[()].tolist()
            assert rows == paths[start : start + len(rows)]
            assert f.attrs["count"] == len(rows)
            start += len(rows)
    assert verify(out).ok
    assert not [p for p in (tmp_path / "out.shards").iterdir() if p.name.startswith(".")]


class KillOnce(distributed.WorkerPlugin):
    """Kills the worker process the first time it starts running shard ``index``."""

    def __init__(self, marker: str, index: int) -> None:
        self.marker = marker
        self.prefix = f"ndbridge-shard-{index:05d}-"

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        first = not os.path.exists(self.marker)
        if finish == "executing" and str(key).startswith(self.prefix) and first:
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)


def test_a_killed_worker_is_recovered(
    cluster: Any, packed: tuple[Path, Path], tmp_path: Path
) -> None:
    src, single = packed
    out = tmp_path / "out.h5"
    marker = tmp_path / "killed"
    # What an attempt killed half way leaves: a temporary name, never the final one.
    (tmp_path / "out.shards").mkdir()
    stale = tmp_path / "out.shards" / ".out-00001-of-00003.h5.0123abcd.partial"
    stale.write_bytes(b"half a shard")
    cluster.register_plugin(KillOnce(str(marker), 1), name="kill-once")
    try:
        summary = ndbridge.pack(
            src, out, labels="dirs", on_error="skip", shards=3, scheduler="dask",
            dask_address=cluster.scheduler.address, retries=1,
        )  # fmt: skip
    finally:
        cluster.unregister_worker_plugin("kill-once")
    assert marker.exists(), "the worker was never killed"
    assert summary.shards_packed == 3
    assert_same(single, out)
    assert not stale.exists()
    cluster.wait_for_workers(2, timeout=60)


def test_master_and_shards_moved_together_still_read(
    packed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, single = packed
    (tmp_path / "a").mkdir()
    ndbridge.pack(src, tmp_path / "a" / "out.h5", labels="dirs", on_error="skip", workers=1,
                  shards=3)  # fmt: skip
    shutil.move(tmp_path / "a", tmp_path / "b")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert_same(single, tmp_path / "b" / "out.h5")
    np.testing.assert_array_equal(
        ndbridge.load("../b/out.h5", "labels"), h5py_read(single, "labels")
    )


def test_rerun_packs_only_missing_shards(packed: tuple[Path, Path], tmp_path: Path) -> None:
    src, single = packed
    out = tmp_path / "out.h5"
    options: dict[str, Any] = {"labels": "dirs", "on_error": "skip", "workers": 1, "shards": 4}
    ndbridge.pack(src, out, **options)
    with pytest.raises(ndbridge.UsageError, match="already exists"):
        ndbridge.pack(src, out, **options)
    shards = sorted((tmp_path / "out.shards").iterdir())
    stamps = {p.name: p.stat().st_mtime_ns for p in shards}
    out.unlink()
    shards[2].unlink()  # lost
    shards[0].write_bytes(shards[0].read_bytes()[:2000])  # damaged
    summary = ndbridge.pack(src, out, **options)
    assert (summary.shards_packed, summary.shards_reused) == (2, 2)
    assert summary.resumed
    for kept in (shards[1], shards[3]):
        assert kept.stat().st_mtime_ns == stamps[kept.name], kept.name
    assert_same(single, out)
    # Other options make other shards: nothing is reused.
    out.unlink()
    other = ndbridge.pack(src, out, **{**options, "compression": "gzip"})
    assert (other.shards_packed, other.shards_reused) == (4, 0)
    assert_same(single, out)
    # --force packs everything again.
    again = ndbridge.pack(src, out, **{**options, "compression": "gzip"}, force=True)
    assert (again.shards_packed, again.shards_reused) == (4, 0)


def test_missing_shard_is_a_clear_error_everywhere(
    packed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = packed
    out = tmp_path / "out.h5"
    ndbridge.pack(src, out, labels="dirs", on_error="skip", workers=1, shards=3)
    lost = "out.shards/out-00001-of-00003.h5"
    (tmp_path / lost).unlink()
    for read in (
        lambda: ndbridge.load(out, "images", rows=(0, 2)),  # rows in another shard too
        lambda: cpp.read_h5(out, "labels"),
        lambda: cpp.H5File(out).read("paths"),
    ):
        with pytest.raises(ndbridge.FileError, match=f"source file '{lost}' is missing") as err:
            read()
        assert isinstance(err.value, FileNotFoundError) and str(out) in str(err.value)
    capsys.readouterr()
    assert main(["ls", str(out)]) == 1
    listed = capsys.readouterr()
    assert "1 MISSING" in listed.out and lost in listed.err
    report = verify(out)
    assert not report.ok
    # The lost shard holds rows of every virtual dataset (the corrupt file too).
    errors = {a.name for a in report.arrays if a.result == "error"}
    assert errors == {f"/{name}" for name in DATASETS} - {
        "/class_names",
        "/ignored/paths",
        "/ignored/reasons",
    }
    assert all(lost in a.detail for a in report.arrays if a.result == "error")
    assert main(["convert", str(out), str(tmp_path / "copy.npz")]) == 1
    assert lost in capsys.readouterr().err
    assert not (tmp_path / "copy.npz").exists()


def test_encoded_store_shards_rebase_offsets(tmp_path: Path) -> None:
    make_tree(tmp_path / "src", corrupt=None)
    (tmp_path / "src" / "emu" / "big.png").write_bytes(
        iio.imwrite("<bytes>", np.zeros((40, 30, 3), np.uint8), extension=".png")
    )
    single, sharded = tmp_path / "single.h5", tmp_path / "sharded.h5"
    ndbridge.pack(tmp_path / "src", single, labels="dirs", store="encoded", workers=1)
    ndbridge.pack(tmp_path / "src", sharded, labels="dirs", store="encoded", workers=1, shards=3)
    for name in ENCODED:
        assert h5py_read(single, name).tolist() == h5py_read(sharded, name).tolist(), name
        assert cpp.read_h5(single, name).tobytes() == cpp.read_h5(sharded, name).tobytes()
    with h5py.File(sharded, "r") as f:
        assert f["encoded"].is_virtual and not f["offsets"].is_virtual


def test_shard_size_in_images_or_bytes(packed: tuple[Path, Path], tmp_path: Path) -> None:
    src, single = packed
    by_count = ndbridge.pack(src, tmp_path / "n.h5", labels="dirs", on_error="skip", workers=1,
                             shard_size=6)  # fmt: skip
    assert by_count.shards == 3  # 6 + 6 + 3 files
    # 12x16x3 bytes per image: 2 KB holds 3 of them.
    by_bytes = ndbridge.pack(src, tmp_path / "b.h5", labels="dirs", on_error="skip", workers=1,
                             shard_size="2KB")  # fmt: skip
    assert by_bytes.shards == 5
    assert_same(single, tmp_path / "b.h5")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shards": 2, "shard_size": 3}, "not both"),
        ({"shards": 99}, "more shards than there are files"),
        ({"shards": 0}, "at least 1"),
        ({"shard_size": "lots"}, "--shard-size wants"),
        ({"shard_size": "0MB"}, "at least 1"),
        ({"scheduler": "dask"}, "give --shards N or --shard-size"),
        ({"shards": 2, "dask_address": "tcp://127.0.0.1:1"}, "needs --scheduler dask"),
        ({"shards": 2, "scheduler": "ray"}, "local or dask"),
        ({"shards": 2, "retries": -1}, "0 or more"),
    ],
)
def test_bad_shard_requests(
    packed: tuple[Path, Path], tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ndbridge.UsageError, match=message):
        ndbridge.pack(packed[0], tmp_path / "o.h5", **options)


def test_images_of_different_sizes_in_different_shards(tmp_path: Path) -> None:
    make_tree(tmp_path / "src", {"cat": 3}, corrupt=None)
    make_tree(tmp_path / "src", {"dog": 3}, shape=(20, 16, 3), corrupt=None)
    # Each shard is uniform; the master cannot be.
    with pytest.raises(ndbridge.UsageError, match="--resize HxW or --store encoded"):
        ndbridge.pack(tmp_path / "src", tmp_path / "o.h5", workers=1, shards=2)
    summary = ndbridge.pack(tmp_path / "src", tmp_path / "o.h5", workers=1, shards=2,
                            resize="12x16")  # fmt: skip
    assert summary.shape == [12, 16, 3] and summary.shards_packed == 2


def test_sharding_writes_h5_only(packed: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ndbridge.UsageError, match=r"writes \.h5 output"):
        ndbridge.pack(packed[0], tmp_path / "o.npy", shards=2)


def test_dask_scheduler_without_dask_says_what_to_install(
    packed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    with pytest.raises(ndbridge.UsageError, match=r"pip install 'ndbridge\[dask\]'"):
        ndbridge.pack(packed[0], tmp_path / "o.h5", shards=2, scheduler="dask")


def test_data_errors_fail_without_retries_and_keep_good_shards(
    cluster: Any, packed: tuple[Path, Path], tmp_path: Path
) -> None:
    src, _ = packed
    out = tmp_path / "out.h5"
    with pytest.raises(ndbridge.FormatError, match=r"dog/0002\.png"):
        ndbridge.pack(src, out, labels="dirs", shards=3, scheduler="dask",
                      dask_address=cluster.scheduler.address)  # fmt: skip
    assert not out.exists()
    kept = sorted(p.name for p in (tmp_path / "out.shards").iterdir())
    assert kept == ["out-00000-of-00003.h5", "out-00002-of-00003.h5"]
    # Decoding threads start inside a (daemonic) Dask worker as anywhere else.
    summary = ndbridge.pack(src, out, labels="dirs", on_error="skip", shards=3, workers=2,
                            scheduler="dask", dask_address=cluster.scheduler.address)  # fmt: skip
    assert summary.shards_packed == 3 and summary.skipped == 1


def test_cli_on_its_own_local_cluster(
    packed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, single = packed
    out = tmp_path / "out.h5"
    argv = ["pack", str(src), str(out), "--labels", "dirs", "--on-error", "skip",
            "--shards", "2", "--scheduler", "dask", "--json"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["shards"], summary["shards_packed"], summary["images"]) == (2, 2, 14)
    assert_same(single, out)
    assert main(["ls", str(out)]) == 0
    assert "virtual over 2 files" in capsys.readouterr().out


def test_merge_stitches_separate_packs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(tmp_path / "a", corrupt=None, seed=1)
    make_tree(tmp_path / "b", {"cat": 2, "dog": 1, "emu": 1}, corrupt="emu/x.png", seed=2)
    for name in "ab":
        ndbridge.pack(tmp_path / name, tmp_path / f"{name}.h5", labels="dirs", on_error="skip",
                      workers=1)  # fmt: skip
    master = tmp_path / "m.h5"
    argv = ["merge", str(tmp_path / "a.h5"), str(tmp_path / "b.h5"), "-o", str(master)]
    assert main(argv) == 0
    assert "merged 2 files" in capsys.readouterr().out
    for name in ("images", "labels", "paths", "skipped/paths"):
        whole = np.concatenate([h5py_read(tmp_path / f"{n}.h5", name) for n in "ab"])
        assert h5py_read(master, name).tolist() == whole.tolist()
        assert cpp.read_h5(master, name).tolist() == whole.tolist()
    with h5py.File(master, "r") as f:
        assert f.attrs["shards"] == 2 and "source_root" not in f.attrs  # two roots
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*argv, "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 15 + 4


def test_merge_refuses_what_does_not_fit(tmp_path: Path) -> None:
    make_tree(tmp_path / "a", corrupt=None)
    make_tree(tmp_path / "other_classes", {"cat": 2, "owl": 2}, corrupt=None)
    make_tree(tmp_path / "bigger", shape=(20, 16, 3), corrupt=None)
    for name in ("a", "other_classes", "bigger"):
        ndbridge.pack(tmp_path / name, tmp_path / f"{name}.h5", labels="dirs", workers=1)
    ndbridge.pack(tmp_path / "a", tmp_path / "enc.h5", labels="dirs", store="encoded", workers=1)
    ndbridge.pack(tmp_path / "a", tmp_path / "nolabels.h5", workers=1)
    a = tmp_path / "a.h5"
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["images"] = np.zeros((2, 3))
    for other, error, message in [
        ("other_classes.h5", ndbridge.UsageError, r"class names are \['cat', 'owl'\]"),
        ("bigger.h5", ndbridge.UsageError, r"'images' holds \|u1 rows of shape \(20, 16, 3\)"),
        ("enc.h5", ndbridge.UsageError, "stores 'encoded' samples"),
        ("nolabels.h5", ndbridge.UsageError, "class names are"),
        ("plain.h5", ndbridge.FormatError, "is not a file ndbridge pack wrote"),
        ("missing.h5", FileNotFoundError, "missing.h5"),
    ]:
        with pytest.raises(error, match=message) as err:
            ndbridge.merge([a, tmp_path / other], tmp_path / "m.h5")
        assert other in str(err.value)
        assert not (tmp_path / "m.h5").exists() and not (tmp_path / "m.h5.partial").exists()
    ndbridge.merge([a, a], tmp_path / "m.h5")
    with pytest.raises(ndbridge.UsageError, match="master file of virtual datasets"):
        ndbridge.merge([tmp_path / "m.h5"], tmp_path / "n.h5")
    with pytest.raises(ndbridge.UsageError, match="is one of the shards"):
        ndbridge.merge([a], a, force=True)
    with pytest.raises(ndbridge.UsageError, match="at least one"):
        ndbridge.merge([], tmp_path / "n.h5")
