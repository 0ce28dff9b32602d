"""Every sample must fit the dataset the first one started: same shape, same dtype.

Checked for every file, whatever batch it lands in and across a resume, and
refused with a :class:`MismatchError` that names both files, says how they
differ and which option makes them agree: ``--mode`` for channels,
``--resize`` for sizes, ``--dtype`` for bit depth, type or byte order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import MismatchError
from .decoding import Sample

_CHANNELS = {1: "grayscale", 2: "grayscale with alpha", 3: "RGB", 4: "4 channels (RGBA or CMYK)"}


class SampleSpec:
    """The shape and dtype the dataset holds, and the file that set them."""

    def __init__(self, root: Path, kind: str, shape: tuple[int, ...], dtype: np.dtype, first: str):
        self.root, self.kind = root, kind
        self.shape, self.dtype, self.first = shape, dtype, first

    def check(self, sample: Sample) -> None:
        """Raise MismatchError unless ``sample`` fits."""
        assert sample.array is not None
        shape, dtype = sample.array.shape, sample.array.dtype
        if shape == self.shape and dtype == self.dtype:
            return
        this, first = f"'{self.root / sample.relpath}'", f"'{self.root / self.first}'"
        if dtype != self.dtype:
            raise MismatchError(f"{this} is {_dtype(dtype)} but {first} is {_dtype(self.dtype)}: "
                                f"{self._dtype_advice(dtype)}")  # fmt: skip
        if self.kind == "images" and shape[:2] == self.shape[:2] and len(shape) == len(self.shape):
            raise MismatchError(
                f"{this} is {_channels(sample)} but {first} is "
                f"{_CHANNELS.get(self.shape[-1], f'{self.shape[-1]} channels')}: use --mode RGB "
                f"(or L, RGBA) to convert every image to the same channels"
            )
        advice = (
            "use --resize HxW to scale every image to one size (--resize-mode says how), or "
            "--store encoded to keep the original files whatever their size"
            if self.kind == "images"
            else "the arrays of .npy files packed together must have one shape"
        )
        raise MismatchError(
            f"files differ in shape: {this} is {_show(shape)} but {first} is "
            f"{_show(self.shape)}: {advice}"
        )

    def _dtype_advice(self, dtype: np.dtype) -> str:
        want = self.dtype
        if dtype.newbyteorder("=") == want.newbyteorder("="):
            order = {"<": "little", ">": "big"}
            return (
                f"the same type in {order.get(dtype.byteorder, 'native')}- and "
                f"{order.get(want.byteorder, 'native')}-endian byte order; use --dtype "
                f"'{want.str}' (or '{dtype.str}') to store every file in one byte order"
            )
        if self.kind == "images" and dtype.kind == "u" and want.kind == "u":
            return (
                f"images of different bit depths; use --dtype {want.name} (or {dtype.name}) to "
                "scale every image to one depth"
            )
        return f"use --dtype {want.name} to convert every file's values to one type"


def _dtype(dtype: np.dtype) -> str:
    return f"{dtype.name} ({dtype.str})"


def _show(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _channels(sample: Sample) -> str:
    assert sample.array is not None
    text = _CHANNELS.get(sample.array.shape[-1], f"{sample.array.shape[-1]} channels")
    if sample.layout and sample.layout not in ("L", "RGB"):
        text += f", Pillow mode {sample.layout}"
    return text
