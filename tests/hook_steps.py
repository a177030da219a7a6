"""Webhook deliveries as the real senders make them, and a real Prometheus Alertmanager.

Payloads follow each sender's public documentation (Alertmanager webhook v4, Grafana's webhook
contact point, PagerDuty v3 webhooks, GitHub's deployment_status) and are signed the way each
sender signs: a bearer token, `X-PagerDuty-Signature: v1=<hex>`, `X-Hub-Signature-256`, or the
generic hook's `X-Signature-256`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Any

import httpx

HOOKS_TOKEN = "hooks-token-0123456789abcdef"
PAGERDUTY_SECRET = "pd-secret-0123456789abcdef"
GITHUB_SECRET = "gh-secret-0123456789abcdef"
HOOK_ENV = {
    "HOOKS_TOKEN": HOOKS_TOKEN,
    "PAGERDUTY_WEBHOOK_SECRET": PAGERDUTY_SECRET,
    "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
}
ALERTMANAGER_BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_hook(
    bot: Any, source: str, body: bytes | dict | list, headers: dict[str, str] | None = None
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return bot._http.post(
        f"{bot.url}/hooks/{source}", content=raw, headers={"Content-Type": "application/json", **(headers or {})}
    )


def bearer(token: str = HOOKS_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pagerduty_headers(body: bytes, *secrets: str) -> dict[str, str]:
    signatures = ",".join(f"v1={hex_hmac(secret, body)}" for secret in (secrets or (PAGERDUTY_SECRET,)))
    return {"X-PagerDuty-Signature": signatures, "X-Webhook-Id": str(uuid.uuid4())}


def github_headers(body: bytes, event: str, delivery: str, secret: str = GITHUB_SECRET) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": f"sha256={hex_hmac(secret, body)}",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "User-Agent": "GitHub-Hookshot/abc123",
    }


def generic_headers(body: bytes, secret: str = HOOKS_TOKEN) -> dict[str, str]:
    return {"X-Signature-256": f"sha256={hex_hmac(secret, body)}"}


# -- payloads, from the senders' documentation ---------------------------------------------------
def alertmanager_alert(
    name: str,
    starts_at: dt.datetime,
    *,
    service: str = "checkout",
    status: str = "firing",
    ends_at: dt.datetime | None = None,
    fingerprint: str | None = None,
    **labels: str,
) -> dict:
    all_labels = {"alertname": name, "service": service, "severity": "page", **labels}
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": iso(starts_at),
        "endsAt": iso(ends_at) if ends_at else "0001-01-01T00:00:00Z",
        "generatorURL": f"http://prometheus.example:9090/graph?g0.expr={name}",
        "fingerprint": fingerprint or hashlib.sha1(json.dumps(all_labels, sort_keys=True).encode()).hexdigest()[:16],
    }


def alertmanager_payload(alerts: list[dict], *, group_key: str = '{}:{alertname="HighErrorRate"}') -> dict:
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "incident-bot",
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": alerts[0]["labels"],
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts,
    }


def grafana_payload(name: str, starts_at: dt.datetime, *, service: str = "checkout") -> dict:
    alert = {
        "status": "firing",
        "labels": {"alertname": name, "service": service, "grafana_folder": "SRE"},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": starts_at.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana.example/alerting/grafana/abc/view",
        "fingerprint": hashlib.sha1(name.encode()).hexdigest()[:16],
        "silenceURL": "https://grafana.example/alerting/silence/new",
        "dashboardURL": "",
        "panelURL": "",
        "values": {"B": 44.2, "C": 1},
    }
    return {
        "receiver": "incident-bot",
        "status": "firing",
        "orgId": 1,
        "alerts": [alert],
        "groupLabels": {"alertname": name},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "https://grafana.example/",
        "version": "1",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "title": f"[FIRING:1] {name}",
        "state": "alerting",
        "message": "…",
    }


def pagerduty_event(
    event_type: str,
    occurred_at: dt.datetime,
    *,
    event_id: str | None = None,
    incident_id: str = "PGR0VU2",
    service: str = "checkout",
    title: str = "Checkout 503s",
) -> dict:
    reference = {
        "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
        "id": incident_id,
        "self": f"https://api.pagerduty.com/incidents/{incident_id}",
        "summary": title,
        "type": "incident_reference",
    }
    if event_type == "incident.annotated":
        data = {
            "incident": reference,
            "id": "PWL7QXS",
            "content": "Rolled back <!channel> v2.4.1",
            "trimmed": False,
            "type": "incident_note",
        }
    else:
        data = {
            "id": incident_id,
            "type": "incident",
            "self": reference["self"],
            "html_url": reference["html_url"],
            "number": 2,
            "status": event_type.split(".")[1],
            "incident_key": "d3640fbd41094207a1c11e58e46b1662",
            "created_at": iso(occurred_at),
            "title": title,
            "service": {
                "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                "id": "PF9KMXH",
                "self": "https://api.pagerduty.com/services/PF9KMXH",
                "summary": service,
                "type": "service_reference",
            },
            "assignees": [],
            "escalation_policy": {"id": "PSB1G4P", "summary": "Default", "type": "escalation_policy_reference"},
            "teams": [],
            "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
            "urgency": "high",
            "conference_bridge": None,
            "resolve_reason": None,
        }
    return {
        "event": {
            "id": event_id or uuid.uuid4().hex[:26].upper(),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": iso(occurred_at),
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                "id": "PLH1HKV",
                "summary": "Tenex Engineer",
                "type": "user_reference",
            },
            "client": None,
            "data": data,
        }
    }


def github_deployment_status(
    state: str,
    created_at: dt.datetime,
    *,
    status_id: int = 951,
    repo: str = "acme/checkout",
    environment: str = "production",
) -> dict:
    owner, name = repo.split("/")
    return {
        "action": "created",
        "deployment_status": {
            "url": f"https://api.github.com/repos/{repo}/deployments/145/statuses/{status_id}",
            "id": status_id,
            "state": state,
            "description": "Deploying v2.4.1",
            "environment": environment,
            "target_url": f"https://ci.example/{repo}/runs/77",
            "created_at": iso(created_at)[:19] + "Z",
            "updated_at": iso(created_at)[:19] + "Z",
            "log_url": f"https://ci.example/{repo}/runs/77/logs",
        },
        "deployment": {
            "url": f"https://api.github.com/repos/{repo}/deployments/145",
            "id": 145,
            "sha": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
            "ref": "v2.4.1",
            "task": "deploy",
            "environment": environment,
            "created_at": iso(created_at),
        },
        "repository": {
            "id": 1296269,
            "name": name,
            "full_name": repo,
            "html_url": f"https://github.com/{repo}",
            "owner": {"login": owner},
        },
        "sender": {"login": "octocat", "id": 1},
    }


# -- a real Alertmanager ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RealAlertmanager:
    """prometheus-alertmanager with one webhook receiver: the bot's /hooks/alertmanager."""

    def __init__(
        self, hook_url: str, token: str = HOOKS_TOKEN, *, group_by: tuple[str, ...] = ("alertname", "service")
    ):
        self.directory = tempfile.mkdtemp(prefix="alertmanager-")
        self.port = _free_port()
        # group_wait leaves a loaded machine time to take in every alert of one POST before the
        # group's first notification (with 1s, a busy CI run once saw it split in two).
        config = f"""
route:
  receiver: bot
  group_by: [{", ".join(group_by)}]
  group_wait: 3s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: bot
    webhook_configs:
      - url: {hook_url}
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""
        with open(os.path.join(self.directory, "alertmanager.yml"), "w") as handle:
            handle.write(config)
        self.log = open(os.path.join(self.directory, "log.txt"), "w")  # noqa: SIM115 - open while it runs
        self.process = subprocess.Popen(
            [
                ALERTMANAGER_BINARY,
                f"--config.file={self.directory}/alertmanager.yml",
                f"--storage.path={self.directory}/data",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"alertmanager did not start: {self.logs()[-2000:]}")
            time.sleep(0.1)

    def post_alerts(self, alerts: list[dict]) -> None:
        """Alertmanager's own API v2 (what Prometheus calls)."""
        response = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        assert response.status_code == 200, response.text

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def logs(self) -> str:
        with open(self.log.name) as handle:
            return handle.read()


def api_alert(name: str, starts_at: dt.datetime, *, service: str = "checkout", **labels: str) -> dict:
    return {
        "labels": {"alertname": name, "service": service, **labels},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": iso(starts_at),
        "generatorURL": f"http://prometheus.example:9090/graph?g0.expr={name}",
    }


def wait_until(condition: Any, timeout: float = 20.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
