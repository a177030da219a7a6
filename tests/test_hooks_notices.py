"""Who hears about facts: ALERTS_CHANNEL (once per new firing group, with Declare incident) and the
incident channel (at most one compact message a minute, however many facts arrive)."""

from __future__ import annotations

import copy
import datetime as dt
import json

from sqlalchemy import select

from bot.models import Incident, IncidentWatch
from bot.sources import notices
from tests.conftest import ANN, BOB
from tests.flows import declare
from tests.harness import reply_text, utc
from tests.hook_steps import (
    HOOK_ENV,
    alertmanager_alert,
    alertmanager_payload,
    bearer,
    pagerduty_event,
    pagerduty_headers,
    post_hook,
    wait_until,
)

ALERTS = "C0ALERTS"


def posts_in(standin, channel: str) -> list[dict]:
    return [m for m in standin.messages.get(channel, []) if not m.get("subtype")]


def test_a_firing_group_matching_no_incident_is_posted_once_and_declared_with_one_click(make_bot, db, standin):
    standin.add_channel(ALERTS, "alerts")
    bot = make_bot(**HOOK_ENV, ALERTS_CHANNEL="alerts")
    first = [
        alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 31), instance="web-1"),
        alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 32), instance="web-2"),
    ]
    assert post_hook(bot, "alertmanager", alertmanager_payload(first), bearer()).status_code == 200
    [posted] = wait_until(lambda: posts_in(standin, ALERTS), what="the alert post")
    text = reply_text(posted)
    assert "2 alerts firing since" in text and "matching no open incident" in text
    assert "watching `service=checkout`" in text
    # The group grows and repeats: no second post.
    grown = [*first, alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 36), instance="web-3")]
    post_hook(bot, "alertmanager", alertmanager_payload(grown), bearer())
    post_hook(bot, "alertmanager", alertmanager_payload(grown), bearer())
    bot.settle()
    assert len(posts_in(standin, ALERTS)) == 1

    as_first_seen = copy.deepcopy(posted)  # a second reader still sees the button
    http, response_url = bot.click(posted, notices.DECLARE_ACTION, user=BOB, channel=ALERTS)
    assert http.status_code == 200
    standin.wait_for("conversations.create")
    wait_until(
        lambda: standin.wait_for_responses(1, where=lambda r: r.token == response_url.rsplit("/", 1)[-1]),
        what="the declare reply",
    )
    with db.unit_of_work() as session:
        incident = session.scalars(select(Incident)).one()
        watches = [w.matchers for w in session.scalars(select(IncidentWatch))]
        channel = incident.channel_id
    assert watches == [[["service", "=", "checkout"]]]
    listing = bot.command("timeline", user=ANN, channel=channel).text
    # The alert at its own time (14:31), the alert that joined the group later too; detected from the alert.
    assert f"<!date^{int(utc(2026, 6, 22, 14, 31).timestamp())}^" in listing
    assert "*[detected]* alertmanager firing" in listing
    assert listing.count("alertmanager firing") == 2  # the posted group, then the alert that joined it
    assert "Timeline of HighErrorRate: HighErrorRate on checkout (2 alerts)" in listing
    # The post now says who declared it; a second click opens nothing.
    wait_until(lambda: standin.calls_to("chat.update"), what="the post updated")
    assert "declared an incident from this alert" in reply_text(standin.calls_to("chat.update")[-1].params)
    _, again = bot.click(as_first_seen, notices.DECLARE_ACTION, user=ANN, channel=ALERTS)
    [answer] = standin.wait_for_responses(1, where=lambda r: r.token == again.rsplit("/", 1)[-1])
    assert f"already on the timeline of <#{channel}>" in reply_text(answer.payload)
    assert len(standin.calls_to("conversations.create")) == 1


def test_a_page_matching_an_incident_is_not_posted_to_the_alerts_channel(make_bot, db, standin):
    standin.add_channel(ALERTS, "alerts")
    bot = make_bot(**HOOK_ENV, ALERTS_CHANNEL=ALERTS)
    declare(bot, "Checkout returns 503 service:checkout sev2")
    watched = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 34))).encode()
    post_hook(bot, "pagerduty", watched, pagerduty_headers(watched))
    other = json.dumps(
        pagerduty_event(
            "incident.triggered",
            utc(2026, 6, 22, 14, 35),
            incident_id="PBILL",
            service="billing",
            title="Invoices stuck",
        )
    ).encode()
    post_hook(bot, "pagerduty", other, pagerduty_headers(other))
    [posted] = wait_until(lambda: posts_in(standin, ALERTS), what="the page post")
    bot.settle()
    assert len(posts_in(standin, ALERTS)) == 1
    assert "Invoices stuck" in reply_text(posted) and "watching `service=billing`" in reply_text(posted)


def test_a_storm_of_500_alerts_is_one_message_a_minute_in_the_incident_channel(make_bot, db, standin, clock):
    bots = [make_bot(**HOOK_ENV), make_bot(**HOOK_ENV)]
    channel = declare(bots[0], "Checkout returns 503 service:checkout sev1")
    before = len(posts_in(standin, channel))
    for batch in range(5):  # five groups of 100 alerts, to both replicas
        alerts = [alertmanager_alert(f"Alert{batch}x{i}", utc(2026, 6, 22, 14, 30)) for i in range(100)]
        payload = alertmanager_payload(alerts, group_key=f'{{}}:{{batch="{batch}"}}')
        assert post_hook(bots[batch % 2], "alertmanager", payload, bearer()).status_code == 200
    for bot in bots:
        bot.settle()
    messages = posts_in(standin, channel)[before:]
    assert len(messages) == 1  # the first group's message; the other 400 wait for the next minute
    assert "100 new facts from monitoring (100 alert firing)" in reply_text(messages[0])
    notices.flush_pending(bots[1].runtime)  # a tick inside the same minute sends nothing
    assert len(posts_in(standin, channel)[before:]) == 1
    clock.advance(dt.timedelta(seconds=61))
    notices.flush_pending(bots[0].runtime)
    notices.flush_pending(bots[1].runtime)
    messages = posts_in(standin, channel)[before:]
    assert len(messages) == 2
    assert "400 new facts from monitoring (400 alert firing)" in reply_text(messages[1])
    assert "…and 395 more" in reply_text(messages[1])


def test_declare_from_an_alert_already_on_an_incident_opens_nothing(make_bot, db, standin):
    standin.add_channel(ALERTS, "alerts")
    bot = make_bot(**HOOK_ENV, ALERTS_CHANNEL=ALERTS)
    page = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 34))).encode()
    post_hook(bot, "pagerduty", page, pagerduty_headers(page))
    [posted] = wait_until(lambda: posts_in(standin, ALERTS), what="the page post")
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")  # the back-fill takes the page
    _, response_url = bot.click(posted, notices.DECLARE_ACTION, user=BOB, channel=ALERTS)
    [answer] = standin.wait_for_responses(1, where=lambda r: r.token == response_url.rsplit("/", 1)[-1])
    assert f"already on the timeline of <#{channel}>" in reply_text(answer.payload)
    assert len(standin.calls_to("conversations.create")) == 1


def test_two_people_pressing_declare_at_once_open_one_incident(make_bot, db, standin):
    standin.add_channel(ALERTS, "alerts")
    bot = make_bot(**HOOK_ENV, ALERTS_CHANNEL=ALERTS)
    page = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 34))).encode()
    post_hook(bot, "pagerduty", page, pagerduty_headers(page))
    [posted] = wait_until(lambda: posts_in(standin, ALERTS), what="the page post")
    seen = copy.deepcopy(posted)
    clicks = [
        bot.click(copy.deepcopy(seen), notices.DECLARE_ACTION, user=user, channel=ALERTS)[1] for user in (ANN, BOB)
    ]
    answers = [
        standin.wait_for_responses(1, where=lambda r, url=url: r.token == url.rsplit("/", 1)[-1])[0] for url in clicks
    ]
    texts = [reply_text(answer.payload) for answer in answers]
    assert len(standin.calls_to("conversations.create")) == 1
    assert sum("already" in text for text in texts) == 1, texts


def test_an_alert_post_slack_refused_is_sent_by_the_sweep_once(make_bot, db, standin, clock):
    from bot.sources import deliveries

    standin.add_channel(ALERTS, "alerts")
    bot = make_bot(**HOOK_ENV, ALERTS_CHANNEL=ALERTS)
    standin.fail("chat.postMessage", status=200, error="fatal_error", channel=ALERTS)
    page = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 34))).encode()
    post_hook(bot, "pagerduty", page, pagerduty_headers(page))
    wait_until(lambda: [c for c in standin.calls_to("chat.postMessage") if c.failed], what="the refused post")
    bot.settle()
    assert posts_in(standin, ALERTS) == []
    deliveries.sweep(bot.runtime)
    assert posts_in(standin, ALERTS) == []  # too soon: the request that posted may still be at work
    clock.advance(dt.timedelta(minutes=1))
    for _ in range(2):
        deliveries.sweep(bot.runtime)
    [posted] = posts_in(standin, ALERTS)
    assert "Checkout 503s" in reply_text(posted)
