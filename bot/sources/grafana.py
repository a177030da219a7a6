"""Grafana alerting's webhook contact point: Alertmanager's alert shape, Grafana's envelope.

Grafana sends `orgId`, `groupKey` (and `version` "1"); each alert carries `fingerprint`,
`startsAt`, `endsAt`, `labels`, `annotations`, `generatorURL` as Alertmanager's do.
"""

from __future__ import annotations

from typing import Any

from bot.sources.alertmanager import alert_facts
from bot.sources.values import FactDraft, PayloadError, require_object

SOURCE = "grafana"


def interpret(payload: Any, event: str = "") -> list[FactDraft]:
    body = require_object(payload, "the body")
    if "alerts" not in body or ("orgId" not in body and "receiver" not in body):
        raise PayloadError("not a Grafana alerting webhook payload (needs receiver, orgId and alerts)")
    group_key = body.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        group_key = str(body.get("receiver", "")) + str(body.get("groupLabels", ""))
    return alert_facts(body, source=SOURCE, group_key=f"{SOURCE}:{group_key}"[:300])
