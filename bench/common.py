"""What the benchmark scripts share: a migrated database, the real bot against the stand-in, and
latency figures. Run the scripts from the project's root (`python bench/<name>.py`)."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.slack_standin import SlackStandIn  # noqa: E402

from bot.clock import SystemClock  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade_to_head  # noqa: E402
from tests.conftest import bot_settings  # noqa: E402
from tests.harness import BotUnderTest  # noqa: E402


def migrated_database(url: str | None) -> Database:
    """The database at `url`, or a fresh SQLite file; brought to the newest schema."""
    db = Database(url or f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    upgrade_to_head(db.engine)
    return db


def running_bot(db: Database, users: list[str], *, tz: str = "UTC") -> tuple[BotUnderTest, SlackStandIn]:
    """The real app under uvicorn, its Web API pointed at a fresh stand-in that knows `users`."""
    standin = SlackStandIn().start()
    for user in users:
        standin.add_user(user, tz=tz)
    standin.add_channel("C0GENERAL", "general")
    bot = BotUnderTest(standin=standin, clock=SystemClock(), settings=bot_settings(standin, db.url)).start(db)  # type: ignore[arg-type]
    return bot, standin


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_line(label: str, seconds: list[float]) -> str:
    return (
        f"{label} p50={statistics.median(seconds) * 1000:.0f}ms p95={percentile(seconds, 0.95) * 1000:.0f}ms "
        f"max={max(seconds) * 1000:.0f}ms"
    )
