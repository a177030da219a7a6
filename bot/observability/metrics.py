"""Prometheus metrics: what the bot counts, and `GET /metrics`.

One module owns every metric, so names and labels stay consistent. The shell counts through
small functions (`observe_dispatch`, `count_subcommand`, `count_slack_call` …); services never
import prometheus_client. With several worker processes, `serve` sets PROMETHEUS_MULTIPROC_DIR
before any of them imports this module, and a scrape reads every process's files.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from slack_sdk.http_retry.handler import RetryHandler

from bot import signatures
from bot.errors import UserError

PREFIX = "incident_bot"
SURFACES = ("command", "event", "action", "shortcut", "view", "hook", "other")

REQUESTS = Counter(
    f"{PREFIX}_requests", "Requests from Slack (and webhooks), by surface and outcome", ["surface", "outcome"]
)
ACK_SECONDS = Histogram(
    f"{PREFIX}_ack_seconds",
    "Time from a request's arrival to its acknowledgement",
    ["surface"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
)
SUBCOMMANDS = Counter(
    f"{PREFIX}_subcommands", "/incident sub-commands run, by outcome (ok, refused, failed)", ["subcommand", "outcome"]
)
SLACK_CALLS = Counter(
    f"{PREFIX}_slack_api_calls", "Slack Web API calls by method and error ('ok' when none)", ["method", "error"]
)
SLACK_RATELIMITED = Counter(
    f"{PREFIX}_slack_ratelimited", "Slack answers of HTTP 429 (each retried after Retry-After), by method", ["method"]
)
AFTER_ACK_WAITING = Gauge(
    f"{PREFIX}_after_ack_waiting",
    "Work acknowledged but not started yet, by pool",
    ["pool"],
    multiprocess_mode="livesum",
)
NUDGES = Counter(f"{PREFIX}_nudges", "Weekly nudge targets by outcome (claimed, sent, missed)", ["outcome"])
POSTMORTEM_RETRIES = Counter(f"{PREFIX}_postmortem_publish_retries", "Postmortem publications retried by the sweep")
HOOK_DELIVERIES = Counter(
    f"{PREFIX}_hook_deliveries",
    "Webhook deliveries by source, outcome (accepted, duplicate, ignored, stored, refused) and HTTP status",
    ["source", "outcome", "code"],
)

# -- requests ---------------------------------------------------------------------------------


def surface_of(body: dict[str, Any]) -> str:
    """Which Slack surface a (parsed) request body comes from."""
    if body.get("command"):
        return "command"
    kind = body.get("type")
    if kind in ("event_callback", "url_verification", "app_rate_limited"):
        return "event"
    if kind in ("block_actions", "interactive_message", "block_suggestion"):
        return "action"
    if kind in ("shortcut", "message_action"):
        return "shortcut"
    if kind in ("view_submission", "view_closed"):
        return "view"
    return "other"


def outcome_of(status: int) -> str:
    if status < 300:
        return "ok"
    if status in (401, 403):
        return "refused"
    if status == 404:
        return "unhandled"
    return "error" if status >= 500 else "bad_request"


def count_refused(raw_body: bytes, status: int, seconds: float) -> None:
    """A request refused before Bolt saw it (bad signature, junk): counted under the surface its
    body claims (a label from a fixed set, never trusted for anything else), or `other`."""
    body: dict[str, Any] = {}
    try:
        text = raw_body[:65536].decode("utf-8")
        if text.startswith("{"):
            parsed = json.loads(text)
            body = parsed if isinstance(parsed, dict) else {}
        else:
            form = urllib.parse.parse_qs(text)
            body = {"command": (form.get("command") or [""])[0]}
            if "payload" in form:
                parsed = json.loads(form["payload"][0])
                body = parsed if isinstance(parsed, dict) else {}
    except ValueError:  # undecodable or not JSON: UnicodeDecodeError and JSONDecodeError alike
        body = {}
    surface = surface_of(body)
    ACK_SECONDS.labels(surface).observe(seconds)
    REQUESTS.labels(surface, outcome_of(status)).inc()


def observe_dispatch(app: Any, on_request: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Count and time every request the Bolt app dispatches, in HTTP and Socket Mode alike: its
    answer *is* the acknowledgement. `on_request` sees the body first (the log context uses it)."""
    dispatch = app.dispatch

    @functools.wraps(dispatch)
    def counted(request: Any) -> Any:
        started = time.perf_counter()
        body = request.body if isinstance(getattr(request, "body", None), dict) else {}
        surface = surface_of(body)
        if on_request is not None:
            on_request(body)
        response = None
        try:
            response = dispatch(request)
            return response
        finally:
            ACK_SECONDS.labels(surface).observe(time.perf_counter() - started)
            REQUESTS.labels(surface, outcome_of(response.status if response is not None else 500)).inc()

    app.dispatch = counted


# -- sub-commands, Slack calls, background work ------------------------------------------------


@contextlib.contextmanager
def count_subcommand(name: str) -> Iterator[None]:
    """Count one sub-command's outcome: ok, refused (a UserError: nothing changed) or failed."""
    try:
        yield
    except UserError:
        SUBCOMMANDS.labels(name, "refused").inc()
        raise
    except Exception:
        SUBCOMMANDS.labels(name, "failed").inc()
        raise
    SUBCOMMANDS.labels(name, "ok").inc()


F = TypeVar("F", bound=Callable[..., Any])


def counts_slack_calls(call: F) -> F:
    """Decorates the gateway's one sending method `(self, method, …)`: counts each attempt by method and error."""

    @functools.wraps(call)
    def counted(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = call(self, method, *args, **kwargs)
        except Exception as err:
            SLACK_CALLS.labels(method, str(getattr(err, "code", "exception"))).inc()
            raise
        SLACK_CALLS.labels(method, "ok").inc()
        return result

    return counted  # type: ignore[return-value]


class RateLimitCounter(RetryHandler):
    """Sees every HTTP 429 before the SDK's own handler retries it, counts it, and never retries itself."""

    def __init__(self) -> None:
        super().__init__(max_retry_count=1_000_000)

    def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        if response is not None and response.status_code == 429:
            SLACK_RATELIMITED.labels(_method_of(request.url)).inc()
        return False


def _method_of(url: str) -> str:
    """`chat.postMessage` from …/api/chat.postMessage; a response_url (whose path is a secret) is just that."""
    head, _, method = url.split("?", 1)[0].rpartition("/")
    return method if head.endswith("/api") and method else "response_url"


def count_hook(source: str, outcome: str, code: int) -> None:
    """One webhook delivery from `source` (alertmanager, github …, or `unknown`): `accepted`,
    `duplicate`, `ignored`, `stored` (kept for the sweep after its interpretation failed) or
    `refused`, answered with HTTP status `code`. Also a request of the `hook` surface, beside Slack's."""
    HOOK_DELIVERIES.labels(source, outcome, str(code)).inc()
    REQUESTS.labels("hook", "refused" if outcome == "refused" else "ok").inc()


def count_nudge_sweep(report: Any) -> None:
    """A weekly sweep's report: targets claimed (sent, recovered, gone or failed), sent, missed."""
    claimed = len(report.sent) + len(report.recovered) + len(report.gone) + len(report.failed)
    if claimed:
        NUDGES.labels("claimed").inc(claimed)
    if report.sent:
        NUDGES.labels("sent").inc(len(report.sent))
    if report.missed:
        NUDGES.labels("missed").inc(report.missed)


def count_postmortem_retries(tried: int) -> None:
    if tried:
        POSTMORTEM_RETRIES.inc(tried)


# -- the database's gauges ---------------------------------------------------------------------


class DatabaseGauges:
    """Open incidents and open/overdue action items, read from the database at most once per
    `max_age` seconds however often Prometheus scrapes (and however many workers answer)."""

    def __init__(
        self,
        read: Callable[[], dict[str, float]],
        *,
        max_age: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._read = read
        self._max_age = max_age
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._values: dict[str, float] | None = None
        self._read_at: float | None = None
        self.reads = 0

    def values(self) -> dict[str, float] | None:
        with self._lock:
            # a failed read waits its minute too: a database that is down is not asked on every scrape
            if self._read_at is None or self._monotonic() - self._read_at >= self._max_age:
                try:
                    self._values = self._read()
                    self.reads += 1
                except Exception:  # the database is down: no gauges this time, /readyz says why
                    self._values = None
                self._read_at = self._monotonic()
            return self._values

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = self.values()
        if values is None:
            return
        for name, value in sorted(values.items()):
            yield GaugeMetricFamily(f"{PREFIX}_{name}", _GAUGE_HELP.get(name, name), value=value)


_GAUGE_HELP = {
    "open_incidents": "Incidents not closed",
    "open_action_items": "Action items not done",
    "overdue_action_items": "Action items not done and past their due date",
}


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(gauges: DatabaseGauges | None) -> tuple[bytes, str]:
    """The text a scrape gets: every process's metrics in multiprocess mode, and the DB gauges."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = CollectorRegistry()
        registry.register(_Delegate(REGISTRY))
    if gauges is not None:
        registry.register(gauges)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Delegate:
    """The default registry's metrics inside a scrape-local registry (beside the DB gauges)."""

    def __init__(self, registry: CollectorRegistry):
        self._registry = registry

    def collect(self) -> Any:
        return self._registry.collect()


def authorized(token: str | None, authorization: str | None) -> bool:
    """METRICS_TOKEN, when set, must come as `Authorization: Bearer <token>`."""
    return not token or signatures.bearer_matches(token, authorization)
