"""Slack's text conventions, in one place: unescaping what arrives, escaping what is echoed.

Slash-command text arrives HTML-escaped with Slack's own markup for mentions (`<@U1|ann>`),
channels (`<#C1|ops>`), links and broadcasts (`<!here>`). We store what the user typed
(unescaped, markup kept) and make every echo safe: `& < >` escaped and broadcasts shown as
plain text, so repeating a user's words never pings a crowd.
"""

from __future__ import annotations

import datetime as dt
import html
import re

_MARKUP = re.compile(r"<([^<>]*)>")
_USER = re.compile(r"^@([UW][A-Z0-9]+)(?:\|([^>]*))?$")
_CHANNEL = re.compile(r"^#(C[A-Z0-9]+)(?:\|([^>]*))?$")
_LINK = re.compile(r"^((?:https?|mailto):[^|\s]+)(?:\|(.*))?$")
USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def unescape_incoming(text: str) -> str:
    """Undo Slack's escaping of `& < >` (only those three: Slack escapes nothing else); see `incoming`."""
    return incoming(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def incoming(text: str) -> str:
    """Text from Slack as the bot stores it. NUL characters are dropped: PostgreSQL refuses them in
    text while SQLite keeps them, so without this the same command would work on one database
    and fail on the other (after its channel was made). Nobody types a NUL; pastes carry them."""
    return text.replace("\x00", "")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def user_id_from_mention(token: str) -> str | None:
    match = USER_MENTION.match(token.strip())
    return match.group(1) if match else None


def mention(user_id: str) -> str:
    """A deliberate mention of one person (it notifies them when posted to a channel).

    Messages pinned from other bots (alerts) have a bot id `B…` as author, which Slack cannot
    render as a mention; those are shown as plain text."""
    if user_id[:1] in ("U", "W"):
        return f"<@{user_id}>"
    return f"`{escape(user_id)}` (bot)" if user_id[:1] == "B" else escape(user_id)


def _broadcast_label(inner: str) -> str:
    name, _, label = inner[1:].partition("|")
    if name.startswith("subteam^"):
        return label or "@group"
    return "@" + name.split("^")[0]


def safe_mrkdwn(text: str, *, live_mentions: bool = True) -> str:
    """User text made safe to show in Slack mrkdwn.

    Broadcasts (`<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^…>`) become plain text.
    With live_mentions=False, user mentions also become plain `@name`, for messages to a channel
    that repeat many people's words (postmortem summaries) and must not ping them.
    """
    out: list[str] = []
    position = 0
    for match in _MARKUP.finditer(text):
        out.append(escape(text[position : match.start()]))
        position = match.end()
        inner = match.group(1)
        user = _USER.match(inner)
        if user:
            out.append(match.group(0) if live_mentions else escape("@" + (user.group(2) or user.group(1))))
        elif _CHANNEL.match(inner) or _LINK.match(inner):
            out.append(match.group(0))
        elif inner.startswith("!"):
            out.append(escape(_broadcast_label(inner)))
        else:
            out.append(escape(match.group(0)))
    out.append(escape(text[position:]))
    return "".join(out)


def plain_text(text: str) -> str:
    """User text for a file or a plain_text field: Slack markup turned into readable words."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        user = _USER.match(inner)
        if user:
            return "@" + (user.group(2) or user.group(1))
        channel = _CHANNEL.match(inner)
        if channel:
            return "#" + (channel.group(2) or channel.group(1))
        link = _LINK.match(inner)
        if link:
            return f"{link.group(2)} ({link.group(1)})" if link.group(2) else link.group(1)
        if inner.startswith("!"):
            return _broadcast_label(inner)
        return match.group(0)

    return _MARKUP.sub(replace, text)


def slack_date(
    instant: dt.datetime, fmt: str = "{date_short_pretty} {time}", *, fallback_zone: dt.tzinfo | None = None
) -> str:
    """A time every reader sees in their own zone; the fallback names the zone explicitly."""
    zone = fallback_zone or dt.UTC
    local = instant.astimezone(zone)
    fallback = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "UTC")
    return f"<!date^{int(instant.timestamp())}^{fmt}|{html.escape(fallback, quote=False)}>"
