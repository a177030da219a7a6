"""The Slack gateway: the only code that calls Slack's Web API or a response_url.

Retries on 429 (honouring Retry-After), 5xx and connection errors, the channel-name rules,
the user time-zone cache and Slack's error codes live here once. Callers get plain values
or a `SlackFailure` that says whether the channel is out of reach.
"""

from __future__ import annotations


import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
import unicodedata
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cachetools import TTLCache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.observability import metrics
from bot.slack import blocks as bk

logger = logging.getLogger(__name__)

MAX_CHANNEL_NAME = 80
MAX_TOPIC = 250
# Errors that mean "this channel cannot take the bot's messages any more".
CHANNEL_GONE = {"channel_not_found", "is_archived", "not_in_channel", "channel_is_archived"}


class SlackFailure(Exception):
    """A Web API call failed after retries; `code` is Slack's error string (or http_<status>)."""

    def __init__(self, method: str, code: str, detail: str = ""):
        super().__init__(f"{method} failed: {code}{' — ' + detail if detail else ''}")
        self.method = method
        self.code = code

    @property
    def channel_gone(self) -> bool:
        return self.code in CHANNEL_GONE


def failure_code(err: SlackApiError) -> str:
    """Slack's error code; `http_<status>` for a 5xx (whose body is an HTML page, which slack_sdk
    reports as an `error` saying the response was not JSON)."""
    status = err.response.status_code
    data = err.response.data if isinstance(err.response.data, dict) else {}
    code = data.get("error")
    if status >= 500 or not isinstance(code, str) or not code or " " in code:
        return f"http_{status}"
    return code


def retry_handlers(max_retries: int = 3) -> list[Any]:
    return [
        metrics.RateLimitCounter(),  # counts each 429 before the next handler retries it
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=max_retries),
    ]


def build_web_client(token: str, base_url: str, *, max_retries: int = 3) -> WebClient:
    return WebClient(token=token, base_url=base_url, timeout=15, retry_handlers=retry_handlers(max_retries))


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
    def __init__(self, client: WebClient, *, user_cache_seconds: int = 3600):
        self.client = client
        self._users: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=20000, ttl=user_cache_seconds)
        self._users_lock = threading.Lock()
        self._lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="user-lookup")

    # -- calling -----------------------------------------------------------------------------
    @metrics.counts_slack_calls
    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a Web API method; raise SlackFailure with Slack's error code when it fails."""
        try:
            response = self.client.api_call(method, json=params) if _wants_json(method) else self.client.api_call(
                method, params=params
            )
            return response.data if isinstance(response.data, dict) else {}
        except SlackApiError as err:
            raise SlackFailure(method, failure_code(err)) from err
        except (SlackClientError, OSError) as err:
            raise SlackFailure(method, "connection_error", str(err)) from err

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
        if metadata:
            params["metadata"] = metadata
        params["unfurl_links"] = False
        params["unfurl_media"] = False
        data = self.call("chat.postMessage", **params)
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
        webhook = WebhookClient(response_url, timeout=15, retry_handlers=retry_handlers())
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
            data = self.call("conversations.replies", channel=channel, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=2)
        except SlackFailure as failure:
            if failure.code in ("thread_not_found", "message_not_found"):
                return None
            raise
        for message in data.get("messages", []):
            if message.get("ts") == ts:
                return message
        return None

    # -- channels ----------------------------------------------------------------------------
    def create_channel(self, prefix: str, stem: str, *, is_private: bool = False) -> tuple[str, str]:
        """Create `prefix + stem`, cut to Slack's 80 characters; on name_taken add -2, -3 …"""
        for attempt in range(1, 50):
            suffix = "" if attempt == 1 else f"-{attempt}"
            name = (prefix + stem)[: MAX_CHANNEL_NAME - len(suffix)].rstrip("-_") + suffix
            try:
                data = self.call("conversations.create", name=name, is_private=is_private)
            except SlackFailure as failure:
                if failure.code == "name_taken":
                    continue
                raise
            channel = data["channel"]
            return channel["id"], channel["name"]
        raise SlackFailure("conversations.create", "name_taken", f"every suffix of {prefix + stem} is taken")

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
        cursor = None
        for _ in range(50):
            params: dict[str, Any] = {"types": "public_channel,private_channel", "exclude_archived": True, "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            data = self.call("conversations.list", **params)
            for channel in data.get("channels", []):
                if channel.get("name") == name:
                    return channel.get("id")
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def open_dm(self, user_id: str) -> str:
        return self.call("conversations.open", users=user_id)["channel"]["id"]

    def find_message_with_metadata(self, channel: str, event_type: str, payload: dict[str, Any], *,
                                   oldest: float = 0.0, max_pages: int = 5) -> str | None:
        """The ts of a top-level message since `oldest` whose metadata has this type and these payload values.

        Needs channels:history / groups:history / im:history for the channel's kind.
        """
        cursor = None
        for _ in range(max_pages):
            params: dict[str, Any] = {"channel": channel, "oldest": f"{oldest:.6f}", "include_all_metadata": True,
                                      "limit": 200}
            if cursor:
                params["cursor"] = cursor
            data = self.call("conversations.history", **params)
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
            logger.warning("names of %d people not known within %.0fs; showing their ids",
                           sum(1 for f in futures if not f.done()), deadline_seconds)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return names

    # -- views and files ---------------------------------------------------------------------
    def open_view(self, trigger_id: str, view: dict[str, Any]) -> dict[str, Any]:
        return self.call("views.open", trigger_id=trigger_id, view=view).get("view", {})

    # -- files and canvases ------------------------------------------------------------------
    def upload_document(self, channel: str, filename: str, content: str, *, title: str) -> "UploadedFile":
        """Upload text as a file into a channel (files_upload_v2); returns its id and permalink."""
        try:
            response = self.client.files_upload_v2(channel=channel, filename=filename, content=content, title=title)
        except SlackApiError as err:
            raise SlackFailure("files_upload_v2", failure_code(err)) from err
        except (SlackClientError, OSError) as err:
            raise SlackFailure("files_upload_v2", "connection_error", str(err)) from err
        files = response.get("files") or [response.get("file") or {}]
        first = files[0] if files else {}
        return UploadedFile(id=first.get("id", ""), permalink=first.get("permalink"))

    def create_channel_canvas(self, channel: str, title: str, markdown: str) -> str:
        """The channel's canvas, made from Markdown; returns the canvas id."""
        data = self.call(
            "conversations.canvases.create",
            channel_id=channel,
            title=title,
            document_content={"type": "markdown", "markdown": markdown},
        )
        return data.get("canvas_id", "")

    def replace_canvas(self, canvas_id: str, markdown: str) -> None:
        self.call(
            "canvases.edit",
            canvas_id=canvas_id,
            changes=[{"operation": "replace", "document_content": {"type": "markdown", "markdown": markdown}}],
        )


@dataclass(frozen=True)
class UploadedFile:
    id: str
    permalink: str | None


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


