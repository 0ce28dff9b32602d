"""One writer per output: a lock file beside it, held while a pack runs.

``OUT.lock`` is locked with ``flock`` for the whole run and holds the
process id, host and start time of the pack holding it. The kernel drops
the lock when that process ends, however it ends (SIGKILL and the OOM killer
included), so a lock left by a killed run never blocks the next one; the
file itself is removed by the run that held it, when it stops normally.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from .._errors import file_error


def lock_path(out: Path) -> Path:
    """The lock file of output ``out``."""
    return out.with_name(out.name + ".lock")


class OutputLock:
    """Holds ``OUT.lock`` for the lifetime of the ``with`` block."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = lock_path(out)
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise file_error(
                        exc.errno or 0, f"cannot lock '{self.path}': {exc.strerror}"
                    ) from exc
                raise file_error(errno.EBUSY, self._busy_message()) from None
            # The holder before us may have removed the file between our
            # open and our lock: then the lock is on a file nobody else will
            # open, and the one at the path is what counts.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is None:
            return
        # Removed while still held, so that nobody locks it in between.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def _busy_message(self) -> str:
        holder = "another pack"
        try:
            record = json.loads(self.path.read_text())
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(record["started"])))
            where = "" if record["host"] == socket.gethostname() else f" on {record['host']}"
            holder = f"another pack (process {int(record['pid'])}{where}, started {started})"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return (
            f"'{self.out}' is being written by {holder}, into '{self.out.name}.partial'; "
            f"wait for it to finish or stop it (its lock: '{self.path}')"
        )
