"""Decoding batches of files in threads, handing them back in order.

Threads, not processes: Pillow's decoders and resizers, numpy's copies and
zlib all let go of the GIL while they work, and threads leave nothing
behind when the process ends however it ends (no fork server, no shared
memory, no semaphores, no orphans holding the caller's stdout), need no
``if __name__ == "__main__"`` guard in the caller's script, and start from
anywhere: a notebook, ``python -c``, stdin, a thread, a Dask worker. The
README's pack benchmark measures them against a process pool.

At most ``2 * workers`` batches are in flight, so memory is bounded by the
batch size, not by the number of files; results come back in submission
order, so the output does not depend on which thread finishes first.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Iterator
from types import TracebackType

from .decoding import DecodeSettings, Sample, decode_batch

Batch = list[tuple[str, int]]


class Decoder:
    """Decodes batches with ``workers`` threads (1: in the calling thread).

    Use as a context manager: leaving it, normally or by an exception (a
    Ctrl-C included), cancels the batches not started, lets each running one
    stop after its current file, and joins every thread before returning.
    """

    def __init__(self, settings: DecodeSettings, workers: int) -> None:
        self.settings = settings
        self.workers = workers
        self._stop = threading.Event()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: collections.deque[concurrent.futures.Future[list[Sample]]] = (
            collections.deque()
        )

    def __enter__(self) -> Decoder:
        if self.workers > 1:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self.workers, thread_name_prefix="ndbridge-decode"
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def decoded(self, batches: Iterator[Batch]) -> Iterator[list[Sample]]:
        """Each batch decoded, in the order given."""
        if self._pool is None:
            for batch in batches:
                yield decode_batch(self.settings, batch)
            return
        window = 2 * self.workers
        for batch in batches:
            if len(self._pending) >= window:
                yield self._pending.popleft().result()
            self._pending.append(self._pool.submit(decode_batch, self.settings, batch, self._stop))
        while self._pending:
            yield self._pending.popleft().result()
