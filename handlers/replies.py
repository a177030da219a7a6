"""How a listener answers: the Reply value, and one place that turns failures into messages.

A `UserError` becomes its own text (nothing was changed); anything else is logged with a
traceback and an error id, and the user is shown the id.

`after_ack` is the one place work starts: it takes the stored request being dispatched
(bot/intake.py) along, and settles it once the work is over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot import intake
from bot.errors import UserError, report_unexpected, unexpected_error_text
from bot.runtime import Runtime
from bot.slack.blocks import Block, section
from bot.slack.gateway import SlackFailure


@dataclass
class Reply:
    text: str
    blocks: list[Block] | None = None
    in_channel: bool = False
    replace_original: bool = False
    extra: list[Reply] = field(default_factory=list)  # further messages, in order


# A response_url takes answers for 30 minutes after the request.
RESPONSE_URL_LIFETIME = dt.timedelta(minutes=29)


def send_reply(runtime: Runtime, response_url: str, reply: Reply) -> None:
    for message in [reply, *reply.extra]:
        respond(
            runtime,
            response_url,
            message.text,
            message.blocks,
            in_channel=message.in_channel,
            replace_original=message.replace_original,
        )


def respond(
    runtime: Runtime,
    response_url: str,
    text: str,
    blocks: list[Block] | None = None,
    *,
    in_channel: bool = False,
    replace_original: bool = False,
) -> None:
    """Answer through the response_url; a request carried out again after a restart, once its
    response_url has expired, answers its author by direct message instead."""
    held = intake.current()
    if (
        held is not None
        and held.replay
        and held.user_id
        and runtime.clock.now() - held.received_at >= RESPONSE_URL_LIFETIME
    ):
        about = f"About {held.summary or 'what you asked'}, carried out late (I had restarted):"
        runtime.gateway.post_message(
            runtime.gateway.open_dm(held.user_id), f"{about}\n{text}", [section(about), *blocks] if blocks else None
        )
        return
    runtime.gateway.respond(response_url, text, blocks, in_channel=in_channel, replace_original=replace_original)


@contextlib.contextmanager
def answering_failures(
    runtime: Runtime, response_url: str | None, what: str, *, user: str | None = None, channel: str | None = None
) -> Iterator[None]:
    """Report any failure inside the block to the user; never let it vanish silently."""
    try:
        yield
    except UserError as err:
        _tell(runtime, response_url, str(err), user=user, channel=channel)
    except Exception:
        error_id = report_unexpected(runtime.logger, what)
        _tell(runtime, response_url, unexpected_error_text(error_id), user=user, channel=channel)


def _tell(runtime: Runtime, response_url: str | None, text: str, *, user: str | None, channel: str | None) -> None:
    try:
        if response_url:
            respond(runtime, response_url, text)
        elif user and channel:
            runtime.gateway.post_ephemeral(channel, user, text)
    except SlackFailure:
        runtime.logger.exception("could not tell %s: %s", user or "the user", text)


def body_value(body: dict[str, Any], *path: str) -> Any:
    node: Any = body
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def after_ack(
    runtime: Runtime, what: str, work: Any, *args: Any, for_event: bool = False, urgent: bool = False
) -> None:
    """Run `work(*args)` once the request is acknowledged, off Bolt's listener threads (on the
    events' own pool for events; on a thread of its own when `urgent`, e.g. a trigger id that
    expires in 3 s must not wait behind queued work). Failures `work` does not answer are logged
    with an error id. The stored request being dispatched goes along: it is settled when the work
    is over, whatever its outcome (an error is answered, not retried)."""
    held = intake.hand_off()

    def run() -> None:
        try:
            with intake.working_on(held):
                work(*args)
        except intake.LeaseLost as lost:
            runtime.logger.warning("%s: %s; its work is left to that process", what, lost)
            return
        except Exception:
            report_unexpected(runtime.logger, what)
        if held is not None:
            try:
                runtime.settle(held)
            except Exception:  # left open: taken over later, and only answered if its effect is in
                report_unexpected(runtime.logger, f"settling the stored request of {what}")

    if urgent:
        # A trigger id expires in 3 s: as pressing as an ack, so it never waits behind them.
        threading.Thread(target=run, name="after-ack-urgent", daemon=True).start()
    else:
        pool = runtime.after_ack_events if for_event else runtime.after_ack
        pool.submit_gated(runtime.ack_priority.following_up, run)  # acknowledgements go first


def best_effort(runtime: Runtime, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    """A Slack side effect the user's request does not depend on: log a failure, don't raise."""
    try:
        return call(*args, **kwargs)
    except SlackFailure as failure:
        runtime.logger.warning("%s failed: %s", what, failure)
        return None
