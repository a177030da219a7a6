"""Jira through its REST API: Cloud (v3, e-mail + API token, descriptions in Atlassian Document
Format, search at `/rest/api/3/search/jql`) and Data Center (v2 with a personal access token,
plain-text descriptions, search at `/rest/api/2/search`).

A ticket is an issue of JIRA_PROJECT (type JIRA_ISSUE_TYPE) with the due date, priority and labels
(`incident`, the priority, and the item's marker) in Jira's own fields. Jira closes issues through
its workflow: the adapter takes a transition whose target status category is `done` (reopening: one
back to `new`, else `indeterminate`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx

from bot.settings import TrackerSettings
from bot.trackers.base import (
    CLOSED,
    OPEN,
    Comment,
    HttpTracker,
    NewTicket,
    Ticket,
    TrackerError,
    cap,
)

PRIORITIES = {"P0": "Highest", "P1": "High", "P2": "Medium", "P3": "Low"}
FIELDS = ["summary", "status", "assignee", "duedate"]
BATCH = 100  # keys per JQL query
# Fields Jira may refuse on a project whose screens lack them; the ticket is still worth making.
OPTIONAL_FIELDS = ("priority", "duedate", "assignee")


def adf(paragraphs: list[str]) -> dict[str, Any]:
    """Plain paragraphs as an Atlassian Document (what v3 takes for descriptions and comments)."""
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs if p],
    }


def _plain(body: Any) -> str:
    """A comment's words: v2 gives a string, v3 an Atlassian Document whose text nodes hold them."""
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        return str(body.get("text") or "") + "".join(_plain(child) for child in body.get("content") or [])
    return ""


class JiraTracker(HttpTracker):
    name = "jira"
    display = "Jira"

    def __init__(self, settings: TrackerSettings):
        assert settings.jira_url and settings.jira_project
        self.cloud = settings.jira_cloud
        self.site = settings.jira_url
        api = "rest/api/3/" if self.cloud else "rest/api/2/"
        if self.cloud:
            assert settings.jira_user and settings.jira_api_token
            super().__init__(
                base_url=self.site + api,
                auth=(settings.jira_user, settings.jira_api_token),
                headers={"Accept": "application/json"},
            )
        else:
            super().__init__(
                base_url=self.site + api,
                headers={"Accept": "application/json", "Authorization": f"Bearer {settings.jira_pat}"},
            )
        self.project = settings.jira_project
        self.issue_type = settings.jira_issue_type
        self._me: dict[str, Any] | None = None

    # -- what Jira says ----------------------------------------------------------------------------
    def describe(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = {}
        messages = [cap(str(m), 200) for m in (body.get("errorMessages") or []) if m]
        errors = body.get("errors") or {}
        messages += (
            [f"{cap(str(k), 40)}: {cap(str(v), 200)}" for k, v in errors.items()] if isinstance(errors, dict) else []
        )
        hints = {
            401: "the credentials were rejected (JIRA_USER and JIRA_API_TOKEN, or JIRA_PAT)",
            403: "this user may not do that in the project",
            404: f"not found (is JIRA_PROJECT {self.project} right, and visible to this user?)",
            410: "Jira retired this endpoint (a Cloud site needs JIRA_USER and JIRA_API_TOKEN, not JIRA_PAT)",
        }
        text = f"Jira said {response.status_code}" + (f": {'; '.join(messages)}" if messages else "")
        hint = hints.get(response.status_code)
        return f"{text} — {hint}" if hint else text

    def ticket(self, issue: dict[str, Any]) -> Ticket:
        fields = issue.get("fields") or {}
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        assignee = fields.get("assignee") or {}
        due = None
        if fields.get("duedate"):
            try:
                due = dt.date.fromisoformat(str(fields["duedate"])[:10])
            except ValueError:
                due = None
        key = cap(str(issue.get("key")), 100)
        return Ticket(
            key=key,
            url=f"{self.site}browse/{key}",
            state=CLOSED if category == "done" else OPEN,
            assignee=cap(assignee.get("accountId") or assignee.get("name")) or None,
            assignee_email=cap(assignee.get("emailAddress")) or None,
            due=due,
            title=cap(fields.get("summary"), 250),
        )

    def me(self) -> dict[str, Any]:
        if self._me is None:
            self._me = self.request("GET", "myself", what="checking the Jira credentials").json()
        return self._me

    def is_me(self, user: dict[str, Any]) -> bool:
        try:
            me = self.me()
        except TrackerError:
            return False
        mine = me.get("accountId") or me.get("name") or me.get("key")
        theirs = user.get("accountId") or user.get("name") or user.get("key")
        return bool(mine) and mine == theirs

    def check(self) -> str:
        me = self.me()
        self.request("GET", f"project/{self.project}", what=f"checking JIRA_PROJECT {self.project}")
        return str(me.get("displayName") or me.get("emailAddress") or me.get("name") or me.get("accountId"))

    def get(self, key: str) -> Ticket | None:
        try:
            issue = self.request(
                "GET", f"issue/{key}", what=f"reading {key}", params={"fields": ",".join(FIELDS)}
            ).json()
        except TrackerError as err:
            if err.status in (404, 410):
                return None
            raise
        return self.ticket(issue)

    def _search(self, jql: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if self.cloud:
            body: dict[str, Any] = {"jql": jql, "fields": FIELDS, "maxResults": BATCH}
            while len(found) < limit:
                page = self.request("POST", "search/jql", what="searching Jira", json=body).json()
                found += page.get("issues") or []
                token = page.get("nextPageToken")
                if not token or page.get("isLast"):
                    break
                body["nextPageToken"] = token
        else:
            start = 0
            while len(found) < limit:
                page = self.request(
                    "POST",
                    "search",
                    what="searching Jira",
                    json={"jql": jql, "fields": FIELDS, "maxResults": BATCH, "startAt": start},
                ).json()
                issues = page.get("issues") or []
                found += issues
                start += len(issues)
                if not issues or start >= int(page.get("total") or 0):
                    break
        return found

    def get_many(self, keys: list[str]) -> dict[str, Ticket]:
        found: dict[str, Ticket] = {}
        for start in range(0, len(keys), BATCH):
            batch = [k for k in keys[start : start + BATCH] if re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", k)]
            if not batch:
                continue
            try:
                issues = self._search(f"key in ({', '.join(batch)})")
            except TrackerError as err:
                if err.status != 400:
                    raise
                # Jira refuses the whole query when one key no longer exists: read that batch one by one.
                for key in batch:
                    ticket = self.get(key)
                    if ticket is not None:
                        found[ticket.key] = ticket
                continue
            for issue in issues:
                ticket = self.ticket(issue)
                found[ticket.key] = ticket
        return found

    def find_by_marker(self, marker: str, *, since: dt.datetime) -> Ticket | None:
        issues = self._search(f'project = "{self.project}" AND labels = "{marker}"', limit=BATCH)
        return self.ticket(issues[0]) if issues else None

    def key_from_url(self, url: str) -> str | None:
        match = re.fullmatch(
            re.escape(self.site) + r"browse/(" + re.escape(self.project) + r"-\d+)/?(?:[?#].*)?",
            url.strip(),
            flags=re.IGNORECASE,
        )
        return match.group(1).upper() if match else None

    def user_for_email(self, email: str) -> str | None:
        params = {"query": email} if self.cloud else {"username": email}
        try:
            users = self.request("GET", "user/search", what="finding the owner in Jira", params=params).json()
        except TrackerError:
            return None
        for user in users if isinstance(users, list) else []:
            if user.get("active", True) and user.get("accountType", "atlassian") == "atlassian":
                return user.get("accountId") or user.get("name")
        return None

    # -- writing -----------------------------------------------------------------------------------
    def _text(self, paragraphs: list[str]) -> Any:
        return adf(paragraphs) if self.cloud else "\n\n".join(paragraphs)

    def create(self, new: NewTicket) -> Ticket:
        fields: dict[str, Any] = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": cap(new.title, 255),
            "description": self._text(new.body),
            "labels": list(dict.fromkeys([*new.labels, new.priority, new.marker])),
            "priority": {"name": PRIORITIES.get(new.priority, "Medium")},
        }
        if new.due:
            fields["duedate"] = new.due.isoformat()
        if new.assignee:
            fields["assignee"] = {"accountId": new.assignee} if self.cloud else {"name": new.assignee}
        try:
            created = self.request("POST", "issue", what="creating the issue", json={"fields": fields}, ok=(201,))
        except TrackerError as err:
            refused = self._refused_optional_fields(err)
            if not refused:
                raise
            # A project whose screens lack priority or due date (or an owner Jira cannot assign):
            # the ticket without those fields beats no ticket; the body still names them.
            for name in refused:
                fields.pop(name, None)
            created = self.request("POST", "issue", what="creating the issue", json={"fields": fields}, ok=(201,))
        key = str(created.json()["key"])
        return Ticket(
            key=key,
            url=f"{self.site}browse/{key}",
            state=OPEN,
            assignee=new.assignee if "assignee" in fields else None,
            due=new.due if "duedate" in fields else None,
            title=fields["summary"],
        )

    def _refused_optional_fields(self, err: TrackerError) -> list[str]:
        if err.status != 400:
            return []
        named = [name for name in OPTIONAL_FIELDS if f"{name}:" in str(err)]
        others = re.findall(r"(\w+): ", str(err).split("said 400", 1)[-1])
        return named if named and all(o in OPTIONAL_FIELDS for o in others) else []

    def comment(self, key: str, comment: Comment) -> None:
        # Jira has no hidden text: the write's token is a short visible suffix, so a retry can tell
        # this comment from an earlier one with the same words (done, reopened, done again).
        text = f"{comment.text} (incident-bot {comment.token})"
        if comment.since is not None:
            listing = self.request(
                "GET",
                f"issue/{key}/comment",
                what=f"reading {key}'s comments",
                params={"orderBy": "-created", "maxResults": "50"},
            ).json()
            if any(
                self.is_me(c.get("author") or {}) and text in _plain(c.get("body"))
                for c in listing.get("comments") or []
            ):
                return
        self.request(
            "POST", f"issue/{key}/comment", what=f"commenting on {key}", json={"body": self._text([text])}, ok=(201,)
        )

    def _transition(self, key: str, categories: tuple[str, ...]) -> None:
        listing = self.request("GET", f"issue/{key}/transitions", what=f"reading {key}'s transitions").json()
        transitions = listing.get("transitions") or []
        for category in categories:
            for transition in transitions:
                if ((transition.get("to") or {}).get("statusCategory") or {}).get("key") == category:
                    self.request(
                        "POST",
                        f"issue/{key}/transitions",
                        what=f"moving {key}",
                        json={"transition": {"id": transition["id"]}},
                        ok=(204,),
                    )
                    return
        raise TrackerError(
            f"{key}'s workflow offers no transition to a status in category {categories[0]!r} from where it is now",
            needs_person=True,
        )

    def close(self, key: str, comment: Comment, *, dropped: bool = False) -> Ticket:
        current = self.get(key)
        if current is None:
            raise TrackerError(f"{key} no longer exists in Jira", needs_person=True)
        if current.state != CLOSED:
            self._transition(key, ("done",))
        self.comment(key, comment)
        return Ticket(
            key=key, url=current.url, state=CLOSED, assignee=current.assignee, due=current.due, title=current.title
        )

    def reopen(self, key: str, comment: Comment) -> Ticket:
        current = self.get(key)
        if current is None:
            raise TrackerError(f"{key} no longer exists in Jira", needs_person=True)
        if current.state == CLOSED:
            self._transition(key, ("new", "indeterminate"))
        self.comment(key, comment)
        return Ticket(
            key=key, url=current.url, state=OPEN, assignee=current.assignee, due=current.due, title=current.title
        )
