"""Running shard tasks on a ``dask.distributed`` cluster.

Imported only for ``--scheduler dask``: ndbridge works without Dask, and
asking for it without it installed is a UsageError saying what to install.
Nothing here knows what a shard holds; it submits one task per shard, lets
Dask retry and reschedule, and reports every result in completion order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from .._errors import Error, UsageError

#: Seconds to wait for the scheduler at ``--dask-address``.
CONNECT_TIMEOUT = 30


def import_distributed() -> Any:
    """The ``distributed`` module, or a UsageError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--scheduler dask needs dask.distributed, which is not installed here: "
            "pip install 'ndbridge[dask]' (or 'dask[distributed]')"
        ) from None
    return distributed


def run_shards(
    task: Callable[..., Any],
    job: Any,
    census: Any,
    work: Iterator[tuple[Any, list[tuple[str, int]]]],
    *,
    address: str | None,
    retries: int,
    on_done: Callable[[Any], None],
) -> None:
    """Run ``task(job, census, spec, items)`` for every ``(spec, items)`` of ``work``.

    On the scheduler at ``address``, or on a new ``LocalCluster`` of one
    single-threaded worker process per core. Each task is tried ``retries``
    more times when it raises; a task that returns an object with an
    ``error`` attribute (a failure in the data) is not. Every task runs to
    its end before the first failure, by shard index, is raised, so that a
    re-run has only the failed shards left to do.
    """
    distributed = import_distributed()
    with contextlib.ExitStack() as stack:
        if address is None:
            cluster = distributed.LocalCluster(
                n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
            )  # fmt: skip
            stack.enter_context(cluster)
            client = stack.enter_context(distributed.Client(cluster))
        else:
            try:
                client = stack.enter_context(distributed.Client(address, timeout=CONNECT_TIMEOUT))
            except OSError as exc:
                raise UsageError(f"cannot reach the Dask scheduler at '{address}': {exc}") from None
        token = uuid.uuid4().hex[:8]  # keeps two runs on one cluster apart
        specs = {}
        for spec, items in work:
            future = client.submit(
                task, job, census, spec, items, key=f"ndbridge-shard-{spec.index:05d}-{token}",
                retries=retries, pure=False,
            )  # fmt: skip
            specs[future] = spec
        failures: list[tuple[int, BaseException]] = []
        for future in distributed.as_completed(list(specs)):
            spec = specs[future]
            try:
                outcome = future.result()
            except distributed.KilledWorker as exc:
                failures.append((spec.index, Error(
                    f"shard {spec.index} ('{spec.path}'): its worker died every time it ran "
                    f"it ({exc}); complete shards are kept, run again to pack the rest"
                )))  # fmt: skip
                continue
            except Exception as exc:
                failures.append((spec.index, exc))
                continue
            if getattr(outcome, "error", None) is not None:
                failures.append((spec.index, outcome.error))
            else:
                on_done(outcome)
    if failures:
        failures.sort(key=lambda f: f[0])
        if len(failures) > 1:
            print(
                f"{len(failures)} shards failed (shards {', '.join(str(i) for i, _ in failures)}); "
                "complete shards are kept: run again to pack only the missing ones",
                file=sys.stderr,
            )
        raise failures[0][1]
