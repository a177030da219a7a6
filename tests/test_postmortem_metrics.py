"""Key times and durations from milestones, with and without them."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.models import Milestone
from bot.postmortem.metrics import human_duration, key_times
from tests.postmortem_steps import at, close_and_wait, run, seed_incident


def test_key_times_from_every_milestone():
    times = key_times(
        {
            Milestone.STARTED: at(14, 2),
            Milestone.DETECTED: at(14, 5),
            Milestone.ACKNOWLEDGED: at(14, 9),
            Milestone.MITIGATED: at(14, 31),
            Milestone.RESOLVED: at(14, 47),
        },
        at(13, 0),
        "sev2",
    )
    assert times.impact_start == at(14, 2) and times.start_from_milestone
    assert times.duration == dt.timedelta(minutes=45) == times.time_to_resolve
    assert times.time_to_detect == dt.timedelta(minutes=3)
    assert times.time_to_acknowledge == dt.timedelta(minutes=4)
    assert times.time_to_mitigate == dt.timedelta(minutes=29)
    assert times.missing == () and not times.monitoring_gap and not times.users_found_first


def test_without_a_started_milestone_the_earliest_entry_is_the_start():
    times = key_times({Milestone.RESOLVED: at(14, 47)}, at(14, 2), "sev3")
    assert times.impact_start == at(14, 2) and not times.start_from_milestone
    assert times.duration == dt.timedelta(minutes=45)
    assert times.time_to_detect is None and times.time_to_acknowledge is None and times.time_to_mitigate is None
    assert set(times.missing) == {Milestone.STARTED, Milestone.DETECTED, Milestone.ACKNOWLEDGED, Milestone.MITIGATED}


def test_nothing_recorded():
    times = key_times({}, None, "sev3")
    assert times.impact_start is None and times.duration is None
    assert human_duration(times.duration) == "not recorded"


@pytest.mark.parametrize(
    ("severity", "minutes", "gap", "users_first"),
    [
        ("sev1", 5, False, False),
        ("sev1", 6, True, False),
        ("sev2", 12, True, False),
        ("sev3", 12, False, False),
        ("sev3", 31, False, True),
        ("sev2", 45, True, True),
    ],
)
def test_monitoring_gap_rules(severity, minutes, gap, users_first):
    times = key_times(
        {Milestone.STARTED: at(14, 0), Milestone.DETECTED: at(14, 0) + dt.timedelta(minutes=minutes)}, None, severity
    )
    assert (times.monitoring_gap, times.users_found_first) == (gap, users_first)


def test_out_of_order_milestones_are_pointed_out():
    times = key_times({Milestone.STARTED: at(14, 10), Milestone.DETECTED: at(14, 5)}, None, "sev2")
    assert [str(p) for p in times.out_of_order()] == ["detected is before impact start"]
    assert human_duration(times.time_to_detect) == "-5 minutes"


IN_ORDER = {
    Milestone.STARTED: at(14, 2),
    Milestone.DETECTED: at(14, 5),
    Milestone.ACKNOWLEDGED: at(14, 9),
    Milestone.MITIGATED: at(14, 31),
    Milestone.RESOLVED: at(14, 47),
}


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (Milestone.STARTED, Milestone.DETECTED),
        (Milestone.STARTED, Milestone.ACKNOWLEDGED),
        (Milestone.DETECTED, Milestone.ACKNOWLEDGED),
        (Milestone.STARTED, Milestone.MITIGATED),
        (Milestone.STARTED, Milestone.RESOLVED),
        (Milestone.MITIGATED, Milestone.RESOLVED),
        (Milestone.DETECTED, Milestone.RESOLVED),
        (Milestone.ACKNOWLEDGED, Milestone.RESOLVED),
    ],
)
def test_every_implied_order_is_checked_on_its_own(earlier, later):
    # only these two milestones: no other pair can give the mistake away
    times = key_times({earlier: at(14, 30), later: at(14, 20)}, None, "sev2")
    name = "impact start" if earlier == Milestone.STARTED else earlier.value
    assert [str(p) for p in times.out_of_order()] == [f"{later.value} is before {name}"]
    swapped = key_times({earlier: at(14, 20), later: at(14, 30)}, None, "sev2")
    assert swapped.out_of_order() == []


def test_a_mitigation_after_resolution_is_pointed_out_among_all_milestones():
    assert key_times(IN_ORDER, None, "sev2").out_of_order() == []
    times = key_times({**IN_ORDER, Milestone.MITIGATED: at(14, 50)}, None, "sev2")
    assert [str(p) for p in times.out_of_order()] == ["resolved is before mitigated"]
    # detection and acknowledgement not separated by mitigation: unrelated milestones are not compared
    times = key_times({**IN_ORDER, Milestone.ACKNOWLEDGED: at(14, 40)}, None, "sev2")
    assert times.out_of_order() == []


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(seconds=0), "0 minutes"),
        (dt.timedelta(seconds=40), "under a minute"),
        (dt.timedelta(minutes=1), "1 minute"),
        (dt.timedelta(minutes=45), "45 minutes"),
        (dt.timedelta(hours=1), "1 hour"),
        (dt.timedelta(hours=1, minutes=5), "1 hour 5 minutes"),
        (dt.timedelta(days=2, hours=3, minutes=10), "2 days 3 hours 10 minutes"),
        (dt.timedelta(days=1, hours=1, minutes=50), "1 day 1 hour 50 minutes"),
        (dt.timedelta(days=1, minutes=5), "1 day 5 minutes"),
        (dt.timedelta(days=3, hours=2), "3 days 2 hours"),
        (dt.timedelta(days=1), "1 day"),
        (dt.timedelta(days=-1, hours=-1, minutes=-50), "-1 day 1 hour 50 minutes"),
    ],
)
def test_human_duration(delta, text):
    assert human_duration(delta) == text


def test_a_draft_without_milestones_uses_the_earliest_entry_and_asks_for_them(bot, db):
    channel = seed_incident(bot, milestones=False)
    _, headline, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    # the deploy at 14:02 is the earliest entry; close recorded `resolved`
    assert "**Duration:** 45 minutes (14:02–14:47 UTC)" in markdown
    assert "| Impact start | 2026-06-22 14:02 | from the earliest timeline entry |" in markdown
    assert "| Detected | not recorded | not recorded |" in markdown
    assert "- Time to detect: not recorded" in markdown
    assert "_Not recorded: detected, acknowledged, mitigated." in markdown
    # the review asks for each missing key time
    assert "**Impact start taken from the earliest entry** — key times" in markdown
    for milestone in ("detected", "acknowledged", "mitigated"):
        assert f"There is no `{milestone}` milestone on the timeline" in markdown
    assert "detect not recorded" in str(headline["blocks"])


def test_a_mitigation_recorded_after_the_resolution_is_pointed_out_in_the_draft(bot, db):
    channel = seed_incident(bot, milestones=False)
    run(bot, at(14, 46), "timeline 14:45 mitigated: Rolled back to v2.4.0", channel=channel)
    _, _, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:40 Metrics normal")
    key_section = markdown[markdown.index("## Key times") : markdown.index("## Timeline")]
    assert "_Check the times: resolved (2026-06-22 14:40) is before mitigated (2026-06-22 14:45)._" in key_section
    appendix = markdown[markdown.index("## Appendix: wording review") :]
    assert "**Key times out of order** — key times" in appendix
    assert "The resolved time (2026-06-22 14:40) is recorded before the mitigated time (2026-06-22 14:45)" in appendix


def test_a_slow_detection_is_called_a_monitoring_gap(bot, db):
    channel = seed_incident(bot)
    bot.clock.set(at(14, 45))
    bot.command("timeline 14:40 detected: a customer wrote to support", user="U0CAROL", channel=channel)
    _, headline, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    assert "Detection took 38 minutes, more than 5 minutes for a SEV2 incident: a monitoring gap." in markdown
    assert "did users find it before our monitoring did?" in markdown
    assert "Detection was slow" in str(headline["blocks"])
