"""Killed with -9 in the middle of a burst, started again: every acknowledged command is carried out
exactly once and its author is answered. The bot runs as a real process (`incident-bot serve`); started
again on the same host, it sees the dead process is gone and takes its requests over at once."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from bot.models import InboxRequest, InboxState, TimelineEntry
from tests.bot_process import BotProcess
from tests.conftest import ANN
from tests.harness import command_body, reply_text

BURST = 80
KILL_AFTER_ACKS = 30


def entry_counts(db) -> dict[str, int]:
    with db.unit_of_work() as session:
        rows = session.execute(
            select(TimelineEntry.text, func.count())
            .where(TimelineEntry.text.like("crash drill %"))
            .group_by(TimelineEntry.text)
        ).all()
    return {text: n for text, n in rows}


def answers(standin, response_url: str) -> list[str]:
    token = response_url.rsplit("/", 1)[-1]
    return [reply_text(r.payload) for r in standin.responses if r.token == token]


def test_acknowledged_commands_survive_a_kill_9_mid_burst_exactly_once_and_are_answered(db, standin, tmp_path):
    users = [f"U0K{n:03d}" for n in range(BURST)]
    for user in users:
        standin.add_user(user, tz="Europe/Berlin")
    first = BotProcess(standin, db.url, tmp_path / "first.log").start()  # the default 60 s lease
    second: BotProcess | None = None
    try:
        body, response_url = command_body(standin, "declare Crash drill sev2", user=ANN, channel="C0GENERAL")
        assert first.post_command(body).status_code == 200
        [declared] = standin.wait_for_responses(1, timeout=20, where=lambda r: response_url.endswith(r.token))
        channel = re.search(r"<#(C[A-Z0-9]+)>", reply_text(declared.payload)).group(1)

        # Slack is slow to say each author's zone and to take answers: work is in flight at the kill.
        standin.delays.update({"users.info": 0.4, "response_url": 0.3})
        acked: dict[int, str] = {}
        lock = threading.Lock()
        enough = threading.Event()

        def send(n: int) -> None:
            text = f"timeline 1m ago crash drill entry {n:03d}"
            body, url = command_body(standin, text, user=users[n], channel=channel)
            try:
                ok = first.post_command(body).status_code == 200
            except httpx.HTTPError:
                return  # no acknowledgement: Slack would have shown the author an error
            if ok:
                with lock:
                    acked[n] = url
                    if len(acked) >= KILL_AFTER_ACKS:
                        enough.set()

        def killer() -> None:
            enough.wait(timeout=60)
            first.kill()

        kill_thread = threading.Thread(target=killer)
        kill_thread.start()
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(send, range(BURST)))
        kill_thread.join()
        acknowledged = dict(acked)
        done_before_restart = entry_counts(db)
        assert len(acknowledged) >= KILL_AFTER_ACKS
        # the kill did catch acknowledged work unfinished (else this test proves nothing)
        assert len(done_before_restart) < len(acknowledged), (len(done_before_restart), len(acknowledged))

        standin.delays.clear()
        second = BotProcess(standin, db.url, tmp_path / "second.log").start()
        wanted = {f"crash drill entry {n:03d}" for n in acknowledged}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            counts = entry_counts(db)
            unanswered = [n for n, url in acknowledged.items() if not answers(standin, url)]
            if wanted <= set(counts) and not unanswered:
                break
            time.sleep(0.5)
        time.sleep(2)  # a late duplicate would show up now
        counts = entry_counts(db)
        missing = sorted(wanted - set(counts))
        doubled = {text: n for text, n in counts.items() if n > 1}
        assert not missing and not doubled, (missing, doubled, (tmp_path / "second.log").read_text()[-3000:])
        for n, url in acknowledged.items():
            said = answers(standin, url)
            assert any("Added" in text or "Done:" in text for text in said), (n, said)
        with db.unit_of_work() as session:
            open_rows = session.scalar(
                select(func.count()).select_from(InboxRequest).where(InboxRequest.state != InboxState.DONE)
            )
        assert open_rows == 0
    finally:
        first.stop()
        if second is not None:
            second.stop()
