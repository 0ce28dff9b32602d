"""Finding the files to pack: a sorted walk that never holds the whole tree.

Order is depth-first with the entries of each folder sorted by name, so it
is the same on every machine and for any number of workers. Only one folder
is open at a time, and only one folder's names are in memory at a time.

Folder symlinks are followed, as torchvision's ImageFolder follows them,
but each real folder is packed once: a link to a folder already packed, or
back to one of its own parents (a loop), is left out and reported. Hidden
entries (names starting with ".") are left out and reported too, and so are
files of other kinds; the census names every one.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import UsageError, file_error
from .names import ESCAPED, UTF8, is_utf8, stored

#: File name suffixes read as images (anything imageio reads through Pillow).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm",
     ".pbm", ".pnm"}
)  # fmt: skip
NPY_SUFFIX = ".npy"

#: Called with (relative path, reason) for each entry the walk leaves out.
OnLeftOut = Callable[[str, str], None]


def walk(root: Path, left_out: OnLeftOut | None = None) -> Iterator[str]:
    """Yield the relative paths of the files under ``root``, in pack order.

    Entries the walk does not enter or yield (hidden ones, links to folders
    already walked) are passed to ``left_out`` with the reason.
    """
    real = os.stat(root)
    yield from _walk(root, "", {(real.st_dev, real.st_ino): ""}, [], left_out)


def _walk(
    root: Path,
    rel: str,
    seen: dict[tuple[int, int], str],
    parents: list[tuple[int, int]],
    left_out: OnLeftOut | None,
) -> Iterator[str]:
    folder = root / rel if rel else root
    here = os.stat(folder)
    parents = [*parents, (here.st_dev, here.st_ino)]
    try:
        with os.scandir(folder) as it:
            entries = sorted((e.name, _is_dir(e)) for e in it)
    except OSError as exc:
        raise file_error(exc.errno or 0, f"cannot list folder '{folder}': {exc.strerror}") from exc
    for name, is_dir in entries:
        path = f"{rel}{name}"
        if name.startswith("."):
            if left_out is not None:
                left_out(path + ("/" if is_dir else ""), "hidden")
            continue
        if not is_dir:
            yield path
            continue
        try:
            st = os.stat(root / path)
        except OSError as exc:
            raise file_error(
                exc.errno or 0, f"cannot list folder '{root / path}': {exc.strerror}"
            ) from exc
        key = (st.st_dev, st.st_ino)
        if key in parents:
            if left_out is not None:
                left_out(path + "/", f"link loop: leads back to '{seen[key] or '.'}'")
            continue
        if key in seen:
            if left_out is not None:
                left_out(path + "/", f"same folder as '{seen[key]}', packed once")
            continue
        seen[key] = path
        yield from _walk(root, path + "/", seen, parents, left_out)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symlinks
    except OSError:
        return False


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
    classes: list[str] = field(default_factory=list)
    longest_path: int = 1  # characters of the longest stored relative path packed
    #: (relative path, reason) of every file or folder not packed.
    ignored: list[tuple[str, str]] = field(default_factory=list)
    #: How names are stored (names.UTF8, or names.ESCAPED when some name is not UTF-8).
    names: str = UTF8

    def stored(self, relpath: str) -> str:
        """``relpath`` as the output stores it."""
        return stored(relpath, self.names)


_KINDS = {"images": "image files", "npy": ".npy files"}


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
    left: list[tuple[str, str]] = []
    other: list[str] = []
    utf8 = True
    for rel in walk(root, lambda path, reason: left.append((path, reason))):
        utf8 = utf8 and is_utf8(rel)
        k = kind_of(rel)
        if k is None:
            other.append(rel)
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
        raise UsageError(
            f"no {_KINDS[kind]} found in '{root}' "
            f"({len(other)} other files, {len(left)} hidden or left-out entries)"
        )
    if labels and kind in loose:
        raise UsageError(
            f"with --labels dirs every file must be inside a class folder, but "
            f"'{root / loose[kind]}' is directly in the source folder"
        )
    names = UTF8 if utf8 and all(is_utf8(p) for p, _ in left) else ESCAPED
    if counts["npy" if kind == "images" else "images"]:
        # Files of the other kind were only counted: name them now (rare).
        other += [rel for rel in walk(root) if kind_of(rel) not in (None, kind)]
    ignored = sorted([(p, _not_packed(p, kind)) for p in other] + left)
    census = Census(kind, counts[kind], sorted(classes[kind]) if labels else [], 1, ignored, names)
    # Escaping can lengthen a name up to four times; the longest is measured stored.
    census.longest_path = max(longest[kind], 1) if names == UTF8 else _longest_escaped(root, census)
    return census


def _not_packed(relpath: str, kind: str) -> str:
    suffix = os.path.splitext(relpath)[1].lower() or "no suffix"
    return f"not one of the {_KINDS[kind]} ({suffix})"


def _longest_escaped(root: Path, census: Census) -> int:
    return max(
        (len(census.stored(rel)) for rel in walk(root) if kind_of(rel) == census.kind), default=1
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
