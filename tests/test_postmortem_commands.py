"""Facts, close/reopen, re-render, final and public through /incident and the headline's buttons."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from bot.models import Fact, Incident, Milestone, Postmortem, Revision, TimelineEntry
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare
from tests.harness import reply_text
from tests.postmortem_steps import (
    at,
    close_and_wait,
    draft_files,
    headlines,
    run,
    seed_incident,
    stored_postmortem,
    wait_for_headline,
    wait_until_settled,
)


def facts_of(db):
    with db.unit_of_work() as session:
        return session.scalars(select(Fact).order_by(Fact.id)).all()


def test_facts_are_shown_back_with_ids_listed_edited_and_removed(bot, db):
    channel = declare(bot)
    reply = run(bot, at(14, 50), "cause Pool size was not checked at deploy time", channel=channel)
    first = facts_of(db)[-1]
    assert f"F{first.id}" in reply and "root causes and contributing factors" in reply
    run(bot, at(14, 50), "cause Load tests stop at half of peak traffic", channel=channel)
    listing = run(bot, at(14, 51), "cause", channel=channel)
    assert f"F{first.id}" in listing and "Load tests stop at half of peak traffic" in listing

    edited = run(
        bot, at(14, 52), f"edit F{first.id} Pool size was never validated by the deploy pipeline", channel=channel
    )
    assert "now reads" in edited
    assert facts_of(db)[0].text == "Pool size was never validated by the deploy pipeline"
    removed = run(bot, at(14, 53), f"remove F{first.id}", channel=channel)
    assert "Removed" in removed and "kept in its history" in removed
    assert facts_of(db)[0].removed_at is not None
    with db.unit_of_work() as session:
        actions = session.scalars(
            select(Revision.action).where(Revision.fact_id == first.id).order_by(Revision.id)
        ).all()
    assert actions == ["edit", "remove"]
    assert f"F{first.id}" not in run(bot, at(14, 54), "cause", channel=channel)


def test_fact_mistakes_change_nothing(bot, db):
    channel = declare(bot)
    assert "Say what to record" not in run(bot, at(14, 50), "went-well", channel=channel)  # empty: lists
    assert "Nothing recorded under _what went well_" in run(bot, at(14, 50), "went-well", channel=channel)
    assert "is not an id" in run(bot, at(14, 50), "edit F? new text", channel=channel)
    assert "no postmortem fact F99" in run(bot, at(14, 50), "edit F99 new text", channel=channel)
    run(bot, at(14, 50), "lucky Traffic was low on a Sunday", user=ANN, channel=channel)
    fact = facts_of(db)[-1]
    # BOB is neither the author, the commander nor the declarer
    assert "Only the fact's author" in run(bot, at(14, 51), f"remove F{fact.id}", user=BOB, channel=channel)
    assert facts_of(db)[-1].removed_at is None
    assert "limit is 3500" in run(bot, at(14, 51), "impact " + "x" * 3600, channel=channel)
    assert len(facts_of(db)) == 1


def test_the_last_summary_wins(bot, db):
    channel = declare(bot)
    run(bot, at(14, 50), "summary First attempt at a summary", channel=channel)
    reply = run(bot, at(14, 51), "summary Checkout returned 503 for 45 minutes", channel=channel)
    assert "It replaces" in reply
    _, headline, markdown = close_and_wait(bot, channel, at(14, 52))
    assert "Checkout returned 503 for 45 minutes" in markdown and "First attempt" not in markdown
    assert "Checkout returned 503 for 45 minutes" in reply_text(headline)


def test_user_text_is_data_and_broadcasts_are_neutralised(bot, db):
    channel = declare(bot, "Payments {{ 7*7 }} outage")
    run(bot, at(14, 50), "timeline 14:40 UTC config had {{ 7*7 }} and {% if true %}x{% endif %}", channel=channel)
    run(bot, at(14, 50), "summary <!channel> payments were down; <@U0BOB|bob> paged the team", channel=channel)
    run(bot, at(14, 50), "went-well {{ config.__class__ }} stayed literal", channel=channel)
    _, headline, markdown = close_and_wait(bot, channel, at(14, 51))
    assert "config had {{ 7*7 }} and {% if true %}x{% endif %}" in markdown
    assert "# Postmortem: Payments {{ 7*7 }} outage" in markdown
    assert "{{ config.__class__ }} stayed literal" in markdown
    assert "@channel payments were down; @bob paged the team" in markdown
    text = reply_text(headline)
    assert "<!channel>" not in text and "@channel payments were down" in text
    assert "<@U0BOB" not in text  # nobody is pinged by the headline
    assert "Payments {{ 7*7 }} outage" in text


def test_closing_twice_gives_one_close_and_one_draft(bot, db):
    channel = seed_incident(bot)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    again = run(bot, at(14, 49), "resolve", user=ANN, channel=channel)
    assert "already closed" in again and "<@U0CAROL>" in again
    assert len(draft_files(bot, channel)) == 1 and len(headlines(bot, channel)) == 1
    with db.unit_of_work() as session:
        resolved = session.scalar(
            select(func.count()).select_from(TimelineEntry).where(TimelineEntry.milestone == Milestone.RESOLVED)
        )
    assert resolved == 1


def test_two_simultaneous_closes_give_one_close_and_one_draft(bot, db):
    channel = seed_incident(bot)
    bot.clock.set(at(14, 48))
    results = []

    def close(user: str) -> None:
        results.append(bot.command("close 14:47 Metrics normal", user=user, channel=channel))

    threads = [threading.Thread(target=close, args=(user,)) for user in (CAROL, ANN, BOB)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = [r.text for r in results]
    assert sum("closed the incident" in t for t in texts) == 1, texts
    assert sum("already closed" in t for t in texts) == 2, texts
    wait_for_headline(bot, channel)
    wait_until_settled(bot, channel)
    assert len(draft_files(bot, channel)) == 1 and len(headlines(bot, channel)) == 1
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Postmortem)) == 1
        assert session.scalar(select(Incident.close_count)) == 1
        assert (
            session.scalar(
                select(func.count()).select_from(TimelineEntry).where(TimelineEntry.milestone == Milestone.RESOLVED)
            )
            == 1
        )


def test_close_uses_the_time_grammar_and_refuses_other_milestones(bot, db):
    channel = declare(bot)
    assert "records the *resolved* milestone" in run(bot, at(14, 50), "close 14:40 UTC mitigated: x", channel=channel)
    refused = run(bot, at(14, 50), "close 25:99 all clear", channel=channel)
    assert "14:05" in refused and "closed the incident" not in refused  # the near miss shows the accepted forms
    with db.unit_of_work() as session:
        assert session.scalar(select(Incident.status)).value == "open"
    # ANN is in Europe/Berlin: her 16:30 is 14:30 UTC
    run(bot, at(14, 50), "close 16:30 all clear", user=ANN, channel=channel)
    with db.unit_of_work() as session:
        entry = session.scalar(select(TimelineEntry).where(TimelineEntry.milestone == Milestone.RESOLVED))
        assert (entry.text, entry.occurred_at) == ("all clear", at(14, 30))


def test_reopen_undoes_a_close_and_the_next_close_makes_a_new_draft(bot, db):
    channel = seed_incident(bot)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    reply = run(bot, at(15, 0), "reopen", user=ANN, channel=channel)
    assert "reopened the incident" in reply
    with db.unit_of_work() as session:
        assert session.scalar(select(Incident.status)).value == "open"
        assert (
            session.scalar(
                select(func.count())
                .select_from(TimelineEntry)
                .where(TimelineEntry.milestone == Milestone.RESOLVED, TimelineEntry.removed_at.is_(None))
            )
            == 0
        )
    assert stored_postmortem(bot, channel).publish_state == "withdrawn"
    assert "out of date" in reply_text(headlines(bot, channel)[0])  # the old headline says so, without buttons
    assert "open already" in run(bot, at(15, 1), "reopen", channel=channel)

    _, headline, markdown = close_and_wait(bot, channel, at(15, 20), "close 15:15 Metrics normal again", count=2)
    assert "**Duration:** 1 hour 13 minutes (14:02–15:15 UTC)" in markdown
    assert len(headlines(bot, channel)) == 2 and len(draft_files(bot, channel)) == 2


def test_rerender_after_an_edit_and_mark_final_from_the_button(bot, db):
    channel = seed_incident(bot)
    _, headline, first = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    cause = next(f for f in facts_of(db) if f.text.startswith("Load testing"))
    run(bot, at(15, 0), f"edit F{cause.id} Load tests covered half of peak traffic", channel=channel)
    reply = run(bot, at(15, 1), "postmortem", channel=channel)
    assert "Re-rendered" in reply
    files = draft_files(bot, channel)
    assert len(files) == 2 and "Load tests covered half of peak traffic" in files[-1]
    assert len(headlines(bot, channel)) == 1  # the headline is updated, not repeated
    assert bot.standin.calls_to("chat.update")

    # ANN is not the commander (CAROL declared it): she may approve once asked to review
    assert "asked <@U0ANN> to review" in run(bot, at(15, 4), "postmortem review <@U0ANN|ann>", channel=channel)
    wait_until_settled(bot, channel)
    bot.clock.set(at(15, 5))
    response, response_url = bot.click(headlines(bot, channel)[0], "postmortem_final", user=ANN, channel=channel)
    assert response.status_code == 200
    bot.standin.wait_for_responses(1, where=lambda r: r.token == response_url.rsplit("/", 1)[-1])
    wait_until_settled(bot, channel)
    row = stored_postmortem(bot, channel)
    assert (row.status, row.finalized_by, row.finalized_at) == ("final", ANN, at(15, 5))
    final = draft_files(bot, channel)[-1]
    assert "| Status | Approved (approved by @ann on 2026-06-22 15:05 UTC) |" in final
    now_headline = headlines(bot, channel)[0]
    assert "*Approved*" in reply_text(now_headline)
    buttons = [
        e["action_id"]
        for b in now_headline["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "button"
    ]
    assert buttons == ["postmortem_rerender"]
    assert "already approved" in run(bot, at(15, 6), "postmortem final", channel=channel)


def test_final_needs_a_closed_incident_and_postmortem_words_are_checked(bot, db):
    channel = declare(bot)
    assert "Close the incident first" in run(bot, at(14, 50), "postmortem final", channel=channel)
    assert "Usage: `/incident postmortem`" in run(bot, at(14, 50), "postmortem later", channel=channel)
    assert "made when the incident closes" in run(bot, at(14, 50), "postmortem", channel=channel)
    assert headlines(bot, channel) == [] and draft_files(bot, channel) == []


def test_the_public_summary_has_no_names_no_timeline_and_no_review(bot, db):
    channel = seed_incident(bot)
    run(bot, at(14, 45), "impact <@U0ANN|ann> saw checkout fail for EU customers", channel=channel)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    reply = run(bot, at(14, 50), "postmortem public", channel=channel)
    assert "customer-facing summary" in reply
    public = draft_files(bot, channel, prefix="public-summary-")[-1]
    assert public.startswith("# Checkout API returns 503 — incident report")
    assert "Deploy v2.4.1 exhausted the DB connection pool" in public
    assert "14:02–14:47 UTC (45 minutes)" in public
    assert "the team saw checkout fail for EU customers" in public
    assert "We are making 3 changes" in public
    for internal in ("@", "Timeline", "wording review", "T1", "F1", "carol", "ivan"):
        assert internal not in public
    assert "I replaced 1 name or mention with “the team”" in reply


def test_the_public_summary_blanks_names_typed_as_words_and_says_so(bot, db):
    channel = seed_incident(bot)  # ivan and olga own action items; carol runs the incident
    run(
        bot,
        at(14, 45),
        "summary Ivan restarted the pool after olga's rollback; Carol kept the status page current.",
        channel=channel,
    )
    run(bot, at(14, 45), "cause The pool limit (set by @ivan in March) was too low for peak traffic.", channel=channel)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    reply = run(bot, at(14, 50), "postmortem public", channel=channel)
    public = draft_files(bot, channel, prefix="public-summary-")[-1]
    assert "the team restarted the pool after the team's rollback; the team kept the status page current." in public
    assert "The pool limit (set by the team in March) was too low for peak traffic." in public
    for name in ("ivan", "olga", "carol"):
        assert name not in public.lower()
    assert "I replaced 4 names or mentions with “the team”" in reply and "check that every sentence" in reply


def test_a_public_summary_without_names_has_no_warning(bot, db):
    channel = declare(bot, "Checkout API returns 503 sev2", user=ANN)
    run(bot, at(14, 45), "summary Checkout returned 503 for some customers.", user=ANN, channel=channel)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal", user=ANN)
    reply = run(bot, at(14, 50), "postmortem public", user=ANN, channel=channel)
    assert "customer-facing summary" in reply and "the team" not in reply
    assert "Checkout returned 503 for some customers." in draft_files(bot, channel, prefix="public-summary-")[-1]


def test_type_picks_the_template(bot, db):
    channel = declare(bot)
    assert "type is *default*" in run(bot, at(14, 50), "type", channel=channel)
    assert "is not a type" in run(bot, at(14, 50), "type nonsense", channel=channel)
    assert "security" in run(bot, at(14, 50), "type security", channel=channel)
    _, _, markdown = close_and_wait(bot, channel, at(14, 51))
    assert "**Restricted distribution.**" in markdown and "### Exposure" in markdown
    assert "| Type | security |" in markdown


def test_reopen_with_an_id_reopens_that_item_not_the_incident(bot, db):
    channel = seed_incident(bot)
    run(bot, at(14, 44), "done A1", channel=channel)
    close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    reply = run(bot, at(14, 50), "reopen A1", channel=channel)
    assert "reopened the incident" not in reply and "A1" in reply
    with db.unit_of_work() as session:
        assert session.scalar(select(Incident.status)).value == "closed"
    assert "is not an id" in run(bot, at(14, 50), "reopen T1", channel=channel)
