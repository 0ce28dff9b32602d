"""What examples/inference computes, with numpy and h5py only.

    python reference.py FILE [--dataset images] [--batch 32] [--mean ... --std ...]

prints the same lines as ``ndbridge-inference`` on stdout (the C++ program
documents the checksums at the top of main.cpp), so the two can be diffed.
"""

from __future__ import annotations

import argparse
import sys

import h5py
import numpy as np


def floats(text: str) -> np.ndarray:
    """Comma-separated numbers as float32 (via Python float, as the C++ side parses)."""
    return np.array([float(item) for item in text.split(",")], dtype=np.float32)


def to_chw(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """uint8 (n, H, W[, C]) -> float32 (n, C, H, W), (x / 255 - mean[c]) / std[c] in float32."""
    if images.ndim == 3:
        images = images[..., None]
    x = images.astype(np.float32).transpose(0, 3, 1, 2)
    y = (x / np.float32(255) - mean[None, :, None, None]) / std[None, :, None, None]
    return np.ascontiguousarray(y, dtype=np.float32)


def checksum(y: np.ndarray) -> tuple[float, int]:
    """Sequential float64 sum (np.add.accumulate adds in order) and the weighted bit hash."""
    flat = y.ravel()
    total = float(np.add.accumulate(flat.astype(np.float64))[-1]) if flat.size else 0.0
    bits = flat.view(np.uint32).astype(np.uint64)
    weights = np.arange(flat.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    return total, int((bits * weights).sum(dtype=np.uint64))


def main(argv: list[str] | None = None) -> int:
    """Print the checksum lines for FILE; 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--dataset", default="images")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--mean", type=floats)
    parser.add_argument("--std", type=floats)
    args = parser.parse_args(argv)
    with h5py.File(args.file, "r") as f:
        images = f[args.dataset]
        count, height, width = images.shape[:3]
        channels = images.shape[3] if images.ndim == 4 else 1
        mean = args.mean if args.mean is not None else np.zeros(channels, np.float32)
        std = args.std if args.std is not None else np.ones(channels, np.float32)
        labels = f.get("labels")
        print(f"{args.dataset}: {count} images of {height}x{width}x{channels}, batch {args.batch}")
        total_sum, total_hash, label_total = 0.0, 0, 0
        for b, start in enumerate(range(0, count, args.batch)):
            stop = min(count, start + args.batch)
            s, h = checksum(to_chw(images[start:stop], mean, std))
            total_sum += s
            total_hash = (total_hash + h) % 2**64
            line = f"batch {b} rows {start}:{stop} sum={s:.6f} hash={h:016x}"
            if labels is not None:
                batch_labels = int(labels[start:stop].sum())
                label_total += batch_labels
                line += f" labels={batch_labels}"
            print(line)
        line = f"total images={count} sum={total_sum:.6f} hash={total_hash:016x}"
        if labels is not None:
            line += f" labels={label_total}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
