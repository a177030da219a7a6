"""What a ticket says, who it is assigned to, and which Slack person a tracker user is.

The ticket's title is the item's text; its body names the incident (title, severity, a link to
its Slack channel), the postmortem, the owner, due date, priority and type. Slack markup in the
text becomes plain words first (`<@U1|ann>` -> `@ann`), so nothing from Slack is live there.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ActionItem, Incident, Postmortem
from bot.refs import action_ref
from bot.settings import TrackerSettings
from bot.slack.gateway import SlackFailure, SlackGateway
from bot.slack.text import plain_text
from bot.trackers.base import NewTicket, Tracker

logger = logging.getLogger("incident_bot.trackers")

SLACK_CHANNEL_LINK = "https://slack.com/app_redirect?channel={channel}"
GITHUB_PROFILE_FIELD = "github"  # the label of a Slack custom profile field holding the GitHub login


def marker(item: ActionItem, incident: Incident) -> str:
    """Unique per workspace and item; safe as a Jira label (no spaces) and in an HTML comment."""
    return f"incident-bot-{incident.channel_id}-{action_ref(item.id)}"


def new_ticket(
    session: Session, item: ActionItem, incident: Incident, *, owner_name: str | None, assignee: str | None
) -> NewTicket:
    postmortem = session.scalar(select(Postmortem).where(Postmortem.incident_id == incident.id))
    owner = f"{owner_name} (Slack)" if owner_name else "nobody yet"
    if item.owner_id and not assignee:
        owner += " — not matched to a tracker user, so the ticket is unassigned"
    body = [
        f'Action item {action_ref(item.id)} from the incident "{plain_text(incident.title)}" ({incident.severity}).',
        f"Incident channel: {SLACK_CHANNEL_LINK.format(channel=incident.channel_id)}",
        f"Postmortem: {postmortem.file_url}"
        if postmortem and postmortem.file_url
        else "Postmortem: in the incident's Slack channel",
        f"Owner: {owner}",
        (
            f"Due: {item.due_date.isoformat() if item.due_date else 'no date'} · Priority: {item.priority}"
            f" · Type: {item.action_type or 'not set'}"
        ),
        "Closing or reopening this ticket closes or reopens the action item in Slack, and the other way round.",
    ]
    return NewTicket(
        title=plain_text(item.text),
        body=body,
        marker=marker(item, incident),
        priority=item.priority,
        due=item.due_date,
        assignee=assignee,
    )


def assignee_for(
    tracker: Tracker, settings: TrackerSettings, gateway: SlackGateway, owner_id: str | None
) -> str | None:
    """The tracker user for a Slack owner: TRACKER_USERS first, then the Slack profile
    (the `github` profile field for GitHub, the e-mail address for Jira); None when nothing matches."""
    if not owner_id:
        return None
    if owner_id in settings.users:
        return settings.users[owner_id]
    if tracker.name == "github":
        return _github_field(gateway, owner_id)
    email = _profile(gateway, owner_id).get("email")
    return tracker.user_for_email(email) if email else None


def slack_user_for(
    settings: TrackerSettings, gateway: SlackGateway, tracker_user: str | None, email: str | None = None
) -> str | None:
    """The Slack person behind a tracker user: TRACKER_USERS read backwards, then the e-mail address."""
    if not tracker_user:
        return None
    for slack_id, login in settings.users.items():
        if login.lower() == tracker_user.lower():
            return slack_id
    if email:
        return _slack_id_by_email(gateway, email)
    return None


_EMAIL_TTL_SECONDS = 3600
_by_email: dict[str, tuple[float, str | None]] = {}
_by_email_lock = threading.Lock()


def _slack_id_by_email(gateway: SlackGateway, email: str) -> str | None:
    """users.lookupByEmail, remembered for an hour: a sweep full of reassignments stays within its Tier 3 limit."""
    key = email.strip().lower()
    with _by_email_lock:
        cached = _by_email.get(key)
        if cached and time.monotonic() - cached[0] < _EMAIL_TTL_SECONDS:
            return cached[1]
    try:
        found = (gateway.call("users.lookupByEmail", email=email).get("user") or {}).get("id")
    except SlackFailure as failure:
        if failure.code != "users_not_found":
            return None  # Slack could not say: ask again next time
        found = None
    with _by_email_lock:
        _by_email[key] = (time.monotonic(), found)
    return found


def _profile(gateway: SlackGateway, user_id: str) -> dict[str, Any]:
    try:
        return (gateway.call("users.info", user=user_id).get("user") or {}).get("profile") or {}
    except SlackFailure as failure:
        logger.warning("users.info for %s failed: %s", user_id, failure.code)
        return {}


def _github_field(gateway: SlackGateway, user_id: str) -> str | None:
    try:
        fields = (gateway.call("users.profile.get", user=user_id).get("profile") or {}).get("fields") or {}
    except SlackFailure:
        return None
    if not fields:
        return None
    try:
        labels = gateway.call("team.profile.get").get("profile", {}).get("fields", [])
    except SlackFailure:
        return None
    for field in labels:
        if str(field.get("label", "")).strip().lower() == GITHUB_PROFILE_FIELD and field.get("id") in fields:
            value = str((fields[field["id"]] or {}).get("value") or "").strip().lstrip("@")
            return value.rsplit("/", 1)[-1] or None  # a profile URL or a bare login
    return None
