"""The tracker adapter the settings name (TRACKER), or None when no tracker is configured."""

from __future__ import annotations

from typing import Any

from bot.settings import TrackerSettings


def build_tracker(settings: TrackerSettings) -> Any:
    if settings.kind == "github":
        from bot.trackers.github import GitHubTracker

        return GitHubTracker(settings)
    if settings.kind == "jira":
        from bot.trackers.jira import JiraTracker

        return JiraTracker(settings)
    return None


def where(settings: TrackerSettings) -> str:
    """Where tickets go, for people: `GitHub acme/ops` or `Jira OPS`."""
    if settings.kind == "github":
        return f"GitHub {settings.github_repo}"
    if settings.kind == "jira":
        return f"Jira {settings.jira_project}"
    return "no tracker"
