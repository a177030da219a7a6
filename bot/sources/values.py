"""The plain fact value every source module returns, and the checks outside data must pass.

Everything here comes from outside the company's Slack: text is cut to size and its Slack
markup made inert (an alert named `<!channel>` must never ping a channel), links must be
plain http(s) URLs, labels are short strings. A payload that is not the documented shape
raises `PayloadError`, whose message is the one-line reason the webhook answers with.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.slack.text import plain_text

KINDS = ("alert", "page", "deploy", "change", "note")
# Statuses that open a problem: the earliest of these gives an incident its `detected` time.
FIRING_STATUSES = ("firing", "triggered")
MAX_TITLE = 300
MAX_LINK = 1000
MAX_LABELS = 64
MAX_LABEL_KEY = 100
MAX_LABEL_VALUE = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
_LINK = re.compile(r"^https?://[^\s<>|\"]+$")
# Alertmanager and Grafana send this for "not ended yet".
_ZERO_TIME = "0001-01-01T00:00:00Z"


class PayloadError(ValueError):
    """The payload is not the source's documented shape; str() is a one-line reason."""


@dataclass(frozen=True)
class FactDraft:
    source: str
    kind: str
    status: str
    occurred_at: dt.datetime
    title: str
    identity: str
    link: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    # Facts that belong to one notification (an Alertmanager group) share this key.
    group_key: str | None = None

    @property
    def firing(self) -> bool:
        return self.status in FIRING_STATUSES


def clean_text(value: Any, limit: int = MAX_TITLE) -> str:
    """Outside text as one inert line: Slack markup as words, no control characters, cut to size."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = _SPACE.sub(" ", _CONTROL.sub(" ", plain_text(text))).strip()
    # plain_text leaves unknown `<…>` alone; angle brackets must not survive into mrkdwn either way.
    text = text.replace("<", "‹").replace(">", "›")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_link(value: Any) -> str | None:
    """An http(s) URL safe to put inside `<url|label>`, or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_LINK or not _LINK.match(value):
        return None
    return value


def clean_labels(value: Any, where: str = "labels") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object of strings")
    labels: dict[str, str] = {}
    for key, item in list(value.items())[:MAX_LABELS]:
        if not isinstance(key, str) or not key or len(key) > MAX_LABEL_KEY:
            raise PayloadError(f"{where} has a key that is not a short string")
        if isinstance(item, (dict, list)):
            raise PayloadError(f"{where}.{key} must be a string")
        labels[key] = _CONTROL.sub(" ", "" if item is None else str(item))[:MAX_LABEL_VALUE]
    return labels


def parse_time(value: Any, where: str, *, allow_zero: bool = False) -> dt.datetime | None:
    """An RFC 3339 / ISO 8601 time with a zone, as aware UTC (None for Alertmanager's zero time)."""
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{where} must be an ISO 8601 time with a zone")
    text = value.strip()
    if allow_zero and (text == _ZERO_TIME or text.startswith("0001-01-01")):
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Go and Grafana write nanoseconds; Python reads at most microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{where} is not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise PayloadError(f"{where} has no time zone: {value[:40]!r}")
    return parsed.astimezone(dt.UTC)


def require_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object")
    return value


def require_string(container: Mapping[str, Any], key: str, where: str, *, limit: int = 300) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{where}.{key} must be a non-empty string")
    if len(value) > limit:
        raise PayloadError(f"{where}.{key} is over {limit} characters")
    return value.strip()
