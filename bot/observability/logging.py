"""Log lines: plain text by default, or one JSON object per line (`LOG_FORMAT=json`).

Each line carries the request it belongs to (team, channel, user, sub-command) from context
variables the request set, and the error id where there is one. Nothing secret leaves: Slack
tokens (`xox…-`, `xapp-`) and the signing secret are blanked, and messages are cut short so a
user's long text never lands in the logs whole.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

MAX_MESSAGE = 300
_HANDLER_NAME = "incident-bot"
MAX_TRACEBACK = 8000
_TOKEN = re.compile(r"(xox[a-z]-|xapp-)[A-Za-z0-9-]+")  # no \\b: reprs glue "\\n" to the token
_FIELDS = ("team", "channel", "user", "subcommand")
_context: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"log_{name}", default=None) for name in _FIELDS
}
# Bolt warns that it ignores SLACK_BOT_TOKEN (read from the environment) because we hand it a
# client and an authorizer: true, intended, and not worth an operator's attention at start-up.
_BOLT_NOISE = (
    "As you gave `client` as well, `token` will be unused",
    "`token` (or SLACK_BOT_TOKEN env variable) will be ignored",
)


def set_request_context(**values: str | None) -> None:
    """Name the request the current thread (and the work it hands on) is serving."""
    for name, value in values.items():
        _context[name].set(value or None)


def request_fields(body: dict[str, Any]) -> dict[str, str | None]:
    """team, channel and user of a Slack request body, whichever surface it came from."""
    raw_event = body.get("event")
    event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
    raw_item = event.get("item")
    item: dict[str, Any] = raw_item if isinstance(raw_item, dict) else {}

    def pick(*values: Any) -> str | None:
        return next((str(v) for v in values if isinstance(v, str) and v), None)

    def nested(key: str) -> Any:
        value = body.get(key)
        return value.get("id") if isinstance(value, dict) else value

    return {
        "team": pick(body.get("team_id"), nested("team")),
        "channel": pick(body.get("channel_id"), nested("channel"), event.get("channel"), item.get("channel")),
        "user": pick(body.get("user_id"), nested("user"), event.get("user")),
    }


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def __call__(self, text: str) -> str:
        text = _TOKEN.sub(lambda m: m.group(1) + "[redacted]", text)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor):
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _cut(self.redact(record.getMessage()), MAX_MESSAGE),
        }
        error_id = getattr(record, "error_id", None)
        if error_id:
            line["error_id"] = error_id
        for name in _FIELDS:
            value = _context[name].get()
            if value:
                line[name] = value
        if record.exc_info:
            line["traceback"] = _cut(self.redact(self.formatException(record.exc_info)), MAX_TRACEBACK)
        return json.dumps(line, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    def __init__(self, redact: Redactor):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class _DropBoltNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in _BOLT_NOISE)


class _DropSdkRetryChatter(logging.Filter):
    """The SDK logs each failed attempt (ERROR) and each retry (INFO) of a call it then retries;
    the gateway reports the outcome once, so below DEBUG the attempts are noise."""

    _CHATTER = ("Failed to send a request to Slack API server", "A retry handler found", "Going to retry the same")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("slack_sdk") and record.getMessage().startswith(self._CHATTER))


@contextlib.contextmanager
def quiet(level: int = logging.CRITICAL) -> Iterator[None]:
    """Hold back our handler's lines below `level` (unless at DEBUG): for a start-up step whose
    outcome is reported as one line of its own."""
    handler = next((h for h in logging.getLogger().handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None or logging.getLogger().level <= logging.DEBUG:
        yield
        return
    previous = handler.level
    handler.setLevel(level)
    try:
        yield
    finally:
        handler.setLevel(previous)


def configure_logging(level: str, log_format: str = "plain", *, secrets: Iterable[str] = ()) -> None:
    """One handler on the root logger, JSON or plain, redacting `secrets` and Slack tokens.
    Where logging was set up already by someone else (a test runner, an embedding app), theirs stays."""
    root = logging.getLogger()
    if any(h.get_name() != _HANDLER_NAME for h in root.handlers):
        return
    redact = Redactor(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else PlainFormatter(redact))
    handler.addFilter(_DropBoltNoise())
    if level != "DEBUG":
        handler.addFilter(_DropSdkRetryChatter())
    handler.set_name(_HANDLER_NAME)
    for old in list(root.handlers):  # ours from an earlier call; handlers others installed stay
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    if level != "DEBUG":
        # Alembic's "Context impl", "Will assume…" and APScheduler's per-tick lines are chatter at INFO.
        for chatty in ("alembic", "apscheduler"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
