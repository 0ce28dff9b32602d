"""Finding the files to pack: a sorted walk that never holds the whole tree.

Order is depth-first with the entries of each folder sorted by name, so it
is the same on every machine and for any number of workers. Only one folder
is open at a time, and only one folder's names are in memory at a time.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import UsageError, file_error

#: File name suffixes read as images (anything imageio reads through Pillow).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm",
     ".pbm", ".pnm"}
)  # fmt: skip
NPY_SUFFIX = ".npy"


def walk(root: Path) -> Iterator[str]:
    """Yield the relative POSIX paths of the files under ``root``, in pack order.

    Hidden entries (names starting with ".") are left out; folder symlinks
    are not followed, so a link loop cannot trap the walk.
    """
    yield from _walk(root, "")


def _walk(root: Path, rel: str) -> Iterator[str]:
    folder = root / rel if rel else root
    try:
        with os.scandir(folder) as it:
            entries = sorted(
                (
                    (e.name, e.is_dir(follow_symlinks=False))
                    for e in it
                    if not e.name.startswith(".")
                ),
            )
    except OSError as exc:
        raise file_error(exc.errno or 0, f"cannot list folder '{folder}': {exc.strerror}") from exc
    for name, is_dir in entries:
        path = f"{rel}{name}"
        if is_dir:
            yield from _walk(root, path + "/")
        else:
            yield path


def kind_of(relpath: str) -> str | None:
    """'images', 'npy' or None (a file the packer ignores), by suffix."""
    suffix = os.path.splitext(relpath)[1].lower()
    if suffix in IMAGE_SUFFIXES:
        return "images"
    if suffix == NPY_SUFFIX:
        return "npy"
    return None


@dataclass
class Census:
    """What a first, counting pass over the tree found."""

    kind: str
    count: int
    ignored: int
    classes: list[str] = field(default_factory=list)
    longest_path: int = 1  # characters of the longest relative path packed


def take_census(root: Path, kind: str, labels: bool) -> Census:
    """Count the files to pack and find the class folders, holding no file list.

    ``kind`` is "images", "npy" or "auto" (whichever of the two the tree
    holds; both is an error). With ``labels`` every file must sit inside a
    top-level class folder.
    """
    if not root.is_dir():
        if root.exists():
            raise UsageError(f"'{root}': the source must be a folder")
        raise file_error(errno.ENOENT, f"cannot pack '{root}': No such file or directory")
    counts = {"images": 0, "npy": 0}
    classes: dict[str, set[str]] = {"images": set(), "npy": set()}
    loose: dict[str, str] = {}
    longest = {"images": 1, "npy": 1}
    ignored = 0
    for rel in walk(root):
        k = kind_of(rel)
        if k is None:
            ignored += 1
            continue
        counts[k] += 1
        longest[k] = max(longest[k], len(rel))
        if "/" in rel:
            classes[k].add(rel.split("/", 1)[0])
        else:
            loose.setdefault(k, rel)
    if kind == "auto":
        if counts["images"] and counts["npy"]:
            raise UsageError(
                f"'{root}' holds both images ({counts['images']}) and .npy files "
                f"({counts['npy']}); choose one with --input images or --input npy"
            )
        kind = "npy" if counts["npy"] else "images"
    if counts[kind] == 0:
        what = "image files" if kind == "images" else ".npy files"
        raise UsageError(f"no {what} found in '{root}' ({ignored} other files ignored)")
    if labels and kind in loose:
        raise UsageError(
            f"with --labels dirs every file must be inside a class folder, but "
            f"'{root / loose[kind]}' is directly in the source folder"
        )
    ignored += counts["npy" if kind == "images" else "images"]
    return Census(
        kind, counts[kind], ignored, sorted(classes[kind]) if labels else [], longest[kind]
    )


def sources(root: Path, kind: str, classes: list[str]) -> Iterator[tuple[str, int]]:
    """Yield ``(relative path, label)`` for every file to pack, in pack order.

    The label is the index of the file's class folder in ``classes``, or -1
    when packing without labels.
    """
    index = {name: i for i, name in enumerate(classes)}
    for rel in walk(root):
        if kind_of(rel) != kind:
            continue
        label = index[rel.split("/", 1)[0]] if classes else -1
        yield rel, label
