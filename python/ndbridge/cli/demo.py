"""``ndbridge demo``: the README's main-job command."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    """Register ``demo``."""
    p = commands.add_parser(
        "demo",
        help="pack sample images, list, verify and read them back in C++",
        description=(
            "The main job on sample data made on the spot: pack a folder of images into "
            "HDF5, list it, verify that Python and C++ read it identically, read a batch back "
            "through the C++ library, and round-trip sample arrays of every kind."
        ),
    )
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep what is made there")


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every array read back identically."""
    from pathlib import Path

    from ..demo import run_demo

    return 0 if run_demo(sys.stdout, Path(args.keep) if args.keep else None) else 1
