"""ndbridge: arrays across Python and C++.

``ndbridge.cpp`` is the C++ library seen from Python; the error classes below
are what it raises.
"""

from __future__ import annotations

from . import cpp
from ._core import __version__
from ._errors import (
    Error,
    FileError,
    FormatError,
    H5Error,
    NotFoundError,
    UnsupportedError,
    UsageError,
)

__all__ = [
    "Error",
    "FileError",
    "FormatError",
    "H5Error",
    "NotFoundError",
    "UnsupportedError",
    "UsageError",
    "__version__",
    "cpp",
]
