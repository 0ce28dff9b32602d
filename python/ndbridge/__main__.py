"""The ``ndbridge`` command line.

Each command lives in its own module that provides ``add_parser(commands)``
(registering its sub-parser) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from ._core import __version__
from ._errors import Error, UsageError

#: Exit status: a data or file problem (a file that does not read, images that
#: do not fit together, a full disk); a usage error (options, arguments) is 2,
#: as argparse makes it; 128 + N when stopped by signal N.
EXIT_FAILED = 1
EXIT_USAGE = 2

#: Command name -> module (imported only when the command runs, so that
#: ``ndbridge ls`` does not pay for the packing tool's imports).
COMMANDS: dict[str, str] = {
    "pack": "ndbridge.cli.pack",
    "ls": "ndbridge.cli.ls",
    "merge": "ndbridge.cli.merge",
    "convert": "ndbridge.cli.convert",
    "verify": "ndbridge.cli.verify",
    "demo": "ndbridge.cli.demo",
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
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILED
    except KeyboardInterrupt as exc:
        # Ctrl-C, or SIGTERM/SIGHUP turned into an interrupt (pack.interrupt).
        signum = getattr(exc, "signal", signal.SIGINT)
        if getattr(exc, "ndbridge_reported", False):  # the command said what it left
            return 128 + signum
        print(
            f"ndbridge {args.command}: interrupted ({signal.Signals(signum).name})", file=sys.stderr
        )
        return 128 + signum
    except BrokenPipeError:
        # The reader went away (`ndbridge ls --json f.h5 | head`): stop quietly,
        # and keep Python's exit-time flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
