"""The .npy and .npz outputs of the packing tool.

Samples are written straight into a preallocated .npy file (``OUT.partial``)
at their offsets, labels and paths into fixed-width side files; nothing grows
in memory with the number of files. When the run completes:

- ``.npy``: the header is rewritten for the final count (numpy pads it so
  that the length does not change), the file is cut to size and renamed to
  OUT; ``OUT.meta.npz`` beside it holds ``labels``, ``class_names``,
  ``paths``, ``skipped_paths``, ``skipped_reasons``, ``ignored_paths``,
  ``ignored_reasons`` and ``provenance`` (a JSON string with the tool
  version, options, source root, creation time, ``pixels`` and ``names``,
  as the .h5 output's attributes);
- ``.npz``: one archive with ``images`` and the same members, every member
  streamed into the zip (zip64, deflated with ``--compression gzip``).

``OUT.partial.state.json`` records the progress after every batch, which is
what ``--resume`` continues from.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import packed
from .._npy_stream import file_pieces, npy_header, write_member
from .checkpoint import Checkpoint
from .decoding import Sample
from .sources import Census
from .writeback import Writeback

#: Names converted per step when their field widens.
_ROWS_PER_STEP = 1 << 16


def _pwrite_all(fd: int, pieces: list[memoryview], offset: int) -> None:
    # pwritev may stop short (signals, huge totals): go on from where it did.
    while pieces:
        done = os.pwritev(fd, pieces, offset)
        offset += done
        while pieces and done >= len(pieces[0]):
            done -= len(pieces[0])
            pieces = pieces[1:]
        if pieces and done:
            pieces = [pieces[0][done:], *pieces[1:]]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class NpySink:
    """Receives batches of samples in order; writes .npy (or, at the end, .npz)."""

    def __init__(
        self,
        out: Path,
        fmt: str,
        meta: dict[str, Any],
        options: dict[str, Any],
        census: Census,
        resume: bool,
    ) -> None:
        classes = [census.stored(c) for c in census.classes]
        capacity, longest_path = census.count, census.longest_path
        self.census = census
        self.out = out
        self.fmt = fmt
        self.partial = out.with_name(out.name + ".partial")
        self.checkpoint = Checkpoint(out)
        self._labels_path = out.with_name(out.name + ".partial.labels")
        self._paths_path = out.with_name(out.name + ".partial.paths")
        self._skipped_path = out.with_name(out.name + ".partial.skipped")
        self.options = options
        self.classes = classes
        self.capacity = capacity
        self.resumed = False
        #: Why a --resume run started over instead (only .h5 partial files can be damaged).
        self.restarted: str | None = None
        self._images: Any = None
        self._writeback = Writeback(self.partial)
        state = self.checkpoint.load() if resume else None
        if state is not None and not self._on_disk(state):
            state = None  # finished (renamed) or removed since: nothing to continue
        if state is not None:
            self.checkpoint.check(state, options, meta["source_root"], classes)
        if state is None:
            self.state: dict[str, Any] = {
                **meta, "format": packed.FORMAT, "options": options, "classes": classes,
                "consumed": 0, "written": 0, "skipped": 0, "shape": None, "dtype": None,
                "path_width": max(longest_path, 1), "digest": None, "report": {},
            }  # fmt: skip
            for p in (self.partial, self._labels_path, self._paths_path, self._skipped_path):
                p.unlink(missing_ok=True)
            for p in (self._labels_path, self._paths_path, self._skipped_path):
                p.touch()
            self._save_state()
        else:
            self.state = state
            self.resumed = True
            self._truncate_side_files()
            self._widen_paths(longest_path)
            if self.state["shape"] is not None:
                self._images = self.partial.open("r+b")
        self._labels = self._labels_path.open("ab")
        self._paths = self._paths_path.open("ab")
        self._skipped = self._skipped_path.open("a", encoding="utf-8")

    # -- resume -------------------------------------------------------------

    def _on_disk(self, state: dict[str, Any]) -> bool:
        # A run stopped after renaming OUT.partial into place but before
        # removing the state leaves a record of files that are gone.
        sides = (self._labels_path, self._paths_path, self._skipped_path)
        images = state.get("shape") is None or self.partial.is_file()
        return images and all(p.is_file() for p in sides)

    def _truncate_side_files(self) -> None:
        # Side files may hold entries written after the last saved state.
        written = self.state["written"]
        with self._labels_path.open("r+b") as f:
            f.truncate(written * 8)
        with self._paths_path.open("r+b") as f:
            f.truncate(written * 4 * self.state["path_width"])
        lines = self._skipped_path.read_text(encoding="utf-8").splitlines(keepends=True)
        self._skipped_path.write_text("".join(lines[: self.state["skipped"]]), encoding="utf-8")

    def _widen_paths(self, width: int) -> None:
        """Rewrite the names written so far in wider fields, when a file with a
        longer name than any before was added since the run started."""
        old = self.state["path_width"]
        if width <= old:
            return
        rows = self.state["written"]
        wider = self._paths_path.with_name(self._paths_path.name + ".wider")
        with self._paths_path.open("rb") as src, wider.open("wb") as dst:
            for start in range(0, rows, _ROWS_PER_STEP):
                count = min(_ROWS_PER_STEP, rows - start)
                names = np.frombuffer(src.read(count * 4 * old), dtype=f"<U{old}")
                dst.write(names.astype(f"<U{width}").tobytes())
        os.replace(wider, self._paths_path)
        self.state["path_width"] = width
        self._save_state()

    def _save_state(self) -> None:
        self.checkpoint.save(self.state)

    # -- what the packer asks -------------------------------------------------

    @property
    def consumed(self) -> int:
        """Source files handled so far."""
        return int(self.state["consumed"])

    @property
    def count(self) -> int:
        """Samples written so far."""
        return int(self.state["written"])

    @property
    def skipped_count(self) -> int:
        """Files recorded as skipped so far."""
        return int(self.state["skipped"])

    def shape(self) -> tuple[int, ...] | None:
        """The sample shape fixed by the first sample, once there is one."""
        return tuple(self.state["shape"]) if self.state["shape"] is not None else None

    def dtype(self) -> str | None:
        """numpy's type string of the samples, once there is one."""
        return self.state["dtype"]

    def first_path(self) -> str | None:
        """The source of sample 0, which fixed the shape."""
        if not self.count:
            return None
        width = self.state["path_width"]
        with self._paths_path.open("rb") as f:
            raw = f.read(4 * width)
        return raw.decode("utf-32-le").rstrip("\0")

    def _sample_bytes(self) -> int:
        return int(np.prod(self.state["shape"])) * np.dtype(self.state["dtype"]).itemsize

    @property
    def last_consumed(self) -> str | None:
        """The last source file handled (None in state files without it)."""
        return self.state.get("last")

    @property
    def digest(self) -> str | None:
        """The digest of the source files handled (None in state files without it)."""
        return self.state.get("digest")

    @property
    def report(self) -> dict[str, Any]:
        """What happened to pixels so far (see packer._Run.report)."""
        return dict(self.state.get("report") or {})

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
        if good:
            if self._images is None:
                first = good[0].array
                self.state["shape"] = list(first.shape)
                self.state["dtype"] = first.dtype.str
                header = npy_header(first.dtype, (self.capacity, *first.shape))
                self.state["header_bytes"] = len(header)
                self._images = self.partial.open("w+b")
                self._images.write(header)
                self._images.truncate(len(header) + self.capacity * first.nbytes)
            size = self._sample_bytes()
            offset = self.state["header_bytes"] + self.count * size
            pieces = [memoryview(s.array).cast("B") for s in good]
            _pwrite_all(self._images.fileno(), pieces, offset)
            self._labels.write(np.array([s.label for s in good], dtype="<i8").tobytes())
            width = self.state["path_width"]
            names = [self.census.stored(s.relpath) for s in good]
            self._paths.write(np.array(names, dtype=f"<U{width}").tobytes())
            self.state["written"] += len(good)
        for path, reason in skipped:
            self._skipped.write(json.dumps([path, reason]) + "\n")
        self.state["skipped"] += len(skipped)
        for f in (self._labels, self._paths, self._skipped):
            f.flush()
        if self._images is not None:
            self._images.flush()
        self.state["consumed"] = consumed
        self.state["last"] = self.census.stored(last)
        self.state["digest"] = digest
        self.state["report"] = report
        self._save_state()
        if self.fmt == "npy":  # an .npz copies the images into the archive at the end
            self._writeback.kick()

    # -- the end ------------------------------------------------------------

    def _members(
        self, report: dict[str, Any], ignored: list[tuple[str, str]]
    ) -> list[tuple[str, np.dtype, tuple[int, ...], Any]]:
        """Every metadata member: (name, dtype, shape, data pieces)."""
        n = self.count
        width = self.state["path_width"]
        skipped = [
            json.loads(line) for line in self._skipped_path.read_text(encoding="utf-8").splitlines()
        ]
        provenance = {
            k: self.state[k]
            for k in (packed.ATTR_VERSION, packed.ATTR_CREATED, packed.ATTR_SOURCE_ROOT,
                      packed.ATTR_FORMAT, packed.ATTR_NAMES)
        }  # fmt: skip
        provenance[packed.ATTR_OPTIONS] = self.options
        provenance[packed.ATTR_PIXELS] = report
        provenance[packed.ATTR_COUNT] = n
        members: list[tuple[str, np.dtype, tuple[int, ...], Any]] = []
        if self.classes:
            members.append(
                (f"{packed.LABELS}.npy", np.dtype("<i8"), (n,), file_pieces(self._labels_path))
            )
            names = np.array(self.classes)
            members.append(
                (f"{packed.CLASS_NAMES}.npy", names.dtype, names.shape, [names.tobytes()])
            )
        members.append(
            (f"{packed.PATHS}.npy", np.dtype(f"<U{width}"), (n,), file_pieces(self._paths_path))
        )
        listed = [(p, r) for p, r in skipped], [(self.census.stored(p), r) for p, r in ignored]
        names = (packed.SKIPPED_PATHS, packed.SKIPPED_REASONS), (
            packed.IGNORED_PATHS, packed.IGNORED_REASONS)  # fmt: skip
        for (paths, reasons), pairs in zip(names, listed, strict=True):
            for dataset, values in (
                (paths, [p for p, _ in pairs]),
                (reasons, [r for _, r in pairs]),
            ):
                array = np.array(values, dtype=f"<U{max([len(v) for v in values] + [1])}")
                members.append((f"{packed.member(dataset)}.npy", array.dtype, array.shape,
                                [array.tobytes()]))  # fmt: skip
        text = np.array(json.dumps(provenance, sort_keys=True))
        members.append((f"{packed.PROVENANCE}.npy", text.dtype, (), [text.tobytes()]))
        return members

    def _write_zip(self, path: Path, with_images: bool, members: list[Any]) -> None:
        """Write the archive at ``path`` and flush it to disk; on any failure
        remove it (it is written again in full by the next try)."""
        try:
            self._write_zip_members(path, with_images, members)
            _fsync(path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def _write_zip_members(self, path: Path, with_images: bool, members: list[Any]) -> None:
        deflate = self.options["compression"] == "gzip"
        level = self.options.get("gzip_level", 4)
        with zipfile.ZipFile(
            path,
            "w",
            zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED,
            allowZip64=True,
            compresslevel=level if deflate else None,
        ) as zf:
            if with_images:
                dtype = np.dtype(self.state["dtype"])
                shape = (self.count, *self.state["shape"])
                data = file_pieces(
                    self.partial, self.state["header_bytes"], self.count * self._sample_bytes()
                )
                write_member(zf, f"{packed.IMAGES}.npy", dtype, shape, data)
            for name, dtype, shape, pieces in members:
                write_member(zf, name, dtype, shape, pieces)

    def finish(self, report: dict[str, Any], ignored: list[tuple[str, str]]) -> None:
        """Complete the output(s) under their partial names and flush them to disk."""
        self._writeback.stop()
        for f in (self._labels, self._paths, self._skipped):
            f.close()
        if self._images is None:  # nothing decoded at all: an empty image array
            self.state["shape"] = self.state["shape"] or [0]
            self.state["dtype"] = self.state["dtype"] or "|u1"
            header = npy_header(np.dtype(self.state["dtype"]), (0, *self.state["shape"]))
            self.state["header_bytes"] = len(header)
            self._images = self.partial.open("w+b")
            self._images.write(header)
            self.capacity = 0
        if self.fmt == "npy":
            header = npy_header(np.dtype(self.state["dtype"]), (self.count, *self.state["shape"]))
            if len(header) != self.state["header_bytes"]:
                raise AssertionError("npy header changed length")  # numpy's padding prevents it
            self._images.seek(0)
            self._images.write(header)
            self._images.truncate(len(header) + self.count * self._sample_bytes())
            self._images.close()
            self._write_zip(self._meta_partial(), False, self._members(report, ignored))
            _fsync(self.partial)
        else:
            self._images.close()
            self._write_zip(self._zip_partial(), True, self._members(report, ignored))

    def commit(self) -> Path:
        """Rename the finished output(s) into place and remove the partial files."""
        if self.fmt == "npy":
            # Two names cannot change in one step. The metadata goes first and
            # the state stays until both are in place: a run killed between
            # the renames (SIGKILL; the packer holds other signals here) leaves
            # the new OUT.meta.npz beside the old OUT, a pair Dataset refuses
            # by its row counts, and --resume finishes it.
            os.replace(self._meta_partial(), self._meta())
            os.replace(self.partial, self.out)
        else:
            os.replace(self._zip_partial(), self.out)
        self._remove_partial_files()
        return self.out

    def _meta(self) -> Path:
        return self.out.with_name(self.out.stem + packed.META_SUFFIX)

    def _meta_partial(self) -> Path:
        return self._meta().with_name(self._meta().name + ".partial")

    def _zip_partial(self) -> Path:
        return self.out.with_name(self.out.name + ".partial.zip")

    def _remove_partial_files(self) -> None:
        # The state goes first: without it nothing is left to resume, and a
        # run stopped among these unlinks starts over instead of looking for
        # a partial file that is gone.
        self.checkpoint.remove()
        for p in (self.partial, self._labels_path, self._paths_path, self._skipped_path):
            p.unlink(missing_ok=True)

    def resumable(self) -> bool:
        """Whether the partial files hold progress --resume can continue from:
        the state file is replaced whole after each batch, so it always
        describes what is on disk."""
        state = self.checkpoint.load()
        return state is not None and int(state["consumed"]) > 0 and self._on_disk(state)

    def discard(self) -> None:
        """Close and delete every partial file (a failed run that cannot resume)."""
        self.close()
        self._remove_partial_files()

    def close(self) -> None:
        """Stop without finishing: everything stays for --resume."""
        self._writeback.stop()
        for f in (self._labels, self._paths, self._skipped, self._images):
            if f is not None and not f.closed:
                f.close()
