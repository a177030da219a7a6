"""A stand-in for GitHub's REST API (issues of one repository), written from GitHub's public docs.

Answers as GitHub does: `POST /repos/{o}/{r}/issues` (201; labels created on the fly; 422
"Validation Failed" for an assignee who cannot be assigned), `GET`/`PATCH` an issue (404, 410 for
a deleted one), comments, the repository's issue list (state, labels, since, sort, direction,
per_page, page, and a `Link` header), `GET /user`, `GET /repos/{o}/{r}`. Bearer tokens other than
the one given get 401 "Bad credentials". A primary rate limit: every answer carries
x-ratelimit-limit/remaining/reset, and once spent, 403 with x-ratelimit-remaining 0.

`close_as`, `reopen_as`, `assign_as` change an issue the way a person in GitHub would and return
the `issues` webhook payload GitHub would then send.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from tests.http_standin import Answer, HttpStandIn, Route


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubStandIn(HttpStandIn):
    def __init__(
        self,
        repo: str = "acme/ops",
        token: str = "ghp-test-token",
        *,
        bot_login: str = "incident-bot",
        assignable: tuple[str, ...] = ("octo-ann", "octo-bob", "octo-carol"),
        rate_limit: int = 5000,
    ):
        super().__init__()
        self.repo, self.token, self.bot_login = repo, token, bot_login
        self.assignable = set(assignable)
        self.issues: dict[int, dict[str, Any]] = {}
        self.deleted: set[int] = set()
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.rate_limit = self.remaining = rate_limit
        self.reset_at = int(time.time()) + 3600
        r = f"/repos/{repo}"
        self.routes = [
            Route("GET", "/user", self._user),
            Route("GET", r, self._repository),
            Route("POST", r + "/issues", self._create),
            Route("GET", r + "/issues", self._list),
            Route("GET", r + r"/issues/(\d+)", self._get),
            Route("PATCH", r + r"/issues/(\d+)", self._edit),
            Route("POST", r + r"/issues/(\d+)/comments", self._comment),
            Route("GET", r + r"/issues/(\d+)/comments", self._comments),
        ]

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") in (f"Bearer {self.token}", f"token {self.token}")

    def _route(self, verb: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]) -> Answer:
        with self.lock:
            if self.remaining <= 0:
                return Answer(
                    403,
                    {
                        "message": "API rate limit exceeded for user.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    },
                    self._limit_headers(),
                )
            self.remaining -= 1
            answer = super()._route(verb, path, query, body, headers)
            answer.headers.update(self._limit_headers())
            return answer

    def _limit_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.remaining)),
            "x-ratelimit-reset": str(self.reset_at),
            "x-ratelimit-resource": "core",
        }

    @property
    def html_base(self) -> str:
        return self.base_url

    # -- shapes ----------------------------------------------------------------------------------
    def _issue_json(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {
            **issue,
            "labels": [{"name": n} for n in issue["labels"]],
            "assignee": {"login": issue["assignees"][0]} if issue["assignees"] else None,
            "assignees": [{"login": a} for a in issue["assignees"]],
            "user": {"login": issue["user"]},
            "closed_by": {"login": issue["closed_by"]} if issue["closed_by"] else None,
            "comments": len(self.comments.get(issue["number"], [])),
        }

    # -- routes ----------------------------------------------------------------------------------
    def _user(self, **_: Any) -> Answer:
        return Answer(200, {"login": self.bot_login, "id": 1, "type": "User"})

    def _repository(self, **_: Any) -> Answer:
        return Answer(
            200,
            {
                "full_name": self.repo,
                "has_issues": True,
                "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            },
        )

    def _create(self, *, body: Any, **_: Any) -> Answer:
        if not isinstance(body, dict) or not str(body.get("title") or "").strip():
            return Answer(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}],
                },
            )
        for login in body.get("assignees") or []:
            if login not in self.assignable:
                return Answer(
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [{"value": login, "resource": "Issue", "field": "assignees", "code": "invalid"}],
                    },
                )
        number = len(self.issues) + len(self.deleted) + 1
        issue = {
            "id": 1000 + number,
            "number": number,
            "title": body["title"],
            "body": body.get("body") or "",
            "state": "open",
            "state_reason": None,
            "labels": list(body.get("labels") or []),
            "assignees": list(body.get("assignees") or []),
            "user": self.bot_login,
            "closed_by": None,
            "html_url": f"{self.html_base}{self.repo}/issues/{number}",
            "url": f"{self.base_url}repos/{self.repo}/issues/{number}",
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
            "_updated": time.time(),
        }
        self.issues[number] = issue
        return Answer(201, self._issue_json(issue), {"Location": issue["url"]})

    def _find(self, number: str) -> dict[str, Any] | Answer:
        if int(number) in self.deleted:
            return Answer(410, {"message": "This issue was deleted"})
        issue = self.issues.get(int(number))
        return issue if issue is not None else Answer(404, {"message": "Not Found"})

    def _get(self, number: str, **_: Any) -> Answer:
        found = self._find(number)
        return found if isinstance(found, Answer) else Answer(200, self._issue_json(found))

    def _edit(self, number: str, *, body: Any, **_: Any) -> Answer:
        found = self._find(number)
        if isinstance(found, Answer):
            return found
        state = (body or {}).get("state")
        if state not in (None, "open", "closed"):
            return Answer(422, {"message": "Validation Failed", "errors": [{"field": "state", "code": "invalid"}]})
        if state:
            self._set_state(found, state, self.bot_login, (body or {}).get("state_reason"))
        return Answer(200, self._issue_json(found))

    def _comment(self, number: str, *, body: Any, **_: Any) -> Answer:
        found = self._find(number)
        if isinstance(found, Answer):
            return found
        comment = {
            "id": sum(len(c) for c in self.comments.values()) + 1,
            "body": (body or {}).get("body", ""),
            "user": {"login": self.bot_login},
            "created_at": _now(),
            "updated_at": _now(),
            "_updated": time.time(),
        }
        self.comments.setdefault(int(number), []).append(comment)
        found["_updated"] = time.time()
        return Answer(201, comment)

    def _comments(self, number: str, *, query: dict[str, str], **_: Any) -> Answer:
        found = self._find(number)
        if isinstance(found, Answer):
            return found
        since = query.get("since")
        since_ts = (
            dt.datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp() if since else None
        )
        listed = [c for c in self.comments.get(int(number), []) if since_ts is None or c["_updated"] >= since_ts - 1]
        per_page = min(100, int(query.get("per_page", "30")))
        return Answer(200, [{k: v for k, v in c.items() if not k.startswith("_")} for c in listed[:per_page]])

    def _list(self, *, query: dict[str, str], **_: Any) -> Answer:
        state = query.get("state", "open")
        labels = [n for n in query.get("labels", "").split(",") if n]
        since = query.get("since")
        since_ts = (
            dt.datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp() if since else None
        )
        found = [
            i
            for i in self.issues.values()
            if (state == "all" or i["state"] == state)
            and all(n in i["labels"] for n in labels)
            and query.get("creator", i["user"]) == i["user"]
            and (since_ts is None or i["_updated"] >= since_ts - 1)
        ]
        key = "_updated" if query.get("sort") == "updated" else "number"
        found.sort(key=lambda i: i[key], reverse=query.get("direction", "desc") == "desc")
        per_page = min(100, int(query.get("per_page", "30")))
        page = int(query.get("page", "1"))
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            rest = {k: v for k, v in query.items() if k != "page"}
            from urllib.parse import urlencode

            headers["Link"] = (
                f'<{self.base_url}repos/{self.repo}/issues?{urlencode({**rest, "page": page + 1})}>; rel="next"'
            )
        return Answer(200, [self._issue_json(i) for i in chunk], headers)

    # -- what a person does in GitHub --------------------------------------------------------------
    def _set_state(self, issue: dict[str, Any], state: str, by: str, reason: str | None) -> None:
        issue["state"] = state
        issue["state_reason"] = reason or ("completed" if state == "closed" else "reopened")
        issue["closed_by"] = by if state == "closed" else None
        issue["closed_at"] = _now() if state == "closed" else None
        issue["updated_at"], issue["_updated"] = _now(), time.time()

    def _event(self, action: str, issue: dict[str, Any], by: str, **extra: Any) -> dict[str, Any]:
        return {
            "action": action,
            "issue": self._issue_json(issue),
            "repository": {"full_name": self.repo},
            "sender": {"login": by},
            **extra,
        }

    def close_as(self, number: int, by: str, *, reason: str = "completed") -> dict[str, Any]:
        with self.lock:
            issue = self.issues[number]
            self._set_state(issue, "closed", by, reason)
            return self._event("closed", issue, by)

    def reopen_as(self, number: int, by: str) -> dict[str, Any]:
        with self.lock:
            issue = self.issues[number]
            self._set_state(issue, "open", by, "reopened")
            return self._event("reopened", issue, by)

    def assign_as(self, number: int, login: str, by: str) -> dict[str, Any]:
        with self.lock:
            issue = self.issues[number]
            issue["assignees"] = [login]
            issue["updated_at"], issue["_updated"] = _now(), time.time()
            return self._event("assigned", issue, by, assignee={"login": login})

    def edit_title_as(self, number: int, title: str, by: str) -> dict[str, Any]:
        with self.lock:
            issue = self.issues[number]
            issue["title"] = title
            issue["updated_at"], issue["_updated"] = _now(), time.time()
            return self._event("edited", issue, by)

    def delete(self, number: int) -> None:
        with self.lock:
            self.issues.pop(number)
            self.deleted.add(number)
