"""Thread pools for work handed on after an acknowledgement: the work keeps its request's log
context (team, channel, user, sub-command) and the pool reports how much is waiting."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

from bot.observability import metrics


class TrackedExecutor(ThreadPoolExecutor):
    def __init__(self, max_workers: int, thread_name_prefix: str, *, pool: str | None = None):
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._waiting = metrics.AFTER_ACK_WAITING.labels(pool) if pool else None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self.submit_gated(contextlib.nullcontext, fn, *args, **kwargs)

    def submit_gated(
        self, gate: Callable[[], AbstractContextManager[Any]], fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future:
        """Run `fn` inside `gate()` (e.g. a slot while acknowledgements go first); until the gate
        lets it in, it counts as waiting."""
        context = contextvars.copy_context()
        waiting = self._waiting

        def started() -> Any:
            with gate():
                if waiting is not None:
                    waiting.dec()
                return fn(*args, **kwargs)

        if waiting is None:
            return super().submit(context.run, started)
        waiting.inc()

        try:
            return super().submit(context.run, started)
        except RuntimeError:  # shut down: the work will never start
            waiting.dec()
            raise
