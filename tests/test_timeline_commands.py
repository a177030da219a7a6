"""The timeline through /incident: explicit, relative and milestone entries, listing, edits."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from bot.models import Milestone, Revision, TimelineEntry
from bot.timegrammar import ACCEPTED_FORMS
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare
from tests.harness import utc


def entries(db):
    with db.unit_of_work() as session:
        return session.scalars(select(TimelineEntry).order_by(TimelineEntry.id)).all()


def test_clock_times_are_read_in_the_authors_own_zone(bot, db):
    channel = declare(bot)
    # ANN is in Europe/Berlin (UTC+2 in June); it is 14:50 UTC = 16:50 in Berlin.
    reply = bot.command("timeline 16:05 alert fired", user=ANN, channel=channel)
    entry = entries(db)[-1]
    assert entry.occurred_at == utc(2026, 6, 22, 14, 5)
    assert entry.recorded_at == utc(2026, 6, 22, 14, 50)
    assert f"<!date^{int(utc(2026, 6, 22, 14, 5).timestamp())}^" in reply.text
    assert f"T{entry.id}" in reply.text
    # BOB is in America/New_York (UTC-4): 10:05 there is 14:05 UTC
    bot.command("timeline 10:05 pager went off", user=BOB, channel=channel)
    assert entries(db)[-1].occurred_at == utc(2026, 6, 22, 14, 5)


def test_relative_explicit_zone_and_now(bot, db):
    channel = declare(bot)
    bot.command("timeline 1h30m ago deploy v2.4.1", user=ANN, channel=channel)
    bot.command("timeline 14:02 UTC deploy started", user=ANN, channel=channel)
    bot.command("timeline now all green", user=ANN, channel=channel)
    bot.command("timeline yesterday 23:50 UTC cert renewed", user=CAROL, channel=channel)
    got = [(e.occurred_at, e.text) for e in entries(db)[1:]]
    assert got == [
        (utc(2026, 6, 22, 13, 20), "deploy v2.4.1"),
        (utc(2026, 6, 22, 14, 2), "deploy started"),
        (utc(2026, 6, 22, 14, 50), "all green"),
        (utc(2026, 6, 21, 23, 50), "cert renewed"),
    ]


def test_a_bare_number_is_text_at_now(bot, db):
    channel = declare(bot)
    bot.command("timeline 503 errors rise", user=ANN, channel=channel)
    entry = entries(db)[-1]
    assert (entry.text, entry.occurred_at) == ("503 errors rise", utc(2026, 6, 22, 14, 50))


def test_near_misses_and_future_times_are_refused_and_store_nothing(bot, db):
    channel = declare(bot)
    before = len(entries(db))
    for text in ("timeline 25:99 db down", "timeline 14:5 db down", "timeline 2:05pmish db down"):
        reply = bot.command(text, user=ANN, channel=channel)
        assert ACCEPTED_FORMS in reply.text, reply.text  # the accepted forms are shown
    future = bot.command("timeline today 23:00 UTC later", user=CAROL, channel=channel)
    assert "future" in future.text
    assert len(entries(db)) == before


def test_milestones_last_one_given_wins(bot, db):
    channel = declare(bot)
    bot.command("timeline 14:05 UTC detected: alert fired", user=ANN, channel=channel)
    reply = bot.command("timeline detected: 14:06 UTC on-call saw it", user=ANN, channel=channel)
    assert "*detected* milestone" in reply.text
    from bot import timeline

    with db.unit_of_work() as session:
        found = timeline.milestones(session, entries(db)[0].incident_id)
        assert found[Milestone.DETECTED].text == "on-call saw it"
        assert found[Milestone.DETECTED].occurred_at == utc(2026, 6, 22, 14, 6)


def test_listing_is_in_time_order_and_only_for_the_asker(bot, db):
    channel = declare(bot)
    bot.command("timeline 14:31 UTC rolled back", user=ANN, channel=channel)
    bot.command("timeline 14:05 UTC alert fired", user=ANN, channel=channel)
    bot.command("timeline 14:23 UTC pool exhausted", user=ANN, channel=channel)
    listing = bot.command("timeline", user=BOB, channel=channel)
    assert listing.first["response_type"] == "ephemeral"
    text = listing.text
    positions = [text.index(t) for t in ("alert fired", "pool exhausted", "rolled back", "declared")]
    assert positions == sorted(positions)
    assert re.search(r"`T\d+` · <@U0ANN> · alert fired", text)


def test_long_timelines_come_in_pages_within_slacks_limits(bot, db, standin):
    channel = declare(bot)
    from bot import timeline
    from bot.models import Incident

    with db.unit_of_work() as session:
        incident = session.scalar(select(Incident))
        for i in range(400):
            timeline.add_entry(
                session,
                incident,
                text=f"step {i:03d} " + "x" * 60,
                author=ANN,
                occurred_at=utc(2026, 6, 22, 8, 0) + dt.timedelta(seconds=i),
                recorded_at=utc(2026, 6, 22, 14, 50),
            )
    listing = bot.command("timeline", user=ANN, channel=channel)
    assert all(r.rejected is None for r in standin.responses)
    assert "Page 1 of" in listing.text and "step 000" in listing.text and "step 399" not in listing.text
    pages = int(re.search(r"Page 1 of (\d+)", listing.text).group(1))
    seen = listing.text
    payload = listing.first
    for _ in range(pages - 1):
        http, response_url = bot.click(payload, "timeline_page_next", user=ANN, channel=channel)
        assert http.status_code == 200
        token = response_url.rsplit("/", 1)[-1]
        payload = standin.wait_for_responses(1, where=lambda r: r.token == token)[0].payload
        assert payload["replace_original"] is True
        from tests.harness import reply_text

        seen += reply_text(payload)
    assert all(f"step {i:03d}" in seen for i in range(400))
    assert all(r.rejected is None for r in standin.responses)


def test_edit_and_remove_keep_history_and_check_permissions(bot, db):
    channel = declare(bot)
    bot.command("timeline 14:05 UTC alert fired", user=BOB, channel=channel)
    entry_id = entries(db)[-1].id

    refused = bot.command(f"edit T{entry_id} 14:06 UTC nope", user=CAROL, channel=channel)
    assert "Only the entry's author" in refused.text
    edited = bot.command(f"edit T{entry_id} 14:07 UTC alert fired (PagerDuty)", user=BOB, channel=channel)
    assert f"T{entry_id} is now" in edited.text
    time_only = bot.command(f"edit t{entry_id} 14:08 UTC", user=ANN, channel=channel)  # ANN declared it
    assert "alert fired (PagerDuty)" in time_only.text
    entry = entries(db)[-1]
    assert (entry.occurred_at, entry.text) == (utc(2026, 6, 22, 14, 8), "alert fired (PagerDuty)")

    assert "Usage" in bot.command("remove", user=BOB, channel=channel).text
    assert "not an id" in bot.command("remove X1", user=BOB, channel=channel).text
    assert "no timeline entry T999" in bot.command("remove T999", user=BOB, channel=channel).text
    removed = bot.command(f"remove T{entry_id}", user=BOB, channel=channel)
    assert "Removed" in removed.text
    listing = bot.command("timeline", user=BOB, channel=channel)
    assert "alert fired" not in listing.text
    with db.unit_of_work() as session:
        history = session.scalars(select(Revision).where(Revision.entry_id == entry_id).order_by(Revision.id)).all()
        assert [(r.action, r.changed_by) for r in history] == [("edit", BOB), ("edit", ANN), ("remove", BOB)]
        assert history[0].before["text"] == "alert fired" and history[0].after["text"] == "alert fired (PagerDuty)"


def test_text_is_stored_as_typed_and_echoed_without_pinging_anyone(bot, db):
    channel = declare(bot)
    reply = bot.command("timeline 14:05 UTC <!here> saw p99 > 2s & 5xx <@U0BOB|bob>", user=ANN, channel=channel)
    assert entries(db)[-1].text == "<!here> saw p99 > 2s & 5xx <@U0BOB|bob>"
    assert "<!here>" not in reply.text and "@here" in reply.text
    assert "p99 &gt; 2s &amp; 5xx" in reply.text


def test_an_entry_too_long_to_show_whole_is_refused_and_nothing_stored(bot, db):
    channel = declare(bot)
    before = len(entries(db))
    reply = bot.command("timeline 14:05 UTC " + "x" * 2900, user=ANN, channel=channel)
    assert "the limit is 2800" in reply.text and "Split it" in reply.text
    assert len(entries(db)) == before
