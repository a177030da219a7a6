"""Prometheus Alertmanager's webhook receiver (payload version 4): one fact per alert.

A fact's identity is (fingerprint, status, startsAt): Alertmanager re-sends a whole group every
`repeat_interval` and whenever the group changes, and those repeats add nothing. A firing
alert happened at `startsAt`, a resolved one at `endsAt`. Grafana's webhook contact point
sends the same alert shape, so `grafana.py` reuses `alert_facts`.
"""

from __future__ import annotations

from typing import Any

from bot.sources.values import (
    FactDraft,
    PayloadError,
    clean_labels,
    clean_link,
    clean_text,
    parse_time,
    require_object,
    require_string,
)

SOURCE = "alertmanager"
MAX_ALERTS = 5000


def alert_title(labels: dict[str, str], annotations: dict[str, str]) -> str:
    name = labels.get("alertname") or "alert"
    summary = annotations.get("summary") or annotations.get("title") or ""
    return clean_text(f"{name}: {summary}" if summary else name)


def alert_facts(payload: dict[str, Any], *, source: str, group_key: str) -> list[FactDraft]:
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("alerts must be a list")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(f"over {MAX_ALERTS} alerts in one notification")
    facts = []
    for index, raw in enumerate(alerts):
        where = f"alerts[{index}]"
        alert = require_object(raw, where)
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            raise PayloadError(f"{where}.status must be firing or resolved")
        fingerprint = require_string(alert, "fingerprint", where, limit=100)
        labels = clean_labels(alert.get("labels"), f"{where}.labels")
        annotations = clean_labels(alert.get("annotations"), f"{where}.annotations")
        starts_at = parse_time(alert.get("startsAt"), f"{where}.startsAt")
        assert starts_at is not None
        occurred_at = starts_at
        if status == "resolved":
            ends_at = parse_time(alert.get("endsAt"), f"{where}.endsAt", allow_zero=True)
            if ends_at is None:
                raise PayloadError(f"{where}.endsAt must be set on a resolved alert")
            occurred_at = ends_at
        facts.append(
            FactDraft(
                source=source,
                kind="alert",
                status=status,
                occurred_at=occurred_at,
                title=alert_title(labels, annotations),
                identity=f"{source}:{fingerprint}:{status}:{starts_at.isoformat()}",
                link=clean_link(alert.get("generatorURL")),
                labels=labels,
                group_key=group_key,
            )
        )
    return facts


def interpret(payload: Any, event: str = "") -> list[FactDraft]:
    body = require_object(payload, "the body")
    if str(body.get("version")) != "4":
        raise PayloadError('version must be "4" (Alertmanager webhook payload)')
    group_key = require_string(body, "groupKey", "the body", limit=2000)
    return alert_facts(body, source=SOURCE, group_key=f"{SOURCE}:{group_key}"[:300])


def group_labels(payload: dict[str, Any]) -> dict[str, str]:
    """The labels a notification's alerts were grouped by (or, failing that, share)."""
    try:
        return clean_labels(payload.get("groupLabels")) or clean_labels(payload.get("commonLabels"))
    except PayloadError:
        return {}
