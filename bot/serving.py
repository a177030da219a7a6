"""How `incident-bot serve` lays out its processes.

One process leads: it migrates (the CLI does that first), runs the background sweeps, and
supervises the workers. With WEB_CONCURRENCY above 1 (HTTP mode), uvicorn's own supervisor
starts that many worker processes sharing PORT, each building its app from the environment
(`worker_app`); they answer requests and run no sweeps, so the sweeps run once per host and
the database's claims keep every promise across hosts. uvicorn's supervisor rather than
gunicorn: no second server stack to configure, and the same uvicorn serves one process or many.

In Socket Mode Slack's requests arrive over the WebSocket, and PORT still serves health,
readiness, metrics (and webhooks) from the same process.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.settings import Settings

WORKER_FACTORY = "bot.serving:worker_app"
NO_DELAY_HTTP = "bot.serving:NoDelayHTTP"
_made_here: list[str] = []  # the metrics directory, when serve made it


def prepare_process(settings: Settings) -> None:
    """Logging, and Prometheus' multiprocess directory: both before anything imports prometheus_client
    (it decides at import whether values live in memory or in that directory's files)."""
    prepare_process_logging_only(settings)
    if _worker_count(settings) > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        if "prometheus_client" in sys.modules:
            raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set")
        chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        directory = chosen or tempfile.mkdtemp(prefix="incident-bot-metrics-")
        if not chosen:
            _made_here.append(directory)  # removed when serve ends
        # The client's files from an earlier run would count twice: the directory starts empty.
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # inherited by the workers


def serve(settings: Settings, *, host: str, port: int) -> int:
    import uvicorn

    from bot.jobs import all_jobs
    from bot.runtime import build_runtime
    from bot.scheduler import start_scheduler
    from bot.trackers.service import check_at_start
    from handlers import create_app

    runtime = build_runtime(settings)
    # The leader has a Slack app of its own even when workers answer: the intake take-over job
    # carries out, through it, the requests a dead worker acknowledged but never finished.
    app = create_app(runtime)
    check_at_start(runtime)  # one line saying whether the tracker is usable; never stops the bot
    stop_background = start_scheduler(runtime, all_jobs(settings))
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "log_level": settings.log_level.lower(),
        "http": NO_DELAY_HTTP,
    }
    try:
        if settings.slack_app_token:
            return _serve_socket_mode(runtime, common, app)
        workers = _worker_count(settings)
        if workers > 1:
            runtime.logger.info("serving HTTP on %s:%d with %d worker processes", host, port, workers)
            uvicorn.run(WORKER_FACTORY, factory=True, workers=workers, lifespan="on", **common)
        else:
            uvicorn.run(_asgi(runtime, app=app), lifespan="on", **common)
        return 0
    finally:
        stop_background()
        runtime.shutdown()
        for directory in _made_here:
            shutil.rmtree(directory, ignore_errors=True)


def worker_app() -> Callable[..., Any]:
    """One worker process's ASGI app, built from the environment the leader validated."""
    settings = Settings.from_env()
    prepare_process_logging_only(settings)
    from bot.runtime import build_runtime

    runtime = build_runtime(settings)
    return _asgi(runtime, on_shutdown=[runtime.shutdown, _mark_process_dead])


def prepare_process_logging_only(settings: Settings) -> None:
    from bot.observability.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format, secrets=_secrets(settings))


def _asgi(
    runtime: Any, *, slack_http: bool = True, on_shutdown: list[Callable[[], None]] | None = None, app: Any = None
) -> Callable[..., Any]:
    from bot.server import build_asgi_app
    from handlers import create_app

    app = app or create_app(runtime)
    return build_asgi_app(
        app,
        runtime.db,
        signing_secret=runtime.settings.slack_signing_secret,
        threads=runtime.settings.listener_threads,
        runtime=runtime,
        slack_http=slack_http,
        on_shutdown=on_shutdown,
    )


def _serve_socket_mode(runtime: Any, common: dict[str, Any], app: Any) -> int:
    import uvicorn
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.observability.logging import quiet

    settings = runtime.settings
    handler = SocketModeHandler(app, settings.slack_app_token)
    try:
        with quiet():  # until Slack answers (or not), which the next lines say in one line either way
            handler.connect()
    except SlackApiError as err:
        code = err.response.get("error") if isinstance(err.response.data, dict) else err.response.status_code
        return _stop_saying(f"Slack refused the Socket Mode connection: {code} (check SLACK_APP_TOKEN)")
    except (SlackClientError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        return _stop_saying(f"cannot reach Slack at {settings.slack_api_url} for Socket Mode: {reason}")
    runtime.logger.info("connected in Socket Mode; health, readiness and metrics on port %d", common["port"])
    try:
        uvicorn.run(_asgi(runtime, slack_http=False, app=app), lifespan="on", **common)
    finally:
        handler.close()
    return 0


def _stop_saying(line: str) -> int:
    """End start-up with one line. Threads already running (the bot learning its identity from
    the same unreachable Slack) must not add theirs while the process winds down."""
    logging.disable(logging.ERROR)
    print(f"incident-bot: {line}", file=sys.stderr)
    return 2


def _worker_count(settings: Settings) -> int:
    return 1 if settings.slack_app_token else settings.web_concurrency


def _secrets(settings: Settings) -> list[str]:
    return [
        s
        for s in (
            settings.slack_signing_secret,
            settings.slack_bot_token,
            settings.slack_app_token,
            settings.metrics_token,
        )
        if s
    ]


def _mark_process_dead() -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


def _no_delay_http() -> type:
    """uvicorn's HTTP protocol, with Nagle's algorithm off on every connection.

    With several workers, uvicorn binds the shared socket as `socket(AF_INET)`, whose `proto` is
    0, so asyncio does not switch TCP_NODELAY on for the connections the workers accept. An answer
    written in two parts (headers, then a body such as "Adding to the timeline…") then waits for
    the client's delayed ACK: 40 ms more on every acknowledgement with a visible line."""
    try:
        import httptools  # noqa: F401 — uvicorn's "auto" prefers it when installed
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class NoDelay(Base):
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)

    return NoDelay


NoDelayHTTP = _no_delay_http()
