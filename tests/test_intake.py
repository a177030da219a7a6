"""Acknowledged means stored: take-over of what a stopped process left (exactly once, its author
answered), visible acknowledgements, and one declare per person and title a minute."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from bot import intake, timeline
from bot.jobs import take_over_intake
from bot.models import InboxRequest, InboxState, Incident, NudgeClaim, TimelineEntry
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare
from tests.harness import reply_text

FORM = "application/x-www-form-urlencoded"
LEASE = dt.timedelta(seconds=60)


def entries_with(db, text: str) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(TimelineEntry).where(TimelineEntry.text == text))


def incidents_titled(db, title: str) -> list[Incident]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(Incident).where(Incident.title == title)))


def left_by_a_dead_process(
    db, surface: str, body: str, *, user: str, received_at: dt.datetime, state: InboxState = InboxState.PENDING
) -> intake.Held:
    """A request stored (and acknowledged) by a process that then died: its lease has run out."""
    held = intake.store(
        db,
        surface=surface,
        key=intake.dedup_key(surface, body),
        raw_body=body,
        content_type=FORM,
        user_id=user,
        worker="gone-host:4242:deadbeef",
        now=received_at,
        lease=LEASE,
    )
    assert held is not None
    if state is not InboxState.PENDING:
        with db.unit_of_work() as session:
            session.execute(update(InboxRequest).where(InboxRequest.id == held.id).values(state=state))
    return held


def state_of(db, row_id: int) -> InboxState:
    with db.unit_of_work() as session:
        return session.get(InboxRequest, row_id).state


# -- take-over, unit level -----------------------------------------------------------------------
def test_two_replicas_racing_to_take_over_win_each_request_exactly_once(db):
    start = dt.datetime(2026, 6, 22, 14, 0, tzinfo=dt.UTC)
    for round_ in range(3):
        dead = [
            intake.store(
                db,
                surface="command",
                key=f"k{round_}-{n}",
                raw_body="text=x",
                content_type=FORM,
                user_id=ANN,
                worker="dead",
                now=start,
                lease=LEASE,
            )
            for n in range(40)
        ]
        alive = intake.store(
            db,
            surface="command",
            key=f"alive{round_}",
            raw_body="text=y",
            content_type=FORM,
            user_id=ANN,
            worker="alive",
            now=start + LEASE,
            lease=LEASE,
        )
        now = start + LEASE + dt.timedelta(seconds=1)  # the dead ones' leases ran out; the live one's did not
        barrier = threading.Barrier(2)
        won: dict[str, list[int]] = {}

        def replica(name: str, barrier: threading.Barrier = barrier, won: dict = won, now: dt.datetime = now) -> None:
            barrier.wait()
            won[name] = [t.held.id for t in intake.take_over_stale(db, name, now=now, lease=LEASE)]

        threads = [threading.Thread(target=replica, args=(name,)) for name in ("replica-a", "replica-b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(won["replica-a"]).isdisjoint(won["replica-b"])
        assert sorted(won["replica-a"] + won["replica-b"]) == sorted(h.id for h in dead)
        assert alive.id not in won["replica-a"] + won["replica-b"]
        with db.unit_of_work() as session:
            holders = {row.id: row.claimed_by for row in session.scalars(select(InboxRequest))}
        for name in ("replica-a", "replica-b"):
            assert all(holders[i] == name for i in won[name])
        with db.unit_of_work() as session:  # settle this round's rows before the next
            session.execute(update(InboxRequest).values(state=InboxState.DONE))
        start += dt.timedelta(hours=1)


def test_a_request_of_a_process_that_died_on_this_host_is_taken_over_before_its_lease_runs_out(db):
    t0 = dt.datetime(2026, 6, 22, 14, 0, tzinfo=dt.UTC)
    me = intake.new_worker_id()
    host, namespace = me.split(":")[:2]
    here = f"{host}:{namespace}"
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # a process of this host that is gone
    holders = {
        "dead": f"{here}:{finished.pid}:0001",
        "alive": f"{here}:{os.getppid()}:0002",
        "this process, another runtime": f"{here}:{os.getpid()}:0003",
        "this process, an earlier life": f"{here}:{os.getpid()}:0004",
        "another host": f"elsewhere:{namespace}:{finished.pid}:0005",
        "another pid namespace": f"{host}:1{namespace}:{finished.pid}:0006",
    }
    stored = {
        name: intake.store(
            db,
            surface="command",
            key=name,
            raw_body="text=x",
            content_type=FORM,
            user_id=ANN,
            worker=worker,
            now=t0,
            lease=LEASE,
        )
        for name, worker in holders.items()
    }
    keeper = intake.LeaseKeeper(db, holders["this process, another runtime"], lambda: t0, LEASE).start()
    try:
        taken = intake.take_over_stale(db, me, now=t0 + dt.timedelta(seconds=1), lease=LEASE)  # no lease ran out
    finally:
        keeper.stop()
    assert sorted(t.held.id for t in taken) == sorted([stored["dead"].id, stored["this process, an earlier life"].id])


def test_a_slow_process_whose_request_was_taken_over_cannot_commit_its_effect(db):
    t0 = dt.datetime(2026, 6, 22, 14, 0, tzinfo=dt.UTC)
    slow = intake.store(
        db,
        surface="command",
        key="slow",
        raw_body="text=x",
        content_type=FORM,
        user_id=ANN,
        worker="slow",
        now=t0,
        lease=LEASE,
    )
    [taken] = intake.take_over_stale(db, "fast", now=t0 + LEASE, lease=LEASE)

    def effect(held: intake.Held, period: str) -> None:
        with intake.working_on(held), db.unit_of_work() as session:
            session.add(
                NudgeClaim(
                    kind="weekly",
                    channel_id="C1",
                    period=period,
                    status="sent",
                    claimed_by="x",
                    lease_until=t0,
                    attempts=1,
                )
            )
            intake.complete_in(session)

    with pytest.raises(intake.LeaseLost):
        effect(slow, "2026-W26")
    effect(taken.held, "2026-W27")
    with db.unit_of_work() as session:
        assert session.scalars(select(NudgeClaim.period)).all() == ["2026-W27"]  # the slow one's rolled back
    assert state_of(db, slow.id) is InboxState.ANSWERING
    assert not intake.mark_done(db, slow, now=t0) and intake.mark_done(db, taken.held, now=t0)
    assert intake.take_over_stale(db, "later", now=t0 + 10 * LEASE) == []


# -- take-over through the real app --------------------------------------------------------------
def test_a_command_a_stopped_process_left_is_carried_out_once_and_its_author_answered(bot, db, clock, standin):
    channel = declare(bot)
    body, response_url = bot.command_body("timeline 14:05 UTC cache flushed", user=ANN, channel=channel)
    left = left_by_a_dead_process(db, "command", body, user=ANN, received_at=clock.now() - dt.timedelta(minutes=2))
    taken = take_over_intake(bot.runtime)
    assert [t.held.id for t in taken] == [left.id]
    token = response_url.rsplit("/", 1)[-1]
    [reply] = standin.wait_for_responses(1, where=lambda r: r.token == token)
    assert "Added" in reply_text(reply.payload) and "cache flushed" in reply_text(reply.payload)
    bot.settle()
    assert entries_with(db, "cache flushed") == 1
    assert state_of(db, left.id) is InboxState.DONE
    clock.advance(dt.timedelta(minutes=5))
    assert take_over_intake(bot.runtime) == []  # nothing is carried out twice
    assert entries_with(db, "cache flushed") == 1


def test_a_command_whose_effect_was_in_is_only_confirmed_to_its_author(bot, db, clock, standin):
    channel = declare(bot)
    body, response_url = bot.command_body("timeline 14:05 UTC cache flushed", user=ANN, channel=channel)
    left = left_by_a_dead_process(
        db, "command", body, user=ANN, received_at=clock.now() - dt.timedelta(minutes=2), state=InboxState.ANSWERING
    )
    take_over_intake(bot.runtime)
    token = response_url.rsplit("/", 1)[-1]
    [reply] = standin.wait_for_responses(1, where=lambda r: r.token == token)
    assert "Done: `/incident timeline 14:05 UTC cache flushed`" in reply_text(reply.payload)
    bot.settle()
    assert entries_with(db, "cache flushed") == 0  # not done again: its effect was committed before
    assert state_of(db, left.id) is InboxState.DONE


def test_a_replay_after_the_response_url_expired_answers_by_direct_message(bot, db, clock, standin):
    channel = declare(bot)
    body, response_url = bot.command_body("timeline 14:05 UTC cache flushed", user=BOB, channel=channel)
    left_by_a_dead_process(db, "command", body, user=BOB, received_at=clock.now() - dt.timedelta(minutes=40))
    take_over_intake(bot.runtime)
    posted = standin.wait_for("chat.postMessage", where=lambda c: "cache flushed" in str(c.params.get("text")))
    assert posted[0].params["channel"] == standin.dm_channel(BOB)
    assert "Added" in posted[0].params["text"]
    assert "About `/incident timeline 14:05 UTC cache flushed`, carried out late" in posted[0].params["text"]
    bot.settle()
    token = response_url.rsplit("/", 1)[-1]
    assert [r for r in standin.responses if r.token == token] == []  # the dead response_url was not used
    assert entries_with(db, "cache flushed") == 1


def test_a_request_that_took_its_process_down_five_times_is_given_up_and_its_author_told(bot, db, clock, standin):
    channel = declare(bot)
    body, response_url = bot.command_body("timeline 14:05 UTC poison", user=ANN, channel=channel)
    left = left_by_a_dead_process(db, "command", body, user=ANN, received_at=clock.now() - dt.timedelta(minutes=2))
    with db.unit_of_work() as session:
        session.execute(update(InboxRequest).where(InboxRequest.id == left.id).values(attempts=intake.MAX_ATTEMPTS))
    take_over_intake(bot.runtime)
    token = response_url.rsplit("/", 1)[-1]
    [reply] = standin.wait_for_responses(1, where=lambda r: r.token == token)
    assert "could not carry out `/incident timeline 14:05 UTC poison`" in reply_text(reply.payload)
    bot.settle()
    assert entries_with(db, "poison") == 0 and state_of(db, left.id) is InboxState.DONE


def test_a_re_delivered_event_is_stored_and_carried_out_once(bot, db, standin):
    channel = declare(bot)
    ts = standin.add_message(channel, user=BOB, text="pool exhausted")
    standin.react(channel, ts, "pushpin", user=BOB)
    event = {
        "type": "reaction_added",
        "user": BOB,
        "reaction": "pushpin",
        "item_user": BOB,
        "item": {"type": "message", "channel": channel, "ts": ts},
    }
    responses = [bot.event(event, event_id="Ev0PIN1"), bot.event(event, event_id="Ev0PIN1", retry_num=1)]
    assert [r.status_code for r in responses] == [200, 200]
    bot.settle()
    assert len(standin.calls_to("chat.getPermalink")) == 1
    with db.unit_of_work() as session:
        rows = session.scalars(select(InboxRequest).where(InboxRequest.surface == "event")).all()
    assert [(r.dedup_key, r.state) for r in rows] == [("event:Ev0PIN1", InboxState.DONE)]
    # a message event the bot has no work for is not stored at all
    bot.event({"type": "message", "channel": channel, "user": BOB, "text": "chatter", "ts": "1.2"})
    bot.settle()
    with db.unit_of_work() as session:
        assert (
            session.scalar(select(func.count()).select_from(InboxRequest).where(InboxRequest.surface == "event")) == 1
        )


# -- visible acknowledgements and twins -----------------------------------------------------------
def test_commands_that_take_work_show_their_author_a_line_at_once(bot, db, standin):
    standin.delays["conversations.create"] = 3.0  # Slack is slow: the declare's own answer comes late
    declaring = bot.command("declare Checkout 503s sev2", user=ANN, channel="C0GENERAL", wait=False)
    assert declaring.http.status_code == 200
    assert declaring.http.text == "Declaring *Checkout 503s*…"  # a plain body: shown only to the author
    assert incidents_titled(db, "Checkout 503s") == []  # the line came before the work was done
    declaring.wait(timeout=15)
    assert "declared *Checkout 503s*" in declaring.text
    channel = incidents_titled(db, "Checkout 503s")[0].channel_id
    added = bot.command("timeline 14:05 UTC alert fired", user=ANN, channel=channel)
    assert added.http.text == "Adding to the timeline…" and "Added" in added.text
    listing = bot.command("timeline", user=ANN, channel=channel)
    assert listing.http.text == ""  # a read answers at once through its response_url: no line needed


def test_a_second_identical_declare_within_a_minute_says_already_declaring(bot, db, standin, clock):
    standin.delays["conversations.create"] = 2.0
    first = bot.command("declare Checkout 503s sev2", user=ANN, channel="C0GENERAL", wait=False)
    second = bot.command("declare checkout  503S sev2", user=ANN, channel="C0GENERAL", wait=False)
    assert "already declaring *checkout 503S*" in second.http.text and "being opened" in second.http.text
    first.wait(timeout=15)
    bot.settle()
    assert len(incidents_titled(db, "Checkout 503s")) == 1
    assert len(standin.calls_to("conversations.create")) == 1
    # once it exists, the answer points at its channel
    channel = incidents_titled(db, "Checkout 503s")[0].channel_id
    third = bot.command("declare Checkout 503s", user=ANN, channel="C0GENERAL", wait=False)
    assert f"see <#{channel}>" in third.http.text
    # another person may declare the same title; the same person may again after a minute
    standin.delays.clear()
    bot.command("declare Checkout 503s", user=BOB, channel="C0GENERAL")
    clock.advance(dt.timedelta(seconds=61))
    bot.command("declare Checkout 503s", user=ANN, channel="C0GENERAL")
    bot.settle()
    assert sorted(i.declared_by for i in incidents_titled(db, "Checkout 503s")) == [ANN, ANN, BOB]


def test_identical_declares_at_once_open_one_incident(bot, db, standin):
    standin.delays["conversations.create"] = 1.0
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda _: bot.command("declare Queue backlog sev1", user=CAROL, channel="C0GENERAL", wait=False),
                range(8),
            )
        )
    acks = sorted(r.http.text for r in results)
    assert acks.count("Declaring *Queue backlog*…") == 1, acks
    assert sum("already declaring" in a for a in acks) == 7
    deadline = time.monotonic() + 20
    while not incidents_titled(db, "Queue backlog") and time.monotonic() < deadline:
        time.sleep(0.05)
    bot.settle()
    assert len(incidents_titled(db, "Queue backlog")) == 1
    assert len(standin.calls_to("conversations.create")) == 1


def test_a_declare_that_failed_does_not_block_trying_again(bot, db, standin):
    standin.fail("conversations.create", status=400, error="restricted_action", times=1)
    failed = bot.command("declare Payments down sev1", user=ANN, channel="C0GENERAL")
    assert "Something went wrong" in failed.text
    assert incidents_titled(db, "Payments down") == []
    again = bot.command("declare Payments down sev1", user=ANN, channel="C0GENERAL")
    assert again.http.text == "Declaring *Payments down*…" and "declared *Payments down*" in again.text


def test_every_stored_request_is_settled_so_nothing_is_carried_out_twice(bot, db, clock, standin):
    from tests.test_message_capture import shortcut_payload, submission_payload

    channel = declare(bot)
    bot.command("timeline 14:03 UTC step 3", user=ANN, channel=channel)
    with db.unit_of_work() as session:  # enough entries for a second page of the timeline
        incident = session.scalar(select(Incident))
        for i in range(400):
            timeline.add_entry(
                session,
                incident,
                text=f"filler {i:03d} " + "x" * 60,
                author=ANN,
                occurred_at=clock.now() - dt.timedelta(hours=2, seconds=i),
                recorded_at=clock.now(),
            )
    listing = bot.command("timeline", user=ANN, channel=channel)
    _, click_url = bot.click(listing.first, "timeline_page_next", user=ANN, channel=channel)
    standin.wait_for_responses(1, where=lambda r: click_url.endswith(r.token))
    ts = standin.add_message("C0GENERAL", user=BOB, text="disk full on db-3")
    shortcut = shortcut_payload(bot, "C0GENERAL", ts, user=ANN)
    bot.interaction(shortcut)
    standin.wait_for("views.open", timeout=10)
    view = next(iter(standin.views.values()))
    incident_id = incidents_titled(db, "Checkout returns 503")[0].id
    refused = bot.interaction(submission_payload(view, user=ANN, incident_id=incident_id, when="25:99"))
    assert '"errors"' in refused.text  # shown in the modal: no work started for this one
    bot.interaction(submission_payload(view, user=ANN, incident_id=incident_id))
    standin.wait_for_responses(1, where=lambda r: shortcut["response_url"].endswith(r.token))
    bot.command("nonsense", user=ANN, channel=channel)
    bot.settle()

    def rows():
        with db.unit_of_work() as session:
            return session.execute(select(InboxRequest.surface, InboxRequest.state)).all()

    deadline = time.monotonic() + 10  # the shortcut's own thread settles its row just after answering
    while any(state is not InboxState.DONE for _, state in rows()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {surface for surface, _ in rows()} == {"command", "action", "shortcut", "view"}
    assert [row for row in rows() if row.state is not InboxState.DONE] == []
    entries_before = entries_with(db, "step 3")
    clock.advance(dt.timedelta(hours=1))
    assert take_over_intake(bot.runtime) == []
    assert entries_with(db, "step 3") == entries_before == 1


def test_without_a_database_a_command_is_told_nothing_was_done_and_an_event_is_left_for_slack_to_resend(
    standin, clock, tmp_path
):
    from bot.db import Database
    from tests.conftest import bot_settings
    from tests.harness import BotUnderTest

    url = f"sqlite:///{tmp_path}/missing-dir/bot.db"  # cannot be opened: every write fails
    down = BotUnderTest(standin=standin, clock=clock, settings=bot_settings(standin, url)).start(Database(url))
    try:
        result = down.command("declare Checkout 503s", user=ANN, channel="C0GENERAL", wait=False)
        assert result.http.status_code == 200
        assert "nothing was done" in result.http.json()["text"]
        event = {
            "type": "reaction_added",
            "user": BOB,
            "reaction": "pushpin",
            "item_user": BOB,
            "item": {"type": "message", "channel": "C0GENERAL", "ts": "1.2"},
        }
        assert down.event(event).status_code == 503  # Slack re-sends it later
        down.settle()
        assert standin.calls_to("conversations.create") == [] and standin.responses == []
    finally:
        down.stop()
