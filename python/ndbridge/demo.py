"""``ndbridge demo``: arrays written by numpy, read back by the C++ library."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TextIO

import numpy as np

from . import cpp

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


def run_demo(out: TextIO, workdir: Path | None = None) -> bool:
    """Write each sample with numpy, read it with C++, compare; True if all agree."""
    with tempfile.TemporaryDirectory(prefix="ndbridge-demo-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        out.write(f"{'array':<26} {'dtype':<6} {'shape':<11} {'order':<6} C++ read\n")
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
                f"{name:<26} {back.dtype.str:<6} {back.shape!s:<11} {order:<6} "
                f"{'identical' if same else 'DIFFERENT'}\n"
            )
        out.write("all arrays read identically\n" if all_same else "some arrays differ\n")
        return all_same
