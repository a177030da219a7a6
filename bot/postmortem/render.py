"""Rendering the postmortem draft: the context from a snapshot, and Jinja2 templates in a sandbox.

Templates come from the `bot.templates` package (through importlib.resources, so an installed
bot finds them from any directory) and may be overridden or added to by the team's directory
(INCIDENT_TEMPLATES_DIR). Autoescape is off because the output is Markdown, but user text only
ever enters as data: it is a value in the context, never part of a template's source, so
`{{ 7*7 }}` typed into the timeline comes out as typed. A broken team template gives an error
naming its file and line, and the built-in template is used instead.
"""

from __future__ import annotations

import datetime as dt
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PrefixLoader, StrictUndefined, TemplateNotFound
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from bot.insights import draft_context
from bot.models import EntryKind, FactSection, Milestone
from bot.postmortem import detection
from bot.postmortem.metrics import MONITORING_GAP, USERS_FIRST, KeyTimes, human_duration
from bot.postmortem.review import Finding, participant_names
from bot.postmortem.snapshot import DraftSource
from bot.refs import action_ref, entry_ref, fact_ref
from bot.slack.text import plain_text

TEMPLATE_SUFFIX = ".md.j2"
DEFAULT_VARIANT = "default"
PUBLIC_VARIANT = "public"
BUILTIN_VARIANTS = ("default", "security", "data-loss", "degradation", "third-party", "recurring")
RECURRING_VARIANT = "recurring"  # chosen for an incident of no particular type that happened before
# After plain_text, a mention reads "@name"; in public text it becomes "the team".
_AT_NAME = re.compile(r"(?<![\w])@[\w.-]+")


class BuiltinTemplates(BaseLoader):
    """Templates shipped inside the package `bot.templates`, read through importlib.resources."""

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        if "/" in template or "\\" in template or template.startswith("."):
            raise TemplateNotFound(template)
        resource = resources.files("bot.templates").joinpath(template)
        if not resource.is_file():
            raise TemplateNotFound(template)
        return resource.read_text(encoding="utf-8"), f"built-in {template}", lambda: True

    def list_templates(self) -> list[str]:
        return sorted(r.name for r in resources.files("bot.templates").iterdir() if r.name.endswith(".j2"))


def _environment(loader: BaseLoader) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=loader,
        autoescape=False,  # Markdown out; user text is data, never template source
        undefined=StrictUndefined,  # a misspelt name in a team template is an error with a line
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


@lru_cache(maxsize=1)
def builtin_environment() -> SandboxedEnvironment:
    return _environment(BuiltinTemplates())


@lru_cache(maxsize=8)
def team_environment(directory: Path) -> SandboxedEnvironment:
    # A team template may extend or include a built-in one as "builtin/<name>".
    return _environment(
        ChoiceLoader(
            [
                FileSystemLoader(str(directory)),
                PrefixLoader({"builtin": BuiltinTemplates()}),
                BuiltinTemplates(),
            ]
        )
    )


def template_name(variant: str) -> str:
    return f"{variant}{TEMPLATE_SUFFIX}"


def team_variants(directory: Path | None) -> list[str]:
    """Variants the team's directory adds (file names `<name>.md.j2`, not starting with `_`)."""
    if directory is None or not directory.is_dir():
        return []
    return sorted(
        p.name[: -len(TEMPLATE_SUFFIX)] for p in directory.glob(f"*{TEMPLATE_SUFFIX}") if not p.name.startswith("_")
    )


def known_variants(directory: Path | None) -> list[str]:
    return sorted({*BUILTIN_VARIANTS, *team_variants(directory)} - {PUBLIC_VARIANT})


# -- rendering -------------------------------------------------------------------------------
@dataclass
class Rendered:
    markdown: str
    template: str  # the variant actually used
    problems: list[str] = field(default_factory=list)  # broken team templates, with file and line


def _broken(err: BaseException, name: str, directory: Path) -> str:
    if isinstance(err, TemplateSyntaxError):
        file_name = err.filename or err.name or name
        return f"{_shown(file_name, directory)} line {err.lineno}: {err.message}"
    line = None
    file_name = name
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename and (frame.filename.endswith(".j2") or frame.filename.startswith(str(directory))):
            line, file_name = frame.lineno, frame.filename
    where = f" line {line}" if line else ""
    return f"{_shown(file_name, directory)}{where}: {err.__class__.__name__}: {err}"


def _shown(file_name: str, directory: Path) -> str:
    path = Path(file_name)
    return f"`{path.name}` in {directory}" if path.is_absolute() else f"`{file_name}`"


def render(variant: str, context: Mapping[str, Any], templates_dir: Path | None) -> Rendered:
    """Render a variant; a broken team template falls back to the built-in one, with a problem."""
    problems: list[str] = []
    name = template_name(variant)
    if templates_dir is not None and (templates_dir / name).is_file():
        try:
            markdown = team_environment(templates_dir).get_template(name).render(**context)
            return Rendered(_tidy(markdown), variant, problems)
        except Exception as err:  # noqa: BLE001 - any failure of a team template means: use ours
            problems.append(f"The team template {_broken(err, name, templates_dir)}")
    builtin = builtin_environment()
    if variant not in (*BUILTIN_VARIANTS, PUBLIC_VARIANT):
        if not problems:
            problems.append(f"There is no template for type `{variant}`")
        variant, name = DEFAULT_VARIANT, template_name(DEFAULT_VARIANT)
    if problems:
        problems[-1] += f"; the built-in `{variant}` template was used instead."
        context = {**context, "notes": [*context.get("notes", []), *problems]}
    return Rendered(_tidy(builtin.get_template(name).render(**context)), variant, problems)


def _tidy(markdown: str) -> str:
    """One blank line between blocks, whatever the template's own spacing."""
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"


# -- the context -----------------------------------------------------------------------------
_BARE_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


def with_names(text: str, names: Mapping[str, str]) -> str:
    """Give bare mentions (`<@U123>`, as the bot writes them) the person's name as their label."""
    return _BARE_MENTION.sub(
        lambda m: f"<@{m.group(1)}|{names[m.group(1)]}>" if m.group(1) in names else m.group(0), text
    )


# What makes a line a Markdown block rather than text, after its indentation: a heading, a quote,
# a list item, a fence, a setext underline or a thematic break, an HTML block.
_BLOCK_START = re.compile(
    r"^(?P<indent>[ \t]*)(?:"
    r"(?P<mark>#{1,6}|[-+*]|>)(?=[ \t]|$)"  # heading, bullet, quote (a quote needs no space)
    r"|(?P<quote>>)"
    r"|(?P<number>\d{1,9})(?P<dot>[.)])(?=[ \t]|$)"  # ordered list item
    r"|(?P<fence>`{3,}|~{3,})"
    r"|(?P<rule>(?:[-=_*][ \t]*){2,}$)"  # setext underline or thematic break
    r"|(?P<html><[A-Za-z/!?])"
    r")"
)


def markdown_line_safe(text: str) -> str:
    """User text that stays text inside the section it was written for: whatever starts a line
    (a pasted `# systemctl restart`, `## Action items`, `- x`, `1. y`, a ``` fence) is escaped
    with a backslash, and every `|` too, so no line becomes a heading, a list, a quote, code or a
    table row. CommonMark shows an escaped character as the character itself."""
    lines = []
    for line in text.replace("|", "\\|").split("\n"):
        match = _BLOCK_START.match(line)
        if match:
            at = match.start("dot") if match.group("dot") else match.end("indent")
            line = line[:at] + "\\" + line[at:]
        lines.append(line)
    return "\n".join(lines)


def _review_entry(finding: Finding) -> dict[str, str]:
    """A wording-review note for the template: the quoted user text (and a rewrite of it) stays
    inside its quote and list item however many lines it has."""
    entry = finding.as_dict()

    def kept_inside(text: str, continuation: str) -> str:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        return markdown_line_safe(lines).replace("\n", "\n" + continuation)

    entry["quote"] = kept_inside(entry["quote"], "   > ")
    entry["suggestion"] = kept_inside(entry["suggestion"], "     ")
    return entry


def user_text(text: str, names: Mapping[str, str] | None = None) -> str:
    """User text as the Markdown file shows it: Slack markup as words; block syntax escaped
    (`markdown_line_safe`); continuation lines indented so a multi-line entry stays inside its
    list item."""
    readable = plain_text(with_names(text, names) if names else text)
    lines = readable.replace("\r\n", "\n").replace("\r", "\n").strip()
    return markdown_line_safe(lines).replace("\n", "\n  ")


PUBLIC_STAND_IN = "the team"


@dataclass
class NameBlanker:
    """Takes people out of text for readers outside the company: mentions and the participants'
    names as typed (the review's matcher) become "the team". Counts what it replaced, so the
    person who asked is told to check the wording."""

    names: Mapping[str, str] = field(default_factory=dict)  # user id -> display name
    replaced: int = 0

    def __post_init__(self) -> None:
        self._typed = participant_names(self.names)

    def __call__(self, text: str) -> str:
        for pattern in (self._typed, _AT_NAME):
            if pattern is not None:
                text, count = pattern.subn(PUBLIC_STAND_IN, text)
                self.replaced += count
        return text


def public_text(text: str, blank: NameBlanker | None = None) -> str:
    """User text for readers outside the company: people's names removed."""
    blank = blank or NameBlanker()
    return blank(user_text(text, blank.names))


def _day_label(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _short_date(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


@dataclass(frozen=True)
class ContextInputs:
    """Everything beside the snapshot that the context needs; plain values only."""

    zone: ZoneInfo
    names: Mapping[str, str]  # user id -> display name
    findings: list[Finding]
    due_days: Mapping[str, int]
    review_days: int
    now: dt.datetime
    notes: list[str] = field(default_factory=list)
    # What other incidents teach (bot/insights/draft_context.py): related, recurring, summary draft.
    insights: Mapping[str, Any] = field(default_factory=dict)


def build_context(source: DraftSource, inputs: ContextInputs) -> dict[str, Any]:
    zone = inputs.zone
    names = inputs.names

    def name(user_id: str | None) -> str | None:
        return f"@{names.get(user_id, user_id)}" if user_id else None

    def at(instant: dt.datetime | None) -> str | None:
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M") if instant else None

    incident = source.incident
    times = source.key_times
    pm = source.postmortem
    start_day = (times.impact_start or incident.created_at).astimezone(zone).date()
    facts = {
        section.value: [{"ref": fact_ref(f.id), "text": user_text(f.text, names)} for f in source.facts_in(section)]
        for section in FactSection
    }
    summary_facts = facts.pop(FactSection.SUMMARY.value)
    days: list[dict[str, Any]] = []
    for entry in source.entries:
        local = entry.occurred_at.astimezone(zone)
        if not days or days[-1]["date"] != local.date():
            days.append({"date": local.date(), "label": _day_label(local.date()), "entries": []})
        days[-1]["entries"].append(
            {
                "time": local.strftime("%H:%M"),
                "ref": entry_ref(entry.id),
                "text": user_text(entry.text, names),
                "milestone": entry.milestone.value if entry.milestone else None,
                "system": entry.kind == EntryKind.SYSTEM,
                "status_update": entry.kind == EntryKind.STATUS_UPDATE,
                # A fact from monitoring links back to its alert, page or deployment.
                "link": entry.permalink if entry.from_monitoring else None,
                "origin": entry.origin,
            }
        )
    reference = (times.resolved or incident.closed_at or inputs.now).astimezone(zone).date()
    review_by = reference + dt.timedelta(days=inputs.review_days)
    roles = [
        {"role": role, "name": name(user)}
        for role, user in (
            ("Commander", incident.commander_id),
            ("Comms", incident.comms_id),
            ("Scribe", incident.scribe_id),
        )
        if user
    ]
    contributors = sorted({shown for shown in map(name, source.authors) if shown is not None})
    status = "Approved" if pm.status == "final" else "Draft"
    return {
        "incident": {
            "id": incident.id,
            "ref": f"#{incident.id}",
            "title": plain_text(incident.title),
            "severity": incident.severity.upper(),
            "type": incident.incident_type,
            "status": incident.status,
            "channel": f"#{incident.channel_name}" if incident.channel_name else incident.channel_id,
            "declared_by": name(incident.declared_by),
            "declared_at": at(incident.created_at),
            "closed_at": at(incident.closed_at),
            "closed_by": name(incident.closed_by),
        },
        "postmortem": {
            "status": status,
            "is_final": pm.status == "final",
            "finalized_by": name(pm.finalized_by),
            "finalized_at": at(pm.finalized_at),
            "rendered_at": at(inputs.now),
            **_followup_context(source, name, at, zone),
        },
        "zone": zone.key,
        "date": start_day.isoformat(),
        "date_label": _day_label(start_day),
        "roles": roles,
        "contributors": contributors,
        "summary": summary_facts[-1]["text"] if summary_facts else None,  # the last one wins
        "summary_ref": summary_facts[-1]["ref"] if summary_facts else None,
        "facts": facts,
        "key_times": _with_origins(_key_times(times, at), source),
        "duration": human_duration(times.duration) if times.duration is not None else None,
        "window": _window(times, zone),
        "detection_notes": [*detection.analyse(source).lines(at), *_detection_notes(times)],
        "timeline": {"days": days, "spans_days": len(days) > 1, "count": len(source.entries)},
        "action_items": [
            {
                "ref": action_ref(a.id),
                "text": user_text(a.text, names),
                "owner": name(a.owner_id),
                "due": _short_date(a.due_date) if a.due_date else None,
                "priority": a.priority,
                "type": a.action_type,
                "status": a.status,
                "done": a.status == "done",
                "dropped": a.status == "dropped",
                "link": a.link_url,
                # tracker text: passed as a value, so the sandbox shows it and never runs it
                "ticket": (f"#{a.ticket_key}" if a.ticket_key.isdigit() else a.ticket_key) if a.ticket_key else None,
                "ticket_state": a.ticket_state,
            }
            for a in source.action_items
        ],
        "open_action_count": sum(1 for a in source.action_items if a.status == "open"),
        "due_policy_days": inputs.due_days.get(incident.severity),
        "review": [_review_entry(f) for f in inputs.findings],
        "review_by": _day_label(review_by),
        "review_days": inputs.review_days,
        "notes": list(inputs.notes),
        **draft_context.empty(),
        **inputs.insights,
    }


def _followup_context(
    source: DraftSource,
    name: Callable[[str | None], str | None],
    at: Callable[[dt.datetime | None], str | None],
    zone: ZoneInfo,
) -> dict[str, Any]:
    """Owner, status history, meeting, sharing and checklist (issue 12), as `postmortem.*`."""
    follow = source.followup
    if follow is None:
        return {"owner": None, "history": [], "reviewers": [], "meeting": None, "shares": [], "checklist": []}
    meeting = None
    if follow.meeting_at:
        after = follow.meeting_at - follow.resolved_at if follow.resolved_at else None
        meeting = {
            "at": at(follow.meeting_at),
            "after_resolution": human_duration(after) if after is not None else None,
            "late": bool(after and after > dt.timedelta(hours=48)),
            "invitees": [name(user) for user in follow.invitees],
            "observers": [name(user) for user in follow.observers],
        }
    return {
        "status": follow.label,
        "owner": name(follow.owner),
        "history": [{"status": c.label, "by": name(c.by), "at": at(c.at), "reason": c.reason} for c in follow.history],
        "reviewers": [name(user) for user in follow.reviewers],
        "meeting": meeting,
        "shares": [
            {
                "audience": s.audience,
                "deadline": at(s.deadline),
                "shared_at": at(s.shared_at),
                "by": name(s.shared_by),
                "late": s.late,
                "state": _share_state(s, name, at, zone),
            }
            for s in follow.shares
        ],
        "checklist": [
            {
                "label": t.label,
                "checked": t.checked,
                "by": name(t.by),
                "at": at(t.at),
                "line": t.label
                + (
                    f" — {'ticked' if t.checked else 'unticked'} by {name(t.by)}, {at(t.at)} {zone.key}" if t.by else ""
                ),
            }
            for t in follow.checklist
        ],
    }


def _share_state(
    share: Any, name: Callable[[str | None], str | None], at: Callable[[dt.datetime | None], str | None], zone: ZoneInfo
) -> str:
    if share.shared_at:
        late = f" (after the deadline, {at(share.deadline)})" if share.late else ""
        return f"{at(share.shared_at)} {zone.key} by {name(share.shared_by)}{late}"
    if share.deadline:
        return f"not yet — due by {at(share.deadline)} {zone.key} (`/incident postmortem share {share.audience}`)"
    return "not yet"


_KEY_ROWS = (
    ("Detected", "detected", "time_to_detect", "to detect (from impact start)"),
    ("Acknowledged", "acknowledged", "time_to_acknowledge", "to acknowledge (from detection)"),
    ("Mitigated", "mitigated", "time_to_mitigate", "to mitigate (from impact start)"),
    ("Resolved", "resolved", "time_to_resolve", "to resolve (from impact start)"),
)


def _key_times(times: KeyTimes, at: Callable[[dt.datetime | None], str | None]) -> dict[str, Any]:
    rows = [
        {
            "label": "Impact start",
            "at": at(times.impact_start) or "not recorded",
            "duration": None,
            "measure": "the `started` milestone" if times.start_from_milestone else "the earliest timeline entry",
            "recorded": times.impact_start is not None,
        }
    ]
    for label, attribute, measure_attribute, measure in _KEY_ROWS:
        instant = getattr(times, attribute)
        rows.append(
            {
                "label": label,
                "at": at(instant) or "not recorded",
                "duration": human_duration(getattr(times, measure_attribute)),
                "measure": measure,
                "recorded": instant is not None,
            }
        )
    return {
        "rows": rows,
        "start_from_milestone": times.start_from_milestone,
        "duration": human_duration(times.duration),
        "time_to_detect": human_duration(times.time_to_detect),
        "time_to_acknowledge": human_duration(times.time_to_acknowledge),
        "time_to_mitigate": human_duration(times.time_to_mitigate),
        "time_to_resolve": human_duration(times.time_to_resolve),
        "missing": [m.value for m in times.missing if m != Milestone.STARTED],
        "out_of_order": [
            f"{p.later} ({at(p.later_at)}) is before {p.earlier} ({at(p.earlier_at)})" for p in times.out_of_order()
        ],
    }


_ROW_MILESTONES = {
    "Impact start": Milestone.STARTED,
    "Detected": Milestone.DETECTED,
    "Acknowledged": Milestone.ACKNOWLEDGED,
    "Mitigated": Milestone.MITIGATED,
    "Resolved": Milestone.RESOLVED,
}


def _with_origins(key_times: dict[str, Any], source: DraftSource) -> dict[str, Any]:
    """Each key time says where it came from: monitoring (which tool) or the timeline."""
    for row in key_times["rows"]:
        origin = detection.key_time_origin(source, _ROW_MILESTONES[row["label"]])
        if origin is None and row["label"] == "Impact start" and row["recorded"]:
            origin = "the earliest timeline entry"
        row["origin"] = origin or "—"
    return key_times


def _window(times: KeyTimes, zone: ZoneInfo) -> str | None:
    if times.impact_start is None or times.resolved is None:
        return None
    start, end = times.impact_start.astimezone(zone), times.resolved.astimezone(zone)
    if start.date() == end.date():
        return f"{start:%H:%M}–{end:%H:%M} {zone.key}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} {zone.key}"


def _detection_notes(times: KeyTimes) -> list[str]:
    notes = []
    detect = times.time_to_detect
    if times.monitoring_gap:
        notes.append(
            f"Detection took {human_duration(detect)}, more than {human_duration(MONITORING_GAP)} for a "
            f"{times.severity.upper()} incident: a monitoring gap. Which signal would have caught it sooner?"
        )
    if times.users_found_first:
        notes.append(
            f"Detection took {human_duration(detect)}, more than {human_duration(USERS_FIRST)}: did users find it "
            "before our monitoring did? If so, that gap deserves an action item."
        )
    return notes


def build_public_context(
    source: DraftSource, inputs: ContextInputs, blank: NameBlanker | None = None
) -> dict[str, Any]:
    """The customer-facing summary's context: no people, no timeline detail, no review.

    A public template (even a team's) cannot show internal names: it is never given them, and
    the names of the people in `inputs.names` are blanked out of every text it gets.
    """
    blank = blank or NameBlanker(inputs.names)
    zone = inputs.zone
    times = source.key_times
    start_day = (times.impact_start or source.incident.created_at).astimezone(zone).date()

    def texts(section: FactSection) -> list[str]:
        return [public_text(f.text, blank) for f in source.facts_in(section)]

    summaries = texts(FactSection.SUMMARY)
    return {
        "incident": {
            "title": public_text(source.incident.title, blank),
            "severity": source.incident.severity.upper(),
            "status": source.incident.status,
        },
        "zone": zone.key,
        "date": start_day.isoformat(),
        "date_label": _day_label(start_day),
        "summary": summaries[-1] if summaries else None,
        "impact": texts(FactSection.IMPACT),
        "causes": texts(FactSection.CAUSE),
        "window": _window(times, zone),
        "started_at": times.impact_start.astimezone(zone).strftime("%Y-%m-%d %H:%M") if times.impact_start else None,
        "resolved_at": times.resolved.astimezone(zone).strftime("%Y-%m-%d %H:%M") if times.resolved else None,
        "duration": human_duration(times.duration) if times.duration is not None else None,
        "follow_up_count": sum(1 for a in source.action_items if a.status != "dropped"),
    }
