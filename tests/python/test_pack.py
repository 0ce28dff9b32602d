"""``ndbridge pack``: streaming, deterministic, and safe with bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import imageio.v3 as iio
import numpy as np
import pytest

import ndbridge
from ndbridge import cpp
from ndbridge.__main__ import main

DATASETS = ("images", "labels", "paths", "class_names", "skipped/paths", "skipped/reasons")


def make_images(
    root: Path,
    classes: dict[str, int],
    shape: tuple[int, ...] = (24, 32, 3),
    suffix: str = ".png",
    seed: int = 0,
) -> list[np.ndarray]:
    """Write class folders of random images; returns the pixels in pack order."""
    rng = np.random.default_rng(seed)
    pixels = []
    for name in sorted(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(classes[name]):
            image = rng.integers(0, 256, shape, dtype=np.uint8)
            iio.imwrite(root / name / f"{i:04d}{suffix}", image)
            pixels.append(image)
    return pixels


def state(out: Path) -> dict[str, Any]:
    """The progress record of an interrupted pack to ``out``."""
    return json.loads(out.with_name(out.name + ".partial.state.json").read_text())


def read(path: Path, name: str) -> np.ndarray:
    with h5py.File(path, "r") as f:
        data = f[name]
        return data.asstr()[()] if data.dtype.kind == "O" else data[()]


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    src = tmp_path / "src"
    pixels = make_images(src, {"cat": 7, "dog": 5, "emu": 3})
    return src, pixels


def test_packs_pixels_labels_paths_in_sorted_order(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    src, pixels = tree
    out = tmp_path / "out.h5"
    summary = ndbridge.pack(src, out, labels="dirs", workers=1)
    assert summary.images == 15 and summary.skipped == 0
    assert summary.shape == [24, 32, 3] and summary.dtype == "|u1"
    np.testing.assert_array_equal(read(out, "images"), np.stack(pixels))
    assert read(out, "labels").tolist() == [0] * 7 + [1] * 5 + [2] * 3
    assert list(read(out, "class_names")) == ["cat", "dog", "emu"]
    assert read(out, "paths")[:2].tolist() == ["cat/0000.png", "cat/0001.png"]
    with h5py.File(out, "r") as f:
        assert f["images"].chunks == (1, 24, 32, 3)
        assert f.attrs["format"] == "ndbridge-pack/1"
        assert f.attrs["count"] == 15
        assert f.attrs["source_root"] == str(src.resolve())
        assert json.loads(f.attrs["options"])["labels"] == "dirs"
        assert "ndbridge_consumed" not in f.attrs
        assert f.id.get_create_plist().get_version()[0] == 0  # superblock of libver earliest
    # The C++ reader sees the same.
    np.testing.assert_array_equal(cpp.read_h5(out, "images", rows=(3, 9)), np.stack(pixels[3:9]))
    assert not (tmp_path / "out.h5.partial").exists()


@pytest.mark.parametrize("compression", ["none", "gzip", "lzf"])
def test_every_dataset_identical_for_any_worker_count(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, compression: str
) -> None:
    src, pixels = tree
    outs = []
    for workers in (1, 2, 3):
        out = tmp_path / f"w{workers}.h5"
        ndbridge.pack(src, out, labels="dirs", workers=workers, compression=compression)
        outs.append(out)
    for name in DATASETS:
        first = read(outs[0], name)
        for other in outs[1:]:
            b = read(other, name)
            assert first.dtype == b.dtype and first.shape == b.shape, name
            if first.dtype.kind == "O":  # text: compare the strings themselves
                assert first.tolist() == b.tolist(), name
            else:
                assert first.tobytes() == b.tobytes(), name
    with h5py.File(outs[0], "r") as f:
        assert f["images"].compression == (None if compression == "none" else compression)
    np.testing.assert_array_equal(cpp.read_h5(outs[0], "images"), np.stack(pixels))


def test_gzip_chunks_are_really_compressed(tmp_path: Path) -> None:
    src = tmp_path / "flat"
    src.mkdir()
    for i in range(4):
        iio.imwrite(src / f"{i}.png", np.full((64, 64, 3), i * 40, dtype=np.uint8))
    out = tmp_path / "g.h5"
    ndbridge.pack(src, out, compression="gzip", gzip_level=6, workers=2)
    with h5py.File(out, "r") as f:
        images = f["images"]
        assert images.compression_opts == 6
        assert images.id.get_storage_size() < images.size // 10
        assert (images[2] == 80).all()
    assert (cpp.read_h5(out, "images")[3] == 120).all()


def test_corrupt_and_truncated_images_fail_naming_the_file(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    src, _ = tree
    good = (src / "dog" / "0001.png").read_bytes()
    (src / "dog" / "0001.png").write_bytes(good[: len(good) // 2])
    out = tmp_path / "out.h5"
    with pytest.raises(ndbridge.FormatError, match=r"dog/0001\.png.*cannot decode"):
        ndbridge.pack(src, out, workers=2)
    assert not out.exists()
    # What was written is kept for --resume, under a name that says unfinished.
    with h5py.File(tmp_path / "out.h5.partial", "r") as f:
        assert "count" not in f.attrs
    assert state(tmp_path / "out.h5")["consumed"] < 15


def test_flushing_while_packing_changes_nothing_and_stops(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkpoint after every batch, and a flush of the partial file asked
    # for at each: the background flushes run, and end with the run.
    import threading

    from ndbridge.pack import h5_writer as _pack_h5
    from ndbridge.pack import packer as packing
    from ndbridge.pack import writeback as _writeback

    src, pixels = tree
    monkeypatch.setattr(packing, "BATCH_BYTES", 2 * pixels[0].nbytes)
    monkeypatch.setattr(_pack_h5, "CHECKPOINT_SECONDS", 0.0)
    monkeypatch.setattr(_writeback, "INTERVAL", 0.0)
    flushed = []
    real = os.fdatasync
    flushing = threading.Event()

    def fdatasync(fd: int) -> None:
        flushed.append(fd)
        flushing.set()
        real(fd)

    # A run this small can end before the flushing thread is first
    # scheduled: the run's end waits (a while) for a first flush.
    real_stop = _writeback.Writeback.stop

    def stop(self: _writeback.Writeback) -> None:
        flushing.wait(30)
        real_stop(self)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(_writeback.Writeback, "stop", stop)
    for fmt in ("h5", "npy"):
        out = tmp_path / f"out.{fmt}"
        flushed.clear()
        flushing.clear()
        ndbridge.pack(src, out, labels="dirs", workers=1)
        assert flushed, fmt
        assert not [t for t in threading.enumerate() if t.name == "ndbridge-writeback"]
        np.testing.assert_array_equal(load_packed(out)["images"], np.stack(pixels))


def test_skip_records_each_file_and_why(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    src, pixels = tree
    (src / "cat" / "0002.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (src / "emu" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (src / "dog" / "gone.png").symlink_to(src / "nowhere.png")  # unreadable: dangling
    out = tmp_path / "out.h5"
    summary = ndbridge.pack(src, out, labels="dirs", on_error="skip", workers=2)
    skipped = {f["path"]: f["reason"] for f in summary.skipped_files}
    assert set(skipped) == {"cat/0002.png", "emu/broken.jpg", "dog/gone.png"}
    assert "cannot read" in skipped["dog/gone.png"]
    assert "cannot decode" in skipped["emu/broken.jpg"]
    assert summary.images == 14 and summary.skipped == 3
    assert read(out, "skipped/paths").tolist() == ["cat/0002.png", "dog/gone.png", "emu/broken.jpg"]
    assert len(read(out, "skipped/reasons")) == 3
    kept = pixels[:2] + pixels[3:]
    np.testing.assert_array_equal(read(out, "images"), np.stack(kept))
    assert "cat/0002.png" not in read(out, "paths").tolist()


def test_mixed_sizes_give_a_clear_error_then_resize_or_encoded(tmp_path: Path) -> None:
    src = tmp_path / "mixed"
    make_images(src, {"a": 2}, shape=(20, 30, 3))
    make_images(src, {"b": 2}, shape=(40, 10, 3), seed=1)
    out = tmp_path / "m.h5"
    with pytest.raises(ndbridge.MismatchError) as info:
        ndbridge.pack(src, out, workers=1)
    message = str(info.value)
    assert "no partial output was kept" in message and not list(tmp_path.glob("m.h5*"))
    assert "20x30x3" in message and "40x10x3" in message and "b/0000.png" in message
    assert "--resize" in message and "--store encoded" in message
    assert not out.exists()

    summary = ndbridge.pack(src, out, resize="16x24", workers=2, force=True)
    assert summary.shape == [16, 24, 3]
    assert read(out, "images").shape == (4, 16, 24, 3)

    enc = tmp_path / "e.h5"
    summary = ndbridge.pack(src, enc, store="encoded", workers=2)
    assert summary.images == 4
    with h5py.File(enc, "r") as f:
        offsets = f["offsets"][()]
        blob = f["encoded"][()]
        assert f["shapes"][()].tolist() == [[20, 30, 3]] * 2 + [[40, 10, 3]] * 2
        paths = f["paths"].asstr()[()]
    for i, rel in enumerate(paths):
        assert blob[offsets[i] : offsets[i + 1]].tobytes() == (src / rel).read_bytes()
    # C++ reads the index and any sample's bytes by row range.
    off = cpp.read_h5(enc, "offsets")
    assert (
        cpp.read_h5(enc, "encoded", rows=(int(off[2]), int(off[3]))).tobytes()
        == (src / paths[2]).read_bytes()
    )


def test_mode_converts_every_image(tmp_path: Path) -> None:
    src = tmp_path / "gray_and_rgb"
    make_images(src, {"a": 2}, shape=(8, 8))
    make_images(src, {"b": 2}, shape=(8, 8, 3), seed=3)
    out = tmp_path / "rgb.h5"
    assert ndbridge.pack(src, out, mode="RGB", workers=1).shape == [8, 8, 3]
    gray = tmp_path / "gray.h5"
    assert ndbridge.pack(src, gray, mode="L", workers=1).shape == [8, 8, 1]


def test_npy_sources(tmp_path: Path) -> None:
    src = tmp_path / "arrays"
    (src / "x").mkdir(parents=True)
    arrays = [np.arange(i, i + 6, dtype=">f8").reshape(2, 3) for i in range(5)]
    for i, a in enumerate(arrays):
        np.save(src / "x" / f"{i}.npy", a)
    out = tmp_path / "n.h5"
    summary = ndbridge.pack(src, out, workers=2)
    assert summary.dtype == ">f8"
    np.testing.assert_array_equal(read(out, "images"), np.stack(arrays))
    with pytest.raises(ndbridge.UsageError, match="--resize"):
        ndbridge.pack(src, tmp_path / "n2.h5", resize="2x2")


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(ndbridge.UsageError, match="no image files"):
        ndbridge.pack(tmp_path / "empty", tmp_path / "o.h5")
    with pytest.raises(FileNotFoundError):
        ndbridge.pack(tmp_path / "absent", tmp_path / "o.h5")
    assert not (tmp_path / "o.h5").exists()


def test_labels_need_class_folders(tree: tuple[Path, list[np.ndarray]], tmp_path: Path) -> None:
    src, _ = tree
    iio.imwrite(src / "loose.png", np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(ndbridge.UsageError, match=r"loose\.png"):
        ndbridge.pack(src, tmp_path / "o.h5", labels="dirs")
    assert ndbridge.pack(src, tmp_path / "o.h5", workers=1).images == 16


def test_existing_output_needs_force(tree: tuple[Path, list[np.ndarray]], tmp_path: Path) -> None:
    src, _ = tree
    out = tmp_path / "o.h5"
    out.write_bytes(b"precious")
    with pytest.raises(ndbridge.UsageError, match="--force"):
        ndbridge.pack(src, out)
    assert out.read_bytes() == b"precious"
    ndbridge.pack(src, out, force=True, workers=1)
    assert read(out, "images").shape[0] == 15


def test_format_names(tree: tuple[Path, list[np.ndarray]], tmp_path: Path) -> None:
    src, _ = tree
    # "hdf5" is another name for h5, as in convert and testing.
    ndbridge.pack(src, tmp_path / "o.data", format="hdf5", workers=1)
    assert read(tmp_path / "o.data", "images").shape[0] == 15
    with pytest.raises(ndbridge.UsageError, match="must be npy, npz or h5, not 'tiff'"):
        ndbridge.pack(src, tmp_path / "o.tiff", format="tiff")


def test_interrupted_run_leaves_no_final_file_and_resume_completes(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ndbridge.pack import h5_writer as _pack_h5
    from ndbridge.pack import packer as pack_module

    src, pixels = tree
    monkeypatch.setattr(pack_module, "BATCH_BYTES", 3 * 24 * 32 * 3)  # batches of 3
    original = _pack_h5.H5Sink.add
    calls = {"n": 0}

    def flaky_add(self: _pack_h5.H5Sink, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_pack_h5.H5Sink, "add", flaky_add)
    out = tmp_path / "o.h5"
    with pytest.raises(KeyboardInterrupt):
        ndbridge.pack(src, out, labels="dirs", workers=2)
    assert not out.exists()
    partial = tmp_path / "o.h5.partial"
    with h5py.File(partial, "r") as f:
        assert "count" not in f.attrs
    assert state(out)["consumed"] == 4  # the probe file and one batch of 3

    monkeypatch.setattr(_pack_h5.H5Sink, "add", original)
    with pytest.raises(ndbridge.UsageError, match="other options"):
        ndbridge.pack(src, out, labels="none", workers=2, resume=True)
    summary = ndbridge.pack(src, out, labels="dirs", workers=1, resume=True)
    assert summary.resumed and summary.images == 15
    np.testing.assert_array_equal(read(out, "images"), np.stack(pixels))
    assert read(out, "labels").tolist() == [0] * 7 + [1] * 5 + [2] * 3
    assert not partial.exists()


def test_cli_json_summary(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = tree
    out = tmp_path / "o.h5"
    assert main(["pack", str(src), str(out), "--labels", "dirs", "--json", "--workers", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 15 and summary["skipped"] == 0
    assert summary["bytes"] == out.stat().st_size
    assert summary["images_per_second"] > 0
    assert summary["classes"] == ["cat", "dog", "emu"]


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pack", str(tmp_path / "nope"), str(tmp_path / "o.h5")]) == 1  # a file problem
    assert "No such file" in capsys.readouterr().err
    assert main(["pack", str(tmp_path), str(tmp_path / "o.bin")]) == 2
    assert "format" in capsys.readouterr().err


def test_progress_bar_only_when_asked(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = tree
    ndbridge.pack(src, tmp_path / "a.h5", workers=1)
    assert capsys.readouterr().err == ""  # not a terminal: quiet
    ndbridge.pack(src, tmp_path / "b.h5", workers=1, progress=True)
    assert "img" in capsys.readouterr().err


def test_open_file_limit_is_never_hit(tmp_path: Path) -> None:
    # Many more files than the lowered limit allows open at once.
    src = tmp_path / "many"
    src.mkdir()
    for i in range(600):
        np.save(src / f"{i:04d}.npy", np.full((4, 4), i, dtype=np.int16))
    out = tmp_path / "many.h5"
    script = textwrap.dedent(f"""
        import resource, ndbridge
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        s = ndbridge.pack({str(src)!r}, {str(out)!r}, workers=2)
        print(s.images)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "600"
    assert read(out, "images")[599, 0, 0] == 599


def load_packed(out: Path) -> dict[str, np.ndarray]:
    """Every array of a packed output, whatever its format, by member name."""
    if out.suffix == ".h5":
        with h5py.File(out, "r") as f:
            return {
                "images": f["images"][()],
                "labels": f["labels"][()],
                "paths": f["paths"].asstr()[()].astype(str),
                "class_names": f["class_names"].asstr()[()].astype(str),
                "skipped_paths": f["skipped/paths"].asstr()[()].astype(str),
            }
    if out.suffix == ".npy":
        with np.load(out.with_name(out.stem + ".meta.npz")) as meta:
            return {"images": np.load(out), **{k: meta[k] for k in meta.files}}
    with np.load(out) as archive:
        return {k: archive[k] for k in archive.files}


@pytest.mark.parametrize("workers", [1, 2])
def test_h5_npy_npz_hold_identical_arrays(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, workers: int
) -> None:
    src, pixels = tree
    (src / "dog" / "junk.png").write_bytes(b"junk")
    results = {}
    for fmt, compression in (("h5", "gzip"), ("npy", "none"), ("npz", "gzip")):
        out = tmp_path / f"o.{fmt}"
        summary = ndbridge.pack(
            src, out, labels="dirs", workers=workers, on_error="skip", compression=compression
        )
        assert summary.images == 15 and summary.skipped == 1 and summary.format == fmt
        results[fmt] = load_packed(out)
        assert not list(tmp_path.glob("*.partial*"))
    for fmt in ("npy", "npz"):
        for name in ("images", "labels", "paths", "class_names", "skipped_paths"):
            a, b = results["h5"][name], results[fmt][name]
            assert a.shape == b.shape and (a == b).all(), (fmt, name)
    np.testing.assert_array_equal(results["npy"]["images"], np.stack(pixels))
    provenance = json.loads(str(results["npz"]["provenance"]))
    assert provenance["options"]["labels"] == "dirs" and provenance["count"] == 15
    # The C++ reader reads the outputs too.
    np.testing.assert_array_equal(
        cpp.read_npy(tmp_path / "o.npy", rows=(2, 5)), np.stack(pixels[2:5])
    )
    np.testing.assert_array_equal(cpp.read_npz(tmp_path / "o.npz")["images"], np.stack(pixels))


def test_npz_members_are_deflated_and_zip64(tmp_path: Path) -> None:
    import zipfile

    src = tmp_path / "flat"
    src.mkdir()
    for i in range(3):
        iio.imwrite(src / f"{i}.png", np.full((32, 32, 3), 7, dtype=np.uint8))
    out = tmp_path / "f.npz"
    ndbridge.pack(src, out, compression="gzip", workers=1)
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo("images.npy")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.compress_size < info.file_size // 10
        assert zf.testzip() is None


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("o.npy", {"store": "encoded"}, "--store encoded"),
        ("o.npz", {"store": "encoded"}, "--store encoded"),
        ("o.npy", {"compression": "gzip"}, "cannot be compressed"),
        ("o.npz", {"compression": "lzf"}, "not lzf"),
    ],
)
def test_npy_npz_refuse_what_they_cannot_hold(
    tree: tuple[Path, list[np.ndarray]],
    tmp_path: Path,
    name: str,
    options: dict[str, str],
    match: str,
) -> None:
    src, _ = tree
    with pytest.raises(ndbridge.UsageError, match=match):
        ndbridge.pack(src, tmp_path / name, **options)  # type: ignore[arg-type]
    assert not list(tmp_path.glob("o.*"))


@pytest.mark.parametrize("fmt", ["npy", "npz"])
def test_npy_npz_resume(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from ndbridge.pack import npy_writer as _pack_npy
    from ndbridge.pack import packer as pack_module

    src, pixels = tree
    monkeypatch.setattr(pack_module, "BATCH_BYTES", 2 * 24 * 32 * 3)
    original = _pack_npy.NpySink.add
    calls = {"n": 0}

    def flaky_add(self: _pack_npy.NpySink, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_pack_npy.NpySink, "add", flaky_add)
    out = tmp_path / f"o.{fmt}"
    with pytest.raises(KeyboardInterrupt):
        ndbridge.pack(src, out, labels="dirs", workers=2)
    assert not out.exists()
    monkeypatch.setattr(_pack_npy.NpySink, "add", original)
    summary = ndbridge.pack(src, out, labels="dirs", workers=1, resume=True)
    assert summary.resumed and summary.images == 15
    packed = load_packed(out)
    np.testing.assert_array_equal(packed["images"], np.stack(pixels))
    assert packed["labels"].tolist() == [0] * 7 + [1] * 5 + [2] * 3
    assert packed["paths"][0] == "cat/0000.png" and len(packed["paths"]) == 15
    assert not list(tmp_path.glob("*.partial*"))


def test_resume_after_a_batch_cut_short_drops_its_rows(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ndbridge.pack import h5_writer as _pack_h5
    from ndbridge.pack import packer as pack_module

    src, pixels = tree
    monkeypatch.setattr(pack_module, "BATCH_BYTES", 3 * 24 * 32 * 3)
    monkeypatch.setattr(_pack_h5, "CHECKPOINT_SECONDS", 0.0)  # checkpoint every batch
    original = _pack_h5._append
    calls = {"labels": 0}

    def append_then_die(dataset: object, values: object) -> None:
        if getattr(dataset, "name", "") == "/labels":
            calls["labels"] += 1
            if calls["labels"] == 3:  # images and paths of this batch are already in
                raise KeyboardInterrupt
        original(dataset, values)  # type: ignore[arg-type]

    monkeypatch.setattr(_pack_h5, "_append", append_then_die)
    out = tmp_path / "o.h5"
    with pytest.raises(KeyboardInterrupt):
        ndbridge.pack(src, out, labels="dirs", workers=1)
    with h5py.File(tmp_path / "o.h5.partial", "r") as f:
        assert f["paths"].shape[0] > state(out)["written"]  # the cut batch's rows
    monkeypatch.setattr(_pack_h5, "_append", original)
    summary = ndbridge.pack(src, out, labels="dirs", workers=2, resume=True)
    assert summary.images == 15
    np.testing.assert_array_equal(read(out, "images"), np.stack(pixels))
    assert read(out, "labels").tolist() == [0] * 7 + [1] * 5 + [2] * 3
    assert len(read(out, "paths")) == 15


def _stop_after(monkeypatch: pytest.MonkeyPatch, sink: Any, batches: int) -> Callable[[], None]:
    """Make ``sink.add`` raise KeyboardInterrupt at its ``batches``-th call;
    returns what puts the real one back."""
    original = sink.add
    calls = {"n": 0}

    def add(self: Any, *args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == batches:
            raise KeyboardInterrupt
        original(self, *args)

    monkeypatch.setattr(sink, "add", add)
    return lambda: monkeypatch.setattr(sink, "add", original)


@pytest.mark.parametrize("fmt", ["h5", "npy"])
def test_resume_notices_a_file_swapped_for_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # One file removed and another added before the checkpoint: the same
    # count and the same last name, but other files.
    from ndbridge.pack import h5_writer, npy_writer, packer

    src = tmp_path / "src"
    make_images(src, {"a": 8}, shape=(4, 4, 3))
    monkeypatch.setattr(packer, "BATCH_BYTES", 2 * 48)
    monkeypatch.setattr(h5_writer, "CHECKPOINT_SECONDS", 0.0)
    restore = _stop_after(monkeypatch, h5_writer.H5Sink if fmt == "h5" else npy_writer.NpySink, 3)
    out = tmp_path / f"o.{fmt}"
    with pytest.raises(KeyboardInterrupt):
        ndbridge.pack(src, out, workers=1)
    restore()
    (src / "a" / "0001.png").unlink()
    iio.imwrite(src / "a" / "0000b.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ndbridge.UsageError, match="changed since"):
        ndbridge.pack(src, out, workers=1, resume=True)
    (src / "a" / "0000b.png").unlink()
    iio.imwrite(src / "a" / "0001.png", np.zeros((4, 4, 3), np.uint8))  # other bytes, same name
    with pytest.raises(ndbridge.UsageError, match="changed since"):
        ndbridge.pack(src, out, workers=1, resume=True)


@pytest.mark.parametrize("fmt", ["npy", "npz"])
def test_resume_keeps_longer_names_added_later_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from ndbridge.pack import npy_writer, packer

    src = tmp_path / "src"
    make_images(src, {"a": 6}, shape=(4, 4, 3))
    monkeypatch.setattr(packer, "BATCH_BYTES", 2 * 48)
    restore = _stop_after(monkeypatch, npy_writer.NpySink, 2)
    out = tmp_path / f"o.{fmt}"
    with pytest.raises(KeyboardInterrupt):
        ndbridge.pack(src, out, workers=1)
    restore()
    long_name = "zz_a_much_longer_file_name_than_before.png"
    iio.imwrite(src / "a" / long_name, np.zeros((4, 4, 3), np.uint8))
    summary = ndbridge.pack(src, out, workers=1, resume=True)
    assert summary.resumed and summary.images == 7
    paths = load_packed(out)["paths"].tolist()
    assert paths[0] == "a/0000.png" and paths[-1] == f"a/{long_name}"


def test_a_failed_run_says_what_it_kept_and_resume_continues(
    tree: tuple[Path, list[np.ndarray]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ndbridge.pack import h5_writer, packer

    src, pixels = tree
    monkeypatch.setattr(packer, "BATCH_BYTES", 2 * pixels[0].nbytes)
    monkeypatch.setattr(h5_writer, "CHECKPOINT_SECONDS", 0.0)
    good = (src / "dog" / "0003.png").read_bytes()
    (src / "dog" / "0003.png").write_bytes(good[:40])
    out = tmp_path / "o.h5"
    with pytest.raises(ndbridge.FormatError) as info:
        ndbridge.pack(src, out, labels="dirs", workers=2)
    message = str(info.value)
    assert "dog/0003.png" in message
    assert re.search(r"o\.h5\.partial' keeps the \d+ images packed before it", message), message
    assert "--resume" in message
    (src / "dog" / "0003.png").write_bytes(good)  # fixed: the file after the checkpoint
    summary = ndbridge.pack(src, out, labels="dirs", workers=2, resume=True)
    assert summary.resumed and summary.images == 15
    np.testing.assert_array_equal(read(out, "images"), np.stack(pixels))
