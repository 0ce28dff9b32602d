"""What differs between two arrays, bit for bit: the one comparison behind
``ndbridge verify`` and ``ndbridge.testing``."""

from __future__ import annotations

import numpy as np


def _value_text(flat: np.ndarray, index: int) -> str:
    value = repr(flat[index].item())
    if flat.dtype.kind in "SU":
        return value  # the repr shows every character already
    # Numbers can print alike and still differ (NaN payloads, -0.0): show the bytes.
    return f"{value} (bytes {flat[index : index + 1].tobytes().hex()})"


def layout_difference(
    expected: tuple[np.dtype, tuple[int, ...]],
    actual: tuple[np.dtype, tuple[int, ...]],
    labels: tuple[str, str] = ("expected", "got"),
) -> str | None:
    """What differs between two (dtype, shape) pairs, byte order included, or None."""
    one, other = labels
    (dtype_a, shape_a), (dtype_b, shape_b) = expected, actual
    if dtype_a.str != dtype_b.str:
        order = " (byte order)" if dtype_a.newbyteorder() == dtype_b else ""
        return f"dtype: {one} {dtype_a.str}, {other} {dtype_b.str}{order}"
    if shape_a != shape_b:
        return f"shape: {one} {shape_a}, {other} {shape_b}"
    return None


def difference(
    expected: np.ndarray,
    actual: np.ndarray,
    *,
    labels: tuple[str, str] = ("expected", "got"),
    first_row: int | None = None,
) -> str | None:
    """What differs between ``expected`` and ``actual`` (dtype, byte order
    included; shape; then element bytes), or None when nothing does.

    ``labels`` name the two sides in the message; ``first_row``, when
    given, is where the arrays start in a larger one (a block of its rows).
    """
    layout = layout_difference(
        (expected.dtype, expected.shape), (actual.dtype, actual.shape), labels
    )
    if layout is not None or expected.size == 0:
        return layout
    one, other = labels
    a = np.ascontiguousarray(expected).reshape(-1)
    b = np.ascontiguousarray(actual).reshape(-1)
    item = a.dtype.itemsize
    unequal = np.any(
        a.view(np.uint8).reshape(-1, item) != b.view(np.uint8).reshape(-1, item), axis=1
    )
    if not unequal.any():
        return None
    flat = int(np.argmax(unequal))
    index = [int(i) for i in np.unravel_index(flat, expected.shape)]
    if index and first_row is not None:
        index[0] += first_row
    rows = f" in rows from {first_row}" if first_row is not None else ""
    return (
        f"{int(unequal.sum())} element(s) differ{rows}; first at {tuple(index)}: "
        f"{one} {_value_text(a, flat)}, {other} {_value_text(b, flat)}"
    )
