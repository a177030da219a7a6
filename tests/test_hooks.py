"""POST /hooks/<source>: refusals change nothing; PagerDuty, GitHub, Grafana and generic deliveries
land on watching incidents' timelines once, however often they arrive."""

from __future__ import annotations

import datetime as dt
import json
import threading

from sqlalchemy import func, select, text, update

from bot.models import HookDelivery, IncidentFact, Milestone, SourceFact, TimelineEntry
from bot.sources import deliveries, registry
from tests.conftest import ANN, BOB
from tests.flows import declare
from tests.harness import utc
from tests.hook_steps import (
    GITHUB_SECRET,
    HOOK_ENV,
    HOOKS_TOKEN,
    alertmanager_alert,
    alertmanager_payload,
    bearer,
    generic_headers,
    github_deployment_status,
    github_headers,
    grafana_payload,
    pagerduty_event,
    pagerduty_headers,
    post_hook,
)
from tests.metrics_steps import moved, scrape


def count(db, model) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model))


def monitoring_entries(db) -> list[TimelineEntry]:
    with db.unit_of_work() as session:
        query = select(TimelineEntry).where(TimelineEntry.origin.is_not(None), TimelineEntry.removed_at.is_(None))
        return list(session.scalars(query.order_by(TimelineEntry.occurred_at, TimelineEntry.id)))


def test_refused_deliveries_store_nothing_and_say_why(make_bot, db):
    bot = make_bot(HOOKS_TOKEN=HOOKS_TOKEN)  # PagerDuty and GitHub secrets unset: those hooks do not exist
    before = scrape(bot)
    good = alertmanager_payload([alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 30))])
    cases = [
        ("nosuch", good, bearer(), 404),
        ("pagerduty", pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 30)), {}, 404),
        ("github", {}, {}, 404),
        ("alertmanager", good, {}, 401),
        ("alertmanager", good, bearer("wrong-token-0123456789"), 401),
        ("alertmanager", good, {"Authorization": f"Basic {HOOKS_TOKEN}"}, 401),
        ("alertmanager", b"{not json", bearer(), 400),
        ("alertmanager", {"version": "4", "groupKey": "g", "alerts": [{"status": "firing"}]}, bearer(), 400),
        ("alertmanager", {**good, "version": "3"}, bearer(), 400),
        ("generic", {"text": "deploy", "kind": "deploy", "occurred_at": "2026-06-22T14:00:00Z"}, bearer(), 401),
    ]
    for source, body, headers, status in cases:
        response = post_hook(bot, source, body, headers)
        assert response.status_code == status, (source, headers, response.text)
        reason = response.json()["error"]
        assert "\n" not in reason and reason, response.text
    shape = post_hook(
        bot, "alertmanager", {"version": "4", "groupKey": "g", "alerts": [{"status": "firing"}]}, bearer()
    )
    assert "alerts[0].fingerprint" in shape.json()["error"]
    huge = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
    assert post_hook(bot, "alertmanager", huge, bearer()).status_code == 413
    assert count(db, HookDelivery) == 0 and count(db, SourceFact) == 0
    after = scrape(bot)
    deliveries = "incident_bot_hook_deliveries_total"
    assert moved(before, after, deliveries, source="alertmanager", outcome="refused", code="401") == 3
    assert moved(before, after, deliveries, source="alertmanager", outcome="refused", code="413") == 1
    assert moved(before, after, deliveries, source="alertmanager", outcome="refused", code="400") == 4
    for label in ("unknown", "pagerduty", "github"):
        assert moved(before, after, deliveries, source=label, outcome="refused", code="404") == 1


def test_pagerduty_pages_give_detected_and_acknowledged_and_retries_land_once(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev1")
    triggered = pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 34), event_id="01DEN1HNLBC1VITK192ETJ1MPJ")
    body = json.dumps(triggered).encode()
    # Secrets rotate: PagerDuty lists a signature per secret; one matching is enough.
    for _ in range(3):  # PagerDuty retries a delivery it thinks failed
        response = post_hook(
            bot, "pagerduty", body, pagerduty_headers(body, "old-secret-0123456789abcd", "pd-secret-0123456789abcdef")
        )
        assert response.status_code == 200, response.text
    acked = json.dumps(pagerduty_event("incident.acknowledged", utc(2026, 6, 22, 14, 38))).encode()
    assert post_hook(bot, "pagerduty", acked, pagerduty_headers(acked)).status_code == 200
    note = json.dumps(pagerduty_event("incident.annotated", utc(2026, 6, 22, 14, 40))).encode()
    assert post_hook(bot, "pagerduty", note, pagerduty_headers(note)).status_code == 200
    other = json.dumps(pagerduty_event("incident.priority_updated", utc(2026, 6, 22, 14, 41))).encode()
    assert post_hook(bot, "pagerduty", other, pagerduty_headers(other)).json()["status"] == "ignored"
    forged = json.dumps(pagerduty_event("incident.resolved", utc(2026, 6, 22, 14, 45))).encode()
    assert post_hook(bot, "pagerduty", forged, pagerduty_headers(forged, "not-the-secret-0123456")).status_code == 401
    listing = bot.command("timeline", user=ANN, channel=channel).text
    assert listing.count("pagerduty triggered: #2 Checkout 503s") == 1
    assert "*[detected]* pagerduty triggered: #2 Checkout 503s" in listing
    assert "*[acknowledged]* pagerduty acknowledged: #2 Checkout 503s" in listing
    assert "Note on Checkout 503s: Rolled back @channel v2.4.1" in listing  # the annotation, its broadcast inert
    assert "<!channel>" not in listing and "resolved" not in listing
    assert "<https://acme.pagerduty.com/incidents/PGR0VU2|(pagerduty)>" in listing
    assert len(monitoring_entries(db)) == 3


def test_a_persons_milestone_wins_and_replaces_the_machines(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    body = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 34))).encode()
    post_hook(bot, "pagerduty", body, pagerduty_headers(body))
    bot.command("timeline 14:20 UTC detected: support ticket about checkout", user=BOB, channel=channel)
    from bot import timeline
    from bot.models import Milestone

    with db.unit_of_work() as session:
        found = timeline.milestones(session, monitoring_entries(db)[0].incident_id)
        assert found[Milestone.DETECTED].text == "support ticket about checkout"
    # An earlier page arriving later does not take the milestone from the person either.
    body = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 10), incident_id="PX")).encode()
    post_hook(bot, "pagerduty", body, pagerduty_headers(body))
    with db.unit_of_work() as session:
        found = timeline.milestones(session, monitoring_entries(db)[0].incident_id)
        assert found[Milestone.DETECTED].text == "support ticket about checkout"


def test_github_deployments_land_once_per_delivery_and_other_events_reach_their_hook_point(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 sev2")
    bot.command("watch repo=acme/checkout environment=~prod.*", user=ANN, channel=channel)
    body = json.dumps(github_deployment_status("success", utc(2026, 6, 22, 14, 2))).encode()
    for _ in range(2):  # a redelivery keeps its X-GitHub-Delivery
        response = post_hook(
            bot, "github", body, github_headers(body, "deployment_status", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        )
        assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    staging = json.dumps(
        github_deployment_status("success", utc(2026, 6, 22, 14, 3), status_id=952, environment="staging")
    ).encode()
    post_hook(bot, "github", staging, github_headers(staging, "deployment_status", "d-2"))
    ping = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    assert post_hook(bot, "github", ping, github_headers(ping, "ping", "d-3")).json()["status"] == "ignored"
    bad = post_hook(
        bot, "github", body, github_headers(body, "deployment_status", "d-4", secret="wrong-secret-012345678")
    )
    assert bad.status_code == 401
    seen: list[tuple[str, str]] = []
    # (GitHub `issues` events are handed to the tracker: tests/test_trackers_github.py)
    registry.HANDOFFS[("github", "release")] = lambda runtime, payload, key: str(seen.append((payload["action"], key)))
    try:
        release = b'{"action": "published", "release": {"id": 7}}'
        answers = [post_hook(bot, "github", release, github_headers(release, "release", "d-5")) for _ in range(2)]
    finally:
        registry.HANDOFFS.pop(("github", "release"))
    assert [a.json()["status"] for a in answers] == ["accepted", "duplicate"]
    assert seen == [("published", "delivery:d-5")]
    listing = bot.command("timeline", user=ANN, channel=channel).text
    assert listing.count("github success: Deploy of checkout v2.4.1 (a84d88e) to production: success") == 1
    assert "staging" not in listing
    assert f"<!date^{int(utc(2026, 6, 22, 14, 2).timestamp())}^" in listing
    assert GITHUB_SECRET not in listing


def test_grafana_and_generic_events_land_at_their_own_times(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    grafana = grafana_payload(
        "Checkout latency", dt.datetime(2026, 6, 22, 16, 25, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    )
    assert post_hook(bot, "grafana", grafana, bearer()).status_code == 200
    flag = json.dumps(
        {
            "text": "Feature flag new-cart turned on <@U0ANN>",
            "occurred_at": "2026-06-22T16:20:00+02:00",
            "source": "launchdarkly",
            "kind": "change",
            "link": "https://flags.example/new-cart",
            "labels": {"service": "checkout"},
            "dedup_key": "flag-1",
        }
    ).encode()
    for _ in range(2):
        assert post_hook(bot, "generic", flag, generic_headers(flag)).status_code == 200
    unsigned = post_hook(bot, "generic", flag, {"X-Signature-256": "sha256=00"})
    assert unsigned.status_code == 401
    wrong_kind = json.dumps({"text": "x", "occurred_at": "2026-06-22T14:20:00Z", "kind": "page"}).encode()
    refused = post_hook(bot, "generic", wrong_kind, generic_headers(wrong_kind))
    assert refused.status_code == 400 and "kind must be one of" in refused.json()["error"]
    no_zone = json.dumps({"text": "x", "occurred_at": "2026-06-22T14:20:00", "kind": "note"}).encode()
    assert post_hook(bot, "generic", no_zone, generic_headers(no_zone)).status_code == 400
    listing = bot.command("timeline", user=ANN, channel=channel).text
    assert (
        "launchdarkly change: Feature flag new-cart turned on @U0ANN <https://flags.example/new-cart|(launchdarkly)>"
        in listing
    )
    assert "grafana firing: Checkout latency: Checkout latency on checkout" in listing
    entries = monitoring_entries(db)
    assert [(e.occurred_at, e.origin) for e in entries] == [
        (utc(2026, 6, 22, 14, 20), "launchdarkly"),
        (utc(2026, 6, 22, 14, 25), "grafana"),
    ]
    assert entries[0].text == "launchdarkly change: Feature flag new-cart turned on @U0ANN"  # no live mention


def test_the_same_delivery_at_two_replicas_at_once_is_one_fact(make_bot, db):
    bots = [make_bot(**HOOK_ENV), make_bot(**HOOK_ENV)]  # two replicas, one database
    channel = declare(bots[0], "Checkout returns 503 service:checkout sev2")
    alerts = [alertmanager_alert(f"Alert{i}", utc(2026, 6, 22, 14, 30)) for i in range(30)]
    body = json.dumps(alertmanager_payload(alerts)).encode()
    statuses: list[str] = []
    start = threading.Barrier(8)

    def deliver(index: int) -> None:
        start.wait()
        statuses.append(post_hook(bots[index % 2], "alertmanager", body, bearer()).json()["status"])

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == ["accepted"] + ["duplicate"] * 7
    assert count(db, SourceFact) == 30 and count(db, IncidentFact) == 30
    listing = bots[1].command("timeline", user=ANN, channel=channel).text
    assert listing.count("alertmanager firing: 30 alerts") == 1
    assert "and 20 more" in listing


def test_a_group_notified_one_alert_at_a_time_reads_as_two_alerts_told_apart(make_bot, db):
    """Under load a real Alertmanager may notify web-1 alone, then the group with web-2 added: two
    entries, and each must say which host fired, not two identical lines."""
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    web1 = alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 31), instance="web-1")
    web2 = alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 33), instance="web-2")
    for alerts in ([web1], [web1, web2]):
        body = json.dumps(alertmanager_payload(alerts)).encode()
        assert post_hook(bot, "alertmanager", body, bearer()).json()["status"] == "accepted"
    listing = bot.command("timeline", user=ANN, channel=channel).text
    assert listing.count("alertmanager firing: HighErrorRate (web-1): HighErrorRate on checkout") == 1, listing
    assert listing.count("alertmanager firing: HighErrorRate (web-2): HighErrorRate on checkout") == 1, listing
    assert count(db, SourceFact) == 2


def test_a_delivery_left_uninterpreted_by_a_dead_process_is_interpreted_by_the_sweep(make_bot, db, clock):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    body = json.dumps(alertmanager_payload([alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 30))])).encode()
    deliveries.store(bot.runtime, "alertmanager", event="", dedup_key="sha256:left-behind", body=body)  # then it died
    assert deliveries.sweep(bot.runtime) == 0  # too young: the request that stored it may still be at work
    clock.advance(dt.timedelta(minutes=1))
    assert deliveries.sweep(bot.runtime) == 1
    assert deliveries.sweep(bot.runtime) == 0
    assert bot.command("timeline", user=ANN, channel=channel).text.count("alertmanager firing: HighErrorRate") == 1


def test_a_hand_off_that_fails_is_answered_with_an_error_id_and_handed_again_by_the_sweep_once(make_bot, db, clock):
    bot = make_bot(**HOOK_ENV)
    calls: list[str] = []

    def flaky(runtime, payload, key):  # another part of the bot, failing the first time
        calls.append(key)
        if len(calls) == 1:
            raise RuntimeError("the tracker's database row was locked")
        return "applied"

    registry.HANDOFFS[("github", "release")] = flaky
    try:
        release = b'{"action": "published", "release": {"id": 8}}'
        first = post_hook(bot, "github", release, github_headers(release, "release", "d-9")).json()
        assert first["status"] == "stored" and first["error_id"]
        again = post_hook(bot, "github", release, github_headers(release, "release", "d-9")).json()
        assert again["status"] == "duplicate" and calls == ["delivery:d-9"]  # stored once; the sweep's to retry
        assert deliveries.sweep(bot.runtime) == 0  # too young: the request that stored it may still be at work
        clock.advance(dt.timedelta(minutes=1))
        assert deliveries.sweep(bot.runtime) == 1 and deliveries.sweep(bot.runtime) == 0
    finally:
        registry.HANDOFFS.pop(("github", "release"))
    assert calls == ["delivery:d-9", "delivery:d-9"]


def test_a_delivery_the_database_cannot_store_is_answered_500_with_an_error_id_and_lands_when_sent_again(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    body = json.dumps(alertmanager_payload([alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 30))])).encode()
    with db.engine.begin() as connection:  # the table is out of reach: every INSERT into it fails
        connection.execute(text("ALTER TABLE hook_deliveries RENAME TO hook_deliveries_away"))
    try:
        failed = post_hook(bot, "alertmanager", body, bearer())
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE hook_deliveries_away RENAME TO hook_deliveries"))
    assert failed.status_code == 500 and failed.json()["error_id"], failed.text  # Alertmanager retries a 5xx
    assert count(db, SourceFact) == 0
    assert post_hook(bot, "alertmanager", body, bearer()).json()["status"] == "accepted"  # its retry lands, once
    assert bot.command("timeline", user=ANN, channel=channel).text.count("alertmanager firing") == 1


def test_raw_deliveries_are_pruned_after_a_week_and_their_facts_stay(make_bot, db, clock):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    old = json.dumps(alertmanager_payload([alertmanager_alert("HighErrorRate", utc(2026, 6, 22, 14, 30))])).encode()
    assert post_hook(bot, "alertmanager", old, bearer()).json()["status"] == "accepted"
    deliveries.store(bot.runtime, "alertmanager", event="", dedup_key="sha256:never-interpretable", body=b"{}")
    with db.unit_of_work() as session:  # given up: failed MAX_ATTEMPTS times
        session.execute(
            update(HookDelivery)
            .where(HookDelivery.dedup_key == "sha256:never-interpretable")
            .values(attempts=deliveries.MAX_ATTEMPTS, last_error="PayloadError: the body")
        )
    clock.advance(dt.timedelta(days=6))
    recent = json.dumps(alertmanager_payload([alertmanager_alert("DiskFull", utc(2026, 6, 28, 9, 0))])).encode()
    assert post_hook(bot, "alertmanager", recent, bearer()).json()["status"] == "accepted"
    assert deliveries.prune(bot.runtime) == 0 and count(db, HookDelivery) == 3
    clock.advance(dt.timedelta(days=1, minutes=1))
    deliveries.sweep(bot.runtime)  # the sweep prunes: the week-old interpreted one goes
    assert count(db, HookDelivery) == 2
    clock.advance(dt.timedelta(days=23))
    assert deliveries.prune(bot.runtime) == 2  # the given-up one after 30 days, the other after its week
    assert count(db, HookDelivery) == 0
    with db.unit_of_work() as session:
        links = session.scalars(select(SourceFact.delivery_id)).all()
    assert len(links) == 2 and set(links) == {None}
    assert "HighErrorRate" in bot.command("timeline", user=ANN, channel=channel).text


def test_watch_backfills_the_lookback_and_lists_and_unwatches(make_bot, db, clock):
    bot = make_bot(**HOOK_ENV, HOOKS_LOOKBACK="1h")
    old = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 13, 40), incident_id="OLD")).encode()
    recent = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 20), incident_id="NEW")).encode()
    for body in (old, recent):
        post_hook(bot, "pagerduty", body, pagerduty_headers(body))
    channel = declare(bot, "Checkout returns 503 sev2")
    bad = bot.command("watch service", user=ANN, channel=channel)
    assert "key=value" in bad.text
    bad_regex = bot.command("watch service=~(", user=ANN, channel=channel)
    assert "not a regular expression" in bad_regex.text
    added = bot.command("watch service=checkout urgency=~hi.*", user=ANN, channel=channel)
    assert "1 matching facts from the last 1h" in added.text
    listing = bot.command("timeline", user=ANN, channel=channel).text
    assert f"<!date^{int(utc(2026, 6, 22, 14, 20).timestamp())}^" in listing
    assert f"<!date^{int(utc(2026, 6, 22, 13, 40).timestamp())}^" not in listing  # older than HOOKS_LOOKBACK
    watches = bot.command("watch", user=ANN, channel=channel).text
    assert "1. `service=checkout urgency=~hi.*`" in watches
    assert "no watch 2" in bot.command("unwatch 2", user=ANN, channel=channel).text
    assert "stopped watching" in bot.command("unwatch 1", user=ANN, channel=channel).text
    later = json.dumps(pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, 45), incident_id="LATER")).encode()
    post_hook(bot, "pagerduty", later, pagerduty_headers(later))
    assert len(monitoring_entries(db)) == 1


def test_hook_settings_are_checked_with_one_line_naming_the_variable():
    import pytest

    from bot.settings import Settings, SettingsError

    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert Settings.from_env(base).hooks_lookback == dt.timedelta(hours=6)
    assert Settings.from_env({**base, "HOOKS_LOOKBACK": "1h30m"}).hooks_lookback == dt.timedelta(minutes=90)
    for name, value, words in (
        ("HOOKS_LOOKBACK", "soon", "span such as 6h"),
        ("HOOKS_LOOKBACK", "45d", "at most 30 days"),
        ("HOOKS_TOKEN", "short", "at least 16"),
        ("GITHUB_WEBHOOK_SECRET", "x", "at least 16"),
    ):
        with pytest.raises(SettingsError) as err:
            Settings.from_env({**base, name: value})
        assert str(err.value).startswith(name) and words in str(err.value) and "\n" not in str(err.value)


def test_removing_the_alert_that_detected_it_passes_detected_to_the_next(make_bot, db):
    bot = make_bot(**HOOK_ENV)
    channel = declare(bot, "Checkout returns 503 service:checkout sev2")
    for minute, incident in ((34, "FIRST"), (40, "SECOND")):
        body = json.dumps(
            pagerduty_event("incident.triggered", utc(2026, 6, 22, 14, minute), incident_id=incident)
        ).encode()
        post_hook(bot, "pagerduty", body, pagerduty_headers(body))
    first, second = monitoring_entries(db)
    assert (first.milestone, second.milestone) == (Milestone.DETECTED, None)
    reply = bot.command(f"remove T{first.id}", user=ANN, channel=channel)  # ANN declared it: she may
    assert "Removed" in reply.text
    listing = bot.command("timeline", user=ANN, channel=channel).text
    assert f"`T{second.id}` · pagerduty · *[detected]*" in listing


def test_declare_with_a_malformed_service_word_opens_nothing_and_help_lists_watch(bot, db, standin):
    reply = bot.command("declare Checkout down service:<bad> sev2", user=ANN, channel="C0GENERAL")
    assert "is not a service name" in reply.text and "service checkout" in reply.text
    assert standin.calls_to("conversations.create") == []
    help_text = bot.command("help", user=ANN, channel="C0GENERAL").text
    assert "watch [key=value|key=~regex …]" in help_text and "unwatch <n>" in help_text
