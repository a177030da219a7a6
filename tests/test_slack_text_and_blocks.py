"""Escaping user text for Slack, and building messages inside Block Kit's limits."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.slack import blocks as bk
from bot.slack.text import plain_text, safe_mrkdwn, slack_date, unescape_incoming, user_id_from_mention


@pytest.mark.parametrize(
    "typed, shown",
    [
        ("<!channel> db down", "@channel db down"),
        ("<!here|here> ping", "@here ping"),
        ("<!everyone>", "@everyone"),
        ("<!subteam^S123|@sre-oncall> look", "@sre-oncall look"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("<@U123|ann> fixed it", "<@U123|ann> fixed it"),
        ("see <#C123|ops>", "see <#C123|ops>"),
        ("<https://grafana.example.com/d/1|dashboard>", "<https://grafana.example.com/d/1|dashboard>"),
        ("<script>", "&lt;script&gt;"),
    ],
)
def test_safe_mrkdwn_never_carries_a_live_broadcast(typed, shown):
    assert safe_mrkdwn(typed) == shown


def test_quiet_mentions_name_people_without_pinging_them():
    assert safe_mrkdwn("<@U123|ann> and <@U456>", live_mentions=False) == "@ann and @U456"


def test_plain_text_for_files():
    assert (
        plain_text("<@U1|ann> in <#C1|ops>: <!here> <https://x.io|runbook>")
        == "@ann in #ops: @here runbook (https://x.io)"
    )


def test_unescape_is_exactly_slacks_three_entities():
    assert unescape_incoming("&lt;b&gt; &amp;amp; &quot;") == "<b> &amp; &quot;"
    assert user_id_from_mention("<@U0ANN|ann>") == "U0ANN" and user_id_from_mention("@ann") is None


def test_slack_date_falls_back_to_a_named_zone():
    instant = dt.datetime(2026, 6, 22, 14, 5, tzinfo=dt.UTC)
    text = slack_date(instant, fallback_zone=ZoneInfo("Europe/Berlin"))
    assert text == f"<!date^{int(instant.timestamp())}^{{date_short_pretty}} {{time}}|2026-06-22 16:05 CEST>"


def test_sections_split_long_text_and_pages_fit_a_message():
    lines = [f"line {i} " + "y" * 190 for i in range(600)]
    pages = bk.paginate(lines)
    assert sum(len(p) for p in pages) == 600 and [l for p in pages for l in p] == lines
    for page in pages:
        blocks = bk.sections_for_lines(page)
        assert len(blocks) <= bk.MAX_BLOCKS - 6
        assert all(len(b["text"]["text"]) <= bk.MAX_SECTION_TEXT for b in blocks)
        assert bk.text_size(blocks) <= bk.MAX_BLOCKS_TOTAL_TEXT - 1500
        bk.check_fits(blocks)


def test_header_and_button_limits():
    assert len(bk.header("x" * 500)["text"]["text"]) == bk.MAX_HEADER_TEXT
    assert len(bk.button("b" * 100, "a", "v")["text"]["text"]) == bk.MAX_BUTTON_TEXT
    with pytest.raises(ValueError):
        bk.button("b", "a", "v" * 2001)
    with pytest.raises(ValueError):
        bk.check_fits([bk.divider()] * 51)
