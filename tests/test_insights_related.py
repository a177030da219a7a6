"""Services, tags and related past incidents, through /incident as Slack sends it."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.models import IncidentLabel
from tests.conftest import ANN, BOB
from tests.flows import declare
from tests.harness import reply_text, utc
from tests.insight_steps import incident_in, make_private, past_incident, run


def _ids(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^• #(\d+) ", text, re.MULTILINE)]


def test_services_and_tags_show_in_topic_and_list_and_bad_names_change_nothing(bot, db, standin):
    channel = declare(bot, "Checkout returns 503 service:checkout,payments sev2")
    incident = incident_in(db, channel)
    assert incident.title == "Checkout returns 503"  # the service word left the title
    assert "| SEV2 | checkout, payments | open" in standin.channels[channel]["topic"]
    assert "checkout, payments" in run(bot, "list", channel="C0GENERAL")

    assert "`checkout`, `payments`" in run(bot, "service", channel=channel)
    reply = run(bot, "service checkout, search", channel=channel)
    assert "`checkout`, `search`" in reply
    assert "| checkout, search |" in standin.channels[channel]["topic"]
    bad = run(bot, "service check out!", channel=channel)
    assert "is not a service name" in bad and "/incident service checkout" in bad
    run(bot, "tag db pool", channel=channel)
    assert "`db`, `pool`, `hot`" in run(bot, "tag hot", channel=channel)
    assert "`db`, `hot`" in run(bot, "tag -pool", channel=channel)
    assert "is not a tag name" in run(bot, "tag <script>", channel=channel)
    with db.unit_of_work() as session:
        names = {(l.kind, l.name) for l in session.scalars(select(IncidentLabel))}
    assert names == {("service", "checkout"), ("service", "search"), ("tag", "db"), ("tag", "hot")}
    refused = run(bot, "declare Broken service:Bad/Name", channel="C0GENERAL")
    assert "is not a service name" in refused


def test_a_watch_on_a_service_names_that_service_on_the_incident(bot, db, standin):
    channel = declare(bot, "Checkout returns 503 sev2")
    run(bot, "watch service=payments env=prod", channel=channel)
    assert "`payments`" in run(bot, "service", channel=channel)
    assert "| payments |" in standin.channels[channel]["topic"]
    run(bot, "watch service=~pay.*", channel=channel)  # a pattern names no service
    run(bot, "watch service=payments", channel=channel)  # nor one it has already
    assert run(bot, "service", channel=channel).startswith("Services: `payments`.")


def test_related_incidents_are_ranked_with_reasons_for_a_known_history(bot, db, standin):
    same_both = past_incident(
        bot,
        utc(2026, 5, 4, 10),
        "Checkout DB pool exhausted service:checkout sev2",
        causes=("Leaked connections exhausted the DB connection pool",),
        items=("Return connections to the pool @ann", "Alert on pool saturation"),
        detect_after=4,
        resolve_after=50,
        tags="db",
    )
    words_only = past_incident(
        bot,
        utc(2026, 5, 20, 9),
        "Payments API slow service:payments",
        causes=("Connection pool exhausted after a config change",),
        resolve_after=30,
    )
    service_only = past_incident(
        bot,
        utc(2026, 6, 1, 9),
        "Checkout CSS broken service:checkout",
        causes=("Stylesheet missing from the CDN",),
        resolve_after=20,
    )
    past_incident(bot, utc(2026, 6, 2, 9), "Marketing email typo", causes=("Template typo",), resolve_after=10)
    hidden = past_incident(
        bot,
        utc(2026, 6, 3, 9),
        "Checkout DB pool exhausted again service:checkout",
        causes=("Leaked connections exhausted the DB connection pool",),
        resolve_after=10,
    )
    make_private(db, hidden)
    bot.clock.set(utc(2026, 6, 22, 14, 0))
    base = len(standin.calls_to("chat.postMessage"))
    channel = declare(bot, "Checkout 503s DB pool exhausted service:checkout sev2")
    run(bot, "tag db", channel=channel)
    run(bot, "cause Connection pool exhausted under load", channel=channel)

    shown = run(bot, "related", channel=channel, user=BOB)
    expected = [incident_in(db, c).id for c in (same_both, service_only, words_only)]
    assert _ids(shown) == expected, shown
    first = shown.split("\n• ")[1]
    assert "2026-05-04" in first and "SEV2" in first and "same service checkout" in first
    assert "shared tag db" in first and "shared words:" in first and "pool" in first
    assert "detected in 4 minutes, resolved in 50 minutes" in first
    assert "2 of its 2 items are still open" in first
    assert "shared words: pool, exhausted, connection" in shown.split("\n• ")[3]

    # the announcement at declare carried one context line naming the closest
    announcement = next(c for c in standin.calls_to("chat.postMessage")[base:] if c.params["channel"] == channel)
    text = reply_text(announcement.params)
    assert f"#{expected[0]}" in text and "Seen before?" in text and "items are still open" in text


def test_related_on_a_closed_incident_and_when_nothing_is_alike(bot, db):
    first = past_incident(
        bot, utc(2026, 6, 1, 9), "Search index stale service:search", causes=("Indexer cron stopped",), resolve_after=30
    )
    assert "No past incidents look like" in run(bot, "related", channel=first, user=ANN)
    bot.clock.set(utc(2026, 6, 10, 9))
    again = past_incident(
        bot,
        utc(2026, 6, 10, 9),
        "Search results stale service:search",
        causes=("Indexer cron stopped after a host move",),
        resolve_after=30,
    )
    assert _ids(run(bot, "related", channel=again)) == [incident_in(db, first).id]
    # editing a cause keeps the text search current: the old incident no longer shares those words
    incident = incident_in(db, first)
    with db.unit_of_work() as session:
        from bot.models import Fact

        fact_id = session.scalar(select(Fact.id).where(Fact.incident_id == incident.id))
    run(bot, f"edit F{fact_id} Disk full on the build agent", channel=first)
    shown = run(bot, "related", channel=again)
    assert "shared words: indexer" not in shown and "same service search" in shown


def test_help_lists_the_new_sub_commands(bot):
    text = run(bot, "help", channel="C0GENERAL")
    for usage in ("service <name>[, <name>…]", "tag <word>…", "`related`", "review [<period>]", "[service:<name>]"):
        assert usage in text, usage
