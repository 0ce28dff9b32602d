"""The plan of a sharded pack: which files each shard holds, and its name.

The plan is a pure function of the source tree and the options: the files in
pack order (the walk ``ndbridge pack`` makes, see ``sources``) cut into
contiguous ranges, shard ``i`` holding files ``[start, stop)``. Each shard
carries a digest of its range (the relative paths and labels) and of every
option that changes what is written, so that a shard file from an earlier
run is reused only when it holds exactly what this run would write.

Shards of ``OUT.h5`` are ``OUT.shards/OUT-00000-of-00008.h5`` and so on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import UsageError
from .sources import Census, sources

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
}  # fmt: skip


@dataclass(frozen=True)
class ShardSpec:
    """One shard: its place in the plan, its file and the digest of its content."""

    index: int
    count: int
    start: int
    stop: int
    path: Path
    digest: str

    @property
    def files(self) -> int:
        """How many source files the shard takes."""
        return self.stop - self.start

    def attrs(self) -> dict[str, Any]:
        """The root attributes that tie a shard file to its place in the plan."""
        return {
            "shard_index": self.index, "shard_count": self.count,
            "shard_start": self.start, "shard_stop": self.stop, "shard_digest": self.digest,
        }  # fmt: skip


def parse_shard_size(value: int | str) -> tuple[int | None, int | None]:
    """``(images, None)`` for a plain count, ``(None, bytes)`` for a size like "2GB".

    Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB,
    GiB, TiB) powers of 1024.
    """
    if isinstance(value, int):
        images: int | None = value
        nbytes = None
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in _UNITS:
            raise UsageError(
                f"--shard-size wants a number of images (10000) or a size (2GB, 500MiB), "
                f"not '{value}'"
            )
        if match.group(2) == "":
            images, nbytes = int(float(match.group(1))), None
        else:
            images, nbytes = None, int(float(match.group(1)) * _UNITS[unit])
    if (images if images is not None else nbytes or 0) < 1:
        raise UsageError(f"--shard-size must be at least 1, not '{value}'")
    return images, nbytes


def shard_lengths(
    total: int, *, shards: int | None = None, per_shard: int | None = None
) -> list[int]:
    """How many files each shard takes: ``shards`` near-equal ranges (the first
    ones one longer), or ranges of ``per_shard`` files (the last one shorter)."""
    if shards is not None:
        if shards < 1:
            raise UsageError(f"--shards must be at least 1, not {shards}")
        if shards > total:
            raise UsageError(
                f"--shards {shards} asks for more shards than there are files ({total})"
            )
        base, extra = divmod(total, shards)
        return [base + (1 if i < extra else 0) for i in range(shards)]
    if per_shard is None or per_shard < 1:
        raise UsageError(f"--shard-size must be at least 1 image, not {per_shard}")
    return [min(per_shard, total - start) for start in range(0, total, per_shard)]


def shard_folder(out: Path) -> Path:
    """The folder beside ``out`` that holds its shards."""
    return out.with_name(out.stem + ".shards")


def content_key(census: Census, options: dict[str, Any], root: Path) -> str:
    """What besides the file list decides a shard's content, as one text."""
    kept = {k: v for k, v in options.items() if k != "workers"}  # speed only
    return json.dumps(
        {"options": kept, "classes": census.classes, "root": str(root)}, sort_keys=True
    )


def iter_shards(
    root: Path, census: Census, lengths: list[int], out: Path, key: str
) -> Iterator[tuple[ShardSpec, list[tuple[str, int]]]]:
    """Walk the source once and yield each shard's spec with its files, in order.

    Only one shard's file list is held at a time.
    """
    folder = shard_folder(out)
    count = len(lengths)
    items = sources(root, census.kind, census.classes)
    start = 0
    for index, length in enumerate(lengths):
        taken = [item for _, item in zip(range(length), items, strict=False)]
        if len(taken) != length:
            raise UsageError(
                f"'{root}' changed while it was being planned: fewer files than counted"
            )
        digest = hashlib.sha256(key.encode())
        for rel, label in taken:
            digest.update(f"\0{rel}\0{label}".encode())
        name = f"{out.stem}-{index:05d}-of-{count:05d}{out.suffix}"
        spec = ShardSpec(index, count, start, start + length, folder / name, digest.hexdigest())
        yield spec, taken
        start += length
