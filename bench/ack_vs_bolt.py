"""The bot's acknowledgement against a bare Bolt app that only acknowledges, side by side.

Both run the same server stack (uvicorn, the same worker count, our ASGI handler, 32 listener
threads) as separate processes on loopback; the same load hits each: N signed
`/incident timeline …` commands from 32 concurrent senders. For the bot the stand-in (its own
process) takes the replies, and afterwards the database must hold every entry exactly once.
Prints p50/p99 acknowledgement, acknowledgements per second, the bot/bare ratios, how long
until the bot's last entry was stored, and the CPU each server spent per request.

The senders write pre-signed HTTP/1.1 requests on keep-alive sockets (asyncio streams): an
HTTP client library here (httpx) costs ~8 ms of CPU a request, so it saturated a core at ~125
requests/s and the bare app's figure was the client's ceiling, not the app's.

    python bench/ack_vs_bolt.py [--requests 1500] [--concurrency 32] [--workers N] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
from common import migrated_database, percentile
from slack_sdk.signature import SignatureVerifier

SECRET = "bench-signing-secret"
HERE = Path(__file__).resolve().parent
# The stand-in's own process: prints its URL; each line `N` read from stdin mints N response_urls
# (printed one a line); it serves until its stdin closes.
STANDIN = """
import sys
from bot.demo.slack_standin import SlackStandIn
standin = SlackStandIn().start()
standin.add_channel("C0GENERAL", "general")
standin.add_user("U0BENCH", name="bench")
print(standin.url, flush=True)
for line in sys.stdin:
    print("\\n".join(standin.response_url() for _ in range(int(line))), flush=True)
standin.stop()
"""


def bare_app():  # type: ignore[no-untyped-def]
    """A Bolt app whose only listener acknowledges `/incident`: the floor any Bolt app pays."""
    from concurrent.futures import ThreadPoolExecutor

    from slack_bolt import App
    from slack_bolt.authorization import AuthorizeResult

    from bot.db import Database
    from bot.server import build_asgi_app

    app = App(
        signing_secret=SECRET,
        token_verification_enabled=False,
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T0001", bot_user_id="UBOT", bot_id="BBOT", bot_token="xoxb-bare"
        ),
        listener_executor=ThreadPoolExecutor(max_workers=32),
    )

    @app.command("/incident")
    def only_ack(ack):  # type: ignore[no-untyped-def]
        ack()

    database = Database(f"sqlite:///{tempfile.mkdtemp()}/bare.db")  # /readyz only; never touched under load
    return build_asgi_app(app, database, signing_secret=SECRET, threads=32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise SystemExit(f"server stopped: {process.stderr.read()[-2000:]}")
    raise SystemExit("server did not start")


def body(text: str, channel: str, response_url: str, user: str = "U0BENCH") -> tuple[bytes, dict[str, str]]:
    raw = urllib.parse.urlencode(
        {
            "command": "/incident",
            "text": text,
            "user_id": user,
            "channel_id": channel,
            "channel_name": "bench",
            "response_url": response_url,
            "trigger_id": "t",
            "team_id": "T0001",
            "api_app_id": "A0001",
        }
    )
    stamp = str(int(time.time()))
    return raw.encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=raw),
    }


async def load(url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int) -> tuple[list[float], float]:
    """Send every request with `concurrency` senders, each on its own keep-alive connection;
    returns per-request acknowledgement seconds and the wall time."""
    host, port = urllib.parse.urlsplit(url).hostname or "127.0.0.1", urllib.parse.urlsplit(url).port or 80
    wire = [
        b"".join(
            [
                f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(content)}\r\n".encode(),
                *(f"{name}: {value}\r\n".encode() for name, value in headers.items()),
                b"\r\n",
                content,
            ]
        )
        for content, headers in requests
    ]
    wire.reverse()
    latencies: list[float] = []

    async def sender() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while wire:
                request = wire.pop()
                started = time.perf_counter()
                writer.write(request)
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                answer = await reader.readexactly(length) if length else b""
                latencies.append(time.perf_counter() - started)
                if status.split(b" ")[1:2] != [b"200"]:
                    raise SystemExit(f"answered {status.decode().strip()}: {answer[:200]!r}")
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


def cpu_seconds(pid: int) -> float:
    """CPU (user + system) used so far by a process and its children (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0.0
    for entry in entries:
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry == str(pid) or fields[1] == str(pid):  # the server, or one of its worker processes
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def figures(label: str, latencies: list[float], wall: float) -> tuple[float, float]:
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    print(f"{label:<6} p50={p50 * 1000:6.1f}ms  p99={p99 * 1000:6.1f}ms  throughput={len(latencies) / wall:7.1f} req/s")
    return p99, len(latencies) / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=max(1, min(os.cpu_count() or 1, 4)))
    parser.add_argument(
        "--db",
        default=None,
        help="a PostgreSQL server URL to bench on a fresh database of its own there (default: a temporary SQLite file)",
    )
    args = parser.parse_args()

    root = str(HERE.parent)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PROMETHEUS_"))}
    base_env["PYTHONPATH"] = os.pathsep.join([str(HERE), root, base_env.get("PYTHONPATH", "")])

    standin = subprocess.Popen(
        [sys.executable, "-c", STANDIN], env=base_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    standin_url = standin.stdout.readline().strip()  # type: ignore[union-attr]
    fresh = fresh_postgres(args.db) if args.db else None
    db = migrated_database(fresh)

    bare_port, bot_port = free_port(), free_port()
    bare = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "ack_vs_bolt:bare_app",
            "--factory",
            "--workers",
            str(args.workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(bare_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        base_env,
        bare_port,
    )
    bot_env = {
        **base_env,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin_url + "/api/",
        "DATABASE_URL": db.url,
        "WEB_CONCURRENCY": str(args.workers),
        "LOG_LEVEL": "WARNING",
        "PORT": str(bot_port),
        "INCIDENT_CREATE_CHANNEL": "false",
    }
    bot = start([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"], bot_env, bot_port)
    try:
        # declared in #general itself (INCIDENT_CREATE_CHANNEL=false): the timeline entries go there
        def response_urls(count: int) -> list[str]:
            standin.stdin.write(f"{count}\n")  # type: ignore[union-attr]
            standin.stdin.flush()  # type: ignore[union-attr]
            return [standin.stdout.readline().strip() for _ in range(count)]  # type: ignore[union-attr]

        content, headers = body("declare Bench incident sev2", "C0GENERAL", response_urls(1)[0])
        httpx.post(f"http://127.0.0.1:{bot_port}/slack/events", content=content, headers=headers)
        wait_for_entries(db, "Bench incident", 1)

        def batch(prefix: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
            urls = response_urls(count)
            return [body(f"timeline {prefix} {n}", "C0GENERAL", urls[n]) for n in range(count)]

        for url in (f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{bot_port}"):  # warm both up
            asyncio.run(load(url, batch("warm-up", 64), args.concurrency))
        bare_requests, bot_requests = batch("bench entry", args.requests), batch("bench entry", args.requests)
        cpu_before = cpu_seconds(bare.pid)
        bare_latencies, bare_wall = asyncio.run(load(f"http://127.0.0.1:{bare_port}", bare_requests, args.concurrency))
        bare_cpu = cpu_seconds(bare.pid) - cpu_before
        cpu_before, began = cpu_seconds(bot.pid), time.perf_counter()
        bot_latencies, bot_wall = asyncio.run(load(f"http://127.0.0.1:{bot_port}", bot_requests, args.concurrency))
        bot_ack_cpu = cpu_seconds(bot.pid) - cpu_before
        stored, distinct = wait_for_entries(db, "bench entry", args.requests)
        all_stored = time.perf_counter() - began
        time.sleep(1)  # the last answers and settling
        bot_cpu = cpu_seconds(bot.pid) - cpu_before
    finally:
        for process in (bare, bot):
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        standin.stdin.close()  # type: ignore[union-attr]
        standin.wait(timeout=30)
        db.dispose()
        if fresh:
            drop_postgres(fresh)

    print(
        f"{args.requests} × `/incident timeline`, {args.concurrency} concurrent senders, {args.workers} worker "
        f"process(es) each, db={db.engine.dialect.name}, {os.cpu_count()} CPUs"
    )
    bare_p99, bare_rate = figures("bare", bare_latencies, bare_wall)
    bot_p99, bot_rate = figures("bot", bot_latencies, bot_wall)
    print(
        f"ratios: p99 bot/bare = {bot_p99 / bare_p99:.2f} (target <= 1.5)   "
        f"throughput bot/bare = {bot_rate / bare_rate:.2f} (target >= 0.7)"
    )
    print(
        f"bot: every entry stored {all_stored:.1f}s after the first request ({args.requests / all_stored:.1f} "
        f"commands/s carried out); acknowledged in {bot_wall:.1f}s"
    )
    if bare_cpu:
        print(
            f"CPU per request: bare {bare_cpu / args.requests * 1000:.1f} ms; bot {bot_ack_cpu / args.requests * 1000:.1f}"
            f" ms while acknowledging, {bot_cpu / args.requests * 1000:.1f} ms with all its work (stand-in and "
            f"database server not counted)"
        )
    print(
        f"entries stored: {stored} of {args.requests}, distinct {distinct} (each exactly once: "
        f"{stored == distinct == args.requests})"
    )


def fresh_postgres(server_url: str) -> str:
    """A new, empty database on the server at `server_url`; never the one the URL names."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bot.db import normalize_url

    url = make_url(normalize_url(server_url))
    name = f"incident_bot_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres(database_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def wait_for_entries(db, prefix: str, count: int, timeout: float = 300.0) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(stored, distinct) timeline entries whose text starts with `prefix`, once `count` are stored."""
    from sqlalchemy import func, select

    from bot.models import TimelineEntry

    deadline = time.monotonic() + timeout
    while True:
        with db.unit_of_work() as session:
            stored = (
                session.scalar(
                    select(func.count()).select_from(TimelineEntry).where(TimelineEntry.text.like(f"%{prefix}%"))
                )
                or 0
            )
            distinct = (
                session.scalar(
                    select(func.count(func.distinct(TimelineEntry.text))).where(TimelineEntry.text.like(f"%{prefix}%"))
                )
                or 0
            )
        if stored >= count or time.monotonic() > deadline:
            return stored, distinct
        time.sleep(0.2)


if __name__ == "__main__":
    main()
