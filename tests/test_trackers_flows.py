"""Tracker details across surfaces: the nudge's Done button, the Slack profile's GitHub login, rate
limits, an item closed while its ticket is being made, settings and the `tracker` command."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.cli import main
from bot.models import ActionStatus
from bot.nudges import weekly as nudges
from bot.settings import Settings, SettingsError
from tests.conftest import ANN, BOB
from tests.github_standin import GitHubStandIn
from tests.harness import utc
from tests.nudge_steps import block_texts, cli_env, posted_nudges
from tests.tracker_steps import github_env, incident_with_items, item, writes

NEXT_MONDAY = utc(2026, 6, 29, 9, 0)


@pytest.fixture
def github():
    standin = GitHubStandIn().start()
    yield standin
    standin.stop()


def test_the_nudge_shows_the_ticket_and_its_done_button_closes_it(make_bot, github, db, standin, clock):
    bot = make_bot(**github_env(github))
    channel, [a1] = incident_with_items(bot, "Fix the retries <@U0ANN|ann> by Jul 1")
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    clock.set(NEXT_MONDAY)
    nudges.run_weekly(bot.runtime)
    [message] = posted_nudges(standin, channel)
    line = next(t for t in block_texts(message) if "Fix the retries" in t)
    assert f"<{github.issues[1]['html_url']}|#1> (open)" in line
    bot.click(message, "nudge_done", user=BOB, channel=channel, value=str(a1))
    github.wait_for(lambda: github.issues[1]["state"] == "closed" and github.comments.get(1))
    assert github.comments[1][-1]["body"].startswith("Marked done in Slack by bob.\n\n<!-- incident-bot: change-")
    assert item(db, a1).status == ActionStatus.DONE


def test_the_owners_github_login_comes_from_their_slack_profile(make_bot, github, db, standin):
    standin.add_user(ANN, name="ann", tz="Europe/Berlin", fields={"GitHub": "https://github.com/octo-ann"})
    bot = make_bot(**github_env(github, TRACKER_USERS=""))
    channel, [a1] = incident_with_items(bot, "Fix the retries <@U0ANN|ann>")
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert github.issues[1]["assignees"] == ["octo-ann"]


def test_a_spent_rate_limit_waits_until_githubs_reset_time(make_bot, github, db):
    from bot.trackers import outbox

    bot = make_bot(**github_env(github))
    channel, [a1] = incident_with_items(bot, "Fix the retries")
    github.remaining = 0
    github.reset_at = int(dt.datetime.now(dt.UTC).timestamp()) + 600
    reply = bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert "rate limited (403)" in reply.text
    [write] = writes(db)
    waited = (write.next_attempt_at - bot.clock.now()).total_seconds()
    assert 590 <= waited <= 601
    github.remaining = 100
    bot.clock.advance(dt.timedelta(seconds=601))
    [done] = outbox.run_due(bot.runtime)
    assert done.state == "done" and len(github.issues) == 1


def test_an_item_closed_while_its_ticket_waits_gets_a_closed_ticket(make_bot, github, db):
    from bot.trackers import outbox

    bot = make_bot(**github_env(github))
    channel, [a1] = incident_with_items(bot, "Fix the retries")
    github.fail("POST", r"/issues$", 500)
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    bot.command(f"done A{a1}", user=BOB, channel=channel)
    bot.clock.advance(dt.timedelta(minutes=1))
    outbox.run_due(bot.runtime)
    github.wait_for(lambda: item(db, a1).ticket_state == "closed")
    assert github.issues[1]["state"] == "closed" and len(github.issues) == 1


def test_tracker_settings_are_checked_with_one_line_each():
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    gh = {"GITHUB_TOKEN": "t", "GITHUB_REPO": "acme/ops"}
    jira = {"JIRA_URL": "https://acme.atlassian.net", "JIRA_PROJECT": "OPS", "JIRA_USER": "a@b", "JIRA_API_TOKEN": "t"}
    assert Settings.from_env(base).trackers.kind is None
    only = Settings.from_env({**base, **gh}).trackers
    assert (only.kind, only.auto, only.sync_minutes, only.github_api_url) == (
        "github",
        True,
        15,
        "https://api.github.com/",
    )
    both = Settings.from_env({**base, **gh, **jira, "TRACKER": "jira", "TRACKER_AUTO": "no"}).trackers
    assert (both.kind, both.auto, both.jira_cloud, both.jira_url) == (
        "jira",
        False,
        True,
        "https://acme.atlassian.net/",
    )
    assert Settings.from_env({**base, **jira, "JIRA_API_TOKEN": "", "JIRA_PAT": "p"}).trackers.jira_cloud is False
    for env, message in [
        ({**gh, **jira}, "TRACKER must say which tracker to use"),
        ({"TRACKER": "gitlab"}, "TRACKER must be github, jira or none"),
        ({"TRACKER": "github", "GITHUB_REPO": "acme/ops"}, "GITHUB_TOKEN is not set"),
        ({**gh, "GITHUB_REPO": "ops"}, "GITHUB_REPO must be owner/name"),
        ({"TRACKER": "jira", "JIRA_URL": "https://x", "JIRA_PROJECT": "OPS"}, "JIRA_API_TOKEN and JIRA_USER"),
        ({**gh, "TRACKER_USERS": "ann=octo"}, "TRACKER_USERS must look like U0123ABC=octocat"),
        ({**gh, "TRACKER_SYNC_MINUTES": "0"}, "TRACKER_SYNC_MINUTES must be between 1 and 1440"),
        ({**gh, "GITHUB_API_URL": "ftp://x"}, "GITHUB_API_URL must be an http\\(s\\) URL"),
    ]:
        with pytest.raises(SettingsError, match=message):
            Settings.from_env({**base, **env})


def test_tracker_sync_and_check_from_the_command_line(make_bot, github, db, standin, capsys):
    bot = make_bot(**github_env(github))
    channel, [a1] = incident_with_items(bot, "Fix the retries")
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    github.close_as(1, "octo-bob")
    env = {**cli_env(standin, db.url), **github_env(github)}
    assert main(["tracker", "sync"], env=env, clock=bot.clock) == 0
    out = capsys.readouterr().out
    assert "tracker: GitHub acme/ops, as incident-bot: ready" in out and "1 changes brought in" in out
    assert item(db, a1).status == ActionStatus.DONE
    assert main(["tracker", "check"], env={**env, "GITHUB_TOKEN": "nope"}, clock=bot.clock) == 1
    assert "token was rejected (GITHUB_TOKEN)" in capsys.readouterr().out


def test_the_scheduled_sweep_runs_once_per_slot_across_replicas(make_bot, github, db):
    from bot.trackers import sync

    one, two = make_bot(**github_env(github)), make_bot(**github_env(github))
    channel, [a1] = incident_with_items(one, "Fix the retries")
    one.command(f"ticket A{a1}", user=ANN, channel=channel)
    github.close_as(1, "octo-bob")
    first = sync.scheduled_sweep(one.runtime)
    assert first is not None and first.changes == 1
    assert sync.scheduled_sweep(two.runtime) is None  # this slot's sweep is done
    reads = len(github.calls_to("GET", r"/issues$"))
    one.clock.advance(dt.timedelta(minutes=15))
    assert sync.scheduled_sweep(two.runtime) is not None  # the next slot: whoever comes first
    assert sync.scheduled_sweep(one.runtime) is None
    assert len(github.calls_to("GET", r"/issues$")) == reads + 1
    assert item(db, a1).status == ActionStatus.DONE


def test_an_owner_github_cannot_assign_gets_an_unassigned_issue_and_other_422s_are_told(make_bot, github, db, standin):
    bot = make_bot(**github_env(github, TRACKER_USERS="U0ANN=ghost-user"))
    channel, [a1, a2] = incident_with_items(bot, "Fix the retries <@U0ANN|ann>", "Write the runbook")
    bot.command(f"ticket A{a1}", user=ANN, channel=channel)
    assert github.issues[1]["assignees"] == [] and "Owner: ann (Slack)" in github.issues[1]["body"]
    github.fail(
        "POST",
        r"/issues$",
        422,
        body={"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "custom", "field": "body"}]},
    )
    reply = bot.command(f"ticket A{a2}", user=ANN, channel=channel)
    assert "GitHub said 422 Validation Failed (body)" in reply.text
    told = [
        c.params.get("text", "")
        for c in standin.calls_to("chat.postMessage")
        if "could not create the GitHub ticket" in c.params.get("text", "")
    ]
    assert len(told) == 1 and f"/incident ticket A{a2}" in told[0]
    assert len(github.issues) == 1
    bot.command(f"ticket A{a2}", user=ANN, channel=channel)  # after the fix: asked again, made
    assert len(github.issues) == 2 and item(db, a2).ticket_key == "2"
