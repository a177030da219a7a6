"""Settings read from the environment, validated once at start-up.

A missing or malformed setting raises `SettingsError` whose message is one line
naming the variable, so `incident-bot serve` can stop with exactly that line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SLACK_API_DEFAULT = "https://slack.com/api/"
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")


class SettingsError(Exception):
    """A setting is missing or malformed; str() is one line that names it."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise SettingsError(f"{name} must be between {minimum}{upper}, not {value}")
    return value


def _required(env: Mapping[str, str], name: str, prefix: str | None = None) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        raise SettingsError(f"{name} is not set")
    if prefix and not raw.startswith(prefix):
        raise SettingsError(f"{name} must start with {prefix!r}")
    return raw


def _zone(env: Mapping[str, str], name: str, default: str) -> ZoneInfo:
    raw = (env.get(name) or default).strip()
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{name} must be an IANA time zone such as Europe/Berlin, not {raw!r}") from None


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or default).strip()
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL, not {raw!r}")
    return raw if raw.endswith("/") else raw + "/"


def _reactions(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    raw = env.get(name) or default
    names = tuple(part.strip().strip(":") for part in raw.split(",") if part.strip().strip(":"))
    if not names:
        raise SettingsError(f"{name} must list at least one reaction name, e.g. pushpin,round_pushpin")
    return names


def _due_days(env: Mapping[str, str], name: str, default: str) -> dict[str, int]:
    """`sev1=15,sev2=30,sev3=45,sev4=45` -> {"sev1": 15, ...}."""
    raw = env.get(name) or default
    days: dict[str, int] = {}
    for part in raw.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in SEVERITIES or not value.strip().isdigit():
            raise SettingsError(f"{name} must look like sev1=15,sev2=30,sev3=45,sev4=45, not {raw!r}")
        days[key] = int(value)
    missing = [sev for sev in SEVERITIES if sev not in days]
    if missing:
        raise SettingsError(f"{name} lacks {', '.join(missing)}")
    return days


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str
    slack_signing_secret: str
    slack_app_token: str | None = None
    database_url: str = "sqlite:///incident-bot.db"
    slack_api_url: str = SLACK_API_DEFAULT
    port: int = 3000
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    channel_prefix: str = "inc-"
    create_channel: bool = True
    pin_reactions: tuple[str, ...] = ("pushpin",)
    templates_dir: Path | None = None
    postmortem_template: str = "default"
    action_due_days: dict[str, int] = field(default_factory=lambda: {"sev1": 15, "sev2": 30, "sev3": 45, "sev4": 45})
    nudge_schedule: str = "mon 09:00"
    nudge_channel: str | None = None
    postmortem_reminder_days: int = 3
    listener_threads: int = 32
    log_level: str = "INFO"
    # --- operations (issue 13) ---
    log_format: str = "plain"  # plain | json
    metrics_token: str | None = None  # when set, GET /metrics wants `Authorization: Bearer <it>`
    web_concurrency: int = 1  # worker processes sharing PORT (from_env defaults to the CPUs, at most 4)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        prefix = (env.get("INCIDENT_CHANNEL_PREFIX") or "inc-").strip().lower()
        if not prefix or not all(c.isalnum() or c in "-_" for c in prefix) or len(prefix) > 20:
            raise SettingsError(
                f"INCIDENT_CHANNEL_PREFIX must be up to 20 lowercase letters, digits, '-' or '_', not {prefix!r}"
            )
        templates_dir = (env.get("INCIDENT_TEMPLATES_DIR") or "").strip()
        if templates_dir and not Path(templates_dir).is_dir():
            raise SettingsError(f"INCIDENT_TEMPLATES_DIR is not a directory: {templates_dir!r}")
        postmortem_template = (env.get("POSTMORTEM_TEMPLATE") or "default").strip().lower()
        if not postmortem_template.replace("-", "").replace("_", "").isalnum():
            raise SettingsError(f"POSTMORTEM_TEMPLATE must be a template name such as degradation, not {postmortem_template!r}")
        nudge_channel = (env.get("NUDGE_CHANNEL") or "").strip() or None
        log_level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}")
        app_token = (env.get("SLACK_APP_TOKEN") or "").strip() or None
        if app_token and not app_token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN must start with 'xapp-'")
        database_url = (env.get("DATABASE_URL") or "sqlite:///incident-bot.db").strip()
        if not database_url.startswith(("sqlite", "postgres")):  # postgres:// and postgresql:// alike
            raise SettingsError(f"DATABASE_URL must be a sqlite:/// or postgresql:// URL, not {database_url!r}")
        from bot.schedule_spec import parse_weekly_schedule, ScheduleSpecError

        nudge_schedule = (env.get("NUDGE_SCHEDULE") or "mon 09:00").strip()
        try:
            parse_weekly_schedule(nudge_schedule)
        except ScheduleSpecError as err:
            raise SettingsError(f"NUDGE_SCHEDULE {err}") from None
        return cls(
            slack_bot_token=_required(env, "SLACK_BOT_TOKEN", "xoxb-"),
            # Socket Mode takes Slack's requests over an authenticated WebSocket: nothing to verify
            slack_signing_secret=(env.get("SLACK_SIGNING_SECRET") or "").strip() if app_token
            else _required(env, "SLACK_SIGNING_SECRET"),
            slack_app_token=app_token,
            database_url=database_url,
            slack_api_url=_url(env, "SLACK_API_URL", SLACK_API_DEFAULT),
            port=_int(env, "PORT", 3000, minimum=1, maximum=65535),
            timezone=_zone(env, "INCIDENT_TIMEZONE", "UTC"),
            channel_prefix=prefix,
            create_channel=_bool(env, "INCIDENT_CREATE_CHANNEL", True),
            pin_reactions=_reactions(env, "INCIDENT_PIN_REACTIONS", "pushpin"),
            templates_dir=Path(templates_dir) if templates_dir else None,
            postmortem_template=postmortem_template,
            action_due_days=_due_days(env, "ACTION_DUE_DAYS", "sev1=15,sev2=30,sev3=45,sev4=45"),
            nudge_schedule=nudge_schedule,
            nudge_channel=nudge_channel,
            postmortem_reminder_days=_int(env, "POSTMORTEM_REMINDER_DAYS", 3, minimum=1, maximum=60),
            listener_threads=_int(env, "LISTENER_THREADS", 32, minimum=4, maximum=512),
            log_level=log_level,
            **_operations(env),
        )


class _Operations(TypedDict):
    log_format: str
    metrics_token: str | None
    web_concurrency: int


def _operations(env: Mapping[str, str]) -> _Operations:
    """LOG_FORMAT, METRICS_TOKEN and WEB_CONCURRENCY (issue 13)."""
    log_format = (env.get("LOG_FORMAT") or "plain").strip().lower()
    if log_format not in ("plain", "json"):
        raise SettingsError(f"LOG_FORMAT must be plain or json, not {log_format!r}")
    token = (env.get("METRICS_TOKEN") or "").strip() or None
    if token is not None and len(token) < 16:
        raise SettingsError("METRICS_TOKEN must be at least 16 characters (e.g. `openssl rand -hex 16`)")
    default_workers = max(1, min(os.cpu_count() or 1, 4))
    return {
        "log_format": log_format,
        "metrics_token": token,
        "web_concurrency": _int(env, "WEB_CONCURRENCY", default_workers, minimum=1, maximum=32),
    }
