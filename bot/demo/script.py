"""The demo's story: the reference incident (deploy v2.4.1 exhausts the DB pool, 14:02–14:47 UTC)
played through the real bot, and the interactive prompt that follows it on request."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.clock import SettableClock
from bot.demo.workspace import GENERAL, DemoWorkspace

CAROL, ANN, IVAN, OLGA = "U0CAROL", "U0ANN", "U0IVAN", "U0OLGA"
PEOPLE = ((CAROL, "carol", "UTC"), (ANN, "ann", "Europe/Berlin"), (IVAN, "ivan", "UTC"), (OLGA, "olga", "UTC"))
DAY = dt.date(2026, 6, 22)


def at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Step:
    when: dt.datetime
    who: str
    text: str  # `/incident …` without the command, or what is said before a :pushpin:
    pin_by: str | None = None  # set: `who` writes `text` in the channel and `pin_by` pins it


# Declared at 14:06 by carol; entries typed while it runs, some at an explicit clock time, some
# relative ("1m ago"), ann's in her own zone's words ("UTC"); the root cause arrives as a pinned message.
REFERENCE_INCIDENT = (
    Step(at(14, 6), CAROL, "declare Checkout API returns 503 sev2"),
    Step(at(14, 7), CAROL, "timeline 14:02 started: Deploy v2.4.1"),
    Step(at(14, 7), ANN, "timeline 14:05 UTC detected: 503 errors rise, alert fires"),
    Step(at(14, 10), CAROL, "timeline 1m ago acknowledged: On-call acknowledges the incident"),
    Step(at(14, 23), IVAN, "Root cause found: DB connection pool exhausted", pin_by=CAROL),
    Step(at(14, 32), CAROL, "timeline 1m ago mitigated: Rolled back to v2.4.0"),
    Step(
        at(14, 40),
        CAROL,
        "summary Deploy v2.4.1 exhausted the DB connection pool; about 30% of API requests "
        "returned 503 for 45 minutes until the rollback.",
    ),
    Step(at(14, 40), CAROL, "impact ~30% of API requests returned 503"),
    Step(at(14, 40), CAROL, "impact SLO: spent 45 min of error budget out of 43.2"),
    Step(at(14, 41), CAROL, "trigger Deploy of v2.4.1"),
    Step(at(14, 41), CAROL, "cause New code opened a connection per request without returning it to the pool."),
    Step(at(14, 41), CAROL, "cause Load testing did not cover peak traffic."),
    Step(at(14, 42), CAROL, "went-well The alert arrived within 3 minutes."),
    Step(at(14, 42), CAROL, "went-well The rollback took under 5 minutes."),
    Step(at(14, 42), CAROL, "detection The 503-rate alert fired 3 minutes after the deploy."),
    Step(at(14, 43), CAROL, f"action Return connections to the pool <@{IVAN}|ivan> by Jun 25 P1"),
    Step(at(14, 43), CAROL, f"action Add a peak load test <@{OLGA}|olga> by Jun 30 P2"),
    Step(at(14, 43), CAROL, f"action Alert on DB pool saturation <@{IVAN}|ivan> by Jun 27 P1"),
    Step(at(14, 44), CAROL, "timeline"),
    Step(at(14, 48), CAROL, "close 14:47 Metrics normal, incident closed"),
)


class Printer:
    def __init__(self, workspace: DemoWorkspace, out: TextIO):
        self.workspace = workspace
        self.out = out

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def news(self) -> None:
        for seen in self.workspace.news():
            self.say(f"    -> {seen.audience}:")
            for line in seen.lines:
                self.say(f"       | {line}" if line else "       |")


def play_reference_incident(workspace: DemoWorkspace, clock: SettableClock, printer: Printer) -> str:
    """Play every step; returns the incident channel's id."""
    channel = GENERAL
    for step in REFERENCE_INCIDENT:
        clock.set(step.when)
        who = workspace.user_name(step.who)
        where = workspace.channel_name(channel)
        if step.pin_by:
            printer.say(f"\n{step.when:%H:%M} {who} writes in #{where}: {step.text}")
            printer.say(f"      {workspace.user_name(step.pin_by)} reacts with :pushpin:")
            workspace.say_and_pin(step.text, author=step.who, pinner=step.pin_by, channel=channel, at=step.when)
        else:
            printer.say(f"\n{step.when:%H:%M} {who} types in #{where}: /incident {workspace.plain(step.text)}")
            workspace.command(step.text, user=step.who, channel=channel)
        printer.news()
        channel = workspace.incident_channel() or channel
    return channel


def save_drafts(workspace: DemoWorkspace, printer: Printer, out_dir: Path, *, saved: set[str]) -> None:
    """Write each postmortem draft posted since the last call to `out_dir`, and say where."""
    for file in workspace.postmortem_files():
        if file["id"] in saved:
            continue
        saved.add(file["id"])
        target = out_dir / str(file["filename"])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(file["content"]))
        channels = ", ".join(f"#{workspace.channel_name(c)}" for c in file.get("channels", []))
        printer.say(f"\nThe postmortem draft (also posted in {channels}) is in: {target}")


def wait_for_draft(workspace: DemoWorkspace, timeout: float = 20.0) -> bytes:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workspace.settle()
        files = workspace.postmortem_files()
        if files:
            return bytes(files[-1]["content"])
        time.sleep(0.05)
    raise RuntimeError("the postmortem draft did not arrive")


def run_demo(out_dir: Path | None, *, interactive: bool, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    clock = SettableClock(at(14, 6))
    workspace = DemoWorkspace(clock).start()
    printer = Printer(workspace, out)
    for user_id, name, tz in PEOPLE:
        workspace.add_person(user_id, name, tz)
    try:
        printer.say("incident-bot demo: the real bot and server, a local Slack stand-in, a temporary database")
        if interactive:
            printer.say(f"(database: {workspace.settings.database_url}; times are now, in UTC)")
            clock.set(dt.datetime.now(dt.UTC))
            return prompt(workspace, clock, printer, stdin, out_dir or workspace.directory)
        printer.say(
            f"(database: {workspace.settings.database_url}; the clock follows the reference incident "
            f"of {DAY:%d %B %Y}, times in UTC)"
        )
        play_reference_incident(workspace, clock, printer)
        wait_for_draft(workspace)
        printer.news()
        save_drafts(workspace, printer, out_dir or workspace.directory, saved=set())
        return 0
    finally:
        workspace.stop()
        workspace.remove_database(keep_directory=out_dir is None)  # the drafts stay where they were written


PROMPT_HELP = """Type as in Slack (you are carol, in #general until you declare an incident):
  /incident declare Checkout API returns 503 sev2
  /incident timeline 10m ago detected: alert fired
  :pushpin: Root cause: DB pool exhausted      (post this message and pin it)
  as ann /incident timeline now db failover    (someone else types it)
  quit"""


def prompt(workspace: DemoWorkspace, clock: SettableClock, printer: Printer, stdin: TextIO, out_dir: Path) -> int:
    printer.say(PROMPT_HELP)
    channel = GENERAL
    saved: set[str] = set()
    echo = not stdin.isatty()  # typed lines piped in are shown, as a terminal would have shown them
    while True:
        printer.out.write(f"#{workspace.channel_name(channel)}> ")
        printer.out.flush()
        line = stdin.readline()
        if echo:
            printer.say(line.rstrip("\n"))
        if not line or line.strip() in ("quit", "exit", "q"):
            printer.say()
            return 0
        clock.set(dt.datetime.now(dt.UTC))
        user, text = _speaker(line.strip())
        if user is None:
            printer.say(f"I don't know that person; try one of: {', '.join(name for _, name, _ in PEOPLE)}")
            continue
        if text.startswith("/incident"):
            workspace.command(text[len("/incident") :].strip(), user=user, channel=channel)
        elif text.startswith(":pushpin:") and text[len(":pushpin:") :].strip():
            workspace.say_and_pin(
                text[len(":pushpin:") :].strip(), author=user, pinner=user, channel=channel, at=clock.now()
            )
        elif text:
            printer.say(PROMPT_HELP)
            continue
        printer.news()
        if text.startswith(("/incident close", "/incident resolve", "/incident postmortem")):
            _wait_for_new_draft(workspace, saved)
            printer.news()
        save_drafts(workspace, printer, out_dir, saved=saved)
        channel = workspace.incident_channel() or channel


def _wait_for_new_draft(workspace: DemoWorkspace, saved: set[str], timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(f["id"] in saved for f in workspace.postmortem_files()):
        workspace.settle()
        time.sleep(0.05)


def _speaker(line: str) -> tuple[str | None, str]:
    """`as ann /incident …` speaks as ann; anything else as carol."""
    if line.startswith("as "):
        _, name, rest = (line.split(" ", 2) + ["", ""])[:3]
        return next((uid for uid, n, _ in PEOPLE if n == name.strip("@")), None), rest.strip()
    return CAROL, line
