"""``ndbridge.Dataset``: the rows of an array file as a map-style dataset.

It is what a PyTorch ``DataLoader`` asks for (``len``, indexing, and
``__getitems__`` for a whole batch in one call) without importing torch, and
it pickles as its settings, so that workers started with spawn or
forkserver open the file anew and forked ones use the file they inherit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np

from . import cpp
from ._errors import NotFoundError, UnsupportedError, UsageError
from ._formats import NPY, NPZ, PathLike, detect_format, quoted
from .packed import CLASS_NAMES, ENCODED, IMAGES, LABELS, META_SUFFIX

#: A row's index, or many of them (numpy's fancy indexing along the first axis).
Index = Union[int, np.integer, Sequence[int], "np.ndarray"]


def _arrays(path: PathLike, fmt: str) -> dict[str, tuple[int, ...]]:
    """Every array of the file with its shape (.npz members, HDF5 datasets)."""
    if fmt == NPZ:
        with cpp.NpzReader(path) as archive:
            return {m["name"]: m["shape"] for m in archive.members()}
    return {
        o["path"].lstrip("/"): o["shape"]
        for o in cpp.list_h5(path)
        if o["kind"] == "dataset" and o["shape"] is not None
    }


def _texts(path: PathLike, fmt: str, name: str) -> list[str]:
    """A small array of names, whole, as a list of str."""
    if fmt == NPZ:
        with cpp.NpzReader(path) as archive:
            values = archive.read(name)
    else:
        values = cpp.read_h5(path, name)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values.tolist()]


class _Array:
    """Rows of one array in a file, read by the C++ reader opened on first use."""

    def __init__(self, path: PathLike, fmt: str, name: str | None, mmap: bool) -> None:
        self.path, self.fmt, self.name, self.mmap = path, fmt, name, mmap
        self._reader: Any = None
        self._lock = threading.Lock()

    def reader(self) -> Any:
        # Opened once per process: a pickled dataset carries no reader, and
        # threads share this one (reads run in parallel).
        with self._lock:
            if self._reader is None:
                if self.fmt == NPY:
                    self._reader = cpp.NpyReader(self.path, mmap=self.mmap)
                elif self.fmt == NPZ:
                    self._reader = cpp.NpzReader(self.path)
                else:
                    self._reader = cpp.H5File(self.path)
            return self._reader

    def read(self, rows: Any, out: np.ndarray | None = None) -> np.ndarray:
        if self.fmt == NPY:
            return self.reader().read(rows=rows, out=out)
        return self.reader().read(self.name, rows=rows, out=out)  # an .npz member, an HDF5 dataset

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "fmt": self.fmt, "name": self.name, "mmap": self.mmap}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


class Dataset:
    """The rows of an array in an .h5, .npy or .npz file as a map-style dataset.

    ``Dataset(path)`` on a file ``ndbridge pack`` wrote gives one sample per
    image: ``(image, label)`` when the pack has labels (``--labels``), else
    the image; on any other file holding exactly one array, one sample per
    row of it. ``name`` picks the HDF5 dataset or .npz member instead.
    ``labels`` is the name of an array of one label per row to pair with
    each sample (default: the pack's ``labels``, if any; ``False``: none).
    A packed .npy file's labels are in ``OUT.meta.npz`` beside it.

    - ``len(ds)``: the number of rows.
    - ``ds[i]``: one sample, ``transform(row)`` (and ``target_transform``
      of its label) when given. A negative index counts from the end; one
      outside the rows raises IndexError.
    - ``ds.__getitems__(indices)``: the samples at ``indices``, read in one
      call; PyTorch's DataLoader uses it for each batch.
    - ``ds.batch(indices, out=None)`` (and ``ds[indices]`` for a list or
      array): the rows as one array, untransformed (with labels,
      ``(rows, labels)``), read in one call: each HDF5 chunk once, into
      ``out`` when given. For inference loops and whole-batch transforms.

    With ``mmap=True`` an .npy file is memory-mapped once per process and
    rows are copied out of the map. A deflated .npz member is inflated from
    its start for every read (as far as the last row asked for): store
    training data in HDF5, .npy or a stored .npz (``numpy.savez``).

    A dataset pickles as its settings (``transform`` must pickle too) and
    opens the file anew in the process that unpickles it, so DataLoader
    workers work with any start method; threads share one open file.
    ``classes`` holds the pack's class names, or None.
    """

    def __init__(
        self,
        path: PathLike,
        name: str | None = None,
        *,
        labels: str | bool = True,
        transform: Callable[[np.ndarray], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        mmap: bool = False,
    ) -> None:
        self.path = path
        self.transform = transform
        self.target_transform = target_transform
        fmt = detect_format(path)
        self.classes: list[str] | None = None
        label_file: tuple[PathLike, str] | None = None
        if fmt == NPY:
            if name is not None and name != Path(path).stem:
                raise NotFoundError(
                    f"{quoted(path)}: an .npy file holds one array; no array named '{name}'"
                )
            with cpp.NpyReader(path) as reader:
                length = self._length(reader.shape, path, name)
            meta = Path(path).with_name(Path(path).stem + META_SUFFIX)
            found = _arrays(meta, NPZ) if meta.is_file() else {}
            label_file = self._labels(meta, found, labels, packed=True)
            if CLASS_NAMES in found and label_file is not None:
                self.classes = _texts(meta, NPZ, CLASS_NAMES)
        else:
            found = _arrays(path, fmt)
            packed = name is None and IMAGES in found
            if name is None and ENCODED in found and not packed:
                raise UnsupportedError(
                    f"{quoted(path)} holds encoded images (ndbridge pack --store encoded); "
                    "Dataset reads rows of pixels: name one of its arrays, or pack without "
                    "--store encoded"
                )
            if name is None:
                name = IMAGES if packed else self._only(path, found)
            if name.lstrip("/") not in found:
                raise NotFoundError(f"{quoted(path)}: no array named '{name}'")
            length = self._length(found[name.lstrip("/")], path, name)
            label_file = self._labels(path, found, labels, packed=packed)
            if packed and label_file is not None and CLASS_NAMES in found:
                self.classes = _texts(path, fmt, CLASS_NAMES)
        self._rows = _Array(path, fmt, name, mmap)
        self._labels_array = None
        if label_file is not None:
            where, label_name = label_file
            label_fmt = detect_format(where)
            label_length = _arrays(where, label_fmt)[label_name]
            if not label_length or label_length[0] != length:
                raise UsageError(
                    f"{quoted(where)}: '{label_name}' has "
                    f"{label_length[0] if label_length else 0} rows, but the samples {length}"
                )
            self._labels_array = _Array(where, label_fmt, label_name, False)
        self._length_value = length

    @staticmethod
    def _length(shape: tuple[int, ...], path: PathLike, name: str | None) -> int:
        if not shape:
            what = f"'{name}'" if name else "its array"
            raise UsageError(f"{quoted(path)}: {what} is 0-d: it has no rows to make samples of")
        return int(shape[0])

    @staticmethod
    def _only(path: PathLike, found: dict[str, tuple[int, ...]]) -> str:
        if len(found) != 1:
            listed = ", ".join(found) or "none"
            raise UsageError(
                f"{quoted(path)} holds {len(found)} arrays ({listed}); name the one to read"
            )
        return next(iter(found))

    @staticmethod
    def _labels(
        where: PathLike, found: dict[str, tuple[int, ...]], labels: str | bool, *, packed: bool
    ) -> tuple[PathLike, str] | None:
        if labels is False:
            return None
        if labels is True:
            return (where, LABELS) if packed and LABELS in found else None
        if labels not in found:
            raise NotFoundError(f"{quoted(where)}: no label array named '{labels}'")
        return (where, labels)

    def __len__(self) -> int:
        return self._length_value

    def _sample(self, row: np.ndarray, label: Any = None) -> Any:
        x = self.transform(row) if self.transform is not None else row
        if self._labels_array is None:
            return x
        y = label if self.target_transform is None else self.target_transform(label)
        return x, y

    def __getitem__(self, index: Index) -> Any:
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            n = self._length_value
            if not -n <= index < n:
                raise IndexError(f"{quoted(self.path)}: index {index} is outside {n} rows")
            rows = self._rows.read([int(index)])
            if self._labels_array is None:
                return self._sample(rows[0])
            return self._sample(rows[0], self._labels_array.read([int(index)])[0])
        return self.batch(index)

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """The samples at ``indices``, read in one call (PyTorch's batched fetch)."""
        batch = self.batch(indices)
        if self._labels_array is None:
            return [self._sample(row) for row in batch]
        rows, labels = batch
        return [self._sample(row, label) for row, label in zip(rows, labels, strict=True)]

    def batch(self, indices: Index, *, out: np.ndarray | None = None) -> Any:
        """The rows at ``indices`` as one array, untransformed, read in one call.

        With labels, ``(rows, labels)``. ``out`` receives the rows (a
        writable C-contiguous array of exactly their dtype and shape).
        """
        rows = self._rows.read(indices, out)
        if self._labels_array is None:
            return rows
        return rows, self._labels_array.read(indices)

    def close(self) -> None:
        """Close the file (it reopens on the next read)."""
        self._rows.close()
        if self._labels_array is not None:
            self._labels_array.close()

    def __repr__(self) -> str:
        labels = ", labels" if self._labels_array is not None else ""
        return f"Dataset({quoted(self.path)}, '{self._rows.name}', {len(self)} rows{labels})"


__all__ = ["Dataset", "Index"]
