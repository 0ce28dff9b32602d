"""``ndbridge.pack``: a folder of images (or .npy files) into one file, streaming.

Files are taken in a fixed sorted order (see ``_sources``), decoded in
worker processes a bounded number of batches at a time, and written in that
same order, so memory stays a small multiple of one batch whatever the number
of files, each file is open only while it is read, and the output is the same
for any number of workers.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import errno
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any

from . import __version__
from ._decode import DecodeSettings, Sample, decode_batch
from ._errors import Error, FileError, FormatError, UsageError, file_error
from ._formats import system_errno
from ._sources import Census, sources, take_census

#: Bytes of decoded samples a batch aims at; batches in flight are bounded
#: too, so this sets the memory the packer needs.
BATCH_BYTES = 16 << 20
MAX_BATCH = 64
#: Examples of differing shapes quoted in the error.
SHAPE_EXAMPLES = 5


@dataclass
class PackSummary:
    """What a packing run did; ``as_dict()`` is what ``--json`` prints."""

    output: str
    format: str
    store: str
    images: int
    skipped: int
    ignored: int
    bytes: int
    seconds: float
    images_per_second: float
    shape: list[int] | None
    dtype: str | None
    classes: list[str]
    resumed: bool
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    #: Sharded packs: shard files in all, packed by this run, reused from an earlier one.
    shards: int = 0
    shards_packed: int = 0
    shards_reused: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _parse_resize(resize: str | tuple[int, int] | None) -> tuple[int, int] | None:
    if resize is None or isinstance(resize, tuple):
        return resize
    try:
        height, width = (int(v) for v in resize.lower().split("x"))
    except ValueError:
        raise UsageError(f"--resize wants HEIGHTxWIDTH such as 224x224, not '{resize}'") from None
    if height <= 0 or width <= 0:
        raise UsageError(f"--resize wants positive sizes, not '{resize}'")
    return height, width


_SUFFIXES = {".h5": "h5", ".hdf5": "h5", ".hdf": "h5", ".npy": "npy", ".npz": "npz"}


def _format_of(out: Path, fmt: str | None) -> str:
    if fmt is None:
        fmt = _SUFFIXES.get(out.suffix.lower())
        if fmt is None:
            raise UsageError(
                f"cannot tell the output format from '{out.name}'; "
                "name it .h5, .npy or .npz, or use --format"
            )
    if fmt not in ("h5", "npy", "npz"):
        raise UsageError(f"output format must be h5, npy or npz, not '{fmt}'")
    return fmt


def _batches(items: Iterator[tuple[str, int]], size: int) -> Iterator[list[tuple[str, int]]]:
    while batch := list(islice(items, size)):
        yield batch


#: Write failures that freeing room (or raising a limit) fixes; what was
#: written so far stays for --resume.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


@contextlib.contextmanager
def _writing(partial: Path) -> Iterator[None]:
    """Turn an operating-system failure while writing the output into a
    FileError that names the file and says what to do."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        if isinstance(exc, Error) or (not isinstance(exc, OSError) and system_errno(exc) is None):
            raise
        code = system_errno(exc) or 0
        # h5py's messages carry HDF5's whole report (time, descriptor,
        # buffer address); the errno says it all.
        reason = os.strerror(code) if code else str(exc)
        raise file_error(code, f"cannot write '{partial}': {reason}") from exc


def _close_quietly(sink: Any) -> None:
    # Closing writes a last checkpoint, which a full disk refuses too (h5py
    # reports a failed close as a RuntimeError): the error that stopped the
    # run is the one to report.
    with contextlib.suppress(OSError, RuntimeError):
        sink.close()


def _shape_error(
    expected: tuple[int, ...], first_path: str, odd: list[Sample], root: Path
) -> UsageError:
    def show(shape: tuple[int, ...]) -> str:
        return "x".join(map(str, shape))

    examples = "; ".join(
        f"'{root / s.relpath}' is {show(s.array.shape)}" for s in odd[:SHAPE_EXAMPLES]
    )
    return UsageError(
        f"images differ in shape: '{root / first_path}' is {show(expected)}, but {examples}. "
        "Use --resize HxW to scale every image to one size, or --store encoded to keep "
        "the original files whatever their size"
    )


@dataclass(frozen=True)
class PackJob:
    """A checked packing request: what to pack and how, but not where to.

    Plain data, so that it can travel to another process (a Dask worker
    packing one shard) and give the same result there.
    """

    root: Path
    fmt: str
    workers: int | None
    labels: str
    store: str
    size: tuple[int, int] | None
    mode: str | None
    compression: str
    gzip_level: int
    input: str
    on_error: str
    progress: bool | None

    def settings(self, kind: str) -> DecodeSettings:
        """How the decoding workers treat each file of ``kind`` ("images" or "npy")."""
        gzip = self.gzip_level if self.compression == "gzip" and self.store == "decoded" else None
        return DecodeSettings(str(self.root), kind, self.store, self.size, self.mode, gzip)

    def options(self, kind: str, workers: int) -> dict[str, Any]:
        """The ``options`` attribute recorded in the output."""
        return {
            "store": self.store, "labels": self.labels,
            "resize": list(self.size) if self.size else None, "mode": self.mode,
            "compression": self.compression, "gzip_level": self.gzip_level, "input": kind,
            "on_error": self.on_error, "workers": workers,
        }  # fmt: skip

    def check_kind(self, kind: str) -> None:
        """Refuse image-only options for a tree of .npy files."""
        if kind == "npy" and (self.size is not None or self.mode is not None):
            raise UsageError("--resize and --mode apply to images, not to .npy files")


def pack(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    format: str | None = None,
    workers: int | None = None,
    labels: str = "none",
    store: str = "decoded",
    resize: str | tuple[int, int] | None = None,
    mode: str | None = None,
    compression: str = "none",
    gzip_level: int = 4,
    input: str = "auto",
    on_error: str = "fail",
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
    shards: int | None = None,
    shard_size: int | str | None = None,
    scheduler: str = "local",
    dask_address: str | None = None,
    retries: int = 2,
) -> PackSummary:
    """Pack the files under ``src`` into ``out`` and return a summary.

    Options mirror ``ndbridge pack``: ``labels`` "none" or "dirs" (class =
    top-level folder), ``store`` "decoded" or "encoded", ``resize`` "HxW",
    ``mode`` a Pillow mode ("RGB", "L") to convert every image to,
    ``compression`` "none", "gzip" or "lzf", ``input`` "auto", "images" or
    "npy", ``on_error`` "fail" or "skip". ``workers`` defaults to every core;
    ``progress`` to whether stderr is a terminal.

    ``shards`` (a count) or ``shard_size`` (images, or bytes such as "2GB")
    packs .h5 output as shard files stitched by a master file of virtual
    datasets (see ``ndbridge.sharding``), on ``scheduler`` "local" (one shard
    after another, here) or "dask" (one task per shard on the cluster at
    ``dask_address``, or on a local cluster; each task is tried ``retries``
    more times).
    """
    started = time.perf_counter()
    out = Path(out)
    job = _job(src, out, format, workers, labels, store, resize, mode, compression, gzip_level,
               input, on_error, progress)  # fmt: skip
    if shards is not None or shard_size is not None or scheduler != "local" or dask_address:
        from .sharding import pack_sharded

        return pack_sharded(
            job, out, shards=shards, shard_size=shard_size, scheduler=scheduler,
            dask_address=dask_address, retries=retries, resume=resume, force=force,
            started=started,
        )  # fmt: skip
    fmt = job.fmt
    for existing in (out, out.with_name(out.stem + ".meta.npz")) if fmt == "npy" else (out,):
        if existing.exists() and not force:
            raise UsageError(f"'{existing}' already exists; use --force to replace it")
    census: Census = take_census(job.root, job.input, job.labels == "dirs")
    job.check_kind(census.kind)
    return pack_items(job, out, census, sources(job.root, census.kind, census.classes),
                      resume=resume, started=started)  # fmt: skip


def _job(
    src: str | os.PathLike[str],
    out: Path,
    format: str | None,
    workers: int | None,
    labels: str,
    store: str,
    resize: str | tuple[int, int] | None,
    mode: str | None,
    compression: str,
    gzip_level: int,
    input: str,
    on_error: str,
    progress: bool | None,
) -> PackJob:
    fmt = _format_of(out, format)
    for name, value, allowed in (
        ("labels", labels, ("none", "dirs")),
        ("store", store, ("decoded", "encoded")),
        ("compression", compression, ("none", "gzip", "lzf")),
        ("input", input, ("auto", "images", "npy")),
        ("on_error", on_error, ("fail", "skip")),
    ):
        if value not in allowed:
            raise UsageError(f"{name} must be one of {', '.join(allowed)}, not '{value}'")
    size = _parse_resize(resize)
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    if not 0 <= gzip_level <= 9:
        raise UsageError(f"gzip level must be 0-9, not {gzip_level}")
    if store == "encoded" and fmt != "h5":
        raise UsageError(f"--store encoded is available for .h5 output only, not .{fmt}")
    if not out.parent.exists():
        raise file_error(
            errno.ENOENT, f"cannot write '{out}': folder '{out.parent}' does not exist"
        )
    return PackJob(Path(src).resolve(), fmt, workers, labels, store, size, mode, compression,
                   gzip_level, input, on_error, progress)  # fmt: skip


def pack_items(
    job: PackJob,
    out: Path,
    census: Census,
    items: Iterator[tuple[str, int]],
    *,
    resume: bool = False,
    started: float | None = None,
    attrs: dict[str, Any] | None = None,
    resumable: bool = True,
) -> PackSummary:
    """Pack ``items`` (relative path, label), which ``census`` describes, into ``out``.

    The one code path every output goes through: ``pack`` hands it the
    whole walk of the source, a shard of a sharded pack its own range of
    it. ``attrs`` are extra root attributes (.h5 only). ``resumable``
    says whether an interrupted run may tell the user to use ``--resume``
    (a shard's partial file is thrown away instead).
    """
    started = time.perf_counter() if started is None else started
    root, fmt = job.root, job.fmt
    workers = job.workers or os.cpu_count() or 1
    meta = {
        "ndbridge_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_root": str(root),
        **(attrs or {}),
    }
    options = job.options(census.kind, workers)
    partial = out.with_name(out.name + ".partial")
    with _writing(partial):
        if fmt == "h5":
            from ._pack_h5 import H5Sink

            sink: Any = H5Sink(out, meta, options, census.classes, resume)
        else:
            from ._pack_npy import NpySink

            sink = NpySink(out, fmt, meta, options, census.classes, census.count,
                           census.longest_path, resume)  # fmt: skip
    settings = job.settings(census.kind)
    skipped_files: list[dict[str, str]] = []
    try:
        _run(root, census, items, sink, settings, workers, job.on_error, skipped_files,
             job.progress)  # fmt: skip
        count, shape = sink.count, sink.shape()
        dtype = sink.dtype()
        skipped_total = sink.skipped_count
        with _writing(partial):
            path = sink.finish()
    except KeyboardInterrupt:
        sink.close()
        if resumable:
            print(
                f"interrupted: '{sink.partial}' kept; run again with --resume to continue",
                file=sys.stderr,
            )
        raise
    except FileError as exc:
        if exc.errno not in _NO_ROOM:
            _close_quietly(sink)
            raise
        # Out of room: what was written stays for --resume if it can be
        # resumed from. HDF5 may have been unable to finish its own records
        # in the partial file; then it goes, and the message says so.
        _close_quietly(sink)
        if resumable and sink.resumable():
            hint = "what is written so far is kept: run again with --resume once there is room"
        else:
            sink.discard()
            hint = "the partial file could not be kept: run again once there is room"
        raise file_error(exc.errno, f"{exc.strerror}; {hint}") from exc
    except BaseException:
        _close_quietly(sink)
        raise
    seconds = time.perf_counter() - started
    return PackSummary(
        output=str(path), format=fmt, store=job.store, images=count, skipped=skipped_total,
        ignored=census.ignored, bytes=path.stat().st_size, seconds=round(seconds, 3),
        images_per_second=round(count / seconds, 1) if seconds > 0 else 0.0,
        shape=list(shape) if shape else None, dtype=dtype, classes=census.classes,
        resumed=sink.resumed, skipped_files=skipped_files,
    )  # fmt: skip


def _run(
    root: Path,
    census: Census,
    items: Iterator[tuple[str, int]],
    sink: Any,
    settings: DecodeSettings,
    workers: int,
    on_error: str,
    skipped_files: list[dict[str, str]],
    progress: bool | None,
) -> None:
    from tqdm import tqdm

    done = sink.consumed
    # Files already in the partial file (--resume); the last one is kept.
    tail = collections.deque(islice(items, done), maxlen=1)
    last = tail[0][0] if tail else None
    if done and sink.last_consumed is not None and last != sink.last_consumed:
        # Source files added or removed before the checkpoint would shift
        # every later file by one: some would be packed twice or never.
        raise UsageError(
            f"cannot resume from '{sink.partial}': the files in '{root}' changed since it "
            f"was written (source file {done} was '{sink.last_consumed}', now "
            f"{repr(last) if last is not None else 'there are fewer'}); "
            "run without --resume to start over"
        )
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(
        total=census.count,
        initial=done,
        unit="img",
        disable=not show,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    expected = sink.shape()
    first_path = sink.first_path()

    def accept(batch: list[Sample]) -> None:
        nonlocal expected, first_path, done
        good, skipped = [], []
        for s in batch:
            if s.error is not None:
                if on_error == "fail" and s.errno is not None:  # unreadable, vanished
                    raise file_error(s.errno, f"'{root / s.relpath}': {s.error}")
                if on_error == "fail":
                    raise FormatError(f"'{root / s.relpath}': {s.error}")
                skipped.append((s.relpath, s.error))
                skipped_files.append({"path": s.relpath, "reason": s.error})
            else:
                good.append(s)
        if settings.store == "decoded" and good:
            if expected is None:
                expected, first_path = good[0].array.shape, good[0].relpath
            odd = [
                s for s in good if s.array.shape != expected or s.array.dtype != good[0].array.dtype
            ]
            if odd:
                raise _shape_error(expected, first_path, odd, root)
        done += len(batch)
        with _writing(sink.partial):
            sink.add(good, skipped, done, batch[-1].relpath)
        bar.update(len(batch))

    try:
        # The first file fixes the batch size: about BATCH_BYTES of samples.
        first = list(islice(items, 1))
        if not first:
            return
        probe = decode_batch(settings, first)
        nbytes = probe[0].array.nbytes if probe[0].array is not None else 1 << 20
        batch_size = max(1, min(MAX_BATCH, BATCH_BYTES // max(nbytes, 1)))
        accept(probe)
        batches = _batches(items, batch_size)
        if workers == 1:
            for batch in batches:
                accept(decode_batch(settings, batch))
            return
        _run_parallel(batches, settings, workers, batch_size * max(nbytes, 1), accept)
    finally:
        bar.close()


def _run_parallel(
    batches: Iterator[list[tuple[str, int]]],
    settings: DecodeSettings,
    workers: int,
    batch_bytes: int,
    accept: Any,
) -> None:
    # A window of 2 batches per worker keeps every worker busy while bounding
    # memory; results are taken in submission order, so the output does not
    # depend on which worker finishes first. Each batch in flight owns one
    # slot of a scratch file that carries its pixels back.
    import dataclasses
    import mmap
    import tempfile

    from ._decode import keep_freed_memory, unpark

    window = 2 * workers
    shm = Path("/dev/shm")
    folder = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.NamedTemporaryFile(prefix="ndbridge-pack-", dir=folder) as scratch_file:
        scratch_file.truncate(window * batch_bytes)
        scratch = mmap.mmap(scratch_file.fileno(), 0)
        settings = dataclasses.replace(settings, scratch=scratch_file.name, slot_bytes=batch_bytes)
        context = multiprocessing.get_context("forkserver")
        # Import the decoders once, in the fork server, rather than in every
        # worker: each worker then starts in milliseconds.
        context.set_forkserver_preload(
            ["ndbridge._decode", "PIL.Image", "PIL.JpegImagePlugin", "PIL.PngImagePlugin"]
        )
        free = collections.deque(range(window))
        pending: collections.deque[tuple[concurrent.futures.Future[list[Sample]], int]]
        pending = collections.deque()

        def take() -> None:
            future, slot = pending.popleft()
            samples = future.result()
            unpark(samples, scratch)
            accept(samples)
            del samples  # the views into the slot die before it is reused
            free.append(slot)

        with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=keep_freed_memory
        ) as pool:
            try:
                for batch in batches:
                    if not free:
                        take()
                    slot = free.popleft()
                    pending.append((pool.submit(decode_batch, settings, batch, slot), slot))
                while pending:
                    take()
            except BaseException:
                for future, _ in pending:
                    future.cancel()
                raise
        # A view still alive somewhere makes close() refuse; the GC unmaps then.
        with contextlib.suppress(BufferError):
            scratch.close()
