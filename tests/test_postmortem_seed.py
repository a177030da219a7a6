"""The seed's example outage, entered as commands, becomes a complete draft at close."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from bot.models import EntrySource, TimelineEntry
from tests.harness import reply_text
from tests.postmortem_steps import at, close_and_wait, seed_incident, stored_postmortem


def test_the_seed_incident_closes_into_a_complete_draft(bot, db):
    channel = seed_incident(bot)
    reply, headline, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal, incident closed")

    assert "closed the incident" in reply and "draft follows" in reply
    # duration and key times, from the milestones
    assert "**Duration:** 45 minutes (14:02–14:47 UTC)" in markdown
    assert "| Detected | 2026-06-22 14:05 | 3 minutes to detect" in markdown
    assert "| Acknowledged | 2026-06-22 14:09 | 4 minutes to acknowledge" in markdown
    assert "| Mitigated | 2026-06-22 14:31 | 29 minutes to mitigate" in markdown
    # the timeline, in the order things happened, with clock times in the team's zone
    assert "## Timeline (times in UTC)" in markdown and "### Monday 22 June 2026" in markdown
    expected = [
        ("14:02", "**[started]** Deploy v2.4.1"),
        ("14:05", "**[detected]** 503 errors rise, alert fires"),
        ("14:06", "Incident declared by @carol"),
        ("14:09", "**[acknowledged]** On-call acknowledges the incident"),
        ("14:23", "Root cause found: DB connection pool exhausted"),
        ("14:31", "**[mitigated]** Rolled back to v2.4.0"),
        ("14:47", "**[resolved]** Metrics normal, incident closed"),
    ]
    positions = []
    for clock, text in expected:
        match = re.search(rf"^- \*\*{clock}\*\* {re.escape(text)}", markdown, re.MULTILINE)
        assert match, f"no timeline line {clock} {text}\n{markdown}"
        positions.append(match.start())
    assert positions == sorted(positions)
    # causes, trigger, what went well, detection, the summary
    for text in (
        "New code opened a connection per request without returning it to the pool.",
        "Load testing did not cover peak traffic.",
        "Deploy of v2.4.1",
        "The alert arrived within 3 minutes.",
        "The rollback took under 5 minutes.",
        "The 503-rate alert fired 3 minutes after the deploy.",
        "~30% of API requests returned 503",
        "Deploy v2.4.1 exhausted the DB connection pool",
    ):
        assert text in markdown
    # action items with owner, due date and priority, in their section; their bookkeeping is not "the timeline"
    assert "Action item A" not in markdown
    assert re.search(r"- \[ \] Return connections to the pool — owner @ivan — due Thu 25 Jun 2026 — P1", markdown)
    assert re.search(r"- \[ \] Add a peak load test — owner @olga — due Tue 30 Jun 2026 — P2", markdown)
    assert re.search(r"- \[ \] Alert on DB pool saturation — owner @ivan — due Sat 27 Jun 2026 — P1", markdown)
    # header, roles, follow-up, detection question; nothing left blank
    assert markdown.startswith("# Postmortem: Checkout API returns 503")
    assert "| Status | Draft |" in markdown and "| Severity | SEV2 |" in markdown
    assert "Commander @carol" in markdown
    assert "How would we have cut the time to detect (3 minutes) in half?" in markdown
    assert "Review meeting: by Thursday 25 June 2026" in markdown
    # a clean draft: the review stays quiet
    assert "_No notes: the wording reads blameless" in markdown
    assert "None" not in markdown

    headline_text = reply_text(headline)
    assert "Postmortem draft: Checkout API returns 503" in headline_text
    assert "duration *45 minutes*" in headline_text
    assert "wording review: no notes" in headline_text
    with db.unit_of_work() as session:
        entries = session.scalar(
            select(func.count())
            .select_from(TimelineEntry)
            .where(TimelineEntry.removed_at.is_(None), TimelineEntry.source != EntrySource.ACTION_ITEM)
        )
    assert f"{entries} timeline entries" in headline_text  # counted, not listed
    actions = [e["action_id"] for b in headline["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["postmortem_checklist", "postmortem_rerender", "postmortem_final"]

    row = stored_postmortem(bot, channel)
    assert row.publish_state == "published" and row.markdown == markdown and row.review == []
    assert row.file_id and row.message_ts == headline["ts"]
    # the canvas holds the same draft
    assert [c["markdown"] for c in bot.standin.canvases.values() if c["channel_id"] == channel] == [markdown]
    assert not bot.standin.internal_errors
    assert "postmortem" not in json.dumps([c.params for c in bot.standin.calls if c.failed])
