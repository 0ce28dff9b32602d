"""Benchmark sharded packing on Dask against the single-process packer.

Run from the repository root with the package installed with its dask extra
(``pip install .[dask]``)::

    python3 benchmarks/shards.py [--images 2000] [--size 256] [--shards 8] [--workdir DIR] [--keep]

It generates JPEGs as ``benchmarks/pack.py`` does, then packs them to .h5,
each run in a fresh process: the single-file packer with 1 and 2 decoding
threads, the local scheduler (shards one after another here, 2 decoding
threads each), and the Dask scheduler on a ``LocalCluster`` of 1 and of 2
single-threaded worker processes (started before the timing, as a cluster
would be). Every output is checked to hold the same images as the first.
Prints a Markdown table and the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from pack import machine, make_jpegs, run  # benchmarks/pack.py, beside this script


def pack_command(folder: Path, out: Path, *extra: str) -> list[str]:
    """``ndbridge pack`` of ``folder`` into ``out`` with labels, JSON summary, replacing."""
    return [sys.executable, "-m", "ndbridge", "pack", str(folder), str(out),
            "--labels", "dirs", "--json", "--force", *extra]  # fmt: skip


def same_images(a: Path, b: Path) -> bool:
    """Whether two packed files hold the same images, compared in blocks."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        x, y = fa["images"], fb["images"]
        if x.shape != y.shape:
            return False
        return all(np.array_equal(x[i : i + 256], y[i : i + 256]) for i in range(0, len(x), 256))


def main() -> None:
    """Parse options, run every case, print the table."""
    import distributed

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--keep", action="store_true", help="keep the generated images")
    args = p.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ndbridge-bench-shards-"))
    folder = work / f"jpegs-{args.images}"
    shards = ["--shards", str(args.shards)]
    rows = []
    reference: Path | None = None
    try:
        print(f"[bench] generating {args.images} images in {folder}", file=sys.stderr)
        make_jpegs(folder, args.images, args.size, args.size)
        cases = [
            ("ndbridge pack, single file", "1 thread", None, ["--workers", "1"]),
            ("ndbridge pack, single file", "2 threads", None, ["--workers", "2"]),
            ("--scheduler local", "2 threads", None, [*shards, "--workers", "2"]),
            ("--scheduler dask, LocalCluster", "1 worker", 1, [*shards, "--scheduler", "dask"]),
            ("--scheduler dask, LocalCluster", "2 workers", 2, [*shards, "--scheduler", "dask"]),
        ]
        for index, (case, workers, cluster_size, extra) in enumerate(cases):
            out = work / f"out-{index}.h5"
            cluster = None
            if cluster_size is not None:
                cluster = distributed.LocalCluster(
                    n_workers=cluster_size, threads_per_worker=1, processes=True,
                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
                )  # fmt: skip
                extra = [*extra, "--dask-address", cluster.scheduler_address]
            try:
                cmd = pack_command(folder, out, *extra)
                print(f"[bench] {' '.join(cmd)}", file=sys.stderr)
                started = time.perf_counter()
                text, _ = run(cmd)
                seconds = time.perf_counter() - started
            finally:
                if cluster is not None:
                    cluster.close()
            summary = json.loads(text)
            if reference is None:
                reference = out
            elif not same_images(reference, out):
                raise RuntimeError(f"{case} ({workers}) packed other images than the first run")
            shard_count = summary.get("shards") or "-"
            rows.append((case, workers, shard_count, summary["images"], seconds))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("| case | parallelism | shards | images | seconds | images/s (whole run) |")
    print("|---|---|---|---|---|---|")
    for case, workers, shard_count, count, seconds in rows:
        print(f"| {case} | {workers} | {shard_count} | {count} | {seconds:.2f} | "
              f"{count / seconds:.0f} |")  # fmt: skip
    print(
        f"\n{args.size}x{args.size} RGB JPEGs, quality 90, 10 class folders; uncompressed .h5; "
        "each run a fresh process (Python start-up and imports included); Dask clusters "
        "started before the timing."
    )
    print(f"Machine: {machine()}, dask {distributed.__version__}.")


if __name__ == "__main__":
    main()
