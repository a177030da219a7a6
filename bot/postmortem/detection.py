"""How the incident was detected, computed from the timeline: by monitoring or by people first.

The first alert is the earliest firing alert or page on the timeline (monitoring's `detected`
entry, bot/sources/routing.py); the first human sign is the declaration or the earliest entry a
person typed or pinned (other than the `started` entry, which dates the impact, not knowledge). Seed thresholds (the reference write-ups): from impact start to the
first alert, over 5 minutes for a SEV1/SEV2 is a monitoring gap; over 30 minutes, or people
first, is a critical monitoring failure. Each gap proposes a `detect` action item.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.actions import items as action_items
from bot.actions.grammar import ActionDraft
from bot.errors import UserError
from bot.models import (
    ActionItem,
    ActionStatus,
    EntryKind,
    EntrySource,
    Incident,
    Milestone,
)
from bot.postmortem import snapshot
from bot.postmortem.metrics import (
    MONITORING_GAP,
    MONITORING_GAP_SEVERITIES,
    USERS_FIRST,
    human_duration,
)
from bot.postmortem.snapshot import DraftSource, EntryValue
from bot.refs import action_ref

OK, GAP, CRITICAL = "ok", "gap", "critical"
_HUMAN_SOURCES = (EntrySource.COMMAND, EntrySource.REACTION, EntrySource.SHORTCUT)
MAX_PROPOSAL = 300


@dataclass(frozen=True)
class Detection:
    first_alert: EntryValue | None
    first_human_at: dt.datetime
    impact_start: dt.datetime | None
    severity: str
    monitored: bool  # monitoring speaks for this incident: a fact on its timeline, or a watch

    @property
    def by_monitoring(self) -> bool:
        return self.first_alert is not None and self.first_alert.occurred_at <= self.first_human_at

    @property
    def time_to_alert(self) -> dt.timedelta | None:
        if self.first_alert is None or self.impact_start is None:
            return None
        return max(dt.timedelta(0), self.first_alert.occurred_at - self.impact_start)

    @property
    def level(self) -> str:
        if not self.monitored:  # no monitoring speaks for this incident: nothing to judge it by
            return OK
        if not self.by_monitoring:
            return CRITICAL
        late = self.time_to_alert
        if late is not None and late > USERS_FIRST:
            return CRITICAL
        if late is not None and late > MONITORING_GAP and self.severity in MONITORING_GAP_SEVERITIES:
            return GAP
        return OK

    def lines(self, at: Callable[[dt.datetime], str | None]) -> list[str]:
        """Sentences for the draft's Detection section; `at` formats a time in the team's zone."""
        if not self.monitored:
            return []
        found: list[str] = []
        if self.by_monitoring:
            alert = self.first_alert
            assert alert is not None
            found.append(f"Detected by monitoring: {alert.origin} at {at(alert.occurred_at)} ({alert.text}).")
        elif self.first_alert is not None:
            found.append(
                f"Detected by people first, at {at(self.first_human_at)}; the first alert "
                f"({self.first_alert.origin}) came at {at(self.first_alert.occurred_at)}."
            )
        else:
            found.append(f"Detected by people first, at {at(self.first_human_at)}: no alert or page fired before.")
        if self.time_to_alert is not None:
            found.append(f"From impact start to the first alert: {human_duration(self.time_to_alert)}.")
        if self.level == CRITICAL:
            why = (
                "people noticed before any alert"
                if not self.by_monitoring
                else f"the first alert came more than {human_duration(USERS_FIRST)} after impact started"
            )
            found.append(f"Critical monitoring failure: {why}. Proposed action item (type detect): {self.proposal}")
        elif self.level == GAP:
            found.append(
                f"Monitoring gap: over {human_duration(MONITORING_GAP)} to the first alert for a "
                f"{self.severity.upper()}. Proposed action item (type detect): {self.proposal}"
            )
        return found

    @property
    def proposal(self) -> str | None:
        if self.level == OK:
            return None
        if self.first_alert is None or not self.by_monitoring:
            text = "Add an alert that fires before people notice this failure"
        else:
            late = human_duration(self.time_to_alert)
            text = f"Make the alert fire within {human_duration(MONITORING_GAP)} of impact (it took {late}): {self.first_alert.text}"
        return text[:MAX_PROPOSAL]


def analyse(source: DraftSource) -> Detection:
    monitoring = [e for e in source.entries if e.from_monitoring]
    first_alert = next((e for e in monitoring if e.milestone == Milestone.DETECTED), None)
    # What people wrote shows when they knew, except the `started` entry: it dates the impact.
    human = [
        e.occurred_at
        for e in source.entries
        if e.source in _HUMAN_SOURCES and e.kind != EntryKind.SYSTEM and e.milestone != Milestone.STARTED
    ]
    first_human = min([source.incident.created_at, *human])
    return Detection(
        first_alert=first_alert,
        first_human_at=first_human,
        impact_start=source.key_times.impact_start,
        severity=source.incident.severity,
        monitored=bool(monitoring) or source.watched,
    )


def key_time_origin(source: DraftSource, milestone: Milestone) -> str | None:
    """Where a key time came from: `alertmanager (T5)` or `the timeline (T7)`."""
    entry = source.milestone_entries.get(milestone)
    if entry is None:
        return None
    if entry.from_monitoring:
        return f"{entry.origin} (T{entry.id})"
    return f"the timeline (T{entry.id})"


DETECT_ACTION = "detection_action_add"


def add_proposed_item(
    session: Session, incident_id: int, *, by: str, now: dt.datetime, today: dt.date, due_days: dict[str, int]
) -> ActionItem:
    """The one-click `detect` action item the Detection section proposes (once per incident)."""
    source = snapshot.load(session, incident_id)
    proposal = analyse(source).proposal
    if proposal is None:
        raise UserError("Detection shows no gap now (the timeline changed), so there is no action item to propose.")
    for item in action_items.for_incident(session, incident_id):
        if item.text == proposal and item.status != ActionStatus.DROPPED:
            raise UserError(f"That action item is already there as {action_ref(item.id)}.")
    incident = session.get(Incident, incident_id)
    assert incident is not None
    draft = ActionDraft(text=proposal, owner_id=None, due_date=None, priority=None, action_type="detect")
    return action_items.add(session, incident, draft, by=by, now=now, today=today, due_days=due_days)
