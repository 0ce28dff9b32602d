"""``ndbridge ls``: what is inside an .npy, .npz or HDF5 file."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    """Register ``ls``."""
    parser = commands.add_parser(
        "ls",
        help="list the arrays, groups and attributes of an .npy, .npz or HDF5 file",
        description=(
            "List what is inside an .npy, .npz or HDF5 file as the C++ reader sees it: "
            "tree, dtypes, shapes, chunks, filters and attributes. Exits 1 when a virtual "
            "dataset's source file (a shard of a sharded pack) is missing."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the file to list")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (keys: see ndbridge.listing)"
    )


def run(args: argparse.Namespace) -> int:
    """List ``args.file``; 0 on success (errors raise ndbridge.Error)."""
    from ..listing import describe, format_listing, missing_sources

    doc = describe(args.file)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_listing(doc))
    missing = missing_sources(doc)
    for dataset, source in missing:
        print(
            f"ndbridge ls: error: '{args.file}': dataset '{dataset}' is virtual and its source "
            f"file '{source}' is missing; reads would fail",
            file=sys.stderr,
        )
    return 1 if missing else 0
