"""How an incident was detected: by monitoring, by people, or not recorded.

Read from the `detected` milestone — taken from an alert or page the monitoring webhooks
recorded (bot/sources), or a pinned message from a bot, means monitoring — and otherwise from
the words of that milestone and of the `detection` facts.
"""

from __future__ import annotations

import re

from bot.insights.history import IncidentRecord
from bot.models import EntrySource, FactSection, Milestone

MONITORING, PEOPLE, UNKNOWN = "monitoring", "people", "not recorded"
_MONITORING_WORDS = re.compile(
    r"\b(alerts?|alert(ed|ing)|alarms?|monitor(s|ing|ed)?|pager(duty)?|paged|opsgenie|grafana|prometheus|"
    r"alertmanager|datadog|synthetics?|probes?|health ?checks?|slo|burn rate|on-?call page)\b",
    re.IGNORECASE,
)
_PEOPLE_WORDS = re.compile(
    r"\b(customers?|users?|support|tickets?|reported|complain(ed|ts?)|noticed|tweets?|colleagues?|"
    r"someone|by hand|manually|escalat(ed|ion))\b",
    re.IGNORECASE,
)


def how_detected(record: IncidentRecord) -> str:
    detected = record.milestones.get(Milestone.DETECTED)
    if detected is not None and detected.source == EntrySource.MONITORING.value:
        return MONITORING  # the first alert or page the team's monitoring sent
    if detected is not None and detected.author_id.startswith("B"):
        return MONITORING  # a bot's message (an alert) was pinned as the detection
    texts = ([detected.text] if detected is not None else []) + record.facts_in(FactSection.DETECTION)
    text = " ".join(texts)
    machine, person = _MONITORING_WORDS.search(text), _PEOPLE_WORDS.search(text)
    if machine and person:
        return MONITORING if machine.start() < person.start() else PEOPLE  # the first one named found it
    if machine:
        return MONITORING
    if person:
        return PEOPLE
    return UNKNOWN
