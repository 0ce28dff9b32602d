"""``ndbridge demo``: the README's main-job command."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    """Register ``demo``."""
    commands.add_parser(
        "demo",
        help="write sample arrays with numpy and read them back with the C++ library",
        description="Write sample arrays with numpy and read them back with the C++ library.",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when every array read back identically."""
    from .demo import run_demo

    return 0 if run_demo(sys.stdout) else 1
