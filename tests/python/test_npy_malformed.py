"""Malformed and unsupported .npy files: each must fail with a typed error.

Every case is a file built at test time from its parts. Each is read three
ways (whole, memory-mapped, a row range) and must raise the expected ndbridge
error, a ValueError whose message names the file and says what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ndbridge
from ndbridge import cpp

MAGIC = b"\x93NUMPY"


def header(descr: str = "'<f8'", fortran_order: str = "False", shape: str = "(3,)") -> str:
    """numpy's spelling of a header dict; each value is given as source text."""
    return f"{{'descr': {descr}, 'fortran_order': {fortran_order}, 'shape': {shape}, }}"


DATA = bytes(24)  # the three float64 zeros header() describes by default

# What the message must mention (any one alternative, case-insensitive).
SAYS_MAGIC = r"magic|not an? \.?npy|numpy file"
SAYS_TOO_SHORT = r"truncat|short|end of file|eof|too small|expect|bytes"
SAYS_VERSION = r"version"
SAYS_HEADER = r"header|dict"
SAYS_KEYS = r"key|missing|descr|fortran_order|shape"
SAYS_FORTRAN = r"fortran"
SAYS_SHAPE = r"shape"
SAYS_TOO_BIG = r"overflow|too large|too big|exceed|range|shape"
SAYS_DESCR = r"descr|dtype|type"
SAYS_UNSUPPORTED = r"support|descr|dtype"


@dataclass(frozen=True)
class Case:
    """A file (arguments for the raw_npy fixture), the error reading it must
    raise and words its message must contain. `rows` is the range read in
    row mode; None leaves row mode out."""

    error: type[Exception]
    says: str
    file: dict[str, Any] = field(default_factory=dict)
    rows: tuple[int, int] | None = (0, 1)


# Why a descr numpy cannot parse at all ('<f3', 'hello', '<i16', '') is a
# FormatError and not an UnsupportedError: UnsupportedError means valid .npy
# content outside ndbridge's dtypes ('|O', '<M8[ns]', '<f16', structured);
# a descr no numpy could ever have written makes the file itself malformed.
#
# Why the version cases only require ndbridge.Error: 4.0 may be a future
# format (unsupported) while 1.5 or 0.0 never existed (malformed); either
# reading is defensible, so only the base class, ValueError and a message
# that names the version are required.
CASES: dict[str, Case] = {
    # --- the preamble: magic, version, header length ---
    "empty-file": Case(ndbridge.FormatError, SAYS_MAGIC + "|empty|" + SAYS_TOO_SHORT, {"raw": b""}),
    "shorter-than-magic": Case(
        ndbridge.FormatError, SAYS_MAGIC + "|" + SAYS_TOO_SHORT, {"raw": MAGIC[:4]}
    ),
    "bad-magic-letter": Case(
        ndbridge.FormatError, SAYS_MAGIC, {"header": header(), "data": DATA, "magic": b"\x93NUMPX"}
    ),
    "bad-magic-first-byte": Case(
        ndbridge.FormatError, SAYS_MAGIC, {"header": header(), "data": DATA, "magic": b"\x94NUMPY"}
    ),
    "lowercase-magic": Case(
        ndbridge.FormatError, SAYS_MAGIC, {"header": header(), "data": DATA, "magic": b"\x93numpy"}
    ),
    "text-file": Case(
        ndbridge.FormatError, SAYS_MAGIC, {"raw": b"descr,fortran_order,shape\n" * 8}
    ),
    "zip-archive": Case(ndbridge.FormatError, SAYS_MAGIC, {"raw": b"PK\x03\x04" + bytes(60)}),
    "magic-without-version": Case(
        ndbridge.FormatError, SAYS_VERSION + "|" + SAYS_TOO_SHORT, {"raw": MAGIC}
    ),
    "no-header-length": Case(
        ndbridge.FormatError, SAYS_HEADER + "|length|" + SAYS_TOO_SHORT,
        {"raw": MAGIC + b"\x01\x00\x10"},
    ),
    **{
        f"version-{major}.{minor}": Case(
            ndbridge.Error, SAYS_VERSION,
            {"header": header(), "data": DATA, "version": (major, minor)},
        )
        for major, minor in [(0, 0), (1, 5), (2, 1), (4, 0), (255, 255)]
    },
    "header-length-past-eof": Case(
        ndbridge.FormatError, SAYS_HEADER + "|length|" + SAYS_TOO_SHORT,
        {"header": header(), "data": DATA, "header_len": 4000},
    ),
    "header-length-past-eof-v2.0": Case(
        ndbridge.FormatError, SAYS_HEADER + "|length|" + SAYS_TOO_SHORT,
        {"header": header(), "data": DATA, "version": (2, 0), "header_len": 2**32 - 1},
    ),
    "header-length-zero": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": header(), "data": DATA, "header_len": 0}
    ),
    "header-length-cuts-dict": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": header(), "data": DATA, "header_len": 30}
    ),
    # --- the header is not a dict literal ---
    "header-empty": Case(ndbridge.FormatError, SAYS_HEADER, {"header": "", "data": DATA}),
    "header-list": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": "['<f8', False, (3,)]", "data": DATA}
    ),
    "header-tuple": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": "('<f8', False, (3,))", "data": DATA}
    ),
    "header-set": Case(
        ndbridge.FormatError, SAYS_HEADER,
        {"header": "{'descr', 'fortran_order', 'shape'}", "data": DATA},
    ),
    "header-garbage-text": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": "hello world", "data": DATA}
    ),
    "header-unclosed-brace": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": header()[:-1], "data": DATA}
    ),
    "header-unclosed-string": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": "{'descr': '<f8", "data": DATA}
    ),
    "header-unclosed-tuple": Case(
        ndbridge.FormatError, SAYS_HEADER + "|" + SAYS_SHAPE,
        {"header": header(shape="(3,"), "data": DATA},
    ),
    "header-trailing-junk": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": header() + " junk", "data": DATA}
    ),
    "header-unquoted-keys": Case(
        ndbridge.FormatError, SAYS_HEADER,
        {"header": "{descr: '<f8', fortran_order: False, shape: (3,)}", "data": DATA},
    ),
    "header-expression": Case(
        ndbridge.FormatError, SAYS_HEADER + "|" + SAYS_SHAPE,
        {"header": header(shape="(3,) + (1,)"), "data": DATA},
    ),
    "header-function-call": Case(
        ndbridge.FormatError, SAYS_HEADER + "|" + SAYS_SHAPE,
        {"header": header(shape="tuple([3])"), "data": DATA},
    ),
    # --- non-ASCII and binary junk ---
    "header-latin1-junk": Case(
        ndbridge.FormatError, SAYS_HEADER,
        {"header": b"{'descr': '<f8'\xff\xfe, 'fortran_order': False, 'shape': (3,), }\n",
         "data": DATA},
    ),
    "header-nul-byte": Case(
        ndbridge.FormatError, SAYS_HEADER,
        {"header": b"{'descr': '<f8',\x00 'fortran_order': False, 'shape': (3,), }\n",
         "data": DATA},
    ),
    "header-invalid-utf8-v3.0": Case(
        ndbridge.FormatError, SAYS_HEADER + "|utf|decod|encod",
        {"header": b"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), '\xc3\x28'}\n",
         "data": DATA, "version": (3, 0)},
    ),
    "header-binary-garbage": Case(
        ndbridge.FormatError, SAYS_HEADER, {"header": bytes(range(256)), "data": DATA}
    ),
    "descr-non-ascii": Case(
        ndbridge.FormatError, SAYS_DESCR, {"header": header(descr="'<f\u00e9'"), "data": DATA}
    ),
    # Python's int() accepts Arabic-Indic digits; a .npy header must not.
    "descr-unicode-digit-v3.0": Case(
        ndbridge.FormatError, SAYS_DESCR,
        {"header": header(descr="'<f\u0668'"), "data": DATA, "version": (3, 0)},
    ),
    "shape-unicode-digit-v3.0": Case(
        ndbridge.FormatError, SAYS_SHAPE + "|" + SAYS_HEADER,
        {"header": header(shape="(\u0663,)"), "data": DATA, "version": (3, 0)},
    ),
    # --- keys ---
    "keys-empty-dict": Case(ndbridge.FormatError, SAYS_KEYS, {"header": "{}", "data": DATA}),
    "key-missing-descr": Case(
        ndbridge.FormatError, r"descr|key|missing",
        {"header": "{'fortran_order': False, 'shape': (3,)}", "data": DATA},
    ),
    "key-missing-fortran_order": Case(
        ndbridge.FormatError, r"fortran|key|missing",
        {"header": "{'descr': '<f8', 'shape': (3,)}", "data": DATA},
    ),
    "key-missing-shape": Case(
        ndbridge.FormatError, r"shape|key|missing",
        {"header": "{'descr': '<f8', 'fortran_order': False}", "data": DATA},
    ),
    "key-extra": Case(
        ndbridge.FormatError, r"extra|key|unexpected",
        {"header": header()[:-1] + "'extra': 1}", "data": DATA},
    ),
    # ast.literal_eval would silently keep the last value; a header that says
    # two things is ambiguous and ndbridge rejects it.
    "key-duplicate": Case(
        ndbridge.FormatError, r"duplicate|descr|key",
        {"header": "{'descr': '<i4', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}",
         "data": DATA},
    ),
    "key-bytes-not-str": Case(
        ndbridge.FormatError, r"descr|key",
        {"header": "{b'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", "data": DATA},
    ),
    # --- fortran_order ---
    **{
        f"fortran_order-{name}": Case(
            ndbridge.FormatError, SAYS_FORTRAN + ("|" + SAYS_HEADER if name == "false" else ""),
            {"header": header(fortran_order=text), "data": DATA},
        )
        for name, text in [
            ("int-1", "1"), ("int-0", "0"), ("string", "'False'"), ("none", "None"),
            ("false", "false"),
        ]
    },
    # --- shape ---
    **{
        f"shape-{name}": Case(
            ndbridge.FormatError, SAYS_SHAPE, {"header": header(shape=text), "data": DATA}
        )
        for name, text in [
            ("list", "[3]"), ("int", "3"), ("parenthesized-int", "(3)"), ("float", "(3.0,)"),
            ("string", "('3',)"), ("none", "None"), ("nested", "((3,),)"),
            ("negative", "(-1,)"), ("negative-inner", "(3, -2)"),
        ]
    },
    "shape-element-count-overflow": Case(
        ndbridge.FormatError, SAYS_TOO_BIG,
        {"header": header(descr="'|u1'", shape="(4294967296, 4294967296)"), "data": DATA},
    ),
    "shape-byte-count-overflow": Case(
        ndbridge.FormatError, SAYS_TOO_BIG,
        {"header": header(shape=f"({2**61},)"), "data": DATA},
    ),
    "shape-side-beyond-uint64": Case(
        ndbridge.FormatError, SAYS_TOO_BIG, {"header": header(shape=f"({2**64},)"), "data": DATA}
    ),
    "shape-side-huge": Case(
        ndbridge.FormatError, SAYS_TOO_BIG, {"header": header(shape=f"({10**30}, 1)"), "data": DATA}
    ),
    # 2**63 bytes promised by a file of under 200: a FormatError from the size
    # check, never an attempt to allocate.
    "shape-enormous": Case(
        ndbridge.FormatError, SAYS_TOO_SHORT,
        {"header": header(shape=f"({2**40}, {2**20})"), "data": DATA},
    ),
    # --- descr ---
    **{
        f"descr-{name}": Case(
            ndbridge.FormatError, SAYS_DESCR, {"header": header(descr=text), "data": DATA}
        )
        for name, text in [
            ("f3", "'<f3'"), ("hello", "'hello'"), ("i16", "'<i16'"), ("empty", "''"),
            ("int", "5"), ("none", "None"), ("bytes", "b'<f8'"),
        ]
    },
    **{
        f"descr-{name}": Case(
            ndbridge.UnsupportedError, SAYS_UNSUPPORTED + ("|" + extra if extra else ""),
            {"header": header(descr=text), "data": DATA},
        )
        for name, text, extra in [
            ("object", "'|O'", "object"),
            ("structured", "[('a', '<i4'), ('b', '<f8')]", "struct"),
            ("void", "'|V8'", "void"),
            ("datetime", "'<M8[ns]'", "datetime"),
            ("timedelta", "'<m8[s]'", "timedelta"),
            ("float128", "'<f16'", ""),
            ("complex256", "'<c32'", ""),
        ]
    },
    # --- data shorter than the header promises; rows reach into the gap ---
    "data-truncated": Case(
        ndbridge.FormatError, SAYS_TOO_SHORT, {"header": header(), "data": DATA[:16]}, rows=(0, 3)
    ),
    "data-missing": Case(
        ndbridge.FormatError, SAYS_TOO_SHORT, {"header": header(), "data": b""}, rows=(0, 3)
    ),
    "data-truncated-2d": Case(
        ndbridge.FormatError, SAYS_TOO_SHORT,
        {"header": header(descr="'<i4'", shape="(4, 5)"), "data": bytes(79)},
        rows=(3, 4),
    ),
    "data-truncated-fortran": Case(
        ndbridge.FormatError, SAYS_TOO_SHORT,
        {"header": header(descr="'<i4'", fortran_order="True", shape="(4, 5)"), "data": bytes(79)},
        rows=(3, 4),
    ),
    # A 0-d array has no rows (a UsageError), so row mode is left out.
    "data-truncated-0d": Case(
        ndbridge.FormatError, SAYS_TOO_SHORT,
        {"header": header(shape="()"), "data": bytes(4)}, rows=None,
    ),
}

MODES = ("full", "mmap", "rows")
PARAMS = [
    pytest.param(case, mode, id=f"{name}-{mode}")
    for name, case in CASES.items()
    for mode in MODES
    if not (mode == "rows" and case.rows is None)
]


def read(path: Path, mode: str, case: Case) -> object:
    if mode == "full":
        return cpp.read_npy(path)
    if mode == "mmap":
        return cpp.read_npy(path, mmap=True)
    return cpp.read_npy(path, rows=case.rows)


@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_malformed(raw_npy: Callable[..., Path], case: Case, mode: str) -> None:
    path = raw_npy(**case.file)
    with pytest.raises(case.error) as info:
        read(path, mode, case)
    err = info.value
    assert isinstance(err, ValueError)
    assert not isinstance(err, OSError)
    message = str(err)
    assert str(path) in message
    assert re.search(case.says, message, re.IGNORECASE), f"{message!r} should match {case.says!r}"
