"""Tickets in GitHub Issues through /incident, the outbox and the webhooks, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.models import ActionStatus
from tests.conftest import ANN, BOB
from tests.github_standin import GitHubStandIn
from tests.postmortem_steps import wait_until_settled
from tests.tracker_steps import (
    channel_texts,
    github_env,
    github_hook,
    incident_with_items,
    item,
    revisions,
    timeline_texts,
    writes,
)


@pytest.fixture
def github():
    standin = GitHubStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def gbot(make_bot, github):
    return make_bot(**github_env(github))


def test_ticket_one_item_makes_one_issue_and_the_item_shows_it(gbot, github, db):
    channel, [a1] = incident_with_items(gbot, "Add an alert on queue depth <@U0ANN|ann> by friday P1 type:detect")
    reply = gbot.command(f"ticket A{a1}", user=ANN, channel=channel)
    [issue] = github.issues.values()
    assert issue["title"] == "Add an alert on queue depth"
    assert issue["labels"] == ["incident", "P1"] and issue["assignees"] == ["octo-ann"]
    assert "Checkout returns 503" in issue["body"] and "sev2" in issue["body"] and "Due: 2026-06-26" in issue["body"]
    assert f"incident-bot-{channel}-A{a1}" in issue["body"] and f"channel={channel}" in issue["body"]
    # the reply shows the ticket, linked, with its state
    assert f"<{issue['html_url']}|#1> (open)" in reply.text
    stored = item(db, a1)
    assert (stored.ticket_key, stored.ticket_state, stored.link_url) == ("1", "open", issue["html_url"])
    assert any("has its ticket #1 in GitHub" in t for t in timeline_texts(db))
    # and wherever the item appears afterwards
    assert "|#1> (open)" in gbot.command("actions", user=BOB, channel=channel).text
    # asking again makes nothing new
    again = gbot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert "has its ticket already" in again.text and len(github.issues) == 1


def test_ticket_all_makes_one_per_item_without_one_and_none_twice(gbot, github, db):
    channel, ids = incident_with_items(
        gbot, "Fix the pool", "Write the runbook <@U0CAROL|carol>", "Alert on saturation"
    )
    gbot.command(f"ticket A{ids[0]}", user=ANN, channel=channel)
    reply = gbot.command("ticket all", user=ANN, channel=channel)
    assert len(github.issues) == 3
    assert reply.first["response_type"] == "in_channel" and "Tickets in GitHub acme/ops" in reply.text
    # the owner with no GitHub user is named in the body, the ticket unassigned
    carol_issue = next(i for i in github.issues.values() if i["title"] == "Write the runbook")
    assert carol_issue["assignees"] == [] and "not matched to a tracker user" in carol_issue["body"]
    gbot.command("ticket all", user=ANN, channel=channel)
    assert len(github.issues) == 3


def test_no_tracker_is_a_plain_message(bot, db):
    channel, [a1] = incident_with_items(bot, "Fix the pool")
    reply = bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert "No tracker is set up" in reply.text and "TRACKER=github" in reply.text
    assert "Usage: `/incident ticket A7`" in bot.command("ticket", user=ANN, channel=channel).text


def test_a_bad_token_is_said_once_in_the_channel_and_nothing_is_retried(make_bot, github, db):
    bot = make_bot(**github_env(github, GITHUB_TOKEN="ghp-wrong"))
    channel, [_, _] = incident_with_items(bot, "Fix the pool", "Write the runbook")
    reply = bot.command("ticket all", user=ANN, channel=channel)
    assert "could not make its ticket" in reply.text and "token was rejected (GITHUB_TOKEN)" in reply.text
    assert github.issues == {}
    said = [t for t in channel_texts(bot.standin, channel) if "could not create the GitHub ticket" in t]
    assert len(said) == 2  # once per item
    bot.clock.advance(dt.timedelta(hours=2))
    from bot.trackers import outbox

    outbox.run_due(bot.runtime)
    assert len([t for t in channel_texts(bot.standin, channel) if "could not create" in t]) == 2
    assert [w.status for w in writes(db)] == ["failed", "failed"]


def test_an_unknown_repository_says_so(make_bot, github, db):
    bot = make_bot(**github_env(github, GITHUB_REPO="acme/nope"))
    channel, [a1] = incident_with_items(bot, "Fix the pool")
    reply = bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert "no repository acme/nope that this token can see (GITHUB_REPO)" in reply.text


def test_server_errors_and_rate_limits_wait_and_retry_without_duplicates(gbot, github, db):
    from bot.trackers import outbox

    channel, [a1] = incident_with_items(gbot, "Fix the pool")
    github.fail("POST", r"/issues$", 502)
    reply = gbot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert "GitHub did not take it yet" in reply.text and "I try again at" in reply.text
    github.fail("POST", r"/issues$", 429, headers={"Retry-After": "120"})
    gbot.clock.advance(dt.timedelta(seconds=30))
    [waiting] = outbox.run_due(gbot.runtime)
    assert waiting.state == "waiting" and waiting.next_attempt_at == gbot.clock.now() + dt.timedelta(seconds=120)
    gbot.clock.advance(dt.timedelta(seconds=60))
    assert outbox.run_due(gbot.runtime) == []  # Retry-After is honoured
    gbot.clock.advance(dt.timedelta(seconds=61))
    [done] = outbox.run_due(gbot.runtime)
    assert done.state == "done" and len(github.issues) == 1
    assert item(db, a1).ticket_key == "1"


def test_a_lost_answer_after_the_create_finds_the_issue_by_its_marker(gbot, github, db):
    from bot.trackers import outbox

    channel, [a1] = incident_with_items(gbot, "Fix the pool")
    github.lose_answer("POST", r"/issues$")
    reply = gbot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert "did not take it yet" in reply.text
    assert len(github.issues) == 1  # GitHub made it; the bot never heard
    gbot.clock.advance(dt.timedelta(minutes=1))
    [done] = outbox.run_due(gbot.runtime)
    assert done.state == "done" and done.ticket.key == "1"
    assert len(github.issues) == 1 and len(github.calls_to("POST", r"/issues$")) == 1
    assert item(db, a1).ticket_key == "1"


def test_a_slow_answer_is_a_timeout_then_found_not_doubled(make_bot, github, db, monkeypatch):
    from bot.trackers import base, outbox

    monkeypatch.setattr(base, "TIMEOUT_SECONDS", 0.5)
    bot = make_bot(**github_env(github))
    channel, [a1] = incident_with_items(bot, "Fix the pool")
    github.slow("POST", r"/issues$", 1.5)
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    github.wait_for(lambda: github.issues)
    bot.clock.advance(dt.timedelta(minutes=1))
    outbox.run_due(bot.runtime)
    assert len(github.issues) == 1 and item(db, a1).ticket_key == "1"


def test_a_crash_mid_call_is_finished_by_the_next_worker_without_a_second_issue(make_bot, github, db, standin):
    """A real crash: `incident-bot tracker sync` (another process) claims the create and sends it,
    and is killed while GitHub works on it. The next worker, once the claim's lease ran out, finds
    the issue by its marker instead of making a second one."""
    import os
    import subprocess
    import sys

    from bot.trackers import outbox

    one = make_bot(**github_env(github))
    channel, [a1] = incident_with_items(one, "Fix the pool")
    github.fail("POST", r"/issues$", 502)
    one.command(f"ticket A{a1}", user=ANN, channel=channel)  # stored, first try failed: waiting
    github.slow("POST", r"/issues$", 2.0)
    env = {
        **os.environ,
        **github_env(github),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": standin.base_url,
        "DATABASE_URL": db.url,
    }
    crashing = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main(['tracker', 'sync'])"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    github.wait_for(lambda: len(github.calls_to("POST", r"/issues$")) == 2, timeout=30)
    crashing.kill()
    crashing.wait()
    github.wait_for(lambda: github.issues)  # GitHub finished making it; nobody recorded that
    two = make_bot(**github_env(github))
    real_now = dt.datetime.now(dt.UTC)
    two.clock.set(real_now + dt.timedelta(seconds=30))
    assert outbox.run_due(two.runtime) == []  # the dead worker's claim still holds
    two.clock.set(real_now + outbox.LEASE + dt.timedelta(minutes=1))
    [done] = outbox.run_due(two.runtime)
    assert done.state == "done" and len(github.issues) == 1
    assert item(db, a1).ticket_key == "1" and len(github.calls_to("POST", r"/issues$")) == 2


def test_two_replicas_and_two_ticket_all_at_once_make_one_issue_per_item(make_bot, github, db):
    import threading

    one, two = make_bot(**github_env(github)), make_bot(**github_env(github))
    channel, ids = incident_with_items(one, "Fix the pool", "Write the runbook", "Alert on saturation", "Rotate keys")
    github.slow("POST", r"/issues$", 0.3, times=8)
    results = []
    threads = [
        threading.Thread(target=lambda b=b: results.append(b.command("ticket all", user=ANN, channel=channel)))
        for b in (one, two, one, two)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from bot.trackers import outbox

    one.clock.advance(dt.timedelta(minutes=5))
    outbox.run_due(one.runtime)
    assert sorted(i["title"] for i in github.issues.values()) == sorted(
        ["Fix the pool", "Write the runbook", "Alert on saturation", "Rotate keys"]
    )
    assert len({item(db, i).ticket_key for i in ids}) == 4


# -- kept in step ------------------------------------------------------------------------------------
def _with_ticket(bot, github, text="Fix the pool"):
    channel, [a1] = incident_with_items(bot, text)
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert item(bot.runtime.db, a1).ticket_key == "1"
    return channel, a1


def test_closing_the_issue_in_github_closes_the_item_by_webhook_once(gbot, github, db):
    channel, a1 = _with_ticket(gbot, github)
    event = github.close_as(1, "octo-bob")
    response = github_hook(gbot, event, delivery="d-1")
    assert response.status_code == 200, response.text
    stored = item(db, a1)
    assert stored.status == ActionStatus.DONE and stored.closed_by == "octo-bob (GitHub)"
    assert any(f"A{a1} closed in GitHub by octo-bob (#1)" in t for t in timeline_texts(db))
    assert revisions(db, a1)[-1].action == "done"
    assert any("closed in GitHub by octo-bob" in t for t in channel_texts(gbot.standin, channel))
    # the redelivery is recognised; nothing goes back to GitHub (no echo)
    assert "duplicate" in github_hook(gbot, event, delivery="d-1").text
    gbot.settle()
    assert len(github.calls_to("PATCH", r"/issues/1$")) == 0
    assert ":white_check_mark: done by octo-bob (GitHub)" in gbot.command("actions", user=ANN, channel=channel).text
    # reopening there reopens it here
    github_hook(gbot, github.reopen_as(1, "octo-ann"))
    assert item(db, a1).status == ActionStatus.OPEN
    assert any(f"A{a1} reopened in GitHub by octo-ann (#1)" in t for t in timeline_texts(db))


def test_done_and_drop_and_reopen_in_slack_go_to_the_issue_with_who_and_why(gbot, github, db):
    channel, a1 = _with_ticket(gbot, github)
    gbot.command(f"done A{a1}", user=BOB, channel=channel)
    github.wait_for(lambda: github.issues[1]["state"] == "closed")
    github.wait_for(lambda: github.comments.get(1))
    assert github.issues[1]["state_reason"] == "completed"
    assert github.comments[1][-1]["body"].startswith("Marked done in Slack by bob.\n\n<!-- incident-bot: change-")
    gbot.command(f"reopen A{a1}", user=ANN, channel=channel)
    github.wait_for(lambda: github.issues[1]["state"] == "open")
    gbot.command(f"drop A{a1} replaced by the new pool", user=ANN, channel=channel)
    github.wait_for(lambda: github.issues[1]["state"] == "closed" and len(github.comments[1]) == 3)
    assert github.issues[1]["state_reason"] == "not_planned"
    assert github.comments[1][-1]["body"].startswith("Dropped in Slack by ann: replaced by the new pool\n")
    # GitHub's webhooks for the bot's own changes do not come back as changes
    gbot.settle()
    for event in (github.reopen_as(1, "incident-bot"),):
        assert "the bot's own change" in github_hook(gbot, event).text
    assert item(db, a1).status == ActionStatus.DROPPED


def test_reassigning_in_github_reassigns_the_item(gbot, github, db):
    _, a1 = _with_ticket(gbot, github)
    github_hook(gbot, github.assign_as(1, "octo-bob", "octo-ann"))
    assert item(db, a1).owner_id == BOB
    assert any(f"A{a1} assigned to <@{BOB}> in GitHub by octo-ann" in t for t in timeline_texts(db))


def test_the_sweep_alone_keeps_items_in_step(gbot, github, db):
    from bot.trackers import sync

    channel, a1 = _with_ticket(gbot, github)
    github.close_as(1, "octo-bob")  # no webhook reaches the bot
    report = sync.sweep(gbot.runtime)
    assert report.changes == 1 and item(db, a1).status == ActionStatus.DONE
    assert sync.sweep(gbot.runtime).changes == 0  # nothing new: nothing applied twice
    github.reopen_as(1, "octo-bob")
    github.assign_as(1, "octo-bob", "octo-bob")
    sync.sweep(gbot.runtime)
    stored = item(db, a1)
    assert stored.status == ActionStatus.OPEN and stored.owner_id == BOB
    github.delete(1)
    assert sync.sweep(gbot.runtime).gone == 1
    assert "deleted in the tracker" in gbot.command("actions", user=ANN, channel=channel).text


def test_a_slack_close_waiting_in_the_outbox_is_not_undone_by_the_sweep(gbot, github, db):
    from bot.trackers import outbox, sync

    channel, a1 = _with_ticket(gbot, github)
    github.fail("PATCH", r"/issues/1$", 503, times=5)
    gbot.command(f"done A{a1}", user=BOB, channel=channel)
    gbot.settle()
    assert github.issues[1]["state"] == "open"
    sync.sweep(gbot.runtime)
    assert item(db, a1).status == ActionStatus.DONE  # the open ticket is not a change from GitHub
    for _ in range(6):
        gbot.clock.advance(dt.timedelta(hours=1))
        outbox.run_due(gbot.runtime)
    assert github.issues[1]["state"] == "closed"
    assert sync.sweep(gbot.runtime).changes == 0


def test_a_link_to_an_issue_of_the_repository_is_recognised_and_synced(gbot, github, db):
    channel, [a1] = incident_with_items(gbot, "Fix the pool")
    made = github._create(body={"title": "Made by hand", "labels": []})
    url = made.body["html_url"]
    reply = gbot.command(f"link A{a1} {url}", user=ANN, channel=channel)
    assert "Recognised GitHub #1 (open)" in reply.text
    github_hook(gbot, github.close_as(1, "octo-ann"))
    assert item(db, a1).status == ActionStatus.DONE
    # a link elsewhere stays a plain link
    gbot.command("action Other", user=ANN, channel=channel)
    a2 = a1 + 1
    reply = gbot.command(f"link A{a2} https://tracker.example.com/OPS-1", user=ANN, channel=channel)
    assert "Recognised" not in reply.text and item(db, a2).ticket_key is None


def test_webhook_surface_refuses_bad_signatures_big_bodies_and_junk(gbot, github, db):
    _with_ticket(gbot, github)
    event = github.close_as(1, "octo-bob")
    assert github_hook(gbot, event, secret="wrong").status_code == 401
    assert item(db, 1).status == ActionStatus.OPEN
    assert github_hook(gbot, {}, raw=b"not json").status_code == 400
    assert github_hook(gbot, {}, raw=b"x" * (1024 * 1024 + 1)).status_code == 413
    assert github_hook(gbot, {"zen": "hi"}, event="ping").status_code == 200  # answered by the /hooks/github surface
    assert github_hook(gbot, event).status_code == 200 and item(db, 1).status == ActionStatus.DONE
    other = github._create(body={"title": "Unrelated", "labels": []}).body
    answer = github_hook(
        gbot,
        {"action": "opened", "issue": other, "repository": {"full_name": github.repo}, "sender": {"login": "octo-ann"}},
    )
    assert "#2 is no item's ticket" in answer.text and not github.calls_to("GET", r"/issues/2$")
    elsewhere = github_hook(gbot, {**event, "repository": {"full_name": "acme/other"}})
    assert "not the configured repository" in elsewhere.text


def test_tracker_text_is_escaped_in_slack(make_bot, github, db):
    bot = make_bot(**github_env(github, TRACKER_USERS=""))
    channel, _ = _with_ticket(bot, github)
    github_hook(bot, github.close_as(1, "<!channel>"))
    said = [t for t in channel_texts(bot.standin, channel) if "closed in GitHub" in t]
    assert said and "<!channel>" not in said[0] and "&lt;!channel&gt;" in said[0]


def test_postmortem_final_makes_the_tickets_with_tracker_auto(gbot, github, db):
    channel, ids = incident_with_items(gbot, "Fix the pool", "Write the runbook")
    gbot.command(f"drop A{ids[1]} not needed after all", user=ANN, channel=channel)
    gbot.command("close", user=ANN, channel=channel)
    wait_until_settled(gbot, channel)
    reply = gbot.command("postmortem final", user=ANN, channel=channel)
    github.wait_for(
        lambda: "Tickets in GitHub acme/ops" in "".join(r.get("text", "") for r in reply.wait(len(reply.replies)))
    )
    assert [i["title"] for i in github.issues.values()] == ["Fix the pool"]  # dropped items get none
    assert item(db, ids[0]).ticket_key == "1"


def test_without_tracker_auto_final_makes_no_tickets(make_bot, github, db):
    bot = make_bot(**github_env(github, TRACKER_AUTO="false"))
    channel, _ = incident_with_items(bot, "Fix the pool")
    bot.command("close", user=ANN, channel=channel)
    wait_until_settled(bot, channel)
    assert "approved the postmortem" in bot.command("postmortem final", user=ANN, channel=channel).text
    bot.settle()
    assert github.issues == {}


def test_a_deleted_issue_is_shown_as_such_and_the_item_stays(gbot, github, db):
    channel, a1 = _with_ticket(gbot, github)
    event = github.close_as(1, "octo-ann")
    github.delete(1)
    github_hook(gbot, {**event, "action": "deleted"})
    stored = item(db, a1)
    assert stored.ticket_state == "gone" and stored.status == ActionStatus.OPEN
    assert any("no longer exists in GitHub" in t for t in channel_texts(gbot.standin, channel))


@pytest.mark.parametrize("lost", ["PATCH", "comment"])
def test_a_lost_answer_while_closing_closes_once_with_one_comment(gbot, github, db, lost):
    from bot.trackers import outbox

    channel, a1 = _with_ticket(gbot, github)
    if lost == "PATCH":
        github.lose_answer("PATCH", r"/issues/1$")
    else:
        github.lose_answer("POST", r"/issues/1/comments$")
    gbot.command(f"done A{a1}", user=BOB, channel=channel)
    gbot.settle()
    [close] = [w for w in writes(db) if w.op == "close"]
    assert close.status == "pending" and close.attempts == 1
    gbot.clock.advance(dt.timedelta(minutes=1))
    outbox.run_due(gbot.runtime)
    assert [w.status for w in writes(db) if w.op == "close"] == ["done"]
    assert github.issues[1]["state"] == "closed" and len(github.comments[1]) == 1
    assert item(db, a1).ticket_state == "closed"
