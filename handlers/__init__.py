"""Bolt listeners, one module per Slack surface, and the app factory that wires them up.

Listeners parse a request, call a service in `bot/`, and turn the result into a reply.
"""

from __future__ import annotations

from slack_bolt import App

from bot.observability.executors import TrackedExecutor
from bot.observability.instrument import instrument
from bot.runtime import Runtime
from handlers import (
    alert_buttons,
    checklist_buttons,
    detection_buttons,
    events,
    home,
    modals,
    nudge_buttons,
    postmortem_buttons,
    review_buttons,
    shortcuts,
    slash_incident,
    timeline_buttons,
)
from handlers.authorization import BotIdentity
from handlers.intake import IncidentApp
from handlers.intake import install as install_intake

# `home` before `events`: the events module ends with a catch-all that would take app_home_opened.
LISTENER_MODULES = (
    slash_incident,
    timeline_buttons,
    home,
    events,
    nudge_buttons,
    postmortem_buttons,
    checklist_buttons,
    shortcuts,
    modals,
    review_buttons,
    alert_buttons,
    detection_buttons,
)


def create_app(runtime: Runtime) -> App:
    """Build the Bolt app from a runtime; tests build their own the same way."""
    settings = runtime.settings
    identity = BotIdentity(runtime).start()
    app = IncidentApp(  # stores each request that leads to work before it is acknowledged
        runtime,
        identity,
        signing_secret=settings.slack_signing_secret,
        client=runtime.gateway.client,
        # No auth.test at start-up nor before any ack: the bot's ids are learnt in the background.
        authorize=identity.authorizer(),
        # Bolt's default pool of 5 threads starves when listeners wait on slow Web API calls,
        # and a listener waiting for a thread cannot ack: size it for concurrent load.
        listener_executor=TrackedExecutor(settings.listener_threads, "listener"),  # keeps the log context
        logger=runtime.logger.getChild("bolt"),
    )
    instrument(app)  # metrics and log context for every request, in HTTP and Socket Mode
    for module in LISTENER_MODULES:
        module.register(app, runtime)
    install_intake(app, runtime)
    return app
