"""What a lost answer costs: posts through the gateway while the stand-in drops every fifth answer
after posting (the connection resets), against posts with every answer arriving. Prints the time
per post and the messages that reached the channel (each exactly once, or the gateway failed).

    python bench/lost_answers.py [--posts 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.slack_standin import SlackStandIn  # noqa: E402

from bot.slack.gateway import SlackGateway, build_web_client  # noqa: E402


def run(posts: int, lose_every: int) -> tuple[list[float], int, int]:
    standin = SlackStandIn().start()
    standin.add_channel("C0BENCH", "bench")
    gateway = SlackGateway(build_web_client("xoxb-bench", standin.base_url))
    seconds = []
    try:
        for i in range(posts):
            if lose_every and i % lose_every == 0:
                standin.fail("chat.postMessage", mode="lost_answer")
            started = time.perf_counter()
            gateway.post_message("C0BENCH", f"post {i}")
            seconds.append(time.perf_counter() - started)
        texts = [m["text"] for m in standin.messages["C0BENCH"]]
        return seconds, len(texts), len(texts) - len(set(texts))
    finally:
        standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args()
    for label, lose_every in (("every answer arrives", 0), ("every 5th answer lost", 5)):
        seconds, messages, doubles = run(args.posts, lose_every)
        lost = [s for i, s in enumerate(seconds) if lose_every and i % lose_every == 0]
        kept = [s for i, s in enumerate(seconds) if not (lose_every and i % lose_every == 0)]
        line = (
            f"{label}: {messages} messages for {args.posts} posts, {doubles} doubled; "
            f"median post {statistics.median(kept) * 1000:.1f} ms"
        )
        if lost:
            line += f"; a post whose answer was lost {statistics.median(lost) * 1000:.0f} ms (pause + history lookup)"
        print(line)


if __name__ == "__main__":
    main()
