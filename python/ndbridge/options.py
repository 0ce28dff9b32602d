"""The values options take, one table for the Python functions and the command line.

Kept apart from the modules that act on them so that building the command
line's parser imports nothing heavy (``ndbridge --version`` loads no h5py).

==================  =========================================  ==================
what                name everywhere                            also accepted
==================  =========================================  ==================
file format         ``npy``, ``npz``, ``h5``                   ``hdf5`` for ``h5``
compression         ``gzip``, ``lzf`` (HDF5 only), ``none``
gzip level          ``gzip_level`` / ``--gzip-level`` (0-9)    ``level`` / ``--level``
==================  =========================================  ==================
"""

from __future__ import annotations

from ._errors import UsageError

#: The file formats, by the names every option takes.
FORMATS = ("npy", "npz", "h5")
#: Other spellings of them still accepted.
FORMAT_ALIASES = {"hdf5": "h5"}
#: File name suffixes and the formats they mean.
SUFFIXES = {".npy": "npy", ".npz": "npz", ".h5": "h5", ".hdf5": "h5", ".hdf": "h5", ".he5": "h5"}

#: Compression of HDF5 outputs (gzip, h5py's lzf, or none); .npz outputs
#: take gzip (zip's deflate) or none.
COMPRESSIONS = ("gzip", "lzf", "none")
#: The gzip level when none is given.
GZIP_LEVEL = 4


def format_name(value: str, option: str = "format") -> str:
    """``value`` as one of :data:`FORMATS` (an alias becomes its name);
    UsageError naming ``option`` otherwise."""
    name = FORMAT_ALIASES.get(value, value)
    if name not in FORMATS:
        raise UsageError(f"{option} must be npy, npz or h5, not {value!r}")
    return name
