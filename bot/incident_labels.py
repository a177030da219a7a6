"""Labels typed into an incident's title: `declare Checkout 503s service:checkout sev2`.

One place reads `service:NAME` tokens, so the watch made at declaration (bot/sources) and the
incident's own services (insights) agree on what was typed.
"""

from __future__ import annotations

import re

from bot.errors import UserError

_SERVICE = re.compile(r"^service:(?P<name>.*)$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$")


def split_service_tokens(title: str) -> tuple[str, list[str]]:
    """The title without its `service:NAME` words, and the names in the order given (once each)."""
    words: list[str] = []
    services: list[str] = []
    for word in title.split():
        match = _SERVICE.match(word)
        if not match:
            words.append(word)
            continue
        name = match["name"]
        if not _NAME.match(name):
            raise UserError(f"`{word}` is not a service name. Write it as `service:checkout` (letters, digits, . _ - / :).")
        if name not in services:
            services.append(name)
    return " ".join(words), services
