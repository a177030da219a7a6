"""Settings read from the environment, validated once at start-up.

A missing or malformed setting raises `SettingsError` whose message is one line
naming the variable, so `incident-bot serve` can stop with exactly that line.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict
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


def _share_channel(env: Mapping[str, str], name: str) -> str | None:
    """A channel id (`C0123ABCD`) or name (`#eng-postmortems`) where postmortems are shared; None: not set."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    raw = raw.removeprefix("#")
    is_id = raw[:1] in ("C", "G") and raw[1:].isalnum() and raw.isupper() and 9 <= len(raw) <= 20
    is_name = 0 < len(raw) <= 80 and all(c.islower() or c.isdigit() or c in "-_" for c in raw)
    if not (is_id or is_name):
        raise SettingsError(
            f"{name} must be a channel id such as C0123ABCD or a name such as #eng-postmortems, not {raw!r}"
        )
    return raw


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


def _review(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """REVIEW_SCHEDULE (monthly, quarterly or unset) and the REVIEW_CHANNEL it posts to."""
    schedule = (env.get("REVIEW_SCHEDULE") or "").strip().lower() or None
    if schedule not in (None, "monthly", "quarterly"):
        raise SettingsError(f"REVIEW_SCHEDULE must be monthly or quarterly (or unset: off), not {schedule!r}")
    channel = (env.get("REVIEW_CHANNEL") or "").strip() or None
    if schedule and not channel:
        raise SettingsError(
            "REVIEW_CHANNEL must name the channel (#incidents or C0123ABCD) when REVIEW_SCHEDULE is set"
        )
    return schedule, channel


# --- trackers (issue 10): GitHub Issues or Jira, one at a time -------------------------------
GITHUB_API_DEFAULT = "https://api.github.com/"


@dataclass(frozen=True)
class TrackerSettings:
    """Which tracker action items become tickets in, and how to reach it (`kind` None: no tracker)."""

    kind: str | None = None  # github | jira
    github_token: str | None = None
    github_repo: str | None = None  # owner/name
    github_api_url: str = GITHUB_API_DEFAULT
    jira_url: str | None = None
    jira_user: str | None = None
    jira_api_token: str | None = None
    jira_pat: str | None = None
    jira_project: str | None = None
    jira_issue_type: str = "Task"
    users: dict[str, str] = field(default_factory=dict)  # Slack user id -> tracker login / account id
    auto: bool = False
    sync_minutes: int = 15
    jira_webhook_secret: str | None = None  # (GitHub's secret is one for both hooks: Settings.github_webhook_secret)

    @property
    def jira_cloud(self) -> bool:
        """Cloud speaks REST v3 with basic auth (e-mail + API token); Data Center v2 with a PAT."""
        return self.jira_pat is None


def _tracker_users(env: Mapping[str, str], name: str) -> dict[str, str]:
    """`U0ANN=octo-ann,U0BOB=bob` -> {"U0ANN": "octo-ann", "U0BOB": "bob"}."""
    raw = (env.get(name) or "").strip()
    users: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        slack_id, sep, login = part.partition("=")
        if not sep or slack_id.strip()[:1] not in ("U", "W") or not login.strip():
            raise SettingsError(
                f"{name} must look like U0123ABC=octocat,U0456DEF=hubot (Slack id=tracker user), not {part!r}"
            )
        users[slack_id.strip()] = login.strip()
    return users


def _tracker_settings(env: Mapping[str, str]) -> TrackerSettings:
    def opt(name: str) -> str | None:
        return (env.get(name) or "").strip() or None

    github_ready = bool(opt("GITHUB_TOKEN") and opt("GITHUB_REPO"))
    jira_ready = bool(opt("JIRA_URL") and opt("JIRA_PROJECT") and (opt("JIRA_PAT") or opt("JIRA_API_TOKEN")))
    kind = (opt("TRACKER") or "").lower() or None
    if kind is None:
        kind = "github" if github_ready and not jira_ready else "jira" if jira_ready and not github_ready else None
        if github_ready and jira_ready:
            raise SettingsError("TRACKER must say which tracker to use (github or jira): both are configured")
    elif kind not in ("github", "jira", "none"):
        raise SettingsError(f"TRACKER must be github, jira or none, not {kind!r}")
    if kind == "none":
        kind = None
    repo = opt("GITHUB_REPO")
    if repo and (repo.count("/") != 1 or not all(repo.split("/"))):
        raise SettingsError(f"GITHUB_REPO must be owner/name, not {repo!r}")
    if kind == "github" and not github_ready:
        raise SettingsError("GITHUB_TOKEN is not set" if not opt("GITHUB_TOKEN") else "GITHUB_REPO is not set")
    if kind == "jira":
        for name in ("JIRA_URL", "JIRA_PROJECT"):
            if not opt(name):
                raise SettingsError(f"{name} is not set")
        if not opt("JIRA_PAT") and not (opt("JIRA_USER") and opt("JIRA_API_TOKEN")):
            raise SettingsError("JIRA_API_TOKEN and JIRA_USER (Cloud) or JIRA_PAT (Data Center) is not set")
    return TrackerSettings(
        kind=kind,
        github_token=opt("GITHUB_TOKEN"),
        github_repo=repo,
        github_api_url=_url(env, "GITHUB_API_URL", GITHUB_API_DEFAULT),
        jira_url=_url(env, "JIRA_URL", "https://jira.invalid/") if opt("JIRA_URL") else None,
        jira_user=opt("JIRA_USER"),
        jira_api_token=opt("JIRA_API_TOKEN"),
        jira_pat=opt("JIRA_PAT"),
        jira_project=opt("JIRA_PROJECT"),
        jira_issue_type=opt("JIRA_ISSUE_TYPE") or "Task",
        users=_tracker_users(env, "TRACKER_USERS"),
        auto=_bool(env, "TRACKER_AUTO", kind is not None) and kind is not None,
        sync_minutes=_int(env, "TRACKER_SYNC_MINUTES", 15, minimum=1, maximum=1440),
        jira_webhook_secret=opt("JIRA_WEBHOOK_SECRET"),
    )


# --- end trackers ------------------------------------------------------------------------------


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
    # --- hardening (issue 8): how long one Web API call may take before its answer counts as lost
    slack_timeout_seconds: int = 15
    # --- insights (issue 11) ---
    review_schedule: str | None = None  # monthly | quarterly | None (off)
    review_channel: str | None = None
    trackers: TrackerSettings = field(default_factory=TrackerSettings)
    # --- intake (issue 8) ---
    # How long a stored request stays with the process that stored it without a renewal (renewed
    # every quarter of it); after that another process takes it over and carries it out.
    intake_lease_seconds: int = 60
    # -- the follow-up after an incident (issue 12) --
    share_engineering_channel: str | None = None
    share_stakeholders_channel: str | None = None
    postmortem_review_reminder_days: int = 2
    # --- sources: facts from monitoring (issue 9) ---
    hooks_token: str | None = None
    pagerduty_webhook_secret: str | None = None
    github_webhook_secret: str | None = None
    alerts_channel: str | None = None
    hooks_lookback: dt.timedelta = field(default_factory=lambda: dt.timedelta(hours=6))
    # --- operations (issue 13) ---
    log_format: str = "plain"  # plain | json
    metrics_token: str | None = None  # when set, GET /metrics wants `Authorization: Bearer <it>`
    web_concurrency: int = 1  # worker processes sharing PORT (from_env defaults to the CPUs, at most 4)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
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
            raise SettingsError(
                f"POSTMORTEM_TEMPLATE must be a template name such as degradation, not {postmortem_template!r}"
            )
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
        from bot.schedule_spec import ScheduleSpecError, parse_weekly_schedule

        nudge_schedule = (env.get("NUDGE_SCHEDULE") or "mon 09:00").strip()
        try:
            parse_weekly_schedule(nudge_schedule)
        except ScheduleSpecError as err:
            raise SettingsError(f"NUDGE_SCHEDULE {err}") from None
        review_schedule, review_channel = _review(env)
        return cls(
            slack_bot_token=_required(env, "SLACK_BOT_TOKEN", "xoxb-"),
            # Socket Mode takes Slack's requests over an authenticated WebSocket: nothing to verify
            slack_signing_secret=(env.get("SLACK_SIGNING_SECRET") or "").strip()
            if app_token
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
            # --- hardening (issue 8)
            slack_timeout_seconds=_int(env, "SLACK_TIMEOUT_SECONDS", 15, minimum=1, maximum=120),
            review_schedule=review_schedule,
            review_channel=review_channel,
            trackers=_tracker_settings(env),
            intake_lease_seconds=_int(env, "INTAKE_LEASE_SECONDS", 60, minimum=4, maximum=3600),
            share_engineering_channel=_share_channel(env, "SHARE_ENGINEERING_CHANNEL"),
            share_stakeholders_channel=_share_channel(env, "SHARE_STAKEHOLDERS_CHANNEL"),
            postmortem_review_reminder_days=_int(env, "POSTMORTEM_REVIEW_REMINDER_DAYS", 2, minimum=1, maximum=60),
            **_sources_settings(env),
            **_operations(env, sqlite=database_url.startswith("sqlite")),
        )


# --- sources: facts from monitoring (issue 9) ---
def _secret(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if raw and len(raw) < 16:
        raise SettingsError(
            f"{name} must be at least 16 characters (a long random secret), or unset to refuse the hook"
        )
    return raw or None


def _lookback(env: Mapping[str, str], name: str, default: str) -> dt.timedelta:
    """`6h`, `90m`, `1d 12h`: read by the timeline's own grammar, as a span back from now."""
    from bot.timegrammar import TimeGrammarError, parse_leading_when

    raw = (env.get(name) or default).strip()
    anchor = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    try:
        parsed = parse_leading_when(f"{raw} ago", now=anchor, zone=ZoneInfo("UTC"))
    except TimeGrammarError:
        parsed = None
    if parsed is None or not parsed.given or parsed.rest.strip() or anchor - parsed.occurred_at > dt.timedelta(days=30):
        raise SettingsError(f"{name} must be a span such as 6h, 90m or 1d (at most 30 days), not {raw!r}")
    return anchor - parsed.occurred_at


def _sources_settings(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "hooks_token": _secret(env, "HOOKS_TOKEN"),
        "pagerduty_webhook_secret": _secret(env, "PAGERDUTY_WEBHOOK_SECRET"),
        "github_webhook_secret": _secret(env, "GITHUB_WEBHOOK_SECRET"),
        "alerts_channel": (env.get("ALERTS_CHANNEL") or "").strip().lstrip("#") or None,
        "hooks_lookback": _lookback(env, "HOOKS_LOOKBACK", "6h"),
    }


class _Operations(TypedDict):
    log_format: str
    metrics_token: str | None
    web_concurrency: int


def _operations(env: Mapping[str, str], *, sqlite: bool) -> _Operations:
    """LOG_FORMAT, METRICS_TOKEN and WEB_CONCURRENCY (issue 13)."""
    log_format = (env.get("LOG_FORMAT") or "plain").strip().lower()
    if log_format not in ("plain", "json"):
        raise SettingsError(f"LOG_FORMAT must be plain or json, not {log_format!r}")
    token = (env.get("METRICS_TOKEN") or "").strip() or None
    if token is not None and len(token) < 16:
        raise SettingsError("METRICS_TOKEN must be at least 16 characters (e.g. `openssl rand -hex 16`)")
    # SQLite has one writer: more processes only queue on its file lock, whose busy-polling gave
    # seconds-long acknowledgements under a burst (bench/ack_vs_bolt.py); one process queues fairly.
    default_workers = 1 if sqlite else max(1, min(os.cpu_count() or 1, 4))
    return {
        "log_format": log_format,
        "metrics_token": token,
        "web_concurrency": _int(env, "WEB_CONCURRENCY", default_workers, minimum=1, maximum=32),
    }
