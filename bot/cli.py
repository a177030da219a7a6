"""The `incident-bot` command: serve, migrate."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.settings import Settings, SettingsError


def _settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as err:
        print(f"incident-bot: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.migrate import upgrade_to_head

    settings = _settings_or_exit()
    _configure_logging(settings.log_level)
    db = Database(settings.database_url)
    revision = upgrade_to_head(db.engine)
    print(f"database is at revision {revision}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.migrate import upgrade_to_head
    from bot.runtime import build_runtime
    from bot.server import build_asgi_app
    from handlers import create_app

    settings = _settings_or_exit()
    _configure_logging(settings.log_level)
    runtime = build_runtime(settings)
    upgrade_to_head(runtime.db.engine)
    app = create_app(runtime)
    background = _start_background(runtime)
    try:
        if settings.slack_app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            runtime.logger.info("starting in Socket Mode")
            SocketModeHandler(app, settings.slack_app_token).start()
        else:
            asgi = build_asgi_app(app, runtime.db, threads=settings.listener_threads)
            uvicorn.run(asgi, host=args.host, port=args.port or settings.port, log_level=settings.log_level.lower(),
                        lifespan="off")
    finally:
        for stop in background:
            stop()
        runtime.shutdown()
    return 0


def _start_background(runtime) -> list:  # type: ignore[no-untyped-def]
    """Start the background work (scheduler); returns functions that stop it."""
    from bot.jobs import all_jobs
    from bot.scheduler import start_scheduler

    return [start_scheduler(runtime, all_jobs())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="incident-bot", description="Slack incident bot")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (HTTP on PORT, or Socket Mode when SLACK_APP_TOKEN is set)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None, help="overrides PORT")
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="bring the database schema up to date and exit")
    migrate.set_defaults(func=cmd_migrate)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
