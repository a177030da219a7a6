"""Jinja2 postmortem templates and the wording review's vocabulary (installed as `bot.templates`).

Files here are data: teams override or add templates with INCIDENT_TEMPLATES_DIR.
"""
