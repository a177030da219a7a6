"""The postmortem's owner and status through /incident: Draft → In review → Approved, who may
move it, edits after approval, the history shown in the draft and on its message, and the
reminders that follow the status and go to the owner."""

from __future__ import annotations

from bot.errors import UserError
from bot.nudges import postmortem_reminders
from bot.nudges.claims import ChannelPacer
from bot.postmortem import drafts
from bot.postmortem import status as pm_status
from tests.conftest import ANN, BOB, CAROL
from tests.followup_steps import (
    DAN,
    closed_incident,
    dms,
    headline_text,
    history,
    latest_draft,
    status,
    t,
)
from tests.harness import utc
from tests.nudge_steps import dm_nudges, posted_nudges, text_of
from tests.postmortem_steps import draft_files, incident_id, run
from tests.test_message_capture import pin


def test_review_approve_and_who_may(bot, db):
    channel = closed_incident(bot)
    assert status(bot, channel) == "draft"
    assert "*Draft*" in headline_text(bot, channel)

    # nobody asked BOB yet, and he is not the commander (CAROL is)
    refused = run(bot, t(15, 5), "postmortem approve", user=BOB, channel=channel)
    assert "Only a reviewer or the commander (<@U0CAROL>) can approve" in refused
    assert status(bot, channel) == "draft" and history(bot, channel) == [("draft", CAROL, "incident closed")]

    assert "Name who should review it" in run(bot, t(15, 6), "postmortem review", user=ANN, channel=channel)
    assert "is not a person" in run(bot, t(15, 6), "postmortem review bob", user=ANN, channel=channel)
    assert status(bot, channel) == "draft"

    reply = run(bot, t(15, 10), "postmortem review <@U0BOB|bob>", user=ANN, channel=channel)
    assert "<@U0ANN> asked <@U0BOB> to review the postmortem" in reply and "now *In review*" in reply
    [asked] = dms(bot, BOB)
    assert "<@U0ANN> asks you to review the postmortem of *Checkout returns 503*" in asked
    assert "|the draft>" in asked and "/incident postmortem approve" in asked
    assert status(bot, channel) == "review"
    assert "*In review*" in headline_text(bot, channel)
    assert "| Reviewers | @bob |" in latest_draft(bot, channel)

    # asking again names nobody new: no second message
    assert "asked already" in run(bot, t(15, 11), "postmortem review <@U0BOB|bob>", user=ANN, channel=channel)
    assert len(dms(bot, BOB)) == 1

    assert "Only its reviewers (<@U0BOB>) or the commander" in run(
        bot, t(15, 12), "postmortem approve", user=DAN, channel=channel
    )
    assert status(bot, channel) == "review"

    assert "<@U0BOB> approved the postmortem" in run(bot, t(15, 20), "postmortem approve", user=BOB, channel=channel)
    assert status(bot, channel) == "final"
    draft = latest_draft(bot, channel)
    assert "| Status | Approved (approved by @bob on 2026-06-22 15:20 UTC) |" in draft
    assert (
        "| Status history | Draft (@carol, 2026-06-22 15:00) → In review (@ann, 2026-06-22 15:10) → "
        "Approved (@bob, 2026-06-22 15:20) |"
    ) in draft
    message = headline_text(bot, channel)
    assert "*Approved*" in message and "Status: Draft" in message and "Approved (<@U0BOB>" in message
    assert "already approved" in run(bot, t(15, 21), "postmortem final", user=CAROL, channel=channel)
    assert history(bot, channel) == [("draft", CAROL, "incident closed"), ("review", ANN, None), ("final", BOB, None)]


def test_editing_after_approval_puts_it_back_in_review_and_final_is_approve(bot, db):
    channel = closed_incident(bot)
    # the commander approves straight from the draft; `final` is the old name of approve
    assert "<@U0CAROL> approved the postmortem" in run(bot, t(15, 5), "postmortem final", user=CAROL, channel=channel)
    assert status(bot, channel) == "final"

    reply = run(bot, t(15, 30), "timeline 14:40 mitigated: rolled back", user=ANN, channel=channel)
    assert "Added" in reply and "puts it back *in review*" in reply
    assert status(bot, channel) == "review"
    [*_, last] = history(bot, channel)
    assert last[0:2] == ("review", ANN) and last[2].endswith("changed after approval")

    # a second edit while in review says nothing more
    assert "back *in review*" not in run(bot, t(15, 31), "impact 30% of checkouts failed", user=ANN, channel=channel)

    run(bot, t(15, 40), "postmortem approve", user=CAROL, channel=channel)
    fact_edit = run(bot, t(15, 50), "went-wrong Load tests skipped peak traffic", user=BOB, channel=channel)
    assert "back *in review*" in fact_edit and status(bot, channel) == "review"
    run(bot, t(15, 55), "postmortem", user=CAROL, channel=channel)  # re-render: the header shows the way back
    draft = draft_files(bot, channel)[-1]
    assert "| Status | In review |" in draft
    assert "In review (@ann, 2026-06-22 15:30: T" in draft and "changed after approval)" in draft
    assert [s for s, _, _ in history(bot, channel)] == ["draft", "final", "review", "final", "review"]


def test_the_postmortem_role_owns_the_write_up(bot, db):
    channel = closed_incident(bot)
    assert "postmortem: _the commander_" in run(bot, t(15, 1), "roles", user=ANN, channel=channel)
    reply = run(bot, t(15, 2), "role postmortem <@U0ANN|ann>", user=CAROL, channel=channel)
    assert "<@U0ANN> is now *postmortem*" in reply
    assert "postmortem: <@U0ANN> (owns the write-up)" in run(bot, t(15, 3), "roles", user=ANN, channel=channel)
    run(bot, t(15, 4), "postmortem", user=CAROL, channel=channel)
    assert "| Postmortem owner | @ann |" in latest_draft(bot, channel)
    assert "Owner <@U0ANN>" in headline_text(bot, channel)


def _remind(bot, clock, instant):
    clock.set(instant)
    return postmortem_reminders.run_daily(bot.runtime, pacer=ChannelPacer(0))


def test_reminders_go_to_the_owner_and_follow_the_status(bot, db, standin, clock):
    channel = closed_incident(bot)  # closed 2026-06-22
    run(bot, t(15, 2), "role postmortem <@U0ANN|ann>", user=CAROL, channel=channel)

    _remind(bot, clock, utc(2026, 6, 25, 9, 5))  # three days after the close: still a draft
    [draft_reminder] = dm_nudges(standin, ANN)
    assert "still a draft" in text_of(draft_reminder) and "/incident postmortem review @name" in text_of(draft_reminder)
    assert dm_nudges(standin, CAROL) == []  # the commander is not the owner any more
    assert "owner <@U0ANN>" in text_of(posted_nudges(standin, channel, "postmortem")[-1])

    run(bot, utc(2026, 6, 25, 10, 0), "postmortem review <@U0BOB|bob>", user=ANN, channel=channel)
    assert _remind(bot, clock, utc(2026, 6, 26, 9, 5)).sent == []  # in review for a day: quiet
    report = _remind(bot, clock, utc(2026, 6, 27, 9, 5))  # two days in review (the default setting)
    assert sorted(report.sent) == sorted([f"postmortem {channel}", f"postmortem_dm {channel}"])
    review_reminder = dm_nudges(standin, ANN)[-1]
    assert "in review for 2 days and nobody approved it" in text_of(review_reminder)
    assert "Reminder 1 of 7" in text_of(review_reminder)
    assert _remind(bot, clock, utc(2026, 6, 27, 18, 0)).sent == []  # once a day

    run(bot, utc(2026, 6, 27, 19, 0), "postmortem approve", user=BOB, channel=channel)
    assert _remind(bot, clock, utc(2026, 6, 28, 9, 5)).sent == []  # approved: no more reminders


def test_the_review_delay_is_a_setting(make_bot, db, standin, clock):
    bot = make_bot(POSTMORTEM_REVIEW_REMINDER_DAYS="4")
    channel = closed_incident(bot)
    run(bot, t(15, 10), "postmortem review <@U0BOB|bob>", user=CAROL, channel=channel)
    for day in (23, 24, 25):
        assert _remind(bot, clock, utc(2026, 6, day, 9, 5)).sent == []
    assert len(_remind(bot, clock, utc(2026, 6, 26, 9, 5)).sent) == 2
    assert "in review for 4 days" in text_of(dm_nudges(standin, CAROL)[-1])


def test_a_message_pinned_after_approval_puts_it_back_in_review(bot, db, standin):
    channel = closed_incident(bot)
    run(bot, t(15, 5), "postmortem approve", user=CAROL, channel=channel)
    ts = standin.add_message(channel, user=BOB, text="The pool was at 100% from 14:03")
    bot.clock.set(t(15, 20))
    pin(bot, channel, ts, user=ANN)
    bot.settle()
    assert status(bot, channel) == "review"
    [*_, last] = history(bot, channel)
    assert last[0:2] == ("review", ANN) and last[2].endswith("changed after approval")


def test_two_approvals_at_the_same_moment_keep_one_change(bot, db):
    channel = closed_incident(bot)
    number = incident_id(bot, channel)
    with db.unit_of_work() as first:  # what one approval read …
        seen = drafts.require(first, number)
        first.expunge(seen)
    assert seen.status == "draft"
    with db.unit_of_work() as second:  # … before the other one committed
        pm_status.approve(second, number, by=CAROL, now=t(15, 5))
    with db.unit_of_work() as first_again:
        stale = first_again.merge(seen, load=False)
        try:
            pm_status.record(first_again, stale, pm_status.APPROVED, by=CAROL, now=t(15, 5))
            raised = None
        except UserError as err:
            raised = str(err)
    assert raised is not None and "at the same moment (it is Approved now)" in raised
    assert [s for s, _, _ in history(bot, channel)] == ["draft", "final"]
