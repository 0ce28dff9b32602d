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
            "C++ reader and compare dtype, shape and bytes. Exit status: 0 when nothing "
            "differs (arrays the C++ reader does not support are noted; --strict fails on "
            "them), 1 when any array differs or fails to read, or the file is not an .npy, "
            ".npz or HDF5 file or cannot be read, 2 for a usage error."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the file to verify")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit 1) on arrays C++ does not support too"
    )


def run(args: argparse.Namespace) -> int:
    """Verify ``args.file``; 0 when nothing differs (with --strict: all identical), else 1."""
    from ..verify import format_report, verify

    report = verify(args.file)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_report(report))
    return 0 if (report.identical if args.strict else report.ok) else 1
