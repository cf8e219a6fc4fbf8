"""A time budget for synchronous work: :func:`time_budget` stops a block that runs too long.

The stages' work is CPU-bound Python (and spaCy's Cython) run inside the asyncio worker
process, so nothing can pre-empt it from another task or thread. A real-time interval
timer (``setitimer(ITIMER_REAL)``) sends the process SIGALRM when the budget is spent;
the handler raises :class:`BudgetExceeded` in the main thread, which unwinds the work
like any other exception. Python runs signal handlers between bytecodes, so a long C
call delays the exception until it returns; spaCy returns to Python between layers and
documents, often enough for budgets of a second and more. Should the exception be
swallowed by the work, the timer fires again every :data:`REFIRE_S` until the block ends.

Signals reach only the main thread: elsewhere (or with no budget) the block runs
unbounded. A handler and timer set before the block (an outer budget) are restored on
the way out, the outer timer with what is left of it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

__all__ = ["REFIRE_S", "BudgetExceeded", "time_budget"]

#: Once the budget is spent, the alarm repeats this often until the block has unwound.
REFIRE_S = 0.5


class BudgetExceeded(Exception):
    """The work took longer than its budget. ``str()`` is the reason for a dead letter."""

    def __init__(self, budget_s: float) -> None:
        super().__init__(f"took more than {budget_s:g} s")
        self.budget_s = budget_s


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_budget(budget_s: float | None) -> Iterator[None]:
    """Raise :class:`BudgetExceeded` inside the block once it has run ``budget_s`` seconds.

    ``None`` (or a block outside the main thread) sets no limit.
    """
    if budget_s is None or not _can_alarm():
        yield
        return

    started = time.monotonic()
    previous_delay, previous_interval = signal.getitimer(signal.ITIMER_REAL)
    # An outer timer due before this budget ends keeps its turn: it fires first.
    outer_first = 0 < previous_delay < budget_s
    outer_due = outer_first
    mine: list[BudgetExceeded] = []

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        nonlocal outer_due
        if outer_due:
            outer_due = False
            left = started + budget_s - time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), REFIRE_S)
            if callable(previous_handler):
                previous_handler(signum, frame)
            return
        mine.append(BudgetExceeded(budget_s))
        raise mine[-1]

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    first = previous_delay if outer_first else budget_s
    signal.setitimer(signal.ITIMER_REAL, max(first, 1e-6), REFIRE_S)
    try:
        yield
    finally:
        while True:
            # The alarm may fire on the way out, until the timer is off: the block is
            # done by then, so that late alarm is dropped and the cleanup starts again.
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_handler)
                break
            except BudgetExceeded as late:
                if not any(late is exc for exc in mine):
                    raise  # an outer budget's: that one still stops its work
                continue
        if previous_delay > 0 and (outer_due or not outer_first):
            left = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), previous_interval)
        elif outer_first and previous_interval > 0:
            signal.setitimer(signal.ITIMER_REAL, previous_interval, previous_interval)
