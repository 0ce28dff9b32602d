"""Seed corpora for the fuzz targets, generated with numpy, zipfile and h5py.

    python3 fuzz/make_corpus.py OUTDIR     # writes OUTDIR/npy, OUTDIR/npz, OUTDIR/h5
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ARRAYS = {
    "f4": np.arange(12, dtype="<f4").reshape(3, 4),
    "be": np.arange(6, dtype=">i8"),
    "fortran": np.asfortranarray(np.arange(6, dtype="<u2").reshape(2, 3)),
    "bool": np.array([True, False, True]),
    "c16": np.array([1 + 2j, 3 - 4j]),
    "f2": np.array([0.5, 1.5], dtype="<f2"),
    "text": np.array(["ab", "cde"]),
    "bytes": np.array([b"x", b"yz"]),
    "scalar": np.array(3.5),
    "empty": np.zeros((0, 3), dtype="<i4"),
    "u1": np.arange(64, dtype=np.uint8).reshape(4, 4, 4),
}


def main() -> None:
    out = Path(sys.argv[1])
    for kind in ("npy", "npz", "h5"):
        (out / kind).mkdir(parents=True, exist_ok=True)
    for name, a in ARRAYS.items():
        np.save(out / "npy" / f"{name}.npy", a)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, ARRAYS["f4"], version=(2, 0))
    (out / "npy" / "v2.npy").write_bytes(buf.getvalue())
    np.savez(out / "npz" / "stored.npz", **ARRAYS)
    np.savez_compressed(out / "npz" / "deflated.npz", **ARRAYS)
    np.savez(out / "npz" / "empty.npz")
    with zipfile.ZipFile(out / "npz" / "small.zip", "w") as zf:
        zf.writestr("a.npy", (out / "npy" / "u1.npy").read_bytes())

    import h5py

    with h5py.File(out / "h5" / "plain.h5", "w", libver="earliest") as f:
        for name, a in ARRAYS.items():
            if a.dtype.kind == "U":
                f.create_dataset(name, data=a.astype(object), dtype=h5py.string_dtype())
            else:
                f.create_dataset(name, data=a)
        f.attrs["title"] = "seed"
        f["f4"].attrs["scale"] = [1.0, 2.0]
    with h5py.File(out / "h5" / "filters.h5", "w", libver="earliest") as f:
        data = np.tile(np.arange(16, dtype="<f4"), 16).reshape(16, 16)
        f.create_dataset("gzip", data=data, chunks=(4, 16), compression="gzip", shuffle=True)
        f.create_dataset("lzf", data=data, chunks=(4, 16), compression="lzf")
        f.create_dataset("fletcher", data=data, chunks=(8, 16), fletcher32=True)
        f.create_dataset("grp/nested", data=np.arange(4))


if __name__ == "__main__":
    main()
