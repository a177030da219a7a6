"""Is this request from Slack, and readable? Decided on the raw bytes, before anything parses them.

Order matters: size, then the timestamp header (digits only, within five minutes), then the
HMAC signature over the exact bytes received, and only then decoding (UTF-8) and the shape of
the body (a JSON object, or a form whose `payload` is a JSON object). A request that fails any
step gets 400/401/413 and one log line; nothing behind this check ever sees it, so junk can
never reach a parser that would answer it with a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

MAX_AGE_SECONDS = 5 * 60
# Slack's largest payloads (a view submission with many blocks) stay well under this.
MAX_BODY_BYTES = 1024 * 1024
_TIMESTAMP_DIGITS = 12


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


@dataclass(frozen=True)
class Verified:
    body: str  # the decoded text: what Bolt parses next


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def check(raw: bytes, headers: Mapping[str, str], *, secret: str, now: float) -> Verified | Refusal:
    """Verify a request to /slack/events; `now` is Unix seconds (passed in: tests set it)."""
    if len(raw) > MAX_BODY_BYTES:
        return Refusal(413, f"body of {len(raw)} bytes is over the {MAX_BODY_BYTES}-byte cap")
    timestamp = _header(headers, "x-slack-request-timestamp")
    signature = _header(headers, "x-slack-signature")
    if timestamp is None or signature is None:
        return Refusal(401, "no Slack signature headers")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _TIMESTAMP_DIGITS):
        return Refusal(401, f"timestamp header is not whole seconds: {timestamp[:40]!r}")
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return Refusal(401, "timestamp is more than five minutes away from now (a replay, or a wrong clock)")
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return Refusal(401, "signature does not match")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "body is not UTF-8")
    problem = _shape_problem(body, _header(headers, "content-type"))
    if problem:
        return Refusal(400, problem)
    return Verified(body)


def _shape_problem(body: str, content_type: str | None) -> str | None:
    """What Bolt would choke on, in the order Bolt parses (slack_bolt.request.internals.parse_body)."""
    if not body:
        return None
    if content_type == "application/json" or body.startswith("{"):
        return _not_an_object(body, "JSON body")
    if "payload" in body:
        payload = dict(parse_qsl(body, keep_blank_values=True)).get("payload")
        return None if payload is None else _not_an_object(payload, "payload=")
    return None


def _not_an_object(text: str, what: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return f"{what} is not JSON"
    return None if isinstance(value, dict) else f"{what} is JSON but not an object"


def log_refusal(logger: logging.Logger, refusal: Refusal, client: str) -> None:
    """One line, no traceback: junk is common on the open internet and says nothing about us."""
    logger.warning("refused a request to /slack/events from %s: %s (%d)", client, refusal.reason, refusal.status)
