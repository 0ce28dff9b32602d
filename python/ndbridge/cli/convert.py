"""``ndbridge convert``: arrays between .npy, .npz and HDF5, streaming."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..options import COMPRESSIONS, GZIP_LEVEL


def add_parser(commands: Any) -> None:
    """Register ``convert``."""
    parser = commands.add_parser(
        "convert",
        help="convert arrays between .npy, .npz and HDF5 without loading them whole",
        description=(
            "Convert arrays between .npy, .npz and HDF5, streaming row blocks. An .npy file "
            "is one dataset (named after its stem, or --dataset); .npz members and HDF5 "
            "datasets map to each other by name. OUT is written under a temporary name "
            "and renamed into place when complete."
        ),
    )
    parser.add_argument("source", metavar="IN", help="an .npy, .npz or HDF5 file")
    parser.add_argument("out", metavar="OUT", help="the file to write (.npy, .npz, .h5, .hdf5)")
    parser.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        default=[],
        metavar="NAME",
        help="the .npz member or HDF5 dataset to convert (repeatable; default: all), "
        "or the dataset name an .npy becomes",
    )
    parser.add_argument(
        "--compression",
        choices=COMPRESSIONS,
        default="none",
        help="HDF5 output: gzip, lzf or none; .npz output: gzip (deflate) or none (default: none)",
    )
    parser.add_argument(
        "--gzip-level",
        "--level",
        dest="gzip_level",
        type=int,
        default=GZIP_LEVEL,
        metavar="N",
        help=f"gzip/deflate level 0-9 (default: {GZIP_LEVEL})",
    )
    parser.add_argument(
        "--shuffle", action="store_true", help="HDF5 output: add the byte-shuffle filter"
    )
    parser.add_argument(
        "--to",
        choices=("npy", "npz", "h5", "hdf5"),
        help="the output format (default: told by OUT's suffix)",
    )
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def run(args: argparse.Namespace) -> int:
    """Convert ``args.source`` into ``args.out``; 0 on success."""
    from ..convert import convert

    summary = convert(
        args.source,
        args.out,
        datasets=args.datasets,
        compression=args.compression,
        gzip_level=args.gzip_level,
        shuffle=args.shuffle,
        force=args.force,
        to=args.to,
    )
    if args.json:
        print(json.dumps(summary.as_dict()))
        return 0
    for array in summary.arrays:
        shape = tuple(array["shape"])
        print(f"{summary.source} -> {summary.output}: {array['name']}  {array['dtype']}  {shape}")
    if not summary.arrays:
        print(f"{summary.source} -> {summary.output}: no arrays")
    return 0
