"""``ndbridge verify``: numpy/h5py and the C++ reader must read every array identically."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(commands: Any) -> None:
    """Register ``verify``."""
    parser = commands.add_parser(
        "verify",
        help="check that the C++ reader reads every array as numpy/h5py do, bit for bit",
        description=(
            "Read every array of an .npy, .npz or HDF5 file with numpy/h5py and with the "
            "C++ reader and compare dtype, shape and bytes. Exit status: 0 when every "
            "array is identical, 1 when any differs, is unsupported or fails to read, "
            "2 when the file is not an .npy, .npz or HDF5 file or cannot be opened."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the file to verify")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    """Verify ``args.file``; 0 when every array is identical, else 1."""
    from ..verify import format_report, verify

    report = verify(args.file)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_report(report))
    return 0 if report.ok else 1
