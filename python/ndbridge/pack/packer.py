"""``ndbridge.pack``: one pack from the first option checked to the file renamed into place.

Files are taken in a fixed sorted order (``sources``), decoded by threads a
bounded number of batches at a time (``engine``), checked against the
dataset the first one started (``consistency``) and written in that order
by the output format's writer, so memory stays a small multiple of one
batch whatever the number of files, each thread holds one file open at a
time, and the output is the same for any number of threads.

However a run ends, it says what it left: a finished file under the output
name; or ``OUT.partial``, checkpointed, with one line saying how many images
it keeps and how to continue (``--resume``) or start over; or nothing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import struct
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from .. import packed
from .._core import __version__
from .._errors import Error, FileError, FormatError, MismatchError, UsageError, file_error
from .._formats import system_errno
from .consistency import SampleSpec
from .decoding import Sample, decode_batch
from .engine import Decoder
from .interrupt import completed, raise_pending, reported, signals_held, signals_interrupt
from .job import PackJob, PackSummary, make_job
from .lock import OutputLock
from .sources import Census, sources, take_census

#: Bytes of decoded samples a batch aims at; batches in flight are bounded
#: too, so this sets the memory the packer needs.
BATCH_BYTES = 16 << 20
#: Bytes of source files a batch aims at: large photos go one to a batch,
#: so that every thread has some to decode.
SOURCE_BATCH_BYTES = 4 << 20
MAX_BATCH = 64
#: Open files a run needs besides one per decoding thread: the output and
#: its side files, the lock, a flush, and Python's and HDF5's own.
FILES_PER_RUN = 12
#: Files named in the summary's notes before "and N more".
NOTE_EXAMPLES = 5


def pack(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    format: str | None = None,
    workers: int | None = None,
    labels: str = "none",
    store: str = "decoded",
    resize: str | tuple[int, int] | None = None,
    resize_mode: str = "border",
    mode: str | None = None,
    dtype: str | None = None,
    orientation: str = "exif",
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
    top-level folder), ``store`` "decoded" or "encoded", ``resize`` "HxW"
    with ``resize_mode`` "border", "center-crop" or "stretch", ``mode`` a
    Pillow mode ("RGB", "L") to convert every image to, ``dtype`` a numpy
    type to convert values to, ``orientation`` "exif" or "raw",
    ``compression`` "none", "gzip" or "lzf", ``input`` "auto", "images" or
    "npy", ``on_error`` "fail" or "skip". ``workers`` (decoding threads)
    defaults to every core this process may use; ``progress`` to whether
    stderr is a terminal.

    ``shards`` (a count) or ``shard_size`` (images, or bytes such as "2GB")
    packs .h5 output as shard files stitched by a master file of virtual
    datasets (see ``ndbridge.pack.shards``), on ``scheduler`` "local" (one
    shard after another, here) or "dask" (one task per shard on the cluster
    at ``dask_address``, or on a local cluster; each task is tried
    ``retries`` more times).

    Safe to call from any script, notebook or thread. While it runs, SIGTERM
    and SIGHUP (when called from the main thread and not handled by the
    caller) end it as Ctrl-C does, raising ``ndbridge.pack.interrupt.Interrupted``.
    """
    started = time.perf_counter()
    out = Path(out)
    job = make_job(
        src, out, format=format, workers=workers, labels=labels, store=store, resize=resize,
        resize_mode=resize_mode, mode=mode, dtype=dtype, orientation=orientation,
        compression=compression, gzip_level=gzip_level, input=input, on_error=on_error,
        progress=progress,
    )  # fmt: skip
    sharded = shards is not None or shard_size is not None or scheduler != "local" or dask_address
    if sharded:
        from .shards import check_request

        check_request(job, shards, shard_size, scheduler, dask_address, retries)
    with signals_interrupt(), OutputLock(out):
        if sharded:
            from .shards import pack_sharded

            return pack_sharded(
                job, out, shards=shards, shard_size=shard_size, scheduler=scheduler,
                dask_address=dask_address, retries=retries, force=force, started=started,
            )  # fmt: skip
        finals = (out, out.with_name(out.stem + packed.META_SUFFIX)) if job.fmt == "npy" else (out,)
        for existing in finals:
            if existing.exists() and not force:
                raise UsageError(f"'{existing}' already exists; use --force to replace it")
        census = take_census(job.root, job.input, job.labels == "dirs")
        job.check_kind(census.kind)
        items = sources(job.root, census.kind, census.classes)
        return pack_items(job, out, census, items, resume=resume, started=started)


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
    notes: list[str] = []
    workers = _threads_within_file_limit(job.threads(), notes)
    meta = {
        packed.ATTR_VERSION: __version__,
        packed.ATTR_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
        packed.ATTR_SOURCE_ROOT: str(job.root),
        packed.ATTR_NAMES: census.names,
        **(attrs or {}),
    }
    options = job.options(census.kind, workers)
    partial = out.with_name(out.name + ".partial")
    with _writing(partial):
        if job.fmt == "h5":
            from .h5_writer import H5Sink

            sink: Any = H5Sink(out, meta, options, census, resume)
        else:
            from .npy_writer import NpySink

            sink = NpySink(out, job.fmt, meta, options, census, resume)
    if sink.restarted:
        notes.append(sink.restarted)
    run = _Run(job, census, sink, workers, notes)
    try:
        run.skip_packed(items)
    except KeyboardInterrupt as stop:
        _interrupted(sink, stop, resumable)
        raise
    except BaseException:
        _close_quietly(sink)  # the partial stays as it was: nothing was added
        raise
    try:
        run.pack(items)
        if sink.count == 0:
            raise _nothing_packed(job, run)
        count, skipped, dtype = sink.count, sink.skipped_count, sink.dtype()
        raise_pending()
        with _writing(partial):
            sink.finish(run.report(), census.ignored)
            # The output is complete: its renames are not cut short, and a
            # signal from here on is dropped (the run has succeeded).
            completed()
            path = sink.commit()
    except KeyboardInterrupt as stop:
        _interrupted(sink, stop, resumable)
        raise
    except FileError as exc:
        if exc.errno in _NO_ROOM:
            raise _out_of_room(sink, exc, resumable) from exc
        raise _failed(sink, exc, resumable) from exc
    except Error as exc:
        raise _failed(sink, exc, resumable) from exc
    except BaseException:
        _close_quietly(sink)
        raise
    seconds = time.perf_counter() - started
    return PackSummary(
        output=str(path), format=job.fmt, store=job.store, images=count,
        skipped=skipped, ignored=len(census.ignored), bytes=path.stat().st_size,
        seconds=round(seconds, 3),
        images_per_second=round(count / seconds, 1) if seconds > 0 else 0.0,
        shape=list(run.spec.shape) if run.spec and job.store == "decoded" else None,
        dtype=dtype, classes=census.classes, resumed=sink.resumed,
        skipped_files=run.skipped_files,
        ignored_files=[{"path": census.stored(p), "reason": r} for p, r in census.ignored],
        oriented=run.oriented, multi_frame=run.multi_frame, notes=run.final_notes(),
    )  # fmt: skip


class _Run:
    """The decoding loop of one pack, and what it counts."""

    def __init__(
        self, job: PackJob, census: Census, sink: Any, workers: int, notes: list[str]
    ) -> None:
        self.job, self.census, self.sink, self.workers = job, census, sink, workers
        self.notes = notes
        self.settings = job.settings(census.kind)
        self.digest = hashlib.blake2b(digest_size=16)
        self.done = 0
        self.skipped_files: list[dict[str, str]] = []
        report = sink.report
        self.oriented = int(report.get("oriented", 0))
        self.multi_frame = int(report.get("multi_frame", 0))
        self.multi_frame_examples: list[str] = []
        self.spec: SampleSpec | None = None
        shape, dtype = sink.shape(), sink.dtype()
        if shape is not None and dtype is not None and job.store == "decoded":
            import numpy as np

            first = sink.first_path() or "?"
            self.spec = SampleSpec(job.root, census.kind, shape, np.dtype(dtype), first)

    def skip_packed(self, items: Iterator[tuple[str, int]]) -> None:
        """Step over the files the partial output already holds (``--resume``),
        refusing if any of them changed since."""
        done = self.sink.consumed
        if not done:
            return
        last = None
        for relpath, _ in islice(items, done):
            try:
                st = os.stat(self.job.root / relpath)
                size, mtime = st.st_size, st.st_mtime_ns
            except OSError:
                size, mtime = -1, -1
            self._feed(relpath, size, mtime)
            last = relpath
        self.done = done
        partial = self.sink.partial
        if self.sink.digest is not None:
            if self.digest.hexdigest() != self.sink.digest:
                raise UsageError(
                    f"cannot resume from '{partial}': the {done} source files it already "
                    f"holds changed since (files added, removed, renamed or rewritten in "
                    f"'{self.job.root}'); run without --resume to start over"
                )
        elif (self.census.stored(last) if last is not None else None) != self.sink.last_consumed:
            raise UsageError(
                f"cannot resume from '{partial}': the files in '{self.job.root}' changed since "
                f"it was written (source file {done} was '{self.sink.last_consumed}', now "
                f"{repr(last) if last is not None else 'there are fewer'}); "
                "run without --resume to start over"
            )

    def pack(self, items: Iterator[tuple[str, int]]) -> None:
        """Decode and write every remaining file."""
        from tqdm import tqdm

        show = sys.stderr.isatty() if self.job.progress is None else self.job.progress
        bar = tqdm(total=self.census.count, initial=self.done, unit="img", disable=not show,
                   file=sys.stderr, dynamic_ncols=True, smoothing=0.1)  # fmt: skip
        try:
            # The first file sizes the batches: about BATCH_BYTES decoded and
            # SOURCE_BATCH_BYTES read, at most MAX_BATCH files.
            first = list(islice(items, 1))
            if not first:
                return
            probe = decode_batch(self.settings, first)
            decoded = probe[0].array.nbytes if probe[0].array is not None else 1 << 20
            source = max(probe[0].size, 1)
            size = max(
                1, min(MAX_BATCH, BATCH_BYTES // max(decoded, 1), SOURCE_BATCH_BYTES // source)
            )
            self._accept(probe)
            bar.update(1)
            with Decoder(self.settings, self.workers) as decoder:
                for samples in decoder.decoded(_batches(items, size)):
                    raise_pending()
                    self._accept(samples)
                    bar.update(len(samples))
        finally:
            bar.close()

    def _feed(self, relpath: str, size: int, mtime_ns: int) -> None:
        self.digest.update(os.fsencode(relpath) + b"\0" + struct.pack("<qq", size, mtime_ns))

    def _accept(self, batch: list[Sample]) -> None:
        job, root = self.job, self.job.root
        good, skipped = [], []
        for s in batch:
            self._feed(s.relpath, s.size, s.mtime_ns)
            if s.error is not None:
                if job.on_error == "fail" and s.errno is not None:  # unreadable, vanished
                    raise file_error(s.errno, f"'{root / s.relpath}': {s.error}")
                if job.on_error == "fail":
                    raise FormatError(f"'{root / s.relpath}': {s.error}")
                stored = self.census.stored(s.relpath)
                skipped.append((stored, s.error))
                self.skipped_files.append({"path": stored, "reason": s.error})
                continue
            assert s.array is not None
            if job.store == "decoded":
                if self.spec is None:
                    self.spec = SampleSpec(root, self.census.kind, s.array.shape, s.array.dtype,
                                           s.relpath)  # fmt: skip
                self.spec.check(s)
            self.oriented += s.oriented
            if s.frames > 1:
                self.multi_frame += 1
                if len(self.multi_frame_examples) < NOTE_EXAMPLES:
                    self.multi_frame_examples.append(self.census.stored(s.relpath))
            good.append(s)
        self.done += len(batch)
        with _writing(self.sink.partial):
            self.sink.add(good, skipped, self.done, batch[-1].relpath, self.digest.hexdigest(),
                          self.report())  # fmt: skip

    def report(self) -> dict[str, Any]:
        """What happened to pixels, for the output's provenance."""
        return {"oriented": self.oriented, "multi_frame": self.multi_frame}

    def final_notes(self) -> list[str]:
        """The notes of the summary: what the run decided or changed unasked."""
        notes = list(self.notes)
        if self.multi_frame:
            shown = ", ".join(self.multi_frame_examples)
            more = self.multi_frame - len(self.multi_frame_examples)
            notes.append(
                f"{self.multi_frame} files have more than one frame (animations, multi-page "
                f"TIFFs); only the first was packed: {shown}"
                + (f" and {more} more" if more else "")
            )
        if self.oriented:
            notes.append(
                f"{self.oriented} images were turned upright by their EXIF orientation "
                "(--orientation raw keeps them as stored)"
            )
        return notes


def _batches(items: Iterator[tuple[str, int]], size: int) -> Iterator[list[tuple[str, int]]]:
    while batch := list(islice(items, size)):
        yield batch


def _threads_within_file_limit(workers: int, notes: list[str]) -> int:
    """``workers``, or as many as the open-file limit leaves room for (said in ``notes``)."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return workers
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 16
    room = soft - in_use - FILES_PER_RUN
    if room >= workers:
        return workers
    if room >= 1:
        notes.append(
            f"the open-file limit (ulimit -n {soft}) leaves room for {room} decoding threads; "
            f"used {room} instead of {workers}"
        )
        return room
    need = in_use + FILES_PER_RUN + 1
    raise file_error(
        errno.EMFILE,
        f"ndbridge pack needs {need} open files and this process may have {soft} "
        f"(ulimit -n), {in_use} of them already open; raise the limit with 'ulimit -n {need}' "
        "or more",
    )


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


def _interrupted(sink: Any, stop: KeyboardInterrupt, resumable: bool) -> None:
    """Close the partial output of a run a signal stopped and say what it kept."""
    with signals_held():
        _close_quietly(sink)
        kept = resumable and sink.resumable()
        if resumable and not kept:  # nothing a --resume could continue from
            with contextlib.suppress(OSError, RuntimeError):
                sink.discard()
    if not resumable:
        return
    if kept:
        print(
            f"interrupted: '{sink.partial}' keeps {_images(sink.count)}; run the same "
            "command with --resume to continue, or without it to start over",
            file=sys.stderr,
        )
    else:
        print(
            "interrupted before any progress was saved; run the same command again",
            file=sys.stderr,
        )
    reported(stop)


def _close_quietly(sink: Any) -> None:
    # Closing writes a last checkpoint, which a full disk refuses too (h5py
    # reports a failed close as a RuntimeError): the error that stopped the
    # run is the one to report.
    with contextlib.suppress(OSError, RuntimeError):
        sink.close()


def _images(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"


def _same_kind(exc: Error, message: str) -> Error:
    """An error of ``exc``'s kind (and errno) with another message."""
    if isinstance(exc, FileError):
        return file_error(exc.errno or 0, message)
    return type(exc)(message)


def _failed(sink: Any, exc: Error, resumable: bool) -> Error:
    """The error that stopped the run, saying what became of the partial output."""
    _close_quietly(sink)
    count = sink.count
    # Files that do not fit together need other options, which a resumed run
    # may not change: only a start over helps, and the partial goes.
    if resumable and count and sink.resumable() and not isinstance(exc, MismatchError):
        kept = (
            f"'{sink.partial}' keeps the {_images(count)} packed before it: run the same "
            "command with --resume to continue once that is fixed, or without --resume to "
            "start over"
        )
    else:
        with contextlib.suppress(OSError, RuntimeError):
            sink.discard()
        kept = "no partial output was kept"
    text = exc.strerror if isinstance(exc, FileError) and exc.strerror else str(exc)
    return _same_kind(exc, f"{text}; {kept}")


def _out_of_room(sink: Any, exc: FileError, resumable: bool) -> FileError:
    # Out of room: what was written stays for --resume if it can be resumed
    # from. HDF5 may have been unable to finish its own records in the
    # partial file; then it goes, and the message says so.
    _close_quietly(sink)
    if resumable and sink.resumable():
        hint = (
            f"what is written so far is kept in '{sink.partial}': run again with --resume "
            "once there is room"
        )
    else:
        with contextlib.suppress(OSError, RuntimeError):
            sink.discard()
        hint = (
            "no progress was saved yet, and the partial file is removed: run again once there "
            "is room"
        )
    return file_error(exc.errno or 0, f"{exc.strerror}; {hint}")


def _nothing_packed(job: PackJob, run: _Run) -> Error:
    detail = ""
    if run.skipped_files:
        first = run.skipped_files[0]
        detail = (
            f": all {len(run.skipped_files)} were skipped (the first, '{first['path']}': "
            f"{first['reason']})"
        )
    return FormatError(f"no file under '{job.root}' could be packed{detail}")
