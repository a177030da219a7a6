"""The webhook sources: how each one authenticates, names its deliveries and reads its payload.

Every comparison of a secret or signature is constant-time (`hmac.compare_digest`). A source
whose secret is unset does not exist as far as the outside world can tell (404).

Most deliveries are facts from monitoring. Some are for another part of the bot: a tracker's
issue events (GitHub `issues`, every Jira event) are handed off (`HANDOFFS`) after the delivery
was verified and stored like any other, so the sweep retries a hand-off that failed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot import signatures
from bot.settings import Settings
from bot.sources import alertmanager, generic, github, grafana, pagerduty
from bot.sources.values import FactDraft, require_object

Headers = Mapping[str, str]  # lower-cased names


@dataclass(frozen=True)
class Source:
    name: str
    secret: Callable[[Settings], str | None]
    verify: Callable[[str, Headers, bytes], bool]
    interpret: Callable[[Any, str], list[FactDraft]]
    # The delivery's natural id (kept across retries); None: a digest of the body.
    delivery_id: Callable[[Headers, Any], str | None] = lambda headers, payload: None
    event: Callable[[Headers, Any], str] = lambda headers, payload: ""


def verify_bearer(secret: str, headers: Headers, body: bytes) -> bool:
    """`Authorization: Bearer <token>` (Alertmanager's http_config.authorization, Grafana's header)."""
    return signatures.bearer_matches(secret, headers.get("authorization"))


def verify_sha256_header(header: str) -> Callable[[str, Headers, bytes], bool]:
    """`<header>: sha256=<hex>`, the HMAC-SHA256 of the raw body (GitHub's and the generic hook's)."""

    def verify(secret: str, headers: Headers, body: bytes) -> bool:
        return signatures.sha256_matches(secret, body, headers.get(header))

    return verify


def verify_pagerduty(secret: str, headers: Headers, body: bytes) -> bool:
    """`X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`: any listed signature may match (secrets rotate)."""
    expected = f"v1={signatures.hex_hmac(secret, body)}".encode()
    matched = False
    for part in headers.get("x-pagerduty-signature", "").split(",")[:10]:
        matched |= hmac.compare_digest(part.strip().lower().encode(), expected)
    return matched


def body_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _generic_id(headers: Headers, payload: Any) -> str | None:
    value = payload.get("dedup_key") if isinstance(payload, dict) else None
    return f"key:{value}" if isinstance(value, str) and value else None


def _pagerduty_id(headers: Headers, payload: Any) -> str | None:
    try:
        return "event:" + pagerduty.dedup_key(payload)
    except ValueError:
        return None


def _github_id(headers: Headers, payload: Any) -> str | None:
    delivery = headers.get("x-github-delivery", "").strip()
    return f"delivery:{delivery[:100]}" if delivery else None


def _jira_id(headers: Headers, payload: Any) -> str | None:
    """`X-Atlassian-Webhook-Identifier`: the same across Jira's retries of one delivery."""
    delivery = headers.get("x-atlassian-webhook-identifier", "").strip()
    return f"webhook:{delivery[:100]}" if delivery else None


def _jira_event(headers: Headers, payload: Any) -> str:
    event = payload.get("webhookEvent") if isinstance(payload, dict) else None
    return event[:64] if isinstance(event, str) else ""


def _no_facts(payload: Any, event: str = "") -> list[FactDraft]:
    """A tracker's delivery holds no facts; its shape is the hand-off's to judge, past this."""
    require_object(payload, "the body")
    return []


# (source, event) -> hand-off(runtime, payload, dedup_key) -> what it did, in a few words ("*": any
# event of the source). It runs after the delivery was verified and stored, at least once (the
# sweep retries one that raised), so it dedups by `dedup_key`. Imported late: the trackers build
# on the runtime, which knows these sources.
Handoff = Callable[[Any, dict[str, Any], str], str]


def _github_issues(runtime: Any, payload: dict[str, Any], key: str) -> str:
    from bot.trackers import inbound

    return inbound.handle_github_issues_event(runtime, payload, delivery_id=key)


def _jira_issue(runtime: Any, payload: dict[str, Any], key: str) -> str:
    from bot.trackers import inbound

    return inbound.handle_jira_webhook(runtime, payload, delivery_id=key)


HANDOFFS: dict[tuple[str, str], Handoff] = {
    ("github", "issues"): _github_issues,
    ("jira", "*"): _jira_issue,
}


def handoff_for(source: str, event: str) -> Handoff | None:
    return HANDOFFS.get((source, event)) or HANDOFFS.get((source, "*"))


SOURCES: dict[str, Source] = {
    "alertmanager": Source("alertmanager", lambda s: s.hooks_token, verify_bearer, alertmanager.interpret),
    "grafana": Source("grafana", lambda s: s.hooks_token, verify_bearer, grafana.interpret),
    "pagerduty": Source(
        "pagerduty",
        lambda s: s.pagerduty_webhook_secret,
        verify_pagerduty,
        pagerduty.interpret,
        delivery_id=_pagerduty_id,
    ),
    "github": Source(
        "github",
        lambda s: s.github_webhook_secret,
        verify_sha256_header("x-hub-signature-256"),
        github.interpret,
        delivery_id=_github_id,
        event=lambda headers, payload: headers.get("x-github-event", "").strip()[:64],
    ),
    "generic": Source(
        "generic",
        lambda s: s.hooks_token,
        verify_sha256_header("x-signature-256"),
        generic.interpret,
        delivery_id=_generic_id,
    ),
    # Jira Cloud's admin webhooks sign like GitHub (`X-Hub-Signature: sha256=…`); only the tracker uses them.
    "jira": Source(
        "jira",
        lambda s: s.trackers.jira_webhook_secret,
        verify_sha256_header("x-hub-signature"),
        _no_facts,
        delivery_id=_jira_id,
        event=_jira_event,
    ),
}


def dedup_key(source: Source, headers: Headers, payload: Any, body: bytes) -> str:
    return (source.delivery_id(headers, payload) or body_digest(body))[:200]
