"""User text with Markdown block syntax stays inside its section of the postmortem, shown as
written, in the Markdown file and in the channel canvas alike (read with a CommonMark parser,
as a Markdown viewer would)."""

from __future__ import annotations

from markdown_it import MarkdownIt

from bot.postmortem.render import markdown_line_safe
from tests.conftest import ANN
from tests.postmortem_steps import at, close_and_wait, run, seed_incident

PASTED = [
    "# systemctl restart checkout",
    "## Action items",
    "| host | state |",
    "|------|-------|",
    "- x",
    "1. y",
    "```",
    "> quoted",
    "---",
]


def parsed(markdown: str) -> tuple[list[str], str, dict[str, str]]:
    """(headings, rendered HTML, the text inside each kind of block) as a CommonMark viewer with
    GitHub tables shows them."""
    parser = MarkdownIt("commonmark").enable("table")
    tokens = parser.parse(markdown)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    inside: dict[str, str] = {}
    open_blocks: list[str] = []
    for token in tokens:
        if token.nesting == 1:
            open_blocks.append(token.type.removesuffix("_open"))
        elif token.nesting == -1:
            open_blocks.pop()
        for kind in {*open_blocks, token.type}:
            inside[kind] = inside.get(kind, "") + token.content
    return headings, parser.render(markdown), inside


def test_block_syntax_in_user_text_stays_text_inside_its_section(bot, db, standin):
    channel = seed_incident(bot)
    pasted = "\n".join(PASTED)
    run(bot, at(14, 44), f"timeline 14:30 ran on the box:\n{pasted}", user=ANN, channel=channel)
    run(bot, at(14, 44), "cause ## Action items", channel=channel)
    # quoted whole by the wording review (a person as a cause), pasted lines and all
    run(
        bot,
        at(14, 44),
        "cause <@U0IVAN|ivan> pushed the config\n## Action items\n# systemctl restart checkout",
        channel=channel,
    )
    run(bot, at(14, 44), "went-well 1. y", channel=channel)
    run(bot, at(14, 44), "action Check | host | state | on the pool <@U0ANN> by Jun 30", channel=channel)
    _, _, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    canvas = next(c["markdown"] for c in standin.canvases.values() if c["channel_id"] == channel)

    for document in (markdown, canvas):
        headings, html, inside = parsed(document)
        assert headings.count("Action items") == 1  # the template's own section, once
        assert not any(word in h for h in headings for word in ("systemctl", "host", "quoted", "```"))
        assert "hr" not in inside  # `---` is not a rule (nor a heading underline)
        for kind in ("table", "fence", "code_block", "html_block"):
            assert not {"host", "quoted", "y", "systemctl"} & set(inside.get(kind, "").split()), kind
        assert "y" not in inside.get("ordered_list", "").split()  # `1. y` is no numbered list
        # the wording review quotes the cause in a quote of its own; the pasted `> quoted` is no quote
        assert "quoted" not in inside.get("blockquote", "")
        assert "pushed the config" in inside.get("blockquote", "")
        # shown as written, inside the timeline's list item
        assert "# systemctl restart checkout" in html
        assert "| host | state |" in html and "1. y" in html and "- x" in html and "```" in html
        timeline_item = html[html.index("ran on the box") :]
        assert timeline_item.index("# systemctl restart checkout") < timeline_item.index("</li>")
    assert parsed(markdown)[0] == parsed(canvas)[0]


def test_ordinary_text_is_left_as_typed():
    for text in ("-5% errors after the deploy", "#incident-checkout asked", "3.5 seconds p99", "a - b"):
        assert markdown_line_safe(text) == text
    assert markdown_line_safe("  # indented") == "  \\# indented"
