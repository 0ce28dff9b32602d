"""Benchmark ndbridge's readers against numpy and print a Markdown table.

Run from the repository root, with the Python package installed
(``pip install .``) so that ``from ndbridge import cpp`` works::

    python3 benchmarks/run.py [--size-gib 1.0] [--repeat 5] [--workdir DIR]
                              [--build-dir build/bench] [--keep] [--json]
                              [--case NAME ...]

The script builds the C++ benchmark programs with CMake, writes its data files
with numpy and h5py, reads each file once so that every timing starts from a warm page
cache, and then runs each case in ``CASES``. See benchmarks/README.md for what
each row measures.

Adding a case: write a function that takes a ``Bench`` and returns a list of
``Row`` (one per table line), then add it to ``CASES``. ``Bench`` creates data
files on demand (``npy_file``, ``npy_folder``, ``npz_file``, ``h5_file``),
runs the C++ programs (``cpp``) and times Python callables (``python``,
and ``python_interleaved`` for variants that take turns).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent

#: Open+close pairs averaged into one sample of a memory-map timing: one open
#: takes microseconds, too short to time on its own.
MAP_CALLS = 1000
#: Number and shape of the files in the small-files case.
SMALL_COUNT = 1000
SMALL_SHAPE = (64, 64)
#: Columns of the large array; its rows follow from --size-gib.
LARGE_COLUMNS = 4096


@dataclass(frozen=True)
class Timing:
    """Best and median of repeated samples, in seconds per call."""

    best: float
    median: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Timing:
        """Summarize samples given in seconds."""
        return cls(min(samples), statistics.median(samples))

    def as_dict(self) -> dict[str, float]:
        """Return the JSON form."""
        return {"best_s": self.best, "median_s": self.median}


@dataclass
class Row:
    """One line of the table: the same work done three ways."""

    case: str
    cpp: Timing | None = None
    binding: Timing | None = None
    numpy: Timing | None = None

    @property
    def ratio(self) -> float | None:
        """Return numpy's best time over C++'s: above 1 means C++ is faster."""
        if self.cpp is None or self.numpy is None or self.cpp.best <= 0:
            return None
        return self.numpy.best / self.cpp.best

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "case": self.case,
            "cpp": self.cpp and self.cpp.as_dict(),
            "binding": self.binding and self.binding.as_dict(),
            "numpy": self.numpy and self.numpy.as_dict(),
            "ratio_numpy_cpp": self.ratio,
        }


@dataclass
class Bench:
    """What a case needs: settings, data files, and ways to time code."""

    build_dir: Path
    workdir: Path
    repeat: int
    size_gib: float
    binding: ModuleType | None
    created: list[Path] = field(default_factory=list)

    def npy_file(self, name: str, shape: tuple[int, ...], dtype: str = "<f4") -> Path:
        """Return the path of an .npy file of random data, in the page cache.

        The file is written now unless an earlier --keep run left one with
        this shape and dtype.
        """
        path = self.workdir / name
        if not _npy_matches(path, shape, dtype):
            log(f"writing {path} {shape} {dtype}")
            _write_random_npy(path, shape, dtype)
        self.created.append(path)
        _warm(path)
        return path

    def npy_folder(
        self, name: str, count: int, shape: tuple[int, ...], dtype: str = "<f4"
    ) -> tuple[Path, list[str]]:
        """Return a folder of `count` .npy files and their sorted paths.

        Sorted is the order bench_npy reads them in. Like `npy_file`, this
        reuses files kept from an earlier run and warms the page cache.
        """
        folder = self.workdir / name
        names = [f"{i:05d}.npy" for i in range(count)]
        present = sorted(p.name for p in folder.glob("*.npy")) if folder.is_dir() else []
        if present != names or not _npy_matches(folder / names[-1], shape, dtype):
            log(f"writing {count} files {shape} {dtype} into {folder}")
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            rng = np.random.default_rng(0)
            for n in names:
                np.save(folder / n, rng.random(shape, dtype=np.float32).astype(dtype))
        self.created.append(folder)
        paths = [str(folder / n) for n in names]
        for p in paths:
            _warm(Path(p))
        return folder, paths

    def npz_file(self, name: str, source: Path) -> Path:
        """Return the path of an archive numpy.savez_compressed wrote from the
        .npy file `source` (member ``x``), in the page cache.

        Compressing takes most of a minute per GiB, so a --keep run's archive
        is reused when its member has the source's shape and dtype.
        """
        path = self.workdir / name
        array = np.load(str(source), mmap_mode="r")
        if _npz_member_header(path) != (array.shape, array.dtype.str):
            log(f"writing {path} from {source.name} with numpy.savez_compressed")
            np.savez_compressed(path, x=array)
        del array
        self.created.append(path)
        _warm(path)
        return path

    def h5_file(self, name: str, source: Path, **filters: Any) -> Path:
        """Return the path of an HDF5 file holding the .npy file `source` as
        dataset ``x`` (h5py, libver earliest, with `filters` such as
        ``compression="gzip", chunks=...``), in the page cache. A --keep run's
        file is reused when its dataset matches."""
        import h5py

        path = self.workdir / name
        array = np.load(str(source), mmap_mode="r")
        try:
            with h5py.File(path, "r") as f:
                fresh = f["x"].shape != array.shape or f["x"].compression != filters.get(
                    "compression"
                )
        except (OSError, KeyError):
            fresh = True
        if fresh:
            log(f"writing {path} from {source.name} with h5py {filters}")
            with h5py.File(path, "w", libver="earliest") as f:
                x = f.create_dataset("x", shape=array.shape, dtype=array.dtype, **filters)
                step = max(1, (64 << 20) // max(array[0].nbytes, 1))
                for start in range(0, array.shape[0], step):
                    x[start : start + step] = array[start : start + step]
        del array
        self.created.append(path)
        _warm(path)
        return path

    def cpp(self, program: str, op: str, target: Path, *more: int) -> Timing:
        """Run a C++ benchmark program and return the timing it prints.

        The command is ``PROGRAM OP TARGET REPEAT [MORE...]``, PROGRAM being
        built from benchmarks/; it prints one JSON line.
        """
        exe = self.build_dir / "benchmarks" / program
        cmd = [str(exe), op, str(target), str(self.repeat), *map(str, more)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr.strip()}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        return Timing(result["best_s"], result["median_s"])

    def python(self, fn: Callable[[], object], calls: int = 1, per: int = 1) -> Timing:
        """Time `fn` in this process.

        One warm-up call, then --repeat samples of `calls` calls each. Returns
        seconds per call divided by `per` (the number of items one call
        handles). The last result of a sample is freed after the clock stops,
        as bench_npy does.
        """
        return self.python_interleaved([fn], calls, per)[0]

    def python_interleaved(
        self, fns: Sequence[Callable[[], object]], calls: int = 1, per: int = 1
    ) -> list[Timing]:
        """Time several callables that do the same work, as `python` does,
        taking their samples in turn (a, b, a, b, ...): on a shared machine a
        burst of load then lands on both sides of a comparison, not on one."""
        samples: list[list[float]] = [[] for _ in fns]
        with _gc_paused():
            for fn in fns:
                fn()
            for _ in range(self.repeat):
                for fn, out in zip(fns, samples, strict=True):
                    start = time.perf_counter()
                    for _ in range(calls):
                        result = fn()
                    elapsed = time.perf_counter() - start
                    del result
                    out.append(elapsed / calls / per)
        return [Timing.of(s) for s in samples]


def _large_npy(bench: Bench) -> Path:
    """Return the --size-gib float32 file that several cases share."""
    rows = max(1, round(bench.size_gib * 2**30 / (LARGE_COLUMNS * 4)))
    return bench.npy_file("large.npy", (rows, LARGE_COLUMNS))


def case_npy_read(bench: Bench) -> list[Row]:
    """Whole-file read of a large float32 .npy into memory."""
    path = _large_npy(bench)
    label = f"read {_size_label(path)} float32 .npy"
    row = Row(label, cpp=bench.cpp("bench_npy", "read", path))
    if bench.binding is not None:
        row.binding = bench.python(lambda m=bench.binding: m.read_npy(str(path)))
    row.numpy = bench.python(lambda: np.load(str(path)))
    return [row]


def case_npy_map(bench: Bench) -> list[Row]:
    """Memory-map open (and close) of a tiny and a large .npy, nothing read.

    The two rows should match: opening must not depend on the file size.
    """
    out = []
    for path in (bench.npy_file("tiny.npy", (256,)), _large_npy(bench)):
        row = Row(f"mmap open {_size_label(path)} .npy")
        row.cpp = bench.cpp("bench_npy", "map", path, MAP_CALLS)
        if bench.binding is not None:
            row.binding = bench.python(
                lambda p=str(path), m=bench.binding: m.read_npy(p, mmap=True),
                calls=MAP_CALLS,
            )
        row.numpy = bench.python(lambda p=str(path): np.load(p, mmap_mode="r"), calls=MAP_CALLS)
        out.append(row)
    return out


def case_npy_many(bench: Bench) -> list[Row]:
    """Many small files read one after the other: the fixed cost per file."""
    folder, paths = bench.npy_folder("small_files", SMALL_COUNT, SMALL_SHAPE)
    shape = "x".join(map(str, SMALL_SHAPE))
    row = Row(f"{SMALL_COUNT} files {shape} float32, per file")
    row.cpp = bench.cpp("bench_npy", "many", folder)

    def read_all(load: Callable[[str], object]) -> Callable[[], None]:
        def run() -> None:
            for p in paths:
                load(p)

        return run

    if bench.binding is not None:
        row.binding = bench.python(read_all(bench.binding.read_npy), per=len(paths))
    row.numpy = bench.python(read_all(np.load), per=len(paths))
    return [row]


def case_npz_read(bench: Bench) -> list[Row]:
    """Whole read of a compressed .npz holding the large float32 array."""
    path = bench.npz_file("large.npz", _large_npy(bench))
    ratio = _large_npy(bench).stat().st_size / path.stat().st_size
    label = f"read {_size_label(_large_npy(bench))} float32 .npz, deflated ({ratio:.2f}:1)"
    row = Row(label, cpp=bench.cpp("bench_npy", "npz", path))
    if bench.binding is not None:
        row.binding = bench.python(lambda m=bench.binding: m.read_npz(str(path)))

    def numpy_read() -> dict[str, np.ndarray]:
        # np.load opens archives lazily: reading means taking every member.
        with np.load(str(path)) as archive:
            return {key: archive[key] for key in archive.files}

    row.numpy = bench.python(numpy_read)
    return [row]


#: Rows per read in the h5-rows case; offsets as bench_npy's row_offset().
H5_ROWS = 100
H5_ROW_CALLS = 200


def _h5_read_rows(path: Path, dataset: str, rows: int) -> list[int]:
    return [(c * 7919) % (rows - H5_ROWS) for c in range(H5_ROW_CALLS)]


def case_h5_read(bench: Bench) -> list[Row]:
    """Whole-dataset read of the large float32 array, contiguous and gzip-chunked."""
    import h5py

    source = _large_npy(bench)
    columns = np.load(str(source), mmap_mode="r").shape[1]
    out = []
    for name, filters, what in (
        ("large.h5", {}, "contiguous"),
        ("large-gzip.h5", {"compression": "gzip", "chunks": (64, columns)}, "gzip-chunked"),
    ):
        path = bench.h5_file(name, source, **filters)
        row = Row(f"read {_size_label(source)} float32 HDF5, {what}")
        row.cpp = bench.cpp("bench_npy", "h5", path)
        if bench.binding is not None:
            row.binding = bench.python(lambda p=str(path), m=bench.binding: m.read_h5(p, "x"))

        def h5py_read(p: str = str(path)) -> np.ndarray:
            with h5py.File(p, "r") as f:
                x = f["x"]
                result = np.empty(x.shape, x.dtype)
                x.read_direct(result)
                return result

        row.numpy = bench.python(h5py_read)
        out.append(row)
    return out


def case_h5_rows(bench: Bench) -> list[Row]:
    """100-row reads from an open file: the binding's H5File against h5py slicing,
    on the large dataset (1.6 MB per read: memory-bound) and on a narrow one
    (25.6 KB per read: per-call overhead dominates)."""
    import h5py

    out = []
    narrow = bench.npy_file("narrow.npy", (100_000, 64))
    for path, what in (
        (bench.h5_file("large.h5", _large_npy(bench)), "wide rows"),
        (bench.h5_file("narrow.h5", narrow), "64 float32 columns"),
    ):
        with h5py.File(path, "r") as f:
            x = f["x"]
            offsets = _h5_read_rows(path, "x", x.shape[0])
            row = Row(
                f"{H5_ROWS}-row read, HDF5 contiguous, {what} "
                f"({H5_ROWS * x[0].nbytes / 1e6:.3g} MB), per read"
            )
            row.cpp = bench.cpp("bench_npy", "h5rows", path, H5_ROW_CALLS)

            def h5py_rows(x: h5py.Dataset = x, offsets: list[int] = offsets) -> None:
                for first in offsets:
                    x[first : first + H5_ROWS]

            if bench.binding is None:
                row.numpy = bench.python(h5py_rows, per=len(offsets))
            else:
                with bench.binding.H5File(str(path)) as g:

                    def binding_rows(g: Any = g, offsets: list[int] = offsets) -> None:
                        for first in offsets:
                            g.read("x", rows=(first, first + H5_ROWS))

                    row.numpy, row.binding = bench.python_interleaved(
                        [h5py_rows, binding_rows], per=len(offsets)
                    )
        out.append(row)
    return out


#: Every case, in table order, by the name --case selects it with.
CASES: dict[str, Callable[[Bench], list[Row]]] = {
    "npy-read": case_npy_read,
    "npy-map": case_npy_map,
    "npy-many": case_npy_many,
    "npz-read": case_npz_read,
    "h5-read": case_h5_read,
    "h5-rows": case_h5_rows,
}


def log(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the results."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # As timeit does: a collection landing inside one sample is noise.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _npy_matches(path: Path, shape: tuple[int, ...], dtype: str) -> bool:
    try:
        existing = np.load(str(path), mmap_mode="r")
    except (OSError, ValueError):
        return False
    return existing.shape == shape and existing.dtype == np.dtype(dtype)


def _write_random_npy(path: Path, shape: tuple[int, ...], dtype: str) -> None:
    # Written in slices through a memory map, so a large file never needs a
    # second copy of itself in memory.
    path.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    flat = out.reshape(-1)
    rng = np.random.default_rng(0)
    step = 1 << 24
    for start in range(0, flat.size, step):
        stop = min(start + step, flat.size)
        flat[start:stop] = rng.random(stop - start, dtype=np.float32)
    out.flush()
    del flat, out


def _npz_member_header(path: Path) -> tuple[tuple[int, ...], str] | None:
    """Shape and dtype of member ``x`` of an archive, or None."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("x.npy") as member:
            readers = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }
            shape, _, dtype = readers[np.lib.format.read_magic(member)](member)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return shape, dtype.str


def _warm(path: Path) -> None:
    # Reading the file once puts it in the page cache, so the timings compare
    # the readers rather than the disk.
    buffer = bytearray(1 << 20)
    with path.open("rb", buffering=0) as f:
        while f.readinto(buffer):
            pass


def _size_label(path: Path) -> str:
    # The size of the array, not of the file: "1 KiB", not "1.12 KiB".
    nbytes = np.load(str(path), mmap_mode="r").nbytes
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.4g} {unit}"
    return f"{nbytes} B"


def _format_seconds(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _format_cell(timing: Timing | None) -> str:
    if timing is None:
        return "n/a"
    return f"{_format_seconds(timing.best)} / {_format_seconds(timing.median)}"


def machine() -> dict[str, Any]:
    """Describe the machine the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def markdown(rows: Sequence[Row], repeat: int, info: dict[str, Any]) -> str:
    """Format the results as a Markdown table and a line naming the machine."""
    header = ["case", "C++", "binding", "numpy / h5py", "ratio numpy/C++"]
    body = [
        [
            r.case,
            _format_cell(r.cpp),
            _format_cell(r.binding),
            _format_cell(r.numpy),
            "n/a" if r.ratio is None else f"{r.ratio:.2f}",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"

    lines = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt(line) for line in body]
    lines.append("")
    lines.append(
        f"Each cell: best / median of {repeat} runs, time per call (per file in the "
        "many-files row), warm page cache. Ratio from best times; above 1 means C++ "
        "is faster."
    )
    ram = f"{info['ram_gib']} GiB RAM" if info["ram_gib"] is not None else "RAM unknown"
    lines.append(
        f"Machine: {info['cpu']}, {info['cores']} cores, {ram}, {info['system']}, "
        f"Python {info['python']}, numpy {info['numpy']}."
    )
    return "\n".join(lines)


def build(build_dir: Path) -> None:
    """Configure and build the C++ benchmark programs (incrementally)."""
    configure = [
        "cmake", "-S", str(REPO), "-B", str(build_dir),
        "-DNDBRIDGE_BENCHMARKS=ON", "-DNDBRIDGE_BUILD_TESTS=OFF",
        "-DCMAKE_BUILD_TYPE=Release",
    ]  # fmt: skip
    for cmd in (configure, ["cmake", "--build", str(build_dir), "--parallel"]):
        log(" ".join(cmd))
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout)
            raise RuntimeError(f"{cmd[0]} failed with status {done.returncode}")


def _import_binding() -> ModuleType | None:
    try:
        from ndbridge import cpp
    except ImportError as e:
        log(f"binding column skipped: cannot import ndbridge.cpp ({e})")
        return None
    return cpp


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line described in the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-gib", type=float, default=1.0, help="size of the large file")
    p.add_argument("--repeat", type=int, default=5, help="timed samples per cell")
    p.add_argument("--workdir", type=Path, help="where data files go (default: a temp folder)")
    p.add_argument("--build-dir", type=Path, default=Path("build/bench"))
    p.add_argument("--keep", action="store_true", help="keep the data files for the next run")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument(
        "--case",
        action="append",
        choices=list(CASES),
        help="run only this case (repeatable)",
    )
    args = p.parse_args(argv)
    if args.repeat < 1 or args.size_gib <= 0:
        p.error("--repeat and --size-gib must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Build, generate data, run the cases and print the results."""
    args = parse_args(argv)
    build(args.build_dir.resolve())
    own_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="ndbridge-bench-")) if own_workdir else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(
        build_dir=args.build_dir.resolve(),
        workdir=workdir.resolve(),
        repeat=args.repeat,
        size_gib=args.size_gib,
        binding=_import_binding(),
    )
    rows: list[Row] = []
    try:
        for name in args.case or list(CASES):
            log(f"case {name}")
            rows += CASES[name](bench)
    finally:
        if args.keep:
            log(f"data kept in {bench.workdir}")
        elif own_workdir:
            shutil.rmtree(bench.workdir, ignore_errors=True)
        else:
            for path in set(bench.created):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    info = machine()
    if args.json:
        result = {
            "machine": info,
            "repeat": args.repeat,
            "rows": [r.as_dict() for r in rows],
        }
        print(json.dumps(result, indent=2))
    else:
        print(markdown(rows, args.repeat, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
