"""Shared by the .npy and .npz suites: hypothesis strategies over every
supported array (dtype x byte order x memory layout x shape) and the helpers
that compare arrays bit for bit."""

from __future__ import annotations

import io
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

# Every supported element type. Each is drawn with both byte orders; numpy
# itself turns the order of one-byte types and byte strings into '|'.
NUMERIC_CODES = (
    *("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"),
    *("f2", "f4", "f8", "c8", "c16"),
)
LAYOUTS = ("C", "F", "strided", "reversed", "transposed")


def random_array(
    dtype: np.dtype[Any], shape: tuple[int, ...], seed: int, order: str = "C"
) -> np.ndarray:
    """An array whose element bytes are uniformly random, so NaN payloads,
    bools other than 0 and 1 and invalid code points all occur."""
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.random.default_rng(seed).integers(0, 256, size=nbytes).astype(np.uint8)
    return raw.view(dtype).reshape(shape, order=order)  # type: ignore[call-overload]


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A fresh folder per hypothesis example (tmp_path is shared by them all)."""
    with tempfile.TemporaryDirectory(prefix="ndbridge-test-") as name:
        yield Path(name)


def numpy_fortran_order(arr: np.ndarray) -> bool:
    """The fortran_order np.save gives an array: strided data goes in C order."""
    return bool(arr.flags.f_contiguous and not arr.flags.c_contiguous)


def numpy_save_bytes(arr: np.ndarray) -> bytes:
    """The exact bytes np.save writes for `arr`."""
    buffer = io.BytesIO()
    np.save(buffer, arr)
    return buffer.getvalue()


def assert_same_array(actual: object, expected: np.ndarray, *, fortran_order: bool) -> None:
    """`actual` has `expected`'s dtype (byte order included), shape and element
    bits, and is laid out as a file with this fortran_order is."""
    assert isinstance(actual, np.ndarray)
    assert actual.dtype.str == expected.dtype.str
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()
    if fortran_order:
        assert actual.flags.f_contiguous
    else:
        assert actual.flags.c_contiguous


@st.composite
def dtypes(draw: st.DrawFn) -> np.dtype[Any]:
    code = draw(st.sampled_from((*NUMERIC_CODES, "S", "U")))
    if code in ("S", "U"):
        code += str(draw(st.integers(1, 6)))
    return np.dtype(draw(st.sampled_from("<>")) + code)


@st.composite
def shapes(draw: st.DrawFn, min_dims: int = 0) -> tuple[int, ...]:
    ndim = draw(st.integers(min_dims, 8))
    # Sides shrink as dimensions grow so no array exceeds a few hundred elements.
    max_side = (0, 6, 5, 4, 3, 3, 2, 2, 2)[ndim]
    sides = st.lists(st.integers(0, max_side), min_size=ndim, max_size=ndim)
    return tuple(draw(sides))


@st.composite
def arrays(draw: st.DrawFn, min_dims: int = 0) -> np.ndarray:
    """Arrays of every supported dtype, C or Fortran ordered, or views that are
    not contiguous: every axis stepped, reversed, or the axes permuted."""
    dtype = draw(dtypes())
    shape = draw(shapes(min_dims))
    layout = draw(st.sampled_from(LAYOUTS))
    seed = draw(st.integers(0, 2**32 - 1))
    if layout in ("C", "F"):
        return random_array(dtype, shape, seed, order=layout)
    if layout == "transposed":
        axes = draw(st.permutations(range(len(shape))))
        return random_array(dtype, shape, seed).transpose(axes)
    steps = draw(
        st.lists(
            st.sampled_from((1, 2, 3) if layout == "strided" else (-1, -2)),
            min_size=len(shape),
            max_size=len(shape),
        )
    )
    # The smallest base from which stepping by `step` leaves `side` elements.
    base_shape = tuple(
        (side - 1) * abs(step) + 1 if side else 0 for side, step in zip(shape, steps, strict=True)
    )
    base = random_array(dtype, base_shape, seed, order=draw(st.sampled_from("CF")))
    # The leading Ellipsis keeps a 0-d result an array: base[()] would be a scalar.
    view = base[(..., *(slice(None, None, step) for step in steps))]
    assert isinstance(view, np.ndarray)
    assert view.shape == shape
    return view
