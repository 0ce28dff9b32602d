"""Benchmark ``ndbridge pack`` against the naive list-then-save script.

Run from the repository root with the package installed::

    python3 benchmarks/pack.py [--images 20000] [--size 256] [--repeat 5]
                               [--workdir DIR] [--keep] [--skip-naive]

It generates JPEGs (smooth gradients plus noise, quality 90), then packs them
with 1 and 2 workers (--repeat timed runs each, alternating, reporting the
median and the speed-up of every pair) and runs the script from the blog
post this project grew from (read every image into a list, ``np.asarray``,
save), each in a fresh process. Memory is sampled in runs of their own: the
PSS of the process and all its children every 20 ms (shared pages counted
once). A second, smaller folder shows whether peak memory depends on the
number of images. Prints a Markdown table and the machine.
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

NAIVE = """
import glob, sys, numpy as np, imageio.v3 as iio, h5py
files = sorted(glob.glob(sys.argv[1] + '/**/*.jpg', recursive=True))
image_list = []
for filename in files:
    image_list.append(iio.imread(filename))
out = np.asarray(image_list)
with h5py.File(sys.argv[2], 'w') as f:
    f.create_dataset('images', data=out)
"""


def make_images(folder: Path, count: int, size: int) -> None:
    """Write ``count`` JPEGs in 10 class folders (skipped when already there)."""
    marker = folder / f".complete-{count}-{size}"
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    for c in range(10):
        (folder / f"class{c}").mkdir(parents=True)
    with multiprocessing.Pool() as pool:
        pool.starmap(_make_one, [(folder, i, size) for i in range(count)], chunksize=64)
    marker.touch()


def _make_one(folder: Path, i: int, size: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(i)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([(x + i) % 256, (y * 2 + i) % 256, (x + y) % 256], axis=-1)
    noise = rng.integers(0, 40, (size, size, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / f"class{i % 10}" / f"{i:07d}.jpg", quality=90)


def _tree_pss(pid: int) -> int:
    """Proportional set size of ``pid`` and all its descendants, in bytes.

    PSS divides each shared page between the processes mapping it, so pages
    shared by the packer and its workers (libraries, the scratch file that
    carries decoded pixels) count once, not once per process as RSS would.
    """
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue
    return total


def measure(cmd: list[str], sample_memory: bool = True) -> tuple[float, int, str]:
    """Run ``cmd``; return (seconds, peak PSS bytes of its process tree, stdout).

    Without ``sample_memory`` the peak is 0: reading every process's
    smaps_rollup 50 times a second costs CPU and holds each process's
    memory-map lock, which a run using every core notices, so the timed runs
    leave it out.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_pss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    if sample_memory:
        sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    if sample_memory:
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err}")
    return seconds, peak, out


def main() -> None:
    """Parse options, run every case, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--keep", action="store_true", help="keep the generated images")
    p.add_argument("--skip-naive", action="store_true", help="leave out the naive script")
    p.add_argument("--repeat", type=int, default=5, help="timed 1- and 2-worker runs, alternating")
    args = p.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ndbridge-bench-pack-"))
    small = max(1, args.images // 4)
    rows = []
    speedups: list[str] = []
    try:
        for count in (args.images, small):
            folder = work / f"jpegs-{count}"
            print(f"[bench] generating {count} images in {folder}", file=sys.stderr)
            make_images(folder, count, args.size)
            # The 1- and 2-worker runs alternate, --repeat times: on a shared
            # machine a burst of outside load then hits both, not one.
            # Timed runs (no memory sampling), then one sampled run per case
            # for its peak memory; .npy and .npz are timed by that run alone.
            timed = [("h5", 1, False), ("h5", 2, False)] * args.repeat
            sampled = [("h5", 1, True), ("h5", 2, True), ("npy", 2, True), ("npz", 2, True)]
            rates: dict[tuple[str, int], list[float]] = {}
            peaks: dict[tuple[str, int], int] = {}
            for fmt, workers, sample_memory in timed + sampled:
                if count == small and (workers == 1 or fmt != "h5"):
                    continue
                out = work / f"packed-{count}-{workers}.{fmt}"
                cmd = [
                    sys.executable,
                    "-m",
                    "ndbridge",
                    "pack",
                    str(folder),
                    str(out),
                    "--labels",
                    "dirs",
                    "--workers",
                    str(workers),
                    "--json",
                    "--force",
                ]
                print(f"[bench] {' '.join(cmd)}", file=sys.stderr)
                seconds, peak, out_text = measure(cmd, sample_memory)
                summary = json.loads(out_text)
                if not sample_memory or fmt != "h5" or count == small:
                    rates.setdefault((fmt, workers), []).append(summary["images"] / seconds)
                peaks[fmt, workers] = max(peaks.get((fmt, workers), 0), peak)
                out.unlink()
                out.with_name(out.stem + ".meta.npz").unlink(missing_ok=True)
            for (fmt, workers), samples in rates.items():
                rows.append(
                    (
                        f"ndbridge pack to .{fmt}, {workers} worker{'s' * (workers > 1)}",
                        count,
                        statistics.median(samples),
                        peaks[fmt, workers],
                    )
                )
            if ("h5", 1) in rates and count != small:
                pairs = [two / one for one, two in zip(rates["h5", 1], rates["h5", 2])]
                speedups.append(
                    f"2 workers / 1 worker, {count} images, {len(pairs)} alternating pairs: "
                    + ", ".join(f"{x:.2f}x" for x in pairs)
                    + f" (median {statistics.median(pairs):.2f}x)"
                )
            if not args.skip_naive:
                out = work / f"naive-{count}.h5"
                print(f"[bench] naive script on {count} images", file=sys.stderr)
                seconds, peak, _ = measure([sys.executable, "-c", NAIVE, str(folder), str(out)])
                rows.append(("naive list + np.asarray + save", count, count / seconds, peak))
                out.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("| case | images | images/s (whole run) | peak memory |")
    print("|---|---|---|---|")
    for case, count, rate, peak in rows:
        print(f"| {case} | {count} | {rate:.0f} | {peak / 2**20:.0f} MiB |")
    print()
    for line in speedups:
        print(line)
    print(
        f"\n{args.size}x{args.size} RGB JPEGs, quality 90, 10 class folders; uncompressed output; "
        f"peak memory = proportional set size (PSS) of the process and all its children, "
        "sampled every 20 ms in a run of its own; images/s = median of the timed runs "
        "(.npy, .npz and the smaller folder: the sampled run)."
    )
    print(f"Machine: {machine()}.")


def machine() -> str:
    """The CPU model, core count, kernel, Python and numpy, for the table's footer."""
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
