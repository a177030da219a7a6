"""GitHub Issues (github.com or GitHub Enterprise) through REST v3.

A ticket is an issue in GITHUB_REPO labelled `incident` and the priority (`P1`); the item's
marker is an HTML comment in the body (invisible when rendered). Finding it again lists the
repository's issues updated since the write was stored (consistent at once), rather than using
the search API, whose index lags behind new issues by up to a minute.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from typing import Any

import httpx

from bot.settings import TrackerSettings
from bot.trackers.base import (
    CLOSED,
    MAX_TITLE,
    OPEN,
    Comment,
    HttpTracker,
    NewTicket,
    Ticket,
    TrackerError,
    cap,
)

API_VERSION = "2022-11-28"
PAGE = 100
MAX_PAGES = 50  # 5,000 issues: the most one sweep or one marker search reads


def marker_comment(marker: str) -> str:
    return f"<!-- incident-bot: {marker} -->"


def html_base(api_url: str) -> str:
    """Where issues are shown: github.com for the public API, the host itself for Enterprise."""
    parts = urllib.parse.urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return "https://github.com/"
    path = parts.path
    if path.rstrip("/").endswith("/api/v3"):
        path = path.rstrip("/")[: -len("/api/v3")]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path.rstrip("/") + "/", "", ""))


def no_pings(text: str) -> str:
    """Text from Slack must not mention GitHub users or teams by accident: @name stays visible, inert."""
    return re.sub(r"@(?=[A-Za-z0-9])", "@\u200b", text)


class GitHubTracker(HttpTracker):
    name = "github"
    display = "GitHub"

    def __init__(self, settings: TrackerSettings):
        assert settings.github_token and settings.github_repo
        super().__init__(
            base_url=settings.github_api_url,
            headers={
                "Authorization": f"Bearer {settings.github_token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "incident-bot",
            },
        )
        self.repo = settings.github_repo
        self.issues_path = f"repos/{self.repo}/issues"
        self.html_base = html_base(settings.github_api_url)
        self._me: str | None = None

    def me(self) -> str | None:
        """The bot's own login (its own changes come back as webhooks, to be ignored)."""
        if self._me is None:
            try:
                self._me = str(self.request("GET", "user", what="reading the token's user").json().get("login") or "")
            except TrackerError:
                return None
        return self._me or None

    # -- reading ---------------------------------------------------------------------------------
    def describe(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = {}
        message = cap(str(body.get("message") or f"HTTP {response.status_code}"), 200)
        errors = body.get("errors") or []
        fields = ", ".join(
            cap(str(e.get("field") or e.get("message") or ""), 60) for e in errors if isinstance(e, dict)
        )
        hints = {
            401: "the token was rejected (GITHUB_TOKEN)",
            403: f"the token may not write issues in {self.repo} (it needs Issues: read and write)",
            404: f"no repository {self.repo} that this token can see (GITHUB_REPO)",
            410: "issues are turned off in this repository, or the issue was deleted",
        }
        hint = hints.get(response.status_code)
        text = f"GitHub said {response.status_code} {message}" + (f" ({fields})" if fields else "")
        return f"{text}: {hint}" if hint else text

    def ticket(self, issue: dict[str, Any]) -> Ticket:
        assignee = issue.get("assignee") or {}
        closed_by = issue.get("closed_by") or {}
        return Ticket(
            key=str(issue["number"]),
            url=str(issue.get("html_url") or f"{self.html_base}{self.repo}/issues/{issue['number']}"),
            state=CLOSED if issue.get("state") == "closed" else OPEN,
            assignee=cap(assignee.get("login")) or None,
            title=cap(issue.get("title"), MAX_TITLE),
            closed_by=cap(closed_by.get("login")) or None,
        )

    def check(self) -> str:
        login = self.request("GET", "user", what="checking GITHUB_TOKEN").json().get("login", "?")
        self._me = str(login)
        repo = self.request("GET", f"repos/{self.repo}", what=f"checking GITHUB_REPO {self.repo}").json()
        if not repo.get("has_issues", True):
            raise TrackerError(f"issues are turned off in {self.repo}", needs_person=True)
        permissions = repo.get("permissions") or {}
        if permissions and not (permissions.get("push") or permissions.get("triage")):
            raise TrackerError(f"{login} may read {self.repo} but not change its issues", needs_person=True)
        return str(login)

    def get(self, key: str) -> Ticket | None:
        try:
            issue = self.request("GET", f"{self.issues_path}/{key}", what=f"reading issue #{key}").json()
        except TrackerError as err:
            if err.status in (301, 404, 410):  # transferred to another repository, or deleted
                return None
            raise
        return self.ticket(issue)

    def get_many(self, keys: list[str]) -> dict[str, Ticket]:
        """Every issue labelled `incident` in pages of 100, then the rest (linked by hand) one by one."""
        wanted = set(keys)
        found: dict[str, Ticket] = {}
        if not wanted:
            return found
        for issue in self._issues({"state": "all", "labels": "incident"}):
            key = str(issue.get("number"))
            if key in wanted:
                found[key] = self.ticket(issue)
                if len(found) == len(wanted):
                    break  # newest first: older pages hold none of ours
        for key in sorted(wanted - set(found)):
            ticket = self.get(key)
            if ticket is not None:
                found[key] = ticket
        return found

    def _issues(self, params: dict[str, str], *, limit_pages: int = MAX_PAGES) -> Any:
        url: str | None = self.issues_path
        query: dict[str, str] | None = {**params, "per_page": str(PAGE)}
        for _ in range(min(limit_pages, MAX_PAGES)):
            if url is None:
                return
            response = self.request("GET", url, what="listing issues", params=query)
            for issue in response.json():
                if "pull_request" not in issue:  # the issues list includes pull requests
                    yield issue
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query

    def find_by_marker(self, marker: str, *, since: dt.datetime) -> Ticket | None:
        needle = marker_comment(marker)
        since_text = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # By creator, not by label: a token that may not create labels still makes the issue, without them.
        params = {"state": "all", "since": since_text, "sort": "created", "direction": "desc"}
        me = self.me()
        if me:
            params["creator"] = me
        for issue in self._issues(params):
            if needle in (issue.get("body") or ""):
                return self.ticket(issue)
        return None

    def key_from_url(self, url: str) -> str | None:
        match = re.fullmatch(re.escape(self.html_base + self.repo) + r"/issues/(\d+)/?(?:[#?].*)?", url.strip())
        return match.group(1) if match else None

    def user_for_email(self, email: str) -> str | None:
        return None  # GitHub does not look users up by e-mail; TRACKER_USERS or the Slack profile says

    # -- writing ---------------------------------------------------------------------------------
    def create(self, new: NewTicket) -> Ticket:
        body = "\n\n".join(no_pings(paragraph) for paragraph in new.body) + "\n\n" + marker_comment(new.marker)
        payload: dict[str, Any] = {
            "title": cap(no_pings(new.title), MAX_TITLE),
            "body": body,
            "labels": list(dict.fromkeys([*new.labels, new.priority])),
        }
        if new.assignee:
            payload["assignees"] = [new.assignee]
        try:
            response = self.request("POST", self.issues_path, what="creating the issue", json=payload, ok=(201,))
        except TrackerError as err:
            # An owner mapped to a login GitHub cannot assign here: the ticket without an assignee
            # beats no ticket; the body names the owner all the same.
            if err.status != 422 or "assignees" not in str(err) or "assignees" not in payload:
                raise
            del payload["assignees"]
            response = self.request("POST", self.issues_path, what="creating the issue", json=payload, ok=(201,))
        return self.ticket(response.json())

    def comment(self, key: str, comment: Comment) -> None:
        tag = marker_comment(comment.token)
        if comment.since is not None:
            since = comment.since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            posted = self.request(
                "GET",
                f"{self.issues_path}/{key}/comments",
                what=f"reading #{key}'s comments",
                params={"since": since, "per_page": str(PAGE)},
            ).json()
            if any(tag in (c.get("body") or "") for c in posted):
                return
        self.request(
            "POST",
            f"{self.issues_path}/{key}/comments",
            what=f"commenting on #{key}",
            json={"body": f"{no_pings(comment.text)}\n\n{tag}"},
            ok=(201,),
        )

    def _set_state(self, key: str, state: str, reason: str) -> Ticket:
        response = self.request(
            "PATCH",
            f"{self.issues_path}/{key}",
            what=f"setting #{key} {state}",
            json={"state": state, "state_reason": reason},
        )
        return self.ticket(response.json())

    # The state first (setting it twice is harmless), then the comment: a retry after a lost
    # answer repeats at most the comment, never leaves a comment on a ticket left open.
    def close(self, key: str, comment: Comment, *, dropped: bool = False) -> Ticket:
        ticket = self._set_state(key, "closed", "not_planned" if dropped else "completed")
        self.comment(key, comment)
        return ticket

    def reopen(self, key: str, comment: Comment) -> Ticket:
        ticket = self._set_state(key, "open", "reopened")
        self.comment(key, comment)
        return ticket
