"""Sub-commands for the labels an incident watches: `watch`, `unwatch`."""

from __future__ import annotations

from bot import incidents
from bot.errors import UserError
from bot.insights import labels
from bot.slack.text import escape, mention, slack_date
from bot.sources import routing
from handlers.command_table import CommandRequest, SubCommand
from handlers.replies import Reply, best_effort

GROUP = "Monitoring"


def watch(request: CommandRequest) -> Reply:
    runtime = request.runtime
    if not request.args.strip():
        return _listing(request)
    matchers = routing.parse_matchers(request.args)
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        added = routing.add_watch(
            session, incident, matchers, by=request.user_id, now=now, lookback=runtime.settings.hooks_lookback
        )
        text = added.watch.text
        named = labels.add_watched_services(session, incident, matchers, by=request.user_id, now=now)
        incident_topic = incidents.topic(incident) if named else None
    if incident_topic:  # the services it now names show in the topic
        best_effort(runtime, "updating the topic", runtime.gateway.set_topic, request.channel_id, incident_topic)
    back = (
        f" {added.backfilled} matching facts from the last {_span(runtime.settings.hooks_lookback)} are now on the timeline."
        if added.backfilled
        else ""
    )
    return Reply(
        text=f":eyes: {mention(request.user_id)} set this incident to watch `{escape(text)}`: alerts, pages and "
        f"deploys with these labels land on the timeline at their own times.{back}",
        in_channel=True,
    )


def _span(delta) -> str:
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    return f"{hours}h" + (f"{rest // 60}m" if rest >= 60 else "") if hours else f"{rest // 60}m"


def _listing(request: CommandRequest) -> Reply:
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        watches = routing.active_watches(session, request.required_incident_id)
        lines = [
            f"{number}. `{escape(w.text)}` — since {slack_date(w.created_at, fallback_zone=runtime.settings.timezone)}"
            f" by {mention(w.created_by)}"
            for number, w in enumerate(watches, start=1)
        ]
    if not lines:
        return Reply(text="This incident watches no labels yet. " + routing.WATCH_FORM)
    return Reply(text="*This incident watches*\n" + "\n".join(lines) + "\nRemove one with `/incident unwatch <n>`.")


def unwatch(request: CommandRequest) -> Reply:
    runtime = request.runtime
    token = request.args.strip()
    if not token.isdigit():
        raise UserError(
            "Say which watch to remove by its number: `/incident unwatch 2` (`/incident watch` lists them)."
        )
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        removed = routing.remove_watch(session, incident, int(token), now=runtime.clock.now())
        text = removed.text
    return Reply(
        text=f":no_bell: {mention(request.user_id)} stopped watching `{escape(text)}`; "
        "facts already on the timeline stay.",
        in_channel=True,
    )


COMMANDS = [
    SubCommand(
        "watch",
        watch,
        "watch [key=value|key=~regex …]",
        "put matching alerts, pages and deploys on the timeline; with nothing, list the watches",
        GROUP,
        example="watch service=checkout",
    ),
    SubCommand("unwatch", unwatch, "unwatch <n>", "stop watching a label set", GROUP, example="unwatch 1"),
]
