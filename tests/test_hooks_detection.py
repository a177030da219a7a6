"""Detection from machines: the draft's key times say where they came from, its Detection section
says whether monitoring or people found the incident, and a gap proposes a one-click action item."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.models import ActionItem
from bot.postmortem import detection
from tests.conftest import CAROL
from tests.flows import declare
from tests.harness import reply_text
from tests.hook_steps import (
    HOOK_ENV,
    alertmanager_alert,
    alertmanager_payload,
    bearer,
    pagerduty_event,
    pagerduty_headers,
    post_hook,
)
from tests.postmortem_steps import at, close_and_wait, run


def test_a_late_alert_is_a_monitoring_gap_with_its_action_item_one_click_away(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    bot.clock.set(at(14, 12))
    channel = declare(bot, "Checkout API returns 503 service:checkout sev2", user=CAROL)
    run(bot, at(14, 12), "timeline 14:02 started: Deploy v2.4.1", channel=channel)
    alert = alertmanager_alert("HighErrorRate", at(14, 9))
    assert post_hook(bot, "alertmanager", alertmanager_payload([alert]), bearer()).status_code == 200
    ack = json.dumps(pagerduty_event("incident.acknowledged", at(14, 11))).encode()
    post_hook(bot, "pagerduty", ack, pagerduty_headers(ack))
    run(bot, at(14, 40), "timeline 14:31 mitigated: Rolled back", channel=channel)
    run(bot, at(14, 48), "timeline 14:47 resolved: Metrics normal", channel=channel)
    _, headline, markdown = close_and_wait(bot, channel, at(14, 50))
    assert "| Detected | 2026-06-22 14:09 | 7 minutes to detect (from impact start) | alertmanager (T" in markdown
    assert "| Acknowledged | 2026-06-22 14:11 | 2 minutes to acknowledge (from detection) | pagerduty (T" in markdown
    assert "| Mitigated | 2026-06-22 14:31 |" in markdown and "| the timeline (T" in markdown
    assert "Detected by monitoring: alertmanager at 2026-06-22 14:09" in markdown
    assert "From impact start to the first alert: 7 minutes." in markdown
    assert "Monitoring gap: over 5 minutes to the first alert for a SEV2" in markdown
    assert "@alertmanager" not in markdown  # a tool is not an author
    assert (
        "- **14:09** **[detected]** alertmanager firing: HighErrorRate: HighErrorRate on checkout "
        "([alertmanager](http://prometheus.example:9090/graph?g0.expr=HighErrorRate)) `T"
    ) in markdown
    assert "Detection gap; proposed action item (type detect): Make the alert fire within 5 minutes" in reply_text(
        headline
    )

    http, response_url = bot.click(headline, detection.DETECT_ACTION, user=CAROL, channel=channel)
    assert http.status_code == 200
    [added] = bot.standin.wait_for_responses(1, where=lambda r: r.token == response_url.rsplit("/", 1)[-1])
    assert "added action item" in reply_text(added.payload)
    with db.unit_of_work() as session:
        [item] = session.scalars(select(ActionItem)).all()
        assert item.action_type == "detect" and item.text.startswith("Make the alert fire within 5 minutes of impact")
    _, again = bot.click(headline, detection.DETECT_ACTION, user=CAROL, channel=channel)
    [twice] = bot.standin.wait_for_responses(1, where=lambda r: r.token == again.rsplit("/", 1)[-1])
    assert "already there" in reply_text(twice.payload)


def test_people_first_is_a_critical_monitoring_failure(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    bot.clock.set(at(14, 6))
    channel = declare(bot, "Checkout API returns 503 service:checkout sev3", user=CAROL)
    run(bot, at(14, 6), "timeline 14:02 started: Deploy v2.4.1", channel=channel)
    page = json.dumps(pagerduty_event("incident.triggered", at(14, 20))).encode()
    post_hook(bot, "pagerduty", page, pagerduty_headers(page))
    run(bot, at(14, 48), "timeline 14:47 resolved: Metrics normal", channel=channel)
    _, headline, markdown = close_and_wait(bot, channel, at(14, 50))
    assert (
        "Detected by people first, at 2026-06-22 14:06; the first alert (pagerduty) came at 2026-06-22 14:20."
        in markdown
    )
    assert "Critical monitoring failure: people noticed before any alert." in markdown
    assert "Add an alert that fires before people notice this failure" in reply_text(headline)


def test_an_incident_without_monitoring_says_nothing_about_it(make_bot, db):
    bot = make_bot()
    bot.clock.set(at(14, 6))
    channel = declare(bot, "Checkout API returns 503 sev2", user=CAROL)
    run(bot, at(14, 48), "timeline 14:47 resolved: Metrics normal", channel=channel)
    _, headline, markdown = close_and_wait(bot, channel, at(14, 50))
    assert "Detected by" not in markdown and "monitoring failure" not in markdown
    assert "detect action item" not in json.dumps(headline)
