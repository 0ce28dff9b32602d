"""The ``ndbridge`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from ._errors import Error


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndbridge", description="Arrays across Python and C++: .npy, .npz and HDF5."
    )
    parser.add_argument("--version", action="version", version=f"ndbridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo", help="write sample arrays with numpy and read them back with the C++ library"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo

            return 0 if run_demo(sys.stdout) else 1
    except Error as exc:
        print(f"ndbridge: error: {exc}", file=sys.stderr)
        return 2
    return 2  # argparse already rejected unknown commands


if __name__ == "__main__":
    sys.exit(main())
