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
            "tree, dtypes, shapes, chunks, filters and attributes."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the file to list")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (keys: see ndbridge.listing)"
    )


def run(args: argparse.Namespace) -> int:
    """List ``args.file``; 0 on success (errors raise ndbridge.Error)."""
    from .listing import describe, format_listing

    doc = describe(args.file)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_listing(doc))
    return 0
