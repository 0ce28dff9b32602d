"""Flushing a growing output file to disk while packing goes on.

The packer flushes its output to disk before renaming it to the final name,
so that a file that looks finished is finished. Left to the kernel until
then, gigabytes of it are still in the page cache at the end, and the
closing fsync of a pack of a few GB takes seconds with every core idle.
Flushing in a background thread as the file grows leaves about one interval
of writing for the end.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

#: Seconds between flushes.
INTERVAL = 1.0


class Writeback:
    """Flushes ``path`` in a thread of its own, at most once per INTERVAL.

    Errors are left to the final flush the caller makes anyway, which
    reports them; a flush only moves the disk work earlier.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last = time.monotonic()

    def kick(self) -> None:
        """Ask for a flush, if the last one is INTERVAL old; never waits."""
        if time.monotonic() - self._last < INTERVAL:
            return
        self._last = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="ndbridge-writeback", daemon=True
            )
            self._thread.start()
        self._wanted.set()

    def stop(self) -> None:
        """End the thread, after the flush under way (if any)."""
        self._stopping = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            # os.fdatasync releases the GIL: decoding and writing go on.
            with contextlib.suppress(OSError):
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
