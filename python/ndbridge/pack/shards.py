"""Sharded packing: one .h5 output as shard files and a master file over them.

``ndbridge pack SRC OUT.h5 --shards N`` (or ``--shard-size``) plans the
shards (``shard_plan``: the pack-order walk cut into contiguous ranges),
packs each one into ``OUT.shards/OUT-<i>-of-<n>.h5`` and then writes
``OUT.h5``, whose datasets are HDF5 virtual datasets over the shards
(``merge``), so that h5py, the C++ reader, ``ndbridge ls`` and
``ndbridge verify`` see one dataset.

Each shard is packed by :func:`pack_shard`, a pure function of the job and
its range, through the code path a single-file pack takes
(``packer.pack_items``): a shard is a complete packed file on its own, and
its datasets hold exactly the rows of a single-file pack that its range
covers. Class names come from the whole tree, so labels agree across
shards. A shard is written under a name unique to the attempt and renamed
into place only when finished, so that an attempt killed half way, or two
attempts at once, never leave a file that looks complete.

Schedulers: "local" packs the shards here, one after another, each with the
packer's own decoding threads (``workers``, default every core); "dask"
makes each shard a task on a ``dask.distributed`` cluster (``dask_address``,
or a ``LocalCluster`` of this machine's cores) and decodes with one thread
per task unless ``workers`` says otherwise. A task that raises is tried
``retries`` more times; a task whose worker dies is rescheduled by Dask
itself (up to its ``distributed.scheduler.allowed-failures``). Errors in the
data (a corrupt file with ``on_error="fail"``, images of different shapes)
are not retried: they would fail again.

Running the same command again packs only the shards that are missing: a
shard file is reused when it is finished and carries this plan's digest (the
same files, labels, options and source root). ``force`` repacks them all.
Only complete shards ever get their final name, and the master is written
last, once every shard is there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import Error, FormatError, NotFoundError, UnsupportedError, UsageError
from ..packed import ATTR_OPTIONS, ATTR_SOURCE_ROOT, IMAGES, PATHS, SKIPPED_PATHS, SKIPPED_REASONS
from .decoding import decode_batch
from .interrupt import raise_pending, reported
from .job import PackJob, PackSummary
from .packer import pack_items
from .shard_plan import (
    ShardSpec,
    content_key,
    iter_shards,
    parse_shard_size,
    shard_folder,
    shard_lengths,
)
from .sources import Census, sources, take_census

#: Errors that come from the data: trying the shard again cannot help.
DATA_ERRORS = (FormatError, UsageError, UnsupportedError, NotFoundError)


@dataclass
class ShardResult:
    """What one shard holds, packed now or found complete."""

    index: int
    path: str
    images: int
    skipped: int
    shape: list[int] | None
    dtype: str | None
    bytes: int
    reused: bool = False
    skipped_files: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ShardFailure:
    """A shard that failed on its data; returned by a task rather than raised,
    so that Dask does not retry it."""

    index: int
    error: Exception


def pack_shard(
    job: PackJob, census: Census, spec: ShardSpec, items: list[tuple[str, int]]
) -> ShardResult:
    """Pack shard ``spec``, whose files are ``items``, into ``spec.path``.

    ``census`` describes the whole tree (kind, class names). The result
    depends on nothing but the arguments, so it can run in any process that
    sees the source and output folders. Raises what ``ndbridge.pack`` raises.
    """
    spec.path.parent.mkdir(exist_ok=True)
    temporary = spec.path.with_name(f".{spec.path.name}.{uuid.uuid4().hex}")
    own = Census(census.kind, spec.files, census.classes, census.longest_path, [], census.names)
    try:
        summary = pack_items(job, temporary, own, iter(items), attrs=spec.attrs(), resumable=False)
        os.replace(temporary, spec.path)
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".partial")):
            leftover.unlink(missing_ok=True)
    return ShardResult(
        spec.index, str(spec.path), summary.images, summary.skipped, summary.shape,
        summary.dtype, summary.bytes, False, summary.skipped_files,
    )  # fmt: skip


def _shard_task(
    job: PackJob, census: Census, spec: ShardSpec, items: list[tuple[str, int]]
) -> ShardResult | ShardFailure:
    try:
        return pack_shard(job, census, spec, items)
    except DATA_ERRORS as exc:
        return ShardFailure(spec.index, exc)


def completed_shard(spec: ShardSpec) -> ShardResult | None:
    """The shard file already at ``spec.path``, if it is finished and of this plan."""
    from ..arrays import open_h5
    from .merge import attr_text, read_shard

    if not spec.path.is_file():
        return None
    try:
        shard = read_shard(spec.path)
        rows = {name: n for name, (_, _, n) in shard.datasets.items()}
        if (
            attr_text(shard.attrs.get("shard_digest", "")) != spec.digest
            or rows.get(PATHS, 0) + rows.get(SKIPPED_PATHS, 0) != spec.files
        ):
            return None
        with open_h5(spec.path) as f:
            paths, reasons = f[SKIPPED_PATHS].asstr()[()], f[SKIPPED_REASONS].asstr()[()]
            skipped = list(zip(paths, reasons, strict=False))
    except (Error, OSError, KeyError):
        return None  # unfinished or damaged: pack it again
    dtype, shape = None, None
    if shard.store == "encoded":
        dtype = "|u1"
    elif IMAGES in shard.datasets:
        dtype, row, _ = shard.datasets[IMAGES]
        dtype, shape = dtype.str, list(row)
    return ShardResult(
        spec.index, str(spec.path), rows.get(PATHS, 0), len(skipped), shape, dtype,
        spec.path.stat().st_size, True, [{"path": p, "reason": r} for p, r in skipped],
    )  # fmt: skip


def _bytes_per_file(job: PackJob, census: Census) -> int:
    first = next(iter(sources(job.root, census.kind, census.classes)))
    sample = decode_batch(job.settings(census.kind), [first])[0]
    if sample.error is not None or sample.array is None:
        raise UsageError(
            f"cannot size shards in bytes: the first file '{job.root / first[0]}' does not "
            f"read ({sample.error}); give --shard-size as a number of images"
        )
    return len(sample.encoded) if sample.encoded is not None else sample.array.nbytes


def _plan_lengths(
    job: PackJob, census: Census, shards: int | None, shard_size: int | str | None
) -> list[int]:
    if shard_size is None:
        return shard_lengths(census.count, shards=shards)
    images, nbytes = parse_shard_size(shard_size)
    if images is None:
        images = max(1, (nbytes or 0) // max(1, _bytes_per_file(job, census)))
    return shard_lengths(census.count, per_shard=images)


def check_request(
    job: PackJob,
    shards: int | None,
    shard_size: int | str | None,
    scheduler: str,
    dask_address: str | None,
    retries: int,
) -> None:
    if scheduler not in ("local", "dask"):
        raise UsageError(f"scheduler must be local or dask, not '{scheduler}'")
    if dask_address and scheduler != "dask":
        raise UsageError("--dask-address needs --scheduler dask")
    if shards is None and shard_size is None:
        raise UsageError(f"--scheduler {scheduler} packs shards: give --shards N or --shard-size")
    if shards is not None and shard_size is not None:
        raise UsageError("give --shards or --shard-size, not both")
    if job.fmt != "h5":
        raise UsageError(
            f"sharded packing writes .h5 output (a master file of HDF5 virtual datasets), "
            f"not .{job.fmt}"
        )
    if retries < 0:
        raise UsageError(f"retries must be 0 or more, not {retries}")
    if scheduler == "dask":
        from .dask_cluster import import_distributed

        import_distributed()  # before any work: says what to install


def pack_sharded(
    job: PackJob,
    out: Path,
    *,
    shards: int | None,
    shard_size: int | str | None,
    scheduler: str = "local",
    dask_address: str | None = None,
    retries: int = 2,
    force: bool = False,
    started: float | None = None,
) -> PackSummary:
    """Pack ``job`` as shards and a master file ``out``; see the module docstring.

    A sharded pack always reuses the complete shards of an earlier run of
    the same plan (unless ``force``): ``--resume`` is not needed.
    """
    from tqdm import tqdm

    from .merge import merge

    started = time.perf_counter() if started is None else started
    if out.exists() and not force:
        raise UsageError(f"'{out}' already exists; use --force to replace it")
    census = take_census(job.root, job.input, job.labels == "dirs")
    job.check_kind(census.kind)
    lengths = _plan_lengths(job, census, shards, shard_size)
    shard_folder(out).mkdir(exist_ok=True)
    key = content_key(census, job.options(census.kind, 0), job.root)
    show = sys.stderr.isatty() if job.progress is None else job.progress
    bar = tqdm(total=census.count, unit="img", disable=not show, file=sys.stderr,
               dynamic_ncols=True)  # fmt: skip
    specs: list[ShardSpec] = []
    results: dict[int, ShardResult] = {}

    def done(result: ShardResult) -> None:
        results[result.index] = result
        bar.update(specs[result.index].files)
        raise_pending()

    def missing() -> Iterator[tuple[ShardSpec, list[tuple[str, int]]]]:
        for spec, items in iter_shards(job.root, census, lengths, out, key):
            specs.append(spec)
            found = None if force else completed_shard(spec)
            if found is not None:
                done(found)
            else:
                yield spec, items

    quiet = dataclasses.replace(job, progress=False)
    try:
        if scheduler == "local":
            for spec, items in missing():
                done(pack_shard(quiet, census, spec, items))
        else:
            from .dask_cluster import run_shards

            run_shards(
                _shard_task, dataclasses.replace(quiet, workers=job.workers or 1), census,
                missing(), address=dask_address, retries=retries, on_done=done,
            )  # fmt: skip
    except KeyboardInterrupt as stop:
        print(
            f"interrupted: complete shards are kept in '{shard_folder(out)}'; run the same "
            "command again to pack only the rest",
            file=sys.stderr,
        )
        reported(stop)
        raise
    finally:
        bar.close()
    workers = job.threads() if scheduler == "local" else job.workers or 1
    options = {**job.options(census.kind, workers), "shards": len(specs), "scheduler": scheduler}
    attrs = {ATTR_SOURCE_ROOT: str(job.root), ATTR_OPTIONS: json.dumps(options, sort_keys=True)}
    ignored = [(census.stored(p), r) for p, r in census.ignored]
    merged = merge([spec.path for spec in specs], out, force=True, attrs=attrs, ignored=ignored)
    for spec in specs:  # what killed or abandoned attempts left behind
        for leftover in spec.path.parent.glob(f".{spec.path.name}.*"):
            with contextlib.suppress(OSError):
                leftover.unlink()
    ordered = [results[spec.index] for spec in specs]
    seconds = time.perf_counter() - started
    first = next((r for r in ordered if r.dtype is not None), None)
    return PackSummary(
        output=str(out), format="h5", store=job.store, images=merged.images,
        skipped=merged.skipped, ignored=len(census.ignored),
        bytes=out.stat().st_size + sum(r.bytes for r in ordered), seconds=round(seconds, 3),
        images_per_second=round(merged.images / seconds, 1) if seconds > 0 else 0.0,
        shape=first.shape if first else None, dtype=first.dtype if first else None,
        classes=census.classes, resumed=any(r.reused for r in ordered),
        skipped_files=[f for r in ordered for f in r.skipped_files],
        shards=len(specs), shards_packed=sum(not r.reused for r in ordered),
        shards_reused=sum(r.reused for r in ordered),
        ignored_files=[{"path": census.stored(p), "reason": r} for p, r in census.ignored],
    )  # fmt: skip
