"""SIGTERM and SIGHUP handled like Ctrl-C while a pack runs.

``kill``, ``timeout``, a batch scheduler's cancel and a closed terminal end
a pack the way Ctrl-C does: the partial file is checkpointed, one line says
what was kept, and the exception (:class:`Interrupted`, a
``KeyboardInterrupt``) carries the signal, so that the command exits with
128 + its number. Handlers are installed only from the main thread (Python
runs signal handlers there) and only over the default action: a caller's own
handlers stay as they are, and are back when the pack ends.

Python drops an exception raised in a ``__del__`` method or a weakref
callback (printing "Exception ignored in ..."), and a signal's exception is
raised in whatever code runs when it arrives, so the handlers also record the
signal: :func:`raise_pending` raises it again at the packer's next safe
point, and the dropped one is not printed.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

#: The signals a pack turns into :class:`Interrupted` (besides Ctrl-C's SIGINT).
SIGNALS = (signal.SIGTERM, signal.SIGHUP)

#: The signal that interrupted the pack running now, once one has.
_pending: int | None = None

#: Whether signals are held (:func:`signals_held`, :func:`completed`): handled, then dropped.
_holding = False

#: How many signals_interrupt blocks the main thread is in (the outermost one acts).
_depth = 0


class Interrupted(KeyboardInterrupt):
    """A pack stopped by a signal; ``signal`` is its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signal = signum


def _raise(signum: int, frame: FrameType | None) -> None:
    global _pending
    if _holding:
        return
    _pending = signum
    raise Interrupted(signum)


def raise_pending() -> None:
    """Raise :class:`Interrupted` if a signal came and its exception was dropped."""
    if _pending is not None:
        raise Interrupted(_pending)


def completed() -> None:
    """Say that the run's output is in place: Ctrl-C, SIGTERM and SIGHUP that
    come from now until the outermost signals_interrupt block ends are dropped.
    A run that has succeeded must not then report itself interrupted, with a
    --resume hint for a partial file that is gone. Outside such a block: nothing."""
    global _holding
    if _depth and threading.current_thread() is threading.main_thread():
        _holding = True


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block, Ctrl-C, SIGTERM and SIGHUP raise :class:`Interrupted`.

    Blocks nest: the command line's (around a pack and its summary) and the
    pack's own; the outermost installs the handlers and puts them back.
    """
    global _pending, _depth, _holding
    if threading.current_thread() is not threading.main_thread() or _depth:
        yield
        return
    replaced = {}
    for signum in SIGNALS:
        if signal.getsignal(signum) is signal.SIG_DFL:
            replaced[signum] = signal.signal(signum, _raise)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        replaced[signal.SIGINT] = signal.signal(signal.SIGINT, _raise)
    previous_hook = sys.unraisablehook

    def quiet_when_pending(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):
            previous_hook(unraisable)

    _pending = None
    sys.unraisablehook = quiet_when_pending
    _depth = 1
    try:
        yield
    finally:
        for signum, previous in replaced.items():
            signal.signal(signum, previous)
        sys.unraisablehook = previous_hook
        _pending = None
        _depth = 0
        _holding = False


def exit_status(exc: KeyboardInterrupt) -> int:
    """The shell's exit status for a run ended by ``exc``: 128 + the signal."""
    return 128 + (exc.signal if isinstance(exc, Interrupted) else signal.SIGINT)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Within the block, Ctrl-C, SIGTERM and SIGHUP wait; ones that came are dropped after.

    For the short clean-up after a first interrupt (a second Ctrl-C must not
    cut the checkpoint short) and the renames of a finished output. (SIGKILL
    still ends a clean-up that hangs.) Blocking the signals in this thread is
    not enough: the kernel hands them to any thread that does not block
    them (decoding threads, the write-back flusher), and Python then runs
    the handler here, so the handler also drops what comes while held.
    """
    global _holding
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, *SIGNALS}
    holding, _holding = _holding, True
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        while signal.sigtimedwait(held, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
        _holding = holding


def reported(exc: KeyboardInterrupt) -> None:
    """Mark ``exc`` as told to the user already (what was kept, how to go on):
    the command line then adds no line of its own."""
    exc.ndbridge_reported = True  # type: ignore[attr-defined]
