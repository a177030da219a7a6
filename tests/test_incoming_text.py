"""Text with NUL characters: both databases treat it the same way (the NULs are dropped as it
arrives, before any Slack call), so a declare never fails after its channel was made."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import Incident, TimelineEntry
from tests.conftest import ANN
from tests.flows import declare


def test_a_nul_in_a_declare_is_dropped_before_the_channel_is_made(bot, db, standin):
    result = bot.command("declare Checkout\x00 returns 503\x00 sev2", user=ANN, channel="C0GENERAL")
    assert "declared *Checkout returns 503*" in result.text
    assert "Something went wrong" not in result.text
    with db.unit_of_work() as session:
        [incident] = session.scalars(select(Incident)).all()
        assert incident.title == "Checkout returns 503"
        channel = incident.channel_id
    assert [c["name"] for c in standin.channels.values() if c["name"].startswith("inc-")] == [
        standin.channels[channel]["name"]
    ]


def test_a_nul_in_a_timeline_entry_is_stored_without_it_on_both_databases(bot, db):
    channel = declare(bot)
    result = bot.command("timeline 14:05 alert\x00 fired", user=ANN, channel=channel)
    assert "Added *T" in result.text
    with db.unit_of_work() as session:
        texts = [e.text for e in session.scalars(select(TimelineEntry))]
    assert "alert fired" in texts
