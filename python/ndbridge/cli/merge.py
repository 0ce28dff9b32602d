"""``ndbridge merge SHARD... -o MASTER``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    """Register ``merge``."""
    p = commands.add_parser(
        "merge",
        help="stitch packed .h5 files into one master file of HDF5 virtual datasets",
        description=(
            "Write a master .h5 file whose datasets (images, labels, paths, skipped/...) are "
            "HDF5 virtual datasets over the given packed files, in the order given, named by "
            "their paths relative to the master. The files must agree on store, class names, "
            "dtypes and shapes past the first axis."
        ),
    )
    p.add_argument("shards", nargs="+", metavar="SHARD", help="packed .h5 files, in row order")
    p.add_argument("-o", "--output", required=True, metavar="MASTER", help="the master file")
    p.add_argument("--force", action="store_true", help="replace MASTER if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON summary object")


def run(args: argparse.Namespace) -> int:
    """Merge and print the summary."""
    from ..pack.merge import merge

    summary = merge(args.shards, args.output, force=args.force)
    if args.json:
        json.dump(summary.as_dict(), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(
            f"merged {summary.shards} files into {summary.output}: {summary.images} images, "
            f"{summary.skipped} skipped"
        )
    return 0
