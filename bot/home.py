"""Each person's App Home: what is theirs to do, built within Block Kit's limits and published.

Four parts: their open action items across incidents (overdue first, each with Done and Snooze
buttons), the open incidents they take part in, the postmortems they own or must review (status
and deadlines), and the review meetings they are invited to. A view holds at most 100 blocks, so
each list is cut with a count and a pointer to the command that lists everything. An incident
appears only to people who took part in it, so a private incident never shows to anyone outside.

`publish` builds and sends one person's view; `refresh_later` asks for it once the work that
changed something is done, and a burst of changes (a review request naming five people, a click
after a click) that arrives while a person's publication waits its turn joins it (debounced).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.actions import items as action_items
from bot.errors import report_unexpected
from bot.models import Incident, IncidentStatus, Postmortem, PostmortemPerson
from bot.postmortem import followup, meeting, sharing
from bot.postmortem import status as pm_status
from bot.runtime import Runtime
from bot.slack import blocks as bk
from bot.slack.gateway import SlackFailure
from bot.slack.text import safe_mrkdwn, slack_date

MAX_VIEW_BLOCKS = 100
ITEMS_WITH_BUTTONS = 20  # two blocks each: 40 of the 100
LIST_LINES = 10  # incidents, postmortems, meetings: one line each
DONE_ACTION = "home_done"
SNOOZE_ACTION = "home_snooze"
ITEM_BLOCK = "home_item"  # block_id of an item's buttons: home_item:<item id>


@dataclass(frozen=True)
class HomeView:
    blocks: list[bk.Block]
    items_total: int
    items_shown: int


def _title(incident: Incident) -> str:
    return f"<#{incident.channel_id}> {safe_mrkdwn(incident.title, live_mentions=False)}"


def _cut(lines: list[str], total: int, heading: str, more: str) -> list[bk.Block]:
    """A heading with the count, the first lines (only those are built), and how many more."""
    shown = lines[:LIST_LINES]
    blocks = [bk.section(f"*{heading}* ({total})"), *bk.sections_for_lines(shown)]
    if total > len(shown):
        blocks.append(bk.context(f"…and {total - len(shown)} more. {more}"))
    return blocks


def _open_incidents(session: Session, user_id: str) -> list[Incident]:
    query = (
        select(Incident)
        .where(Incident.status == IncidentStatus.OPEN, meeting.took_part(user_id))
        .order_by(Incident.created_at.desc(), Incident.id.desc())
    )
    return list(session.scalars(query))


def _postmortems(session: Session, user_id: str) -> list[tuple[Incident, Postmortem]]:
    """Closed incidents whose postmortem is not approved and that this person owns or must review."""
    owns = or_(
        Incident.postmortem_owner_id == user_id,
        and_(Incident.postmortem_owner_id.is_(None), Incident.commander_id == user_id),
        and_(Incident.postmortem_owner_id.is_(None), Incident.commander_id.is_(None), Incident.declared_by == user_id),
    )
    reviews = Incident.id.in_(
        select(PostmortemPerson.incident_id).where(
            PostmortemPerson.user_id == user_id, PostmortemPerson.role == pm_status.REVIEWER
        )
    )
    query = (
        select(Incident, Postmortem)
        .join(Postmortem, Postmortem.incident_id == Incident.id)
        .where(Incident.status == IncidentStatus.CLOSED, Postmortem.status != pm_status.APPROVED, or_(owns, reviews))
        .order_by(Incident.closed_at.desc(), Incident.id.desc())
    )
    return [(incident, row) for incident, row in session.execute(query)]


def _postmortem_line(session: Session, incident: Incident, row: Postmortem, user_id: str, audiences: set[str]) -> str:
    follow = followup.load(session, incident, row)
    role = "you own it" if follow.owner == user_id else "you're asked to review it"
    parts = [_title(incident), f"*{follow.label}*", role]
    for share in follow.shares:
        if share.shared_at is None and share.deadline is not None and share.audience in audiences:
            parts.append(f"share with {share.audience} by {slack_date(share.deadline, '{date_short} {time}')}")
    if follow.meeting_at:
        parts.append(f"review meeting {slack_date(follow.meeting_at, '{date_short} {time}')}")
    elif follow.resolved_at:
        due = follow.resolved_at + meeting.REVIEW_WITHIN
        parts.append(f"no review meeting yet (due by {slack_date(due, '{date_short} {time}')})")
    return " · ".join(parts)


def build(
    session: Session,
    user_id: str,
    *,
    now: dt.datetime,
    zone: dt.tzinfo,
    notice: str | None = None,
    share_audiences: set[str] | None = None,
) -> HomeView:
    today = now.astimezone(zone).date()
    blocks: list[bk.Block] = [bk.header(":clipboard: Your incident work")]
    if notice:
        blocks.append(bk.section(notice))

    owned = action_items.open_owned_by(session, user_id)
    incident_of = {item.id: incident for item, incident in owned}
    ordered = action_items.listing_order([item for item, _ in owned], today)
    blocks.append(bk.section(f"*Your open action items* ({len(ordered)}), overdue first"))
    if not ordered:
        blocks.append(bk.context("Nothing open. :tada:"))
    shown = ordered[:ITEMS_WITH_BUTTONS]
    for item in shown:
        blocks.append(bk.section(action_items.item_line(item, today, incident=incident_of[item.id])))
        value = str(item.id)
        blocks.append(
            bk.actions(
                bk.button(":white_check_mark: Done", DONE_ACTION, value, style="primary"),
                bk.button(":zzz: Snooze 1 week", SNOOZE_ACTION, value),
                block_id=f"{ITEM_BLOCK}:{item.id}",
            )
        )
    if len(ordered) > len(shown):
        blocks.append(bk.context(f"…and {len(ordered) - len(shown)} more. `/incident actions mine` lists them all."))

    blocks.append(bk.divider())
    taking_part = _open_incidents(session, user_id)
    incidents_lines = [
        f"{_title(i)} · {i.severity.upper()} · since {slack_date(i.created_at, '{date_short} {time}')}"
        for i in taking_part[:LIST_LINES]
    ]
    blocks += _cut(
        incidents_lines,
        len(taking_part),
        "Open incidents you take part in",
        "`/incident list` shows every open incident.",
    )

    blocks.append(bk.divider())
    postmortems = _postmortems(session, user_id)
    pm_lines = [
        _postmortem_line(session, incident, row, user_id, share_audiences or set())
        for incident, row in postmortems[:LIST_LINES]
    ]
    blocks += _cut(
        pm_lines, len(postmortems), "Postmortems you own or must review", "Each incident's channel has its draft."
    )

    blocks.append(bk.divider())
    meetings = meeting.upcoming_for(session, user_id, now)
    meeting_lines = [
        f"{slack_date(m.at, '{date_short_pretty} at {time}')} · {safe_mrkdwn(m.title, live_mentions=False)} "
        f"(<#{m.channel_id}>)"
        for m in meetings[:LIST_LINES]
    ]
    blocks += _cut(meeting_lines, len(meetings), "Upcoming review meetings", "Each incident's draft names its meeting.")
    assert len(blocks) <= MAX_VIEW_BLOCKS, len(blocks)
    return HomeView(blocks, len(ordered), len(shown))


def publish(runtime: Runtime, user_id: str, *, notice: str | None = None) -> HomeView:
    with runtime.db.unit_of_work() as session:
        audiences = {a.name for a in sharing.AUDIENCES.values() if sharing.channel_setting(runtime, a)}
        view = build(
            session,
            user_id,
            now=runtime.clock.now(),
            zone=runtime.settings.timezone,
            notice=notice,
            share_audiences=audiences,
        )
    runtime.gateway.publish_home(user_id, {"type": "home", "blocks": view.blocks})
    return view


# -- refreshing after a change ---------------------------------------------------------------
class _Refresher:
    """Coalesces refreshes: while one person's publication waits its turn, more requests join it.

    The publication reads the database when it runs, so it shows every change made before then;
    a change made while it runs asks for one more.
    """

    def __init__(self, runtime: Runtime):
        self._runtime = runtime
        self._waiting: set[str] = set()
        self._lock = threading.Lock()

    def add(self, user_ids: list[str]) -> None:
        for user in dict.fromkeys(u for u in user_ids if u and u[0] in "UW"):
            with self._lock:
                if user in self._waiting:
                    continue
                self._waiting.add(user)
            self._runtime.after_ack.submit(self._publish, user)

    def _publish(self, user: str) -> None:
        with self._lock:
            self._waiting.discard(user)
        try:
            publish(self._runtime, user)
        except SlackFailure as failure:
            self._runtime.logger.warning("refreshing the App Home of %s failed: %s", user, failure)
        except Exception:  # noqa: BLE001 - logged with an id; a refresh never breaks the change that asked
            report_unexpected(self._runtime.logger, f"refreshing the App Home of {user}")


_REFRESHERS_LOCK = threading.Lock()


def refresh_later(runtime: Runtime, user_ids: list[str]) -> None:
    """Publish these people's views again soon, after the work that asked (once each while waiting)."""
    with _REFRESHERS_LOCK:
        # One per runtime, kept on it: it lives and goes with the runtime it publishes through.
        kept = vars(runtime)
        refresher = kept.get("_home_refresher")
        if refresher is None:
            refresher = kept["_home_refresher"] = _Refresher(runtime)
    refresher.add(user_ids)
