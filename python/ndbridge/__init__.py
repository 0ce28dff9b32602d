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
    MismatchError,
    NotFoundError,
    UnsupportedError,
    UsageError,
)
from .dataset import Dataset

# The function, not the subpackage of the same name: importing it here binds
# ``ndbridge.pack`` to the function for good.
from .pack import pack


def __getattr__(name: str) -> object:
    # merge and load pull in h5py: import them only when asked for, so that
    # ``import ndbridge`` stays light.
    if name == "merge":
        from .pack.merge import merge

        return merge
    if name == "load":
        from .loading import load

        return load
    raise AttributeError(f"module 'ndbridge' has no attribute {name!r}")


__all__ = [
    "Dataset",
    "Error",
    "FileError",
    "FormatError",
    "H5Error",
    "MismatchError",
    "NotFoundError",
    "UnsupportedError",
    "UsageError",
    "__version__",
    "cpp",
    "load",
    "merge",
    "pack",
]
