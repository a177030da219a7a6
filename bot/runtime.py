"""Everything a request needs, built once from settings: database, Slack gateway, clock."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot import intake
from bot.ack_priority import AckPriority
from bot.clock import Clock, SystemClock
from bot.db import Database
from bot.incidents import ChannelIncidents
from bot.observability.executors import TrackedExecutor
from bot.settings import Settings
from bot.slack.gateway import SlackGateway, build_web_client
from bot.trackers.registry import build_tracker


@dataclass
class Runtime:
    settings: Settings
    db: Database
    gateway: SlackGateway
    clock: Clock
    logger: logging.Logger
    tracker: Any = None  # the configured ticket tracker (bot.trackers), or None
    channel_incidents: ChannelIncidents = field(default_factory=ChannelIncidents)
    # Work that follows an acknowledgement runs here, not on Bolt's listener threads: a listener
    # then holds its thread for microseconds, so a burst of slow requests never delays an ack.
    after_ack: TrackedExecutor = field(default_factory=lambda: TrackedExecutor(64, "after-ack", pool="commands"))
    # Acknowledgements go first: follow-up work narrows while any request awaits its ack.
    ack_priority: AckPriority = field(default_factory=AckPriority)
    # Events (pins, edits) get a pool of their own: a storm of them, or Slack rate-limiting their
    # reads, then never delays the answer to someone's command.
    after_ack_events: TrackedExecutor = field(
        default_factory=lambda: TrackedExecutor(32, "after-ack-events", pool="events")
    )

    # Who holds this process's intake leases (bot/intake.py), and how the Slack shell carries out
    # a request taken over from a process that stopped (set by handlers/intake.py).
    worker_id: str = field(default_factory=intake.new_worker_id)
    replay: Callable[[Any], None] | None = None
    stop_intake: Callable[[], None] | None = None
    done_marks: intake.DoneMarks | None = None  # settles answered requests in batches (set with the above)

    def settle(self, held: intake.Held) -> None:
        """The request is answered: mark it done (batched when this process runs the intake)."""
        if self.done_marks is not None:
            self.done_marks.add(held)
        else:
            intake.mark_done(self.db, held, now=self.clock.now())

    @property
    def intake_lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.intake_lease_seconds)

    def shutdown(self) -> None:
        """Finish the work already acknowledged, then close the database pool."""
        self.after_ack.shutdown(wait=True)
        self.after_ack_events.shutdown(wait=True)
        if self.stop_intake is not None:  # only now: the leases cover the work finished above
            self.stop_intake()
        self.db.dispose()


def build_runtime(settings: Settings, *, clock: Clock | None = None, db: Database | None = None) -> Runtime:
    client = build_web_client(settings.slack_bot_token, settings.slack_api_url, timeout=settings.slack_timeout_seconds)
    return Runtime(
        settings=settings,
        db=db or Database(settings.database_url),
        gateway=SlackGateway(client),
        clock=clock or SystemClock(),
        logger=logging.getLogger("incident_bot"),
        tracker=build_tracker(settings.trackers),
    )
