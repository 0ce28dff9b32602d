"""The HDF5 output of the packing tool, written with h5py.

The layout, readable by h5py and by ndbridge's C++ reader, is
:mod:`ndbridge.packed`'s (``ndbridge/packed.hpp``): one sample per row of
``images`` and one chunk per sample (``--store decoded``), or the source
files' bytes in ``encoded`` with ``offsets`` and ``shapes``
(``--store encoded``); text datasets as h5py's variable-length UTF-8.

While packing, the file lives at ``OUT.partial``; at every checkpoint (at
most once a second) it is closed, so that HDF5 writes out all it holds, and
``OUT.partial.state.json`` (``checkpoint``) records the progress it holds,
which is what ``--resume`` continues from.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .. import packed
from .._formats import system_errno
from .checkpoint import Checkpoint
from .decoding import Sample
from .sources import Census
from .writeback import Writeback

#: Seconds between checkpoints of the partial file.
CHECKPOINT_SECONDS = 1.0
_STR = h5py.string_dtype()
_ENCODED_CHUNK = 1 << 20


class _Damaged(Exception):
    """A partial file that cannot be reopened or cut back to its checkpoint."""


def _damaged_or(exc: BaseException) -> BaseException:
    """What h5py's failure on a partial file means: ``exc`` itself when a
    system call failed (unreadable, disk full), else the file is damaged."""
    if system_errno(exc) is not None:
        return exc
    # h5py's messages may carry HDF5's whole report; its first line says what failed.
    text = str(exc).strip()
    return _Damaged(text.splitlines()[0] if text else type(exc).__name__)


def _hold_metadata(f: h5py.File) -> None:
    """Keep HDF5's changed metadata in memory until the next checkpoint.

    By default HDF5 writes metadata out whenever its cache makes room, so a
    run killed between checkpoints left a file mixing two moments: object
    headers and B-tree nodes newer than the superblock, pointing past its
    end of allocation. --resume then opened it, and failed on the first
    write ("address of object past end of allocation", "bad heap index").
    With evictions off (which HDF5 allows only with automatic resizing off)
    the file on disk stays as the last flush left it, plus raw data written
    to space allocated after it, which resuming allocates anew.
    """
    config = f.id.get_mdc_config()
    config.evictions_enabled = False
    config.incr_mode = 0  # H5C_incr__off
    config.flash_incr_mode = 0  # H5C_flash_incr__off
    config.decr_mode = 0  # H5C_decr__off
    f.id.set_mdc_config(config)


def _appendable(
    group: h5py.Group, name: str, dtype: Any, row: tuple[int, ...] = (), chunk_rows: int = 4096
) -> h5py.Dataset:
    return group.create_dataset(
        name, shape=(0, *row), maxshape=(None, *row), dtype=dtype, chunks=(chunk_rows, *row)
    )


def _append(dataset: h5py.Dataset, values: Any) -> None:
    n = dataset.shape[0]
    k = len(values)
    if k:
        dataset.resize(n + k, axis=0)
        dataset[n : n + k] = values


def _rewind(f: h5py.File, written: int, skipped: int) -> None:
    """Drop rows written after the checkpoint (an interrupted batch)."""
    for name in (packed.IMAGES, packed.LABELS, packed.SHAPES):
        if name in f and f[name].shape[0] > written:
            f[name].resize(written, axis=0)
    if packed.OFFSETS in f:
        f[packed.OFFSETS].resize(written + 1, axis=0)
        f[packed.ENCODED].resize(int(f[packed.OFFSETS][written]), axis=0)
    # Text is stored as references into HDF5's global heap. A killed run
    # may have left chunks on disk that refer to heap objects it never
    # flushed, and HDF5 frees what an overwritten element refers to:
    # appending after such rows fails ("bad heap index"). So the text
    # datasets are written anew from the rows the checkpoint vouches for.
    for name, rows, chunk_rows in (
        (packed.PATHS, written, 4096),
        (packed.SKIPPED_PATHS, skipped, 256),
        (packed.SKIPPED_REASONS, skipped, 256),
    ):
        kept = list(f[name].asstr()[:rows]) if rows else []
        del f[name]
        _append(_appendable(f, name, _STR, chunk_rows=chunk_rows), kept)


class H5Sink:
    """Receives batches of samples in order and writes them to ``OUT.partial``."""

    def __init__(
        self,
        out: Path,
        meta: dict[str, Any],
        options: dict[str, Any],
        census: Census,
        resume: bool,
    ) -> None:
        classes = [census.stored(c) for c in census.classes]
        self.census = census
        self.out = out
        self.partial = out.with_name(out.name + ".partial")
        self.options = options
        self.compression = options["compression"]
        self.gzip_level = options.get("gzip_level", 4)
        self.store = options["store"]
        self._checkpointed = time.monotonic()
        self._writeback = Writeback(self.partial)
        self._adding = False
        self.checkpoint = Checkpoint(out)
        #: Why a --resume run started over instead, for the summary's notes.
        self.restarted: str | None = None
        state = self.checkpoint.load() if resume and self.partial.exists() else None
        self.resumed = state is not None and int(state.get("consumed", 0)) > 0
        if self.resumed:
            self.checkpoint.check(state, options, meta["source_root"], classes)
            try:
                self.file = self._reopen(state)
            except _Damaged as exc:
                # HDF5 files are not crash-safe: a run killed (SIGKILL, the OOM
                # killer, power) while libhdf5 wrote a checkpoint's metadata
                # can leave a partial file that cannot be reopened or cut back.
                # What it held cannot be trusted; packing it again can.
                self.restarted = f"'{self.partial}' could not be resumed ({exc}); started over"
                self.resumed = False
        if not self.resumed:
            # Nothing saved yet (or a fresh start): starting over loses nothing.
            self.checkpoint.remove()
            self.file = self._create(meta, options, classes)
            state = {"consumed": 0, "written": 0, "skipped": 0, "last": None, "digest": None,
                     "report": {}}  # fmt: skip
        _hold_metadata(self.file)
        self.state: dict[str, Any] = {
            **state, "options": options, "source_root": meta["source_root"], "classes": classes,
        }  # fmt: skip
        # Counted here, not asked of the file: they are needed after it is closed.
        self._count = int(self.state["written"])
        self._skipped = int(self.state["skipped"])

    def _create(
        self, meta: dict[str, Any], options: dict[str, Any], classes: list[str]
    ) -> h5py.File:
        f = h5py.File(self.partial, "w", libver="earliest")
        for key, value in meta.items():
            f.attrs[key] = value
        f.attrs[packed.ATTR_FORMAT] = packed.FORMAT
        f.attrs[packed.ATTR_STORE] = self.store
        f.attrs[packed.ATTR_OPTIONS] = json.dumps(options, sort_keys=True)
        _appendable(f, packed.PATHS, _STR)
        _appendable(f, packed.SKIPPED_PATHS, _STR, chunk_rows=256)
        _appendable(f, packed.SKIPPED_REASONS, _STR, chunk_rows=256)
        if classes:
            f.create_dataset(packed.CLASS_NAMES, data=np.array(classes, dtype=object), dtype=_STR)
            _appendable(f, packed.LABELS, np.int64)
        if self.store == "encoded":
            _appendable(f, packed.ENCODED, np.uint8, chunk_rows=_ENCODED_CHUNK)
            offsets = _appendable(f, packed.OFFSETS, np.int64)
            _append(offsets, [0])
            _appendable(f, packed.SHAPES, np.int64, row=(3,))
        f.flush()
        return f

    def _reopen(self, state: dict[str, Any]) -> h5py.File:
        """The partial file, cut back to what ``state`` vouches for."""

        try:
            f = h5py.File(self.partial, "a")
        except OSError as exc:
            raise _damaged_or(exc) from None
        try:
            written, skipped = int(state["written"]), int(state["skipped"])
            rows = {
                packed.PATHS: written,
                packed.SKIPPED_PATHS: skipped,
                packed.SKIPPED_REASONS: skipped,
            }
            for name, need in rows.items():
                if name not in f or f[name].shape[0] < need:
                    raise _Damaged(f"'{name}' holds fewer rows than its checkpoint says")
            _hold_metadata(f)
            _rewind(f, written, skipped)
        except BaseException as exc:
            with contextlib.suppress(OSError, RuntimeError):
                f.close()
            if isinstance(exc, (OSError, RuntimeError, KeyError, ValueError)):
                raise _damaged_or(exc) from None
            raise
        return f

    @property
    def consumed(self) -> int:
        """Source files handled so far."""
        return int(self.state["consumed"])

    @property
    def last_consumed(self) -> str | None:
        """The last source file handled, as stored."""
        return self.state["last"]

    @property
    def digest(self) -> str | None:
        """The digest of the source files handled."""
        return self.state["digest"]

    @property
    def report(self) -> dict[str, Any]:
        """What happened to pixels so far (see packer._Run.report)."""
        return dict(self.state["report"])

    @property
    def count(self) -> int:
        """Samples written so far."""
        return self._count

    def first_path(self) -> str | None:
        """The source of sample 0, which fixed the shape."""
        return self.file[packed.PATHS].asstr()[0] if self.count else None

    @property
    def skipped_count(self) -> int:
        """Files recorded as skipped so far."""
        return self._skipped

    def dtype(self) -> str | None:
        """numpy's type string of the stored samples, once there is one."""
        if packed.IMAGES in self.file:
            return self.file[packed.IMAGES].dtype.str
        return "|u1" if self.store == "encoded" else None

    def shape(self) -> tuple[int, ...] | None:
        """The sample shape fixed by the first sample, once there is one."""
        if self.store == "decoded" and packed.IMAGES in self.file:
            return tuple(self.file[packed.IMAGES].shape[1:])
        return None

    def _create_images(self, first: np.ndarray) -> h5py.Dataset:
        kwargs: dict[str, Any] = {}
        if self.compression == "gzip":
            kwargs = {"compression": "gzip", "compression_opts": self.gzip_level}
        elif self.compression == "lzf":
            kwargs = {"compression": "lzf"}
        return self.file.create_dataset(
            packed.IMAGES, shape=(0, *first.shape), maxshape=(None, *first.shape),
            dtype=first.dtype, chunks=(1, *first.shape), **kwargs,
        )  # fmt: skip

    def add(
        self,
        good: list[Sample],
        skipped: list[tuple[str, str]],
        consumed: int,
        last: str,
        digest: str,
        report: dict[str, Any],
    ) -> None:
        """Append a batch, then record that ``consumed`` source files are done,
        ``last`` the last of them, ``digest`` the digest of them all."""
        self._adding = True
        try:
            self._write(good, skipped)
        except KeyboardInterrupt:
            # Stopped between two HDF5 calls: the file is sound, and the
            # checkpoint made on close says where the last whole batch ended
            # (--resume drops the rows after it).
            self._adding = False
            raise
        self._count += len(good)
        self._skipped += len(skipped)
        self.state.update(consumed=consumed, last=self.census.stored(last), digest=digest,
                          report=report, written=self._count, skipped=self._skipped)  # fmt: skip
        self._adding = False
        # A checkpoint (what --resume trusts) at most once a second: flushing
        # HDF5's metadata after every batch costs the packer real time. And
        # one after the run's first batch, so that a run stopped early has
        # progress to resume from.
        first = not self.checkpoint.path.exists()
        if first or time.monotonic() - self._checkpointed >= CHECKPOINT_SECONDS:
            self._checkpoint()

    def _write(self, good: list[Sample], skipped: list[tuple[str, str]]) -> None:
        f = self.file
        if good:
            if self.store == "decoded":
                images = (
                    f[packed.IMAGES] if packed.IMAGES in f else self._create_images(good[0].array)
                )
                n = images.shape[0]
                images.resize(n + len(good), axis=0)
                origin = (0,) * (images.ndim - 1)
                if all(s.chunk is not None for s in good):
                    # gzip: chunks the workers compressed, stored as they are.
                    for i, s in enumerate(good):
                        images.id.write_direct_chunk((n + i, *origin), s.chunk)
                elif self.compression == "none":
                    # One sample is one chunk: its bytes go straight to the
                    # file, with no stacking copy and no selection machinery.
                    for i, s in enumerate(good):
                        images.id.write_direct_chunk((n + i, *origin), s.array)
                else:
                    images[n:] = np.stack([s.array for s in good])
            else:
                offsets = f[packed.OFFSETS]
                end = int(offsets[-1])
                blob = np.frombuffer(b"".join(s.encoded for s in good), dtype=np.uint8)
                _append(f[packed.ENCODED], blob)
                _append(offsets, end + np.cumsum([len(s.encoded) for s in good]))
                _append(f[packed.SHAPES], np.array([s.array.shape for s in good], dtype=np.int64))
            _append(f[packed.PATHS], [self.census.stored(s.relpath) for s in good])
            if packed.LABELS in f:
                _append(f[packed.LABELS], np.array([s.label for s in good], dtype=np.int64))
        if skipped:
            _append(f[packed.SKIPPED_PATHS], [p for p, _ in skipped])
            _append(f[packed.SKIPPED_REASONS], [r for _, r in skipped])

    def _checkpoint(self, reopen: bool = True) -> None:
        # Closing writes everything out, as a flush would, and also empties
        # HDF5's metadata cache, which with evictions off (_hold_metadata)
        # would otherwise keep every entry it ever loaded: memory growing
        # with the number of samples. Only then is the progress recorded.
        self.file.close()
        self.checkpoint.save(self.state)
        if reopen:
            self.file = h5py.File(self.partial, "a")
            _hold_metadata(self.file)
            self._writeback.kick()
        self._checkpointed = time.monotonic()

    def finish(self, report: dict[str, Any], ignored: list[tuple[str, str]]) -> None:
        """Mark the file complete and flush it to disk."""
        f = self.file
        for name, values in ((packed.IGNORED_PATHS, [self.census.stored(p) for p, _ in ignored]),
                             (packed.IGNORED_REASONS, [r for _, r in ignored])):  # fmt: skip
            if name in f:
                del f[name]
            _append(_appendable(f, name, _STR, chunk_rows=256), values)
        f.attrs[packed.ATTR_PIXELS] = json.dumps(report, sort_keys=True)
        f.attrs[packed.ATTR_COUNT] = self.count
        self.file.close()
        self._writeback.stop()
        fd = os.open(self.partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def commit(self) -> Path:
        """Rename the finished file into place and remove its state."""
        os.replace(self.partial, self.out)
        self.checkpoint.remove()
        return self.out

    def close(self) -> None:
        """Close without finishing: the partial file, checkpointed, stays for --resume."""
        self._writeback.stop()
        if self.file.id.valid:
            try:
                # After a failed write HDF5's own state is in doubt: the last
                # checkpoint stands.
                if not self._adding:
                    self._checkpoint(reopen=False)
            finally:
                if self.file.id.valid:
                    self.file.close()

    def resumable(self) -> bool:
        """Whether the partial file as it is on disk holds progress --resume can continue from."""
        state = self.checkpoint.load()
        if state is None or int(state.get("consumed", 0)) == 0:
            return False
        try:
            with h5py.File(self.partial, "r"):
                return True
        except (OSError, RuntimeError):
            return False

    def discard(self) -> None:
        """Close and delete the partial file (a failed run that cannot resume)."""
        self.close()
        self.checkpoint.remove()
        self.partial.unlink(missing_ok=True)
