"""Logging of failures that repeat: once when they start, then a summary now and then.

A worker retrying while Redis is full, or a background loop failing every second, would
otherwise write a line (or a traceback) per attempt: megabytes a minute that hide
everything else in the log.
"""

from __future__ import annotations

import logging
import time

#: The least time between two log lines of one recurring failure.
REPEAT_INTERVAL_S = 30.0


class RecurringFailure:
    """Logs one kind of failure of one loop: the first occurrence, then at most one line
    per ``interval_s`` counting the repeats, then one line when it recovers."""

    def __init__(self, log: logging.Logger, what: str, interval_s: float = REPEAT_INTERVAL_S):
        self.log = log
        self.what = what
        self.interval_s = interval_s
        self.failures = 0
        self._since = 0.0
        self._last_logged = 0.0

    def failed(self, reason: str, *, exc_info: bool = False) -> None:
        """Record one failure; logs it when it is the first or the interval has passed."""
        now = time.monotonic()
        self.failures += 1
        if self.failures == 1:
            self._since = now
        elif now - self._last_logged < self.interval_s:
            return
        self._last_logged = now
        if self.failures == 1:
            self.log.warning("%s failed: %s", self.what, reason, exc_info=exc_info)
        else:
            self.log.warning(
                "%s still failing (%d times in %.0f s): %s",
                self.what,
                self.failures,
                now - self._since,
                reason,
            )

    def succeeded(self) -> None:
        """Record a success; logs the recovery after failures."""
        if self.failures:
            self.log.warning(
                "%s recovered after %d failures in %.0f s",
                self.what,
                self.failures,
                time.monotonic() - self._since,
            )
        self.failures = 0
