"""Where the shell plugs in: every request counted, timed and named in the logs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from bot.observability import metrics
from bot.observability.logging import request_fields, set_request_context


def instrument(app: Any) -> None:
    """Count and time each request the Bolt app dispatches, and name it in the log context."""
    # the sub-command is named once it is known to be one (counted_subcommand), never as typed
    metrics.observe_dispatch(app, on_request=lambda body: set_request_context(**request_fields(body), subcommand=None))


@contextlib.contextmanager
def counted_subcommand(name: str) -> Iterator[None]:
    """A sub-command's outcome counted, and its name on every log line written meanwhile."""
    # set, not reset: each task runs in a context of its own (TrackedExecutor), and the error a
    # failure logs after this block (answering_failures, outside it) still names the sub-command
    set_request_context(subcommand=name)
    with metrics.count_subcommand(name):
        yield
