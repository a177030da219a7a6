"""How an incident was detected: by monitoring, by people, or not recorded.

Read from what exists today: the `detected` milestone (a pinned message from a bot, such as an
alert, means monitoring) and the words of that milestone and the `detection` facts. One function,
so richer signals (alert facts from the monitoring sources) slot in here.
"""

from __future__ import annotations

import re

from bot.insights.history import IncidentRecord
from bot.models import FactSection, Milestone

MONITORING, PEOPLE, UNKNOWN = "monitoring", "people", "not recorded"
_MONITORING_WORDS = re.compile(
    r"\b(alerts?|alert(ed|ing)|alarms?|monitor(s|ing|ed)?|pager(duty)?|paged|opsgenie|grafana|prometheus|"
    r"alertmanager|datadog|synthetics?|probes?|health ?checks?|slo|burn rate|on-?call page)\b", re.IGNORECASE)
_PEOPLE_WORDS = re.compile(
    r"\b(customers?|users?|support|tickets?|reported|complain(ed|ts?)|noticed|tweets?|colleagues?|"
    r"someone|by hand|manually|escalat(ed|ion))\b", re.IGNORECASE)


def how_detected(record: IncidentRecord) -> str:
    detected = record.milestones.get(Milestone.DETECTED)
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
