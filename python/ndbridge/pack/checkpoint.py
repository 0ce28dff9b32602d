"""The progress record of a partial output: ``OUT.partial.state.json``.

Each writer saves it only once everything it describes has been handed to
the operating system (for .h5: after HDF5 closed the file, its metadata
flushed), by writing a new file and renaming it over the old one. A run
killed at any moment, even while HDF5 flushes, leaves the previous record
or the next, each describing data that is in the partial output; ``--resume``
continues from it and drops what was written after it.

Every record holds ``consumed`` (source files handled), ``last`` (the last
of them, as stored), ``digest`` (of their names, sizes and modification
times), ``written`` and ``skipped`` (rows of samples and of skipped files),
``report`` (what happened to pixels so far), and what the run was started
with: ``options``, ``source_root``, ``classes``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._errors import UsageError

#: Options that do not change a byte of the output: a resumed run may differ in them.
VOLATILE = ("workers",)


class Checkpoint:
    """``OUT.partial.state.json``, read and replaced whole."""

    def __init__(self, out: Path) -> None:
        self.partial = out.with_name(out.name + ".partial")
        self.path = out.with_name(out.name + ".partial.state.json")
        self._tmp = self.path.with_name(self.path.name + ".tmp")

    def load(self) -> dict[str, Any] | None:
        """The last record saved, or None when there is none (or it does not parse)."""
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def save(self, state: dict[str, Any]) -> None:
        """Replace the record with ``state``."""
        self._tmp.write_text(json.dumps(state))
        os.replace(self._tmp, self.path)

    def remove(self) -> None:
        """Delete the record (first, when a partial output goes: nothing left to
        resume), and the next one if a run stopped while writing it."""
        self.path.unlink(missing_ok=True)
        self._tmp.unlink(missing_ok=True)

    def check(
        self, state: dict[str, Any], options: dict[str, Any], root: str, classes: list[str]
    ) -> None:
        """Refuse to resume ``state`` with other options, another source or other classes."""
        stored = {k: v for k, v in state.get("options", {}).items() if k not in VOLATILE}
        mine = {k: v for k, v in options.items() if k not in VOLATILE}
        if stored != mine or state.get("source_root") != root:
            raise UsageError(
                f"cannot resume from '{self.partial}': it was started with other options or "
                f"another source ({stored}); run without --resume to start over"
            )
        if state.get("classes") != classes:
            raise UsageError(f"cannot resume from '{self.partial}': the class folders changed")
