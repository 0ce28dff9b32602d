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
from .dataset import Dataset


def __getattr__(name: str) -> object:
    # The packing tool and loader pull in h5py and imageio: import them only
    # when asked for, so that ``import ndbridge`` stays light.
    if name == "pack":
        from .packing import pack

        return pack
    if name == "merge":
        from .merging import merge

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
    "NotFoundError",
    "UnsupportedError",
    "UsageError",
    "__version__",
    "cpp",
    "load",
    "merge",
    "pack",
]
