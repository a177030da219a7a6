"""Tracker webhooks, as plain functions: record a delivery once, apply its change.

Deliveries arrive through `POST /hooks/github` (`issues` events) and `POST /hooks/jira`, verified
and stored there like every webhook (handlers/hooks.py), then handed here (bot.sources.registry's
HANDOFFS). `handle_github_issues_event` and `handle_jira_webhook` take a parsed payload and apply
it: the ticket is read again from the tracker (a payload may be older than another one delivered
before it), and what changed goes through bot.trackers.sync like the sweep's.
Events the bot caused itself (its own login as the sender) are ignored: no echo.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import TrackerDelivery
from bot.runtime import Runtime
from bot.trackers import sync
from bot.trackers.base import Ticket, TrackerError, cap


def record_delivery(session: Session, source: str, delivery_id: str | None, now: dt.datetime) -> bool:
    """False when this delivery was handled before (a redelivery or retry)."""
    if not delivery_id:
        return True
    try:
        with session.begin_nested():
            session.add(TrackerDelivery(source=source, delivery_id=cap(delivery_id, 100), received_at=now))
    except IntegrityError:
        return False
    return True


def _apply(
    runtime: Runtime, source: str, delivery_id: str | None, key: str, snapshot: Ticket, actor: str | None
) -> str:
    tracker = runtime.tracker
    assert tracker is not None
    with runtime.db.unit_of_work() as session:  # most of a busy repository's events concern no item
        if not sync.items_with_ticket(session, tracker.name, snapshot.key):
            return f"{snapshot.label} is no item's ticket"
    try:
        current = tracker.get(key)  # the ticket as it is now, not as this (maybe late) event saw it
    except TrackerError as err:
        runtime.logger.info("%s webhook: reading %s failed (%s); using the event's own copy", source, key, err)
        current = snapshot
    if current is None:
        return _deleted(runtime, source, delivery_id, key)
    ticket = current
    said = sync.Announcements()
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        if not record_delivery(session, source, delivery_id, now):
            return "duplicate delivery: already handled"
        items = sync.items_with_ticket(session, tracker.name, ticket.key, lock=True)
        done: list[str] = []
        for item in items:
            done += sync.apply_ticket(runtime, session, item, ticket, actor=actor, now=now, said=said)
    said.post(runtime)
    if not items:
        return f"{ticket.label} is no item's ticket"
    return "; ".join(done) or "nothing changed"


def handle_github_issues_event(runtime: Runtime, payload: dict[str, Any], *, delivery_id: str | None = None) -> str:
    """An `issues` event (opened, closed, reopened, assigned, edited …) for the configured repository."""
    from bot.trackers.github import GitHubTracker

    tracker = runtime.tracker
    if not isinstance(tracker, GitHubTracker):
        return "GitHub is not the configured tracker"
    issue = payload.get("issue")
    repo = (payload.get("repository") or {}).get("full_name")
    if not isinstance(issue, dict) or "number" not in issue:
        return "not an issue event"
    if str(repo).lower() != tracker.repo.lower():
        return f"not the configured repository ({cap(str(repo), 100)})"
    actor = (payload.get("sender") or {}).get("login")
    if actor and actor == tracker.me():
        return "the bot's own change"
    if payload.get("action") in ("deleted", "transferred"):
        return _deleted(runtime, "github", delivery_id, str(issue["number"]))
    return _apply(runtime, "github", delivery_id, str(issue["number"]), tracker.ticket(issue), actor)


def handle_jira_webhook(runtime: Runtime, payload: dict[str, Any], *, delivery_id: str | None = None) -> str:
    """A Jira `jira:issue_updated` (or created/deleted) event for an issue of the configured project."""
    from bot.trackers.jira import JiraTracker

    tracker = runtime.tracker
    if not isinstance(tracker, JiraTracker):
        return "Jira is not the configured tracker"
    issue = payload.get("issue")
    if not isinstance(issue, dict) or not issue.get("key"):
        return "not an issue event"
    key = str(issue["key"])
    if not key.upper().startswith(f"{tracker.project.upper()}-"):
        return f"not the configured project ({cap(key, 40)})"
    user = payload.get("user") or {}
    if tracker.is_me(user):
        return "the bot's own change"
    actor = user.get("displayName") or user.get("name") or user.get("accountId")
    if payload.get("webhookEvent") == "jira:issue_deleted":
        return _deleted(runtime, "jira", delivery_id, key)
    return _apply(runtime, "jira", delivery_id, key, tracker.ticket(issue), actor)


def _deleted(runtime: Runtime, source: str, delivery_id: str | None, key: str) -> str:
    tracker = runtime.tracker
    assert tracker is not None
    said = sync.Announcements()
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        if not record_delivery(session, source, delivery_id, now):
            return "duplicate delivery: already handled"
        items = sync.items_with_ticket(session, tracker.name, key, lock=True)
        for item in items:
            if item.ticket_state != sync.GONE:
                sync.mark_gone(runtime, session, item, now=now, said=said)
    said.post(runtime)
    return f"{key} deleted"
