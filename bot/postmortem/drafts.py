"""The postmortem row: one per incident, holding the latest rendered draft and its publication.

Publication is a small state machine kept in the database, so nothing is lost when Slack fails
or the process stops: `pending` (due at next_attempt_at) → `publishing` (claimed; the claim runs
out at next_attempt_at) → `published`, or back to `pending` with backoff after a failure Slack may
recover from, or `failed` (given up; `/incident postmortem` starts over). `withdrawn`: the
incident was reopened. Claims are conditional UPDATEs, so one publisher works on a draft at a time.

A claim is a short lease that its publisher renews (`renew`) every few seconds while it works,
so the claim of a publisher that died (killed, out of memory, a lost node) runs out within
half a minute and the retry job or `/incident postmortem` takes the draft over; a live but
slow publisher (Slack answering late, a long Retry-After) keeps it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import rows_changed
from bot.errors import UserError
from bot.models import Postmortem

PENDING, PUBLISHING, PUBLISHED, FAILED, WITHDRAWN = "pending", "publishing", "published", "failed", "withdrawn"
CLAIM_LEASE = dt.timedelta(seconds=30)
HEARTBEAT_SECONDS = 5.0  # a live publisher renews its lease this often
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)
MAX_ATTEMPTS = 20  # about 13 hours of retrying before giving up


def get(session: Session, incident_id: int) -> Postmortem | None:
    return session.scalar(select(Postmortem).where(Postmortem.incident_id == incident_id))


def require(session: Session, incident_id: int) -> Postmortem:
    row = get(session, incident_id)
    if row is None:
        raise UserError("There is no postmortem draft yet: it is made when the incident closes (`/incident close`).")
    return row


def _ensure(session: Session, incident_id: int, variant: str) -> Postmortem:
    row = get(session, incident_id)
    if row is not None:
        return row
    row = Postmortem(
        incident_id=incident_id,
        status="draft",
        template=variant,
        markdown="",
        review=[],
        publish_state=PENDING,
        publish_attempts=0,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # made at the same moment by another request: use that one
        row = get(session, incident_id)
        assert row is not None
    return row


def prepare_for_close(session: Session, incident_id: int, variant: str, now: dt.datetime) -> Postmortem:
    """A fresh draft for this close, due for publication now, in a new headline message."""
    row = _ensure(session, incident_id, variant)
    row.status = "draft"
    row.finalized_at = row.finalized_by = None
    row.template = variant
    row.message_ts = row.file_id = row.file_url = None
    _due_now(row, now)
    session.flush()
    return row


def request_publication(session: Session, incident_id: int, variant: str, now: dt.datetime) -> Postmortem:
    """`/incident postmortem`: render from what is stored now and publish again (a new file,
    the same headline message)."""
    row = _ensure(session, incident_id, variant)
    if row.publish_state == PUBLISHING and row.next_attempt_at is not None and row.next_attempt_at > now:
        raise UserError(_busy_text(row.next_attempt_at, now))
    row.template = variant
    row.file_id = row.file_url = None
    _due_now(row, now)
    session.flush()
    return row


def _busy_text(lease_until: dt.datetime, now: dt.datetime) -> str:
    """What `/incident postmortem` says while a claim holds: whether its publisher is still heard from."""
    last_heard = lease_until - CLAIM_LEASE
    if now - last_heard <= dt.timedelta(seconds=3 * HEARTBEAT_SECONDS):
        return "The draft is being published right now; run `/incident postmortem` again in a few seconds."
    wait = max(1, int((lease_until - now).total_seconds()) + 1)
    return (
        f"The publication of this draft that started earlier has not reported progress for "
        f"{int((now - last_heard).total_seconds())} seconds (its process may have stopped). Its claim runs out "
        f"in {wait} seconds; then run `/incident postmortem` again, or wait: the background job takes it over."
    )


def _due_now(row: Postmortem, now: dt.datetime) -> None:
    row.publish_state = PENDING
    row.publish_attempts = 0
    row.next_attempt_at = now
    row.last_error = None


def claim(session: Session, postmortem_id: int, now: dt.datetime) -> int | None:
    """Take the draft for one publication attempt: the attempt number (the claim's token for
    `renew`), or None when it is not due or someone has it."""
    attempts = session.scalar(select(Postmortem.publish_attempts).where(Postmortem.id == postmortem_id))
    if attempts is None:
        return None
    result = session.execute(
        update(Postmortem)
        .where(
            Postmortem.id == postmortem_id,
            Postmortem.publish_attempts == attempts,
            Postmortem.publish_state.in_((PENDING, PUBLISHING)),
            or_(Postmortem.next_attempt_at.is_(None), Postmortem.next_attempt_at <= now),
        )
        .values(publish_state=PUBLISHING, next_attempt_at=now + CLAIM_LEASE, publish_attempts=attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return attempts + 1 if rows_changed(result) == 1 else None


def renew(session: Session, postmortem_id: int, attempt: int, now: dt.datetime) -> bool:
    """Extend this attempt's claim; False when it is no longer ours (taken over, or settled)."""
    result = session.execute(
        update(Postmortem)
        .where(
            Postmortem.id == postmortem_id,
            Postmortem.publish_attempts == attempt,
            Postmortem.publish_state == PUBLISHING,
        )
        .values(next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    return rows_changed(result) == 1


def due(session: Session, now: dt.datetime, limit: int = 20) -> list[int]:
    """Incident ids whose draft is due for a publication attempt (or whose claim ran out)."""
    query = (
        select(Postmortem.incident_id)
        .where(Postmortem.publish_state.in_((PENDING, PUBLISHING)), Postmortem.next_attempt_at <= now)
        .order_by(Postmortem.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def save_render(
    session: Session,
    postmortem_id: int,
    *,
    markdown: str,
    review: list[dict[str, Any]],
    template: str,
    now: dt.datetime,
) -> None:
    row = session.get(Postmortem, postmortem_id)
    assert row is not None
    row.markdown = markdown
    row.review = review
    row.template = template
    row.rendered_at = now


def record(session: Session, postmortem_id: int, **fields: Any) -> None:
    """Remember one publication step (file_id, canvas_id, message_ts …) as soon as it is done."""
    row = session.get(Postmortem, postmortem_id)
    assert row is not None
    for name, value in fields.items():
        setattr(row, name, value)


def record_success(session: Session, postmortem_id: int, now: dt.datetime) -> None:
    record(session, postmortem_id, publish_state=PUBLISHED, published_at=now, next_attempt_at=None, last_error=None)


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min … doubling up to an hour."""
    delay = FIRST_RETRY * (2 ** max(0, attempts - 1))
    return min(delay, LONGEST_RETRY)


def record_failure(session: Session, postmortem_id: int, now: dt.datetime, error: str, *, retry: bool) -> Postmortem:
    row = session.get(Postmortem, postmortem_id)
    assert row is not None
    row.last_error = error[:2000]
    if retry and row.publish_attempts < MAX_ATTEMPTS:
        row.publish_state = PENDING
        row.next_attempt_at = now + backoff(row.publish_attempts)
    else:
        row.publish_state = FAILED
        row.next_attempt_at = None
    return row


def withdraw(session: Session, incident_id: int) -> Postmortem | None:
    """The incident was reopened: stop publishing this draft."""
    row = get(session, incident_id)
    if row is not None:
        row.publish_state = WITHDRAWN
        row.next_attempt_at = None
    return row
