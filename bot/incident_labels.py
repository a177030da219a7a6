"""`service:<name>` words in a declare's text: cut out of the title, returned as service names."""

from __future__ import annotations

import re

_SERVICE_WORD = re.compile(r"^service:(\S*)$", re.IGNORECASE)


def split_service_tokens(title: str) -> tuple[str, list[str]]:
    """`Checkout 503 service:checkout,payments sev2` -> (`Checkout 503 sev2`, [checkout, payments]).

    Names are lower-cased and kept in the order given, each once; an empty `service:` adds none.
    Checking that a name is well formed is the caller's (bot.insights.labels.check_name)."""
    words, services = [], []
    for word in title.split():
        match = _SERVICE_WORD.match(word)
        if match is None:
            words.append(word)
            continue
        for name in match.group(1).split(","):
            name = name.strip().lower()
            if name and name not in services:
                services.append(name)
    return " ".join(words), services
