"""The layout of a packed file: the names of its datasets, members and attributes.

The names come from the C++ header ``ndbridge/packed.hpp`` (through the
binding), so the packer, merge, :class:`ndbridge.Dataset` and C++ readers use
one list. In a .h5 output the datasets sit at the root (``skipped/`` and
``ignored/`` are groups) and the attributes are root attributes. A .npy
output keeps the images in OUT and the rest in ``OUT`` + :data:`META_SUFFIX`
(an .npz whose member names flatten groups with ``_``, see :func:`member`);
a .npz output holds the images and those members together. The attributes
of .npy and .npz outputs are one JSON member, :data:`PROVENANCE`.
"""

from __future__ import annotations

from ._core.packed import (  # noqa: F401 (re-exported)
    ATTR_COUNT,
    ATTR_CREATED,
    ATTR_FORMAT,
    ATTR_NAMES,
    ATTR_OPTIONS,
    ATTR_PIXELS,
    ATTR_SHARDS,
    ATTR_SOURCE_ROOT,
    ATTR_STORE,
    ATTR_VERSION,
    CLASS_NAMES,
    ENCODED,
    FORMAT,
    IGNORED_PATHS,
    IGNORED_REASONS,
    IMAGES,
    LABELS,
    META_SUFFIX,
    OFFSETS,
    PATHS,
    PROVENANCE,
    SHAPES,
    SKIPPED_PATHS,
    SKIPPED_REASONS,
)


def member(dataset: str) -> str:
    """The .npz member name of a dataset of the .h5 layout (``skipped/paths``
    becomes ``skipped_paths``)."""
    return dataset.replace("/", "_")
