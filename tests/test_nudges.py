"""The weekly nudge: grouping, buttons, once a week, fallbacks, privacy, the schedule across outages and DST."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from bot import cli
from bot.models import ActionStatus, NudgeClaim, Revision, TimelineEntry
from bot.nudges import weekly as nudges
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare
from tests.harness import utc
from tests.nudge_steps import (
    block_texts,
    button_rows,
    cli_env,
    dm_nudges,
    is_nudge,
    item_named,
    items,
    nudge_posts,
    posted_nudges,
    seed_items,
    text_of,
)

NEXT_MONDAY = utc(2026, 6, 29, 9, 5)  # the first nudge after the items filed on Monday 22 June


def test_one_message_per_channel_grouped_with_owner_due_date_priority_and_id(bot, db, standin, clock):
    channel = declare(bot)
    for command in (
        "action Overdue thing <@U0ANN> by 2026-06-24 P1",
        "action Soon thing <@U0BOB> by Jul 2",
        "action Unowned thing by Aug 30",
        "action Later thing <@U0CAROL> by Aug 30 type:prevent",
        "action Undated thing <@U0ANN>",
        "action Finished thing <@U0ANN>",
    ):
        bot.command(command, user=ANN, channel=channel)
    bot.command(f"done A{item_named(db, 'Finished thing').id}", user=ANN, channel=channel)
    with db.unit_of_work() as session:  # an item without a date (made before the due-date policy existed)
        session.get(type(item_named(db, "Undated thing")), item_named(db, "Undated thing").id).due_date = None
    quiet = declare(bot, "All fixed already sev3")
    bot.command("action Nothing left <@U0ANN>", user=ANN, channel=quiet)
    bot.command(f"done A{item_named(db, 'Nothing left').id}", user=ANN, channel=quiet)

    clock.set(NEXT_MONDAY)
    report = nudges.run_weekly(bot.runtime)

    assert report.sent == [f"weekly {channel}"]
    assert posted_nudges(standin, quiet) == []  # nothing open: nothing sent
    [message] = posted_nudges(standin, channel)
    texts = block_texts(message)
    order = [
        "*Overdue* (1)",
        "Overdue thing",
        "*Due within 7 days* (1)",
        "Soon thing",
        "*No owner* (1)",
        "Unowned thing",
        "*No due date* (1)",
        "Undated thing",
        "*Later* (1)",
        "Later thing",
    ]
    positions = [next(i for i, text in enumerate(texts) if part in text) for part in order]
    assert positions == sorted(positions)
    assert "Finished thing" not in text_of(message)
    overdue = next(t for t in texts if "Overdue thing" in t)
    assert f"`A{item_named(db, 'Overdue thing').id}` *P1*" in overdue and "<@U0ANN>" in overdue
    assert "*overdue* since Wed 24 Jun (5 days)" in overdue
    assert "due Thu 02 Jul (in 3 days)" in next(t for t in texts if "Soon thing" in t)
    assert "_no owner_" in next(t for t in texts if "Unowned thing" in t)
    assert "prevent" in next(t for t in texts if "Later thing" in t)
    assert "Checkout returns 503" in text_of(message)  # the incident
    assert len(button_rows(message)) == 5
    row = next(b for b in message["blocks"] if b.get("type") == "actions")
    assert [e["type"] for e in row["elements"]] == ["button", "button", "users_select"]
    assert [e.get("text", {}).get("text") for e in row["elements"][:2]] == [
        ":white_check_mark: Done",
        ":zzz: Snooze 1 week",
    ]


def test_an_incident_filed_after_the_scheduled_time_waits_for_next_week(bot, db, standin, clock):
    clock.set(utc(2026, 6, 29, 10, 0))  # Monday, after 09:00
    channel = declare(bot)
    bot.command("action Brand new item <@U0ANN>", user=ANN, channel=channel)
    clock.set(utc(2026, 6, 29, 10, 5))
    nudges.run_weekly(bot.runtime)
    assert posted_nudges(standin, channel) == []
    clock.set(utc(2026, 7, 6, 9, 0))
    nudges.run_weekly(bot.runtime)
    assert len(posted_nudges(standin, channel)) == 1


def test_pressing_done_snooze_and_reassign(bot, db, standin, clock):
    channel = declare(bot)
    for command in (
        "action Fix the retries <@U0ANN> by Jul 1",
        "action Add a canary <@U0BOB> by Jul 3",
        "action Write the runbook by Jul 10",
    ):
        bot.command(command, user=ANN, channel=channel)
    fix, canary, runbook = (item_named(db, t).id for t in ("Fix the retries", "Add a canary", "Write the runbook"))
    clock.set(NEXT_MONDAY)
    nudges.run_weekly(bot.runtime)
    [message] = posted_nudges(standin, channel)

    # Done: the item closes (kept as a revision and on the timeline) and the message changes in place
    http, _ = bot.click(message, "nudge_done", user=BOB, channel=channel, value=str(fix))
    assert http.status_code == 200
    standin.wait_for("chat.update", 1)
    [message] = posted_nudges(standin, channel)
    line = next(t for t in block_texts(message) if "Fix the retries" in t)
    assert ":white_check_mark: done by <@U0BOB>" in line
    assert f"nudge_item:{fix}" not in button_rows(message) and f"nudge_item:{canary}" in button_rows(message)
    assert item_named(db, "Fix the retries").status == ActionStatus.DONE
    with db.unit_of_work() as session:
        assert (
            session.scalar(select(Revision.changed_by).where(Revision.action_item_id == fix, Revision.action == "done"))
            == BOB
        )
        assert session.scalar(
            select(TimelineEntry.id).where(TimelineEntry.text.like(f"Action item A{fix} marked done%"))
        )

    # Snooze 1 week: out of next week's nudge, back the week after
    bot.click(message, "nudge_snooze", user=BOB, channel=channel, value=str(canary))
    standin.wait_for("chat.update", 2)
    [message] = posted_nudges(standin, channel)
    assert item_named(db, "Add a canary").snoozed_until == dt.date(2026, 7, 7)  # the day after next Monday's nudge
    assert ":zzz: snoozed until Tue 07 Jul" in next(t for t in block_texts(message) if "Add a canary" in t)
    assert f"nudge_item:{canary}" not in button_rows(message)

    # Reassign: a people picker
    bot.click(
        message,
        "nudge_reassign",
        user=CAROL,
        channel=channel,
        extra={"block_id": f"nudge_item:{runbook}", "selected_user": CAROL},
    )
    standin.wait_for("chat.update", 3)
    [message] = posted_nudges(standin, channel)
    assert item_named(db, "Write the runbook").owner_id == CAROL
    assert "<@U0CAROL>" in next(t for t in block_texts(message) if "Write the runbook" in t)
    picker = next(b for b in message["blocks"] if b.get("block_id") == f"nudge_item:{runbook}")["elements"][2]
    assert picker["initial_user"] == CAROL
    assert "Fix the retries" in text_of(message)  # the other lines stay, refreshed

    clock.set(utc(2026, 7, 6, 9, 5))
    nudges.run_weekly(bot.runtime)
    second = posted_nudges(standin, channel)[-1]
    assert "Write the runbook" in text_of(second)
    assert "Add a canary" not in text_of(second) and "Fix the retries" not in text_of(second)
    clock.set(utc(2026, 7, 13, 9, 5))
    nudges.run_weekly(bot.runtime)
    assert "Add a canary" in text_of(posted_nudges(standin, channel)[-1])


def test_pressing_done_on_an_item_closed_meanwhile_says_so_and_refreshes_the_message(bot, db, standin, clock):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    item = items(db)[0].id
    clock.set(NEXT_MONDAY)
    nudges.run_weekly(bot.runtime)
    [message] = posted_nudges(standin, channel)
    bot.command(f"done A{item}", user=ANN, channel=channel)
    _, response_url = bot.click(message, "nudge_done", user=BOB, channel=channel, value=str(item))
    token = response_url.rsplit("/", 1)[-1]
    [answer] = standin.wait_for_responses(1, where=lambda r: r.token == token)
    assert f"A{item} is already done" in answer.payload["text"]
    standin.wait_for("chat.update")
    assert ":white_check_mark: done by <@U0ANN>" in text_of(posted_nudges(standin, channel)[0])
    with db.unit_of_work() as session:
        assert [r.action for r in session.scalars(select(Revision).where(Revision.action_item_id == item))] == [
            "create",
            "done",
        ]


def test_a_second_nudge_in_the_same_week_sends_nothing_and_force_sends_again(bot, db, standin, clock, capsys):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    clock.set(utc(2026, 6, 22, 15, 0))
    env = cli_env(standin, db.url)

    assert cli.main(["nudge", "--dry-run"], env=env, clock=clock) == 0
    out = capsys.readouterr().out
    assert f"would send to {channel} (weekly)" in out and "Fix the retries" in out
    assert nudge_posts(standin) == {}

    assert cli.main(["nudge"], env=env, clock=clock) == 0
    assert f"sent: 1 (weekly {channel})" in capsys.readouterr().out
    clock.set(utc(2026, 6, 25, 11, 0))  # later the same week
    assert cli.main(["nudge"], env=env, clock=clock) == 0
    assert "nothing new to send" in capsys.readouterr().out
    nudges.run_weekly(bot.runtime)  # and the scheduler's sweep agrees
    assert nudge_posts(standin) == {(channel, "weekly", "2026-W26"): 1}

    assert cli.main(["nudge", "--force"], env=env, clock=clock) == 0
    assert f"sent: 1 (weekly {channel})" in capsys.readouterr().out
    assert nudge_posts(standin) == {(channel, "weekly", "2026-W26"): 2}


def test_a_dry_run_reads_the_claims_and_lists_only_what_a_real_run_would_send(bot, db, standin, clock, capsys):
    nudged = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=nudged)
    clock.set(utc(2026, 6, 22, 15, 0))
    env = cli_env(standin, db.url)
    assert cli.main(["nudge"], env=env, clock=clock) == 0
    capsys.readouterr()
    waiting = declare(bot, "Search is slow sev3", user=CAROL)
    bot.command("action Tune the cache <@U0BOB>", user=CAROL, channel=waiting)
    clock.set(utc(2026, 6, 23, 10, 0))

    assert cli.main(["nudge", "--dry-run"], env=env, clock=clock) == 0
    out = capsys.readouterr().out
    assert f"would send to {waiting} (weekly)" in out and "Tune the cache" in out
    assert f"would send to {nudged}" not in out and "Fix the retries" not in out
    assert f"{nudged} (weekly): already sent this week (use --force)" in out
    report = nudges.run_weekly(bot.runtime, on_schedule=False, dry_run=True)
    assert [p.target for p in report.planned] == [waiting]
    assert report.not_planned == [f"{nudged} (weekly): already sent this week (use --force)"]
    forced = nudges.run_weekly(bot.runtime, on_schedule=False, dry_run=True, force=True)
    assert sorted(p.target for p in forced.planned) == sorted([nudged, waiting]) and forced.not_planned == []
    assert nudge_posts(standin) == {(nudged, "weekly", "2026-W26"): 1}  # a dry run sends nothing
    with db.unit_of_work() as session:
        assert session.scalars(select(NudgeClaim.channel_id)).all() == [nudged]  # and records nothing


def test_an_archived_channel_falls_back_to_the_digest_channel(make_bot, db, standin, clock):
    standin.add_channel("C0DIGEST", "incident-digest")
    bot = make_bot(NUDGE_CHANNEL="#incident-digest")
    channel = declare(bot)
    bot.command("action Fix the retries <@U0BOB>", user=ANN, channel=channel)
    standin.channels[channel]["is_archived"] = True
    clock.set(NEXT_MONDAY)
    report = nudges.run_weekly(bot.runtime)
    assert report.gone == [f"weekly {channel}"] and report.sent == ["digest C0DIGEST"]
    [digest] = posted_nudges(standin, "C0DIGEST")
    assert "Fix the retries" in text_of(digest) and f"<#{channel}>" in text_of(digest)
    assert dm_nudges(standin, BOB) == []
    assert nudges.run_weekly(bot.runtime).sent == []  # once a week, also for the fallback


def test_without_a_digest_an_unreachable_channels_items_go_to_their_owners_by_dm(bot, db, standin, clock):
    archived = declare(bot)
    bot.command("action Fix the retries <@U0BOB>", user=ANN, channel=archived)
    bot.command("action Nobody owns this", user=ANN, channel=archived)
    removed = declare(bot, "Search is slow sev3", user=CAROL)
    bot.command("action Tune the cache <@U0BOB>", user=CAROL, channel=removed)
    standin.channels[archived]["is_archived"] = True
    standin.channels[removed]["is_member"] = False  # the bot was removed
    clock.set(NEXT_MONDAY)
    report = nudges.run_weekly(bot.runtime)
    assert sorted(report.gone) == sorted([f"weekly {archived}", f"weekly {removed}"])
    to_bob = dm_nudges(standin, BOB)  # one DM per unreachable incident channel
    assert sorted("Fix the retries" in text_of(m) for m in to_bob) == [False, True]
    assert sorted("Tune the cache" in text_of(m) for m in to_bob) == [False, True]
    assert all("Nobody owns this" not in text_of(m) for m in to_bob)
    [to_ann] = dm_nudges(standin, ANN)  # the commander hears about unowned items
    assert "Nobody owns this" in text_of(to_ann)
    nudges.run_weekly(bot.runtime)
    assert len(dm_nudges(standin, BOB)) == 2


def test_a_channel_found_unreachable_after_the_owners_dm_went_out_still_reaches_them(bot, db, standin, clock):
    archived = declare(bot)
    bot.command("action Fix the retries <@U0BOB>", user=ANN, channel=archived)
    failing = declare(bot, "Search is slow sev3", user=CAROL)
    bot.command("action Tune the cache <@U0BOB>", user=CAROL, channel=failing)
    standin.channels[archived]["is_archived"] = True
    standin.fail("chat.postMessage", status=500, times=4, channel=failing)  # past the client's retries
    clock.set(NEXT_MONDAY)
    first = nudges.run_weekly(bot.runtime)
    assert first.gone == [f"weekly {archived}"] and first.failed
    [to_bob] = dm_nudges(standin, BOB)
    assert "Fix the retries" in text_of(to_bob)
    standin.channels[failing]["is_archived"] = True  # archived before the retry
    clock.set(NEXT_MONDAY + dt.timedelta(hours=1))
    nudges.run_weekly(bot.runtime)
    texts = [text_of(m) for m in dm_nudges(standin, BOB)]
    assert len(texts) == 2 and "Tune the cache" in texts[1]


def test_a_private_incidents_items_never_appear_in_the_digest(make_bot, db, standin, clock):
    standin.add_channel("C0DIGEST", "incident-digest")
    standin.add_channel("C0OPS", "ops-incident")
    standin.add_channel("C0SECRET", "sec-incident", is_private=True)
    bot = make_bot(INCIDENT_CREATE_CHANNEL="false", NUDGE_CHANNEL="C0DIGEST")
    bot.command("declare Checkout returns 503 sev2", user=ANN, channel="C0OPS", channel_name="ops-incident")
    bot.command("declare Leaked signing key sev1", user=ANN, channel="C0SECRET", channel_name="sec-incident")
    bot.command("action Add retries to checkout <@U0BOB>", user=ANN, channel="C0OPS")
    bot.command("action Rotate the leaked signing key <@U0BOB>", user=ANN, channel="C0SECRET")

    clock.set(NEXT_MONDAY)
    nudges.run_weekly(bot.runtime)
    assert "Rotate the leaked signing key" in text_of(posted_nudges(standin, "C0SECRET")[0])
    [digest] = posted_nudges(standin, "C0DIGEST")
    assert "Add retries to checkout" in text_of(digest)

    # even when its own channel is gone, a private incident's items go to their owner, not the digest
    standin.channels["C0SECRET"]["is_archived"] = True
    clock.set(utc(2026, 7, 6, 9, 5))
    nudges.run_weekly(bot.runtime)
    assert "Rotate the leaked signing key" in text_of(dm_nudges(standin, BOB)[0])
    everything_in_digest = " ".join(text_of(m) for m in standin.messages["C0DIGEST"])
    assert "leaked" not in everything_in_digest.lower() and "C0SECRET" not in everything_in_digest
    assert len(posted_nudges(standin, "C0DIGEST")) == 2


def test_a_process_down_on_monday_sends_on_tuesday(bot, db, standin, clock):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    clock.set(utc(2026, 6, 29, 8, 55))  # Monday, before 09:00
    assert nudges.run_weekly(bot.runtime).due is False
    assert posted_nudges(standin, channel) == []
    clock.set(utc(2026, 6, 30, 10, 40))  # down through Monday; back on Tuesday
    assert nudges.run_weekly(bot.runtime).sent == [f"weekly {channel}"]
    clock.set(utc(2026, 7, 2, 16, 0))
    nudges.run_weekly(bot.runtime)
    assert nudge_posts(standin) == {(channel, "weekly", "2026-W27"): 1}


def _sweep_every(bot, clock, start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> list[dt.datetime]:
    """Tick the sweep from start to end; return the clock times at which a nudge went out."""
    sent_at = []
    clock.set(start)
    while clock.now() <= end:
        if nudges.run_weekly(bot.runtime).sent:
            sent_at.append(clock.now())
        clock.advance(step)
    return sent_at


def test_a_daylight_saving_week_sends_once_at_nine_local(make_bot, db, standin, clock):
    bot = make_bot(INCIDENT_TIMEZONE="Europe/Berlin")
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    quarter = dt.timedelta(minutes=15)
    # Summer time: 09:00 in Berlin is 07:00 UTC
    assert _sweep_every(bot, clock, utc(2026, 10, 19, 5, 0), utc(2026, 10, 19, 12, 0), quarter) == [
        utc(2026, 10, 19, 7, 0)
    ]
    # Clocks went back on Sunday 25 October: 09:00 is now 08:00 UTC, and it is sent once
    assert _sweep_every(bot, clock, utc(2026, 10, 26, 5, 0), utc(2026, 10, 27, 12, 0), quarter) == [
        utc(2026, 10, 26, 8, 0)
    ]
    assert nudge_posts(standin)[(channel, "weekly", "2026-W44")] == 1


def test_a_scheduled_time_the_spring_change_skips_sends_once_an_hour_later(make_bot, db, standin, clock):
    clock.set(utc(2026, 3, 20, 12, 0))
    bot = make_bot(INCIDENT_TIMEZONE="Europe/Berlin", NUDGE_SCHEDULE="sun 02:30")
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    # On 29 March 2026 Berlin's clocks jump from 02:00 to 03:00: 02:30 does not exist that day.
    sent = _sweep_every(bot, clock, utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 6, 0), dt.timedelta(minutes=10))
    assert sent == [utc(2026, 3, 29, 1, 30)]  # moved on by the gap: 03:30 CEST
    assert nudge_posts(standin)[(channel, "weekly", "2026-W13")] == 1


def test_a_week_that_ends_unsent_is_logged_and_counted(bot, db, standin, clock, caplog):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    clock.set(utc(2026, 7, 6, 9, 30))  # no process ran during the week of 29 June
    with caplog.at_level(logging.ERROR):
        report = nudges.run_weekly(bot.runtime)
    assert report.missed == 1 and report.sent == [f"weekly {channel}"]
    assert any(f"weekly nudge to {channel} for 2026-W27 was never sent" in r.getMessage() for r in caplog.records)
    assert nudges.missed_count(bot.runtime) == 1
    assert nudges.run_weekly(bot.runtime).missed == 0  # counted once
    assert nudges.missed_count(bot.runtime) == 1


def test_every_week_no_process_ran_is_logged_and_counted_once(bot, db, standin, clock, caplog, capsys):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    clock.set(NEXT_MONDAY)
    assert nudges.run_weekly(bot.runtime).sent == [f"weekly {channel}"]  # week 27 went out
    clock.set(utc(2026, 7, 27, 9, 30))  # nothing ran during the weeks of 6, 13 and 20 July
    with caplog.at_level(logging.ERROR):
        report = nudges.run_weekly(bot.runtime)
    assert report.missed == 3 and report.sent == [f"weekly {channel}"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    for week in ("2026-W28", "2026-W29", "2026-W30"):
        assert f"weekly nudge to {channel} for {week} was never sent" in logged
    assert "2026-W27 was never sent" not in logged
    assert nudges.missed_count(bot.runtime) == 3
    # another process (nothing remembered in memory) counts none of them again
    assert cli.main(["nudge"], env=cli_env(standin, db.url), clock=clock) == 0
    assert "nudges never sent in past weeks: 3" in capsys.readouterr().out
    assert nudges.missed_count(bot.runtime) == 3


def test_a_long_outage_is_counted_for_at_most_a_year_of_weeks(bot, db, standin, clock):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)  # filed in 2026-W26
    clock.set(utc(2027, 9, 6, 9, 30))  # 2027-W36: more than a year without a sweep
    assert nudges.run_weekly(bot.runtime).missed == nudges.MAX_WEEKS_BACK == 52
    with db.unit_of_work() as session:
        weeks = sorted(session.scalars(select(NudgeClaim.period).where(NudgeClaim.status == "missed")))
    assert (weeks[0], weeks[-1]) == ("2026-W37", "2027-W35")  # 2026 has 53 ISO weeks


def test_a_claim_whose_sender_kept_failing_all_week_is_counted_missed(bot, db, standin, clock, caplog):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    standin.fail("chat.postMessage", status=200, error="fatal_error")  # Slack answers ok:false
    clock.set(NEXT_MONDAY)
    assert nudges.run_weekly(bot.runtime).failed == [f"weekly {channel}"]
    with db.unit_of_work() as session:
        claim = session.scalar(select(NudgeClaim))
        assert (claim.status, claim.period) == ("failed", "2026-W27") and "fatal_error" in claim.last_error
    clock.set(utc(2026, 7, 6, 9, 30))
    with caplog.at_level(logging.ERROR):
        report = nudges.run_weekly(bot.runtime)
    assert report.missed == 1
    assert any("for 2026-W27 was never sent" in r.getMessage() for r in caplog.records)


def test_rate_limited_posts_wait_for_retry_after_and_arrive_once(bot, db, standin, clock):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    standin.fail("chat.postMessage", status=429, retry_after=1)
    clock.set(NEXT_MONDAY)
    assert nudges.run_weekly(bot.runtime).sent == [f"weekly {channel}"]
    posts = standin.calls_to("chat.postMessage")
    assert [c.status for c in posts if c.params.get("channel") == channel][-2:] == [429, 200]
    assert nudge_posts(standin) == {(channel, "weekly", "2026-W27"): 1}


def test_a_long_list_fits_one_message_and_points_to_the_full_list(bot, db, standin, clock):
    channel = declare(bot)
    seed_items(db, channel, 150, owner=BOB, by=ANN, now=clock.now())
    clock.set(NEXT_MONDAY)
    nudges.run_weekly(bot.runtime)
    [call] = [
        c for c in standin.calls_to("chat.postMessage") if c.params.get("channel") == channel and is_nudge(c.params)
    ]
    assert not call.failed  # within every Block Kit limit the stand-in checks
    [message] = posted_nudges(standin, channel)
    assert len(button_rows(message)) == 15
    note = message["blocks"][-1]["elements"][0]["text"]
    shown = sum(text.count("Item ") for text in block_texts(message))
    assert f"…and {150 - shown} more open items not shown here: `/incident actions` lists them all" == note
    assert shown >= 15


def test_a_sender_that_died_after_posting_is_not_repeated(bot, db, standin, clock):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    clock.set(NEXT_MONDAY)

    def die_after_posting(outgoing, posted):
        raise RuntimeError("process killed after chat.postMessage")

    nudges.run_weekly(bot.runtime, after_post=die_after_posting)
    assert nudge_posts(standin) == {(channel, "weekly", "2026-W27"): 1}
    assert nudges.run_weekly(bot.runtime).skipped == 1  # its lease still runs: left alone
    clock.advance(dt.timedelta(minutes=11))  # the lease ran out: taken over
    report = nudges.run_weekly(bot.runtime)
    assert report.recovered == [f"weekly {channel}"] and report.sent == []
    assert nudge_posts(standin) == {(channel, "weekly", "2026-W27"): 1}
    history = standin.calls_to("conversations.history")[-1]
    assert history.params["include_all_metadata"] in (True, "1", "true")
    with db.unit_of_work() as session:
        claim = session.scalar(select(NudgeClaim))
        assert (claim.status, claim.attempts, claim.message_ts) == ("sent", 2, posted_nudges(standin, channel)[0]["ts"])


def test_a_post_that_failed_is_retried_after_a_pause_and_sent_once(bot, db, standin, clock):
    channel = declare(bot)
    bot.command("action Fix the retries <@U0ANN>", user=ANN, channel=channel)
    standin.fail("chat.postMessage", status=200, error="fatal_error")  # not retried by the client
    clock.set(NEXT_MONDAY)
    assert nudges.run_weekly(bot.runtime).failed == [f"weekly {channel}"]
    assert nudges.run_weekly(bot.runtime).sent == []  # not before the retry pause
    clock.advance(dt.timedelta(minutes=6))
    assert nudges.run_weekly(bot.runtime).sent == [f"weekly {channel}"]
    assert nudge_posts(standin) == {(channel, "weekly", "2026-W27"): 1}
