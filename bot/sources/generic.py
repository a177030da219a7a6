"""The generic webhook for anything else (CI, feature flags, cron):

`{"text", "occurred_at" (ISO 8601 with zone), "source", "kind": alert|deploy|change|note,
"link", "labels": {…}, "dedup_key"}`. `text`, `occurred_at` and `kind` are required.
"""

from __future__ import annotations

import re
from typing import Any

from bot.sources.values import (
    FactDraft,
    PayloadError,
    clean_labels,
    clean_link,
    clean_text,
    parse_time,
    require_object,
)

SOURCE = "generic"
GENERIC_KINDS = ("alert", "deploy", "change", "note")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")
SHAPE = '{"text", "occurred_at", "kind": alert|deploy|change|note, "source", "link", "labels", "dedup_key"}'


def interpret(payload: Any, event: str = "") -> list[FactDraft]:
    body = require_object(payload, "the body")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise PayloadError(f"text must be a non-empty string; the shape is {SHAPE}")
    kind = body.get("kind")
    if kind not in GENERIC_KINDS:
        raise PayloadError(f"kind must be one of {', '.join(GENERIC_KINDS)}")
    occurred_at = parse_time(body.get("occurred_at"), "occurred_at")
    assert occurred_at is not None
    name = body.get("source") or SOURCE
    if not isinstance(name, str) or not _NAME.match(name):
        raise PayloadError("source must be a short name (letters, digits, . _ -)")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not dedup or len(dedup) > 200):
        raise PayloadError("dedup_key must be a string of up to 200 characters")
    link = body.get("link")
    if link is not None and clean_link(link) is None:
        raise PayloadError("link must be an http(s) URL")
    # Without a dedup_key, the same kind, time and text from the same sender is the same fact.
    identity = dedup or f"{kind}:{occurred_at.isoformat()}:{text.strip()[:200]}"
    status = "firing" if kind == "alert" else kind
    return [
        FactDraft(
            source=name.lower(),
            kind=kind,
            status=status,
            occurred_at=occurred_at,
            title=clean_text(text),
            identity=f"{SOURCE}:{name.lower()}:{identity}"[:300],
            link=clean_link(link),
            labels=clean_labels(body.get("labels")),
            group_key=None,
        )
    ]
