"""Malformed and unsupported .npy files: each must fail with a typed error.

Every case is a file built at test time from its parts. Each is read three
ways (whole, memory-mapped, a row range) and must raise the expected ndbridge
error, a ValueError whose message names the file and says what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
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
    file: dict[str, Any]
    rows: tuple[int, int] | None = (0, 1)


def npy(
    error: type[Exception],
    says: str,
    header_text: str | bytes = header(),
    data: bytes = DATA,
    *,
    rows: tuple[int, int] | None = (0, 1),
    **file: Any,
) -> Case:
    """A case built from a header and data (`file` holds version, magic, ...)."""
    return Case(error, says, {"header": header_text, "data": data, **file}, rows)


def raw(error: type[Exception], says: str, content: bytes) -> Case:
    """A case whose whole content is given, for files that are not .npy at all."""
    return Case(error, says, {"raw": content})


FORMAT = ndbridge.FormatError
UNSUPPORTED = ndbridge.UnsupportedError

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
    "empty-file": raw(FORMAT, SAYS_MAGIC + "|empty|" + SAYS_TOO_SHORT, b""),
    "shorter-than-magic": raw(FORMAT, SAYS_MAGIC + "|" + SAYS_TOO_SHORT, MAGIC[:4]),
    "bad-magic-letter": npy(FORMAT, SAYS_MAGIC, magic=b"\x93NUMPX"),
    "bad-magic-first-byte": npy(FORMAT, SAYS_MAGIC, magic=b"\x94NUMPY"),
    "lowercase-magic": npy(FORMAT, SAYS_MAGIC, magic=b"\x93numpy"),
    "text-file": raw(FORMAT, SAYS_MAGIC, b"descr,fortran_order,shape\n" * 8),
    "zip-archive": raw(FORMAT, SAYS_MAGIC, b"PK\x03\x04" + bytes(60)),
    "magic-without-version": raw(FORMAT, SAYS_VERSION + "|" + SAYS_TOO_SHORT, MAGIC),
    "no-header-length": raw(
        FORMAT, SAYS_HEADER + "|length|" + SAYS_TOO_SHORT, MAGIC + b"\x01\x00\x10"
    ),
    **{
        f"version-{major}.{minor}": npy(ndbridge.Error, SAYS_VERSION, version=(major, minor))
        for major, minor in [(0, 0), (1, 5), (2, 1), (4, 0), (255, 255)]
    },
    "header-length-past-eof": npy(
        FORMAT, SAYS_HEADER + "|length|" + SAYS_TOO_SHORT, header_len=4000
    ),
    "header-length-past-eof-v2.0": npy(
        FORMAT, SAYS_HEADER + "|length|" + SAYS_TOO_SHORT, version=(2, 0), header_len=2**32 - 1
    ),
    "header-length-zero": npy(FORMAT, SAYS_HEADER, header_len=0),
    "header-length-cuts-dict": npy(FORMAT, SAYS_HEADER, header_len=30),
    # --- the header is not a dict literal ---
    "header-empty": npy(FORMAT, SAYS_HEADER, ""),
    "header-list": npy(FORMAT, SAYS_HEADER, "['<f8', False, (3,)]"),
    "header-tuple": npy(FORMAT, SAYS_HEADER, "('<f8', False, (3,))"),
    "header-set": npy(FORMAT, SAYS_HEADER, "{'descr', 'fortran_order', 'shape'}"),
    "header-garbage-text": npy(FORMAT, SAYS_HEADER, "hello world"),
    "header-unclosed-brace": npy(FORMAT, SAYS_HEADER, header()[:-1]),
    "header-unclosed-string": npy(FORMAT, SAYS_HEADER, "{'descr': '<f8"),
    "header-unclosed-tuple": npy(FORMAT, SAYS_HEADER + "|" + SAYS_SHAPE, header(shape="(3,")),
    "header-trailing-junk": npy(FORMAT, SAYS_HEADER, header() + " junk"),
    "header-unquoted-keys": npy(
        FORMAT, SAYS_HEADER, "{descr: '<f8', fortran_order: False, shape: (3,)}"
    ),
    "header-expression": npy(FORMAT, SAYS_HEADER + "|" + SAYS_SHAPE, header(shape="(3,) + (1,)")),
    "header-function-call": npy(FORMAT, SAYS_HEADER + "|" + SAYS_SHAPE, header(shape="tuple([3])")),
    # --- non-ASCII and binary junk ---
    "header-latin1-junk": npy(
        FORMAT, SAYS_HEADER, b"{'descr': '<f8'\xff\xfe, 'fortran_order': False, 'shape': (3,)}\n"
    ),
    "header-nul-byte": npy(
        FORMAT, SAYS_HEADER, b"{'descr': '<f8',\x00 'fortran_order': False, 'shape': (3,)}\n"
    ),
    # The bad bytes sit inside the descr string, so a message quoting the
    # descr must escape them rather than fail to decode.
    "descr-invalid-utf8-v3.0": npy(
        FORMAT,
        SAYS_DESCR + "|" + SAYS_HEADER + "|utf|decod|encod",
        b"{'descr': '<f8\xc3(', 'fortran_order': False, 'shape': (3,), }\n",
        version=(3, 0),
    ),
    "header-binary-garbage": npy(FORMAT, SAYS_HEADER, bytes(range(256))),
    "descr-non-ascii": npy(FORMAT, SAYS_DESCR, header(descr="'<f\u00e9'")),
    # Python's int() accepts Arabic-Indic digits; a .npy header must not.
    "descr-unicode-digit-v3.0": npy(FORMAT, SAYS_DESCR, header(descr="'<f\u0668'"), version=(3, 0)),
    "shape-unicode-digit-v3.0": npy(
        FORMAT, SAYS_SHAPE + "|" + SAYS_HEADER, header(shape="(\u0663,)"), version=(3, 0)
    ),
    # --- keys ---
    "keys-empty-dict": npy(FORMAT, SAYS_KEYS, "{}"),
    "key-missing-descr": npy(
        FORMAT, r"descr|key|missing", "{'fortran_order': False, 'shape': (3,)}"
    ),
    "key-missing-fortran_order": npy(
        FORMAT, r"fortran|key|missing", "{'descr': '<f8', 'shape': (3,)}"
    ),
    "key-missing-shape": npy(
        FORMAT, r"shape|key|missing", "{'descr': '<f8', 'fortran_order': False}"
    ),
    "key-extra": npy(FORMAT, r"extra|key|unexpected", header()[:-1] + "'extra': 1}"),
    # ast.literal_eval would silently keep the last value; a header that says
    # two things is ambiguous and ndbridge rejects it.
    "key-duplicate": npy(
        FORMAT,
        r"duplicate|descr|key",
        "{'descr': '<i4', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}",
    ),
    "key-bytes-not-str": npy(
        FORMAT, r"descr|key", "{b'descr': '<f8', 'fortran_order': False, 'shape': (3,)}"
    ),
    # --- fortran_order ---
    **{
        f"fortran_order-{name}": npy(FORMAT, says, header(fortran_order=text))
        for name, text, says in [
            ("int-1", "1", SAYS_FORTRAN),
            ("int-0", "0", SAYS_FORTRAN),
            ("string", "'False'", SAYS_FORTRAN),
            ("none", "None", SAYS_FORTRAN),
            ("lowercase-false", "false", SAYS_FORTRAN + "|" + SAYS_HEADER),
        ]
    },
    # --- shape ---
    **{
        f"shape-{name}": npy(FORMAT, SAYS_SHAPE, header(shape=text))
        for name, text in [
            ("list", "[3]"),
            ("int", "3"),
            ("parenthesized-int", "(3)"),
            ("float", "(3.0,)"),
            ("string", "('3',)"),
            ("none", "None"),
            ("nested", "((3,),)"),
            ("negative", "(-1,)"),
            ("negative-inner", "(3, -2)"),
        ]
    },
    **{
        f"shape-{name}": npy(FORMAT, SAYS_TOO_BIG, header(descr=descr, shape=text))
        for name, descr, text in [
            ("element-count-overflow", "'|u1'", f"({2**32}, {2**32})"),
            ("byte-count-overflow", "'<f8'", f"({2**61},)"),
            ("side-beyond-uint64", "'<f8'", f"({2**64},)"),
            ("side-huge", "'<f8'", f"({10**30}, 1)"),
        ]
    },
    # 2**63 bytes: may be refused as too large for file offsets (int64) or
    # as more than the file holds; never an attempt to allocate.
    "shape-enormous": npy(
        FORMAT, SAYS_TOO_BIG + "|" + SAYS_TOO_SHORT, header(shape=f"({2**40}, {2**20})")
    ),
    # 2**53 bytes fit every integer type: only the file size check can catch it.
    "shape-larger-than-file": npy(FORMAT, SAYS_TOO_SHORT, header(shape=f"({2**30}, {2**20})")),
    # --- descr ---
    **{
        f"descr-{name}": npy(FORMAT, SAYS_DESCR, header(descr=text))
        for name, text in [
            ("f3", "'<f3'"),
            ("hello", "'hello'"),
            ("i16", "'<i16'"),
            ("empty", "''"),
            ("int", "5"),
            ("none", "None"),
            ("bytes", "b'<f8'"),
        ]
    },
    **{
        f"descr-{name}": npy(UNSUPPORTED, SAYS_UNSUPPORTED + extra, header(descr=text))
        for name, text, extra in [
            ("object", "'|O'", "|object"),
            ("structured", "[('a', '<i4'), ('b', '<f8')]", "|struct"),
            ("void", "'|V8'", "|void"),
            ("datetime", "'<M8[ns]'", "|datetime"),
            ("timedelta", "'<m8[s]'", "|timedelta"),
            ("float128", "'<f16'", ""),
            ("complex256", "'<c32'", ""),
        ]
    },
    # --- data shorter than the header promises; rows reach into the gap ---
    "data-truncated": npy(FORMAT, SAYS_TOO_SHORT, data=DATA[:16], rows=(0, 3)),
    "data-missing": npy(FORMAT, SAYS_TOO_SHORT, data=b"", rows=(0, 3)),
    "data-truncated-2d": npy(
        FORMAT, SAYS_TOO_SHORT, header(descr="'<i4'", shape="(4, 5)"), bytes(79), rows=(3, 4)
    ),
    # In Fortran order the last row's final element is the file's last one.
    "data-truncated-fortran": npy(
        FORMAT,
        SAYS_TOO_SHORT,
        header(descr="'<i4'", fortran_order="True", shape="(4, 5)"),
        bytes(79),
        rows=(3, 4),
    ),
    # A 0-d array has no rows (a UsageError), so row mode is left out.
    "data-truncated-0d": npy(FORMAT, SAYS_TOO_SHORT, header(shape="()"), bytes(4), rows=None),
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
    # The path holds the test's name ("...shape_list...") so it is cut out
    # before looking for the words that describe the problem.
    problem = message.replace(str(path), "<path>")
    assert re.search(case.says, problem, re.IGNORECASE), f"{message!r} should match {case.says!r}"
