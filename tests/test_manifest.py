"""manifest.yml is held against the code: listeners, events, shortcuts and scopes match both ways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import handlers
from bot.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "reference" / "slack-manifest.schema.json"

# What each Web API method needs (Slack's method reference). A method missing here fails the test,
# so a new call cannot slip in without its scope being considered.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    # trackers: the owner's e-mail (Jira) and the "GitHub" profile field
    "users.lookupByEmail": {"users:read.email"},
    "users.profile.get": {"users.profile:read"},
    "team.profile.get": {"users.profile:read"},
    "chat.postMessage": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.delete": {"chat:write"},
    "chat.getPermalink": set(),
    "conversations.create": {"channels:manage"},
    # public channels need channels:manage, private incident channels groups:write
    "conversations.invite": {"channels:manage", "groups:write"},
    "conversations.setTopic": {"channels:manage", "groups:write"},
    "conversations.info": {"channels:read", "groups:read"},
    # The nudge's check for an already-posted copy also reads the bot's DMs.
    "conversations.history": {"channels:history", "groups:history", "im:history"},
    "conversations.list": {"channels:read", "groups:read"},
    "conversations.replies": {"channels:history", "groups:history"},
    "conversations.open": {"im:write"},
    "users.info": {"users:read"},
    "reactions.add": {"reactions:write"},
    "reactions.remove": {"reactions:write"},
    "reactions.get": {"reactions:read"},
    "views.open": set(),
    "views.update": set(),
    "views.push": set(),
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
    "files.info": {"files:read"},
    "views.publish": set(),
    "canvases.create": {"canvases:write"},
    "conversations.canvases.create": {"canvases:write"},
    "canvases.edit": {"canvases:write"},
    "bookmarks.add": {"bookmarks:write"},
}
EVENT_SCOPES: dict[str, set[str]] = {
    "reaction_added": {"reactions:read"},
    "reaction_removed": {"reactions:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "member_joined_channel": {"channels:read", "groups:read"},
    "channel_archive": {"channels:read"},
    "group_archive": {"groups:read"},
    "app_home_opened": set(),
}


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


class RecordingApp:
    """Stands in for the Bolt app while listener modules register, and notes what they listen to."""

    def __init__(self) -> None:
        self.commands: set[str] = set()
        self.events: set[str] = set()
        self.shortcuts: set[str] = set()
        self.catch_all_events = False
        self.other: list[tuple[str, Any]] = []

    def _decorator(self, *args: Any, **kwargs: Any):
        return lambda function: function

    def command(self, name: str, *args: Any, **kwargs: Any):
        self.commands.add(name)
        return self._decorator()

    def event(self, event: Any, *args: Any, **kwargs: Any):
        if isinstance(event, re.Pattern):
            self.catch_all_events = True  # acknowledges what the manifest does not subscribe to
        else:
            self.events.add(event["type"] if isinstance(event, dict) else event)
        return self._decorator()

    def message(self, *args: Any, **kwargs: Any):
        self.events.add("message")
        return self._decorator()

    def shortcut(self, constraints: Any, *args: Any, **kwargs: Any):
        self.shortcuts.add(constraints["callback_id"] if isinstance(constraints, dict) else constraints)
        return self._decorator()

    def __getattr__(self, name: str):  # action, view, options …: not in the manifest's lists
        def register(*args: Any, **kwargs: Any):
            self.other.append((name, args))
            return self._decorator()

        return register


@pytest.fixture(scope="module")
def registered() -> RecordingApp:
    app = RecordingApp()
    for module in handlers.LISTENER_MODULES:
        module.register(app, Runtime.__new__(Runtime))  # listeners register without touching the runtime
    return app


def manifest_event_types(events: list[str]) -> set[str]:
    return {event.split(".")[0] for event in events}  # message.channels and message.groups are `message`


def test_every_command_event_and_shortcut_in_the_manifest_has_a_listener_and_back(registered):
    data = manifest()
    commands = {c["command"] for c in data["features"].get("slash_commands", [])}
    events = data["settings"]["event_subscriptions"]["bot_events"]
    shortcuts = {s["callback_id"] for s in data["features"].get("shortcuts", [])}
    assert commands == registered.commands
    assert manifest_event_types(events) == registered.events
    assert shortcuts == registered.shortcuts


def test_slash_commands_escape_mentions_and_interactivity_is_on():
    data = manifest()
    assert all(c["should_escape"] is True for c in data["features"]["slash_commands"])
    assert data["settings"]["interactivity"]["is_enabled"] is True


def _methods_called_by_the_code() -> set[str]:
    source = "\n".join(p.read_text() for folder in ("bot", "handlers") for p in (ROOT / folder).rglob("*.py"))
    # every Web API call goes through the gateway's call, or its create/repeat wrappers
    methods = set(re.findall(r"""\.(?:call|_create|_repeating)\(\s*["']([a-zA-Z.]+)["']""", source))
    return methods


def test_bot_scopes_are_exactly_what_the_code_uses():
    data = manifest()
    used = _methods_called_by_the_code()
    unknown = used - set(METHOD_SCOPES)
    assert not unknown, f"add these Web API methods and their scopes to METHOD_SCOPES: {unknown}"
    needed = {"commands"} | set().union(*(METHOD_SCOPES[m] for m in used))
    events = data["settings"]["event_subscriptions"]["bot_events"]
    needed |= set().union(*(EVENT_SCOPES[e] for e in events)) if events else set()
    assert set(data["oauth_config"]["scopes"]["bot"]) == needed


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"Slack's manifest schema is not at {SCHEMA}")
def test_manifest_satisfies_slacks_own_schema():
    import json

    import jsonschema

    jsonschema.validate(manifest(), json.loads(SCHEMA.read_text()))
