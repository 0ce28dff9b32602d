"""Turning one source file into one sample; runs in the decoding threads.

Each file is opened, read whole and closed before it is decoded, so a thread
never holds more than one file open, whatever the size of the tree.

What happens to pixels, in order (each recorded in the output's provenance):

1. the first frame is decoded (``Sample.frames`` says how many the file has);
   JPEGs that ``--resize`` shrinks to half or less are decoded at a reduced
   scale (Pillow's ``draft``: DCT-domain scaling, a fraction of the work);
2. EXIF orientation is applied (``orientation="raw"`` keeps the stored one);
3. ``mode`` converts channels (Pillow's conversions for 8-bit images; for
   16-bit ones, which Pillow would cut to 8 bits or saturate, the same
   conversions between L, LA, RGB and RGBA are done at full depth);
4. ``resize`` scales to HEIGHTxWIDTH: ``border`` (the default) fits the
   whole image inside and pads with black, ``center-crop`` fills the size
   and cuts the overflow evenly, ``stretch`` ignores the aspect ratio; the
   filter is bicubic, antialiased when shrinking;
5. ``dtype`` converts values: between unsigned integer depths by scaling the
   full range (uint16 -> uint8 is v/257 rounded), otherwise numpy's
   value-preserving casts (byte order, float64 -> float32, uint8 -> float32).

16-bit images stay uint16. Pillow decodes 16-bit colour PNGs and TIFFs to 8
bits, so those are decoded by imagecodecs instead.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: ``resize_mode`` values, the default first.
RESIZE_MODES = ("border", "center-crop", "stretch")
#: ``orientation`` values, the default first.
ORIENTATIONS = ("exif", "raw")
#: Pillow modes whose pixels are 8 bits per channel (or 1 bit).
_EIGHT_BIT_MODES = frozenset(
    {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
)
#: Channel layouts the full-depth conversion knows, by channel count.
_LAYOUTS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
#: numpy's rotations and flips for EXIF orientations 2-8.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


@dataclass(frozen=True)
class DecodeSettings:
    """What every decoding thread needs to know."""

    root: str
    kind: str  # "images" or "npy"
    store: str  # "decoded" or "encoded"
    resize: tuple[int, int] | None = None  # (height, width)
    resize_mode: str = RESIZE_MODES[0]
    mode: str | None = None  # Pillow mode such as "RGB", or None to keep the file's
    dtype: str | None = None  # numpy dtype to convert values to, or None to keep
    orientation: str = ORIENTATIONS[0]
    gzip_level: int | None = None  # compress each decoded sample as one chunk


@dataclass
class Sample:
    """A decoded (or failed) source file."""

    relpath: str
    label: int
    array: np.ndarray | None = None  # decoded, as stored (H, W, C) for images
    chunk: bytes | None = None  # the sample compressed as one HDF5 chunk
    encoded: bytes | None = None  # the original file bytes (--store encoded)
    error: str | None = None
    errno: int | None = None  # set when the file could not be read at all
    size: int = -1  # bytes of the source file (-1: it could not be read)
    mtime_ns: int = -1
    frames: int = 1  # frames (pages) in the file; the first is packed
    oriented: bool = False  # an EXIF orientation was applied
    layout: str | None = None  # channels as decoded, before any conversion ("L", "RGB", ...)
    bits: int = 0  # bits per channel as decoded, before any conversion


def decode_batch(
    settings: DecodeSettings,
    batch: list[tuple[str, int]],
    stop: threading.Event | None = None,
) -> list[Sample]:
    """Decode every file of ``batch``; failures are returned, never raised.

    Stops early, returning what it has, once ``stop`` is set.
    """
    samples = []
    for relpath, label in batch:
        if stop is not None and stop.is_set():
            break
        samples.append(decode_one(settings, relpath, label))
    return samples


def decode_one(settings: DecodeSettings, relpath: str, label: int) -> Sample:
    """Read and decode one file."""
    sample = Sample(relpath, label)
    try:
        with open(Path(settings.root) / relpath, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except OSError as exc:
        sample.error = f"cannot read: {exc.strerror or exc}"
        sample.errno = exc.errno or 0
        return sample
    sample.size, sample.mtime_ns = st.st_size, st.st_mtime_ns
    return decode_data(settings, data, sample)


def decode_data(settings: DecodeSettings, data: bytes, sample: Sample) -> Sample:
    """Decode the bytes of ``sample``'s file into it (failures recorded, never raised)."""
    relpath = sample.relpath
    try:
        # A decoder's warnings (imageio's deprecation notices while it looks
        # for a plugin) are not the file's problem; under a caller's
        # "warnings as errors" they would become the recorded skip reason,
        # making the output depend on the process that decodes.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if settings.kind == "npy":
                array = np.load(io.BytesIO(data), allow_pickle=False)
                sample.bits = array.dtype.itemsize * 8
            else:
                array = _decode_image(data, relpath, settings, sample)
            if settings.dtype is not None:
                array = convert_dtype(array, np.dtype(settings.dtype), settings.kind == "images")
    except Exception as exc:  # any decoder failure is this file's problem, reported as such
        sample.error = f"cannot decode: {_describe(exc)}"
        return sample
    if settings.store == "encoded":
        sample.encoded = data
    sample.array = np.ascontiguousarray(array)
    if settings.gzip_level is not None and settings.store == "decoded":
        # HDF5's gzip filter is a zlib stream: compressing here, in the
        # decoding threads (zlib lets go of the GIL), lets the writer store
        # finished chunks.
        sample.chunk = zlib.compress(sample.array.data, settings.gzip_level)
    return sample


def convert_dtype(array: np.ndarray, target: np.dtype, scale_depth: bool) -> np.ndarray:
    """``array`` as ``target``; see the module docstring for the rules."""
    source = array.dtype
    if source == target:
        return array
    if scale_depth and source.kind == "u" and target.kind == "u":
        top, new_top = np.iinfo(source).max, np.iinfo(target).max
        wide = array.astype(np.uint64)
        return ((wide * new_top + top // 2) // top).astype(target)
    if not np.can_cast(source, target, casting="same_kind"):
        raise TypeError(f"--dtype {target.name}: converting {source.str} values would change them")
    return array.astype(target)


def _describe(exc: Exception) -> str:
    text = str(exc)
    # imageio's words for "no plugin recognised the bytes".
    if "Could not find a backend" in text:
        return "not a readable image (neither Pillow nor imageio recognises its content)"
    if isinstance(exc, TypeError) and text.startswith("--dtype"):
        return text
    return f"{type(exc).__name__}: {text}"


# -- images -----------------------------------------------------------------------


def _decode_image(
    data: bytes, relpath: str, settings: DecodeSettings, sample: Sample
) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        image = None
    if image is None:
        array = _with_imageio(data, relpath)
        sample.layout, sample.bits = _layout_of(array), array.dtype.itemsize * 8
        array = _full_depth_mode(array, settings.mode)
    else:
        with image:
            array = _with_pillow(image, data, settings, sample)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3:
        raise ValueError(f"decoded to {array.ndim} dimensions {array.shape}, not an image")
    if settings.resize is not None:
        array = _resize_array(array, settings)
    return array


def _with_imageio(data: bytes, relpath: str) -> np.ndarray:
    """The first frame of a format Pillow does not recognise, through imageio's other plugins."""
    import imageio.v3 as iio

    array = iio.imread(data, index=0, extension=Path(relpath).suffix.lower())
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def _layout_of(array: np.ndarray) -> str:
    channels = array.shape[2] if array.ndim == 3 else 1
    return _LAYOUTS.get(channels, f"{channels} channels")


def _with_pillow(image: Any, data: bytes, settings: DecodeSettings, sample: Sample) -> np.ndarray:
    rawmode = _rawmode(image)  # first: reading EXIF may load the pixels, which forgets it
    sample.frames = getattr(image, "n_frames", 1)
    orientation = _orientation(image) if settings.orientation == "exif" else 1
    sample.oriented = orientation != 1
    if image.mode in _EIGHT_BIT_MODES and ";16" not in rawmode:
        sample.layout, sample.bits = image.mode, 1 if image.mode == "1" else 8
        if settings.resize is not None and image.format == "JPEG":
            _draft(image, settings, orientation)
        if orientation != 1:
            from PIL import ImageOps

            image = ImageOps.exif_transpose(image)
        if settings.mode is not None:
            image = image.convert(settings.mode)
        elif image.mode == "P":
            # Palette images come out as colours, as from imageio.
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        return np.asarray(image)
    if image.mode in _EIGHT_BIT_MODES:
        # 16 bits per channel colour, which Pillow reads as 8: imagecodecs
        # decodes PNG and TIFF at full depth.
        import imagecodecs

        array = imagecodecs.imread(data)
    else:  # I;16 and friends, I, F: Pillow keeps their depth
        array = np.asarray(image)
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    sample.layout, sample.bits = _layout_of(array), array.dtype.itemsize * 8
    if orientation != 1:
        array = _ORIENT[orientation](array)
    return _full_depth_mode(array, settings.mode)


def _rawmode(image: Any) -> str:
    """How the file stores pixels, as Pillow's decoder names it ("RGB;16B")."""
    tile = getattr(image, "tile", None)
    if not tile:
        return ""
    args = tile[0][3]
    return args if isinstance(args, str) else str(args[0]) if args else ""


def _orientation(image: Any) -> int:
    try:
        value = int(image.getexif().get(0x0112, 1))
    except Exception:  # an unreadable EXIF block is not a reason to refuse the pixels
        return 1
    return value if value in _ORIENT else 1


def _full_depth_mode(array: np.ndarray, mode: str | None) -> np.ndarray:
    """Pillow's channel conversions between L, LA, RGB and RGBA, at any depth."""
    if mode is None:
        return array
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    have = _LAYOUTS.get(array.shape[2])
    if have is None or mode not in _LAYOUTS.values():
        raise ValueError(
            f"--mode {mode}: a {array.dtype.itemsize * 8}-bit image converts only between "
            f"L, LA, RGB and RGBA; add --dtype uint8 for Pillow's other modes"
        )
    if have == mode:
        return array
    colour = array[:, :, :3] if have in ("RGB", "RGBA") else None
    alpha = array[:, :, -1:] if have in ("LA", "RGBA") else None
    gray = array[:, :, :1] if colour is None else None
    if mode in ("L", "LA") and gray is None:
        assert colour is not None
        # ITU-R 601-2 luma, as Pillow converts RGB to L.
        weights = np.array([299, 587, 114], dtype=np.float64) / 1000
        luma = np.rint(colour.astype(np.float64) @ weights)[:, :, np.newaxis]
        gray = luma.astype(array.dtype) if array.dtype.kind != "f" else luma
    if mode in ("RGB", "RGBA") and colour is None:
        assert gray is not None
        colour = np.repeat(gray, 3, axis=2)
    if mode in ("LA", "RGBA") and alpha is None:
        top = np.iinfo(array.dtype).max if array.dtype.kind in "ui" else 1.0
        alpha = np.full((*array.shape[:2], 1), top, dtype=array.dtype)
    base = gray if mode in ("L", "LA") else colour
    parts = [base, alpha] if mode in ("LA", "RGBA") else [base]
    return np.concatenate(parts, axis=2).astype(array.dtype, copy=False)


# -- resizing ---------------------------------------------------------------------


def scaled_size(height: int, width: int, settings: DecodeSettings) -> tuple[int, int]:
    """(height, width) an image is scaled to before ``resize_mode`` crops or pads it."""
    assert settings.resize is not None
    want_h, want_w = settings.resize
    if settings.resize_mode == "stretch":
        return want_h, want_w
    pick = min if settings.resize_mode == "border" else max
    scale = pick(want_h / height, want_w / width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _draft(image: Any, settings: DecodeSettings, orientation: int) -> None:
    """Let the JPEG decoder scale down by 2, 4 or 8 where that stays above the target."""
    width, height = image.size
    if orientation >= 5:  # stored rotated by a quarter turn
        height, width = width, height
    h, w = scaled_size(height, width, settings)
    if orientation >= 5:
        h, w = w, h
    if 2 * w <= image.size[0] and 2 * h <= image.size[1]:
        image.draft(image.mode, (w, h))


def _resize_array(array: np.ndarray, settings: DecodeSettings) -> np.ndarray:
    from PIL import Image

    assert settings.resize is not None
    height, width = array.shape[:2]
    h, w = scaled_size(height, width, settings)
    if (h, w) != (height, width):
        bicubic = Image.Resampling.BICUBIC
        if array.dtype == np.uint8 and array.shape[2] in (1, 3, 4):
            image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
            resized = np.asarray(image.resize((w, h), bicubic))
            array = resized.reshape(h, w, array.shape[2])
        else:
            # Any other depth, one channel at a time as 32-bit floats.
            planes = [
                np.asarray(
                    Image.fromarray(array[:, :, c].astype(np.float32), "F").resize((w, h), bicubic)
                )
                for c in range(array.shape[2])
            ]
            resized = np.stack(planes, axis=2)
            if array.dtype.kind in "ui":
                info = np.iinfo(array.dtype)
                resized = np.clip(np.rint(resized), info.min, info.max)
            array = resized.astype(array.dtype)
    want_h, want_w = settings.resize
    if (h, w) == (want_h, want_w):
        return array
    if settings.resize_mode == "center-crop":
        top, left = (h - want_h) // 2, (w - want_w) // 2
        return array[top : top + want_h, left : left + want_w]
    canvas = np.zeros((want_h, want_w, array.shape[2]), dtype=array.dtype)
    top, left = (want_h - h) // 2, (want_w - w) // 2
    canvas[top : top + h, left : left + w] = array
    return canvas
