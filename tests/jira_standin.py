"""A stand-in for Jira's REST API, Cloud (v3) or Data Center (v2), written from Atlassian's docs.

Cloud: basic auth (e-mail + API token), descriptions and comments must be Atlassian Document
Format, search at `POST /rest/api/3/search/jql` (nextPageToken paging, only the fields asked for);
the retired `/rest/api/3/search` answers 410. Data Center: a bearer personal access token, plain
text, `POST /rest/api/2/search` (startAt/total paging). Both: `myself`, `project/{key}`, create an
issue (400 with `errors` for an unknown project, priority, assignee, or a field not on the screen),
read one (404), transitions through a To Do / In Progress / Done workflow (204), comments (201),
`user/search` by e-mail, and JQL of the forms the bot sends (`key in (…)`, `project = … AND labels = …`);
an unknown key in `key in (…)` is a 400, as in Jira.

`transition_as`, `assign_as`, `set_due_as` change an issue as a person would and return the
webhook payload Jira sends (`jira:issue_updated` with a changelog).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
from typing import Any

from tests.http_standin import Answer, HttpStandIn, Route

STATUSES = {"To Do": ("new", "11"), "In Progress": ("indeterminate", "21"), "Done": ("done", "31")}
PRIORITY_NAMES = ("Highest", "High", "Medium", "Low", "Lowest")


class JiraStandIn(HttpStandIn):
    def __init__(
        self,
        *,
        cloud: bool = True,
        project: str = "OPS",
        user: str = "bot@example.com",
        token: str = "jira-api-token",
        pat: str = "jira-pat",
        people: dict[str, str] | None = None,
        screen_fields: tuple[str, ...] = ("priority", "duedate", "assignee"),
    ):
        super().__init__()
        self.cloud, self.project, self.user, self.token, self.pat = cloud, project, user, token, pat
        self.v = "3" if cloud else "2"
        # account id (Cloud) or user name (DC) -> e-mail
        self.people = people if people is not None else {"acc-ann": "ann@example.com", "acc-bob": "bob@example.com"}
        self.me = (
            {"accountId": "acc-bot", "displayName": "incident-bot", "emailAddress": user}
            if cloud
            else {"name": "incident-bot", "key": "incident-bot", "displayName": "incident-bot"}
        )
        self.screen_fields = set(screen_fields)
        self.display_names: dict[str, str] = {}  # a person's name as Jira shows it, when not the default
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[Any]] = {}
        api = f"/rest/api/{self.v}"
        self.routes = [
            Route("GET", api + "/myself", lambda **_: Answer(200, self.me)),
            Route("GET", api + r"/project/([A-Z0-9_]+)", self._project),
            Route("POST", api + "/issue", self._create),
            Route("GET", api + r"/issue/([A-Z0-9_]+-\d+)", self._get),
            Route("GET", api + r"/issue/([A-Z0-9_]+-\d+)/transitions", self._transitions),
            Route("POST", api + r"/issue/([A-Z0-9_]+-\d+)/transitions", self._do_transition),
            Route("POST", api + r"/issue/([A-Z0-9_]+-\d+)/comment", self._comment),
            Route("GET", api + r"/issue/([A-Z0-9_]+-\d+)/comment", self._comment_list),
            Route("GET", api + "/user/search", self._user_search),
        ]
        if cloud:
            self.routes += [
                Route("POST", "/rest/api/3/search/jql", self._search_jql),
                Route("GET", "/rest/api/3/search/jql", self._search_jql),
                Route("POST", "/rest/api/3/search", self._retired),
                Route("GET", "/rest/api/3/search", self._retired),
            ]
        else:
            self.routes += [Route("POST", "/rest/api/2/search", self._search_dc)]

    @property
    def site(self) -> str:
        return self.base_url

    def authorized(self, headers: dict[str, str]) -> bool:
        given = headers.get("authorization", "")
        if self.cloud:
            return given == "Basic " + base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
        return given == f"Bearer {self.pat}"

    def unauthorized(self) -> Answer:
        return Answer(
            401,
            {
                "errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
                "errors": {},
            },
        )

    # -- shapes ------------------------------------------------------------------------------------
    def _user(self, who: str | None) -> dict[str, Any] | None:
        if who is None:
            return None
        key = "accountId" if self.cloud else "name"
        return {
            key: who,
            "displayName": who.replace("acc-", "").title(),
            "emailAddress": self.people.get(who, ""),
            "active": True,
            **({"accountType": "atlassian"} if self.cloud else {}),
        }

    def _issue_json(self, issue: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
        category, status_id = STATUSES[issue["status"]]
        all_fields = {
            "summary": issue["summary"],
            "description": issue["description"],
            "labels": issue["labels"],
            "status": {"name": issue["status"], "id": status_id, "statusCategory": {"key": category}},
            "assignee": self._user(issue["assignee"]),
            "duedate": issue["duedate"],
            "priority": {"name": issue["priority"]} if issue["priority"] else None,
            "issuetype": {"name": issue["issuetype"]},
            "project": {"key": self.project},
        }
        shown = {k: v for k, v in all_fields.items() if fields is None or k in fields}
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{self.base_url}rest/api/{self.v}/issue/{issue['id']}",
            "fields": shown,
        }

    def _bad(self, errors: dict[str, str]) -> Answer:
        return Answer(400, {"errorMessages": [], "errors": errors})

    # -- routes ------------------------------------------------------------------------------------
    def _project(self, key: str, **_: Any) -> Answer:
        if key != self.project:
            return Answer(404, {"errorMessages": [f"No project could be found with key '{key}'."], "errors": {}})
        return Answer(200, {"key": key, "name": "Operations"})

    def _create(self, *, body: Any, **_: Any) -> Answer:
        fields = (body or {}).get("fields") or {}
        if (fields.get("project") or {}).get("key") != self.project:
            return self._bad({"project": "valid project is required"})
        if not str(fields.get("summary") or "").strip():
            return self._bad({"summary": "You must specify a summary of the issue."})
        description = fields.get("description")
        if (
            self.cloud
            and description is not None
            and not (isinstance(description, dict) and description.get("type") == "doc")
        ):
            return self._bad(
                {"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}
            )
        if not self.cloud and description is not None and not isinstance(description, str):
            return self._bad({"description": "Operation value must be a string"})
        errors = {}
        for name in ("priority", "duedate", "assignee"):
            if name in fields and name not in self.screen_fields:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        if (
            "priority" in fields
            and "priority" not in errors
            and (fields["priority"] or {}).get("name") not in PRIORITY_NAMES
        ):
            errors["priority"] = "Specify the Priority (name) in the string format"
        assignee = None
        if fields.get("assignee") and "assignee" not in errors:
            assignee = fields["assignee"].get("accountId" if self.cloud else "name")
            if assignee not in self.people:
                errors["assignee"] = f"User '{assignee}' cannot be assigned issues."
        if errors:
            return self._bad(errors)
        number = len(self.issues) + 1
        key = f"{self.project}-{number}"
        self.issues[key] = {
            "id": str(10000 + number),
            "key": key,
            "summary": fields["summary"],
            "description": description,
            "labels": list(fields.get("labels") or []),
            "status": "To Do",
            "assignee": assignee,
            "duedate": fields.get("duedate"),
            "priority": (fields.get("priority") or {}).get("name"),
            "issuetype": (fields.get("issuetype") or {}).get("name"),
            "_updated": time.time(),
        }
        return Answer(
            201, {"id": self.issues[key]["id"], "key": key, "self": f"{self.base_url}rest/api/{self.v}/issue/{number}"}
        )

    def _get(self, key: str, *, query: dict[str, str], **_: Any) -> Answer:
        issue = self.issues.get(key)
        if issue is None:
            return Answer(
                404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
            )
        fields = query.get("fields")
        return Answer(200, self._issue_json(issue, fields.split(",") if fields else None))

    def _transitions(self, key: str, **_: Any) -> Answer:
        issue = self.issues.get(key)
        if issue is None:
            return Answer(
                404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
            )
        return Answer(
            200,
            {
                "transitions": [
                    {"id": tid, "name": name, "to": {"name": name, "statusCategory": {"key": category}}}
                    for name, (category, tid) in STATUSES.items()
                    if name != issue["status"]
                ]
            },
        )

    def _do_transition(self, key: str, *, body: Any, **_: Any) -> Answer:
        issue = self.issues.get(key)
        if issue is None:
            return Answer(
                404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
            )
        wanted = ((body or {}).get("transition") or {}).get("id")
        for name, (_, tid) in STATUSES.items():
            if tid == wanted and name != issue["status"]:
                issue["status"], issue["_updated"] = name, time.time()
                return Answer(204)
        return Answer(400, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."], "errors": {}})

    def _comment(self, key: str, *, body: Any, **_: Any) -> Answer:
        if key not in self.issues:
            return Answer(
                404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
            )
        text = (body or {}).get("body")
        if self.cloud and not (isinstance(text, dict) and text.get("type") == "doc"):
            return self._bad({"comment": "Comment body must be an Atlassian Document"})
        self.comments.setdefault(key, []).append(text)
        return Answer(201, {"id": str(len(self.comments[key])), "body": text})

    def _comment_list(self, key: str, *, query: dict[str, str], **_: Any) -> Answer:
        if key not in self.issues:
            return Answer(
                404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
            )
        comments = [
            {"id": str(n), "author": self.me, "body": body, "created": "2026-06-22T14:50:00.000+0000"}
            for n, body in enumerate(self.comments.get(key, []), start=1)
        ]
        if query.get("orderBy") == "-created":
            comments.reverse()
        size = int(query.get("maxResults", "50"))
        return Answer(200, {"startAt": 0, "maxResults": size, "total": len(comments), "comments": comments[:size]})

    def _user_search(self, *, query: dict[str, str], **_: Any) -> Answer:
        wanted = (query.get("query") if self.cloud else query.get("username")) or ""
        return Answer(200, [self._user(who) for who, email in self.people.items() if email == wanted])

    def _retired(self, **_: Any) -> Answer:
        return Answer(
            410,
            {
                "errorMessages": [
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
                ]
            },
        )

    def _jql(self, jql: str) -> list[dict[str, Any]] | Answer:
        keys = re.fullmatch(r"key in \(([^)]*)\)", jql.strip())
        if keys:
            wanted = [k.strip().strip('"') for k in keys.group(1).split(",") if k.strip()]
            missing = [k for k in wanted if k not in self.issues]
            if missing:
                return Answer(
                    400,
                    {
                        "errorMessages": [f"An issue with key '{missing[0]}' does not exist for field 'key'."],
                        "errors": {},
                    },
                )
            return [self.issues[k] for k in wanted]
        labelled = re.fullmatch(r'project = "([^"]+)" AND labels = "([^"]+)"', jql.strip())
        if labelled:
            return [
                i
                for i in self.issues.values()
                if labelled.group(1) == self.project and labelled.group(2) in i["labels"]
            ]
        return Answer(400, {"errorMessages": [f"Error in the JQL Query: {jql}"], "errors": {}})

    def _search_jql(self, *, body: Any, query: dict[str, str], **_: Any) -> Answer:
        body = body or {
            "jql": query.get("jql", ""),
            "fields": query.get("fields", "").split(","),
            "maxResults": query.get("maxResults", "50"),
            "nextPageToken": query.get("nextPageToken"),
        }
        found = self._jql(str(body.get("jql") or ""))
        if isinstance(found, Answer):
            return found
        size = min(5000, int(body.get("maxResults") or 50))
        start = int(body.get("nextPageToken") or 0)
        page = found[start : start + size]
        more = start + size < len(found)
        fields = body.get("fields") or ["id"]
        return Answer(
            200,
            {
                "issues": [self._issue_json(i, fields) for i in page],
                "isLast": not more,
                **({"nextPageToken": str(start + size)} if more else {}),
            },
        )

    def _search_dc(self, *, body: Any, **_: Any) -> Answer:
        found = self._jql(str((body or {}).get("jql") or ""))
        if isinstance(found, Answer):
            return found
        start, size = int((body or {}).get("startAt") or 0), min(1000, int((body or {}).get("maxResults") or 50))
        fields = (body or {}).get("fields")
        return Answer(
            200,
            {
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": [self._issue_json(i, fields) for i in found[start : start + size]],
            },
        )

    # -- what a person does in Jira -----------------------------------------------------------------
    def _event(self, issue: dict[str, Any], who: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        user = self._user(who) or {}
        user["displayName"] = self.display_names.get(who, user.get("displayName"))
        return {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": user,
            "issue": self._issue_json(issue),
            "changelog": {"id": str(int(time.time())), "items": items},
        }

    def transition_as(self, key: str, status: str, who: str) -> dict[str, Any]:
        with self.lock:
            issue = self.issues[key]
            before, issue["status"] = issue["status"], status
            return self._event(issue, who, [{"field": "status", "fromString": before, "toString": status}])

    def assign_as(self, key: str, assignee: str, who: str) -> dict[str, Any]:
        with self.lock:
            issue = self.issues[key]
            issue["assignee"] = assignee
            return self._event(issue, who, [{"field": "assignee", "to": assignee}])

    def set_due_as(self, key: str, due: dt.date, who: str) -> dict[str, Any]:
        with self.lock:
            issue = self.issues[key]
            issue["duedate"] = due.isoformat()
            return self._event(issue, who, [{"field": "duedate", "toString": due.isoformat()}])
