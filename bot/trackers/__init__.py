"""Tickets in the team's tracker (GitHub Issues or Jira), kept in step with action items.

`base` is the one interface, `github` and `jira` its adapters, `outbox` makes every write
survive faults exactly once, `sync` applies what the tracker says (webhooks and the sweep).
"""
