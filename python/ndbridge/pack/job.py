"""A packing request, checked whole before the first file is read, and its summary."""

from __future__ import annotations

import errno
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._errors import UsageError, file_error
from ..options import SUFFIXES, format_name
from .decoding import ORIENTATIONS, RESIZE_MODES, DecodeSettings

#: The filter ``--resize`` scales with, as recorded in the output.
RESIZE_FILTER = "bicubic, antialiased when shrinking (Pillow)"


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
    #: Files and folders under the source that were not packed, and why.
    ignored_files: list[dict[str, str]] = field(default_factory=list)
    #: Pixel changes worth knowing: how many images were turned upright by
    #: their EXIF orientation, and had more frames than the one packed.
    oriented: int = 0
    multi_frame: int = 0
    #: One line each: what the run changed or decided that the options did not say.
    notes: list[str] = field(default_factory=list)
    #: Sharded packs: shard files in all, packed by this run, reused from an earlier one.
    shards: int = 0
    shards_packed: int = 0
    shards_reused: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


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
    resize_mode: str
    mode: str | None
    dtype: str | None
    orientation: str
    compression: str
    gzip_level: int
    input: str
    on_error: str
    progress: bool | None

    def settings(self, kind: str) -> DecodeSettings:
        """How the decoding threads treat each file of ``kind`` ("images" or "npy")."""
        gzip = self.gzip_level if self.compression == "gzip" and self.store == "decoded" else None
        return DecodeSettings(
            str(self.root), kind, self.store, self.size, self.resize_mode, self.mode, self.dtype,
            self.orientation, gzip,
        )  # fmt: skip

    def options(self, kind: str, workers: int) -> dict[str, Any]:
        """The ``options`` recorded in the output (``workers`` does not change a byte)."""
        images = kind == "images"
        return {
            "store": self.store, "labels": self.labels,
            "resize": list(self.size) if self.size else None,
            "resize_mode": self.resize_mode if self.size else None,
            "resize_filter": RESIZE_FILTER if self.size else None,
            "mode": self.mode, "dtype": self.dtype,
            "orientation": self.orientation if images else None,
            "compression": self.compression, "gzip_level": self.gzip_level, "input": kind,
            "on_error": self.on_error, "workers": workers,
        }  # fmt: skip

    def check_kind(self, kind: str) -> None:
        """Refuse image-only options for a tree of .npy files."""
        if kind == "npy" and (self.size is not None or self.mode is not None):
            raise UsageError("--resize and --mode apply to images, not to .npy files")

    def threads(self) -> int:
        """Decoding threads: ``workers``, or every core this process may run on."""
        if self.workers is not None:
            return self.workers
        try:
            return len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            return os.cpu_count() or 1


def format_of(out: Path, fmt: str | None) -> str:
    """The output format: ``fmt``, or told by ``out``'s suffix."""
    if fmt is None:
        fmt = SUFFIXES.get(out.suffix.lower())
        if fmt is None:
            raise UsageError(
                f"cannot tell the output format from '{out.name}'; "
                "name it .h5, .npy or .npz, or use --format"
            )
    return format_name(fmt, "the output format")


def parse_resize(resize: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"HxW"`` (or a tuple) as (height, width)."""
    if resize is None:
        return None
    if isinstance(resize, tuple):
        height, width = resize
    else:
        try:
            height, width = (int(v) for v in resize.lower().split("x"))
        except ValueError:
            raise UsageError(
                f"--resize wants HEIGHTxWIDTH such as 224x224, not '{resize}'"
            ) from None
    if height <= 0 or width <= 0:
        raise UsageError(f"--resize wants positive sizes, not '{resize}'")
    return height, width


def parse_mode(mode: str | None) -> str | None:
    """A Pillow mode name, checked against the ones Pillow has."""
    if mode is None:
        return None
    from PIL import Image

    modes = getattr(Image, "MODES", None) or sorted(Image._MODEINFO)  # type: ignore[attr-defined]
    if mode not in modes:
        close = [m for m in modes if m.lower() == mode.lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(f"--mode must be a Pillow mode such as RGB, L or RGBA, not '{mode}'{hint}")
    return mode


def parse_dtype(dtype: str | None) -> str | None:
    """A numeric numpy dtype, as its type string ("<f4", "|u1")."""
    if dtype is None:
        return None
    import numpy as np

    try:
        parsed = np.dtype(dtype)
    except TypeError:
        parsed = None
    if parsed is None or parsed.kind not in "buif" or parsed.shape or parsed.names:
        raise UsageError(
            f"--dtype must be a numeric numpy type such as uint8, uint16, float32 or '<f4', "
            f"not '{dtype}'"
        )
    return parsed.str


def make_job(
    src: str | os.PathLike[str],
    out: Path,
    *,
    format: str | None,
    workers: int | None,
    labels: str,
    store: str,
    resize: str | tuple[int, int] | None,
    resize_mode: str,
    mode: str | None,
    dtype: str | None,
    orientation: str,
    compression: str,
    gzip_level: int,
    input: str,
    on_error: str,
    progress: bool | None,
) -> PackJob:
    """Check every option, and the output's folder, before any file is read."""
    fmt = format_of(out, format)
    for name, value, allowed in (
        ("labels", labels, ("none", "dirs")),
        ("store", store, ("decoded", "encoded")),
        ("resize_mode", resize_mode, RESIZE_MODES),
        ("orientation", orientation, ORIENTATIONS),
        ("compression", compression, ("none", "gzip", "lzf")),
        ("input", input, ("auto", "images", "npy")),
        ("on_error", on_error, ("fail", "skip")),
    ):
        if value not in allowed:
            raise UsageError(f"{name} must be one of {', '.join(allowed)}, not '{value}'")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    if not 0 <= gzip_level <= 9:
        raise UsageError(f"gzip level must be 0-9, not {gzip_level}")
    if store == "encoded" and fmt != "h5":
        raise UsageError(f"--store encoded is available for .h5 output only, not .{fmt}")
    if fmt == "npy" and compression != "none":
        raise UsageError("a .npy file cannot be compressed; use .npz or .h5 for --compression")
    if fmt == "npz" and compression == "lzf":
        raise UsageError(".npz archives compress with gzip (deflate), not lzf")
    if not out.parent.exists():
        raise file_error(
            errno.ENOENT, f"cannot write '{out}': folder '{out.parent}' does not exist"
        )
    return PackJob(
        Path(src).resolve(), fmt, workers, labels, store, parse_resize(resize), resize_mode,
        parse_mode(mode), parse_dtype(dtype), orientation, compression, gzip_level, input,
        on_error, progress,
    )  # fmt: skip
