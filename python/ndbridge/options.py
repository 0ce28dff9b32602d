"""The values options take, shared by the Python functions and the command line.

Kept apart from the modules that act on them so that building the command
line's parser imports nothing heavy (``ndbridge --version`` loads no h5py).
"""

from __future__ import annotations

#: Compression of HDF5 outputs (gzip, h5py's lzf, or none); .npz outputs
#: take gzip (zip's deflate) or none.
COMPRESSIONS = ("gzip", "lzf", "none")
