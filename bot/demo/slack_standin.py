"""An in-process stand-in for Slack's Web API, for the test-suite.

``SlackStandIn`` runs a small HTTP server on 127.0.0.1 (stdlib
``ThreadingHTTPServer`` in a daemon thread).  Point the bot's real
``slack_sdk.WebClient(base_url=standin.base_url)`` at it and the bot talks
HTTP exactly as it would to Slack.  The stand-in

* records every API call (``calls``) and every ``response_url`` post
  (``responses``), with ``wait_for``/``wait_for_responses`` to block until the
  bot got there;
* keeps a small workspace in memory (users, channels, messages, files,
  canvases, views) and answers in Slack's shapes, including Slack's error
  codes and Block Kit / message size limits (the module-level constants);
* can be told to fail the next call(s) to a method (``fail``): 429 with
  ``Retry-After``, a 5xx HTML page, or ``ok: false`` with any error code; or
  to fail the way networks do (``fail(method, mode=...)``): reset the
  connection after doing the work (the answer is lost), answer 200 with a
  body that is not JSON, or answer slowly.

Only the standard library is used.  Usage::

    standin = SlackStandIn().start()
    client = WebClient(token="xoxb-test", base_url=standin.base_url)
    ...
    standin.stop()
"""

from __future__ import annotations

import base64
import bisect
import email.parser
import email.policy
import http
import json
import re
import secrets
import socket
import ssl
import string
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

# --------------------------------------------------------------------------
# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks and the
# method reference pages).  Every check below refers to one of these.
# --------------------------------------------------------------------------
MAX_BLOCKS_PER_MESSAGE = 50
MAX_BLOCKS_PER_VIEW = 100
MAX_MESSAGE_TEXT = 40_000  # top-level `text` -> msg_too_long
MAX_BLOCKS_TOTAL_TEXT = 12_000  # all text inside blocks -> msg_blocks_too_long
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2_000
MAX_BUTTON_URL = 3_000
MAX_INPUT_LABEL = 2_000
MAX_ID_LENGTH = 255  # block_id, action_id, callback_id, external_id
MAX_VIEW_TITLE = 24  # also submit / close
MAX_PRIVATE_METADATA = 3_000
MAX_TOPIC = 250
MAX_CHANNEL_NAME = 80
RESPONSE_URL_MAX_USES = 5
DEFAULT_PAGE_LIMIT = 100

BLOCK_TYPES = frozenset(
    {"section", "header", "context", "actions", "divider", "image", "rich_text", "input", "markdown", "file"}
)
TEXT_OBJECT_TYPES = frozenset({"plain_text", "mrkdwn"})
CHANNEL_NAME_RE = re.compile(r"[a-z0-9_-]+")

BOT_ID = "BBOT"
APP_ID = "ABOT"
TEAM_DOMAIN = "example"
WORKSPACE_URL = f"https://{TEAM_DOMAIN}.slack.com/"
_ID_ALPHABET = string.ascii_uppercase + string.digits


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------
@dataclass
class Call:
    """One Web API call as the stand-in received it."""

    method: str
    params: dict
    headers: dict
    at: float  # time.monotonic() on arrival
    failed: bool = False  # answered with anything but ok:true (injected fault or Slack error)
    error: str | None = None  # the `error` code answered ("http_500" for an injected 5xx)
    status: int = 200  # HTTP status answered
    lost: bool = False  # the work was done but the answer was dropped (fail(mode="lost_answer"))


@dataclass
class Response:
    """One POST to a response_url."""

    token: str
    payload: dict
    at: float
    rejected: str | None = None  # the error body answered instead of "ok"
    status: int = 200


@dataclass
class _Fault:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int
    channel: str | None = None  # only calls about this channel fail
    mode: str = "status"  # status | lost_answer | non_json | slow (see SlackStandIn.fail)
    seconds: float = 0.0  # slow: how long to wait before answering
    body: str = ""  # non_json: the body answered with status 200


FAULT_MODES = ("status", "lost_answer", "non_json", "slow")
# What a broken proxy or a cut-off transfer hands back with a 200 (non_json's default body).
CUT_OFF_JSON = '{"ok": true, "channel": {"id": "C'
LOST = -1  # the reply status that tells the HTTP handler to reset the connection unanswered


class SlackError(Exception):
    """Raised by handlers; becomes {"ok": false, "error": ...}."""

    def __init__(self, error: str, *messages: str):
        super().__init__(error)
        self.error = error
        self.messages = list(messages)

    def body(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


# --------------------------------------------------------------------------
# Parameter helpers (form values are strings, JSON values keep their type)
# --------------------------------------------------------------------------
def _param(params: dict, key: str) -> Any:
    value = params.get(key)
    return None if value == "" else value


def _text_param(params: dict, key: str) -> str | None:
    value = _param(params, key)
    return None if value is None else str(value)


def _flag(params: dict, key: str, default: bool = False) -> bool:
    value = _param(params, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes")


def _int_param(params: dict, key: str, default: int) -> int:
    value = _param(params, key)
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments", f"[ERROR] {key} must be an integer") from None


def _id_list(params: dict, key: str) -> list[str]:
    value = _param(params, key)
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _json_param(params: dict, key: str, error: str) -> Any:
    """A field that arrives as a JSON string (form) or as JSON already (JSON body)."""
    value = _param(params, key)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise SlackError(error, f"[ERROR] {key} is not valid JSON") from None


def _header(headers: dict, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _ts_value(ts: str | None, default: float, error: str) -> float:
    try:
        return float(ts) if ts not in (None, "") else default
    except ValueError:
        raise SlackError(error) from None


def _parse_multipart(content_type: str, body: bytes) -> dict:
    raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        fields[name] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return fields


def _parse_body(headers: dict, body: bytes) -> dict:
    content_type = _header(headers, "Content-Type") or ""
    if not body:
        return {}
    if "application/json" in content_type.lower():
        try:
            data = json.loads(body)
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(data, dict):
            raise SlackError("invalid_json")
        return data
    if "multipart/form-data" in content_type.lower():
        return _parse_multipart(content_type, body)
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


# --------------------------------------------------------------------------
# Block Kit validation.  Each checker yields Slack-style problem strings.
# --------------------------------------------------------------------------
def _problem(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _too_long(value: Any, limit: int, pointer: str) -> Iterator[str]:
    if isinstance(value, str) and len(value) > limit:
        yield _problem(f"must be less than {limit + 1} characters", pointer)


def _text_object(obj: Any, limit: int, pointer: str, *, plain_only: bool = False) -> Iterator[str]:
    allowed = {"plain_text"} if plain_only else TEXT_OBJECT_TYPES
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        yield _problem("must provide a text object", pointer)
    elif obj.get("type") not in allowed:
        yield _problem(f"text object type must be one of {sorted(allowed)}", pointer + "/type")
    else:
        yield from _too_long(obj["text"], limit, pointer + "/text")


def _element(element: Any, pointer: str) -> Iterator[str]:
    if not isinstance(element, dict) or not element.get("type"):
        yield _problem("element must be an object with a type", pointer)
        return
    yield from _too_long(element.get("action_id"), MAX_ID_LENGTH, pointer + "/action_id")
    if element["type"] == "button":
        yield from _text_object(element.get("text"), MAX_BUTTON_TEXT, pointer + "/text", plain_only=True)
        yield from _too_long(element.get("value"), MAX_BUTTON_VALUE, pointer + "/value")
        yield from _too_long(element.get("url"), MAX_BUTTON_URL, pointer + "/url")
    if element["type"] == "checkboxes":  # 1 to 10 options; the ticked ones must be among them
        options = element.get("options")
        if not isinstance(options, list) or not 1 <= len(options) <= 10:
            yield _problem("must provide between 1 and 10 options", pointer + "/options")
        elif not {json.dumps(o, sort_keys=True) for o in element.get("initial_options", [])} <= {
            json.dumps(o, sort_keys=True) for o in options
        }:
            yield _problem("initial_options must be among the options", pointer + "/initial_options")


def _section(block: dict, pointer: str) -> Iterator[str]:
    if "text" not in block and "fields" not in block:
        yield _problem("must provide either text or fields", pointer)
    if "text" in block:
        yield from _text_object(block["text"], MAX_SECTION_TEXT, pointer + "/text")
    fields = block.get("fields")
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
            yield _problem(f"must provide no more than {MAX_SECTION_FIELDS} items", pointer + "/fields")
        else:
            for i, field_obj in enumerate(fields):
                yield from _text_object(field_obj, MAX_SECTION_FIELD_TEXT, f"{pointer}/fields/{i}")
    if "accessory" in block:
        yield from _element(block["accessory"], pointer + "/accessory")


def _header_block(block: dict, pointer: str) -> Iterator[str]:
    yield from _text_object(block.get("text"), MAX_HEADER_TEXT, pointer + "/text", plain_only=True)


def _elements(block: dict, pointer: str, limit: int) -> Iterator[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        yield _problem("must provide a non-empty elements array", pointer + "/elements")
    elif len(elements) > limit:
        yield _problem(f"must provide no more than {limit} items", pointer + "/elements")


def _context(block: dict, pointer: str) -> Iterator[str]:
    yield from _elements(block, pointer, MAX_CONTEXT_ELEMENTS)


def _actions(block: dict, pointer: str) -> Iterator[str]:
    problems = list(_elements(block, pointer, MAX_ACTIONS_ELEMENTS))
    yield from problems
    if not problems:
        for i, element in enumerate(block["elements"]):
            yield from _element(element, f"{pointer}/elements/{i}")


def _input(block: dict, pointer: str) -> Iterator[str]:
    yield from _text_object(block.get("label"), MAX_INPUT_LABEL, pointer + "/label", plain_only=True)
    yield from _element(block.get("element"), pointer + "/element")


_BLOCK_CHECKS: dict[str, Callable[[dict, str], Iterator[str]]] = {
    "section": _section,
    "header": _header_block,
    "context": _context,
    "actions": _actions,
    "input": _input,
}


def block_problems(blocks: list, limit: int, base: str = "/blocks") -> list[str]:
    """Everything Slack would reject about a list of blocks."""
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(_problem(f"no more than {limit} items allowed", base))
    for i, block in enumerate(blocks):
        pointer = f"{base}/{i}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            problems.append(_problem("unsupported type or missing type", pointer))
            continue
        problems.extend(_too_long(block.get("block_id"), MAX_ID_LENGTH, pointer + "/block_id"))
        check = _BLOCK_CHECKS.get(block["type"])
        if check:
            problems.extend(check(block, pointer))
    return problems


def text_length(node: Any) -> int:
    """Sum of the lengths of all `text` strings anywhere inside `node`."""
    if isinstance(node, list):
        return sum(text_length(item) for item in node)
    if isinstance(node, dict):
        return sum(
            len(value) if key == "text" and isinstance(value, str) else text_length(value)
            for key, value in node.items()
        )
    return 0


def parse_blocks(value: Any) -> list | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SlackError("invalid_blocks_format", "[ERROR] blocks is not valid JSON") from None
    if not isinstance(value, list):
        raise SlackError("invalid_blocks_format", "[ERROR] blocks must be an array")
    return value


def validate_message(text: str | None, blocks: list | None, *, need_content: bool = True) -> None:
    """Slack's checks on a message body, in the order Slack reports them."""
    if need_content and not text and not blocks:
        raise SlackError("no_text", "[ERROR] provide text or blocks")
    if text and len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long", f"[ERROR] text must be less than {MAX_MESSAGE_TEXT + 1} characters")
    if blocks:
        problems = block_problems(blocks, MAX_BLOCKS_PER_MESSAGE)
        if problems:
            raise SlackError("invalid_blocks", *problems)
        total = text_length(blocks)
        if total > MAX_BLOCKS_TOTAL_TEXT:
            raise SlackError(
                "msg_blocks_too_long",
                f"[ERROR] blocks hold {total} characters of text; the limit is {MAX_BLOCKS_TOTAL_TEXT}",
            )


def validate_view(view: Any, allowed_types: set[str]) -> None:
    """views.* payload checks; Slack answers all of them with invalid_arguments."""
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", _problem("view must be an object", "/view"))
    problems: list[str] = []
    if view.get("type") not in allowed_types:
        problems.append(_problem(f"type must be one of {sorted(allowed_types)}", "/view/type"))
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        problems.append(_problem("must provide a blocks array", "/view/blocks"))
    else:
        problems.extend(block_problems(blocks, MAX_BLOCKS_PER_VIEW, "/view/blocks"))
    if view.get("type") == "modal":
        problems.extend(_text_object(view.get("title"), MAX_VIEW_TITLE, "/view/title", plain_only=True))
    for key in ("submit", "close"):
        if key in view:
            problems.extend(_text_object(view[key], MAX_VIEW_TITLE, f"/view/{key}", plain_only=True))
    for key in ("callback_id", "external_id"):
        problems.extend(_too_long(view.get(key), MAX_ID_LENGTH, f"/view/{key}"))
    problems.extend(_too_long(view.get("private_metadata"), MAX_PRIVATE_METADATA, "/view/private_metadata"))
    if problems:
        raise SlackError("invalid_arguments", *problems)


def parse_metadata(params: dict) -> dict | None:
    metadata = _json_param(params, "metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format", "[ERROR] metadata needs event_type and event_payload")
    return metadata


def check_channel_name(name: str) -> None:
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > MAX_CHANNEL_NAME:
        raise SlackError("invalid_name_maxlength")
    if not CHANNEL_NAME_RE.fullmatch(name):
        raise SlackError("invalid_name_specials")
    if not name.strip("-_"):
        raise SlackError("invalid_name_punctuation")


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: SlackStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout, a test's "slow" fault) is the fault being exercised,
        # not the stand-in's: say nothing. Anything else is printed as socketserver does.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "SlackStandIn/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as Slack's own servers speak
    # Headers and body go out in two writes: with Nagle on, the body of every answer on a kept
    # connection would wait ~40 ms for the client's delayed ACK (no real front end does that).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()
        with self.server.standin._lock:
            self.server.standin.connections_opened += 1
            self.server.standin.connections_open += 1

    def finish(self) -> None:
        with self.server.standin._lock:
            self.server.standin.connections_open -= 1
        super().finish()

    def handle_one_request(self) -> None:
        # An idle connection is closed after this long, as Slack's front ends do (read each time:
        # a test may shorten it for connections already open).
        self.connection.settimeout(self.server.standin.keep_alive_seconds)
        super().handle_one_request()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        status, headers, payload = self.server.standin._serve(
            self.command, parts.path, parts.query, dict(self.headers.items()), body
        )
        if status == LOST:  # the work is done; the answer never arrives: RST, as a dropped link looks
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


Reply = tuple[int, dict, bytes]


def _json_reply(body: dict, status: int = 200, headers: dict | None = None) -> Reply:
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, json.dumps(body).encode()


def _text_reply(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Reply:
    return status, {"Content-Type": content_type}, text.encode()


def _fault_error(fault: _Fault) -> str:
    """What Call.error records for an injected fault."""
    if fault.status == 429:
        return fault.error or "ratelimited"
    if fault.status >= 500:
        return f"http_{fault.status}"
    return fault.error or "fatal_error"


def _fault_reply(fault: _Fault) -> Reply:
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    if fault.status == 429:
        headers.setdefault("Retry-After", "1")
    if fault.status < 500:
        return _json_reply({"ok": False, "error": _fault_error(fault)}, fault.status, headers)
    try:
        title = f"{fault.status} {http.HTTPStatus(fault.status).phrase}"
    except ValueError:
        title = str(fault.status)
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>Slack hiccuped.</p></body></html>"
    status, base, payload = _text_reply(fault.status, page, "text/html; charset=utf-8")
    return status, {**base, **headers}, payload


def _summarise(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


# --------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------
class SlackStandIn:
    """A fake Slack workspace reachable over HTTP; see the module docstring."""

    def __init__(self, bot_user_id: str = "UBOT", team_id: str = "T0001"):
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.enterprise_id: str | None = None  # set before the bot starts: a Grid workspace
        self.bot_id = BOT_ID
        self.url = ""
        self.base_url = ""
        # knobs tests may flip
        self.canvases_enabled = True
        self.expired_triggers: set[str] = set()
        self.system_messages = True  # post channel_join / channel_topic messages like Slack does
        self.socket_mode_url = ""  # the WebSocket URL apps.connections.open hands out (Socket Mode tests)
        self.delays: dict[str, float] = {}  # method -> seconds to wait before answering (a slow Slack)
        self.keep_alive_seconds: float = 30.0  # an idle client connection is closed after this long
        self.connections_opened = 0  # client connections accepted so far
        self.connections_open = 0  # of which the client has not closed yet
        # records
        self.calls: list[Call] = []
        self.responses: list[Response] = []
        self.internal_errors: list[str] = []  # tracebacks of bugs in the stand-in itself
        # workspace state
        self.users: dict[str, dict] = {}
        self.channels: dict[str, dict] = {}
        self.messages: dict[str, list[dict]] = {}
        self.ephemerals: list[dict] = []
        self.files: dict[str, dict] = {}
        self.canvases: dict[str, dict] = {}
        self.views: dict[str, dict] = {}
        self.bookmarks: dict[str, list[dict]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._response_urls: dict[str, int] = {}  # token -> uses so far
        self._dms: dict[frozenset, str] = {}
        self._last_ts_us = 0
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.add_user(bot_user_id, name="incident-bot", is_bot=True)

    # ------------------------------------------------------------ lifecycle
    def start(self, tls: ssl.SSLContext | None = None) -> SlackStandIn:
        """Serve on a free loopback port; over HTTPS with `tls` (a server context), as Slack does."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        port = server.server_address[1]
        if tls is not None:  # each handshake runs in its connection's own thread (_Handler.setup)
            server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.base_url = f"{self.url}/api/"
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"slack-standin-{port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ------------------------------------------------------------ seeding
    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        tz: str = "UTC",
        is_bot: bool = False,
        email: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        """`email` needs the users:read.email scope in Slack; `fields` are custom profile fields by label."""
        ZoneInfo(tz)  # fail early on a bad zone name
        with self._lock:
            self.users[user_id] = {
                "id": user_id,
                "name": name or user_id.lower(),
                "real_name": name or user_id.lower(),
                "tz": tz,
                "is_bot": is_bot,
                "email": email,
                "fields": dict(fields or {}),
            }

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_archived: bool = False,
        bot_is_member: bool = True,
        creator: str | None = None,
    ) -> None:
        with self._lock:
            channel = self._new_channel(channel_id, name, is_private=is_private, members=set())
            channel["is_archived"] = is_archived
            channel["creator"] = creator or self.bot_user_id
            if bot_is_member:
                self._join(channel, self.bot_user_id, announce=False)

    def add_message(
        self,
        channel_id: str,
        *,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        files: list | None = None,
    ) -> str:
        """Seed a message a human wrote; returns its ts."""
        with self._lock:
            if channel_id not in self.channels:
                if not channel_id.startswith("D"):
                    raise KeyError(f"unknown channel {channel_id!r}: call add_channel first")
                self._new_channel(channel_id, user, is_im=True, members={self.bot_user_id, user})
            if ts is not None and self._find_message(channel_id, ts) is not None:
                raise ValueError(f"a message with ts {ts} already exists in {channel_id}")
            message = self._store_message(
                channel_id, {"user": user, "text": text, "thread_ts": thread_ts, "files": files}, ts=ts
            )
            return message["ts"]

    # What people do to messages (the stand-in's state changes; the test sends the matching event).
    def message(self, channel_id: str, ts: str) -> dict:
        """A message as Slack's APIs show it (reactions, files, thread fields included)."""
        with self._lock:
            return json.loads(json.dumps(self._message_json(channel_id, self._message(channel_id, ts))))

    def react(self, channel_id: str, ts: str, name: str, *, user: str) -> None:
        with self._lock:
            message = self._message(channel_id, ts)
            reaction = next((r for r in message["reactions"] if r["name"] == name), None)
            if reaction is None:
                reaction = {"name": name, "users": [], "count": 0}
                message["reactions"].append(reaction)
            if user not in reaction["users"]:
                reaction["users"].append(user)
            reaction["count"] = len(reaction["users"])

    def unreact(self, channel_id: str, ts: str, name: str, *, user: str) -> None:
        with self._lock:
            message = self._message(channel_id, ts)
            for reaction in list(message["reactions"]):
                if reaction["name"] == name and user in reaction["users"]:
                    reaction["users"].remove(user)
                    reaction["count"] = len(reaction["users"])
                    if not reaction["users"]:
                        message["reactions"].remove(reaction)

    def edit_message(self, channel_id: str, ts: str, text: str) -> tuple[dict, dict]:
        """A person edits their message; returns (previous, current) as Slack shows them."""
        with self._lock:
            message = self._message(channel_id, ts)
            previous = self.message(channel_id, ts)
            message["text"] = text
            message["edited"] = {"user": message.get("user"), "ts": self._next_ts()}
            return previous, self.message(channel_id, ts)

    def delete_message(self, channel_id: str, ts: str) -> dict:
        """A person deletes a message; returns it as it was."""
        with self._lock:
            previous = self.message(channel_id, ts)
            self.messages[channel_id].remove(self._message(channel_id, ts))
            return previous

    def response_url(self) -> str:
        """A fresh response_url; posts to it are recorded in `responses`."""
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._response_urls[token] = 0
        return f"{self.url}/respond/{token}"

    def fail(
        self,
        method: str,
        *,
        status: int = 500,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        channel: str | None = None,
        mode: str = "status",
        seconds: float = 0.0,
        body: str = CUT_OFF_JSON,
    ) -> None:
        """Make the next `times` calls to `method` (about `channel`, if given) answer with this fault.

        `mode`: ``status`` answers `status` (429 with `retry_after`, a 5xx HTML page — 502 and 504
        are what Slack's edge sends — or ``ok: false`` with `error`); ``lost_answer`` does the work
        and then resets the connection; ``non_json`` answers 200 with `body`; ``slow`` does the work at once and
        answers `seconds` later (a client that gave up meanwhile lost the answer).
        """
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {FAULT_MODES}")
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(status, error, retry_after, times, channel, mode, seconds, body)
            )

    def dm_channel(self, user_id: str) -> str | None:
        """The D... id of the bot's DM with `user_id`, if one was opened."""
        with self._lock:
            return self._dms.get(frozenset({user_id}))

    # ------------------------------------------------------------ inspection
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0, where: Callable[[Call], bool] | None = None
    ) -> list[Call]:
        def matching() -> list[Call]:
            return [c for c in self.calls if c.method == method and (where is None or where(c))]

        found, satisfied = self._wait(matching, count, timeout)
        if not satisfied:
            what = f"{count} call(s) to {method}" + (" matching the predicate" if where else "")
            raise AssertionError(self._timeout_message(what, timeout, len(found), self._describe_calls()))
        return found

    def wait_for_responses(
        self, count: int = 1, timeout: float = 5.0, where: Callable[[Response], bool] | None = None
    ) -> list[Response]:
        def matching() -> list[Response]:
            return [r for r in self.responses if where is None or where(r)]

        found, satisfied = self._wait(matching, count, timeout)
        if not satisfied:
            what = f"{count} response_url post(s)" + (" matching the predicate" if where else "")
            raise AssertionError(self._timeout_message(what, timeout, len(found), self._describe_responses()))
        return found

    def _wait(self, matching: Callable[[], list], count: int, timeout: float) -> tuple[list, bool]:
        """Block until matching() holds `count` items; returns (items, whether that happened in time)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = matching()
                if len(found) >= count:
                    return found, True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return found, False
                self._cond.wait(remaining)

    @staticmethod
    def _timeout_message(what: str, timeout: float, got: int, listing: list[str]) -> str:
        lines = [f"timed out after {timeout:g}s waiting for {what}; {got} matched."]
        lines.append(f"Recorded ({len(listing)}):" if listing else "Nothing was recorded.")
        shown = listing[-40:]
        if len(listing) > len(shown):
            lines.append(f"  ... {len(listing) - len(shown)} earlier ones left out")
        lines.extend(shown)
        return "\n".join(lines)

    def _describe_calls(self) -> list[str]:
        with self._lock:
            start = self.calls[0].at if self.calls else 0.0
            lines = []
            for i, call in enumerate(self.calls, 1):
                outcome = "ok" if not call.failed else f"{call.status} {call.error}"
                outcome += " (answer lost)" if call.lost else ""
                args = " ".join(f"{k}={_summarise(v)}" for k, v in call.params.items() if k != "token")
                lines.append(f"  #{i} +{call.at - start:.3f}s {call.method} [{outcome}] {_summarise(args, 200)}")
            return lines

    def _describe_responses(self) -> list[str]:
        with self._lock:
            return [
                f"  #{i} token={r.token} [{r.rejected or 'ok'}] {_summarise(r.payload, 200)}"
                for i, r in enumerate(self.responses, 1)
            ]

    # ------------------------------------------------------------ HTTP entry
    def _serve(self, verb: str, path: str, query: str, headers: dict, body: bytes) -> Reply:
        try:
            if path.startswith("/api/"):
                return self._serve_api(path[len("/api/") :], query, headers, body)
            if path.startswith("/respond/") and verb == "POST":
                return self._serve_response_url(path[len("/respond/") :], body)
            if path.startswith("/upload/") and verb == "POST":
                return self._serve_upload(path[len("/upload/") :], headers, body)
            if path.startswith("/files-pri/") and verb == "GET":
                return self._serve_download(path[len("/files-pri/") :].split("/")[0])
            return _text_reply(404, "not_found")
        except Exception:  # a bug in the stand-in: make it visible rather than hang the client
            trace = traceback.format_exc()
            with self._cond:
                self.internal_errors.append(trace)
                self._cond.notify_all()
            return _text_reply(500, "stand-in internal error\n" + trace)

    def _serve_api(self, method: str, query: str, headers: dict, body: bytes) -> Reply:
        at = time.monotonic()
        if self.delays.get(method):
            time.sleep(self.delays[method])  # outside the lock: other calls go on meanwhile
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            params.update(_parse_body(headers, body))
            body_error = None
        except SlackError as err:
            body_error = err
        with self._lock:
            slow = self._take_fault(method, params, modes=("slow",))
        with self._cond:
            call = Call(method, params, headers, at)
            self.calls.append(call)
            status, reply_headers, payload, error = self._answer(call, body_error)
            call.status, call.error, call.failed = status, error, error is not None
            call.lost = status == LOST
            self._cond.notify_all()
        if slow is not None:  # done at once, answered late (outside the lock, like `delays`)
            time.sleep(slow.seconds)
        return status, reply_headers, payload

    def _answer(self, call: Call, body_error: SlackError | None) -> tuple[int, dict, bytes, str | None]:
        auth_error = self._auth_error(call)
        if auth_error:
            return (*_json_reply({"ok": False, "error": auth_error}), auth_error)
        fault = self._take_fault(call.method, call.params, modes=("status", "non_json", "lost_answer"))
        if fault is not None and fault.mode == "status":
            return (*_fault_reply(fault), _fault_error(fault))
        if fault is not None and fault.mode == "non_json":
            return (*_text_reply(200, fault.body, "application/json; charset=utf-8"), "invalid_response")
        handler = self.HANDLERS.get(call.method)
        try:
            if body_error is not None:
                raise body_error
            if handler is None:
                raise SlackError("unknown_method")
            body = {"ok": True, **handler(self, call.params)}
        except SlackError as err:
            body = err.body()
            if err.error == "unknown_method":
                body["req_method"] = call.method
        if fault is not None:  # lost_answer: done (or refused) as usual, and the answer is dropped
            return LOST, {}, b"", body.get("error")
        return (*_json_reply(body), body.get("error"))

    def _auth_error(self, call: Call) -> str | None:
        authorization = _header(call.headers, "Authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else ""
        else:
            token = _text_param(call.params, "token") or ""
            if not token:
                return "not_authed"
        if call.method == "apps.connections.open":  # Socket Mode: only an app-level token opens it
            return None if token.startswith("xapp-") else "invalid_auth"
        return None if token.startswith("xoxb-") else "invalid_auth"

    def _take_fault(self, method: str, params: dict, *, modes: tuple[str, ...]) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        channel = _text_param(params, "channel") or _text_param(params, "channel_id")
        for fault in queue:
            if fault.mode in modes and (fault.channel is None or fault.channel == channel):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.remove(fault)
                return fault
        return None

    def _serve_response_url(self, token: str, body: bytes) -> Reply:
        at = time.monotonic()
        if self.delays.get("response_url"):  # `delays["response_url"]`: slow answers to response_url posts
            time.sleep(self.delays["response_url"])
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = None
        with self._cond:
            rejected, status = self._check_response(token, payload)
            if rejected is None:
                self._response_urls[token] += 1
            record = payload if isinstance(payload, dict) else {"raw": body.decode("utf-8", "replace")}
            self.responses.append(Response(token, record, at, rejected, status))
            self._cond.notify_all()
        return _text_reply(status, rejected or "ok")

    def _check_response(self, token: str, payload: Any) -> tuple[str | None, int]:
        uses = self._response_urls.get(token)
        if uses is None:
            return "no_service", 404
        if uses >= RESPONSE_URL_MAX_USES:
            return "used_url", 404
        if not isinstance(payload, dict):
            return "invalid_payload", 400
        try:
            blocks = parse_blocks(payload.get("blocks"))
            text = payload.get("text")
            validate_message(
                None if text is None else str(text), blocks, need_content=not payload.get("delete_original")
            )
        except SlackError as err:
            return err.error, 400
        return None, 200

    def _serve_upload(self, file_id: str, headers: dict, body: bytes) -> Reply:
        content = body
        content_type = _header(headers, "Content-Type") or ""
        if "multipart/form-data" in content_type.lower():
            parts = _parse_multipart(content_type, body)
            uploads = [value for value in parts.values() if isinstance(value, bytes)]
            content = uploads[0] if uploads else b""
        with self._cond:
            file = self.files.get(file_id)
            if file is None:
                return _text_reply(404, "file_not_found")
            file["content"] = content
            file["uploaded"] = True
            self._cond.notify_all()
        return _text_reply(200, f"OK - {len(content)}")

    def _serve_download(self, file_id: str) -> Reply:
        with self._lock:
            file = self.files.get(file_id)
            if file is None:
                return _text_reply(404, "file_not_found")
            return 200, {"Content-Type": "application/octet-stream"}, file["content"]

    # ------------------------------------------------------------ state helpers
    def _next_ts(self) -> str:
        micros = max(time.time_ns() // 1000, self._last_ts_us + 1)
        self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _new_id(self, prefix: str, taken: Iterable[str], length: int = 8) -> str:
        taken = set(taken)
        while True:
            candidate = prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))
            if candidate not in taken:
                return candidate

    def _new_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_im: bool = False,
        members: set[str],
    ) -> dict:
        channel = {
            "id": channel_id,
            "name": name,
            "is_private": is_private or is_im,
            "is_archived": False,
            "is_member": self.bot_user_id in members,
            "is_im": is_im,
            "topic": "",
            "topic_last_set": 0,
            "members": set(members),
            "created": int(time.time()),
            "creator": self.bot_user_id,
        }
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        return channel

    def _channel_json(self, channel: dict) -> dict:
        if channel["is_im"]:
            others = sorted(channel["members"] - {self.bot_user_id})
            return {
                "id": channel["id"],
                "created": channel["created"],
                "is_im": True,
                "is_org_shared": False,
                "user": others[0] if len(others) == 1 else None,
                "is_archived": channel["is_archived"],
                "is_member": True,
            }
        topic = channel["topic"]
        return {
            "id": channel["id"],
            "name": channel["name"],
            "name_normalized": channel["name"],
            "is_channel": not channel["is_private"],
            "is_group": False,
            "is_im": False,
            "is_mpim": channel["id"].startswith("G"),
            "is_private": channel["is_private"],
            "is_archived": channel["is_archived"],
            "is_general": False,
            "is_member": channel["is_member"],
            "created": channel["created"],
            "creator": channel["creator"],
            "topic": {
                "value": topic,
                "creator": self.bot_user_id if topic else "",
                "last_set": channel["topic_last_set"],
            },
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(channel["members"]),
            **self._channel_properties(channel["id"]),
        }

    def _channel_properties(self, channel_id: str) -> dict:
        """conversations.info names the channel's canvas under properties.canvas, as Slack does."""
        canvas = next((c for c in self.canvases.values() if c["channel_id"] == channel_id), None)
        if canvas is None:
            return {}
        return {"properties": {"canvas": {"file_id": canvas["id"], "is_empty": not canvas["markdown"]}}}

    def _channel(self, channel_id: Any, *, visible_only: bool = True) -> dict:
        channel = self.channels.get(str(channel_id or ""))
        # Slack hides private channels the bot is not in.
        if channel is None or (visible_only and channel["is_private"] and not channel["is_member"]):
            raise SlackError("channel_not_found")
        return channel

    def _readable_channel(self, channel_id: Any) -> dict:
        channel = self._channel(channel_id)
        if not channel["is_member"]:
            raise SlackError("not_in_channel")
        return channel

    def _post_target(self, channel_id: Any) -> dict:
        """Resolve chat.* `channel`: an id, a #name, a D... id or a user id (opens the DM)."""
        target = str(channel_id or "")
        if target.startswith("#"):
            for channel in self.channels.values():
                if channel["name"] == target[1:] and not channel["is_im"]:
                    target = channel["id"]
                    break
        if target in self.channels:
            channel = self._channel(target)
        elif target[:1] in ("U", "W") and len(target) > 1:
            channel = self._open_dm([target])
        elif target.startswith("D") and len(target) > 1:
            channel = self._new_channel(target, target, is_im=True, members={self.bot_user_id})
        else:
            raise SlackError("channel_not_found")
        if channel["is_archived"]:
            raise SlackError("is_archived")
        if not channel["is_member"]:
            raise SlackError("not_in_channel")
        return channel

    def _open_dm(self, users: list[str]) -> dict:
        key = frozenset(users)
        if key in self._dms:
            return self.channels[self._dms[key]]
        prefix = "D" if len(users) == 1 else "G"
        channel_id = self._new_id(prefix, self.channels)
        name = users[0] if len(users) == 1 else "mpdm-" + "--".join(sorted(users))
        channel = self._new_channel(
            channel_id, name, is_im=len(users) == 1, is_private=True, members={self.bot_user_id, *users}
        )
        self._dms[key] = channel_id
        return channel

    def _known_user(self, user_id: str) -> bool:
        return user_id in self.users or user_id[:1] in ("U", "W")

    def _join(self, channel: dict, user_id: str, *, announce: bool = True) -> None:
        channel["members"].add(user_id)
        if user_id == self.bot_user_id:
            channel["is_member"] = True
        if announce:
            self._system_message(channel, user_id, "channel_join", f"<@{user_id}> has joined the channel")

    def _system_message(self, channel: dict, user_id: str, subtype: str, text: str) -> None:
        if self.system_messages:
            self._store_message(channel["id"], {"user": user_id, "subtype": subtype, "text": text})

    def _store_message(self, channel_id: str, fields: dict, *, ts: str | None = None) -> dict:
        if ts is None:
            ts = self._next_ts()
        else:
            self._last_ts_us = max(self._last_ts_us, round(float(ts) * 1_000_000))
        message = {
            "type": "message",
            "ts": ts,
            "user": None,
            "text": "",
            "blocks": None,
            "thread_ts": None,
            "metadata": None,
            "files": None,
            "reactions": [],
            "team": self.team_id,
            **fields,
        }
        bisect.insort(self.messages.setdefault(channel_id, []), message, key=lambda m: float(m["ts"]))
        return message

    def _find_message(self, channel_id: str, ts: Any) -> dict | None:
        for message in self.messages.get(channel_id, []):
            if message["ts"] == str(ts):
                return message
        return None

    def _message(self, channel_id: str, ts: Any) -> dict:
        message = self._find_message(channel_id, ts)
        if message is None:
            raise SlackError("message_not_found")
        return message

    @staticmethod
    def _is_reply(message: dict) -> bool:
        return bool(message.get("thread_ts")) and message["thread_ts"] != message["ts"]

    def _replies(self, channel_id: str, parent_ts: str) -> list[dict]:
        return [m for m in self.messages.get(channel_id, []) if self._is_reply(m) and m["thread_ts"] == parent_ts]

    def _message_json(self, channel_id: str, message: dict) -> dict:
        out = {k: v for k, v in message.items() if v not in (None, [])}
        if not self._is_reply(message):
            replies = self._replies(channel_id, message["ts"])
            if replies:
                users = sorted({r.get("user") or r.get("bot_id") for r in replies})
                out.update(
                    thread_ts=message["ts"],
                    reply_count=len(replies),
                    reply_users=users,
                    reply_users_count=len(users),
                    latest_reply=replies[-1]["ts"],
                )
        return out

    def _thread_root(self, channel_id: str, thread_ts: str | None) -> str | None:
        """A reply to a reply lands in the parent's thread, as in Slack."""
        if thread_ts is None:
            return None
        message = self._find_message(channel_id, thread_ts)
        return message["thread_ts"] if message is not None and self._is_reply(message) else thread_ts

    @staticmethod
    def _message_content(params: dict) -> tuple[str | None, list | None]:
        text = _text_param(params, "text") or _text_param(params, "markdown_text")
        blocks = parse_blocks(_param(params, "blocks"))
        validate_message(text, blocks, need_content=_param(params, "attachments") is None)
        return text, blocks

    @staticmethod
    def _window(messages: list[dict], params: dict) -> list[dict]:
        oldest = _ts_value(_text_param(params, "oldest"), 0.0, "invalid_ts_oldest")
        latest = _ts_value(_text_param(params, "latest"), float("inf"), "invalid_ts_latest")
        inclusive = _flag(params, "inclusive")

        def inside(message: dict) -> bool:
            ts = float(message["ts"])
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        return [m for m in messages if inside(m)]

    @staticmethod
    def _page(items: list, params: dict) -> tuple[list, dict]:
        limit = _int_param(params, "limit", DEFAULT_PAGE_LIMIT)
        limit = limit if limit > 0 else DEFAULT_PAGE_LIMIT
        cursor = _text_param(params, "cursor")
        offset = 0
        if cursor:
            try:
                offset = int(base64.b64decode(cursor).decode().removeprefix("offset:"))
            except ValueError:
                raise SlackError("invalid_cursor") from None
        page = items[offset : offset + limit]
        has_more = offset + limit < len(items)
        next_cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if has_more else ""
        return page, {"has_more": has_more, "response_metadata": {"next_cursor": next_cursor}}

    def _file_json(self, file: dict) -> dict:
        filename = file["filename"]
        return {
            "id": file["id"],
            "created": file["created"],
            "timestamp": file["created"],
            "name": filename,
            "title": file["title"],
            "mimetype": "application/octet-stream",
            "filetype": filename.rsplit(".", 1)[-1] if "." in filename else "binary",
            "user": self.bot_user_id,
            "size": len(file["content"]),
            "url_private": f"{self.url}/files-pri/{file['id']}/{filename}",
            "permalink": f"{WORKSPACE_URL}files/{self.bot_user_id}/{file['id']}/{filename}",
            "channels": list(file["channels"]),
        }

    # ------------------------------------------------------------ auth & users
    def _auth_test(self, params: dict) -> dict:
        answer = {
            "url": WORKSPACE_URL,
            "team": "Example",
            "team_id": self.team_id,
            "user": self.users[self.bot_user_id]["name"],
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }
        if self.enterprise_id:  # a workspace of an Enterprise Grid org says which org
            answer["enterprise_id"] = self.enterprise_id
        return answer

    def _apps_connections_open(self, params: dict) -> dict:
        if not self.socket_mode_url:
            raise SlackError("socket_mode_not_enabled")
        return {"url": self.socket_mode_url}

    def _users_info(self, params: dict) -> dict:
        user = self.users.get(_text_param(params, "user") or "")
        if user is None:
            raise SlackError("user_not_found")
        offset = datetime.now(ZoneInfo(user["tz"])).utcoffset()
        return {
            "user": {
                "id": user["id"],
                "team_id": self.team_id,
                "name": user["name"],
                "real_name": user["real_name"],
                "deleted": False,
                "tz": user["tz"],
                "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
                "is_bot": user["is_bot"],
                "is_admin": False,
                "profile": {
                    "display_name": user["name"],
                    "real_name": user["real_name"],
                    **({"email": user["email"]} if user.get("email") else {}),
                },
            }
        }

    # ------------------------------------------------------------ conversations
    def _conversations_create(self, params: dict) -> dict:
        name = _text_param(params, "name") or ""
        check_channel_name(name)
        if any(c["name"] == name for c in self.channels.values() if not c["is_im"]):
            raise SlackError("name_taken")
        channel = self._new_channel(
            self._new_id("C", self.channels), name, is_private=_flag(params, "is_private"), members=set()
        )
        self._join(channel, self.bot_user_id)
        return {"channel": self._channel_json(channel)}

    def _conversations_invite(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        if channel["is_im"]:
            raise SlackError("method_not_supported_for_channel_type")
        if channel["is_archived"]:
            raise SlackError("is_archived")
        if not channel["is_member"]:
            raise SlackError("not_in_channel")
        users = _id_list(params, "users")
        if not users:
            raise SlackError("no_user")
        if self.bot_user_id in users:
            raise SlackError("cant_invite_self")
        unknown = [u for u in users if not self._known_user(u)]
        if unknown:
            raise SlackError("user_not_found", f"[ERROR] unknown user {unknown[0]}")
        newcomers = [u for u in dict.fromkeys(users) if u not in channel["members"]]
        if not newcomers:
            raise SlackError("already_in_channel")
        for user in newcomers:
            self._join(channel, user)
        return {"channel": self._channel_json(channel)}

    def _conversations_set_topic(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        if channel["is_archived"]:
            raise SlackError("is_archived")
        if not channel["is_member"]:
            raise SlackError("not_in_channel")
        topic = _text_param(params, "topic") or ""
        if len(topic) > MAX_TOPIC:
            raise SlackError("too_long")
        channel["topic"] = topic
        channel["topic_last_set"] = int(time.time())
        self._system_message(channel, self.bot_user_id, "channel_topic", f"set the channel topic: {topic}")
        return {"channel": self._channel_json(channel)}

    def _conversations_info(self, params: dict) -> dict:
        return {"channel": self._channel_json(self._channel(_param(params, "channel")))}

    def _conversations_open(self, params: dict) -> dict:
        existing = _text_param(params, "channel")
        if existing:
            return {"channel": {"id": self._channel(existing)["id"]}, "no_op": True, "already_open": True}
        users = list(dict.fromkeys(_id_list(params, "users")))
        if not users:
            raise SlackError("users_list_not_supplied")
        if any(not self._known_user(u) for u in users):
            raise SlackError("user_not_found")
        already = frozenset(users) in self._dms
        channel = self._open_dm(users)
        return {"channel": {"id": channel["id"]}, "no_op": already, "already_open": already}

    def _conversations_history(self, params: dict) -> dict:
        channel = self._readable_channel(_param(params, "channel"))
        top_level = [m for m in self.messages[channel["id"]] if not self._is_reply(m)]
        newest_first = list(reversed(self._window(top_level, params)))
        page, meta = self._page(newest_first, params)
        return {"messages": [self._message_json(channel["id"], m) for m in page], "pin_count": 0, **meta}

    def _conversations_replies(self, params: dict) -> dict:
        channel = self._readable_channel(_param(params, "channel"))
        parent = self._find_message(channel["id"], _text_param(params, "ts") or "")
        if parent is not None and self._is_reply(parent):
            parent = self._find_message(channel["id"], parent["thread_ts"])
        if parent is None:
            raise SlackError("thread_not_found")
        thread = [parent, *self._window(self._replies(channel["id"], parent["ts"]), params)]
        page, meta = self._page(thread, params)
        return {"messages": [self._message_json(channel["id"], m) for m in page], **meta}

    def _conversations_archive(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        if channel["is_im"]:
            raise SlackError("method_not_supported_for_channel_type")
        if channel["is_archived"]:
            raise SlackError("already_archived")
        if not channel["is_member"]:
            raise SlackError("not_in_channel")
        channel["is_archived"] = True
        return {}

    def _conversations_unarchive(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        if not channel["is_archived"]:
            raise SlackError("not_archived")
        channel["is_archived"] = False
        return {}

    def _conversations_join(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        if channel["is_private"]:
            raise SlackError("method_not_supported_for_channel_type")
        if channel["is_archived"]:
            raise SlackError("is_archived")
        if not channel["is_member"]:
            self._join(channel, self.bot_user_id)
        return {"channel": self._channel_json(channel)}

    def _conversations_members(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        page, meta = self._page(sorted(channel["members"]), params)
        return {"members": page, "response_metadata": meta["response_metadata"]}

    def _conversations_list(self, params: dict) -> dict:
        types = set(_id_list(params, "types") or ["public_channel"])
        exclude_archived = _flag(params, "exclude_archived")

        def wanted(channel: dict) -> bool:
            if exclude_archived and channel["is_archived"]:
                return False
            if channel["is_im"]:
                return "im" in types
            if channel["is_private"]:
                return "private_channel" in types and channel["is_member"]
            return "public_channel" in types

        listed = [self._channel_json(c) for c in self.channels.values() if wanted(c)]
        page, meta = self._page(listed, params)
        return {"channels": page, "response_metadata": meta["response_metadata"]}

    # ------------------------------------------------------------ chat
    def _chat_post_message(self, params: dict) -> dict:
        channel = self._post_target(_param(params, "channel"))
        text, blocks = self._message_content(params)
        metadata = parse_metadata(params)
        fields = {
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "text": text or "",
            "blocks": blocks,
            "thread_ts": self._thread_root(channel["id"], _text_param(params, "thread_ts")),
            "metadata": metadata,
        }
        message = self._store_message(channel["id"], fields)
        return {"channel": channel["id"], "ts": message["ts"], "message": self._message_json(channel["id"], message)}

    def _chat_post_ephemeral(self, params: dict) -> dict:
        channel = self._post_target(_param(params, "channel"))
        user = _text_param(params, "user")
        if not user or not self._known_user(user):
            raise SlackError("user_not_found")
        text, blocks = self._message_content(params)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel["id"],
                "user": user,
                "ts": ts,
                "text": text or "",
                "blocks": blocks,
                "thread_ts": _text_param(params, "thread_ts"),
            }
        )
        return {"message_ts": ts}

    def _chat_update(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        message = self._message(channel["id"], _param(params, "ts"))
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_update_message")
        if channel["is_archived"]:
            raise SlackError("is_archived")
        text = _text_param(params, "text") or _text_param(params, "markdown_text")
        blocks = parse_blocks(_param(params, "blocks"))
        if text is None and blocks is None:
            raise SlackError("no_text")
        # Like Slack: fields left out keep their old value; "blocks": [] clears blocks.
        new_text = message["text"] if text is None else text
        new_blocks = message["blocks"] if blocks is None else blocks
        validate_message(new_text, new_blocks, need_content=False)
        metadata = parse_metadata(params)
        message.update(text=new_text, blocks=new_blocks or None)
        if metadata is not None:
            message["metadata"] = metadata
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel["id"],
            "ts": message["ts"],
            "text": message["text"],
            "message": self._message_json(channel["id"], message),
        }

    def _chat_delete(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        message = self._message(channel["id"], _param(params, "ts"))
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_delete_message")
        self.messages[channel["id"]].remove(message)
        return {"channel": channel["id"], "ts": message["ts"]}

    def _chat_get_permalink(self, params: dict) -> dict:
        channel = self._channel(_param(params, "channel"))
        message = self._message(channel["id"], _param(params, "message_ts"))
        permalink = f"{WORKSPACE_URL}archives/{channel['id']}/p{message['ts'].replace('.', '')}"
        if self._is_reply(message):
            permalink += f"?thread_ts={message['thread_ts']}&cid={channel['id']}"
        return {"channel": channel["id"], "permalink": permalink}

    # ------------------------------------------------------------ reactions & pins
    def _reaction_target(self, params: dict) -> tuple[dict, str]:
        channel = self._channel(_param(params, "channel"))
        message = self._message(channel["id"], _param(params, "timestamp"))
        name = _text_param(params, "name")
        if not name:
            raise SlackError("invalid_name")
        return message, name

    def _reactions_add(self, params: dict) -> dict:
        message, name = self._reaction_target(params)
        reaction = next((r for r in message["reactions"] if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            message["reactions"].append(reaction)
        if self.bot_user_id in reaction["users"]:
            raise SlackError("already_reacted")
        reaction["users"].append(self.bot_user_id)
        reaction["count"] = len(reaction["users"])
        return {}

    def _reactions_remove(self, params: dict) -> dict:
        message, name = self._reaction_target(params)
        reaction = next((r for r in message["reactions"] if r["name"] == name), None)
        if reaction is None or self.bot_user_id not in reaction["users"]:
            raise SlackError("no_reaction")
        reaction["users"].remove(self.bot_user_id)
        reaction["count"] = len(reaction["users"])
        if not reaction["users"]:
            message["reactions"].remove(reaction)
        return {}

    def _pins_add(self, params: dict) -> dict:
        channel = self._readable_channel(_param(params, "channel"))
        message = self._message(channel["id"], _param(params, "timestamp"))
        if channel["id"] in message.get("pinned_to", []):
            raise SlackError("already_pinned")
        message.setdefault("pinned_to", []).append(channel["id"])
        return {}

    def _bookmarks_add(self, params: dict) -> dict:
        channel = self._readable_channel(_param(params, "channel_id"))
        title, kind = _text_param(params, "title"), _text_param(params, "type")
        if not title or kind != "link" or not _text_param(params, "link"):
            raise SlackError("invalid_arguments", "[ERROR] title, type=link and link are required")
        bookmark = {
            "id": self._new_id("Bk", []),
            "channel_id": channel["id"],
            "title": title,
            "link": _text_param(params, "link"),
            "emoji": _text_param(params, "emoji"),
            "type": "link",
            "date_created": int(time.time()),
        }
        self.bookmarks.setdefault(channel["id"], []).append(bookmark)
        return {"bookmark": bookmark}

    # ------------------------------------------------------------ views
    def _view_payload(self, params: dict, allowed_types: set[str]) -> dict:
        view = _json_param(params, "view", "invalid_arguments")
        validate_view(view, allowed_types)
        return view

    def _check_trigger(self, params: dict) -> None:
        trigger_id = _text_param(params, "trigger_id")
        if not trigger_id:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        if trigger_id in self.expired_triggers:
            raise SlackError("expired_trigger_id")

    def _store_view(self, view: dict, *, view_id: str | None = None, **extra: Any) -> dict:
        view_id = view_id or self._new_id("V", self.views, length=10)
        stored = {
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": view_id,
            "app_id": APP_ID,
            "bot_id": self.bot_id,
            **extra,
        }
        self.views[view_id] = stored
        return {"view": stored}

    def _views_open(self, params: dict) -> dict:
        self._check_trigger(params)
        return self._store_view(self._view_payload(params, {"modal"}))

    def _views_push(self, params: dict) -> dict:
        self._check_trigger(params)
        return self._store_view(self._view_payload(params, {"modal"}))

    def _views_update(self, params: dict) -> dict:
        view_id, external_id = _text_param(params, "view_id"), _text_param(params, "external_id")
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", "[ERROR] view_id or external_id is required")
        current = self.views.get(view_id or "") or next(
            (v for v in self.views.values() if external_id and v.get("external_id") == external_id), None
        )
        if current is None:
            raise SlackError("not_found")
        expected_hash = _text_param(params, "hash")
        if expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        view = self._view_payload(params, {"modal", "home"})
        kept = {k: current[k] for k in ("external_id", "user_id") if k in current and k not in view}
        return self._store_view(view, view_id=current["id"], root_view_id=current["root_view_id"], **kept)

    def _views_publish(self, params: dict) -> dict:
        user_id = _text_param(params, "user_id")
        if not user_id:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: user_id")
        if not self._known_user(user_id):
            raise SlackError("user_not_found")
        view = self._view_payload(params, {"home"})
        existing = next((v for v in self.views.values() if v.get("user_id") == user_id), None)
        return self._store_view(view, view_id=existing["id"] if existing else None, user_id=user_id)

    # ------------------------------------------------------------ files
    def _files_get_upload_url_external(self, params: dict) -> dict:
        filename = _text_param(params, "filename")
        length = _int_param(params, "length", -1)
        if not filename or length < 0:
            raise SlackError("invalid_arguments", "[ERROR] filename and length are required")
        file_id = self._new_id("F", self.files, length=10)
        self.files[file_id] = {
            "id": file_id,
            "filename": filename,
            "title": filename,
            "content": b"",
            "length": length,
            "uploaded": False,
            "channels": [],
            "initial_comment": None,
            "alt_txt": _text_param(params, "alt_txt"),
            "created": int(time.time()),
        }
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, params: dict) -> dict:
        items = _json_param(params, "files", "invalid_arguments")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise SlackError("invalid_arguments", "[ERROR] files must be a non-empty array of {id, title}")
        files = [self.files.get(str(item.get("id"))) for item in items]
        if any(f is None for f in files):
            raise SlackError("file_not_found")
        channel_ids = _id_list(params, "channel_id") or _id_list(params, "channels")
        channels = [self._post_target(cid) for cid in channel_ids]  # all checked before anything changes
        comment = _text_param(params, "initial_comment")
        for item, file in zip(items, files):
            file["title"] = item.get("title") or file["filename"]
            file["initial_comment"] = comment
        for channel in channels:
            for file in files:
                file["channels"].append(channel["id"])
            self._store_message(
                channel["id"],
                {
                    "user": self.bot_user_id,
                    "bot_id": self.bot_id,
                    "text": comment or "",
                    "files": [self._file_json(f) for f in files],
                    "upload": True,
                    "thread_ts": self._thread_root(channel["id"], _text_param(params, "thread_ts")),
                },
            )
        return {"files": [self._file_json(f) for f in files]}

    def _files_info(self, params: dict) -> dict:
        file = self.files.get(_text_param(params, "file") or "")
        if file is None:
            raise SlackError("file_not_found")
        return {"file": self._file_json(file), "comments": [], "response_metadata": {"next_cursor": ""}}

    # ------------------------------------------------------------ canvases
    def _canvas_content(self, params: dict) -> str:
        content = _json_param(params, "document_content", "invalid_arguments")
        if content is None:
            return ""
        if (
            not isinstance(content, dict)
            or content.get("type") != "markdown"
            or not isinstance(content.get("markdown"), str)
        ):
            raise SlackError("invalid_arguments", "[ERROR] document_content must be {type: markdown, markdown}")
        return content["markdown"]

    def _new_canvas(self, params: dict, *, title: str | None, channel_id: str | None) -> dict:
        if not self.canvases_enabled:
            raise SlackError("canvas_disabled_for_team")
        markdown = self._canvas_content(params)
        canvas_id = self._new_id("F", [*self.files, *self.canvases], length=10)
        self.canvases[canvas_id] = {
            "id": canvas_id,
            "title": title,
            "markdown": markdown,
            "channel_id": channel_id,
            "changes": [],
            "created": int(time.time()),
        }
        return {"canvas_id": canvas_id}

    def _canvases_create(self, params: dict) -> dict:
        return self._new_canvas(params, title=_text_param(params, "title"), channel_id=None)

    def _conversations_canvases_create(self, params: dict) -> dict:
        if not self.canvases_enabled:
            raise SlackError("canvas_disabled_for_team")
        channel = self._readable_channel(_param(params, "channel_id"))
        if any(c["channel_id"] == channel["id"] for c in self.canvases.values()):
            raise SlackError("channel_canvas_already_exists")
        return self._new_canvas(params, title=_text_param(params, "title"), channel_id=channel["id"])

    def _canvases_edit(self, params: dict) -> dict:
        if not self.canvases_enabled:
            raise SlackError("canvas_disabled_for_team")
        canvas = self.canvases.get(_text_param(params, "canvas_id") or "")
        if canvas is None:
            raise SlackError("canvas_not_found")
        changes = _json_param(params, "changes", "invalid_arguments")
        if not isinstance(changes, list) or not changes:
            raise SlackError("invalid_arguments", "[ERROR] changes must be a non-empty array")
        for change in changes:
            markdown = ((change or {}).get("document_content") or {}).get("markdown", "")
            operation = (change or {}).get("operation")
            if operation == "replace" and not change.get("section_id"):
                canvas["markdown"] = markdown
            elif operation == "insert_at_end":
                canvas["markdown"] += markdown
            elif operation == "insert_at_start":
                canvas["markdown"] = markdown + canvas["markdown"]
            canvas["changes"].append(change)
        return {}

    # -- people by e-mail and custom profile fields (users:read.email, users.profile:read) -------------
    def _users_lookup_by_email(self, params: dict) -> dict:
        email = (_text_param(params, "email") or "").lower()
        for user in self.users.values():
            if (user.get("email") or "").lower() == email and email:
                return self._users_info({"user": user["id"]})
        raise SlackError("users_not_found")

    def _profile_field_ids(self) -> dict[str, str]:
        labels = sorted({label for user in self.users.values() for label in user.get("fields", {})})
        return {label: f"Xf{index:08d}" for index, label in enumerate(labels, start=1)}

    def _team_profile_get(self, params: dict) -> dict:
        return {
            "profile": {
                "fields": [
                    {"id": fid, "label": label, "type": "text"} for label, fid in self._profile_field_ids().items()
                ]
            }
        }

    def _users_profile_get(self, params: dict) -> dict:
        user = self.users.get(_text_param(params, "user") or "")
        if user is None:
            raise SlackError("user_not_found")
        ids = self._profile_field_ids()
        fields = {ids[label]: {"value": value, "alt": ""} for label, value in user.get("fields", {}).items()}
        return {
            "profile": {
                "display_name": user["name"],
                "real_name": user["real_name"],
                "fields": fields,
                **({"email": user["email"]} if user.get("email") else {}),
            }
        }

    HANDLERS: dict[str, Callable[[SlackStandIn, dict], dict]] = {
        "auth.test": _auth_test,
        "users.lookupByEmail": _users_lookup_by_email,
        "users.profile.get": _users_profile_get,
        "team.profile.get": _team_profile_get,
        "apps.connections.open": _apps_connections_open,
        "users.info": _users_info,
        "conversations.create": _conversations_create,
        "conversations.invite": _conversations_invite,
        "conversations.setTopic": _conversations_set_topic,
        "conversations.info": _conversations_info,
        "conversations.open": _conversations_open,
        "conversations.history": _conversations_history,
        "conversations.replies": _conversations_replies,
        "conversations.archive": _conversations_archive,
        "conversations.unarchive": _conversations_unarchive,
        "conversations.join": _conversations_join,
        "conversations.members": _conversations_members,
        "conversations.list": _conversations_list,
        "conversations.canvases.create": _conversations_canvases_create,
        "chat.postMessage": _chat_post_message,
        "chat.postEphemeral": _chat_post_ephemeral,
        "chat.update": _chat_update,
        "chat.delete": _chat_delete,
        "chat.getPermalink": _chat_get_permalink,
        "reactions.add": _reactions_add,
        "reactions.remove": _reactions_remove,
        "pins.add": _pins_add,
        "bookmarks.add": _bookmarks_add,
        "views.open": _views_open,
        "views.push": _views_push,
        "views.update": _views_update,
        "views.publish": _views_publish,
        "files.getUploadURLExternal": _files_get_upload_url_external,
        "files.completeUploadExternal": _files_complete_upload_external,
        "files.info": _files_info,
        "canvases.create": _canvases_create,
        "canvases.edit": _canvases_edit,
    }
