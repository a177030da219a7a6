"""Thread pools for work handed on after an acknowledgement: the work keeps its request's log
context (team, channel, user, sub-command) and the pool reports how much is waiting."""

from __future__ import annotations

import contextvars
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from bot.observability import metrics


class TrackedExecutor(ThreadPoolExecutor):
    def __init__(self, max_workers: int, thread_name_prefix: str, *, pool: str | None = None):
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._waiting = metrics.AFTER_ACK_WAITING.labels(pool) if pool else None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        context = contextvars.copy_context()
        waiting = self._waiting
        if waiting is None:
            return super().submit(context.run, fn, *args, **kwargs)
        waiting.inc()

        def started() -> Any:
            waiting.dec()
            return fn(*args, **kwargs)

        try:
            return super().submit(context.run, started)
        except RuntimeError:  # shut down: the work will never start
            waiting.dec()
            raise
