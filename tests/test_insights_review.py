"""The periodic review: every figure against a hand computation for a small history, the DM with
its charts and CSV, the share button, bad periods, and the schedule posting once per period."""

from __future__ import annotations

import csv
import datetime as dt
import io
import struct

import pytest

from bot import cli
from bot.insights import review_delivery
from tests.conftest import ANN, BOB, CAROL
from tests.harness import utc
from tests.insight_steps import incident_in, items_of, make_private, past_incident, run
from tests.nudge_steps import cli_env

ASKED_AT = utc(2026, 7, 10, 12, 0)


def history(bot, db) -> dict[str, int]:
    """Q2 2026, by hand (all times UTC):

    #1 Apr 6 SEV1 checkout, alert: detect 4, ack +2, mitigate 20, resolve 60 min; postmortem final.
       A: ann, due Apr 20, done Apr 15 (on time, within 15 days)  B: bob, due Apr 20, done May 1 (late, outside policy)
    #2 May 11 SEV2 checkout, a customer: detect 40, ack +5, mitigate 70, resolve 120; draft waits since May 11.
       C: ann, due Jun 1, open (overdue)  D: nobody, due Aug 30, open  E: nobody, dropped "covered by A"
    #3 Jun 15 SEV3 search, nothing said about detection: detect 10, resolve 30; no items; draft since Jun 15.
    Outside: a private incident in May, and one from March.
    """
    first = past_incident(
        bot,
        utc(2026, 4, 6, 10),
        "Checkout pool exhausted service:checkout sev1",
        causes=("DB connection pool exhausted",),
        detection="The 5xx alert fired",
        detect_after=4,
        ack_after=6,
        mitigate_after=20,
        items=("Return connections <@U0ANN|ann> by 2026-04-20", "Add pool metrics <@U0BOB|bob> by 2026-04-20"),
    )
    a, b = items_of(db, first)
    bot.clock.set(utc(2026, 4, 6, 11))
    run(bot, "close 2026-04-06 11:00 UTC ok", channel=first)
    bot.clock.set(utc(2026, 4, 15, 9))
    run(bot, f"done A{a.id}", channel=first)
    bot.clock.set(utc(2026, 5, 1, 9))
    run(bot, f"done A{b.id}", channel=first)
    bot.clock.set(utc(2026, 5, 1, 9, 5))
    run(bot, "postmortem final", channel=first)

    second = past_incident(
        bot,
        utc(2026, 5, 11, 9),
        "Checkout errors service:checkout sev2",
        causes=("Connection pool exhausted after failover",),
        detection="A customer reported errors to support",
        detect_after=40,
        ack_after=45,
        mitigate_after=70,
        resolve_after=120,
        items=("Size the pool <@U0ANN|ann> by 2026-06-01", "Write a runbook by 2026-08-30", "Rewrite the driver"),
    )
    _c, _d, e = items_of(db, second)
    run(bot, f"drop A{e.id} covered by A{a.id}", channel=second)
    third = past_incident(bot, utc(2026, 6, 15, 8), "Search stale service:search", detect_after=10, resolve_after=30)
    hidden = past_incident(bot, utc(2026, 5, 20, 8), "Secret thing service:checkout", resolve_after=30)
    make_private(db, hidden)
    past_incident(bot, utc(2026, 3, 20, 8), "Old one service:checkout", resolve_after=30)
    bot.clock.set(ASKED_AT)
    return {
        "first": incident_in(db, first).id,
        "second": incident_in(db, second).id,
        "third": incident_in(db, third).id,
        "A": a.id,
        "E": e.id,
        "third_channel": third,
    }


def dm_review(standin, user: str) -> tuple[dict, list[dict]]:
    dm = standin.dm_channel(user)
    assert dm, "no direct message was opened"
    message = [m for m in standin.messages[dm] if "Incident review" in (m.get("text") or "")][-1]
    files = [f for f in standin.files.values() if dm in f["channels"]]
    return message, files


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_every_figure_of_the_review_matches_the_hand_computation(bot, db, standin):
    ids = history(bot, db)
    reply = run(bot, "review 2026-Q2", channel="C0GENERAL", user=ANN)
    assert "The review of 2026-Q2 is in your direct messages" in reply
    standin.wait_for(
        "files.completeUploadExternal", where=lambda c: c.params.get("channel_id") == standin.dm_channel(ANN)
    )
    message, files = dm_review(standin, ANN)
    from tests.harness import reply_text

    text = reply_text(message)
    one, two, three = ids["first"], ids["second"], ids["third"]
    assert "*3 incidents* (SEV1 1, SEV2 1, SEV3 1)" in text
    assert (
        "Time to detect: median *10 minutes* · middle half 7 minutes – 25 minutes · range 4 minutes – 40 minutes "
        "(3 incidents)"
    ) in text
    assert (
        "Time to resolve: median *1 hour* · middle half 45 minutes – 1 hour 30 minutes · range 30 minutes – "
        "2 hours (3 incidents)"
    ) in text
    assert "Time to mitigate: median *45 minutes* · middle half 32 minutes – 58 minutes" in text
    assert "found by monitoring 1, by people 1, not recorded 1" in text
    assert f"SEV1/SEV2 detected after more than 5 minutes: 1 (#{two})" in text
    assert f"Detected after more than 30 minutes: 1 (#{two})" in text
    assert (
        "5 created · 1 done on time · 1 done late · 1 overdue · 1 open, not yet due · 1 dropped · "
        "1 open without an owner"
    ) in text
    assert "Done within the severity's due-date policy: *25%* (1 of 4 not dropped)" in text
    assert "• @ann: 2 created, 1 on time, 0 late, 1 overdue, 0 dropped" in text
    assert "• @bob: 1 created, 0 on time, 1 late, 0 overdue, 0 dropped" in text
    assert "• _nobody_: 2 created, 0 on time, 0 late, 0 overdue, 1 dropped" in text
    assert f"Dropped A{ids['E']} (#{two}): covered by A{ids['A']}" in text
    assert f"service *checkout*: 2 incidents (#{one}, #{two})" in text
    assert f"cause *connection*: 2 incidents (#{one}, #{two})" in text and "cause *pool*" in text
    assert "service *search*" not in text
    assert "*Postmortems not final*: 2" in text
    assert f"#{two} " in text and "closed 2026-05-11, waiting 60 days" in text
    assert "closed 2026-06-15, waiting 25 days" in text
    assert (
        f"• #{one} 2026-04-06 SEV1 · checkout" in text
        and "monitoring — 4 minutes · 2 minutes · 20 minutes · 1 hour" in text
    )
    assert "monitoring — 4 minutes · 2 minutes · 20 minutes · 1 hour — 2 items: 1 on time, 1 late" in text
    assert (
        "people — 40 minutes · 5 minutes · 1 hour 10 minutes · 2 hours — 3 items: 1 overdue, 1 open, 1 dropped" in text
    )
    assert "not recorded — 10 minutes · — · — · 30 minutes\n" in text + "\n"
    assert "Secret thing" not in text and "Old one" not in text

    by_name = {f["filename"]: f for f in files}
    assert set(by_name) == {"review-2026-Q2-durations.png", "review-2026-Q2-action-items.png", "review-2026-Q2.csv"}
    for name in ("review-2026-Q2-durations.png", "review-2026-Q2-action-items.png"):
        data = by_name[name]["content"]
        width, height = png_size(data)
        assert 600 <= width <= 1400 and 300 <= height <= 800 and 10_000 < len(data) < 400_000
    rows = list(csv.DictReader(io.StringIO(by_name["review-2026-Q2.csv"]["content"].decode())))
    incidents = {r["incident"]: r for r in rows if r["row"] == "incident"}
    assert set(incidents) == {str(one), str(two), str(three)}
    assert (incidents[str(two)]["minutes_to_detect"], incidents[str(two)]["minutes_to_resolve"]) == ("40.0", "120.0")
    assert incidents[str(two)]["detected_by"] == "people" and incidents[str(three)]["detected_by"] == "not recorded"
    assert (incidents[str(two)]["overdue"], incidents[str(two)]["dropped"], incidents[str(two)]["unowned"]) == (
        "1",
        "1",
        "1",
    )
    total = next(r for r in rows if r["row"].startswith("total"))
    assert (total["minutes_to_detect"], total["items_created"], total["done_within_policy"]) == ("10.0", "5", "1")
    owners = {r["owner"]: r for r in rows if r["row"] == "owner"}
    assert owners["ann"]["overdue"] == "1" and owners["bob"]["done_late"] == "1" and owners["nobody"]["dropped"] == "1"


def test_the_share_button_posts_the_review_where_it_was_asked(bot, db, standin):
    history(bot, db)
    standin.add_channel("C0OPS", "ops")
    run(bot, "review 2026-Q2", channel="C0OPS", user=BOB)
    standin.wait_for(
        "files.completeUploadExternal", where=lambda c: c.params.get("channel_id") == standin.dm_channel(BOB)
    )
    message, _ = dm_review(standin, BOB)
    http, response_url = bot.click(message, "review_share", user=BOB, channel=standin.dm_channel(BOB))
    assert http.status_code == 200
    token = response_url.rsplit("/", 1)[-1]
    answer = standin.wait_for_responses(1, where=lambda r: r.token == token)[0].payload
    assert "Shared the review of 2026-Q2 in <#C0OPS>" in answer["text"]
    shared = [m for m in standin.messages["C0OPS"] if "Incident review: 2026-Q2" in (m.get("text") or "")]
    assert len(shared) == 1
    assert "review_share" not in str(shared[0].get("blocks"))  # the channel's copy has no button
    assert any("C0OPS" in f["channels"] for f in standin.files.values() if f["filename"].endswith(".png"))


@pytest.mark.parametrize("period", ["last fortnight", "2026-Q5", "since 2026-13-01", "2026-13", "since 2027-01-01"])
def test_a_period_it_cannot_read_is_refused_with_the_forms(bot, db, standin, clock, period):
    clock.set(ASKED_AT)
    reply = run(bot, f"review {period}", channel="C0GENERAL", user=ANN)
    assert "`last 90 days`" in reply and "`2026-Q3`" in reply and "`since 2026-07-01`" in reply
    assert standin.dm_channel(ANN) is None  # nothing was sent


def test_the_default_is_the_last_90_days(bot, db, standin):
    history(bot, db)
    run(bot, "review", channel="C0GENERAL", user=CAROL)
    standin.wait_for(
        "files.completeUploadExternal", where=lambda c: c.params.get("channel_id") == standin.dm_channel(CAROL)
    )
    from tests.harness import reply_text

    text = reply_text(dm_review(standin, CAROL)[0])
    # 2026-04-12 … 2026-07-10: the April incident falls outside
    assert "Incident review: last 90 days (2026-04-12 – 2026-07-10)" in text and "*2 incidents*" in text


def review_posts(standin, channel: str) -> list[dict]:
    return [m for m in standin.messages.get(channel, []) if "Incident review: June 2026" in (m.get("text") or "")]


def test_the_schedule_posts_the_review_once_per_period_across_replicas(make_bot, db, standin, clock, capsys):
    env = {"REVIEW_SCHEDULE": "monthly", "REVIEW_CHANNEL": "#general"}
    bot = make_bot(**env)
    past_incident(bot, utc(2026, 6, 15, 8), "Search stale service:search", detect_after=10, resolve_after=30)
    clock.set(utc(2026, 7, 1, 8, 59))
    assert review_delivery.run_scheduled(bot.runtime).outcome == "not_due"  # due from 09:00 local
    clock.set(utc(2026, 7, 1, 9, 3))
    other = make_bot(**env)  # a second replica on the same database
    outcomes = [review_delivery.run_scheduled(b.runtime).outcome for b in (bot, other, bot)]
    assert outcomes == ["sent", "already_sent", "already_sent"]
    assert len(review_posts(standin, "C0GENERAL")) == 1
    assert any(f["filename"] == "review-2026-06-durations.png" for f in standin.files.values())
    clock.set(utc(2026, 7, 20, 9))  # later the same month, after a restart: still once
    assert review_delivery.run_scheduled(make_bot(**env).runtime).outcome == "already_sent"

    cli_settings = cli_env(standin, db.url, **env)
    assert cli.main(["review"], env=cli_settings, clock=clock) == 0
    assert "already out" in capsys.readouterr().out
    assert cli.main(["review", "--dry-run"], env=cli_settings, clock=clock) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "*1 incident*" in out and "review-2026-06.csv" in out
    assert len(review_posts(standin, "C0GENERAL")) == 1
    assert cli.main(["review", "--force"], env=cli_settings, clock=clock) == 0
    assert "posted the review of June 2026" in capsys.readouterr().out
    assert len(review_posts(standin, "C0GENERAL")) == 2
    clock.set(utc(2026, 8, 1, 9, 30))  # the next month: July's review (no incidents) goes out once
    assert review_delivery.run_scheduled(bot.runtime).outcome == "sent"
    assert review_delivery.run_scheduled(other.runtime).outcome == "already_sent"


def test_review_settings_are_checked_with_one_line_errors():
    from bot.settings import Settings, SettingsError

    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    with pytest.raises(SettingsError, match="REVIEW_SCHEDULE must be monthly or quarterly"):
        Settings.from_env({**base, "REVIEW_SCHEDULE": "weekly", "REVIEW_CHANNEL": "#x"})
    with pytest.raises(SettingsError, match="REVIEW_CHANNEL must name the channel"):
        Settings.from_env({**base, "REVIEW_SCHEDULE": "quarterly"})
    assert Settings.from_env(base).review_schedule is None


def test_a_busy_period_still_fits_one_slack_message_and_every_incident_is_in_the_csv():
    from zoneinfo import ZoneInfo

    from bot.insights import review, review_report
    from bot.insights.history import IncidentRecord, ItemRecord
    from bot.insights.periods import Period
    from bot.models import FactSection
    from bot.postmortem.metrics import key_times
    from bot.slack import blocks as bk

    start = utc(2026, 4, 1)
    records = []
    for n in range(1, 301):
        created = start + dt.timedelta(hours=7 * n)
        items = [
            ItemRecord(
                n * 10 + k,
                "x" * 300,
                f"U0OWNER{k}{n % 30}",
                dt.date(2026, 5, 1),
                ("open", "done", "dropped")[k % 3],
                created,
                created + dt.timedelta(days=3) if k % 3 else None,
                "a reason " * 40,
            )
            for k in range(6)
        ]
        records.append(
            IncidentRecord(
                id=n,
                title="A very long title about the checkout pool " * 8,
                severity="sev2",
                status="closed",
                incident_type="default",
                channel_id=f"C{n:08d}",
                channel_name=None,
                is_private=False,
                created_at=created,
                closed_at=created + dt.timedelta(hours=1),
                key_times=key_times({}, created, "sev2"),
                services=(f"service-{n % 20}", f"other-{n % 13}"),
                facts={FactSection.CAUSE: [f"cause{n % 17} and more words"]},
                items=items,
                postmortem_status="draft",
            )
        )
    period = Period(start, utc(2026, 7, 1), "2026-Q2", "2026-Q2")
    result = review.compute(records, period, now=utc(2026, 7, 10), zone=ZoneInfo("UTC"), due_days={"sev2": 30})
    report = review_report.build(result, {}, share_in="C0GENERAL", period_text="2026-Q2")
    bk.check_fits(report.blocks, report.text)  # raises past Slack's limits
    assert bk.text_size(report.blocks) <= bk.MAX_BLOCKS_TOTAL_TEXT
    text = " ".join(str(b) for b in report.blocks)
    assert "more in the CSV" in text and "review_share" in text
    rows = list(csv.DictReader(io.StringIO(report.files[2].content.decode())))
    assert sum(1 for r in rows if r["row"] == "incident") == 300


def test_a_review_claimed_but_never_posted_is_marked_missed_and_logged(make_bot, db, standin, clock, caplog):
    from sqlalchemy import select

    from bot.models import NudgeClaim
    from bot.nudges import claims

    bot = make_bot(REVIEW_SCHEDULE="monthly", REVIEW_CHANNEL="C0GENERAL")
    clock.set(utc(2026, 6, 1, 9, 5))
    stuck = claims.claim(db, "review", "C0GENERAL", "2026-05", worker="a-dead-replica", now=clock.now())
    assert stuck is not None  # it claimed May's review, then died before posting
    clock.set(utc(2026, 7, 1, 9, 5))
    assert review_delivery.run_scheduled(bot.runtime).outcome == "sent"  # June's goes out
    with db.unit_of_work() as session:
        may = session.scalar(select(NudgeClaim).where(NudgeClaim.kind == "review", NudgeClaim.period == "2026-05"))
    assert may.status == "missed"
    assert "the 2026-05 review to C0GENERAL was never posted" in caplog.text


def test_sharing_where_the_bot_is_not_a_member_says_how_to_fix_it(bot, db, standin, clock):
    standin.add_channel("C0NOTME", "elsewhere", bot_is_member=False)
    clock.set(ASKED_AT)
    run(bot, "review last 30 days", channel="C0NOTME", user=ANN)
    standin.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == standin.dm_channel(ANN))
    message, _ = dm_review(standin, ANN)
    assert "No incidents were declared in last 30 days" in str(message.get("blocks"))
    http, response_url = bot.click(message, "review_share", user=ANN, channel=standin.dm_channel(ANN))
    assert http.status_code == 200
    token = response_url.rsplit("/", 1)[-1]
    answer = standin.wait_for_responses(1, where=lambda r: r.token == token)[0].payload
    assert "I'm not a member there" in answer["text"] and "/invite @incident-bot" in answer["text"]
    assert not standin.messages.get("C0NOTME")
