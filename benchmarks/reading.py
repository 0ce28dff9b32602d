"""Benchmark reading for training and inference and print Markdown tables.

Run from the repository root, with the Python package installed::

    python3 benchmarks/reading.py [--images 16384] [--features 262144] [--batch 256]
                                  [--repeat 7] [--fresh-repeat 11] [--workdir DIR]
                                  [--keep] [--case batches|first-reads ...]

``batches``: random batches of rows (a shuffling sampler's order) from a
packed (N, 64, 64, 3) uint8 image array and an (N, 128) float32 feature
array, each stored as HDF5 (contiguous; gzip-chunked as ``ndbridge pack
--compression gzip`` writes it, one image per chunk), .npy (read and memory
mapped) and .npz (stored and deflated). ndbridge reads each batch with one
call of a reader opened once (``cpp.H5File.read``, ``cpp.NpyReader.read``,
``cpp.NpzReader.read``, which ``ndbridge.Dataset.batch`` calls), in 1 thread
and in 2 threads sharing the reader; the peers are h5py fancy indexing (with
the sorted unique indices h5py requires), h5py row by row, and numpy memmap
fancy indexing. The variants take turns round by round, so a change in the
machine's speed hits all of them, each reading random batches of its own
(none reads rows another has just brought into the CPU's caches); cells are
medians.

``first-reads``: the first large read of a fresh process, the way a
command-line tool or an inference server starts: a 512 MiB .npy file
(``cpp.read_npy`` against ``numpy.load``) and a 400 MiB contiguous HDF5
dataset (``cpp.H5File.read`` against h5py, each file opened before the
clock starts), each sample a new Python process that times only the read,
ndbridge and the peer taking turns.
"""

from __future__ import annotations

import os

# numpy's OpenBLAS threads spin on the cores the readers' threads need; no
# case here does linear algebra.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import hashlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ndbridge import cpp

IMAGE_SHAPE = (64, 64, 3)
FEATURES = 128


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- data ---------------------------------------------------------------------------------


def make_images(n: int, seed: int = 0) -> np.ndarray:
    """Images that compress about as photos do: smooth gradients, edges and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    out = np.empty((n, *IMAGE_SHAPE), dtype=np.uint8)
    for start in range(0, n, 1024):
        k = min(1024, n - start)
        a = rng.uniform(-2, 2, (k, 1, 1, 3)).astype(np.float32)
        b = rng.uniform(-2, 2, (k, 1, 1, 3)).astype(np.float32)
        c = rng.uniform(0, 255, (k, 1, 1, 3)).astype(np.float32)
        base = a * x[None, :, :, None] + b * y[None, :, :, None] + c
        noise = rng.normal(0, 6, (k, *IMAGE_SHAPE)).astype(np.float32)
        out[start : start + k] = np.clip(base + noise, 0, 255).astype(np.uint8)
    return out


def make_features(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, FEATURES), dtype=np.float32)


@dataclass
class Stored:
    """One array in every storage the benchmark reads."""

    label: str
    array_shape: tuple[int, ...]
    files: dict[str, Path] = field(default_factory=dict)


def write_all(workdir: Path, label: str, array: np.ndarray, gzip_chunks: tuple[int, ...]) -> Stored:
    stored = Stored(label, array.shape)
    stem = workdir / label
    stored.files["npy"] = stem.with_suffix(".npy")
    stored.files["npz-stored"] = stem.with_name(f"{label}-stored.npz")
    stored.files["npz-deflated"] = stem.with_name(f"{label}-deflated.npz")
    stored.files["h5-contiguous"] = stem.with_name(f"{label}-contiguous.h5")
    stored.files["h5-gzip"] = stem.with_name(f"{label}-gzip.h5")
    if all(p.exists() for p in stored.files.values()):
        return stored
    log(f"writing {label} {array.shape} {array.dtype} in every storage")
    np.save(stored.files["npy"], array)
    np.savez(stored.files["npz-stored"], x=array)
    np.savez_compressed(stored.files["npz-deflated"], x=array)
    with h5py.File(stored.files["h5-contiguous"], "w", libver="earliest") as f:
        f["x"] = array
    with h5py.File(stored.files["h5-gzip"], "w", libver="earliest") as f:
        f.create_dataset("x", data=array, chunks=gzip_chunks, compression="gzip")
    return stored


def warm(paths: Iterator[Path]) -> None:
    for path in paths:
        with open(path, "rb") as f:
            while f.read(64 << 20):
                pass


# --- random batches ---------------------------------------------------------------------


@dataclass
class Variant:
    """One way of reading a batch: a callable per thread (each opens its own
    peers; ndbridge readers are shared), and whether it runs in 2 threads."""

    name: str
    read: Callable[[np.ndarray], Any]
    threads: int = 1


def variants_for(stored: Stored, storage: str) -> list[Variant]:
    """The readers of one cell. Each variant has a reader of its own, and a
    memory-mapped one has had every page touched: otherwise the first to read
    a row pays the page faults and the others find it mapped."""
    path = stored.files[storage]
    everything = np.arange(stored.array_shape[0])
    out: list[Variant] = []

    def mapped(read: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
        read(everything)
        return read

    if storage.startswith("h5"):
        for threads in (1, 2):
            reader = cpp.H5File(path)
            read = (lambda r: lambda idx: r.read("x", rows=idx))(reader)
            out.append(Variant(f"ndbridge, {threads} thread{'s' * (threads > 1)}", read, threads))
        h5 = h5py.File(path, "r")["x"]
        out.append(Variant("h5py fancy indexing", lambda idx: h5[np.unique(idx)]))
        out.append(Variant("h5py row by row", lambda idx: np.stack([h5[int(i)] for i in idx])))
    elif storage == "npy":
        for mmap in (False, True):
            for threads in (1, 2):
                reader = cpp.NpyReader(path, mmap=mmap)
                read = (lambda r: lambda idx: r.read(rows=idx))(reader)
                name = (
                    f"ndbridge {'mmap' if mmap else 'read'}, {threads} thread{'s' * (threads > 1)}"
                )
                out.append(Variant(name, mapped(read) if mmap else read, threads))
        memmap = np.load(path, mmap_mode="r")
        out.append(Variant("numpy memmap fancy indexing", mapped(lambda idx: memmap[idx])))
    else:
        for threads in (1, 2):
            reader = cpp.NpzReader(path)
            read = (lambda r: lambda idx: r.read("x", rows=idx))(reader)
            if storage == "npz-stored":
                read = mapped(read)  # stored members are read through a map of the archive
            out.append(Variant(f"ndbridge, {threads} thread{'s' * (threads > 1)}", read, threads))
        if storage == "npz-stored":
            out.append(Variant("numpy.load + fancy indexing", lambda idx: np.load(path)["x"][idx]))
    return out


def time_batches(variant: Variant, batches: list[np.ndarray]) -> float:
    """Seconds per batch for reading `batches`, split between the threads."""
    if variant.threads == 1:
        start = time.perf_counter()
        for idx in batches:
            variant.read(idx)
        return (time.perf_counter() - start) / len(batches)
    shares = [batches[t :: variant.threads] for t in range(variant.threads)]
    barrier = threading.Barrier(variant.threads + 1)

    def run(share: list[np.ndarray]) -> None:
        barrier.wait()
        for idx in share:
            variant.read(idx)

    workers = [threading.Thread(target=run, args=(s,)) for s in shares]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    return (time.perf_counter() - start) / len(batches)


def check_same(variants: list[Variant], idx: np.ndarray, expected: np.ndarray) -> None:
    for v in variants:
        got = v.read(idx)
        want = expected[np.unique(idx)] if "h5py fancy" in v.name else expected[idx]
        if not np.array_equal(got, want):
            raise SystemExit(f"{v.name} read different rows")


def bench_batches(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    images = make_images(args.images)
    features = make_features(args.features)
    arrays = [
        write_all(workdir, "images", images, (1, *IMAGE_SHAPE)),
        write_all(workdir, "features", features, (1024, FEATURES)),
    ]
    warm(p for s in arrays for p in s.files.values())
    rng = np.random.default_rng(42)
    rows: list[dict[str, Any]] = []
    for stored, data in zip(arrays, (images, features), strict=True):
        n = stored.array_shape[0]
        for storage in ("h5-contiguous", "h5-gzip", "npy", "npz-stored", "npz-deflated"):
            variants = variants_for(stored, storage)
            check_same(variants, rng.integers(0, n, args.batch), data)
            # A deflated member inflates from its start for every batch: a
            # few rounds say enough there.
            rounds = 3 if storage == "npz-deflated" else args.repeat
            per_round = 2 if storage == "npz-deflated" else 4
            samples: dict[str, list[float]] = {v.name: [] for v in variants}
            log(f"{stored.label} {storage}: {rounds} rounds of {per_round} batches per variant")
            for _ in range(rounds):
                # Batches of its own for each variant, drawn alike: a variant
                # reading rows another has just read would find them in the
                # CPU's caches, which flatters whichever reads last.
                for v in variants:
                    batches = [rng.integers(0, n, args.batch) for _ in range(per_round)]
                    samples[v.name].append(time_batches(v, batches))
            for v in variants:
                rows.append({"array": stored.label, "storage": storage, "variant": v.name,
                             "median_s": statistics.median(samples[v.name])})  # fmt: skip
    return rows


def print_batches(rows: list[dict[str, Any]], batch: int) -> None:
    print(f"\nRandom batches of {batch} rows, time per batch (median):\n")
    print("| array | storage | reader | per batch | vs ndbridge, 1 thread |")
    print("|---|---|---|---|---|")
    for row in rows:
        base = next(
            r["median_s"] for r in rows
            if r["array"] == row["array"] and r["storage"] == row["storage"]
            and r["variant"].startswith("ndbridge") and r["variant"].endswith("1 thread")
            and ("mmap" in r["variant"]) == ("mmap" in row["variant"])
        )  # fmt: skip
        ratio = row["median_s"] / base
        print(f"| {row['array']} | {row['storage']} | {row['variant']} | "
              f"{format_time(row['median_s'])} | {ratio:.2f}x |")  # fmt: skip


# --- first reads in fresh processes ------------------------------------------------------

FIRST_READS = {
    "ndbridge: cpp.read_npy": "from ndbridge import cpp; read = lambda: cpp.read_npy(PATH)",
    "numpy: numpy.load": "import numpy; read = lambda: numpy.load(PATH)",
    "ndbridge: H5File.read": (
        "from ndbridge import cpp; f = cpp.H5File(PATH); read = lambda: f.read('x')"
    ),
    "h5py: dataset[()]": "import h5py; f = h5py.File(PATH, 'r'); read = lambda: f['x'][()]",
}
TIMED = "import time; t = time.perf_counter(); a = read(); print(time.perf_counter() - t)"


def fresh_read(setup: str, path: Path) -> float:
    code = f"PATH = {str(path)!r}; {setup}; {TIMED}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def bench_first_reads(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    npy = workdir / "first.npy"
    h5 = workdir / "first.h5"
    if not npy.exists():
        log("writing a 512 MiB .npy file and a 400 MiB HDF5 dataset")
        np.save(npy, make_features(1 << 20, seed=3))
        with h5py.File(h5, "w", libver="earliest") as f:
            f["x"] = make_features(800 << 10, seed=4)
    warm(iter((npy, h5)))
    pairs = [
        ("512 MiB .npy", npy, "ndbridge: cpp.read_npy", "numpy: numpy.load"),
        ("400 MiB HDF5, contiguous", h5, "ndbridge: H5File.read", "h5py: dataset[()]"),
    ]
    rows = []
    for label, path, ours, theirs in pairs:
        samples: dict[str, list[float]] = {ours: [], theirs: []}
        log(f"{label}: {args.fresh_repeat} fresh processes each, taking turns")
        for _ in range(args.fresh_repeat):
            for name in (ours, theirs):
                samples[name].append(fresh_read(FIRST_READS[name], path))
        for name, values in samples.items():
            rows.append({"file": label, "reader": name, "median_s": statistics.median(values),
                         "min_s": min(values), "max_s": max(values)})  # fmt: skip
    return rows


def print_first_reads(rows: list[dict[str, Any]], repeat: int) -> None:
    print(f"\nFirst read in a fresh process ({repeat} processes each, taking turns):\n")
    print("| file | reader | median | fastest | slowest | median vs the peer |")
    print("|---|---|---|---|---|---|")
    for k in range(0, len(rows), 2):
        ours, theirs = rows[k], rows[k + 1]
        for row in (ours, theirs):
            ratio = row["median_s"] / theirs["median_s"]
            times = " | ".join(format_time(row[k]) for k in ("median_s", "min_s", "max_s"))
            print(f"| {row['file']} | {row['reader']} | {times} | {ratio:.2f}x |")


# --- the command -------------------------------------------------------------------------


def format_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def cores_for_two_threads() -> float:
    """CPU time over wall time of two threads hashing (hashlib lets go of the
    GIL): about 2 on an idle 2-core machine, 1 when other programs keep a
    core busy. The 2-thread rows cannot beat it."""
    data = bytes(64 << 20)

    def work() -> None:
        for _ in range(4):
            hashlib.sha256(data).digest()

    start, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.process_time() - cpu) / (time.perf_counter() - start)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} cores, {memory:.1f} GiB, Linux {platform.release()}, "
            f"Python {platform.python_version()}, numpy {np.__version__}, h5py {h5py.__version__} "
            f"(libhdf5 {h5py.version.hdf5_version})")  # fmt: skip


@contextmanager
def workdir_of(args: argparse.Namespace) -> Iterator[Path]:
    if args.workdir:
        path = Path(args.workdir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        if not args.keep:
            for child in path.iterdir():
                if child.suffix in (".npy", ".npz", ".h5"):
                    child.unlink()
        return
    folder = tempfile.mkdtemp(prefix="ndbridge-reading-")
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=16384, help="rows of the image array")
    parser.add_argument("--features", type=int, default=262144, help="rows of the feature array")
    parser.add_argument("--batch", type=int, default=256, help="rows per batch")
    parser.add_argument("--repeat", type=int, default=7, help="rounds per batch cell")
    parser.add_argument("--fresh-repeat", type=int, default=11, help="processes per first read")
    parser.add_argument("--workdir", help="where the data files go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the data files in --workdir")
    parser.add_argument("--case", action="append", choices=["batches", "first-reads"])
    args = parser.parse_args(argv)
    cases = args.case or ["batches", "first-reads"]
    load_before = os.getloadavg()[0]
    cores_before = cores_for_two_threads()
    with workdir_of(args) as workdir:
        if "batches" in cases:
            print_batches(bench_batches(args, workdir), args.batch)
        if "first-reads" in cases:
            print_first_reads(bench_first_reads(args, workdir), args.fresh_repeat)
    # On a shared machine other programs' load is what most limits the
    # 2-thread rows: say how busy it was.
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    cores = f"{cores_before:.2f} before, {cores_for_two_threads():.2f} after"
    print(f"\nMachine: {machine()}; load average {load}; cores two busy threads got: {cores}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
