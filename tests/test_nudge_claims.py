"""The claim table's protocol on both databases: one winner, leases, take-over, settling, force."""

from __future__ import annotations

import datetime as dt
import threading

from bot.nudges import claims
from tests.harness import utc

NOW = utc(2026, 6, 29, 9, 0)
LEASE = dt.timedelta(minutes=10)


def test_of_many_simultaneous_claimers_exactly_one_wins(db):
    winners: list[str] = []
    start = threading.Barrier(8)

    def try_claim(number: int) -> None:
        start.wait()
        if claims.claim(db, "weekly", "C1", "2026-W27", worker=f"w{number}", now=NOW, lease=LEASE):
            winners.append(f"w{number}")

    threads = [threading.Thread(target=try_claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_a_live_lease_is_respected_and_an_expired_one_is_taken_over_once(db):
    first = claims.claim(db, "weekly", "C1", "2026-W27", worker="a", now=NOW, lease=LEASE)
    assert first is not None and not first.recovering
    assert (
        claims.claim(db, "weekly", "C1", "2026-W27", worker="b", now=NOW + dt.timedelta(minutes=9), lease=LEASE) is None
    )
    later = NOW + dt.timedelta(minutes=11)
    second = claims.claim(db, "weekly", "C1", "2026-W27", worker="b", now=later, lease=LEASE)
    assert second is not None and second.recovering and second.attempts == 2
    assert claims.claim(db, "weekly", "C1", "2026-W27", worker="c", now=later, lease=LEASE) is None
    # the first sender comes back too late: its outcome is not recorded over the new holder's
    assert claims.settle(db, first, claims.SENT, now=later, message_ts="1.1") is False
    assert claims.settle(db, second, claims.SENT, now=later, message_ts="2.2") is True
    row = claims.states(db, ("weekly",), "2026-W27")[("weekly", "C1")]
    assert (row.status, row.message_ts, row.claimed_by) == ("sent", "2.2", "b")


def test_settled_claims_are_left_alone_unless_forced(db):
    held = claims.claim(db, "weekly", "C1", "2026-W27", worker="a", now=NOW, lease=LEASE)
    claims.settle(db, held, claims.SENT, now=NOW, message_ts="1.1")
    much_later = NOW + dt.timedelta(days=2)
    assert claims.claim(db, "weekly", "C1", "2026-W27", worker="b", now=much_later, lease=LEASE) is None
    forced = claims.claim(db, "weekly", "C1", "2026-W27", worker="b", now=much_later, lease=LEASE, force=True)
    assert forced is not None and not forced.recovering  # forcing means "send again", not "find the old one"
    # a forced re-send still never overrides a live sender
    assert claims.claim(db, "weekly", "C1", "2026-W27", worker="c", now=much_later, lease=LEASE, force=True) is None


def test_a_failed_claim_is_retried_after_the_pause_and_other_periods_are_separate(db):
    held = claims.claim(db, "weekly", "C1", "2026-W27", worker="a", now=NOW, lease=LEASE)
    claims.settle(db, held, claims.FAILED, now=NOW, error="ratelimited")
    assert (
        claims.claim(db, "weekly", "C1", "2026-W27", worker="b", now=NOW + dt.timedelta(minutes=4), lease=LEASE) is None
    )
    retry = claims.claim(db, "weekly", "C1", "2026-W27", worker="b", now=NOW + dt.timedelta(minutes=6), lease=LEASE)
    assert retry is not None and retry.recovering
    assert claims.claim(db, "weekly", "C1", "2026-W28", worker="b", now=NOW, lease=LEASE) is not None
    assert claims.claim(db, "digest", "C1", "2026-W27", worker="b", now=NOW, lease=LEASE) is not None


def test_unsent_claims_of_past_periods_become_missed_once_their_sender_is_gone(db):
    live = claims.claim(db, "weekly", "C1", "2026-W27", worker="a", now=NOW, lease=LEASE)
    claims.claim(db, "weekly", "C2", "2026-W26", worker="a", now=NOW - dt.timedelta(days=7), lease=LEASE)
    sent = claims.claim(db, "weekly", "C3", "2026-W26", worker="a", now=NOW - dt.timedelta(days=7), lease=LEASE)
    claims.settle(db, sent, claims.SENT, now=NOW, message_ts="1.1")
    marked = claims.mark_missed(db, kinds=("weekly",), before_period="2026-W28", now=NOW + dt.timedelta(minutes=1))
    assert [row.channel_id for row in marked] == ["C2"]  # C1's sender still holds its lease; C3 was sent
    assert claims.missed_count(db, ("weekly",)) == 1
    assert (
        claims.mark_missed(db, kinds=("weekly",), before_period="2026-W28", now=NOW + dt.timedelta(minutes=20))[
            0
        ].channel_id
        == "C1"
    )
    assert claims.settle(db, live, claims.SENT, now=NOW, message_ts="9.9") is True  # a late success still counts
