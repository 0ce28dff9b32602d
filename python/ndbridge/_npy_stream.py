"""Writing .npy data a piece at a time: headers, and members streamed into zips."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

#: Bytes copied per step when streaming a file into an archive member.
STEP = 16 << 20


def npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The header numpy.save writes for this dtype and shape (data 64-byte aligned).

    The first dimension is padded numpy's way, so a header for a smaller
    count has the same length and can be rewritten in place.
    """
    d = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    out = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(out, d)
    except ValueError:
        out = io.BytesIO()
        np.lib.format.write_array_header_2_0(out, d)
    return out.getvalue()


def file_pieces(path: Path, start: int = 0, length: int | None = None) -> Iterator[bytes]:
    """The bytes of ``path`` from ``start``, ``length`` of them (default: to the end)."""
    with path.open("rb") as f:
        f.seek(start)
        left = length
        while left is None or left > 0:
            piece = f.read(STEP if left is None else min(STEP, left))
            if not piece:
                break
            if left is not None:
                left -= len(piece)
            yield piece


def write_member(
    zf: zipfile.ZipFile, name: str, dtype: np.dtype, shape: tuple[int, ...], pieces: Iterable[bytes]
) -> None:
    """Add ``name`` (ending in .npy) to ``zf``, its data streamed from ``pieces``.

    zip64 records are used whatever the size, as numpy.savez does, so members
    over 4 GiB need no special case.
    """
    with zf.open(name, "w", force_zip64=True) as member:
        member.write(npy_header(dtype, shape))
        for piece in pieces:
            member.write(piece)
