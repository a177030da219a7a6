"""PagerDuty v3 webhooks: each incident event is a `page` fact at the event's own time.

Labels: `service` (the PagerDuty service's name), `pd_service` (its id), `urgency`,
`priority`, and `pd_incident` (the incident's id: an annotation carries no service, so routing
takes its labels from the same incident's earlier facts).
"""

from __future__ import annotations

from typing import Any

from bot.sources.values import (
    FactDraft,
    clean_link,
    clean_text,
    parse_time,
    require_object,
    require_string,
)

SOURCE = "pagerduty"
EVENT_STATUSES = {
    "incident.triggered": "triggered",
    "incident.acknowledged": "acknowledged",
    "incident.resolved": "resolved",
    "incident.annotated": "annotated",
}


def event_of(payload: Any) -> dict[str, Any]:
    body = require_object(payload, "the body")
    event = require_object(body.get("event"), "event")
    require_string(event, "id", "event", limit=100)
    require_string(event, "event_type", "event", limit=100)
    return event


def dedup_key(payload: Any) -> str:
    return str(event_of(payload)["id"])


def _summary(node: Any) -> str:
    return str(node.get("summary") or "") if isinstance(node, dict) else ""


def interpret(payload: Any, event: str = "") -> list[FactDraft]:
    pd_event = event_of(payload)
    status = EVENT_STATUSES.get(pd_event["event_type"])
    if status is None:
        return []  # another event type of a known source: answered 200, nothing recorded
    occurred_at = parse_time(pd_event.get("occurred_at"), "event.occurred_at")
    assert occurred_at is not None
    data = require_object(pd_event.get("data"), "event.data")
    if status == "annotated":
        incident = require_object(data.get("incident"), "event.data.incident")
        incident_id = require_string(incident, "id", "event.data.incident", limit=100)
        note = clean_text(data.get("content"), 240)
        title = clean_text(f"Note on {_summary(incident) or incident_id}: {note}")
        link = clean_link(incident.get("html_url"))
        labels = {"pd_incident": incident_id}
    else:
        incident_id = require_string(data, "id", "event.data", limit=100)
        service = data.get("service")
        labels = {"pd_incident": incident_id}
        if isinstance(service, dict):
            labels.update({"service": _summary(service)[:500], "pd_service": str(service.get("id") or "")[:100]})
        if data.get("urgency"):
            labels["urgency"] = str(data["urgency"])[:50]
        if isinstance(data.get("priority"), dict):
            labels["priority"] = _summary(data["priority"])[:50]
        labels = {key: value for key, value in labels.items() if value}
        number = f"#{data['number']} " if isinstance(data.get("number"), int) else ""
        title = clean_text(f"{number}{data.get('title') or incident_id}")
        link = clean_link(data.get("html_url"))
    return [
        FactDraft(
            source=SOURCE,
            kind="page",
            status=status,
            occurred_at=occurred_at,
            title=title,
            identity=f"{SOURCE}:{pd_event['id']}"[:300],
            link=link,
            labels=labels,
            group_key=f"{SOURCE}:{incident_id}"[:300],
        )
    ]
