"""``ndbridge pack SRC OUT``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    """Register ``pack``."""
    p = commands.add_parser(
        "pack",
        help="pack a folder of images (or .npy files) into one .h5, .npy or .npz file, streaming",
        description=(
            "Pack a folder tree of images (JPEG, PNG, BMP, TIFF, ... anything imageio reads) "
            "or of .npy files into one file, in sorted order, without ever holding more than "
            "a few batches in memory or more than one source file open per decoding thread. "
            "Exit status: 0 done, 1 a data or file problem, 2 a usage error, 128+N when "
            "stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)."
        ),
    )
    p.add_argument("src", help="the folder to pack")
    p.add_argument("out", help="the output file: .h5, .npy (with OUT.meta.npz beside it) or .npz")
    p.add_argument(
        "--format",
        choices=["h5", "npy", "npz", "hdf5"],
        help="output format (default: from OUT's suffix)",
    )
    p.add_argument(
        "--workers", type=int, help="decoding threads (default: every core this process may use)"
    )
    p.add_argument(
        "--labels",
        choices=["none", "dirs"],
        default="none",
        help="dirs: the top-level folder of each file is its class",
    )
    p.add_argument(
        "--store",
        choices=["decoded", "encoded"],
        default="decoded",
        help="decoded: one (N, H, W, C) array; encoded: the original file bytes",
    )
    p.add_argument("--resize", metavar="HxW", help="scale every image to HEIGHTxWIDTH")
    p.add_argument(
        "--resize-mode",
        choices=["border", "center-crop", "stretch"],
        default="border",
        help="border (default): fit inside and pad with black; center-crop: fill and cut the "
        "overflow evenly; stretch: ignore the aspect ratio. Bicubic, antialiased when shrinking",
    )
    p.add_argument("--mode", help="convert every image to this Pillow mode, e.g. RGB or L")
    p.add_argument(
        "--dtype",
        help="convert values to this numpy type, e.g. uint8 (16-bit images scaled to 8 bits), "
        "uint16, float32 or '<f4' (byte order)",
    )
    p.add_argument(
        "--orientation",
        choices=["exif", "raw"],
        default="exif",
        help="exif (default): turn images upright by their EXIF orientation; raw: as stored",
    )
    p.add_argument("--compression", choices=["none", "gzip", "lzf"], default="none")
    p.add_argument("--gzip-level", type=int, default=4, help="gzip level 0-9 (default 4)")
    p.add_argument(
        "--input",
        choices=["auto", "images", "npy"],
        default="auto",
        help="which files to pack (default: whichever the folder holds)",
    )
    p.add_argument(
        "--on-error",
        choices=["fail", "skip"],
        default="fail",
        help="on an unreadable or corrupt file: stop (fail) or record it and go on",
    )
    shard = p.add_argument_group(
        "sharded packing (.h5 only)",
        "Write OUT.shards/OUT-<i>-of-<n>.h5 and a master OUT whose datasets are HDF5 virtual "
        "datasets over them. Running the same command again packs only missing shards.",
    )
    shard.add_argument("--shards", type=int, metavar="N", help="split the files into N shards")
    shard.add_argument(
        "--shard-size",
        metavar="SIZE",
        help="files per shard (10000) or bytes of samples per shard (2GB, 500MiB)",
    )
    shard.add_argument(
        "--scheduler",
        choices=["local", "dask"],
        default="local",
        help="local: shards one after another here; dask: one task per shard on a "
        "dask.distributed cluster (pip install 'ndbridge[dask]')",
    )
    shard.add_argument(
        "--dask-address",
        metavar="ADDR",
        help="scheduler to submit to, e.g. tcp://10.0.0.5:8786 (default: a LocalCluster)",
    )
    shard.add_argument(
        "--retries", type=int, default=2, help="extra tries for a shard task that fails (dask)"
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON summary object")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    """Pack and print the summary."""
    from ..pack import pack
    from ..pack.interrupt import signals_interrupt

    # One block around the pack and its summary: a signal after the output
    # is in place (pack.interrupt.completed) cannot turn the summary of a
    # finished run into "interrupted".
    with signals_interrupt():
        summary = pack(
            args.src, args.out, format=args.format, workers=args.workers, labels=args.labels,
            store=args.store, resize=args.resize, resize_mode=args.resize_mode, mode=args.mode,
            dtype=args.dtype, orientation=args.orientation, compression=args.compression,
            gzip_level=args.gzip_level, input=args.input, on_error=args.on_error,
            resume=args.resume, force=args.force, progress=False if args.json else args.progress,
            shards=args.shards, shard_size=args.shard_size, scheduler=args.scheduler,
            dask_address=args.dask_address, retries=args.retries,
        )  # fmt: skip
        _print_summary(summary, args)
    return 0


def _print_summary(summary: Any, args: argparse.Namespace) -> None:
    if args.json:
        json.dump(summary.as_dict(), sys.stdout)
        sys.stdout.write("\n")
    else:
        s = summary
        print(
            f"packed {s.images} images ({s.skipped} skipped, {s.ignored} other files ignored) "
            f"into {s.output}: {s.bytes / 1e6:.1f} MB in {s.seconds:.1f} s, "
            f"{s.images_per_second:.0f} images/s"
        )
        if s.shards:
            print(
                f"  {s.shards} shards ({s.shards_packed} packed now, {s.shards_reused} reused) "
                f"in {Path(s.output).stem}.shards/, stitched by {s.output}"
            )
        _listed("skipped", s.skipped_files)
        _listed("ignored", s.ignored_files)
        for note in s.notes:
            print(f"  note: {note}")


#: Files named in the text summary per list (--json names them all).
SHOWN = 10


def _listed(verb: str, files: list[dict[str, str]]) -> None:
    for f in files[:SHOWN]:
        print(f"  {verb} {f['path']}: {f['reason']}")
    if len(files) > SHOWN:
        print(
            f"  ... and {len(files) - SHOWN} more (the output records them all; --json lists them)"
        )
