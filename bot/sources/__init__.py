"""Facts that arrive from the team's tools (Alertmanager, Grafana, PagerDuty, GitHub, generic).

One pure module per source turns a verified payload into plain `FactDraft` values
(`values.py` holds the value and the checks every source shares); `routing.py` puts facts on
the timelines of the incidents that watch them; `deliveries.py` stores each accepted delivery
before interpreting it; `notices.py` tells incident channels and ALERTS_CHANNEL.
"""
