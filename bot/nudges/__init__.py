"""Reminders that must arrive exactly once: the weekly action-item nudge and postmortem follow-ups."""
