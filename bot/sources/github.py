"""GitHub webhooks: `deployment_status` events become `deploy` facts at their status time.

Labels: `service` (the repository's name), `repo` (`owner/name`), `environment`. Any other
event (`issues` for the tracker work, `ping` …) goes to its hand-off in `registry.HANDOFFS`, or
is answered 200 and ignored.
"""

from __future__ import annotations

from typing import Any

from bot.sources.values import (
    FactDraft,
    PayloadError,
    clean_link,
    clean_text,
    parse_time,
    require_object,
    require_string,
)

SOURCE = "github"


def interpret(payload: Any, event: str = "") -> list[FactDraft]:
    body = require_object(payload, "the body")
    if event != "deployment_status":
        return []
    status = require_object(body.get("deployment_status"), "deployment_status")
    deployment = require_object(body.get("deployment"), "deployment")
    repository = require_object(body.get("repository"), "repository")
    state = require_string(status, "state", "deployment_status", limit=40).lower()
    repo = require_string(repository, "full_name", "repository", limit=200)
    name = str(repository.get("name") or repo.rsplit("/", 1)[-1])
    environment = str(status.get("environment") or deployment.get("environment") or "")[:200]
    occurred_at = parse_time(status.get("created_at") or status.get("updated_at"), "deployment_status.created_at")
    assert occurred_at is not None
    status_id = status.get("id")
    if not isinstance(status_id, (int, str)) or status_id == "":
        raise PayloadError("deployment_status.id must be set")
    ref = str(deployment.get("ref") or "")
    sha = str(deployment.get("sha") or "")[:7]
    what = (
        " ".join(part for part in (ref, f"({sha})" if sha else "") if part) or f"deployment {deployment.get('id', '')}"
    )
    target = f" to {environment}" if environment else ""
    description = status.get("description") or ""
    title = clean_text(f"Deploy of {name} {what}{target}: {state}" + (f" — {description}" if description else ""))
    link = (
        clean_link(status.get("target_url"))
        or clean_link(status.get("log_url"))
        or clean_link(status.get("environment_url"))
        or clean_link(repository.get("html_url"))
    )
    labels = {"service": name[:500], "repo": repo, "environment": environment}
    return [
        FactDraft(
            source=SOURCE,
            kind="deploy",
            status=state,
            occurred_at=occurred_at,
            title=title,
            identity=f"{SOURCE}:deployment_status:{status_id}"[:300],
            link=link,
            labels={key: value for key, value in labels.items() if value},
            group_key=f"{SOURCE}:deployment:{deployment.get('id', '')}"[:300],
        )
    ]
