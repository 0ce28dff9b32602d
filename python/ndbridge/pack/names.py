"""File names as the packed file stores them: readable text that gives the bytes back.

Linux file names are bytes; most are UTF-8 and are stored as they are. When
any name of a pack is not UTF-8, every name of that pack is stored escaped:
each byte that is not part of valid UTF-8 as ``\\xNN`` and each backslash
as ``\\\\``, so the text stays readable and :func:`name_bytes` gives the
exact bytes back. The output records which of the two it holds
(``names: "utf-8"`` or ``"escaped"`` in its provenance).
"""

from __future__ import annotations

import os
import re

UTF8 = "utf-8"
ESCAPED = "escaped"

_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")


def is_utf8(name: str) -> bool:
    """Whether ``name`` (a str as ``os`` returns it) is valid UTF-8 on disk.

    Python decodes file names with ``surrogateescape``: bytes that are not
    UTF-8 arrive as lone surrogates, which no valid name holds.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def stored(name: str, encoding: str) -> str:
    """``name`` as the output stores it under ``encoding`` (UTF8 or ESCAPED)."""
    if encoding == UTF8:
        return name
    return os.fsencode(name).replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def name_bytes(text: str, encoding: str = ESCAPED) -> bytes:
    """The file name's bytes from its stored text (the inverse of :func:`stored`)."""
    if encoding == UTF8:
        return text.encode("utf-8")

    def unescape(match: re.Match[str]) -> str:
        code = match.group(1)
        return "\\" if code == "\\" else chr(0xDC00 + int(code[1:], 16))

    # Escaped bytes become surrogates, which fsencode turns back into bytes.
    return os.fsencode(_ESCAPE.sub(unescape, text))
