"""Faults injected into packing, writing and reading.

A packing run killed at random points, a full disk (a small tmpfs) and a
file-size limit, unreadable files, files that vanish during a run, a low
open-files limit, a memory cap with mmap, and many threads reading at once.
Every test checks behaviour, never timing: where a fault lands at a random
moment, each possible outcome is checked for being a safe one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import ndbridge
from ndbridge import cpp
from ndbridge.convert import convert

#: Run ``python -m ndbridge``, as a user would.
CLI = [sys.executable, "-m", "ndbridge"]


def make_sources(
    root: Path, classes: int, per_class: int, shape: tuple[int, ...], seed: int = 0
) -> np.ndarray:
    """Class folders of .npy samples (np.save is quick to make thousands of);
    returns the samples in pack order."""
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, 256, (classes * per_class, *shape), dtype=np.uint8)
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            np.save(root / f"c{c}" / f"{i:05d}.npy", samples[c * per_class + i])
    return samples


def _text(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def _provenance(text: Any) -> dict[str, Any]:
    provenance = json.loads(str(text))
    provenance.pop("created")
    provenance["options"].pop("workers")
    return provenance


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _text_summary(text: list[str]) -> tuple[Any, ...]:
    ends = (text[0], text[-1]) if text else ()
    return (len(text), _digest("\0".join(text).encode(errors="surrogateescape")), *ends)


def packed(out: Path, images: bool = True) -> dict[str, Any]:
    """Everything a packed output holds, by name: arrays as (dtype, shape,
    digest of the bytes), text as (count, digest, first, last), provenance
    without its creation time. Digests keep a failing comparison's report
    short (pytest's diff of megabytes runs past the test's timeout). Opening
    and reading it all is also the check that the file is complete and valid.
    ``images=False``: a packed .npy output's OUT.meta.npz alone."""
    result: dict[str, Any] = {}

    def add(name: str, value: np.ndarray) -> None:
        if value.dtype.kind in "OSU":
            result[name] = _text_summary(_text(value))
        else:
            result[name] = (value.dtype.str, value.shape, _digest(value.tobytes()))

    if out.suffix == ".h5":
        with h5py.File(out, "r") as f:
            assert f.attrs["count"] == f["paths"].shape[0]
            assert not [k for k in f.attrs if k.startswith("ndbridge_") and k != "ndbridge_version"]
            attrs = {k: v for k, v in f.attrs.items() if k != "created"}
            attrs["options"] = {k: v for k, v in json.loads(attrs["options"]).items()}
            attrs["options"].pop("workers")
            result["attrs"] = {k: _text(v) if k != "options" else v for k, v in attrs.items()}

            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    add(name, obj[()])

            f.visititems(visit)
        return result
    if out.suffix == ".npy":
        if images:
            add("images", np.load(out))
        archive = np.load(meta_of(out))
    else:
        archive = np.load(out)
    with archive:
        for name in archive.files:
            if name == "provenance":
                result[name] = _provenance(archive[name])
            else:
                add(name, archive[name])
    return result


def meta_of(out: Path) -> Path:
    """``OUT.meta.npz``, beside a packed .npy output."""
    return out.with_name(out.stem + ".meta.npz")


def outputs(out: Path) -> list[Path]:
    """The files that carry the final name(s) of a packed output."""
    names = [out]
    if out.suffix == ".npy":
        names.append(meta_of(out))
    return [p for p in names if p.exists()]


def between_renames(out: Path, previous: Path, expected: dict[str, Any]) -> bool:
    """Whether a packed .npy output is in the one state its two renames allow
    between them: the earlier OUT byte for byte, a complete new OUT.meta.npz
    beside it, and the state and images left for --resume to finish."""
    if out.suffix != ".npy" or not same_bytes(out, previous / out.name):
        return False
    meta = packed(out, images=False)
    partial = out.with_name(out.name + ".partial")
    return (
        meta == {k: v for k, v in expected.items() if k != "images"}
        and partial.is_file()
        and partial.with_name(partial.name + ".state.json").is_file()
    )


def same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


# -- a packing run killed with SIGKILL ------------------------------------------

KILL_SEED = 7


def _run_until(command: list[str], seconds: float) -> bool:
    """Run ``command`` in its own process group; SIGKILL the whole group
    after ``seconds`` unless it ended first. Returns whether it was killed."""
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        return True
    assert proc.returncode == 0, err.decode()
    return False


@pytest.mark.parametrize(("fmt", "workers", "kills"), [("h5", 2, 4), ("npy", 1, 3), ("npz", 1, 3)])
def test_sigkill_leaves_previous_output_or_none_and_resume_completes(
    tmp_path: Path, fmt: str, workers: int, kills: int
) -> None:
    src = tmp_path / "src"
    make_sources(src, classes=4, per_class=2000, shape=(16, 16, 3))
    pack = [*CLI, "pack", str(src), "--labels", "dirs", "--workers", str(workers)]

    # The uninterrupted run: the reference, and how long a run takes here.
    reference = tmp_path / "ref" / f"ref.{fmt}"
    reference.parent.mkdir()
    started = time.monotonic()
    subprocess.run([*pack, str(reference)], check=True, capture_output=True)
    whole = time.monotonic() - started
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import ndbridge.pack, h5py"], check=True)
    startup = time.monotonic() - started
    expected = packed(reference)

    # An earlier output under the final name, which a killed --force run
    # must leave alone until it has a complete replacement.
    old = tmp_path / "old"
    make_sources(old, classes=1, per_class=3, shape=(16, 16, 3), seed=1)
    out = tmp_path / "out" / f"out.{fmt}"
    out.parent.mkdir()
    ndbridge.pack(old, out, labels="dirs", workers=1)
    previous = tmp_path / "previous"
    previous.mkdir()
    for p in outputs(out):
        shutil.copy(p, previous / p.name)

    # Kill points spread over the working part of a run, reproducibly chosen.
    rng = np.random.default_rng(KILL_SEED)
    delays = list(startup + rng.uniform(0.1, 0.6, kills) * max(whole - startup, 0.2))
    interrupted = retries = 0
    while delays:
        delay = float(delays.pop(0))
        killed = _run_until([*pack, str(out), "--force", "--resume"], delay)
        # The earlier output, untouched, or a complete new one (or, for .npy,
        # the new metadata beside the earlier images, if killed between the renames).
        changed = [p.name for p in outputs(out) if not same_bytes(p, previous / p.name)]
        if changed and not between_renames(out, previous, expected):
            assert packed(out) == expected, f"{changed} neither the old output nor complete"
        landed = killed and any(out.parent.glob("*.partial*"))
        interrupted += landed
        if not delays and not interrupted and retries < 6:
            # The machine ran faster or slower than the timed run: kill
            # earlier if the run finished, later if it had not started writing.
            retries += 1
            delays.append(delay * (1.5 if killed else 0.5))
    assert interrupted, "no kill landed while the output was being written"

    last = subprocess.run([*pack, str(out), "--force", "--resume"], capture_output=True, text=True)
    assert last.returncode == 0, last.stderr
    assert packed(out) == expected
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(p.name for p in outputs(out))


# -- killed at the renames that finish a run --------------------------------------

#: Runs its arguments with SIGINT, SIGTERM and SIGHUP at their defaults, or
#: ignored when named in NDBRIDGE_TEST_IGNORE: a suite started in the
#: background or under nohup inherits them ignored, and an ignored signal is
#: the caller's choice, which pack keeps (as every Unix program does).
SIGNALS_AS_A_TERMINAL_SETS_THEM = (
    "import os, signal, sys\n"
    "ignored = os.environ.pop('NDBRIDGE_TEST_IGNORE', '').split()\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):\n"
    "    signal.signal(s, signal.SIG_IGN if s.name in ignored else signal.SIG_DFL)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)

#: ``python -c SCRIPT`` started as from a terminal (see above).
_AS_FROM_A_TERMINAL = [sys.executable, "-c", SIGNALS_AS_A_TERMINAL_SETS_THEM, sys.executable, "-c"]

#: Runs the CLI (arguments from the third on) with os.replace sending the
#: process the signal numbered first right after it has renamed something
#: to the path given second.
_SIGNAL_AFTER_RENAME = textwrap.dedent("""
    import os, runpy, sys
    signum, target, real = int(sys.argv[1]), os.path.abspath(sys.argv[2]), os.replace
    def replace(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        if os.path.abspath(dst) == target:
            os.kill(os.getpid(), signum)
    os.replace = replace
    sys.argv = ["ndbridge", *sys.argv[3:]]
    runpy.run_module("ndbridge", run_name="__main__")
""")


def _pack_then_repack_over_it(tmp_path: Path, fmt: str) -> tuple[Path, Path, dict[str, Any]]:
    """A small source folder, an earlier output of other files under OUT
    (copied to ``previous/``), and what packing the folder gives."""
    src = tmp_path / "src"
    make_sources(src, classes=2, per_class=20, shape=(8, 8, 3))
    reference = tmp_path / "ref" / f"ref.{fmt}"
    reference.parent.mkdir()
    ndbridge.pack(src, reference, labels="dirs", workers=1)
    out = tmp_path / "out" / f"out.{fmt}"
    out.parent.mkdir()
    make_sources(tmp_path / "old", classes=1, per_class=3, shape=(8, 8, 3), seed=1)
    ndbridge.pack(tmp_path / "old", out, labels="dirs", workers=1)
    previous = tmp_path / "previous"
    previous.mkdir()
    for p in outputs(out):
        shutil.copy(p, previous / p.name)
    return src, out, packed(reference)


def _repack_signalled(
    src: Path, out: Path, signum: int, renamed: Path
) -> subprocess.CompletedProcess[str]:
    """``ndbridge pack SRC OUT --force`` receiving ``signum`` just after its
    rename to ``renamed``."""
    args = ["pack", str(src), str(out), "--labels", "dirs", "--workers", "1", "--force"]
    return subprocess.run(
        [*_AS_FROM_A_TERMINAL, _SIGNAL_AFTER_RENAME, str(signum), str(renamed), *args],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("fmt", "renamed"),
    [("npy", "meta"), ("npy", "out"), ("npz", "out"), ("h5", "out")],
)
def test_killed_at_a_final_rename_then_resume_completes(
    tmp_path: Path, fmt: str, renamed: str
) -> None:
    src, out, expected = _pack_then_repack_over_it(tmp_path, fmt)
    killed = _repack_signalled(src, out, signal.SIGKILL, meta_of(out) if renamed == "meta" else out)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if renamed == "meta":
        assert between_renames(out, tmp_path / "previous", expected)
        with pytest.raises(ndbridge.UsageError, match=r"'labels' has 40 rows, but the samples 3"):
            ndbridge.Dataset(out)
    else:
        assert packed(out) == expected
    resumed = subprocess.run(
        [*CLI, "pack", str(src), str(out), "--labels", "dirs", "--force", "--resume"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert packed(out) == expected
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(p.name for p in outputs(out))


@pytest.mark.parametrize(
    ("fmt", "signum"),
    [
        ("npy", signal.SIGINT),
        ("npy", signal.SIGTERM),
        ("npz", signal.SIGHUP),
        ("h5", signal.SIGINT),
    ],
)
def test_a_signal_among_the_final_renames_lets_the_run_complete(
    tmp_path: Path, fmt: str, signum: int
) -> None:
    # Once the output is complete, Ctrl-C (or kill, or a hang-up) in the
    # milliseconds of its renames must not leave it half in place, nor a
    # state that a later --resume trips over: the run completes.
    src, out, expected = _pack_then_repack_over_it(tmp_path, fmt)
    run = _repack_signalled(src, out, signum, meta_of(out) if fmt == "npy" else out)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("packed "), run.stdout
    assert packed(out) == expected
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(p.name for p in outputs(out))


#: Runs the CLI (arguments from the third on) with the method named first
#: ("module:Class.method") sending the process SIGINT each time it returns.
_INTERRUPTED_AFTER = textwrap.dedent("""
    import importlib, os, runpy, signal, sys
    module, _, name = sys.argv[1].partition(":")
    owner_name, _, method = name.rpartition(".")
    owner = getattr(importlib.import_module(module), owner_name)
    real = getattr(owner, method)
    def then_interrupt(*args, **kwargs):
        result = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return result
    setattr(owner, method, then_interrupt)
    sys.argv = ["ndbridge", *sys.argv[2:]]
    runpy.run_module("ndbridge", run_name="__main__")
""")


def _interrupted_after(method: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ndbridge ARGS`` with ``method`` sending the process SIGINT whenever it returns."""
    command = [*_AS_FROM_A_TERMINAL, _INTERRUPTED_AFTER, method, *args]
    return subprocess.run(command, capture_output=True, text=True)


def test_ctrl_c_after_a_pack_has_finished_is_not_an_interruption(tmp_path: Path) -> None:
    # The output is in place and the partial files are gone: "interrupted,
    # --resume" would send the user to a state that no longer exists.
    src = tmp_path / "src"
    make_sources(src, classes=2, per_class=5, shape=(8, 8, 3))
    out = tmp_path / "out.npy"
    run = _interrupted_after("ndbridge.pack.lock:OutputLock.__exit__", "pack", str(src), str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("packed 10 images"), run.stdout
    assert not run.stderr
    assert np.load(out).shape == (10, 8, 8, 3)


@pytest.mark.parametrize("fmt", ["h5", "npy"])
def test_ctrl_c_before_any_progress_says_so_and_leaves_nothing(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src"
    make_sources(src, classes=2, per_class=5, shape=(8, 8, 3))
    out = tmp_path / "out" / f"out.{fmt}"
    out.parent.mkdir()
    # Interrupted as the walk over the packed files (none yet) ends, before the first batch.
    run = _interrupted_after("ndbridge.pack.packer:_Run.skip_packed", "pack", str(src), str(out))
    assert run.returncode == 130, run.stderr
    assert run.stderr == "interrupted before any progress was saved; run the same command again\n"
    assert list(out.parent.iterdir()) == []
    again = subprocess.run([*CLI, "pack", str(src), str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr


def test_resume_from_a_damaged_h5_partial_starts_over_and_says_so(tmp_path: Path) -> None:
    # HDF5 files are not crash-safe: SIGKILL while libhdf5 writes a
    # checkpoint's metadata can leave a partial file it cannot reopen.
    src = tmp_path / "src"
    make_sources(src, classes=2, per_class=300, shape=(8, 8, 3))
    reference = tmp_path / "ref.h5"
    ndbridge.pack(src, reference, labels="dirs", workers=1)
    out = tmp_path / "out" / "out.h5"
    out.parent.mkdir()
    args = ["pack", str(src), str(out), "--labels", "dirs", "--workers", "1"]
    # Interrupted after its first batch: progress checkpointed, whatever the machine's speed.
    stopped = _interrupted_after("ndbridge.pack.h5_writer:H5Sink.add", *args)
    assert stopped.returncode == 130, stopped.stderr
    partial = out.with_name("out.h5.partial")
    state = json.loads(partial.with_name("out.h5.partial.state.json").read_text())
    assert 0 < state["consumed"] < 600, state
    with partial.open("r+b") as f:
        f.truncate(5000)  # the end of the file, with the metadata written last, gone

    resumed = subprocess.run([*CLI, *args, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"note: '{partial}' could not be resumed (" in resumed.stdout, resumed.stdout
    assert "started over" in resumed.stdout, resumed.stdout
    assert packed(out) == packed(reference)
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.h5"]


# -- full disk: a small tmpfs ----------------------------------------------------


def _mount(folder: Path, size: str, remount: bool = False) -> subprocess.CompletedProcess[str]:
    options = f"remount,size={size}" if remount else f"size={size}"
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for the test (root only; skipped elsewhere)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = _mount(disk, "2m")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _expect_no_room(info: pytest.ExceptionInfo[Exception], named: Path, code: int) -> None:
    """The error says which file and why: an ndbridge OSError with ``code``."""
    e = info.value
    assert isinstance(e, ndbridge.Error) and isinstance(e, OSError), repr(e)
    assert e.errno == code, repr(e)
    assert str(named) in str(e), str(e)
    assert os.strerror(code) in str(e), str(e)
    assert "\n" not in str(e) and "buf = " not in str(e), str(e)  # not HDF5's raw report


BIG = np.random.default_rng(3).integers(0, 256, (3 << 20,), dtype=np.uint8)  # 3 MiB

WRITERS: dict[str, Callable[[Path], None]] = {
    "cpp.write_npy": lambda p: cpp.write_npy(p, BIG),
    "cpp.write_npz": lambda p: cpp.write_npz(p, {"a": BIG}),
    "cpp.write_npz deflated": lambda p: cpp.write_npz(p, {"a": BIG}, compress=True),
    "cpp.write_h5": lambda p: cpp.write_h5(p, "a", BIG),
    "cpp.write_h5 gzip": lambda p: cpp.write_h5(p, "a", BIG, compression="gzip"),
}
SUFFIXES = {"npy": ".npy", "npz": ".npz", "h5": ".h5"}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_full_disk_cpp_writers(small_disk: Path, writer: str) -> None:
    out = small_disk / f"w{SUFFIXES[writer.split()[0].rsplit('_', 1)[1]]}"
    with pytest.raises(OSError) as info:
        WRITERS[writer](out)
    _expect_no_room(info, out, errno.ENOSPC)
    assert list(small_disk.iterdir()) == []  # no final name, no temporary file


@pytest.mark.parametrize("suffix", [".h5", ".npz", ".npy"])
def test_full_disk_convert(small_disk: Path, tmp_path: Path, suffix: str) -> None:
    src = tmp_path / "big.npy"
    np.save(src, BIG)
    out = small_disk / f"c{suffix}"
    with pytest.raises(OSError) as info:
        convert(src, out)
    _expect_no_room(info, out, errno.ENOSPC)
    assert list(small_disk.iterdir()) == []


@pytest.mark.parametrize("fmt", ["h5", "npy", "npz"])
def test_full_disk_pack_then_resume_with_room(
    small_disk: Path, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ndbridge.pack import h5_writer

    monkeypatch.setattr(h5_writer, "CHECKPOINT_SECONDS", 0.0)  # progress saved every batch
    src = tmp_path / "src"
    make_sources(src, classes=2, per_class=30, shape=(128, 128, 3))  # 2.8 MiB of pixels
    reference = tmp_path / f"ref.{fmt}"
    ndbridge.pack(src, reference, labels="dirs", workers=1)
    out = small_disk / f"o.{fmt}"
    with pytest.raises(OSError) as info:
        ndbridge.pack(src, out, labels="dirs", workers=1)
    _expect_no_room(info, small_disk / f"o.{fmt}.partial", errno.ENOSPC)
    assert re.search(r"kept in '.*\.partial': run again with --resume", str(info.value))
    assert not outputs(out)
    # What was written stays, so the run continues once there is room.
    assert _mount(small_disk, "32m", remount=True).returncode == 0
    summary = ndbridge.pack(src, out, labels="dirs", workers=1, resume=True)
    assert summary.resumed and summary.images == 60
    assert packed(out) == packed(reference)
    assert sorted(small_disk.iterdir()) == sorted(outputs(out))


# -- file-size limit (RLIMIT_FSIZE), anywhere --------------------------------------

#: Runs first in every child process: a helper that reports how a call ended.
CHILD = textwrap.dedent("""
    import json, os, resource, signal, sys
    import numpy as np
    import ndbridge
    from ndbridge import cpp
    from ndbridge.convert import convert

    def outcome(call):
        try:
            value = call()
        except BaseException as e:
            return {"ok": False, "types": [c.__name__ for c in type(e).__mro__],
                    "errno": getattr(e, "errno", None), "message": str(e)}
        return {"ok": True, **({"value": value} if isinstance(value, int) else {})}
""")


def run_child(code: str, *, prefix: list[str] | None = None) -> Any:
    """Run CHILD + ``code`` in a fresh interpreter; returns the JSON it prints last."""
    done = subprocess.run(
        [*(prefix or []), sys.executable, "-c", CHILD + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


FSIZE_CASES = {
    **{name: f"WRITERS[{name!r}](out)" for name in WRITERS},
    "convert to .h5": "convert(src, out)",
    "convert to .npz": "convert(src, out)",
    "convert to .npy": "convert(src, out)",
    "pack to .h5": "ndbridge.pack(folder, out, workers=1)",
    "pack to .npy": "ndbridge.pack(folder, out, workers=1)",
    "pack to .npz": "ndbridge.pack(folder, out, workers=1)",
}


def _case_suffix(case: str) -> str:
    if case.startswith("cpp."):
        return SUFFIXES[case.split()[0].rsplit("_", 1)[1]]
    return case.rsplit(" ", 1)[1]


@pytest.mark.parametrize("case", list(FSIZE_CASES))
def test_file_size_limit(tmp_path: Path, case: str) -> None:
    src = tmp_path / "big.npy"
    np.save(src, BIG)
    folder = tmp_path / "samples"
    make_sources(folder, classes=1, per_class=30, shape=(128, 128, 3))  # 1.4 MiB
    work = tmp_path / "work"
    work.mkdir()
    out = work / f"o{_case_suffix(case)}"
    result = run_child(f"""
        BIG = np.load({str(src)!r})
        WRITERS = {{
            "cpp.write_npy": lambda p: cpp.write_npy(p, BIG),
            "cpp.write_npz": lambda p: cpp.write_npz(p, {{"a": BIG}}),
            "cpp.write_npz deflated": lambda p: cpp.write_npz(p, {{"a": BIG}}, compress=True),
            "cpp.write_h5": lambda p: cpp.write_h5(p, "a", BIG),
            "cpp.write_h5 gzip": lambda p: cpp.write_h5(p, "a", BIG, compression="gzip"),
        }}
        src, folder, out = {str(src)!r}, {str(folder)!r}, {str(out)!r}
        from ndbridge.pack import h5_writer, packer
        packer.BATCH_BYTES = 4 * 128 * 128 * 3  # batches of 4, progress saved after each
        h5_writer.CHECKPOINT_SECONDS = 0.0
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        print(json.dumps(outcome(lambda: {FSIZE_CASES[case]})))
    """)
    assert not result["ok"], case
    assert "Error" in result["types"] and "OSError" in result["types"], result
    assert result["errno"] == errno.EFBIG, result
    named = out.with_name(out.name + ".partial") if case.startswith("pack") else out
    assert str(named) in result["message"] and "too large" in result["message"], result
    assert "\n" not in result["message"], result
    assert not outputs(out)
    left = sorted(p.name for p in work.iterdir())
    if not case.startswith("pack"):
        assert left == [], left  # the temporary file is gone too
        return
    # Packing keeps what it wrote for --resume, which completes the run once
    # the limit is gone, unless no progress could be saved (HDF5 writes its
    # last records past the limit; a .npy output is allocated whole, past it,
    # before the first batch): then the partial file is removed and the
    # message says so.
    if left:
        assert left and all(".partial" in name for name in left), left
        assert re.search(r"kept in '.*\.partial': run again with --resume", result["message"])
        assert ndbridge.pack(folder, out, workers=1, resume=True).resumed
    else:
        assert "no progress was saved yet" in result["message"], result
        ndbridge.pack(folder, out, workers=1)
    reference = tmp_path / f"ref{out.suffix}"
    ndbridge.pack(folder, reference, workers=1)
    assert packed(out) == packed(reference)


# -- unreadable files ----------------------------------------------------------------


def without_root_powers() -> list[str]:
    """A command prefix under which chmod 000 keeps a file unreadable.

    Root reads anything through CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH; setpriv
    drops them from the bounding set, so the child runs as root without them
    (dropping to 'nobody' would also lose access to a venv under /root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is missing: chmod 000 cannot hide a file")
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop root's file-access powers here: {probe.stderr.strip()}")
    return prefix


def test_unreadable_files(tmp_path: Path) -> None:
    prefix = without_root_powers()
    src = tmp_path / "src"
    samples = make_sources(src, classes=2, per_class=4, shape=(4, 4))
    locked = [src / "c0" / "00001.npy", src / "c1" / "00003.npy"]
    for p in locked:
        p.chmod(0)
    h5 = tmp_path / "locked.h5"
    cpp.write_h5(h5, "x", samples)
    npz = tmp_path / "locked.npz"
    cpp.write_npz(npz, {"x": samples})
    for p in (h5, npz):
        p.chmod(0)
    result = run_child(
        f"""
        src = {str(src)!r}
        out = {str(tmp_path / "o.h5")!r}
        results = {{
            "fail": outcome(lambda: ndbridge.pack(src, out, labels="dirs", workers=2)),
            "npy": outcome(lambda: cpp.read_npy({str(locked[0])!r})),
            "npy mmap": outcome(lambda: cpp.read_npy({str(locked[0])!r}, mmap=True)),
            "npz": outcome(lambda: cpp.read_npz({str(npz)!r})),
            "h5": outcome(lambda: cpp.read_h5({str(h5)!r}, "x")),
            "h5 file": outcome(lambda: cpp.H5File({str(h5)!r})),
        }}
        s = ndbridge.pack(src, out, labels="dirs", workers=2, on_error="skip")
        results["skip"] = s.skipped_files
        print(json.dumps(results))
        """,
        prefix=prefix,
    )
    fail = result.pop("fail")
    assert "PermissionError" in fail["types"] and "FileError" in fail["types"], fail
    assert str(locked[0]) in fail["message"] and "Permission denied" in fail["message"]
    assert result.pop("skip") == [
        {"path": "c0/00001.npy", "reason": "cannot read: Permission denied"},
        {"path": "c1/00003.npy", "reason": "cannot read: Permission denied"},
    ]
    for what, r in result.items():
        named = locked[0] if what.startswith("npy") else npz if what == "npz" else h5
        assert "PermissionError" in r["types"] and "Error" in r["types"], (what, r)
        assert r["errno"] == errno.EACCES, (what, r)
        assert "Permission denied" in r["message"] and str(named) in r["message"], (what, r)
    with h5py.File(tmp_path / "o.h5", "r") as f:
        kept = [i for i in range(8) if i not in (1, 7)]
        np.testing.assert_array_equal(f["images"][()], samples[kept])
        assert f["skipped/paths"].asstr()[()].tolist() == ["c0/00001.npy", "c1/00003.npy"]


def test_unreadable_folder_is_named(tmp_path: Path) -> None:
    prefix = without_root_powers()
    src = tmp_path / "src"
    make_sources(src, classes=2, per_class=2, shape=(4, 4))
    (src / "c1").chmod(0)
    try:
        result = run_child(
            f"print(json.dumps(outcome(lambda: ndbridge.pack({str(src)!r}, "
            f"{str(tmp_path / 'o.h5')!r}, on_error='skip'))))",
            prefix=prefix,
        )
    finally:
        (src / "c1").chmod(0o755)
    assert "PermissionError" in result["types"], result
    assert str(src / "c1") in result["message"], result
    assert not (tmp_path / "o.h5").exists()


# -- files vanishing during the run ------------------------------------------------


@pytest.fixture
def vanishing(monkeypatch: pytest.MonkeyPatch) -> Callable[[set[str]], None]:
    """Make files vanish after the run has planned them: each named file
    is deleted just after the walk lists it, before any worker reads it."""
    from ndbridge.pack import packer as packing

    def arrange(doomed: set[str]) -> None:
        real = packing.sources

        def sources(root: Path, kind: str, classes: list[str]) -> Iterator[tuple[str, int]]:
            for rel, label in real(root, kind, classes):
                if rel in doomed:
                    (root / rel).unlink()
                yield rel, label

        monkeypatch.setattr(packing, "sources", sources)

    return arrange


@pytest.mark.parametrize("fmt", ["h5", "npy", "npz"])
@pytest.mark.parametrize("workers", [1, 2])
def test_vanishing_files_are_skipped_or_named(
    tmp_path: Path, vanishing: Callable[[set[str]], None], fmt: str, workers: int
) -> None:
    src = tmp_path / "src"
    samples = make_sources(src, classes=2, per_class=5, shape=(6, 6, 3))
    doomed = {"c0/00002.npy", "c1/00000.npy", "c1/00004.npy"}
    vanishing(doomed)
    out = tmp_path / f"o.{fmt}"
    summary = ndbridge.pack(src, out, labels="dirs", workers=workers, on_error="skip")
    assert summary.images == 7 and summary.skipped == 3
    reasons = {f["path"]: f["reason"] for f in summary.skipped_files}
    assert reasons == dict.fromkeys(sorted(doomed), "cannot read: No such file or directory")
    kept = [i for i in range(10) if i not in (2, 5, 9)]
    result = packed(out)
    assert result["images"][2] == _digest(samples[kept].tobytes())
    assert result["labels"][2] == _digest(np.array([0] * 4 + [1] * 3, "<i8").tobytes())
    skipped = result["skipped/paths" if fmt == "h5" else "skipped_paths"]
    assert skipped == _text_summary(sorted(doomed))


def test_a_vanished_file_fails_the_run_naming_it(
    tmp_path: Path, vanishing: Callable[[set[str]], None]
) -> None:
    src = tmp_path / "src"
    make_sources(src, classes=2, per_class=3, shape=(6, 6))
    vanishing({"c1/00001.npy"})
    out = tmp_path / "o.h5"
    with pytest.raises(FileNotFoundError) as info:
        ndbridge.pack(src, out, workers=2)
    assert isinstance(info.value, ndbridge.FileError)
    assert str(src / "c1" / "00001.npy") in str(info.value)
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["h5", "npy"])
@pytest.mark.parametrize("change", ["removed", "added"])
def test_resume_refuses_a_changed_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, change: str
) -> None:
    # Resuming counts the files already handled; a file removed or added
    # before that point would shift the rest: one packed twice or never.
    from ndbridge.pack import h5_writer as _pack_h5
    from ndbridge.pack import npy_writer as _pack_npy
    from ndbridge.pack import packer as pack_module

    src = tmp_path / "src"
    make_sources(src, classes=2, per_class=6, shape=(6, 6))
    monkeypatch.setattr(pack_module, "BATCH_BYTES", 2 * 36)  # batches of 2
    monkeypatch.setattr(_pack_h5, "CHECKPOINT_SECONDS", 0.0)
    sink = _pack_h5.H5Sink if fmt == "h5" else _pack_npy.NpySink
    original = sink.add
    calls = {"n": 0}

    def add_then_stop(self: Any, *args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        original(self, *args)

    monkeypatch.setattr(sink, "add", add_then_stop)
    out = tmp_path / f"o.{fmt}"
    with pytest.raises(KeyboardInterrupt):
        ndbridge.pack(src, out, workers=1)
    monkeypatch.setattr(sink, "add", original)
    if change == "removed":
        (src / "c0" / "00000.npy").unlink()
    else:
        np.save(src / "c0" / "00000a.npy", np.zeros((6, 6), np.uint8))
    with pytest.raises(ndbridge.UsageError, match="changed since"):
        ndbridge.pack(src, out, workers=1, resume=True)
    assert not out.exists()
    summary = ndbridge.pack(src, out, workers=1, force=True)  # starting over works
    assert summary.images == (11 if change == "removed" else 13)


# -- open-files limit -------------------------------------------------------------


def test_open_files_limit_with_the_cpp_readers(tmp_path: Path) -> None:
    # Hundreds of files read one after another under a limit of 32: nothing
    # leaks a descriptor. With every descriptor taken, each reader fails
    # with EMFILE naming the file, and recovers once descriptors are free.
    arrays = [np.full((8, 3), i, dtype="<i4") for i in range(300)]
    for i, a in enumerate(arrays):
        np.save(tmp_path / f"{i:03d}.npy", a)
    cpp.write_npz(tmp_path / "a.npz", {"x": arrays[0]})
    cpp.write_h5(tmp_path / "a.h5", "x", arrays[0], compression="gzip")
    result = run_child(f"""
        folder = {str(tmp_path)!r}
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
        total = 0
        for round in range(3):
            for i in range(300):
                total += int(cpp.read_npy(f"{{folder}}/{{i:03d}}.npy")[0, 0])
                total += int(cpp.read_npy(f"{{folder}}/{{i:03d}}.npy", mmap=True)[7, 2])
                total += int(cpp.read_npy(f"{{folder}}/{{i:03d}}.npy", rows=(1, 2))[0, 1])
            for _ in range(100):
                total += int(cpp.read_npz(f"{{folder}}/a.npz")["x"].sum())
                total += int(cpp.read_h5(f"{{folder}}/a.h5", "x").sum())
                with cpp.H5File(f"{{folder}}/a.h5") as f:
                    total += int(f.read("x", rows=(0, 1)).sum())
        held = []
        try:
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        full = {{
            "npy": outcome(lambda: cpp.read_npy(f"{{folder}}/001.npy")),
            "npy mmap": outcome(lambda: cpp.read_npy(f"{{folder}}/001.npy", mmap=True)),
            "npz": outcome(lambda: cpp.read_npz(f"{{folder}}/a.npz")),
            "h5": outcome(lambda: cpp.read_h5(f"{{folder}}/a.h5", "x")),
        }}
        for fd in held:
            os.close(fd)
        after = int(cpp.read_h5(f"{{folder}}/a.h5", "x").sum())
        after += int(cpp.read_npy(f"{{folder}}/001.npy").sum())
        print(json.dumps({{"total": total, "full": full, "after": after}}))
    """)
    assert result["total"] == 3 * 3 * sum(range(300))  # the .npz and HDF5 arrays sum to 0
    assert result["after"] == 24
    for what, r in result["full"].items():
        assert not r["ok"] and "OSError" in r["types"] and "Error" in r["types"], (what, r)
        assert r["errno"] == errno.EMFILE, (what, r)
        assert "Too many open files" in r["message"] and str(tmp_path) in r["message"], (what, r)


# -- memory cap (RLIMIT_AS) and mmap -----------------------------------------------


def test_memory_cap_with_a_file_larger_than_the_cap(tmp_path: Path) -> None:
    # A 2 GiB .npy (sparse: no disk used) under an address-space cap of
    # about 1 GiB more than the interpreter already uses. Mapping it needs
    # 2 GiB of address space, as does reading it whole: both must fail with
    # an error naming the file, not kill the process; reading part of it
    # must work, and so must mapping a file that fits.
    big = tmp_path / "big.npy"
    rows, width = 1 << 15, 1 << 16  # 2 GiB of uint8
    header = np.lib.format.header_data_from_array_1_0(np.zeros((0, width), np.uint8))
    header["shape"] = (rows, width)
    with open(big, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        offset = f.tell()
        f.truncate(offset + rows * width)
        f.seek(offset + 5 * width)
        f.write(bytes(range(256)) * (width // 256))  # row 5 is not all zeros
    small = tmp_path / "small.npy"
    np.save(small, np.arange(1 << 20, dtype="<f8").reshape(1024, 1024))  # 8 MiB
    result = run_child(f"""
        def vm_bytes():
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmSize:"):
                        return int(line.split()[1]) * 1024
        cap = vm_bytes() + (1 << 30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        big, small = {str(big)!r}, {str(small)!r}
        results = {{
            "mmap": outcome(lambda: cpp.read_npy(big, mmap=True)),
            "whole": outcome(lambda: cpp.read_npy(big)),
            "mmap rows": outcome(lambda: int(
                cpp.read_npy(big, mmap=True, rows=(3, 8))[2, :256].astype(np.int64).sum())),
        }}
        part = cpp.read_npy(big, rows=(4, 4 + 128))  # 8 MiB of it
        fifth = int(part[1, :256].astype(np.int64).sum())
        results["part"] = [list(part.shape), fifth, int(part[0].sum())]
        m = cpp.read_npy(small, mmap=True)
        results["small mmap"] = float(m[1023, 1023])
        results["header"] = cpp.read_npy_header(big)["shape"]
        # Reads of 64 MiB or more are split between threads. With the cap
        # lowered to leave room for the buffer but not for a thread's stack,
        # the read still completes, in this thread.
        tight = vm_bytes() + (70 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (tight, cap))
        def row_five():
            split = cpp.read_npy(big, rows=(0, 1040))
            return int(split[5, :256].astype(np.int64).sum())
        results["split"] = outcome(row_five)
        print(json.dumps(results))
    """)
    assert result["part"] == [[128, 1 << 16], sum(range(256)), 0]
    assert result["small mmap"] == float((1 << 20) - 1)
    assert result["header"] == [1 << 15, 1 << 16]
    # Mapping the whole file takes its size in address space: an OSError
    # (ENOMEM) naming the file, as any failed mmap(2). Mapping rows takes
    # only theirs.
    r = result["mmap"]
    assert "FileError" in r["types"] and r["errno"] == errno.ENOMEM, r
    assert str(big) in r["message"] and "cannot map" in r["message"], r
    assert result["mmap rows"] == {"ok": True, "value": sum(range(256))}
    # Reading it whole needs the memory itself: a MemoryError, as numpy
    # gives, but saying which file and how much.
    r = result["whole"]
    assert r["types"][0] == "MemoryError", r
    assert str(big) in r["message"] and str(rows * width) in r["message"], r
    assert result["split"] == {"ok": True, "value": sum(range(256))}


# -- many threads, one process -------------------------------------------------------


def test_threads_read_the_same_and_different_files(tmp_path: Path) -> None:
    # The binding releases the GIL, so these reads really run at once.
    rng = np.random.default_rng(5)
    arrays = {
        "a.npy": rng.standard_normal((3000, 64)).astype("<f4"),
        "b.npy": rng.integers(0, 1 << 30, (2000, 33)).astype(">i8"),
        "c.npy": np.asfortranarray(rng.standard_normal((500, 300))),
    }
    for name, a in arrays.items():
        np.save(tmp_path / name, a)
    np.savez(tmp_path / "s.npz", **{k[0]: v for k, v in arrays.items()})
    np.savez_compressed(tmp_path / "d.npz", **{k[0]: v for k, v in arrays.items()})
    with h5py.File(tmp_path / "h.h5", "w", libver="earliest") as f:
        f.create_dataset("a", data=arrays["a.npy"], chunks=(100, 64), compression="gzip")
        f.create_dataset("b", data=arrays["b.npy"], chunks=(50, 33), compression="lzf")
        f.create_dataset("c", data=arrays["c.npy"])
    shared = cpp.H5File(tmp_path / "h.h5")
    errors: list[str] = []
    barrier = threading.Barrier(6)

    def check(what: str, got: np.ndarray, want: np.ndarray) -> None:
        if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
            errors.append(what)

    def work(t: int) -> int:
        barrier.wait()
        checks = 0
        for r in range(6):
            for k, (name, want) in enumerate(arrays.items()):
                key = name[0]
                lo = (t * 131 + r * 17 + k) % (want.shape[0] - 10)
                hi = lo + 1 + (t + r) % 9
                check(f"{name} whole", cpp.read_npy(tmp_path / name), want)
                check(f"{name} mmap", cpp.read_npy(tmp_path / name, mmap=True), want)
                check(f"{name} rows", cpp.read_npy(tmp_path / name, rows=(lo, hi)), want[lo:hi])
                check(f"s.npz {key}", cpp.read_npz(tmp_path / "s.npz")[key], want)
                check(f"d.npz {key}", cpp.read_npz(tmp_path / "d.npz")[key], want)
                check(f"h5 {key}", cpp.read_h5(tmp_path / "h.h5", key, rows=(lo, hi)), want[lo:hi])
                check(f"shared h5 {key}", shared.read(key, rows=(lo, hi)), want[lo:hi])
                checks += 7
        return checks

    with ThreadPoolExecutor(6) as pool:
        total = sum(pool.map(work, range(6)))
    shared.close()
    assert not errors, errors[:10]
    assert total == 6 * 6 * 3 * 7


@pytest.mark.parametrize("fmt", ["h5", "npy", "npz"])
def test_full_disk_before_the_first_checkpoint_then_resume(
    small_disk: Path, tmp_path: Path, fmt: str
) -> None:
    # The disk fills before any progress was saved: nothing is kept, the
    # message says so, and --resume (which users run as told) starts over.
    src = tmp_path / "src"
    make_sources(src, classes=1, per_class=20, shape=(512, 512, 3))  # 15 MiB on a 2 MiB disk
    out = small_disk / f"o.{fmt}"
    with pytest.raises(OSError) as info:
        ndbridge.pack(src, out, workers=2, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert "no progress was saved yet" in str(info.value) or "kept in" in str(info.value)
    assert _mount(small_disk, "64m", remount=True).returncode == 0
    summary = ndbridge.pack(src, out, workers=2, resume=True)
    assert summary.images == 20
    assert sorted(small_disk.iterdir()) == sorted(outputs(out))
