"""`incident-bot review`: run the scheduled review's post now and say what happened, in plain lines."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.settings import Settings


def run_from_cli(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import _block_lines  # the nudge's dry run prints blocks the same way
    from bot.insights import review_delivery
    from bot.runtime import build_runtime

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.review_schedule:
        print(
            "incident-bot: REVIEW_SCHEDULE is not set (monthly or quarterly), so there is no review to post",
            file=sys.stderr,
        )
        return 2
    runtime = build_runtime(settings, clock=args.clock)
    try:
        result = review_delivery.run_scheduled(runtime, force=args.force, dry_run=args.dry_run, on_schedule=False)
    finally:
        runtime.db.dispose()
    period = result.period.label if result.period else "?"
    if result.outcome == "dry_run" and result.report is not None:
        print(f"review of {period} for {settings.review_channel} (dry run: nothing was posted or recorded)")
        print("\n".join(_block_lines(result.report.blocks)))
        print("files: " + ", ".join(f"{f.filename} ({len(f.content)} bytes)" for f in result.report.files))
        return 0
    messages = {
        "sent": f"posted the review of {period} to {settings.review_channel}",
        "recovered": f"the review of {period} was already posted (by a sender that stopped); recorded it",
        "already_sent": f"the review of {period} is already out in {settings.review_channel}; --force posts it again",
        "gone": f"{settings.review_channel} is archived or I was removed from it; nothing posted",
        "failed": f"posting the review of {period} failed; the scheduler tries again",
        "no_channel": f"REVIEW_CHANNEL {settings.review_channel} does not exist or I cannot see it",
    }
    print(messages.get(result.outcome, result.outcome))
    for note in result.notes:
        print(note)
    return 1 if result.outcome in ("failed", "no_channel", "gone") else 0
