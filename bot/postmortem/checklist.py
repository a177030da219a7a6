"""The communication checklist of a postmortem: who was told, and who ticked it when.

Four items, shown as Block Kit checkboxes on the postmortem's message. Slack sends the whole
set of ticked boxes with each click; `apply_selection` turns that into changes of single items,
each kept with who and when (a box unticked keeps who unticked it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import ChecklistTick
from bot.slack import blocks as bk

ITEMS = {
    "stakeholders": "Internal stakeholders notified",
    "customer_post": "Customer-facing post published",
    "support": "Support briefed",
    "status_page": "Status page updated",
}
ACTION = "postmortem_checklist"


@dataclass(frozen=True)
class Tick:
    item: str
    label: str
    checked: bool
    by: str | None
    at: dt.datetime | None


def state(session: Session, incident_id: int) -> list[Tick]:
    rows = {r.item: r for r in session.scalars(select(ChecklistTick).where(ChecklistTick.incident_id == incident_id))}
    ticks = []
    for item, label in ITEMS.items():
        row = rows.get(item)
        ticks.append(
            Tick(
                item, label, bool(row and row.checked), row.changed_by if row else None, row.changed_at if row else None
            )
        )
    return ticks


def apply_selection(session: Session, incident_id: int, selected: set[str], *, by: str, now: dt.datetime) -> list[Tick]:
    """Make the stored state match the boxes ticked now; returns the items that changed."""
    changed = []
    for tick in state(session, incident_id):
        wanted = tick.item in selected
        if wanted == tick.checked:
            continue
        row = session.scalar(
            select(ChecklistTick).where(ChecklistTick.incident_id == incident_id, ChecklistTick.item == tick.item)
        )
        if row is None:
            try:
                with session.begin_nested():
                    row = ChecklistTick(
                        incident_id=incident_id, item=tick.item, checked=wanted, changed_by=by, changed_at=now
                    )
                    session.add(row)
            except IntegrityError:  # two clicks at once: the other one made the row
                row = session.scalar(
                    select(ChecklistTick).where(
                        ChecklistTick.incident_id == incident_id, ChecklistTick.item == tick.item
                    )
                )
        assert row is not None
        row.checked, row.changed_by, row.changed_at = wanted, by, now
        changed.append(Tick(tick.item, tick.label, wanted, by, now))
    return changed


def block(incident_id: int, ticks: list[Tick]) -> bk.Block:
    """The checkboxes, ticked as stored, in an actions block of their own."""
    options = [bk.option(tick.label, tick.item) for tick in ticks]
    initial = [bk.option(tick.label, tick.item) for tick in ticks if tick.checked]
    return bk.actions(bk.checkboxes(ACTION, options, initial=initial), block_id=f"postmortem-checklist-{incident_id}")
