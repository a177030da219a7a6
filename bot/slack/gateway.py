"""The Slack gateway: the only code that calls Slack's Web API or a response_url.

Retries on 429 (honouring Retry-After), 5xx and connection errors, the channel-name rules,
the user time-zone cache and Slack's error codes live here once. Callers get plain values
or a `SlackFailure` that says whether the channel is out of reach.

Slack has no idempotency key, so a call whose answer was lost (connection reset after the
request went out, a timeout, a 5xx from Slack's edge, a body that is not JSON) may or may not
have been carried out. Calls that only read or set a state are simply sent again. Calls that
create something (`chat.postMessage`, `conversations.create`, `files.*`, canvases …) are never
sent again blindly: the gateway first looks for what the lost call may have made (a message by
the marker in its metadata, a channel by name and creator, a file by its shares, the channel's
canvas) and sends again only when it is not there.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import re
import threading
import time
import unicodedata
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError, URLError
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cachetools import TTLCache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.observability import metrics
from bot.slack import blocks as bk
from bot.slack import connections

logger = logging.getLogger(__name__)

MAX_CHANNEL_NAME = 80
MAX_TOPIC = 250
# Errors that mean "this channel cannot take the bot's messages any more".
CHANNEL_GONE = {"channel_not_found", "is_archived", "not_in_channel", "channel_is_archived"}
# Failures after which Slack may have done the work: the request went out, no answer was read.
ANSWER_LOST = "answer_lost"  # connection reset or timed out after sending
INVALID_RESPONSE = "invalid_response"  # an answer that is not Slack's JSON (a proxy page, a cut-off body)
# Every message the bot posts carries a marker in its metadata, so a post whose answer was lost
# can be found before it is sent again. Messages with metadata of their own get the marker added.
POST_EVENT_TYPE = "incident_bot_post"
POST_MARKER = "incident_bot_post_id"
# Methods that make something new each time: never repeated without looking first. Everything
# else the bot calls reads, or sets a state to a value (topic, invite, reaction, update), and
# may be repeated; so is chat.postEphemeral, which cannot be looked up and whose double only its
# one reader would see (better than an error reply that never arrives).
_CREATING_METHODS = {
    "chat.postMessage",
    "chat.scheduleMessage",
    "chat.meMessage",
    "conversations.create",
    "conversations.canvases.create",
    "bookmarks.add",
    "reminders.add",
}
_CREATING_PREFIXES = ("files.", "canvases.")
# A channel this bot made and nothing uses is taken as left behind by a stopped process only when
# it is older than this (Slack's `created`, whole seconds).
ORPHAN_MIN_AGE_SECONDS = 60


class SlackFailure(Exception):
    """A Web API call failed after retries; `code` is Slack's error string (or http_<status>)."""

    def __init__(self, method: str, code: str, detail: str = ""):
        super().__init__(f"{method} failed: {code}{' — ' + detail if detail else ''}")
        self.method = method
        self.code = code

    @property
    def channel_gone(self) -> bool:
        return self.code in CHANNEL_GONE

    @property
    def outcome_unknown(self) -> bool:
        """Slack may have done the work: the request went out and no answer could be read."""
        return self.code in (ANSWER_LOST, INVALID_RESPONSE) or self.code.startswith("http_5")


def failure_code(err: SlackApiError) -> str:
    """Slack's error code; `http_<status>` for a 5xx (whose body is an HTML page, which slack_sdk
    reports as an `error` saying the response was not JSON); `invalid_response` for a 2xx whose
    body is not Slack's JSON."""
    status = err.response.status_code
    data = err.response.data if isinstance(err.response.data, dict) else {}
    code = data.get("error")
    if status >= 500:
        return f"http_{status}"
    if not isinstance(code, str) or not code or " " in code:
        return INVALID_RESPONSE if status < 300 else f"http_{status}"
    return code


def creates(method: str) -> bool:
    """Whether calling `method` twice makes two things (and so is never repeated blindly)."""
    return method in _CREATING_METHODS or method.startswith(_CREATING_PREFIXES)


class _NotSentRetryHandler(ConnectionErrorRetryHandler):
    """Repeats a request that never reached Slack (refused, DNS, reset while sending): urllib wraps
    exactly those in URLError. Errors after the request went out are the gateway's to judge."""

    def __init__(self, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count, error_types=[URLError])


def retry_handlers(max_retries: int = 3, *, resend_lost: bool = True) -> list[Any]:
    """For response_url posts (slash-command answers), which cannot be looked up afterwards:
    an answer lost after sending is sent again only where a double does no harm (`resend_lost`:
    a reply only its author sees), never for a message the whole channel sees."""
    lost = (
        ConnectionErrorRetryHandler(max_retry_count=max_retries) if resend_lost else _NotSentRetryHandler(max_retries)
    )
    return [
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        lost,
    ]


def api_retry_handlers(max_retries: int = 3) -> list[Any]:
    """For the Web API: 429 (Slack did nothing; wait Retry-After) and requests that never left.
    5xx and lost answers are handled by `SlackGateway.call`, which knows which methods create."""
    return [
        metrics.RateLimitCounter(),  # counts each 429 before the next handler retries it
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        _NotSentRetryHandler(max_retries),
    ]


class KeptAliveWebClient(WebClient):
    """slack_sdk's Web API client, sending on kept connections (bot/slack/connections.py)."""

    def _perform_urllib_http_request_internal(self, url: str, req: urllib.request.Request) -> dict[str, Any]:
        if self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        answer = connections.SLACK.urlopen(req, timeout=self.timeout, context=self.ssl)
        body = answer.read()
        if answer.headers.get_content_type() != "application/gzip":  # admin.analytics.getFile is bytes
            body = body.decode(answer.headers.get_content_charset() or "utf-8")
        return {"status": answer.code, "headers": answer.headers, "body": body}


class KeptAliveWebhookClient(WebhookClient):
    """slack_sdk's response_url client, sending on kept connections (bot/slack/connections.py)."""

    def _perform_http_request_internal(self, url: str, req: urllib.request.Request) -> WebhookResponse:
        if self.proxy is not None:
            return super()._perform_http_request_internal(url, req)
        answer = connections.SLACK.urlopen(req, timeout=self.timeout, context=self.ssl)
        text = answer.read().decode(answer.headers.get_content_charset() or "utf-8")
        return WebhookResponse(url=url, status_code=answer.status, body=text, headers=answer.headers)


def build_web_client(token: str, base_url: str, *, max_retries: int = 3, timeout: int = 15) -> WebClient:
    return KeptAliveWebClient(
        token=token, base_url=base_url, timeout=timeout, retry_handlers=api_retry_handlers(max_retries)
    )


def channel_slug(text: str, limit: int) -> str:
    """Lowercase ASCII letters, digits and hyphens, as Slack's channel names allow."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[:limit].rstrip("-")


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str


class SlackGateway:
    def __init__(
        self, client: WebClient, *, user_cache_seconds: int = 3600, max_retries: int = 3, retry_pause: float = 0.5
    ):
        self.client = client
        self.max_retries = max_retries
        self.retry_pause = retry_pause  # doubled after each attempt
        self._users: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=20000, ttl=user_cache_seconds)
        self._users_lock = threading.Lock()
        self._lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="user-lookup")
        self._bot_user_id: str | None = None

    # -- calling -----------------------------------------------------------------------------
    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a Web API method; raise SlackFailure with Slack's error code when it fails.

        A method that only reads or sets a state is sent again when its answer was lost or was a
        5xx; one that creates something is sent once (see `_create` for looking before resending).
        """
        if creates(method):
            return self._once(method, params)
        return self._repeating(method, params)

    @metrics.counts_slack_calls  # every attempt goes out here, whichever path sent it
    def _once(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = (
                self.client.api_call(method, json=params)
                if _wants_json(method)
                else self.client.api_call(method, params=params)
            )
        except SlackApiError as err:
            raise SlackFailure(method, failure_code(err)) from err
        except HTTPError as err:  # an HTTP status slack_sdk did not turn into a SlackApiError
            raise SlackFailure(method, f"http_{err.code}") from err
        except URLError as err:  # never reached Slack (the client already retried)
            raise SlackFailure(method, "connection_error", str(err.reason)) from err
        except ValueError as err:  # JSONDecodeError: a body that starts like JSON and is not
            raise SlackFailure(method, INVALID_RESPONSE, str(err)) from err
        except (SlackClientError, OSError, http.client.HTTPException) as err:  # sent, answer lost
            raise SlackFailure(method, ANSWER_LOST, f"{type(err).__name__}: {err}") from err
        if not isinstance(response.data, dict):
            raise SlackFailure(method, INVALID_RESPONSE, "the answer is not a JSON object")
        return response.data

    def _repeating(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            try:
                return self._once(method, params)
            except SlackFailure as failure:
                if not failure.outcome_unknown or attempt == self.max_retries:
                    raise
                logger.info("%s: %s; sending it again", method, failure.code)
                self._pause(attempt)
        raise AssertionError("unreachable")

    def _create(
        self,
        method: str,
        params: dict[str, Any],
        find: Callable[[], dict[str, Any] | None],
        *,
        conflicts: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Send a creating call; when its outcome is unknown, `find` what it may have made and send
        again only if nothing is there. After a lost attempt, a `conflicts` error (name_taken …)
        means the lost call probably succeeded: `find` decides. A failing `find` ends the attempt:
        without knowing, sending again could make a second one."""
        lost = None
        for attempt in range(self.max_retries + 1):
            try:
                return self._once(method, params)
            except SlackFailure as failure:
                if lost is not None and failure.code in conflicts:
                    found = find()
                    if found is not None:
                        logger.info("%s: %s after a lost answer; the lost call had done it", method, failure.code)
                        return found
                    raise
                if not failure.outcome_unknown:
                    raise
                lost = failure
                logger.warning("%s: %s; looking for what it may have done before sending again", method, failure.code)
                if attempt == self.max_retries:
                    raise
                self._pause(attempt)
                found = find()
                if found is not None:
                    logger.info("%s had been carried out although its answer was lost; not sending it again", method)
                    return found
        raise AssertionError("unreachable")

    def _pause(self, attempt: int) -> None:
        time.sleep(self.retry_pause * (2**attempt))

    def bot_user_id(self) -> str:
        """The bot's own user id (auth.test, asked once)."""
        if self._bot_user_id is None:
            self._bot_user_id = str(self.call("auth.test").get("user_id") or "")
        return self._bot_user_id

    # -- messages ----------------------------------------------------------------------------
    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[bk.Block] | None = None,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> PostedMessage:
        params: dict[str, Any] = {"channel": channel, "text": bk.truncate(text, bk.MAX_FALLBACK_TEXT)}
        if blocks:
            bk.check_fits(blocks, text)
            params["blocks"] = blocks
        if thread_ts:
            params["thread_ts"] = thread_ts
        marker = uuid.uuid4().hex
        metadata = metadata or {"event_type": POST_EVENT_TYPE, "event_payload": {}}
        payload = {**metadata.get("event_payload", {}), POST_MARKER: marker}
        params["metadata"] = {**metadata, "event_payload": payload}
        params["unfurl_links"] = False
        params["unfurl_media"] = False
        # Message ts are Slack's clock, so the search window is wall-clock time, not the bot's clock.
        since = time.time() - 120

        def find() -> dict[str, Any] | None:
            where = self.open_dm(channel) if channel[:1] in ("U", "W") else channel
            ts = self.find_message_with_metadata(
                where, params["metadata"]["event_type"], {POST_MARKER: marker}, oldest=since, thread_ts=thread_ts
            )
            return None if ts is None else {"channel": where, "ts": ts}

        data = self._create("chat.postMessage", params, find)
        return PostedMessage(channel=data.get("channel", channel), ts=data["ts"])

    def update_message(self, channel: str, ts: str, text: str, blocks: list[bk.Block] | None = None) -> None:
        params: dict[str, Any] = {"channel": channel, "ts": ts, "text": bk.truncate(text, bk.MAX_FALLBACK_TEXT)}
        if blocks is not None:
            bk.check_fits(blocks, text)
            params["blocks"] = blocks
        self.call("chat.update", **params)

    def post_ephemeral(self, channel: str, user: str, text: str, blocks: list[bk.Block] | None = None) -> None:
        params: dict[str, Any] = {"channel": channel, "user": user, "text": bk.truncate(text, bk.MAX_FALLBACK_TEXT)}
        if blocks:
            bk.check_fits(blocks, text)
            params["blocks"] = blocks
        self.call("chat.postEphemeral", **params)

    def respond(
        self,
        response_url: str,
        text: str,
        blocks: list[bk.Block] | None = None,
        *,
        in_channel: bool = False,
        replace_original: bool = False,
    ) -> None:
        """Answer a slash command or a click through its response_url (ephemeral unless in_channel)."""
        if blocks:
            bk.check_fits(blocks, text)
        webhook = KeptAliveWebhookClient(
            response_url, timeout=15, retry_handlers=retry_handlers(resend_lost=not in_channel)
        )
        try:
            response = webhook.send(
                text=bk.truncate(text, bk.MAX_FALLBACK_TEXT),
                blocks=blocks,
                response_type="in_channel" if in_channel else "ephemeral",
                replace_original=replace_original,
            )
        except (SlackClientError, OSError) as err:
            raise SlackFailure("response_url", "connection_error", str(err)) from err
        if response.status_code != 200:
            raise SlackFailure("response_url", f"http_{response.status_code}", response.body or "")

    def add_reaction(self, channel: str, ts: str, name: str) -> None:
        try:
            self.call("reactions.add", channel=channel, timestamp=ts, name=name)
        except SlackFailure as failure:
            if failure.code != "already_reacted":
                raise

    def remove_reaction(self, channel: str, ts: str, name: str) -> None:
        try:
            self.call("reactions.remove", channel=channel, timestamp=ts, name=name)
        except SlackFailure as failure:
            if failure.code not in ("no_reaction", "message_not_found"):
                raise

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            return self.call("chat.getPermalink", channel=channel, message_ts=ts).get("permalink")
        except SlackFailure as failure:
            logger.warning("no permalink for %s/%s: %s", channel, ts, failure.code)
            return None

    def fetch_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message by ts, top-level or thread reply (history does not return replies)."""
        data = self.call("conversations.history", channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1)
        for message in data.get("messages", []):
            if message.get("ts") == ts:
                return message
        try:
            # The thread's parent always comes first, so a reply needs a page of two.
            data = self.call(
                "conversations.replies", channel=channel, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=2
            )
        except SlackFailure as failure:
            if failure.code in ("thread_not_found", "message_not_found"):
                return None
            raise
        for message in data.get("messages", []):
            if message.get("ts") == ts:
                return message
        return None

    # -- channels ----------------------------------------------------------------------------
    def create_channel(
        self, prefix: str, stem: str, *, is_private: bool = False, unclaimed: Callable[[str], bool] | None = None
    ) -> tuple[str, str]:
        """Create `prefix + stem`, cut to Slack's 80 characters; on name_taken add -2, -3 …

        When the answer to a create was lost, the channel it may have made is looked up by name
        (made by this bot) and used, rather than leaving it empty beside a `-2`. A taken name whose
        channel this bot made a while ago and `unclaimed(channel_id)` says nothing uses (a process
        stopped between making it and recording the incident) is used as well."""
        for attempt in range(1, 50):
            suffix = "" if attempt == 1 else f"-{attempt}"
            name = (prefix + stem)[: MAX_CHANNEL_NAME - len(suffix)].rstrip("-_") + suffix
            try:
                data = self._create(
                    "conversations.create",
                    {"name": name, "is_private": is_private},
                    functools.partial(self._own_channel, name),
                    conflicts=("name_taken",),
                )
            except SlackFailure as failure:
                if failure.code != "name_taken":
                    raise
                left = self._left_behind(name, unclaimed) if unclaimed else None
                if left is None:
                    continue
                data = left
            channel = data["channel"]
            return channel["id"], channel["name"]
        raise SlackFailure("conversations.create", "name_taken", f"every suffix of {prefix + stem} is taken")

    def _left_behind(self, name: str, unclaimed: Callable[[str], bool]) -> dict[str, Any] | None:
        """The channel `name` if this bot made it over ORPHAN_MIN_AGE ago and nothing uses it. The age
        keeps a declare from taking the channel a simultaneous declare of the same title just made."""
        own = self._own_channel(name)
        if own is None:
            return None
        channel = own["channel"]
        made_long_ago = float(channel.get("created") or time.time()) <= time.time() - ORPHAN_MIN_AGE_SECONDS
        if made_long_ago and unclaimed(channel["id"]):
            logger.info(
                "using channel %s (%s), made earlier by this bot and left without an incident", name, channel["id"]
            )
            return own
        return None

    def invite(self, channel: str, user_ids: list[str]) -> None:
        users = [u for u in user_ids if u]
        if not users:
            return
        try:
            self.call("conversations.invite", channel=channel, users=",".join(users))
        except SlackFailure as failure:
            if failure.code not in ("already_in_channel", "cant_invite_self"):
                raise

    def set_topic(self, channel: str, topic: str) -> None:
        self.call("conversations.setTopic", channel=channel, topic=bk.truncate(topic, MAX_TOPIC))

    def channel_info(self, channel: str) -> dict[str, Any]:
        return self.call("conversations.info", channel=channel).get("channel", {})

    def channel_id_by_name(self, name: str) -> str | None:
        """The id of the channel called `name` (public, or private with the bot in it), or None."""
        channel = self._channel_by_name(name)
        return channel.get("id") if channel else None

    def _own_channel(self, name: str) -> dict[str, Any] | None:
        """The channel called `name` if this bot made it (the answer conversations.create gives)."""
        channel = self._channel_by_name(name)
        if channel and channel.get("creator") == self.bot_user_id():
            return {"channel": channel}
        return None

    def _channel_by_name(self, name: str) -> dict[str, Any] | None:
        cursor = None
        for _ in range(50):
            params: dict[str, Any] = {
                "types": "public_channel,private_channel",
                "exclude_archived": True,
                "limit": 1000,
            }
            if cursor:
                params["cursor"] = cursor
            data = self.call("conversations.list", **params)
            for channel in data.get("channels", []):
                if channel.get("name") == name:
                    return channel
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def open_dm(self, user_id: str) -> str:
        return self.call("conversations.open", users=user_id)["channel"]["id"]

    def find_message_with_metadata(
        self,
        channel: str,
        event_type: str,
        payload: dict[str, Any],
        *,
        oldest: float = 0.0,
        max_pages: int = 5,
        thread_ts: str | None = None,
    ) -> str | None:
        """The ts of a message since `oldest` whose metadata has this type and these payload values:
        top-level, or a reply in the thread `thread_ts`.

        Needs channels:history / groups:history / im:history for the channel's kind.
        """
        cursor = None
        for _ in range(max_pages):
            params: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{oldest:.6f}",
                "include_all_metadata": True,
                "limit": 200,
            }
            if thread_ts:
                params["ts"] = thread_ts
            if cursor:
                params["cursor"] = cursor
            data = self.call("conversations.replies" if thread_ts else "conversations.history", **params)
            for message in data.get("messages", []):
                metadata = message.get("metadata") or {}
                found = metadata.get("event_payload") or {}
                if metadata.get("event_type") == event_type and all(found.get(k) == v for k, v in payload.items()):
                    return message.get("ts")
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    # -- people ------------------------------------------------------------------------------
    def _user(self, user_id: str, *, cached_only: bool = False) -> dict[str, Any] | None:
        """users.info's user, cached for an hour (zone and name change rarely); None when Slack can't say.

        `cached_only` never calls Slack: for code that must answer before an acknowledgement."""
        with self._users_lock:
            if user_id in self._users:
                return self._users[user_id]
        if cached_only:
            return None
        try:
            user = self.call("users.info", user=user_id).get("user") or {}
        except SlackFailure as failure:
            logger.warning("users.info for %s failed: %s", user_id, failure.code)
            return None  # not cached: try again next time
        with self._users_lock:
            self._users[user_id] = user
        return user

    def user_timezone(self, user_id: str, *, cached_only: bool = False) -> ZoneInfo | None:
        """The user's own IANA zone (users.info `tz`; `tz_offset` is only today's offset)."""
        user = self._user(user_id, cached_only=cached_only)
        return _zone_or_none(user.get("tz")) if user else None

    def user_timezone_soon(self, user_id: str, *, within_seconds: float) -> ZoneInfo | None:
        """The zone from cache, or from Slack if it answers in time: for code that must ack soon."""
        zone = self.user_timezone(user_id, cached_only=True)
        if zone is not None:
            return zone
        lookup = self._lookups.submit(self.user_timezone, user_id)
        try:
            return lookup.result(timeout=within_seconds)
        except FuturesTimeout:
            return None  # it lands in the cache for next time

    def user_name(self, user_id: str) -> str:
        user = self._user(user_id)
        if not user:
            return user_id
        profile = user.get("profile", {})
        return profile.get("display_name") or user.get("real_name") or user.get("name") or user_id

    def user_names(self, user_ids: list[str], *, deadline_seconds: float = 3.0) -> dict[str, str]:
        """Names for many people at once, looked up in parallel; whoever is not known by the
        deadline keeps their id, so a slow Slack cannot hold up what the names are for."""
        wanted = list(dict.fromkeys(user_ids))
        names = {user_id: user_id for user_id in wanted}
        if not wanted:
            return names
        pool = ThreadPoolExecutor(max_workers=min(8, len(wanted)), thread_name_prefix="user-names")
        futures = {pool.submit(self.user_name, user_id): user_id for user_id in wanted}
        try:
            for future in as_completed(futures, timeout=deadline_seconds):
                names[futures[future]] = future.result()
        except FuturesTimeout:
            logger.warning(
                "names of %d people not known within %.0fs; showing their ids",
                sum(1 for f in futures if not f.done()),
                deadline_seconds,
            )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return names

    # -- views and files ---------------------------------------------------------------------
    def open_view(self, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        return self.call("views.open", trigger_id=trigger_id, view=view).get("view", {})

    def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        """The person's App Home tab (views.publish: 100 blocks at most)."""
        self.call("views.publish", user_id=user_id, view=view)

    # -- files and canvases ------------------------------------------------------------------
    def upload_document(self, channel: str, filename: str, content: str, *, title: str) -> UploadedFile:
        """Upload text as a file into a channel; returns its id and permalink."""
        return self.upload_files(channel, [FileToUpload(filename, content.encode("utf-8"), title)])[0]

    def upload_files(
        self,
        channel: str,
        files: list[FileToUpload],
        *,
        thread_ts: str | None = None,
        initial_comment: str | None = None,
    ) -> list[UploadedFile]:
        """Upload files, text or binary (PNG charts, CSV), into a channel or a thread in one share (the
        steps of files_upload_v2); returns their ids and permalinks in the order given.

        Reserving the uploads and sending the bytes only touch files nobody sees yet, so they are
        repeated freely; sharing them into the channel is looked up (files.info) before it is repeated."""
        try:
            return self._upload(channel, files, thread_ts, initial_comment)
        except SlackFailure as failure:  # one name for the whole upload, as callers record it
            raise SlackFailure("files_upload_v2", failure.code, str(failure)) from failure

    def _upload(
        self, channel: str, files: list[FileToUpload], thread_ts: str | None, initial_comment: str | None
    ) -> list[UploadedFile]:
        reserved: list[dict[str, str]] = []
        for item in files:
            # Repeating a reservation leaves at most an unused, invisible upload slot behind.
            slot = self._repeating(
                "files.getUploadURLExternal", {"filename": item.filename, "length": len(item.content)}
            )
            file_id, upload_url = slot.get("file_id"), slot.get("upload_url")
            if not file_id or not upload_url:
                raise SlackFailure("files.getUploadURLExternal", INVALID_RESPONSE, "no file_id or upload_url")
            self._send_file_bytes(upload_url, item.content)
            reserved.append({"id": file_id, "title": item.title})

        def find() -> dict[str, Any] | None:
            found = []
            for entry in reserved:
                file = self.call("files.info", file=entry["id"]).get("file") or {}
                shares = file.get("shares") or {}
                shared = [
                    *file.get("channels", []),
                    *file.get("groups", []),
                    *file.get("ims", []),
                    *(shares.get("public") or {}),
                    *(shares.get("private") or {}),
                ]
                if channel not in shared:
                    return None
                found.append(file)
            return {"files": found}

        params: dict[str, Any] = {"files": json.dumps(reserved), "channel_id": channel}
        if thread_ts:
            params["thread_ts"] = thread_ts
        if initial_comment:
            params["initial_comment"] = initial_comment
        done = self._create("files.completeUploadExternal", params, find)
        shared_files = done.get("files") or []
        return [
            UploadedFile(
                id=(shared_files[i] if i < len(shared_files) else {}).get("id", entry["id"]),
                permalink=(shared_files[i] if i < len(shared_files) else {}).get("permalink"),
            )
            for i, entry in enumerate(reserved)
        ]

    def _send_file_bytes(self, upload_url: str, body: bytes) -> None:
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(
                upload_url, data=body, method="POST", headers={"Content-Type": "application/octet-stream"}
            )
            try:
                with connections.SLACK.urlopen(request, timeout=self.client.timeout, context=None) as answer:
                    answer.read()
                return
            except HTTPError as err:
                failure = SlackFailure("files.upload", f"http_{err.code}")
            except (OSError, http.client.HTTPException) as err:
                failure = SlackFailure("files.upload", ANSWER_LOST, str(err))
            if not failure.outcome_unknown or attempt == self.max_retries:
                raise failure
            self._pause(attempt)

    def create_channel_canvas(self, channel: str, title: str, markdown: str) -> str:
        """The channel's canvas, made from Markdown; returns the canvas id. After a lost answer the
        channel's canvas (conversations.info) is the one the lost call made."""

        def find() -> dict[str, Any] | None:
            info = self.channel_info(channel)
            canvas_id = ((info.get("properties") or {}).get("canvas") or {}).get("file_id")
            return {"canvas_id": canvas_id} if canvas_id else None

        data = self._create(
            "conversations.canvases.create",
            {"channel_id": channel, "title": title, "document_content": {"type": "markdown", "markdown": markdown}},
            find,
            conflicts=("channel_canvas_already_exists",),
        )
        return data.get("canvas_id", "")

    def replace_canvas(self, canvas_id: str, markdown: str) -> None:
        # A whole-document replace leaves the same canvas however often it arrives: safe to repeat.
        self._repeating(
            "canvases.edit",
            {
                "canvas_id": canvas_id,
                "changes": [{"operation": "replace", "document_content": {"type": "markdown", "markdown": markdown}}],
            },
        )


@dataclass(frozen=True)
class UploadedFile:
    id: str
    permalink: str | None


@dataclass(frozen=True)
class FileToUpload:
    filename: str
    content: bytes
    title: str


def _zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# Methods whose arguments include nested objects (blocks, views, metadata) go as JSON bodies.
_JSON_METHODS = {
    "chat.postMessage",
    "chat.postEphemeral",
    "chat.update",
    "views.open",
    "views.update",
    "views.push",
    "views.publish",
    "canvases.create",
    "conversations.canvases.create",
    "canvases.edit",
}


def _wants_json(method: str) -> bool:
    return method in _JSON_METHODS
