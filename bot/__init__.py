"""incident-bot core: services that know incidents, timelines, postmortems and nudges.

Nothing in this package imports Bolt; the Slack surface lives in `handlers/`.
"""
