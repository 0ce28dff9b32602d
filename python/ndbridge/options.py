"""The values options take, one table for the Python functions and the command line.

Kept apart from the modules that act on them so that building the command
line's parser imports nothing heavy (``ndbridge --version`` loads no h5py).

==================  =========================================  ==================
what                name everywhere                            also accepted
==================  =========================================  ==================
file format         ``npy``, ``npz``, ``h5``                   ``hdf5`` for ``h5``
compression         ``gzip``, ``lzf`` (HDF5 only), ``none``
gzip level          ``gzip_level`` / ``--gzip-level`` (0-9)    ``level`` / ``--level``
                                                               (convert),
                                                               ``compression_level``
                                                               (``cpp.write_h5``)
npz compression     ``compression="gzip"`` / ``"none"``        ``compress=True/False``
                                                               (``cpp.write_npz``)
==================  =========================================  ==================
"""

from __future__ import annotations

from ._errors import UsageError

#: The file formats, by the names every option takes.
FORMATS = ("npy", "npz", "h5")
#: Other accepted spellings.
FORMAT_ALIASES = {"hdf5": "h5"}
#: File name suffixes and the formats they mean.
SUFFIXES = {".npy": "npy", ".npz": "npz", ".h5": "h5", ".hdf5": "h5", ".hdf": "h5", ".he5": "h5"}

#: Compression of HDF5 outputs (gzip, h5py's lzf, or none); .npz outputs
#: take gzip (zip's deflate) or none.
COMPRESSIONS = ("gzip", "lzf", "none")
#: The gzip level when none is given.
GZIP_LEVEL = 4


def gzip_level(
    value: int | None, alias: int | None = None, alias_name: str = "compression_level"
) -> int:
    """The gzip level given as ``gzip_level`` or under its other spelling
    (``alias_name``), as given (the writers check it); GZIP_LEVEL when
    neither is. UsageError when both are, with different values."""
    if value is not None and alias is not None and value != alias:
        raise UsageError(f"gzip_level={value} and {alias_name}={alias} disagree; give one")
    chosen = value if value is not None else alias
    return GZIP_LEVEL if chosen is None else chosen


def npz_deflates(compression: str | None, compress: bool | None) -> bool:
    """Whether .npz members are deflated: ``compression`` "gzip" or "none"
    (None: "none"), or ``compress``, its other spelling. UsageError for other
    values, or both spellings disagreeing."""
    if compression not in (None, "gzip", "none"):
        raise UsageError(
            f"an .npz is compressed with gzip (zip's deflate) or none, not {compression!r}"
        )
    given_both = compression is not None and compress is not None
    if given_both and (compression == "gzip") != bool(compress):
        raise UsageError(f"compression={compression!r} and compress={compress} disagree; give one")
    return compression == "gzip" if compression is not None else bool(compress)


def format_name(value: str, option: str = "format") -> str:
    """``value`` as one of :data:`FORMATS` (an alias becomes its name);
    UsageError naming ``option`` otherwise."""
    name = FORMAT_ALIASES.get(value, value)
    if name not in FORMATS:
        raise UsageError(f"{option} must be npy, npz or h5, not {value!r}")
    return name
