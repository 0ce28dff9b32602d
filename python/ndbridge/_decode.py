"""Turning one source file into one sample; runs in the worker processes.

Each file is opened, read whole and closed before it is decoded, so a worker
never holds more than one file open, whatever the size of the tree.
"""

from __future__ import annotations

import ctypes
import io
import mmap
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class DecodeSettings:
    """What every worker needs to know, sent once per batch."""

    root: str
    kind: str  # "images" or "npy"
    store: str  # "decoded" or "encoded"
    resize: tuple[int, int] | None  # (height, width)
    mode: str | None  # Pillow mode such as "RGB", or None to keep the file's
    gzip_level: int | None  # compress each decoded sample in the worker
    scratch: str | None = None  # file shared with the packer that carries decoded samples
    slot_bytes: int = 0  # bytes of the scratch file each batch in flight may use


@dataclass
class Sample:
    """A decoded (or failed) source file."""

    relpath: str
    label: int
    array: np.ndarray | None = None  # decoded, as stored (H, W, C) for images
    chunk: bytes | None = None  # the sample compressed as one HDF5 chunk
    encoded: bytes | None = None  # the original file bytes (--store encoded)
    error: str | None = None
    errno: int | None = None  # set when the file could not be read at all
    parked: tuple[int, tuple[int, ...], str] | None = None  # (offset, shape, dtype) in scratch


def keep_freed_memory() -> None:
    """Let this worker's C allocator reuse freed memory instead of returning it.

    Every decoded image is a few hundred kilobytes, above glibc's threshold
    for serving an allocation with a fresh mmap: each one then costs page
    faults on zeroed pages and an munmap, and with two workers this kernel
    time was half of what the second worker added (sys 17% of the machine
    against 9% with the thresholds raised; benchmarks/pack.py). Heap memory
    kept for reuse is bounded by the thresholds, not by the number of files.
    Only for worker processes, which ndbridge owns: a caller's own process is
    left as it is. No-op where the C library has no ``mallopt``.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 64 << 20)


#: This process's mapping of the packer's scratch file, made on first use.
_scratch_maps: dict[str, mmap.mmap] = {}


def _scratch_map(path: str) -> mmap.mmap:
    if path not in _scratch_maps:
        with open(path, "r+b") as f:
            _scratch_maps[path] = mmap.mmap(f.fileno(), 0)
    return _scratch_maps[path]


def decode_batch(
    settings: DecodeSettings, batch: list[tuple[str, int]], slot: int | None = None
) -> list[Sample]:
    """Decode every file of ``batch``; failures are returned, never raised.

    With a ``slot``, decoded pixels travel back through that slot of the
    scratch file instead of being pickled: sending hundreds of megabytes a
    second through a pipe would cost the packer more than the decoding it
    hands out.
    """
    samples = [decode_one(settings, relpath, label) for relpath, label in batch]
    if slot is not None and settings.scratch is not None:
        scratch = _scratch_map(settings.scratch)
        offset = slot * settings.slot_bytes
        end = offset + settings.slot_bytes
        for s in samples:
            if s.array is None or offset + s.array.nbytes > end:
                continue  # too big for what is left of the slot: it travels pickled
            n = s.array.nbytes
            np.frombuffer(scratch, np.uint8, n, offset)[:] = s.array.reshape(-1).view(np.uint8)
            s.parked = (offset, s.array.shape, s.array.dtype.str)
            s.array = None
            offset += n
    return samples


def unpark(samples: list[Sample], scratch: mmap.mmap) -> None:
    """Give parked samples their arrays back, as views of the scratch mapping."""
    for s in samples:
        if s.parked is not None:
            offset, shape, dtype = s.parked
            count = int(np.prod(shape))
            s.array = np.frombuffer(scratch, np.dtype(dtype), count, offset).reshape(shape)


def decode_one(settings: DecodeSettings, relpath: str, label: int) -> Sample:
    """Read and decode one file."""
    sample = Sample(relpath, label)
    try:
        data = (Path(settings.root) / relpath).read_bytes()
    except OSError as exc:
        sample.error = f"cannot read: {exc.strerror or exc}"
        sample.errno = exc.errno or 0
        return sample
    try:
        # A decoder's warnings (imageio's deprecation notices while it looks
        # for a plugin) are not the file's problem; under a caller's
        # "warnings as errors" they would become the recorded skip reason,
        # making the output depend on the process that decodes.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if settings.kind == "npy":
                array = np.load(io.BytesIO(data), allow_pickle=False)
            else:
                array = _decode_image(data, relpath, settings)
    except Exception as exc:  # any decoder failure is this file's problem, reported as such
        sample.error = f"cannot decode: {_describe(exc)}"
        return sample
    if settings.store == "encoded":
        sample.encoded = data
    sample.array = np.ascontiguousarray(array)
    if settings.gzip_level is not None and settings.store == "decoded":
        # HDF5's gzip filter is a zlib stream: compressing here, in parallel,
        # lets the writer store finished chunks.
        sample.chunk = zlib.compress(sample.array.tobytes(), settings.gzip_level)
    return sample


def _describe(exc: Exception) -> str:
    text = str(exc)
    # imageio's words for "no plugin recognised the bytes".
    if "Could not find a backend" in text:
        return "not a readable image (neither Pillow nor imageio recognises its content)"
    return f"{type(exc).__name__}: {text}"


def _decode_image(data: bytes, relpath: str, settings: DecodeSettings) -> np.ndarray:
    array = _decode_with_pillow(data, settings.mode)
    if array is None:
        # Not a format Pillow knows: imageio's other plugins may.
        import imageio.v3 as iio

        suffix = Path(relpath).suffix.lower()
        kwargs = {"mode": settings.mode} if settings.mode else {}
        array = iio.imread(data, index=0, extension=suffix, **kwargs)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3:
        raise ValueError(f"decoded to {array.ndim} dimensions {array.shape}, not an image")
    if settings.resize is not None and array.shape[:2] != settings.resize:
        array = _resize(array, settings.resize)
    return array


def _decode_with_pillow(data: bytes, mode: str | None) -> np.ndarray | None:
    """The first frame, as imageio's Pillow plugin gives it; None if Pillow
    does not recognise the format.

    Calling Pillow directly saves imageio's plugin lookup, which costs as
    much as a quarter of decoding a small JPEG.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return None
    with image:
        if mode is not None:
            image = image.convert(mode)
        elif image.mode == "P":
            # Palette images come out as colours, as from imageio.
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        return np.asarray(image)


def _resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    height, width = size
    channels = array.shape[2]
    image = Image.fromarray(array[:, :, 0] if channels == 1 else array)
    resized = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
    return resized[:, :, np.newaxis] if resized.ndim == 2 else resized
