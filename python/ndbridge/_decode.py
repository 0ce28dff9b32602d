"""Turning one source file into one sample; runs in the worker processes.

Each file is opened, read whole and closed before it is decoded, so a worker
never holds more than one file open, whatever the size of the tree.
"""

from __future__ import annotations

import io
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


@dataclass
class Sample:
    """A decoded (or failed) source file."""

    relpath: str
    label: int
    array: np.ndarray | None = None  # decoded, as stored (H, W, C) for images
    chunk: bytes | None = None  # the sample compressed as one HDF5 chunk
    encoded: bytes | None = None  # the original file bytes (--store encoded)
    error: str | None = None


def decode_batch(settings: DecodeSettings, batch: list[tuple[str, int]]) -> list[Sample]:
    """Decode every file of ``batch``; failures are returned, never raised."""
    return [decode_one(settings, relpath, label) for relpath, label in batch]


def decode_one(settings: DecodeSettings, relpath: str, label: int) -> Sample:
    """Read and decode one file."""
    sample = Sample(relpath, label)
    try:
        data = (Path(settings.root) / relpath).read_bytes()
    except OSError as exc:
        sample.error = f"cannot read: {exc.strerror or exc}"
        return sample
    try:
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
        return "not a readable image (no imageio plugin recognises its content)"
    return f"{type(exc).__name__}: {text}"


def _decode_image(data: bytes, relpath: str, settings: DecodeSettings) -> np.ndarray:
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


def _resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    height, width = size
    channels = array.shape[2]
    image = Image.fromarray(array[:, :, 0] if channels == 1 else array)
    resized = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
    return resized[:, :, np.newaxis] if resized.ndim == 2 else resized
