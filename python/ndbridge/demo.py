"""``ndbridge demo``: the main job end to end, on sample data made on the spot.

1. makes a small folder of sample images in class folders (and one corrupt
   file, as real folders have);
2. packs it into HDF5 with ``ndbridge pack`` (labels from folders, gzip,
   the corrupt file skipped and recorded);
3. lists the result as ``ndbridge ls`` does;
4. verifies that numpy/h5py and the C++ reader read every array bit for bit
   alike, as ``ndbridge verify`` does;
5. reads a batch of images back through the C++ library and compares it with
   the source files;
6. round-trips sample arrays of every supported kind through .npy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TextIO

import numpy as np

from . import cpp

CLASSES = ("circles", "stripes", "gradients")
PER_CLASS = 8
SIZE = 48

# One array per supported kind, in both byte orders where that applies.
_SAMPLES: dict[str, np.ndarray] = {
    "bool": np.array([[True, False, True], [False, True, False]]),
    "uint8 image": np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3),
    "int64, big-endian": np.arange(-6, 6, dtype=">i8").reshape(3, 4),
    "float16": np.linspace(-1, 1, 7, dtype=np.float16),
    "float32, Fortran order": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
    "complex128": np.array([1 + 2j, -3.5j, np.inf - 1j]),
    "unicode": np.array(["ndbridge", "numpy", "C++"]),
    "0-d float64": np.array(3.25),
    "empty (0, 4) int32": np.zeros((0, 4), dtype=np.int32),
}


def _sample_image(kind: str, index: int) -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    if kind == "circles":
        r = np.hypot(x - SIZE / 2, y - SIZE / 2)
        g = ((r + 3 * index) % 12 < 6) * 255
    elif kind == "stripes":
        g = ((x + y + 2 * index) % 10 < 5) * 255
    else:
        g = (x * 255 // SIZE + 10 * index) % 256
    return np.stack([g, np.roll(g, index, axis=0), 255 - g], axis=-1).astype(np.uint8)


def make_sample_folder(root: Path) -> list[Path]:
    """Write the sample images; returns the good ones in pack order."""
    import imageio.v3 as iio

    written = []
    for kind in CLASSES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(PER_CLASS):
            path = root / kind / f"{i:03d}.png"
            iio.imwrite(path, _sample_image(kind, i))
            written.append(path)
    (root / "stripes" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this file was cut short")
    return sorted(written, key=lambda p: (p.parent.name, p.name))


def _round_trip_samples(folder: Path, out: TextIO) -> bool:
    out.write(f"   {'array':<26} {'dtype':<6} {'shape':<11} {'order':<6} C++ read\n")
    all_same = True
    for index, (name, array) in enumerate(_SAMPLES.items()):
        path = folder / f"sample{index}.npy"
        np.save(path, array)
        back = cpp.read_npy(path)
        same = (
            back.dtype.str == array.dtype.str
            and back.shape == array.shape
            and back.tobytes(order="A") == array.tobytes(order="A")
        )
        all_same &= same
        order = "F" if back.flags.f_contiguous and not back.flags.c_contiguous else "C"
        out.write(
            f"   {name:<26} {back.dtype.str:<6} {back.shape!s:<11} {order:<6} "
            f"{'identical' if same else 'DIFFERENT'}\n"
        )
    return all_same


def run_demo(out: TextIO, workdir: Path | None = None) -> bool:
    """Run every step, writing what happens to ``out``; True if all checks pass."""
    import imageio.v3 as iio

    from .listing import describe, format_listing
    from .pack import pack
    from .verify import format_report, verify

    with tempfile.TemporaryDirectory(prefix="ndbridge-demo-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        images = folder / "images"
        packed = folder / "images.h5"

        out.write(f"1. sample folder: {images}\n")
        good = make_sample_folder(images)
        out.write(f"   {len(good)} PNG images in {len(CLASSES)} class folders, 1 corrupt file\n\n")

        out.write(
            f"2. ndbridge pack {images} {packed} --labels dirs --compression gzip --on-error skip\n"
        )
        summary = pack(
            images,
            packed,
            labels="dirs",
            compression="gzip",
            on_error="skip",
            force=True,
            progress=False,
        )
        out.write(
            f"   packed {summary.images} images, skipped {summary.skipped} "
            f"({summary.skipped_files[0]['path']}: {summary.skipped_files[0]['reason']})\n\n"
        )

        out.write(f"3. ndbridge ls {packed}\n")
        out.write("".join(f"   {line}\n" for line in format_listing(describe(packed)).splitlines()))
        out.write("\n")

        out.write(f"4. ndbridge verify {packed}\n")
        report = verify(packed)
        out.write("".join(f"   {line}\n" for line in format_report(report).splitlines()))
        out.write("\n")

        out.write("5. a batch read back by the C++ library, against the source files\n")
        with cpp.H5File(packed) as f:
            batch = f.read("images", rows=(4, 12))
            labels = f.read("labels", rows=(4, 12))
        expected = np.stack([iio.imread(p) for p in good[4:12]])
        batch_ok = np.array_equal(batch, expected)
        out.write(
            f"   rows 4..12: shape {batch.shape}, labels {labels.tolist()}, "
            f"{'identical to the PNG files' if batch_ok else 'DIFFERENT from the PNG files'}\n\n"
        )

        out.write("6. sample arrays written by numpy, read by the C++ library\n")
        arrays_ok = _round_trip_samples(folder, out)

        ok = report.identical and batch_ok and arrays_ok and summary.images == len(good)
        out.write(
            "\nall checks passed: C++ reads exactly what Python wrote\n"
            if ok
            else "\nSOME CHECKS FAILED\n"
        )
        return ok
