"""The webhook sources: how each one authenticates, names its deliveries and reads its payload.

Every comparison of a secret or signature is constant-time (`hmac.compare_digest`). A source
whose secret is unset does not exist as far as the outside world can tell (404).
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
from bot.sources.values import FactDraft

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
}


def dedup_key(source: Source, headers: Headers, payload: Any, body: bytes) -> str:
    return (source.delivery_id(headers, payload) or body_digest(body))[:200]
