"""Tickets in Jira (Cloud v3 and Data Center v2) through /incident, the outbox, webhooks and the sweep."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.models import ActionStatus
from tests.conftest import ANN, BOB, CAROL
from tests.jira_standin import JiraStandIn
from tests.postmortem_steps import draft_files
from tests.tracker_steps import (
    channel_texts,
    incident_with_items,
    item,
    jira_env,
    jira_hook,
    timeline_texts,
    writes,
)


@pytest.fixture
def people(standin):
    standin.add_user(ANN, name="ann", tz="Europe/Berlin", email="ann@example.com")
    standin.add_user(BOB, name="bob", tz="America/New_York", email="bob@example.com")
    standin.add_user(CAROL, name="carol", tz="UTC", email="carol@example.com")  # not in Jira
    return standin


@pytest.fixture
def cloud(people):
    standin = JiraStandIn(cloud=True).start()
    yield standin
    standin.stop()


@pytest.fixture
def dc(people):
    standin = JiraStandIn(cloud=False, people={"ann": "ann@example.com", "bob": "bob@example.com"}).start()
    yield standin
    standin.stop()


def test_cloud_ticket_has_its_fields_an_adf_description_and_the_owner_by_e_mail(make_bot, cloud, db):
    bot = make_bot(**jira_env(cloud))
    channel, [a1] = incident_with_items(bot, "Add an alert on queue depth <@U0ANN|ann> by friday P1 type:detect")
    reply = bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    issue = cloud.issues["OPS-1"]
    assert issue["summary"] == "Add an alert on queue depth" and issue["issuetype"] == "Task"
    assert (issue["assignee"], issue["duedate"], issue["priority"]) == ("acc-ann", "2026-06-26", "High")
    assert issue["labels"] == ["incident", "P1", f"incident-bot-{channel}-A{a1}"]
    assert issue["description"]["type"] == "doc"
    assert "Checkout returns 503" in str(issue["description"])
    assert f"<{cloud.site}browse/OPS-1|OPS-1> (open)" in reply.text
    assert item(db, a1).ticket_key == "OPS-1"


def test_data_center_speaks_v2_with_plain_text_and_a_personal_access_token(make_bot, dc, db):
    bot = make_bot(**jira_env(dc))
    channel, ids = incident_with_items(bot, "Fix the pool <@U0BOB|bob>", "Write the runbook <@U0CAROL|carol>")
    reply = bot.command("ticket all", user=ANN, channel=channel)
    assert "Tickets in Jira OPS" in reply.text
    first, second = dc.issues["OPS-1"], dc.issues["OPS-2"]
    assert isinstance(first["description"], str) and "Owner: bob (Slack)" in first["description"]
    assert first["assignee"] == "bob" and second["assignee"] is None
    assert "not matched to a tracker user" in second["description"]
    assert all(c.headers["authorization"] == "Bearer jira-pat" for c in dc.calls)
    # the sweep on Data Center reads through /rest/api/2/search
    from bot.trackers import sync

    dc.transition_as("OPS-2", "Done", "ann")
    assert sync.sweep(bot.runtime).changes == 1 and item(db, ids[1]).status == ActionStatus.DONE
    assert dc.calls_to("POST", r"/rest/api/2/search$")


def test_fields_missing_from_the_projects_screen_are_left_out_not_fatal(people, make_bot, db):
    jira = JiraStandIn(cloud=True, screen_fields=("assignee",)).start()
    try:
        bot = make_bot(**jira_env(jira))
        channel, [a1] = incident_with_items(bot, "Fix the pool P1 <@U0ANN|ann>")
        bot.command(f"ticket A{a1}", user=ANN, channel=channel)
        issue = jira.issues["OPS-1"]
        assert issue["priority"] is None and issue["duedate"] is None and issue["assignee"] == "acc-ann"
        assert "Priority: P1" in str(issue["description"])
    finally:
        jira.stop()


def test_bad_credentials_and_an_unknown_project_are_plain_messages(make_bot, cloud, db):
    bot = make_bot(**jira_env(cloud, JIRA_API_TOKEN="wrong"))
    channel, [a1] = incident_with_items(bot, "Fix the pool")
    reply = bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert "credentials were rejected (JIRA_USER and JIRA_API_TOKEN, or JIRA_PAT)" in reply.text
    assert "Traceback" not in reply.text and cloud.issues == {}
    from bot.trackers.service import describe_check

    line = describe_check(bot.settings.trackers, bot.runtime.tracker)
    assert line.startswith("tracker: Jira OPS is not usable: ") and "credentials were rejected" in line
    other = make_bot(**jira_env(cloud, JIRA_PROJECT="NOPE"))
    assert "valid project is required" in other.command(f"ticket A{a1}", user=ANN, channel=channel).text
    assert "is not usable" in describe_check(other.settings.trackers, other.runtime.tracker)
    good = make_bot(**jira_env(cloud))
    assert describe_check(good.settings.trackers, good.runtime.tracker) == "tracker: Jira OPS, as incident-bot: ready"


def test_a_lost_answer_then_a_search_outage_still_makes_one_issue(make_bot, cloud, db):
    from bot.trackers import outbox

    bot = make_bot(**jira_env(cloud))
    channel, [a1] = incident_with_items(bot, "Fix the pool")
    cloud.lose_answer("POST", r"/issue$")
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    cloud.fail("POST", r"/search/jql$", 503, headers={"Retry-After": "90"})
    bot.clock.advance(dt.timedelta(seconds=30))
    [waiting] = outbox.run_due(bot.runtime)
    assert waiting.state == "waiting" and waiting.next_attempt_at == bot.clock.now() + dt.timedelta(seconds=90)
    bot.clock.advance(dt.timedelta(seconds=91))
    [done] = outbox.run_due(bot.runtime)
    assert done.state == "done" and list(cloud.issues) == ["OPS-1"] and item(db, a1).ticket_key == "OPS-1"


def _with_ticket(bot, jira):
    channel, [a1] = incident_with_items(bot, "Fix the pool <@U0ANN|ann> by 2026-07-10")
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert item(bot.runtime.db, a1).ticket_key == "OPS-1"
    return channel, a1


def test_closing_and_reopening_in_jira_by_webhook(make_bot, cloud, db):
    bot = make_bot(**jira_env(cloud))
    _, a1 = _with_ticket(bot, cloud)
    event = cloud.transition_as("OPS-1", "Done", "acc-bob")
    assert jira_hook(bot, event, delivery="w-1").status_code == 200
    stored = item(db, a1)
    assert stored.status == ActionStatus.DONE and stored.closed_by == "Bob (Jira)"
    assert any(f"A{a1} closed in Jira by Bob (OPS-1)" in t for t in timeline_texts(db))
    assert "duplicate" in jira_hook(bot, event, delivery="w-1").text
    assert jira_hook(bot, event, secret="wrong").status_code == 401
    jira_hook(bot, cloud.transition_as("OPS-1", "In Progress", "acc-ann"))
    assert item(db, a1).status == ActionStatus.OPEN
    bot.settle()
    assert not cloud.calls_to("POST", r"/transitions$")  # nothing echoed back to Jira


def test_done_and_reopen_in_slack_move_the_issue_through_its_workflow(make_bot, cloud, db):
    bot = make_bot(**jira_env(cloud))
    channel, a1 = _with_ticket(bot, cloud)
    bot.command(f"done A{a1}", user=BOB, channel=channel)
    cloud.wait_for(lambda: cloud.issues["OPS-1"]["status"] == "Done" and cloud.comments.get("OPS-1"))
    assert "Marked done in Slack by bob." in str(cloud.comments["OPS-1"][-1])
    bot.command(f"reopen A{a1}", user=BOB, channel=channel)
    cloud.wait_for(lambda: cloud.issues["OPS-1"]["status"] == "To Do")
    # Jira's webhook for the bot's own transition is not a change
    bot.settle()
    own = cloud.transition_as("OPS-1", "To Do", "acc-bot")
    assert "the bot's own change" in jira_hook(bot, own).text


def test_reassigning_and_re_dating_in_jira_flow_back_to_the_item_and_the_nudge(make_bot, cloud, db):
    bot = make_bot(**jira_env(cloud))
    channel, a1 = _with_ticket(bot, cloud)
    jira_hook(bot, cloud.assign_as("OPS-1", "acc-bob", "acc-ann"))
    assert item(db, a1).owner_id == BOB  # Jira's assignee -> their e-mail -> the Slack person
    jira_hook(bot, cloud.set_due_as("OPS-1", dt.date(2026, 7, 31), "acc-ann"))
    assert item(db, a1).due_date == dt.date(2026, 7, 31)
    assert any("now due 2026-07-31 (was 2026-07-10), set in Jira by Ann" in t for t in timeline_texts(db))
    listing = bot.command("actions", user=ANN, channel=channel).text
    assert "<@U0BOB>" in listing and "Fri 31 Jul" in listing
    from bot.actions import items as action_items
    from bot.nudges import messages

    with db.unit_of_work() as session:
        entries = action_items.entries_by_ids(session, [a1])
        line = messages.item_line(*[entries[a1][0]], dt.date(2026, 6, 22), incident=entries[a1][1])
    assert "<@U0BOB>" in line and "OPS-1" in line and "(open)" in line


def test_the_sweep_reads_in_batches_and_survives_a_deleted_issue(make_bot, cloud, db):
    from bot.trackers import sync

    bot = make_bot(**jira_env(cloud))
    channel, ids = incident_with_items(bot, "One", "Two", "Three")
    bot.command("ticket all", user=ANN, channel=channel)
    cloud.transition_as("OPS-2", "Done", "acc-ann")
    with cloud.lock:
        del cloud.issues["OPS-3"]
    report = sync.sweep(bot.runtime)
    assert (report.changes, report.gone) == (1, 1)
    assert item(db, ids[1]).status == ActionStatus.DONE and item(db, ids[2]).ticket_state == "gone"
    assert any("no longer exists in Jira" in t for t in channel_texts(bot.standin, channel))


def test_jira_text_is_escaped_in_slack_and_inert_in_the_postmortem(make_bot, cloud, db):
    cloud.display_names = {"acc-bob": "<!channel> {{ 7*7 }}"}
    bot = make_bot(**jira_env(cloud))
    channel, _ = _with_ticket(bot, cloud)
    jira_hook(bot, cloud.transition_as("OPS-1", "Done", "acc-bob"))
    said = [t for t in channel_texts(bot.standin, channel) if "closed in Jira" in t]
    assert said and "<!channel>" not in said[0] and "&lt;!channel&gt; {{ 7*7 }}" in said[0]
    # the postmortem's action items show the ticket and its state; nothing from Jira runs as template code
    bot.command("close", user=ANN, channel=channel)
    draft = cloud.wait_for(lambda: draft_files(bot, channel), timeout=20)[-1]
    assert f"[OPS-1]({cloud.site}browse/OPS-1) (closed)" in draft
    # (only where the name could appear: a clock time elsewhere may well read 14:49)
    assert not [line for line in draft.splitlines() if "channel" in line and "49" in line]


def test_a_hand_made_link_to_a_jira_issue_is_recognised(make_bot, cloud, db):
    bot = make_bot(**jira_env(cloud))
    channel, [a1] = incident_with_items(bot, "Fix the pool")
    cloud._create(body={"fields": {"project": {"key": "OPS"}, "summary": "By hand"}})
    cloud.transition_as("OPS-1", "Done", "acc-ann")
    reply = bot.command(f"link A{a1} {cloud.site}browse/OPS-1", user=ANN, channel=channel)
    assert "Recognised Jira OPS-1 (closed)" in reply.text
    assert item(db, a1).status == ActionStatus.DONE
    assert [w.op for w in writes(db)] == []


def test_a_retired_search_endpoint_stops_the_sweep_with_a_plain_reason(make_bot, cloud, db):
    from bot.trackers import sync

    bot = make_bot(**jira_env(cloud))
    _with_ticket(bot, cloud)
    cloud.fail("POST", r"/search/jql$", 410, body={"errorMessages": ["The requested API has been removed."]})
    report = sync.sweep(bot.runtime)
    assert report.error and "Jira said 410: The requested API has been removed." in report.error
    assert "Jira retired this endpoint" in report.describe()
    cloud.transition_as("OPS-1", "Done", "acc-ann")
    assert sync.sweep(bot.runtime).changes == 1  # the next sweep carries on


def test_a_lost_comment_answer_in_jira_is_not_posted_twice(make_bot, cloud, db):
    from bot.trackers import outbox

    bot = make_bot(**jira_env(cloud))
    channel, a1 = _with_ticket(bot, cloud)
    cloud.lose_answer("POST", r"/issue/OPS-1/comment$")
    bot.command(f"done A{a1}", user=BOB, channel=channel)
    bot.settle()
    bot.clock.advance(dt.timedelta(minutes=1))
    outbox.run_due(bot.runtime)
    assert cloud.issues["OPS-1"]["status"] == "Done" and len(cloud.comments["OPS-1"]) == 1
    assert item(db, a1).ticket_state == "closed"


def test_two_replicas_ticket_all_at_once_make_one_jira_issue_per_item(make_bot, dc, db):
    import threading

    one, two = make_bot(**jira_env(dc)), make_bot(**jira_env(dc))
    channel, ids = incident_with_items(one, "One", "Two", "Three")
    dc.slow("POST", r"/issue$", 0.3, times=6)
    threads = [
        threading.Thread(target=lambda b=b: b.command("ticket all", user=ANN, channel=channel)) for b in (one, two, two)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(i["summary"] for i in dc.issues.values()) == ["One", "Three", "Two"]
    assert sorted(item(db, i).ticket_key for i in ids) == ["OPS-1", "OPS-2", "OPS-3"]
