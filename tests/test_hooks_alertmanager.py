"""A real Prometheus Alertmanager notifies the bot; the timeline shows its alerts at their own times."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bot.models import HookDelivery, SourceFact
from tests.conftest import ANN
from tests.flows import declare
from tests.harness import utc
from tests.hook_steps import HOOK_ENV, RealAlertmanager, api_alert, wait_until
from tests.metrics_steps import moved, scrape


@pytest.fixture
def alertmanager(bot_with_hooks):
    manager = RealAlertmanager(f"{bot_with_hooks.url}/hooks/alertmanager")
    yield manager
    manager.stop()


@pytest.fixture
def bot_with_hooks(make_bot):
    return make_bot(**HOOK_ENV)


def timeline_text(bot, channel: str) -> str:
    return bot.command("timeline", user=ANN, channel=channel).text


def timeline_with(bot, channel: str, wanted: str) -> str:
    """The timeline listing, once it shows `wanted`."""

    def read() -> str | None:
        text = timeline_text(bot, channel)
        return text if wanted in text else None

    # A real Alertmanager retries a slow delivery with backoff, and under a loaded suite may notify a
    # group's alerts one at a time (each entry then names its own host): wait for that, exactly.
    return wait_until(read, timeout=30.0, what=f"{wanted!r} on the timeline")


def count(db, model) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_alerts_posted_to_alertmanager_land_on_the_timeline_at_their_start_once(bot_with_hooks, alertmanager, db):
    bot = bot_with_hooks
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    started = utc(2026, 6, 22, 14, 31)
    alertmanager.post_alerts(
        [
            api_alert("HighErrorRate", started, instance="web-1"),
            api_alert("HighErrorRate", utc(2026, 6, 22, 14, 33), instance="web-2"),
            api_alert("DiskFull", started, service="billing"),
        ]
    )
    text = timeline_with(bot, channel, "HighErrorRate (web-2)")
    # Both alerts, each once, from the first alert's start; billing is not watched. (Alertmanager usually
    # sends the two in one notification — one entry, as tests/test_hooks.py shows with fixed payloads —
    # but a loaded machine can see it notify twice; either way nothing is doubled or lost.)
    assert text.count("HighErrorRate (web-1)") == 1 and text.count("HighErrorRate (web-2)") == 1, text
    assert f"<!date^{int(started.timestamp())}^" in text
    assert "DiskFull" not in text
    assert "[detected]" in text  # the earliest firing alert detected it
    # Alertmanager repeats the group every repeat_interval (2s here): still one entry.
    wait_until(lambda: count(db, HookDelivery) >= 1, what="a delivery")
    time.sleep(5)
    again = timeline_text(bot, channel)
    assert again.count("HighErrorRate (web-1)") == 1 and again.count("HighErrorRate (web-2)") == 1, again
    assert count(db, SourceFact) == 3


def test_a_resolved_alert_lands_at_its_end_and_keeps_detected_at_the_start(bot_with_hooks, alertmanager, db):
    bot = bot_with_hooks
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    started = utc(2026, 6, 22, 14, 31)
    alertmanager.post_alerts([api_alert("HighErrorRate", started)])
    timeline_with(bot, channel, "alertmanager firing")
    ended = utc(2026, 6, 22, 14, 44)
    alertmanager.post_alerts([{**api_alert("HighErrorRate", started), "endsAt": ended.strftime("%Y-%m-%dT%H:%M:%SZ")}])
    text = timeline_with(bot, channel, "alertmanager resolved")
    assert f"<!date^{int(ended.timestamp())}^" in text
    assert "*[detected]* alertmanager firing: HighErrorRate: HighErrorRate on checkout" in text
    assert text.count("[detected]") == 1


def test_alertmanager_with_the_wrong_token_changes_nothing(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    before = scrape(bot)
    manager = RealAlertmanager(f"{bot.url}/hooks/alertmanager", token="not-the-token-0123456789")
    try:
        manager.post_alerts([api_alert("HighErrorRate", utc(2026, 6, 22, 14, 31))])
        refused = {"source": "alertmanager", "outcome": "refused", "code": "401"}
        wait_until(
            lambda: moved(before, scrape(bot), "incident_bot_hook_deliveries_total", **refused), what="a refusal"
        )
    finally:
        manager.stop()
    assert count(db, HookDelivery) == 0 and count(db, SourceFact) == 0
    assert "alertmanager" not in timeline_text(bot, channel)
