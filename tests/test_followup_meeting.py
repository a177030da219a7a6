"""The review meeting through /incident: future times read forward in the author's zone,
refusals that change nothing, the invitations and the hour-before reminders exactly once each
with three replicas sweeping, and moving the meeting."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.nudges.claims import ChannelPacer
from bot.postmortem import meeting
from tests.conftest import ANN, BOB, CAROL
from tests.flows import declare
from tests.followup_steps import DAN, closed_incident, latest_draft, t
from tests.nudge_steps import nudge_posts
from tests.postmortem_steps import run, stored_postmortem
from tests.test_message_capture import pin


def meeting_posts(standin, kind: str) -> dict[tuple[str, str], int]:
    """How many times each (DM channel, meeting time) got this kind of message."""
    return {(channel, period): count for (channel, k, period), count in nudge_posts(standin).items() if k == kind}


def test_the_meeting_reads_times_to_come_in_the_authors_zone(bot, db, standin):
    channel = closed_incident(bot)  # resolved Mon 2026-06-22 14:47 UTC
    # ANN is in Berlin: Thursday 15:00 there is 13:00 UTC, 70 hours after resolution
    reply = run(bot, t(15, 5), "postmortem meeting thu 15:00", user=ANN, channel=channel)
    assert "<@U0ANN> set the review meeting for <!date^1782392400^" in reply
    assert "(70 hours after resolution)" in reply
    assert "more than 48 hours after resolution" in reply
    assert stored_postmortem(bot, channel).meeting_at == t(13, 0, day=25)

    # CAROL is in UTC; a space before pm is read too
    reply = run(bot, t(15, 10), "postmortem meeting tomorrow 3:30 pm", user=CAROL, channel=channel)
    assert "moved the review meeting to" in reply and "(25 hours after resolution)" in reply
    assert "48 hours" not in reply
    assert stored_postmortem(bot, channel).meeting_at == t(15, 30, day=23)

    run(bot, t(15, 12), "postmortem meeting 2026-06-24 09:00 UTC", user=ANN, channel=channel)
    assert stored_postmortem(bot, channel).meeting_at == t(9, 0, day=24)
    draft = latest_draft(bot, channel)
    assert "- Review meeting: 2026-06-24 09:00 UTC (1 day 18 hours 13 minutes after resolution). Invited: " in draft


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("today 10:00", "`today 10:00` is 5h 5m in the past"),
        ("yesterday 16:00", "`yesterday 16:00` is 23h 5m in the past"),
        ("10m ago", "`10m ago` is in the past"),
        ("now", "`now` is not a time to come"),
        ("25:00", "hours go from 0 to 23"),
        ("thu 15:5", "minutes need two digits"),
        ("at 15:00", "leave out `at`"),
        ("thu 15:00 PST", "give the zone as `UTC`"),
        ("next week", "Give the meeting's time first"),
        ("2026-12-03 15:00 UTC", "more than 120 days away"),
        ("thu 15:00 dana", "`dana` is not a person"),
    ],
)
def test_refusals_show_the_forms_and_change_nothing(bot, db, standin, when, says):
    channel = closed_incident(bot)
    reply = run(bot, t(15, 5), f"postmortem meeting {when}", user=CAROL, channel=channel)
    assert says in reply
    assert "/incident postmortem meeting <when> [@observer…]" in reply or "thu 15:00" in reply
    assert stored_postmortem(bot, channel).meeting_at is None
    assert meeting_posts(standin, meeting.KIND_INVITE) == {}


def test_no_meeting_before_the_close(bot, db):
    channel = declare(bot, user=CAROL)
    assert "Close the incident first" in run(bot, t(15, 5), "postmortem meeting thu 15:00", user=CAROL, channel=channel)


def test_everyone_who_took_part_and_the_observers_are_invited_and_reminded_once_across_replicas(
    make_bot, db, standin, clock
):
    first = make_bot()
    channel = closed_incident(first)
    reply = run(first, t(15, 5), "postmortem meeting tomorrow 10:00 <@U0DAN|dan>", user=CAROL, channel=channel)
    assert "Invited: 4 people" in reply
    invites = meeting_posts(standin, meeting.KIND_INVITE)
    people = (CAROL, ANN, BOB, DAN)  # commander and declarer, timeline and fact authors, the observer
    assert invites == {(standin.dm_channel(user), "20260623T1000Z"): 1 for user in people}
    text = standin.messages[standin.dm_channel(DAN)][0]["text"]
    assert "You're invited: the postmortem review of *Checkout returns 503*" in text
    assert "I'll remind you an hour before" in text

    replicas = [first, make_bot(), make_bot()]
    pacer = ChannelPacer(0)

    def sweep_everywhere() -> None:
        with ThreadPoolExecutor(max_workers=len(replicas)) as pool:
            list(pool.map(lambda bot: meeting.sweep(bot.runtime, pacer=pacer), replicas))

    clock.set(t(8, 55, day=23))  # more than an hour before: no reminder yet, and no invitation again
    sweep_everywhere()
    assert meeting_posts(standin, meeting.KIND_REMINDER) == {}
    clock.set(t(9, 5, day=23))
    sweep_everywhere()
    clock.set(t(9, 30, day=23))
    sweep_everywhere()
    reminders = meeting_posts(standin, meeting.KIND_REMINDER)
    assert reminders == {(standin.dm_channel(user), "20260623T1000Z"): 1 for user in people}
    assert meeting_posts(standin, meeting.KIND_INVITE) == invites  # still once each
    clock.set(t(10, 30, day=23))  # after the meeting: nothing more
    sweep_everywhere()
    assert sum(nudge_posts(standin).values()) == 8


def test_whoever_pinned_a_message_is_invited_too(bot, db, standin):
    channel = declare(bot, user=CAROL)
    ts = standin.add_message(channel, user=CAROL, text="Pool at 100% since 14:03")
    bot.clock.set(t(14, 20))
    pin(bot, channel, ts, user=BOB)  # BOB wrote nothing himself: his pin is his part
    bot.settle()
    run(bot, t(14, 50), "close 14:47 Metrics normal", user=CAROL, channel=channel)
    bot.settle()
    reply = run(bot, t(15, 5), "postmortem meeting tomorrow 10:00", user=CAROL, channel=channel)
    assert "Invited: 2 people" in reply
    assert set(meeting_posts(standin, meeting.KIND_INVITE)) == {
        (standin.dm_channel(user), "20260623T1000Z") for user in (CAROL, BOB)
    }


def test_moving_the_meeting_tells_everyone_the_new_time_and_only_it_is_reminded(bot, db, standin, clock):
    channel = closed_incident(bot)
    run(bot, t(15, 5), "postmortem meeting tomorrow 10:00", user=CAROL, channel=channel)
    run(bot, t(15, 20), "postmortem meeting tomorrow 14:00", user=CAROL, channel=channel)
    invites = meeting_posts(standin, meeting.KIND_INVITE)
    for user in (CAROL, ANN, BOB):
        dm = standin.dm_channel(user)
        assert invites[(dm, "20260623T1000Z")] == 1 and invites[(dm, "20260623T1400Z")] == 1
        assert "moved to" in standin.messages[dm][-1]["text"]
    pacer = ChannelPacer(0)
    clock.set(t(9, 30, day=23))  # within the hour before the old time: it is gone
    meeting.sweep(bot.runtime, pacer=pacer)
    assert meeting_posts(standin, meeting.KIND_REMINDER) == {}
    clock.set(t(13, 10, day=23))
    meeting.sweep(bot.runtime, pacer=pacer)
    assert set(meeting_posts(standin, meeting.KIND_REMINDER)) == {
        (standin.dm_channel(user), "20260623T1400Z") for user in (CAROL, ANN, BOB)
    }
