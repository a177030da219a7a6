"""Sub-commands for learning across incidents: service, tag, related, review."""

from __future__ import annotations

from bot import incidents
from bot.insights import labels, related, review_delivery
from bot.insights.related_text import blocks_for
from bot.slack.text import mention
from handlers.command_table import CommandRequest, SubCommand
from handlers.replies import Reply, best_effort

GROUP = "Learning across incidents"


def service(request: CommandRequest) -> Reply:
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        if not request.args.strip():
            current = labels.of(session, incident.id).services
            shown = ", ".join(f"`{s}`" for s in current) or "none yet"
            return Reply(text=f"Services: {shown}. Set them with {labels.SERVICE_USAGE}.")
        names = labels.parse_services(request.args)
        labels.set_services(session, incident, names, by=request.user_id, now=runtime.clock.now())
        incident_topic = incidents.topic(incident)
    best_effort(runtime, "updating the topic", runtime.gateway.set_topic, request.channel_id, incident_topic)
    shown = ", ".join(f"`{n}`" for n in names)
    return Reply(text=f":label: {mention(request.user_id)} set the services to {shown}.", in_channel=True)


def tag(request: CommandRequest) -> Reply:
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        if not request.args.strip():
            current = labels.of(session, incident.id).tags
            shown = ", ".join(f"`{t}`" for t in current) or "none yet"
            return Reply(text=f"Tags: {shown}. Add with {labels.TAG_USAGE}.")
        add, remove = labels.parse_tags(request.args)
        now_tagged = labels.change_tags(session, incident, add, remove, by=request.user_id, now=runtime.clock.now())
    shown = ", ".join(f"`{t}`" for t in now_tagged.tags) or "none"
    return Reply(text=f":label: Tags are now {shown}.")


def show_related(request: CommandRequest) -> Reply:
    runtime = request.runtime
    with runtime.db.unit_of_work() as session:
        incident = incidents.get(session, request.required_incident_id)
        found = related.find(session, incident.id)
        title = incident.title
    text, blocks = blocks_for(found, title, runtime.settings.timezone)
    return Reply(text=text, blocks=blocks)


def review(request: CommandRequest) -> Reply:
    runtime = request.runtime
    period = review_delivery.send_to_asker(runtime, request.user_id, request.args, request.channel_id)
    return Reply(
        text=f":bar_chart: The review of {period.label} is in your direct messages from me, with its charts "
        "and CSV, and a button to share it here."
    )


COMMANDS = [
    SubCommand(
        "service",
        service,
        "service <name>[, <name>…]",
        "set the services this incident affects",
        GROUP,
        example="service checkout, payments",
    ),
    SubCommand(
        "tag",
        tag,
        "tag <word>… [-<word>]",
        "tag the incident (a leading - removes a tag)",
        GROUP,
        example="tag db pool",
        aliases=("tags",),
    ),
    SubCommand("related", show_related, "related", "past incidents most like this one, and what is still open", GROUP),
    SubCommand(
        "review",
        review,
        "review [<period>]",
        "incidents, durations, detection, action items and themes of a period, sent to you with charts",
        GROUP,
        example="review 2026-Q3",
        needs_incident=False,
    ),
]
