"""The packing tool: a folder of images (or .npy files) into one file, streaming.

``ndbridge.pack`` (:func:`pack`) is the entry point; ``ndbridge pack`` on the
command line calls it. The modules: ``sources`` (the sorted walk),
``decoding`` (one file into one sample), ``engine`` (decoding in threads, in
order), one writer per output format (``h5_writer``, ``npy_writer``),
``packer`` (one pack from start to end), ``shards``/``shard_plan``/
``dask_cluster`` (sharded packs) and ``merge`` (master files over shards).
"""

from __future__ import annotations

from .packer import PackSummary, pack

__all__ = ["PackSummary", "pack"]
