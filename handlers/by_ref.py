"""Sub-commands that act on something by its id (`edit T12`, `remove F3`, `reopen A7`).

Each area registers what its prefix means here; the sub-commands dispatch on the prefix.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.refs import Ref
from handlers.command_table import CommandRequest
from handlers.replies import Reply

# prefix -> function(request, ref, rest_of_text)
EDITORS: dict[str, Callable[[CommandRequest, Ref, str], Reply]] = {}
# prefix -> function(request, ref)
REMOVERS: dict[str, Callable[[CommandRequest, Ref], Reply]] = {}
REOPENERS: dict[str, Callable[[CommandRequest, Ref], Reply]] = {}
