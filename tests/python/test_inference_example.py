"""examples/inference against examples/inference/reference.py: the same checksums.

The C++ program is built against an installed ndbridge (see _cpp_build) and
reads a file that ``ndbridge.pack`` wrote; numpy and h5py compute the same
batches. Every line of stdout must match.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cpp_build import ROOT, cmake_build, installed_prefix

EXAMPLE = ROOT / "examples" / "inference"
RGB_NORMALIZE = ["--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example program, built against an installed ndbridge."""
    work = tmp_path_factory.mktemp("inference")
    prefix = installed_prefix(work)
    cmake_build(EXAMPLE, work / "build", f"-DCMAKE_PREFIX_PATH={prefix}")
    return work / "build" / "ndbridge-inference"


def _packed(tmp_path: Path, shape: tuple[int, ...], count: int, labels: bool) -> Path:
    import imageio.v3 as iio

    from ndbridge import pack

    rng = np.random.default_rng(count)
    for i in range(count):
        folder = tmp_path / "src" / (f"class{i % 3}" if labels else "")
        folder.mkdir(parents=True, exist_ok=True)
        iio.imwrite(folder / f"{i:03d}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    out = tmp_path / "packed.h5"
    pack(tmp_path / "src", out, labels="dirs" if labels else "none", compression="gzip",
         workers=1, progress=False)  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("shape", "count", "labels", "options"),
    [
        ((24, 20, 3), 37, True, ["--batch", "8", *RGB_NORMALIZE]),
        ((9, 7), 5, False, ["--batch", "2"]),
    ],
    ids=["rgb-labels-normalized", "gray"],
)
def test_cpp_and_numpy_print_the_same_checksums(
    inference: Path,
    tmp_path: Path,
    shape: tuple[int, ...],
    count: int,
    labels: bool,
    options: list[str],
) -> None:
    packed = _packed(tmp_path, shape, count, labels)
    cpp = subprocess.run([inference, packed, *options], capture_output=True, text=True, check=True)
    python = subprocess.run(
        [sys.executable, EXAMPLE / "reference.py", packed, *options],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert cpp.stdout == python.stdout
    lines = cpp.stdout.splitlines()
    batches = -(-count // int(options[1]))
    assert len([line for line in lines if line.startswith("batch ")]) == batches
    assert lines[-1].startswith(f"total images={count} ")
    assert ("labels=" in lines[-1]) == labels
    assert cpp.stderr.startswith("throughput: ")
