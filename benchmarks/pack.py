"""Benchmark ``ndbridge pack``: against its decode bound, the naive loop, and other builds.

Run from the repository root with the package installed::

    python3 benchmarks/pack.py [--images 6000] [--size 256] [--photos 60]
                               [--repeat 5] [--other NAME=PYTHONPATH ...]
                               [--workdir DIR] [--keep]
                               [--only throughput|memory|photos ...]

Three tables, every run in a fresh process, variants alternating within each
repeat so that a burst of outside load hits all of them (a virtual machine's
speed can drift by a third between runs), medians reported:

1. **Throughput**: ``--images`` JPEGs of ``--size`` pixels packed to .h5 with
   1 and 2 decoding threads, next to the *decode bound*: the same files,
   already in memory, decoded by the same number of threads with the same
   code (``ndbridge.pack.decoding.decode_data``), nothing read or written.
   ``--other NAME=PYTHONPATH`` adds the ``ndbridge`` package found there as
   another variant (e.g. an earlier release installed into a folder with
   ``pip install --target``), packed the same way.
2. **Memory**: peak proportional set size of the packing process, at
   ``--images`` and at a quarter of that, sampled every 20 ms in runs of
   their own.
3. **Photos**: ``--photos`` generated 4000x3000 JPEGs packed with
   ``--resize 224x224`` by 2 threads, against the naive loop (open, convert
   to RGB, resize, one image after another in one process, then save).

Prints Markdown tables and the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

#: The loop every tutorial writes: one image after another, a list, one array.
NAIVE_RESIZE = """
import glob, sys, numpy as np, h5py
from PIL import Image
files = sorted(glob.glob(sys.argv[1] + '/**/*.jpg', recursive=True))
images = []
for name in files:
    images.append(np.asarray(Image.open(name).convert('RGB').resize((224, 224))))
with h5py.File(sys.argv[2], 'w') as f:
    f.create_dataset('images', data=np.asarray(images))
print(len(images))
"""

#: Decoding alone: files read into memory first, then decoded by N threads.
DECODE_BOUND = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from ndbridge.pack.decoding import DecodeSettings, Sample, decode_data
from ndbridge.pack.sources import sources, take_census
root, threads = Path(sys.argv[1]), int(sys.argv[2])
census = take_census(root, "images", True)
items = sources(root, "images", census.classes)
files = [(rel, label, (root / rel).read_bytes()) for rel, label in items]
settings = DecodeSettings(str(root), "images", "decoded")
def one(item):
    rel, label, data = item
    sample = decode_data(settings, data, Sample(rel, label))
    assert sample.error is None, sample.error
started = time.perf_counter()
with ThreadPoolExecutor(threads) as pool:
    for _ in pool.map(one, files, chunksize=16):
        pass
print(len(files) / (time.perf_counter() - started))
"""


def make_jpegs(folder: Path, count: int, width: int, height: int, quality: int = 90) -> None:
    """Write ``count`` JPEGs in 10 class folders (skipped when already there)."""
    marker = folder / f".complete-{count}-{width}x{height}"
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True)
    with multiprocessing.Pool() as pool:
        jobs = [(folder, i, width, height, quality) for i in range(count)]
        pool.starmap(_make_one, jobs, chunksize=max(1, min(64, count // 8)))
    marker.touch()


def _make_one(folder: Path, i: int, width: int, height: int, quality: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(i)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x + i) % 256, (y * 2 + i) % 256, (x + y) % 256], axis=-1)
    noise = rng.integers(0, 40, (height, width, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / f"class{i % 10}" / f"{i:07d}.jpg", quality=quality)


def _pss(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants, in bytes."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def run(cmd: list[str], env: dict[str, str] | None = None, sample: bool = False) -> tuple[str, int]:
    """Run ``cmd``; return its stdout and (with ``sample``) its peak PSS."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak, done = 0, threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _pss(proc.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    if sample:
        watcher.start()
    out, err = proc.communicate()
    done.set()
    if sample:
        watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err}")
    return out, peak


def pack_command(folder: Path, out: Path, workers: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ndbridge", "pack", str(folder), str(out), "--labels", "dirs",
            "--workers", str(workers), "--json", "--force", *extra]  # fmt: skip


def env_with(path: str | None) -> dict[str, str] | None:
    if path is None:
        return None
    return {**os.environ, "PYTHONPATH": path}


def packed_rate(folder: Path, out: Path, workers: int, path: str | None, *extra: str) -> float:
    text, _ = run(pack_command(folder, out, workers, *extra), env_with(path))
    out.unlink(missing_ok=True)
    return float(json.loads(text)["images_per_second"])


def throughput(args: argparse.Namespace, work: Path) -> list[str]:
    folder = work / f"jpegs-{args.images}-{args.size}"
    print(f"[bench] {args.images} JPEGs in {folder}", file=sys.stderr)
    make_jpegs(folder, args.images, args.size, args.size)
    variants: list[tuple[str, tuple[str, int, str | None]]] = []
    for threads in (1, 2):
        variants.append((_label("decode bound", threads, "thread"), ("bound", threads, None)))
        variants.append((_label("ndbridge pack", threads), ("pack", threads, None)))
        for name, path in args.other:
            variants.append((_label(f"{name} pack", threads), ("pack", threads, path)))
    rates: dict[str, list[float]] = {label: [] for label, _ in variants}
    for r in range(args.repeat):
        for label, how in variants:
            print(f"[bench] {r + 1}/{args.repeat} {label}", file=sys.stderr)
            if how[0] == "bound":
                text, _ = run([sys.executable, "-c", DECODE_BOUND, str(folder), str(how[1])])
                rates[label].append(float(text))
            else:
                rates[label].append(packed_rate(folder, work / "t.h5", how[1], how[2]))
    lines = ["| variant | images/s (median) | runs | of the decode bound |", "|---|---|---|---|"]
    for label, samples in rates.items():
        threads = 2 if "2 " in label else 1
        bound = statistics.median(rates[_label("decode bound", threads, "thread")])
        ratio = "" if label.startswith("decode") else f"{statistics.median(samples) / bound:.2f}x"
        runs = " ".join(f"{x:.0f}" for x in samples)
        lines.append(f"| {label} | {statistics.median(samples):.0f} | {runs} | {ratio} |")
    lines.append("")
    lines.append(
        f"{args.images} {args.size}x{args.size} RGB JPEGs (quality 90) to uncompressed .h5; "
        f"images/s as the pack's summary gives it; {args.repeat} alternating repeats."
    )
    return lines


def _label(what: str, threads: int, unit: str = "worker") -> str:
    return f"{what}, {threads} {unit}{'s' * (threads > 1)}"


def memory(args: argparse.Namespace, work: Path) -> list[str]:
    lines = ["| images | peak PSS, 2 workers |", "|---|---|"]
    for count in (args.images, max(1, args.images // 4)):
        folder = work / f"jpegs-{count}-{args.size}"
        make_jpegs(folder, count, args.size, args.size)
        out = work / "m.h5"
        _, peak = run(pack_command(folder, out, 2), sample=True)
        out.unlink()
        lines.append(f"| {count} | {peak / 2**20:.0f} MiB |")
    return lines


def photos(args: argparse.Namespace, work: Path) -> list[str]:
    folder = work / f"photos-{args.photos}"
    print(f"[bench] {args.photos} 4000x3000 JPEGs in {folder}", file=sys.stderr)
    make_jpegs(folder, args.photos, 4000, 3000)
    rates: dict[str, list[float]] = {"naive loop": [], "ndbridge pack, 2 workers": []}
    for r in range(args.repeat):
        print(f"[bench] {r + 1}/{args.repeat} photos", file=sys.stderr)
        started = time.perf_counter()
        text, _ = run([sys.executable, "-c", NAIVE_RESIZE, str(folder), str(work / "n.h5")])
        rates["naive loop"].append(int(text) / (time.perf_counter() - started))
        started = time.perf_counter()
        text, _ = run(pack_command(folder, work / "p.h5", 2, "--resize", "224x224", "--resize-mode",
                                   "stretch"))  # fmt: skip
        rates["ndbridge pack, 2 workers"].append(
            json.loads(text)["images"] / (time.perf_counter() - started)
        )
    naive = statistics.median(rates["naive loop"])
    lines = ["| 4000x3000 photos to 224x224 | images/s (median) | runs | of the naive loop |",
             "|---|---|---|---|"]  # fmt: skip
    for label, samples in rates.items():
        runs = " ".join(f"{x:.1f}" for x in samples)
        lines.append(f"| {label} | {statistics.median(samples):.1f} | {runs} | "
                     f"{statistics.median(samples) / naive:.2f}x |")  # fmt: skip
    lines.append("")
    lines.append(f"{args.photos} photos; both include starting Python and writing the .h5 "
                 "(the same stretch resize, bicubic).")  # fmt: skip
    return lines


def main() -> None:
    """Parse options, run every table, print them."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=6000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--photos", type=int, default=60)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--other", action="append", default=[], metavar="NAME=PYTHONPATH",
                   help="also pack with the ndbridge package found at PYTHONPATH")  # fmt: skip
    p.add_argument("--workdir", type=Path)
    p.add_argument("--keep", action="store_true", help="keep the generated images")
    p.add_argument("--only", choices=["throughput", "memory", "photos"], action="append")
    args = p.parse_args()
    args.other = [tuple(o.split("=", 1)) for o in args.other]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ndbridge-bench-pack-"))
    work.mkdir(parents=True, exist_ok=True)
    tables = []
    try:
        for name, table in (("throughput", throughput), ("memory", memory), ("photos", photos)):
            if args.only is None or name in args.only:
                tables.append(table(args, work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for lines in tables:
        print("\n".join(lines))
        print()
    print(f"Machine: {machine()}.")


def machine() -> str:
    """The CPU model, core count, kernel, Python and numpy, for the tables' footer."""
    cpu = platform.processor()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


if __name__ == "__main__":
    main()
