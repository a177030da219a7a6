"""The one interface every tracker adapter offers, and the plain values it speaks in.

The core sees tickets, never HTTP: an adapter turns its service's answers into `Ticket`s and
its failures into `TrackerError`s that say whether waiting helps (`retry_after`, transient) or a
person must fix something (`needs_person`). A new tracker (GitLab, Linear) is one more file.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx

OPEN, CLOSED = "open", "closed"
# What the adapters send and accept: a tracker's text is capped before it goes anywhere.
MAX_TITLE = 250
MAX_FIELD = 200
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Ticket:
    key: str  # "123" (GitHub issue number) or "OPS-12" (Jira)
    url: str
    state: str  # open | closed
    assignee: str | None = None  # the tracker's login / account id
    due: dt.date | None = None
    title: str = ""
    assignee_email: str | None = None
    closed_by: str | None = None  # who closed it, as the tracker names them

    @property
    def label(self) -> str:
        return f"#{self.key}" if self.key.isdigit() else self.key


@dataclass(frozen=True)
class NewTicket:
    title: str
    body: list[str]  # paragraphs of plain text; each adapter formats them its own way
    marker: str  # names the item, so the ticket can be found again after a lost answer
    priority: str  # P0-P3
    labels: tuple[str, ...] = ("incident",)
    due: dt.date | None = None
    assignee: str | None = None  # the tracker's login / account id


@dataclass(frozen=True)
class Comment:
    """A comment the outbox writes. `token` names the write; `since` is set on a retry, when an
    earlier try may have posted it already (the answer was lost): the adapter then looks first."""

    text: str
    token: str
    since: dt.datetime | None = None


class TrackerError(Exception):
    """A tracker call failed. `needs_person`: retrying cannot help; the message says what to fix."""

    def __init__(
        self,
        message: str,
        *,
        needs_person: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        outcome_unknown: bool = False,
    ):
        super().__init__(message)
        self.needs_person = needs_person
        self.retry_after = retry_after
        self.status = status
        self.outcome_unknown = outcome_unknown  # the request may have been carried out


class Tracker(Protocol):
    name: str  # github | jira
    display: str  # GitHub | Jira

    def check(self) -> str:
        """Who the bot is in the tracker, after checking the repository or project exists."""
        ...

    def create(self, new: NewTicket) -> Ticket: ...

    def get(self, key: str) -> Ticket | None:
        """The ticket, or None when it no longer exists (deleted, moved away)."""
        ...

    def get_many(self, keys: list[str]) -> dict[str, Ticket]:
        """Tickets by key, read in as few calls as the tracker allows; missing keys are left out."""
        ...

    def close(self, key: str, comment: Comment, *, dropped: bool = False) -> Ticket: ...

    def reopen(self, key: str, comment: Comment) -> Ticket: ...

    def comment(self, key: str, comment: Comment) -> None:
        """Post the comment, unless a retry finds it posted already."""
        ...

    def find_by_marker(self, marker: str, *, since: dt.datetime) -> Ticket | None: ...

    def key_from_url(self, url: str) -> str | None:
        """The ticket's key when `url` is an issue of this tracker's repository or project."""
        ...

    def user_for_email(self, email: str) -> str | None:
        """The tracker user with this e-mail address, if the tracker can say."""
        ...


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date) or GitHub's `x-ratelimit-reset`."""
    now = time.time() if now is None else now
    raw = headers.get("retry-after")
    if raw:
        raw = raw.strip()
        if raw.isdigit():
            return float(raw)
        try:
            return max(0.0, email.utils.parsedate_to_datetime(raw).timestamp() - now)
        except (TypeError, ValueError):
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit() and headers.get("x-ratelimit-remaining", "").strip() == "0":
        return max(1.0, float(reset) - now)
    return None


def cap(text: str | None, limit: int = MAX_FIELD) -> str:
    text = (text or "").replace("\r", " ").replace("\n", " ").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class HttpTracker:
    """What both adapters share: one HTTP client, and failures mapped to `TrackerError`."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    timeout: float = TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            base_url=self.base_url, headers=self.headers, auth=self.auth, timeout=self.timeout, follow_redirects=False
        )

    def request(
        self, method: str, path: str, *, what: str, ok: tuple[int, ...] = (200, 201, 204), **kwargs: object
    ) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as err:
            # A write that timed out may still have been carried out: the caller looks before redoing it.
            raise TrackerError(
                f"{what}: no answer within {self.timeout:.0f}s", outcome_unknown=method != "GET"
            ) from err
        except httpx.HTTPError as err:
            raise TrackerError(
                f"{what}: cannot reach {self.base_url} ({err.__class__.__name__})", outcome_unknown=method != "GET"
            ) from err
        if response.status_code in ok:
            return response
        raise self.failure(response, what)

    def failure(self, response: httpx.Response, what: str) -> TrackerError:
        status = response.status_code
        wait = retry_after_seconds(response.headers)
        detail = self.describe(response)
        if status == 429 or (status == 403 and wait is not None):
            return TrackerError(f"{what}: rate limited ({status})", retry_after=wait or 60.0, status=status)
        if status >= 500:
            return TrackerError(
                f"{what}: the tracker answered {status}",
                retry_after=wait,
                status=status,
                outcome_unknown=response.request.method != "GET",
            )
        return TrackerError(f"{what}: {detail}", needs_person=True, status=status)

    def describe(self, response: httpx.Response) -> str:
        return f"HTTP {response.status_code}"

    def close_client(self) -> None:
        self.client.close()
