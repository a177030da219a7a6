"""Steps the tracker tests share: a bot wired to a tracker stand-in, signed webhooks, reading items."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from bot.models import ActionItem, Revision, TimelineEntry, TrackerWrite
from tests.conftest import ANN
from tests.flows import declare
from tests.harness import BotUnderTest

GITHUB_SECRET = "gh-webhook-secret"
JIRA_SECRET = "jira-webhook-secret"


def github_env(github: Any, **extra: str) -> dict[str, str]:
    return {
        "TRACKER": "github",
        "GITHUB_TOKEN": github.token,
        "GITHUB_REPO": github.repo,
        "GITHUB_API_URL": github.base_url,
        "TRACKER_USERS": "U0ANN=octo-ann,U0BOB=octo-bob",
        "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
        **extra,
    }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_hook(
    bot: BotUnderTest,
    payload: dict[str, Any],
    *,
    event: str = "issues",
    delivery: str | None = None,
    secret: str = GITHUB_SECRET,
    raw: bytes | None = None,
) -> httpx.Response:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature(secret, body),
    }
    return httpx.post(f"{bot.url}/hooks/github", content=body, headers=headers, timeout=30)


def jira_hook(
    bot: BotUnderTest,
    payload: dict[str, Any],
    *,
    delivery: str | None = None,
    secret: str = JIRA_SECRET,
    raw: bytes | None = None,
) -> httpx.Response:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Atlassian-Webhook-Identifier": delivery or str(uuid.uuid4()),
        "X-Hub-Signature": signature(secret, body),
    }
    return httpx.post(f"{bot.url}/hooks/jira", content=body, headers=headers, timeout=30)


def items(db) -> list[ActionItem]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(ActionItem).order_by(ActionItem.id)))


def item(db, item_id: int) -> ActionItem:
    with db.unit_of_work() as session:
        found = session.get(ActionItem, item_id)
        assert found is not None
        return found


def writes(db) -> list[TrackerWrite]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(TrackerWrite).order_by(TrackerWrite.id)))


def timeline_texts(db) -> list[str]:
    with db.unit_of_work() as session:
        return [e.text for e in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]


def revisions(db, item_id: int) -> list[Revision]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(Revision).where(Revision.action_item_id == item_id).order_by(Revision.id)))


def incident_with_items(bot: BotUnderTest, *texts: str) -> tuple[str, list[int]]:
    channel = declare(bot)
    for text in texts:
        bot.command(f"action {text}", user=ANN, channel=channel)
    return channel, [i.id for i in items(bot.runtime.db)]


def channel_texts(standin, channel: str) -> list[str]:
    return [
        c.params.get("text", "") for c in standin.calls_to("chat.postMessage") if c.params.get("channel") == channel
    ]


def jira_env(jira: Any, **extra: str) -> dict[str, str]:
    auth = {"JIRA_USER": jira.user, "JIRA_API_TOKEN": jira.token} if jira.cloud else {"JIRA_PAT": jira.pat}
    return {
        "TRACKER": "jira",
        "JIRA_URL": jira.site,
        "JIRA_PROJECT": jira.project,
        "JIRA_WEBHOOK_SECRET": JIRA_SECRET,
        **auth,
        **extra,
    }
