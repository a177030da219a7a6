"""Each person's App Home through the Events API and its buttons: nothing, a few things, 300
items (within Block Kit's 100 blocks), another person's private incident, and the refresh when
something of theirs changes."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from sqlalchemy import select

from bot import home
from bot.models import ActionStatus, Incident
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare
from tests.followup_steps import DAN, closed_incident, t
from tests.harness import BotUnderTest, reply_text
from tests.nudge_steps import item_named, seed_items
from tests.postmortem_steps import run


def open_home(bot: BotUnderTest, user: str) -> dict[str, Any]:
    """Open the Home tab as Slack reports it, and return the view published for that person."""
    bot.settle()  # refreshes asked for earlier are out of the way
    before = len([c for c in bot.standin.calls_to("views.publish") if c.params.get("user_id") == user])
    response = bot.event(
        {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
    )
    assert response.status_code == 200
    bot.standin.wait_for("views.publish", count=before + 1, timeout=10, where=lambda c: c.params.get("user_id") == user)
    bot.settle()
    return published_home(bot, user)


def _view(call) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def published_home(bot: BotUnderTest, user: str, containing: str | None = None) -> dict[str, Any]:
    """The latest view published for this person (once one containing that text was published)."""
    bot.standin.wait_for(
        "views.publish",
        timeout=10,
        where=lambda c: (
            c.params.get("user_id") == user and not c.failed and (containing is None or containing in text(_view(c)))
        ),
    )
    bot.settle()
    calls = [c for c in bot.standin.calls_to("views.publish") if c.params.get("user_id") == user and not c.failed]
    return _view(calls[-1])


def text(view: dict[str, Any]) -> str:
    return reply_text({"blocks": view["blocks"]})


def item_rows(view: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith(home.ITEM_BLOCK)]


def press(bot: BotUnderTest, view: dict[str, Any], action_id: str, item_id: int, user: str) -> None:
    [button] = [
        e
        for b in view["blocks"]
        if b.get("block_id") == f"{home.ITEM_BLOCK}:{item_id}"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "trigger_id": "trigger-home",
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home", **view},
        "actions": [{**button, "block_id": f"{home.ITEM_BLOCK}:{item_id}", "action_ts": f"{time.time():.6f}"}],
    }
    assert bot.interaction(payload).status_code == 200


def test_a_person_with_nothing_sees_empty_sections_and_the_messages_tab_publishes_nothing(bot, db, standin):
    standin.add_user(DAN, name="dan", tz="UTC")
    bot.event({"type": "app_home_opened", "user": DAN, "channel": "D0DAN", "tab": "messages"})
    bot.settle()
    assert standin.calls_to("views.publish") == []
    view = open_home(bot, DAN)
    assert view["type"] == "home"
    shown = text(view)
    assert "*Your open action items* (0), overdue first" in shown and "Nothing open. :tada:" in shown
    assert "*Open incidents you take part in* (0)" in shown
    assert "*Postmortems you own or must review* (0)" in shown
    assert "*Upcoming review meetings* (0)" in shown


def test_a_few_things_overdue_first_with_working_buttons(bot, db, standin, clock):
    closed = closed_incident(bot)  # CAROL declared and commands; ANN and BOB wrote on it
    run(bot, t(15, 2), "role postmortem <@U0ANN|ann>", user=CAROL, channel=closed)
    run(bot, t(15, 3), "postmortem meeting tomorrow 10:00", user=CAROL, channel=closed)
    run(bot, t(15, 4), "action Add a pool saturation alert <@U0ANN|ann> by 2026-06-30 P1", user=CAROL, channel=closed)
    run(bot, t(15, 4), "action Load test at peak <@U0ANN|ann> by 2026-06-21", user=CAROL, channel=closed)
    running = declare(bot, "Search is slow sev3", user=BOB)
    run(bot, t(15, 6), "timeline 15:05 latency up", user=ANN, channel=running)
    run(bot, t(15, 7), "action Cache search results <@U0ANN|ann> by 2026-07-10", user=BOB, channel=running)
    declare(bot, "Unrelated outage sev3", user=DAN)

    bot.clock.set(t(15, 30))
    view = open_home(bot, ANN)
    shown = text(view)
    overdue = item_named(db, "Load test at peak")
    soon = item_named(db, "Add a pool saturation alert")
    later = item_named(db, "Cache search results")
    assert item_rows(view) == [f"home_item:{i.id}" for i in (overdue, soon, later)]  # overdue first
    assert "*overdue* since" in shown
    assert "*Open incidents you take part in* (1)" in shown and "Search is slow" in shown
    assert "Unrelated outage" not in shown
    assert "*Postmortems you own or must review* (1)" in shown and "*Draft* · you own it" in shown
    assert "*Upcoming review meetings* (1)" in shown and "Checkout returns 503" in shown

    press(bot, view, home.DONE_ACTION, overdue.id, ANN)
    view = published_home(bot, ANN, f"A{overdue.id} marked done by <@U0ANN>")
    assert item_rows(view) == [f"home_item:{i.id}" for i in (soon, later)]
    assert item_named(db, "Load test at peak").status == ActionStatus.DONE

    press(bot, view, home.SNOOZE_ACTION, soon.id, ANN)
    view = published_home(bot, ANN, f"A{soon.id} snoozed by <@U0ANN>")
    assert item_named(db, "Add a pool saturation alert").snoozed_until is not None
    assert ":zzz: snoozed until" in text(view)

    # a click on an item that is done meanwhile is refused on the Home tab itself
    press(bot, view, home.DONE_ACTION, later.id, ANN)
    published_home(bot, ANN, f"A{later.id} marked done")
    press(bot, view, home.DONE_ACTION, later.id, ANN)
    assert f"A{later.id} is already done" in text(published_home(bot, ANN, f"A{later.id} is already done"))


def test_three_hundred_items_stay_within_a_views_limits(bot, db, standin):
    channel = declare(bot, user=CAROL)
    seed_items(db, channel, 300, owner=ANN, by=CAROL, now=t(15, 0), due=dt.date(2026, 7, 1))
    view = open_home(bot, ANN)
    assert len(view["blocks"]) <= 100
    assert len(item_rows(view)) == home.ITEMS_WITH_BUTTONS
    shown = text(view)
    assert "*Your open action items* (300), overdue first" in shown
    assert f"…and {300 - home.ITEMS_WITH_BUTTONS} more. `/incident actions mine` lists them all." in shown
    assert not [c for c in standin.calls_to("views.publish") if c.failed]


def test_another_persons_private_incident_never_shows(bot, db, standin):
    secret = declare(bot, "Payroll data exposed sev1", user=CAROL)
    with db.unit_of_work() as session:
        session.scalar(select(Incident).where(Incident.channel_id == secret)).is_private = True
    run(bot, t(15, 1), "timeline 15:00 access revoked", user=BOB, channel=secret)
    run(bot, t(15, 2), "action Rotate the payroll keys <@U0BOB|bob>", user=CAROL, channel=secret)

    ann_sees = text(open_home(bot, ANN))
    assert "Payroll" not in ann_sees and "Rotate the payroll keys" not in ann_sees
    assert secret not in ann_sees
    bob_sees = text(open_home(bot, BOB))  # he took part: it is his
    assert "Payroll data exposed" in bob_sees and "Rotate the payroll keys" in bob_sees


def test_the_home_is_refreshed_when_something_of_theirs_changes(bot, db, standin):
    channel = closed_incident(bot)
    run(bot, t(15, 5), "postmortem review <@U0ANN|ann>", user=CAROL, channel=channel)
    # never opened: published because she is asked to review
    view = published_home(bot, ANN, "*In review* · you're asked to review it")
    assert "no review meeting yet (due by <!date^1782312420^" in text(view)  # 48 hours after 14:47
    assert "*Postmortems you own or must review* (1)" in text(view)
    run(bot, t(15, 10), "postmortem approve", user=ANN, channel=channel)
    assert "*Postmortems you own or must review* (0)" in text(
        published_home(bot, ANN, "*Postmortems you own or must review* (0)")
    )
