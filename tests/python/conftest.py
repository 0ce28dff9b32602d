"""Shared fixtures: a builder for raw, hand-assembled .npy files, and the
``slow`` marker's switch (NDBRIDGE_SLOW_TESTS=1).

Every file a test reads is generated here at test time from its parts (magic,
version, header text, data), never checked in as a binary.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

MAGIC = b"\x93NUMPY"
ARRAY_ALIGN = 64


def npy_bytes(
    header: str | bytes,
    data: bytes = b"",
    *,
    version: tuple[int, int] = (1, 0),
    magic: bytes = MAGIC,
    header_len: int | None = None,
    align: bool = True,
) -> bytes:
    """Assemble an .npy file: magic, version, header length, header, data.

    A ``str`` header is encoded as the format says (latin-1 for versions 1.x and
    2.x, UTF-8 for 3.x) and, with ``align``, padded with spaces and a final
    newline exactly as numpy does, so the data starts at a multiple of 64.
    Without ``align`` only the newline is added. A ``bytes`` header is used
    verbatim. ``header_len`` overrides the length field, to make it lie.
    """
    major, minor = version
    length_format = "<H" if major < 2 else "<I"
    prefix_len = len(magic) + 2 + struct.calcsize(length_format)
    if isinstance(header, str):
        encoded = header.encode("utf-8" if major >= 3 else "latin-1")
        if align:
            pad = ARRAY_ALIGN - (prefix_len + len(encoded) + 1) % ARRAY_ALIGN
            encoded += b" " * pad
        encoded += b"\n"
    else:
        encoded = header
    length = len(encoded) if header_len is None else header_len
    preamble = magic + bytes([major, minor]) + struct.pack(length_format, length)
    return preamble + encoded + data


RawNpy = Callable[..., Path]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run only when NDBRIDGE_SLOW_TESTS=1 is set."""
    if os.environ.get("NDBRIDGE_SLOW_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="slow; set NDBRIDGE_SLOW_TESTS=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def raw_npy(tmp_path: Path) -> RawNpy:
    """A factory writing a file under ``tmp_path`` and returning its path.

    Call it with the arguments of :func:`npy_bytes`, or with ``raw=<bytes>``
    for content that is not an .npy file at all; ``name`` picks the file name.
    """

    def make(
        header: str | bytes = "",
        data: bytes = b"",
        *,
        raw: bytes | None = None,
        name: str = "raw.npy",
        **kwargs: Any,
    ) -> Path:
        path = tmp_path / name
        content = npy_bytes(header, data, **kwargs) if raw is None else raw
        path.write_bytes(content)
        return path

    return make
