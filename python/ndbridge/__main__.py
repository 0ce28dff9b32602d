"""The ``ndbridge`` command line.

Each command lives in its own module that provides ``add_parser(commands)``
(registering its sub-parser) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from . import __version__
from ._errors import Error

#: Command name -> module (imported only when the command runs, so that
#: ``ndbridge ls`` does not pay for the packing tool's imports).
COMMANDS: dict[str, str] = {
    "pack": "ndbridge._cli_pack",
    "ls": "ndbridge._cli_ls",
    "merge": "ndbridge._cli_merge",
    "convert": "ndbridge._cli_convert",
    "verify": "ndbridge._cli_verify",
    "demo": "ndbridge._cli_demo",
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ndbridge", description="Arrays across Python and C++: .npy, .npz and HDF5."
    )
    parser.add_argument("--version", action="version", version=f"ndbridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        try:
            importlib.import_module(module).add_parser(commands)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = _build_parser().parse_args(argv)
    try:
        return int(importlib.import_module(COMMANDS[args.command]).run(args))
    except Error as exc:
        print(f"ndbridge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ndbridge {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`ndbridge ls --json f.h5 | head`): stop quietly,
        # and keep Python's exit-time flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
