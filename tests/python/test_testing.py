"""ndbridge.testing: the one-line round-trip check for users' test suites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ndbridge.testing import assert_roundtrip, difference, roundtrip

FORMATS = ["npy", "npz", "h5"]

SAMPLES = {
    "float32": np.arange(12, dtype=np.float32).reshape(3, 4),
    "big-endian int16": np.arange(-5, 5, dtype=">i2"),
    "fortran float64": np.asfortranarray(np.linspace(0, 1, 6).reshape(2, 3)),
    "strided uint8": np.arange(40, dtype=np.uint8).reshape(5, 8)[::2, 1::3],
    "bool": np.array([True, False, True]),
    "complex64": np.array([1 + 2j, -3j], dtype=np.complex64),
    "float16": np.array([0.5, -2.0, np.inf], dtype=np.float16),
    "0-d": np.array(7.5),
    "empty": np.zeros((0, 3), dtype=np.int32),
    "text": np.array(["ndbridge", "", "C++ ✓"]),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(SAMPLES))
def test_supported_arrays_round_trip(name: str, fmt: str, tmp_path: Path) -> None:
    assert_roundtrip(SAMPLES[name], fmt=fmt, tmp_path=tmp_path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_roundtrip_returns_what_cpp_read(fmt: str) -> None:
    array = np.arange(6, dtype=">u4").reshape(2, 3)
    back = roundtrip(array, fmt=fmt)
    assert back.dtype.str == ">u4"
    np.testing.assert_array_equal(back, array)


def test_unsupported_dtype_fails_usefully() -> None:
    records = np.zeros(3, dtype=[("x", "<f4"), ("y", "<i8")])
    with pytest.raises(AssertionError) as info:
        assert_roundtrip(records, fmt="npy")
    message = str(info.value)
    assert "Python -> C++ (npy)" in message
    assert "cannot read" in message and "structured" in message
    objects = np.array([{"a": 1}, None], dtype=object)
    with pytest.raises(AssertionError, match=r"dtype '\|O'"):
        assert_roundtrip(objects, fmt="npy")


def test_difference_names_dtype_shape_and_first_element() -> None:
    a = np.arange(6, dtype="<i4").reshape(2, 3)
    assert difference(a, a.copy()) is None
    assert "byte order" in str(difference(a, a.astype(">i4")))
    assert difference(a, a.reshape(3, 2)) == "shape: expected (2, 3), got (3, 2)"
    b = a.copy()
    b[1, 2] = 99
    what = str(difference(a, b))
    assert "first at (1, 2)" in what and "expected 5 (bytes 05000000)" in what
    assert "got 99 (bytes 63000000)" in what and what.startswith("1 element(s) differ; ")
    nan = np.array([np.nan], dtype="<f8")
    other_nan = nan.view("<u8").copy()
    other_nan[0] ^= np.uint64(1)
    assert difference(nan, other_nan.view("<f8")) is not None  # bit for bit, not ==


def test_bad_format_is_refused() -> None:
    with pytest.raises(ValueError, match="fmt must be npy, npz or h5"):
        assert_roundtrip(np.zeros(2), fmt="csv")


def test_hdf5_is_another_name_for_h5(tmp_path: Path) -> None:
    assert_roundtrip(np.arange(3), fmt="hdf5", tmp_path=tmp_path)
    assert_roundtrip(np.arange(4), fmt="h5", tmp_path=tmp_path)  # the same folder again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roundtrip-cpp.h5", "roundtrip-python.h5"]
