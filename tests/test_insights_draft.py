"""The draft learns from other incidents: the related list, the recurring-incident section with its
numbers, and the summary's first draft from the facts (and a person's summary replacing it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.insights.draft_context import summary_sentence
from bot.models import EntryKind, FactSection, Milestone
from bot.postmortem.metrics import key_times
from bot.postmortem.snapshot import (
    ActionValue,
    DraftSource,
    EntryValue,
    FactValue,
    IncidentValue,
    PostmortemValue,
)
from tests.conftest import ANN
from tests.harness import reply_text, utc
from tests.insight_steps import incident_in, items_of, past_incident, run
from tests.postmortem_steps import draft_files, wait_for_headline, wait_until_settled


def close_and_read(bot, channel: str, when: dt.datetime) -> str:
    bot.clock.set(when)
    run(bot, f"close {when:%Y-%m-%d %H:%M} UTC metrics normal", channel=channel)
    wait_for_headline(bot, channel)
    wait_until_settled(bot, channel)
    return draft_files(bot, channel)[-1]


def test_a_recurring_incident_gets_the_comparison_table_and_the_systemic_questions(bot, db):
    before = past_incident(
        bot,
        utc(2026, 5, 13, 10),
        "Checkout DB pool exhausted service:checkout sev2",
        trigger="Deploy of v2.3.0",
        causes=("Leaked connections exhausted the DB connection pool", "No alert on pool saturation"),
        detect_after=10,
        resolve_after=60,
        items=("Return connections to the pool", "Alert on pool saturation", "Rewrite the ORM"),
    )
    first, second, third = items_of(db, before)
    run(bot, f"done A{first.id}", channel=before)
    run(bot, f"drop A{third.id} too large for the gain", channel=before)
    long_ago = past_incident(
        bot,
        utc(2026, 1, 5, 10),
        "Checkout DB pool exhausted in January service:checkout",
        causes=("Connection pool exhausted",),
        resolve_after=30,
    )

    now = past_incident(
        bot,
        utc(2026, 6, 22, 14, 0),
        "Checkout 503s DB pool exhausted service:checkout sev2",
        causes=("Connection pool exhausted under load",),
        detect_after=5,
    )
    markdown = close_and_read(bot, now, utc(2026, 6, 22, 14, 45))
    old, older = incident_in(db, before).id, incident_in(db, long_ago).id
    headline = reply_text(wait_for_headline(bot, now))  # the channel sees it at close without opening the file
    assert "Seen before?" in headline and f"#{old} " in headline and "1 of its 2 items is still open" in headline
    assert "## Recurring incident" in markdown and "1 related incident in the last 90 days" in markdown
    assert (
        f"| #{old} Checkout DB pool exhausted | 2026-05-13 | SEV2 | 10 minutes | 1 hour | Deploy of v2.3.0 | "
        "Leaked connections exhausted the DB connection pool; No alert on pool saturation | 1 | 1 | 1 |"
    ) in markdown
    table = markdown[markdown.index("## Recurring incident") : markdown.index("### Questions for a systemic analysis")]
    assert f"#{older} " not in table  # related, but not within 90 days
    assert f"- Alert on pool saturation (#{old}, `A{second.id}`, due" in markdown  # what we promised last time
    assert "Which one change would break the pattern" in markdown
    assert "### Systemic analysis" in markdown  # the `recurring` variant was chosen
    related = markdown[markdown.index("## Related past incidents") :]
    assert (
        f"- #{old} Checkout DB pool exhausted (2026-05-13, SEV2; detected in 10 minutes, resolved in 1 hour)" in related
    )
    assert f"- #{older} " in related and "same service checkout" in related


def test_an_incident_seen_for_the_first_time_has_no_recurring_section(bot, db):
    channel = past_incident(
        bot, utc(2026, 6, 22, 14, 0), "Search index stale service:search", causes=("Indexer cron stopped",)
    )
    markdown = close_and_read(bot, channel, utc(2026, 6, 22, 14, 30))
    assert "## Recurring incident" not in markdown and "## Related past incidents" not in markdown
    assert "### Systemic analysis" not in markdown


def test_the_summary_is_drafted_from_the_facts_until_someone_writes_one(bot, db):
    channel = past_incident(
        bot,
        utc(2026, 6, 22, 14, 2),
        "Checkout returns 503 service:checkout sev2",
        causes=("New code opened a DB connection per request without returning it.",),
        mitigate_after=29,
        items=("Return connections to the pool", "Add a peak load test"),
    )
    run(bot, "impact About 30% of API requests returned 503", channel=channel)
    markdown = close_and_read(bot, channel, utc(2026, 6, 22, 14, 47))
    summary = markdown[markdown.index("## Summary") : markdown.index("## Impact")]
    assert (
        "On 22 June 2026, checkout was affected for 45 minutes: about 30% of API requests returned 503. "
        "The cause was new code opened a DB connection per request without returning it. "
        "We mitigated it, and are tracking 2 follow-ups."
    ) in summary
    assert "Drafted by incident-bot from the facts" in summary
    run(bot, "summary Deploy v2.4.1 exhausted the pool; 30% of requests failed for 45 minutes.", channel=channel)
    run(bot, "postmortem", channel=channel)
    wait_for_headline(bot, channel)
    bot.standin.wait_for("files.completeUploadExternal", count=2)
    wait_until_settled(bot, channel)
    rewritten = draft_files(bot, channel)[-1]
    summary = rewritten[rewritten.index("## Summary") : rewritten.index("## Impact")]
    assert "Deploy v2.4.1 exhausted the pool" in summary and "Drafted by incident-bot" not in summary


# -- the sentence, fact by fact (pure: the facts as the snapshot holds them) -------------------------
UTC = ZoneInfo("UTC")
START, RESOLVED = utc(2026, 6, 22, 14, 2), utc(2026, 6, 22, 14, 47)


def _source(*, impact: bool, cause: bool, mitigated: str | None, resolved: bool, items: int) -> DraftSource:
    entries = [EntryValue(1, START, "Deploy", ANN, EntryKind.MILESTONE, Milestone.STARTED)]
    if mitigated:
        entries.append(
            EntryValue(2, utc(2026, 6, 22, 14, 31), mitigated, ANN, EntryKind.MILESTONE, Milestone.MITIGATED)
        )
    if resolved:
        entries.append(EntryValue(3, RESOLVED, "Metrics normal", ANN, EntryKind.MILESTONE, Milestone.RESOLVED))
    facts = []
    if impact:
        facts.append(FactValue(1, FactSection.IMPACT, "About 30% of API requests returned 503.", ANN))
    if cause:
        facts.append(FactValue(2, FactSection.CAUSE, "DB pool too small for peak traffic", ANN))
        facts.append(FactValue(3, FactSection.CAUSE, "No load test", ANN))
    actions = [ActionValue(i, f"item {i}", None, None, "P2", None, "open", None) for i in range(items)]
    actions.append(ActionValue(99, "dropped one", None, None, "P2", None, "dropped", None))
    milestones = {e.milestone: e.occurred_at for e in entries if e.milestone}
    return DraftSource(
        incident=IncidentValue(
            7,
            "Checkout returns 503",
            "sev2",
            "closed",
            "default",
            "C1",
            "inc",
            ANN,
            ANN,
            None,
            None,
            START,
            RESOLVED,
            ANN,
        ),
        postmortem=PostmortemValue("draft", None, None),
        entries=entries,
        facts=facts,
        action_items=actions,
        key_times=key_times(milestones, START, "sev2"),
    )


FULL = {"impact": True, "cause": True, "mitigated": "Rolled back to v2.4.0", "resolved": True, "items": 2}


@pytest.mark.parametrize(
    ("changes", "services", "expected"),
    [
        (
            {},
            ("checkout",),
            (
                "On 22 June 2026, checkout was affected for 45 minutes: about 30% of API requests returned "
                "503. The cause was DB pool too small for peak traffic. We rolled back to v2.4.0, and are "
                "tracking 2 follow-ups."
            ),
        ),
        ({}, ("checkout", "payments", "search"), "On 22 June 2026, checkout, payments and search was affected"),
        ({}, (), "On 22 June 2026, the incident lasted 45 minutes: about 30% of API requests returned 503."),
        ({"impact": False}, ("checkout",), "On 22 June 2026, checkout was affected for 45 minutes. The cause"),
        ({"resolved": False}, ("checkout",), "On 22 June 2026, checkout was affected: about 30%"),
        (
            {"resolved": False, "impact": False},
            (),
            "On 22 June 2026, the cause was DB pool too small for peak traffic.",
        ),
        ({"cause": False}, ("checkout",), "returned 503. We rolled back to v2.4.0, and are tracking 2 follow-ups."),
        (
            {"mitigated": "Error rate back to normal"},
            ("checkout",),
            "It was mitigated (error rate back to normal), and we are tracking 2 follow-ups.",
        ),
        (
            {"mitigated": None},
            ("checkout",),
            "The cause was DB pool too small for peak traffic. We are tracking 2 follow-ups.",
        ),
        ({"items": 0}, ("checkout",), "We rolled back to v2.4.0."),
        ({"items": 1}, ("checkout",), "and are tracking 1 follow-up."),
    ],
)
def test_the_summary_sentence_takes_each_fact_it_has_and_leaves_out_the_rest(changes, services, expected):
    sentence = summary_sentence(_source(**{**FULL, **changes}), services, UTC)
    assert sentence is not None and expected in sentence, sentence
    if changes.get("items") == 0:
        assert "tracking" not in sentence
    if changes.get("cause") is False:
        assert "cause" not in sentence


def test_with_no_facts_there_is_no_sentence_at_all():
    assert (
        summary_sentence(_source(impact=False, cause=False, mitigated=None, resolved=False, items=0), (), UTC) is None
    )
    with_date_only = dataclasses.replace(_source(impact=False, cause=False, mitigated=None, resolved=False, items=0))
    assert summary_sentence(with_date_only, (), UTC) is None
