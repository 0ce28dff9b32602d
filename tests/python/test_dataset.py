"""``ndbridge.Dataset`` over packed files and plain arrays, and as the dataset
of a real PyTorch DataLoader (when torch is installed) with every process
start method."""

from __future__ import annotations

import importlib.util
import pickle
import threading
from pathlib import Path
from typing import Any

import h5py
import imageio.v3 as iio
import numpy as np
import pytest

import ndbridge
from ndbridge import Dataset

HAVE_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(
    not HAVE_TORCH,
    reason="torch is not installed (an optional dependency: pip install torch)",
)

CLASSES = ["cat", "dog", "owl"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """12 small PNGs in three class folders, and what packing them gives."""
    root = tmp_path_factory.mktemp("photos")
    images, labels = [], []
    rng = np.random.default_rng(1)
    for label, name in enumerate(CLASSES):
        (root / name).mkdir()
        for i in range(4):
            image = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            iio.imwrite(root / name / f"{i}.png", image)
            images.append(image)
            labels.append(label)
    return root, np.stack(images), np.array(labels)


@pytest.mark.parametrize("suffix", [".h5", ".npy", ".npz"])
def test_packed_files_give_image_label_pairs(
    tmp_path: Path, photos: tuple[Path, np.ndarray, np.ndarray], suffix: str
) -> None:
    root, images, labels = photos
    out = tmp_path / f"packed{suffix}"
    ndbridge.pack(root, out, labels="dirs", workers=1, progress=False)
    ds = Dataset(out)
    assert len(ds) == 12 and ds.classes == CLASSES
    image, label = ds[5]
    assert image.dtype == np.uint8 and np.array_equal(image, images[5]) and label == labels[5]
    image, label = ds[-1]
    assert np.array_equal(image, images[-1]) and label == labels[-1]
    rows, got = ds.batch([11, 0, 11])
    assert (
        np.array_equal(rows, images[[11, 0, 11]]) and got.tolist() == labels[[11, 0, 11]].tolist()
    )
    assert [int(y) for _, y in ds.__getitems__([3, 4, 8])] == labels[[3, 4, 8]].tolist()
    with pytest.raises(IndexError, match="index 12 is outside 12 rows"):
        ds[12]
    assert sum(1 for _ in ds) == 12  # iteration stops at IndexError
    unlabeled = Dataset(out, labels=False)
    assert np.array_equal(unlabeled[2], images[2]) and unlabeled.classes is None


def test_plain_arrays_and_transforms(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 30, dtype=">f4").reshape(30, 2, 3)
    np.save(tmp_path / "a.npy", array)
    np.savez(tmp_path / "s.npz", a=array, b=np.arange(30))
    np.savez_compressed(tmp_path / "d.npz", a=array)
    with h5py.File(tmp_path / "a.h5", "w", libver="earliest") as f:
        f.create_dataset("deep/a", data=array, chunks=(4, 2, 3), compression="lzf")
        f["targets"] = np.arange(30) * 10
    sets = [
        Dataset(tmp_path / "a.npy"),
        Dataset(tmp_path / "a.npy", mmap=True),
        Dataset(tmp_path / "s.npz", "a"),
        Dataset(tmp_path / "d.npz"),
        Dataset(tmp_path / "a.h5", "deep/a"),
    ]
    for ds in sets:
        assert len(ds) == 30
        assert ds[7].tobytes() == array[7].tobytes() and ds[7].dtype.str == ">f4"
        assert ds[[29, 0, 0]].tobytes() == array[[29, 0, 0]].tobytes()
        out = np.empty((2, 2, 3), dtype=">f4")
        assert ds.batch(np.array([3, 4]), out=out) is out and np.array_equal(out, array[3:5])
        again = pickle.loads(pickle.dumps(ds))
        assert again[np.int64(9)].tobytes() == array[9].tobytes()
    doubled = Dataset(tmp_path / "a.h5", "deep/a", labels="targets", transform=np.negative,
                      target_transform=float)  # fmt: skip
    x, y = doubled[4]
    assert np.array_equal(x, -array[4]) and y == 40.0 and isinstance(y, float)
    rows, targets = doubled.batch([4])
    assert np.array_equal(rows, array[[4]]) and targets.tolist() == [40]  # untransformed


def test_what_it_refuses(tmp_path: Path) -> None:
    np.savez(tmp_path / "two.npz", a=np.arange(3), b=np.arange(4))
    with pytest.raises(ndbridge.UsageError, match=r"two.npz' holds 2 arrays \(a, b\)"):
        Dataset(tmp_path / "two.npz")
    with pytest.raises(ndbridge.NotFoundError, match="no array named 'c'"):
        Dataset(tmp_path / "two.npz", "c")
    with pytest.raises(ndbridge.UsageError, match=r"'b' has 4 rows, but the samples 3"):
        Dataset(tmp_path / "two.npz", "a", labels="b")
    np.save(tmp_path / "s.npy", np.float32(1))
    with pytest.raises(ndbridge.UsageError, match="0-d"):
        Dataset(tmp_path / "s.npy")
    with h5py.File(tmp_path / "e.h5", "w", libver="earliest") as f:
        f["encoded"] = np.zeros(10, np.uint8)
        f["offsets"] = np.arange(3)
    with pytest.raises(ndbridge.UnsupportedError, match="encoded images"):
        Dataset(tmp_path / "e.h5")


def test_threads_share_one_dataset(tmp_path: Path) -> None:
    array = (np.arange(256 * 300, dtype="<u2").reshape(256, 300) // 5) % 700
    ndbridge.cpp.write_h5(tmp_path / "g.h5", "x", array, compression="gzip", chunks=(2, 300))
    ds = Dataset(tmp_path / "g.h5")
    wrong: list[int] = []

    def read(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(20):
            pick = rng.integers(0, 256, 16)
            if not np.array_equal(ds.batch(pick), array[pick]):
                wrong.append(seed)

    threads = [threading.Thread(target=read, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def collect(loader: Any) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for x, y in loader:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


@needs_torch
@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
@pytest.mark.parametrize("suffix", [".h5", ".npy"])
def test_torch_dataloader_with_workers(
    tmp_path: Path, photos: tuple[Path, np.ndarray, np.ndarray], method: str, suffix: str
) -> None:
    import torch
    from torch.utils.data import DataLoader

    root, images, labels = photos
    out = tmp_path / f"packed{suffix}"
    ndbridge.pack(root, out, labels="dirs", workers=1, progress=False)
    ds = Dataset(out, transform=np.float32)
    ds[0]  # opened here first: forked workers inherit the open file
    loader = DataLoader(
        ds, batch_size=5, shuffle=True, num_workers=2, multiprocessing_context=method,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    got_images, got_labels = collect(loader)
    order = np.argsort([img.tobytes() for img in got_images.astype(np.uint8)])
    expected = np.argsort([img.tobytes() for img in images])
    assert got_images.dtype == np.float32
    assert np.array_equal(got_images[order], images[expected].astype(np.float32))
    assert got_labels[order].tolist() == labels[expected].tolist()


@needs_torch
def test_torch_dataloader_in_process_and_whole_batches(
    tmp_path: Path, photos: tuple[Path, np.ndarray, np.ndarray]
) -> None:
    from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

    root, images, labels = photos
    out = tmp_path / "packed.h5"
    ndbridge.pack(root, out, labels="dirs", workers=1, progress=False, compression="gzip")
    ds = Dataset(out)
    got_images, got_labels = collect(DataLoader(ds, batch_size=4))
    assert np.array_equal(got_images, images) and got_labels.tolist() == labels.tolist()
    # A batch sampler as the sampler: the dataset reads each batch whole.
    whole = DataLoader(ds, sampler=BatchSampler(SequentialSampler(ds), 5, False), batch_size=None)
    got_images, got_labels = collect(whole)
    assert np.array_equal(got_images, images) and got_labels.tolist() == labels.tolist()
