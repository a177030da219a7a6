"""Acknowledgements before follow-up work, within one process.

Slack gives a request 3 seconds to be acknowledged; the answer that follows has 30 minutes (its
response_url). Python threads have no priorities, and every runnable thread takes its turn at
the interpreter lock, so under a burst dozens of follow-up jobs would slow down every
acknowledgement. While any request here waits for its acknowledgement, follow-up work runs at
most `busy_slots` jobs at a time; once the acknowledgements are through, all of it runs again.
The follow-up work is never stopped, only narrowed, so it keeps moving under sustained load.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class AckPriority:
    def __init__(self, busy_slots: int = 2):
        self.busy_slots = busy_slots
        self._changed = threading.Condition()
        self._acking = 0
        self._working = 0

    @contextlib.contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Around everything a request does before its acknowledgement."""
        with self._changed:
            self._acking += 1
        try:
            yield
        finally:
            with self._changed:
                self._acking -= 1
                if self._acking == 0:
                    self._changed.notify_all()

    @contextlib.contextmanager
    def following_up(self) -> Iterator[None]:
        """Around one job of follow-up work: waits for a slot while acknowledgements are pending."""
        with self._changed:
            self._changed.wait_for(lambda: self._acking == 0 or self._working < self.busy_slots)
            self._working += 1
        try:
            yield
        finally:
            with self._changed:
                self._working -= 1
                self._changed.notify()
