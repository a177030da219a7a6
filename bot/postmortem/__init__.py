"""Postmortems: facts captured during an incident, closing and reopening, the rendered draft
(key times, Jinja2 templates, the wording review) and its publication in Slack."""
