"""Telling people about facts: the incident channel (at most one message a minute) and
ALERTS_CHANNEL (each new firing group or page that matches no incident, once, with a button).

The once-a-minute promise is kept in the database (`fact_notices.last_sent_at`, taken with a
conditional UPDATE), so replicas never double a message; facts that arrive while a minute is
running wait for the next message (the scheduler's tick sends it), so a storm of 500 alerts is
one message saying so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

from sqlalchemy import select, update

from bot.db import rows_changed
from bot.errors import UserError
from bot.models import (
    AlertPost,
    FactNotice,
    Incident,
    IncidentFact,
    IncidentStatus,
    SourceFact,
)
from bot.refs import entry_ref
from bot.slack import blocks as bk
from bot.slack.gateway import SlackFailure
from bot.slack.text import escape, mention, slack_date
from bot.sources import routing

NOTICE_INTERVAL = dt.timedelta(seconds=60)
MAX_LINES = 5
DECLARE_ACTION = "alert_declare"
# A group that fired and got its post does not get another within this span.
REPOST_AFTER = dt.timedelta(hours=6)
POSTING_LEASE = dt.timedelta(minutes=2)
RETRY_POSTS_FOR = dt.timedelta(hours=1)
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")


# -- the incident channel ----------------------------------------------------------------------
def after_recording(runtime: Any, recorded: routing.Recorded) -> None:
    for incident_id in list(recorded.landed):
        flush_incident(runtime, incident_id)
    if runtime.settings.alerts_channel:
        for group_key, facts in recorded.unmatched_firing.items():
            post_alert_group(runtime, group_key, facts)


def _claim_minute(session: Any, incident_id: int, now: dt.datetime) -> bool:
    taken = session.execute(
        update(FactNotice)
        .where(FactNotice.incident_id == incident_id, FactNotice.last_sent_at <= now - NOTICE_INTERVAL)
        .values(last_sent_at=now)
    )
    if rows_changed(taken) == 1:
        return True
    return bool(
        routing.insert_ignoring_duplicates(
            session, FactNotice, [{"incident_id": incident_id, "last_sent_at": now}], ["incident_id"]
        )
    )


def flush_incident(runtime: Any, incident_id: int) -> bool:
    """Send the incident channel one message about the facts it has not heard of, if its minute
    is free; returns whether a message was sent."""
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        waiting = session.scalar(
            select(IncidentFact.id)
            .where(IncidentFact.incident_id == incident_id, IncidentFact.notified_at.is_(None))
            .limit(1)
        )
        if waiting is None or not _claim_minute(session, incident_id, now):
            return False
        pending = routing.mark_notified(session, incident_id, now)
        incident = session.get(Incident, incident_id)
        if incident is None or incident.status != IncidentStatus.OPEN:
            return False
        channel = incident.channel_id
        text, blocks = notice_message(pending, runtime.settings.timezone)
    try:
        runtime.gateway.post_message(channel, text, blocks)
    except SlackFailure as failure:
        runtime.logger.warning("telling %s about %d new facts failed: %s", channel, len(pending), failure)
        return False
    return True


def flush_pending(runtime: Any) -> int:
    """The tick: every open incident with facts it has not heard of gets its message when due."""
    with runtime.db.unit_of_work() as session:
        incident_ids = list(
            session.scalars(
                select(IncidentFact.incident_id)
                .join(Incident, Incident.id == IncidentFact.incident_id)
                .where(IncidentFact.notified_at.is_(None), Incident.status == IncidentStatus.OPEN)
                .distinct()
            )
        )
    return sum(1 for incident_id in incident_ids if flush_incident(runtime, incident_id))


def notice_message(pending: list[tuple[SourceFact, IncidentFact]], zone: dt.tzinfo) -> tuple[str, list[bk.Block]]:
    facts = [fact for fact, _ in pending]
    entry_ids = sorted({link.entry_id for _, link in pending if link.entry_id})
    counts = Counter(f"{fact.kind} {fact.status}" for fact in facts)
    summary = ", ".join(f"{count} {what}" for what, count in counts.most_common())
    refs = ", ".join(entry_ref(i) for i in entry_ids[:MAX_LINES])
    more_refs = f" and {len(entry_ids) - MAX_LINES} more" if len(entry_ids) > MAX_LINES else ""
    if len(facts) == 1:
        fact = facts[0]
        head = (
            f":bell: From {escape(fact.source)}: *{escape(fact.status)}* {escape(fact.title)} at "
            f"{slack_date(fact.occurred_at, '{time}', fallback_zone=zone)}"
        )
    else:
        head = f":bell: {len(facts)} new facts from monitoring ({summary})"
    lines = [f"{head} — on the timeline as {refs}{more_refs}" if refs else head]
    if len(facts) > 1:
        shown = facts[:MAX_LINES]
        lines += [
            f"• {slack_date(f.occurred_at, '{time}', fallback_zone=zone)} {escape(f.source)} "
            f"{escape(f.status)}: {escape(bk.truncate(f.title, 150))}"
            for f in shown
        ]
        if len(facts) > len(shown):
            lines.append(f"…and {len(facts) - len(shown)} more: `/incident timeline` shows them.")
    return bk.truncate(lines[0], bk.MAX_FALLBACK_TEXT), bk.sections_for_lines(lines)


# -- ALERTS_CHANNEL ----------------------------------------------------------------------------
_channel_ids: dict[str, str] = {}


def alerts_channel_id(runtime: Any) -> str | None:
    wanted = runtime.settings.alerts_channel
    if not wanted:
        return None
    if _CHANNEL_ID.match(wanted):
        return wanted
    if wanted not in _channel_ids:
        found = runtime.gateway.channel_id_by_name(wanted)
        if found is None:
            runtime.logger.warning("ALERTS_CHANNEL %s: no such channel the bot can see", wanted)
            return None
        _channel_ids[wanted] = found
    return _channel_ids[wanted]


def watch_for(facts: list[SourceFact]) -> list[list[str]]:
    """The watch an incident declared from these facts gets: their `service` when they share one,
    else every label they share (an Alertmanager group's labels)."""
    shared = dict(facts[0].labels)
    for fact in facts[1:]:
        shared = {key: value for key, value in shared.items() if fact.labels.get(key) == value}
    if shared.get("service"):
        return [["service", "=", shared["service"]]]
    return [[key, "=", value] for key, value in sorted(shared.items())[: routing.MAX_MATCHERS]]


def group_title(facts: list[SourceFact]) -> str:
    """`HighErrorRate: 5xx above 5% (3 alerts)`, or the names when the group holds several."""
    if len(facts) == 1:
        return facts[0].title
    names = list(dict.fromkeys(f.labels.get("alertname") or f.title for f in facts))
    if len(names) == 1:
        return f"{facts[0].title} ({len(facts)} {facts[0].kind}s)"[:300]
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return (", ".join(names[:3]) + more)[:300]


def _posting_mark(now: dt.datetime) -> str:
    """`message_ts` while a replica posts: a lease, so a post Slack refused is retried, once."""
    return f"p{int(now.timestamp())}"


def _posted(message_ts: str | None) -> bool:
    return bool(message_ts) and not message_ts.startswith("p")  # type: ignore[union-attr]


def post_alert_group(runtime: Any, group_key: str, facts: list[SourceFact]) -> bool:
    """Post a new firing group (or page) once to ALERTS_CHANNEL, with a Declare incident button."""
    channel = alerts_channel_id(runtime)
    if channel is None:
        return False
    now = runtime.clock.now()
    facts = sorted(facts, key=lambda f: (f.occurred_at, f.id))
    matchers = watch_for(facts)
    with runtime.db.unit_of_work() as session:
        recent = session.scalar(
            select(AlertPost.id)
            .where(AlertPost.group_key == group_key[:300], AlertPost.created_at > now - REPOST_AFTER)
            .limit(1)
        )
        if recent is not None:
            return False
        identity = f"{group_key}|{facts[0].occurred_at.isoformat()}"[:300]
        ids = routing.insert_ignoring_duplicates(
            session,
            AlertPost,
            [
                {
                    "group_identity": identity,
                    "group_key": group_key[:300],
                    "source": facts[0].source,
                    "title": group_title(facts)[:300],
                    "matchers": matchers,
                    "fact_ids": [f.id for f in facts],
                    "channel_id": channel,
                    "created_at": now,
                    "message_ts": _posting_mark(now),
                }
            ],
            ["group_identity"],
        )
        if not ids:
            return False
    return _send_alert_post(runtime, ids[0], channel, facts, matchers)


def _send_alert_post(runtime: Any, post_id: int, channel: str, facts: list[Any], matchers: list[list[str]]) -> bool:
    text, blocks = alert_message(post_id, facts, matchers, runtime.settings.timezone)
    try:
        posted = runtime.gateway.post_message(channel, text, blocks)
    except SlackFailure as failure:
        runtime.logger.warning("posting alert %s to %s failed (retried by the sweep): %s", post_id, channel, failure)
        with runtime.db.unit_of_work() as session:
            session.execute(update(AlertPost).where(AlertPost.id == post_id).values(message_ts=None))
        return False
    with runtime.db.unit_of_work() as session:
        session.execute(update(AlertPost).where(AlertPost.id == post_id).values(message_ts=posted.ts))
    return True


def retry_alert_posts(runtime: Any) -> int:
    """Posts Slack refused (or a replica died while sending) in the last hour, tried again; the
    conditional UPDATE lets one replica at a time take each."""
    now = runtime.clock.now()
    lease_over = _posting_mark(now - POSTING_LEASE)
    sent = 0
    with runtime.db.unit_of_work() as session:
        waiting = list(
            session.scalars(
                select(AlertPost)
                .where(
                    AlertPost.created_at > now - RETRY_POSTS_FOR,
                    AlertPost.created_at <= now - dt.timedelta(seconds=30),
                    AlertPost.declared_by.is_(None),
                    AlertPost.message_ts.is_(None)
                    | (AlertPost.message_ts.like("p%") & (AlertPost.message_ts < lease_over)),
                )
                .limit(20)
            )
        )
        session.expunge_all()
    for post in waiting:
        with runtime.db.unit_of_work() as session:
            was = AlertPost.message_ts.is_(None) if post.message_ts is None else AlertPost.message_ts == post.message_ts
            taken = session.execute(
                update(AlertPost).where(AlertPost.id == post.id, was).values(message_ts=_posting_mark(now))
            )
            if rows_changed(taken) != 1:
                continue
            facts = list(
                session.scalars(
                    select(SourceFact)
                    .where(SourceFact.id.in_(post.fact_ids))
                    .order_by(SourceFact.occurred_at, SourceFact.id)
                )
            )
            session.expunge_all()
        if facts and _send_alert_post(runtime, post.id, post.channel_id, facts, post.matchers):
            sent += 1
    return sent


def alert_message(
    post_id: int, facts: list[SourceFact], matchers: list[list[str]], zone: dt.tzinfo
) -> tuple[str, list[bk.Block]]:
    first = facts[0]
    noun = "page" if first.kind == "page" else "alert"
    many = f"{len(facts)} {noun}s" if len(facts) > 1 else f"{noun}"
    head = (
        f":rotating_light: *{escape(first.source)}* {many} firing since "
        f"{slack_date(first.occurred_at, '{date_short_pretty} {time}', fallback_zone=zone)}, "
        "matching no open incident"
    )
    lines = [head, f"*{escape(bk.truncate(group_title(facts), 300))}*"]
    if first.link:
        lines.append(f"<{first.link}|Open in {escape(first.source)}>")
    watch = routing.matchers_text(matchers) or "(no shared labels)"
    blocks = [
        *bk.sections_for_lines(lines),
        bk.context(f"Declaring opens an incident watching `{escape(watch)}`, with this {noun} on its timeline."),
        bk.actions(bk.button("Declare incident", DECLARE_ACTION, str(post_id), style="danger")),
    ]
    return bk.truncate(f"{first.source} {many} firing: {group_title(facts)}", bk.MAX_FALLBACK_TEXT), blocks


# -- declaring from an alert post ------------------------------------------------------------------
def claim_alert_post(runtime: Any, post_id: int, user_id: str) -> AlertPost:
    """Take the right to declare from this post (two clicks, even on two replicas: one incident)."""
    with runtime.db.unit_of_work() as session:
        fact_ids = session.scalar(select(AlertPost.fact_ids).where(AlertPost.id == post_id)) or []
        on_incident = session.scalar(
            select(Incident.channel_id)
            .join(IncidentFact, IncidentFact.incident_id == Incident.id)
            .where(IncidentFact.fact_id.in_(fact_ids), Incident.status == IncidentStatus.OPEN)
            .limit(1)
        )
        if on_incident:  # someone declared with a matching watch since the post went out
            raise UserError(
                f"This alert is already on the timeline of <#{on_incident}>; no second incident was opened."
            )
        taken = session.execute(
            update(AlertPost)
            .where(AlertPost.id == post_id, AlertPost.declared_by.is_(None))
            .values(declared_by=user_id)
        )
        post = session.get(AlertPost, post_id)
        if post is None:
            raise UserError("That alert is no longer known to incident-bot; declare with `/incident declare <title>`.")
        if rows_changed(taken) != 1:
            incident = session.get(Incident, post.incident_id) if post.incident_id else None
            where = f": <#{incident.channel_id}>" if incident else " (the incident is being opened)"
            raise UserError(f"{mention(post.declared_by or '')} already declared an incident from this alert{where}.")
        session.expunge(post)
        return post


def release_alert_post(runtime: Any, post_id: int) -> None:
    with runtime.db.unit_of_work() as session:
        session.execute(update(AlertPost).where(AlertPost.id == post_id).values(declared_by=None))


def alert_post_declared(runtime: Any, post_id: int, incident_id: int) -> tuple[str, str | None]:
    """Record the incident declared from a post; returns the post's channel and message ts."""
    with runtime.db.unit_of_work() as session:
        post = session.get(AlertPost, post_id)
        assert post is not None
        post.incident_id = incident_id
        return post.channel_id, post.message_ts if _posted(post.message_ts) else None


def declared_message(post: AlertPost, user_id: str, incident_channel: str) -> tuple[str, list[bk.Block]]:
    text = f":rotating_light: {mention(user_id)} declared an incident from this alert: <#{incident_channel}>"
    return text, [bk.section(f"*{escape(bk.truncate(post.title, 300))}*"), bk.context(text)]
