"""The `incident-bot` command: serve, migrate, nudge, review, tracker."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.settings import Settings, SettingsError


def _settings_or_exit(env: Mapping[str, str] | None = None) -> Settings:
    try:
        return Settings.from_env(env)
    except SettingsError as err:
        print(f"incident-bot: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def _configure_logging(settings: Settings) -> None:
    from bot.serving import prepare_process_logging_only

    prepare_process_logging_only(settings)


def _migrate_or_exit(engine: Any) -> str:
    """Bring the schema up to date; an unreachable database stops us with one line, not a traceback."""
    from sqlalchemy.exc import OperationalError

    from bot.migrate import upgrade_to_head

    where = engine.url.render_as_string(hide_password=True)
    try:
        return upgrade_to_head(engine)
    except OperationalError as err:
        reason = str(err.orig).strip().splitlines()[0]
    except OSError as err:  # e.g. a SQLite file in a directory that does not exist
        reason = f"{err.strerror}: {err.filename}"
    print(f"incident-bot: cannot reach the database at {where}: {reason}", file=sys.stderr)
    raise SystemExit(2)


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.db import Database

    settings = _settings_or_exit()
    _configure_logging(settings)
    db = Database(settings.database_url)
    revision = _migrate_or_exit(db.engine)
    print(f"database is at revision {revision}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bot import serving

    settings = _settings_or_exit()
    serving.prepare_process(settings)  # logging and the metrics directory, before the workers exist
    from bot.db import Database

    database = Database(settings.database_url)
    _migrate_or_exit(database.engine)
    database.dispose()
    return serving.serve(settings, host=args.host, port=args.port or settings.port)


def cmd_nudge(args: argparse.Namespace) -> int:
    """The weekly nudge, now, through the scheduler's own code path (bot.nudges.weekly.run_weekly)."""
    from bot.nudges import weekly as nudges
    from bot.runtime import build_runtime

    settings = _settings_or_exit(args.env)
    _configure_logging(settings)
    runtime = build_runtime(settings, clock=args.clock)
    try:
        report = nudges.run_weekly(runtime, on_schedule=False, force=args.force, dry_run=args.dry_run)
        missed_total = 0 if args.dry_run else nudges.missed_count(runtime)
    finally:
        runtime.db.dispose()
    print(_describe_nudges(report, dry_run=args.dry_run, missed_total=missed_total))
    return 1 if report.failed else 0


def _describe_nudges(report: Any, *, dry_run: bool, missed_total: int) -> str:
    lines = [f"weekly nudge for {report.period} (scheduled {report.due_at:%Y-%m-%d %H:%M} UTC)"]
    if dry_run:
        if not report.planned and not report.not_planned:
            lines.append("nothing to send: no channel has open action items")
        for planned in report.planned:
            lines.append(f"\nwould send to {planned.target} ({planned.kind}): {planned.message.text}")
            lines += [f"  {line}" for line in _block_lines(planned.message.blocks)]
        lines += [f"\n{line}" for line in report.not_planned]
        lines.append("\n(dry run: nothing was sent or recorded; channels found archived would also get DMs)")
        return "\n".join(lines)
    for label, done in (
        ("sent", report.sent),
        ("found already posted", report.recovered),
        ("channel archived or bot removed", report.gone),
        ("failed, retried later", report.failed),
    ):
        if done:
            lines.append(f"{label}: {len(done)} ({', '.join(done)})")
    if not (report.sent or report.recovered):
        lines.append("nothing new to send")
    lines.append(f"already sent this week (or being sent): {report.skipped}")
    if report.waiting_for_dms:
        lines.append("direct messages for archived channels wait until every channel's nudge has an outcome")
    if missed_total:
        lines.append(f"nudges never sent in past weeks: {missed_total} (see the error log)")
    return "\n".join(lines)


def _block_lines(blocks: list[Any]) -> list[str]:
    found: list[str] = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            found += text.get("text", "").split("\n")
        for element in block.get("elements", []) if block.get("type") == "context" else []:
            found.append(element.get("text", ""))
    return found


def cmd_review(args: argparse.Namespace) -> int:
    """The scheduled review's post, now, through its own code path (bot.insights.review_delivery)."""
    from bot.insights import review_describe

    return review_describe.run_from_cli(_settings_or_exit(args.env), args)


def cmd_tracker(args: argparse.Namespace) -> int:
    """`tracker sync`: the reconcile sweep now; `tracker check`: is the tracker usable, and as whom."""
    from bot.runtime import build_runtime
    from bot.trackers import outbox, service, sync

    settings = _settings_or_exit(args.env)
    _configure_logging(settings)
    runtime = build_runtime(settings, clock=args.clock)
    try:
        line = service.describe_check(settings.trackers, runtime.tracker)
        print(line)
        if runtime.tracker is None or "not usable" in line:
            return 1
        if args.action == "sync":
            outbox.run_due(runtime)  # writes waiting for a retry go first, so the sweep reads their result
            report = sync.sweep(runtime)
            print(report.describe())
            return 1 if report.error else 0
        return 0
    finally:
        runtime.shutdown()


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo.script import run_demo

    logging.basicConfig(level="ERROR", format="%(levelname)s %(name)s: %(message)s")
    return run_demo(args.out, interactive=args.interactive)


def main(argv: list[str] | None = None, *, env: Mapping[str, str] | None = None, clock: Any = None) -> int:
    """`env` and `clock` stand in for the process environment and the system clock (tests pass them)."""
    parser = argparse.ArgumentParser(prog="incident-bot", description="Slack incident bot")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (HTTP on PORT, or Socket Mode when SLACK_APP_TOKEN is set)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None, help="overrides PORT")
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="bring the database schema up to date and exit")
    migrate.set_defaults(func=cmd_migrate)
    nudge = sub.add_parser("nudge", help="send this week's action-item nudges now, to every channel not nudged yet")
    nudge.add_argument("--force", action="store_true", help="send again even where this week's nudge was sent")
    nudge.add_argument("--dry-run", action="store_true", help="print what would be sent; send and record nothing")
    nudge.set_defaults(func=cmd_nudge)
    review = sub.add_parser(
        "review", help="post the review of the period just ended to REVIEW_CHANNEL, unless it is out"
    )
    review.add_argument("--force", action="store_true", help="post again even where this period's review is out")
    review.add_argument("--dry-run", action="store_true", help="print the review; post and record nothing")
    review.set_defaults(func=cmd_review)
    tracker = sub.add_parser(
        "tracker", help="tickets: `sync` reads every open item's ticket now; `check` tests the settings"
    )
    tracker.add_argument("action", choices=("sync", "check"))
    tracker.set_defaults(func=cmd_tracker)
    demo = sub.add_parser("demo", help="play a reference incident against a local Slack stand-in (no Slack needed)")
    demo.add_argument("--interactive", action="store_true", help="then type /incident commands yourself")
    demo.add_argument("--out", type=Path, default=None, help="directory for the postmortem draft (default: a temp dir)")
    demo.set_defaults(func=cmd_demo)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.set_defaults(env=env, clock=clock)
    args = parser.parse_args(argv)
    from sqlalchemy.exc import DBAPIError

    try:
        return args.func(args)
    except DBAPIError as err:  # the database stopped answering midway: one line, not a traceback
        if not err.connection_invalidated and "OperationalError" not in type(err).__name__ + type(err.orig).__name__:
            raise
        print(
            f"incident-bot: the database does not answer{_where(args.env)}: {_first_line(err.orig or err)}",
            file=sys.stderr,
        )
        return 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("incident-bot")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _where(env: Mapping[str, str] | None) -> str:
    from sqlalchemy.engine import make_url

    raw = ((os.environ if env is None else env).get("DATABASE_URL") or "sqlite:///incident-bot.db").strip()
    try:
        return " at " + make_url(raw).render_as_string(hide_password=True)
    except Exception:
        return ""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__


if __name__ == "__main__":
    sys.exit(main())
