"""What goes into a pack is what comes out: pixels, depths and dtypes, or a clear refusal.

Every file is made here: 16-bit PNGs (written byte by byte, as no common
writer makes 16-bit colour ones), CMYK and EXIF-rotated JPEGs, palette PNGs
with transparency, animated GIFs and multi-page TIFFs.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

import ndbridge
from ndbridge.__main__ import main


def png16(path: Path, pixels: np.ndarray) -> None:
    """A 16-bit PNG: grayscale (H, W), gray+alpha (H, W, 2), RGB or RGBA."""
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[1 if pixels.ndim == 2 else pixels.shape[2]]
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).astype(">u2")
    raw = b"".join(b"\0" + row.tobytes() for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def save(path: Path, image: Image.Image, **kwargs: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)


def rgb(seed: int, size: tuple[int, int] = (12, 16)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def images(out: Path) -> np.ndarray:
    with h5py.File(out, "r") as f:
        return f["images"][()]


def attrs(out: Path) -> dict[str, object]:
    with h5py.File(out, "r") as f:
        return {k: v for k, v in f.attrs.items()}


# -- dtypes and depths across batches ------------------------------------------------


def test_a_float64_file_among_float32_is_refused_whatever_its_batch(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(200):  # the odd file lands far from the first, in a later batch
        np.save(src / f"{i:03d}.npy", np.arange(i, i + 4, dtype="<f4"))
    np.save(src / "150.npy", np.arange(100, 104, dtype="<f8"))
    out = tmp_path / "o.h5"
    with pytest.raises(ndbridge.MismatchError) as info:
        ndbridge.pack(src, out, workers=2)
    message = str(info.value)
    assert "150.npy' is float64 (<f8)" in message and "000.npy' is float32 (<f4)" in message
    assert "--dtype float32" in message
    assert not list(tmp_path.glob("o.h5*"))
    ndbridge.pack(src, out, workers=2, dtype="float32")
    packed = images(out)
    assert packed.dtype == np.float32
    np.testing.assert_array_equal(packed[150], [100, 101, 102, 103])


def test_byte_orders_are_never_mixed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        np.save(src / f"{i}.npy", np.arange(i, i + 3, dtype="<f4"))
    np.save(src / "3.npy", np.arange(7, 10, dtype=">f4"))
    for fmt in ("h5", "npy", "npz"):
        with pytest.raises(ndbridge.MismatchError, match=r"byte order; use --dtype '<f4'"):
            ndbridge.pack(src, tmp_path / f"o.{fmt}", workers=1)
    out = tmp_path / "o.npy"
    ndbridge.pack(src, out, dtype="<f4", workers=1)
    np.testing.assert_array_equal(np.load(out)[3], [7, 8, 9])


def test_a_16_bit_png_among_8_bit_ones(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(4):
        save(src / f"{i}.png", Image.fromarray(rgb(i)))
    deep = (np.arange(12 * 16 * 3).reshape(12, 16, 3) * 97 % 65536).astype(np.uint16)
    png16(src / "2.png", deep)
    with pytest.raises(ndbridge.MismatchError) as info:
        ndbridge.pack(src, tmp_path / "o.h5", workers=2)
    assert "uint16" in str(info.value) and "--dtype uint8" in str(info.value)
    out = tmp_path / "o.h5"
    ndbridge.pack(src, out, workers=2, dtype="uint8")
    expected = ((deep.astype(np.uint64) * 255 + 32767) // 65535).astype(np.uint8)
    np.testing.assert_array_equal(images(out)[2], expected)
    deeper = tmp_path / "deep.h5"
    ndbridge.pack(src, deeper, workers=2, dtype="uint16")
    np.testing.assert_array_equal(images(deeper)[2], deep)  # 16 bits kept exactly
    np.testing.assert_array_equal(images(deeper)[0], rgb(0).astype(np.uint16) * 257)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16_bit_pngs_keep_their_depth(tmp_path: Path, channels: int) -> None:
    shape = (6, 7) if channels == 1 else (6, 7, channels)
    pixels = np.random.default_rng(channels).integers(0, 65536, shape, dtype=np.uint16)
    png16(tmp_path / "src" / "a.png", pixels)
    out = tmp_path / "o.h5"
    summary = ndbridge.pack(tmp_path / "src", out, workers=1)
    assert summary.dtype == "<u2"
    np.testing.assert_array_equal(images(out)[0], pixels.reshape(6, 7, channels))


def test_16_bit_grayscale_converted_to_rgb_stays_16_bit(tmp_path: Path) -> None:
    gray = np.array([[0, 1000, 40000, 65535]], dtype=np.uint16)
    png16(tmp_path / "src" / "g.png", gray)
    out = tmp_path / "o.h5"
    ndbridge.pack(tmp_path / "src", out, mode="RGB", workers=1)
    np.testing.assert_array_equal(images(out)[0], np.repeat(gray[:, :, None], 3, axis=2))


# -- channels ------------------------------------------------------------------------


@pytest.mark.parametrize("odd", ["grayscale", "cmyk", "palette-with-transparency"])
def test_an_image_with_other_channels_points_to_mode(tmp_path: Path, odd: str) -> None:
    src = tmp_path / "src"
    for i in range(3):
        save(src / f"{i}.jpg", Image.fromarray(rgb(i)), quality=95)
    odd_image = {
        "grayscale": lambda: Image.fromarray(rgb(9)[:, :, 0]),
        "cmyk": lambda: Image.fromarray(rgb(9)).convert("CMYK"),
        "palette-with-transparency": lambda: Image.fromarray(rgb(9)).convert("P"),
    }[odd]()
    if odd == "palette-with-transparency":
        save(src / "1.png", odd_image, transparency=0)
        (src / "1.jpg").unlink()
    else:
        save(src / "1.jpg", odd_image, quality=95)
    with pytest.raises(ndbridge.MismatchError) as info:
        ndbridge.pack(src, tmp_path / "o.h5", workers=2)
    message = str(info.value)
    assert "--mode RGB" in message and "--resize" not in message, message
    summary = ndbridge.pack(src, tmp_path / "o.h5", workers=2, mode="RGB")
    assert summary.images == 3 and summary.shape == [12, 16, 3]


def test_a_mistyped_mode_is_refused_before_any_file_is_read(tmp_path: Path) -> None:
    src = tmp_path / "src"
    save(src / "a.png", Image.fromarray(rgb(0)))
    out = tmp_path / "o.h5"
    for mode in ("RBG", "rgb"):
        with pytest.raises(ndbridge.UsageError, match=f"not '{mode}'"):
            ndbridge.pack(src, out, mode=mode, on_error="skip")
    assert main(["pack", str(src), str(out), "--mode", "RBG", "--on-error", "skip"]) == 2
    assert not list(tmp_path.glob("o.h5*"))
    with pytest.raises(ndbridge.UsageError, match="--dtype"):
        ndbridge.pack(src, out, dtype="pixels")


def test_a_run_that_packs_nothing_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(b"not a png")
    (src / "b.jpg").write_bytes(b"nor a jpeg")
    out = tmp_path / "o.h5"
    assert main(["pack", str(src), str(out), "--on-error", "skip"]) == 1
    err = capsys.readouterr().err
    assert "could be packed: all 2 were skipped" in err and "a.png" in err
    assert not list(tmp_path.glob("o.h5*"))


# -- orientation, resizing, frames ---------------------------------------------------


def test_exif_orientation_is_applied_and_recorded(tmp_path: Path) -> None:
    src = tmp_path / "src"
    pixels = np.zeros((8, 20, 3), np.uint8)
    pixels[:, :4] = 255  # a white band on the left, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: display rotated 90 degrees clockwise
    save(src / "phone.png", Image.fromarray(pixels), exif=exif)
    out = tmp_path / "o.h5"
    summary = ndbridge.pack(src, out, workers=1)
    upright = images(out)[0]
    assert upright.shape == (20, 8, 3)
    assert upright[:4].min() == 255 and upright[4:].max() == 0  # the band is now on top
    assert summary.oriented == 1 and any("EXIF orientation" in n for n in summary.notes)
    assert json.loads(attrs(out)["pixels"])["oriented"] == 1
    raw = tmp_path / "raw.h5"
    ndbridge.pack(src, raw, workers=1, orientation="raw")
    np.testing.assert_array_equal(images(raw)[0], pixels)


@pytest.mark.parametrize("how", ["border", "center-crop", "stretch"])
def test_resize_modes(tmp_path: Path, how: str) -> None:
    src = tmp_path / "src"
    wide = np.full((40, 80, 3), 200, np.uint8)
    wide[:, :20] = 10  # the left quarter dark
    save(src / "wide.png", Image.fromarray(wide))
    out = tmp_path / "o.h5"
    ndbridge.pack(src, out, resize="20x20", resize_mode=how, workers=1)
    got = images(out)[0].astype(int)
    assert got.shape == (20, 20, 3)
    if how == "border":  # 10x20 of picture, black bands of 5 rows above and below
        assert got[:5].max() == 0 and got[-5:].max() == 0
        assert got[5:15, :4].mean() < 30 and got[5:15, 8:].mean() > 180
    elif how == "center-crop":  # the middle 40x40, scaled: the dark quarter is cut off
        assert got.min() > 150
    else:  # the whole picture squeezed: dark on the left quarter
        assert got[:, :4].mean() < 30 and got[:, 6:].mean() > 180
    options = json.loads(attrs(out)["options"])
    assert options["resize_mode"] == how and "bicubic" in options["resize_filter"]


def test_large_jpegs_are_decoded_at_reduced_scale(tmp_path: Path) -> None:
    # Decoded through Pillow's draft mode and then resized, the result stays
    # close to a full decode resized the same way.
    photo = np.asarray(Image.linear_gradient("L").resize((1600, 1200)).convert("RGB"))
    save(tmp_path / "src" / "big.jpg", Image.fromarray(photo), quality=90)
    out = tmp_path / "o.h5"
    ndbridge.pack(tmp_path / "src", out, resize="150x200", resize_mode="stretch", workers=1)
    full = np.asarray(Image.open(tmp_path / "src" / "big.jpg").resize((200, 150), Image.BICUBIC))
    assert np.abs(images(out)[0].astype(int) - full.astype(int)).max() <= 8


@pytest.mark.parametrize("kind", ["gif", "tif"])
def test_multi_frame_files_are_reported(tmp_path: Path, kind: str) -> None:
    frames = [Image.fromarray(rgb(i)) for i in range(3)]
    src = tmp_path / "src"
    save(src / f"anim.{kind}", frames[0], save_all=True, append_images=frames[1:])
    save(src / f"still.{kind}", frames[1])
    out = tmp_path / "o.h5"
    summary = ndbridge.pack(src, out, workers=1, mode="RGB")
    assert summary.multi_frame == 1
    assert any(f"anim.{kind}" in n and "only the first" in n for n in summary.notes)
    assert json.loads(attrs(out)["pixels"])["multi_frame"] == 1
    if kind == "tif":  # lossless: the first frame exactly
        np.testing.assert_array_equal(images(out)[0], rgb(0))
