"""The per-article time budget: SIGALRM stops work that runs too long, and tidies up."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from shared.budget import BudgetExceeded, time_budget


def _spin(seconds: float) -> None:
    """Pure Python work for ``seconds`` (interruptible between bytecodes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


@pytest.fixture(autouse=True)
def _no_timer_left() -> Iterator[None]:
    yield
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL


def test_work_within_budget_runs_to_the_end() -> None:
    with time_budget(5.0):
        _spin(0.05)
        done = True
    assert done


def test_work_over_budget_is_stopped_soon_after_the_budget() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded) as caught, time_budget(0.2):
        _spin(10.0)
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 2.0
    assert str(caught.value) == "took more than 0.2 s"
    assert caught.value.budget_s == 0.2


def test_no_budget_sets_no_timer() -> None:
    with time_budget(None):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        _spin(0.05)


def test_work_that_swallows_the_first_alarm_is_stopped_by_the_next() -> None:
    swallowed = 0
    with pytest.raises(BudgetExceeded), time_budget(0.1):
        for _ in range(3):
            try:
                _spin(10.0)
            except Exception:
                swallowed += 1
                if swallowed > 1:
                    raise
    assert swallowed == 2


def test_previous_handler_and_timer_are_restored() -> None:
    fired: list[int] = []

    def outer(signum: int, _frame: FrameType | None) -> None:
        fired.append(signum)

    signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 0.6)
    try:
        with time_budget(5.0):
            _spin(0.1)
        assert signal.getsignal(signal.SIGALRM) is outer
        left, _interval = signal.getitimer(signal.ITIMER_REAL)
        # What was left of the outer timer, less the time spent inside.
        assert 0.2 < left <= 0.5
        _spin(0.8)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def test_an_outer_budget_spent_inside_an_inner_one_still_stops_the_work() -> None:
    started = time.monotonic()
    with pytest.raises(BudgetExceeded) as caught, time_budget(0.3), time_budget(0.1):
        _spin(0.2)  # the inner budget ends it first
    assert caught.value.budget_s == 0.1
    with pytest.raises(BudgetExceeded) as caught, time_budget(0.2), time_budget(5.0):
        _spin(10.0)
    assert caught.value.budget_s == 0.2
    assert time.monotonic() - started < 3.0


def test_outside_the_main_thread_the_work_is_not_limited() -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with time_budget(0.05):
                _spin(0.2)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert errors == []
