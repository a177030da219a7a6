"""Short, readable steps that tests share: declare an incident and find its channel."""

from __future__ import annotations

from tests.conftest import ANN
from tests.harness import BotUnderTest


def declare(
    bot: BotUnderTest, title: str = "Checkout returns 503 sev2", *, user: str = ANN, channel: str = "C0GENERAL"
) -> str:
    """Declare through /incident and return the new incident channel's id."""
    before = len(bot.standin.calls_to("conversations.create"))
    result = bot.command(f"declare {title}", user=user, channel=channel)
    assert result.http.status_code == 200, result.http.text
    created = bot.standin.calls_to("conversations.create")
    assert len(created) == before + 1, result.text
    for channel_id, info in bot.standin.channels.items():
        if info["name"] == created[-1].params["name"]:
            return channel_id
    raise AssertionError("the created channel is not in the stand-in")
