"""Who the bot is, without asking Slack while a request waits.

Bolt's single-workspace authorization calls `auth.test` on the first request, before the
acknowledgement, and again on every request until it succeeds: a slow or failing Slack would
then time requests out. Instead the bot's own ids are fetched in the background at start, and
each request is authorized from memory with the configured token.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from slack_bolt.authorization import AuthorizeResult

from bot.runtime import Runtime
from bot.slack.gateway import SlackFailure


class BotIdentity:
    def __init__(self, runtime: Runtime, *, retry_seconds: float = 5.0):
        self._runtime = runtime
        self._retry_seconds = retry_seconds
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        # The workspace (or, for an org-wide install, the Enterprise Grid org) the bot serves.
        self.team_id: str | None = None
        self.enterprise_id: str | None = None
        self.is_enterprise_install = False
        self.known = threading.Event()
        self._stopping = threading.Event()

    def start(self) -> BotIdentity:
        threading.Thread(target=self._learn, name="bot-identity", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop asking (an app shut down before Slack answered)."""
        self._stopping.set()

    def _learn(self) -> None:
        while not self.known.is_set() and not self._stopping.is_set():
            try:
                data = self._runtime.gateway.call("auth.test")
            except SlackFailure as failure:
                if self._stopping.is_set():
                    return
                self._runtime.logger.warning(
                    "auth.test failed (%s); trying again in %.0fs", failure.code, self._retry_seconds
                )
                self._stopping.wait(self._retry_seconds)
                continue
            self.bot_user_id, self.bot_id = data.get("user_id"), data.get("bot_id")
            self.team_id, self.enterprise_id = data.get("team_id"), data.get("enterprise_id")
            self.is_enterprise_install = bool(data.get("is_enterprise_install"))
            self.known.set()

    def authorizer(self) -> Callable[..., AuthorizeResult]:
        """Bolt's authorize hook (a plain function: Bolt passes arguments by their names)."""

        def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=team_id,
                bot_token=self._runtime.settings.slack_bot_token,
                bot_user_id=self.bot_user_id,
                bot_id=self.bot_id,
            )

        return authorize
