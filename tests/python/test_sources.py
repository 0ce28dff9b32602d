"""Which files a pack takes: folders and links, hidden and ignored files, names of any bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

import ndbridge
from ndbridge.__main__ import main
from ndbridge.pack.names import ESCAPED, UTF8, name_bytes, stored
from ndbridge.pack.sources import walk


def put(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.full(3, value, np.uint8))


def test_symlinked_class_folders_are_followed_once(tmp_path: Path) -> None:
    data = tmp_path / "elsewhere" / "dog"
    for i in range(2):
        put(data / f"{i}.npy", i)
    src = tmp_path / "src"
    put(src / "cat" / "0.npy")
    (src / "dog").symlink_to(data, target_is_directory=True)  # as ImageFolder follows it
    (src / "dog_again").symlink_to(data, target_is_directory=True)  # the same folder twice
    (src / "cat" / "loop").symlink_to(src, target_is_directory=True)  # back to the root
    summary = ndbridge.pack(src, tmp_path / "o.h5", labels="dirs", workers=1)
    assert summary.classes == ["cat", "dog"] and summary.images == 3
    reasons = {f["path"]: f["reason"] for f in summary.ignored_files}
    assert reasons["dog_again/"] == "same folder as 'dog', packed once"
    assert reasons["cat/loop/"].startswith("link loop")


def test_hidden_and_other_files_are_counted_named_and_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    put(src / "a" / "0.npy")
    put(src / "a" / ".1.npy")  # hidden: left out
    (src / "a" / "notes.txt").write_text("x")
    (src / ".cache").mkdir()
    put(src / ".cache" / "2.npy")
    out = tmp_path / "o.h5"
    assert main(["pack", str(src), str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ignored"] == 3
    assert summary["ignored_files"] == [
        {"path": ".cache/", "reason": "hidden"},
        {"path": "a/.1.npy", "reason": "hidden"},
        {"path": "a/notes.txt", "reason": "not one of the .npy files (.txt)"},
    ]
    with h5py.File(out, "r") as f:
        assert f["ignored/paths"].asstr()[()].tolist() == [".cache/", "a/.1.npy", "a/notes.txt"]
        assert f["ignored/reasons"].shape == (3,)
    assert main(["pack", str(src), str(tmp_path / "o.npz")]) == 0
    text = capsys.readouterr().out
    assert "3 other files ignored" in text and "ignored a/notes.txt: not one of" in text
    with np.load(tmp_path / "o.npz") as z:
        assert z["ignored_paths"].tolist() == [".cache/", "a/.1.npy", "a/notes.txt"]


def test_names_round_trip(tmp_path: Path) -> None:
    for raw in (b"caf\xc3\xa9.png", b"bad\xff\xfename.png", b"back\\slash\\x41.png"):
        name = os.fsdecode(raw)
        assert name_bytes(stored(name, ESCAPED)) == raw
        if b"\xff" not in raw:  # valid UTF-8: stored as it is when every name is
            assert name_bytes(stored(name, UTF8), UTF8) == raw


@pytest.mark.parametrize("fmt", ["h5", "npy", "npz"])
def test_names_that_are_not_utf8_survive_every_format(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src"
    raw_names = [b"caf\xc3\xa9.npy", b"latin1-\xe9t\xe9.npy", b"plain.npy", b"x\\y.npy"]
    for i, raw in enumerate(raw_names):
        put(src / "c" / os.fsdecode(raw), i)
    assert sorted(walk(src)) == sorted(f"c/{os.fsdecode(r)}" for r in raw_names)
    out = tmp_path / f"o.{fmt}"
    summary = ndbridge.pack(src, out, labels="dirs", workers=2)
    if fmt == "h5":
        with h5py.File(out, "r") as f:
            names = f["paths"].asstr()[()].tolist()
            assert f.attrs["names"] == ESCAPED
    else:
        meta = out.with_name("o.meta.npz") if fmt == "npy" else out
        with np.load(meta) as z:
            names = z["paths"].tolist()
            assert json.loads(str(z["provenance"]))["names"] == ESCAPED
    assert "c/latin1-\\xe9t\\xe9.npy" in names  # readable
    assert sorted(name_bytes(n) for n in names) == sorted(b"c/" + r for r in raw_names)
    assert summary.images == 4
