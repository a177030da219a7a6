"""Every variant renders; team templates override and add; a broken one falls back with a clear error."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.models import EntryKind, FactSection, Milestone
from bot.postmortem.metrics import key_times
from bot.postmortem.render import (
    BUILTIN_VARIANTS,
    ContextInputs,
    build_context,
    build_public_context,
    known_variants,
    render,
)
from bot.postmortem.snapshot import ActionValue, DraftSource, EntryValue, FactValue, IncidentValue, PostmortemValue
from tests.conftest import ANN
from tests.postmortem_steps import at, close_and_wait, draft_files, run, seed_incident, wait_until_settled

BERLIN = ZoneInfo("Europe/Berlin")
NEXT_DAY = dt.datetime(2026, 6, 23, 0, 20, tzinfo=dt.UTC)


def source(*, empty: bool = False, incident_type: str = "default") -> DraftSource:
    entries = (
        []
        if empty
        else [
            EntryValue(1, at(22, 50), "Deploy v2.4.1", ANN, EntryKind.MILESTONE, Milestone.STARTED),
            EntryValue(2, at(22, 55), "Alert fired", ANN, EntryKind.MILESTONE, Milestone.DETECTED),
            EntryValue(3, at(23, 30), "Incident declared by <@U0ANN>", ANN, EntryKind.SYSTEM, None),
            EntryValue(4, at(23, 40), "Rolled back", ANN, EntryKind.MILESTONE, Milestone.MITIGATED),
            EntryValue(5, NEXT_DAY, "Line one\nline two", ANN, EntryKind.MILESTONE, Milestone.RESOLVED),
        ]
    )
    facts = (
        []
        if empty
        else [FactValue(i + 1, section, f"fact for {section.value}", ANN) for i, section in enumerate(FactSection)]
    )
    milestones = {e.milestone: e.occurred_at for e in entries if e.milestone}
    return DraftSource(
        incident=IncidentValue(
            7,
            "Checkout returns 503",
            "sev2",
            "closed",
            incident_type,
            "C1",
            "inc-checkout",
            ANN,
            ANN,
            None,
            None,
            at(23, 30),
            at(23, 58),
            ANN,
        ),
        postmortem=PostmortemValue("draft", None, None),
        entries=entries,
        facts=facts,
        action_items=[]
        if empty
        else [ActionValue(1, "Add a pool alert", ANN, dt.date(2026, 6, 30), "P1", "detect", "open", None)],
        key_times=key_times(milestones, min((e.occurred_at for e in entries), default=None), "sev2"),
    )


def inputs(**changes) -> ContextInputs:
    values = dict(zone=BERLIN, names={ANN: "ann"}, findings=[], due_days={"sev2": 30}, review_days=3, now=at(23, 59))
    values.update(changes)
    return ContextInputs(**values)


def headings(markdown: str) -> list[str]:
    return re.findall(r"^#{1,3} .+$", markdown, re.MULTILINE)


def assert_no_blank_sections(markdown: str) -> None:
    """Every heading is followed by something to read before the next heading."""
    parts = re.split(r"^#{1,3} .+$", markdown, flags=re.MULTILINE)[1:]
    found = headings(markdown)
    for index, (heading, body) in enumerate(zip(found, parts)):
        deeper_next = index + 1 < len(found) and found[index + 1].split()[0] > heading.split()[0]
        assert body.strip() or deeper_next, f"section {heading!r} is blank"


@pytest.mark.parametrize("variant", BUILTIN_VARIANTS)
@pytest.mark.parametrize("empty", [False, True])
def test_every_variant_renders_full_and_empty(variant, empty):
    rendered = render(variant, build_context(source(empty=empty, incident_type=variant), inputs()), None)
    assert rendered.problems == [] and rendered.template == variant
    markdown = rendered.markdown
    assert markdown.startswith("# Postmortem: Checkout returns 503") or markdown.startswith("> **Restricted")
    for heading in (
        "## Summary",
        "## Impact",
        "## Key times (Europe/Berlin)",
        "## Timeline (times in Europe/Berlin)",
        "## Trigger",
        "## Root causes and contributing factors",
        "## Detection",
        "## What went well",
        "## What went wrong",
        "## Where we got lucky",
        "## Action items",
        "## Follow-up",
        "## Appendix: wording review",
    ):
        assert heading in markdown, (variant, heading)
    assert_no_blank_sections(markdown)
    assert not re.search(r"\bNone\b", markdown)  # no Python value leaks into the text
    if empty:
        assert "Add it with `/incident summary <text>`" in markdown
        assert "No timeline entries." in markdown
    else:
        for section in FactSection:
            assert f"fact for {section.value}" in markdown


VARIANT_MARKS = {
    "security": [
        "**Restricted distribution.**",
        "### Exposure",
        "Legal and compliance review",
        "## Attack or exposure path",
    ],
    "data-loss": ["### Data", "What was lost", "## Recovery and backups", "backup used last verified"],
    "degradation": ["### Performance", "Latency p99", "Throughput", "cascading"],
    "third-party": ["### The vendor", "Vendor communication", "## Dependence"],
}


@pytest.mark.parametrize("variant", sorted(VARIANT_MARKS))
def test_variants_hold_their_own_sections(variant):
    markdown = render(variant, build_context(source(incident_type=variant), inputs()), None).markdown
    for mark in VARIANT_MARKS[variant]:
        assert mark in markdown
    default = render("default", build_context(source(), inputs()), None).markdown
    assert VARIANT_MARKS[variant][0] not in default


def without_resolved(draft: DraftSource, *, impact: bool) -> DraftSource:
    entries = [e for e in draft.entries if e.milestone != Milestone.RESOLVED]
    facts = [f for f in draft.facts if impact or f.section != FactSection.IMPACT]
    milestones = {e.milestone: e.occurred_at for e in entries if e.milestone}
    return dataclasses.replace(
        draft,
        entries=entries,
        facts=facts,
        key_times=key_times(milestones, min(e.occurred_at for e in entries), "sev2"),
    )


@pytest.mark.parametrize("variant", BUILTIN_VARIANTS)
def test_without_a_resolved_milestone_every_line_of_the_impact_stands_alone(variant):
    with_impact = render(variant, build_context(without_resolved(source(), impact=True), inputs()), None).markdown
    lines = with_impact[with_impact.index("## Impact") :].splitlines()
    assert lines[:4] == [
        "## Impact",
        "",
        "- **Duration:** not recorded — no `resolved` milestone",
        "- fact for impact `F2`",
    ]
    no_impact = render(variant, build_context(without_resolved(source(), impact=False), inputs()), None).markdown
    lines = no_impact[no_impact.index("## Impact") :].splitlines()
    assert lines[:4] == ["## Impact", "", "- **Duration:** not recorded — no `resolved` milestone", ""]
    assert lines[4].startswith("_Who and what was affected") and lines[4].endswith("_")
    empty = render(variant, build_context(source(empty=True), inputs()), None).markdown
    assert "\n- **Duration:** not recorded — no timeline entries\n\n_Who and what was affected" in empty
    for markdown in (with_impact, no_impact, empty):
        assert_no_blank_sections(markdown)
        # nothing glued: every heading, list item and prompt starts its own line
        assert not re.search(r"[^#\n]#{2,3} |[^\n](- \*\*Duration|_Who and what)", markdown), markdown


def test_the_timeline_is_grouped_by_day_in_the_team_zone():
    # 22:50 UTC to 00:20 UTC spans two days in UTC, but is 00:50 to 02:20 on one day in Berlin
    markdown = render("default", build_context(source(), inputs()), None).markdown
    assert "### Tuesday 23 June 2026" in markdown and "### Monday 22 June 2026" not in markdown
    assert "**Duration:** 1 hour 30 minutes (00:50–02:20 Europe/Berlin)" in markdown
    assert "- **00:50** **[started]** Deploy v2.4.1" in markdown
    markdown = render("default", build_context(source(), inputs(zone=ZoneInfo("UTC"))), None).markdown
    monday, tuesday = markdown.index("### Monday 22 June 2026"), markdown.index("### Tuesday 23 June 2026")
    assert monday < markdown.index("- **22:50** **[started]** Deploy v2.4.1") < tuesday
    assert tuesday < markdown.index("- **00:20** **[resolved]** Line one\n  line two")  # multi-line stays in its item
    assert "**Duration:** 1 hour 30 minutes (2026-06-22 22:50 – 2026-06-23 00:20 UTC)" in markdown
    assert "Incident declared by @ann" in markdown


def test_the_public_template_gets_no_names():
    context = build_public_context(source(), inputs())
    assert "names" not in context and "roles" not in context and "timeline" not in context
    markdown = render("public", context, None).markdown
    assert markdown.startswith("# Checkout returns 503 — incident report")
    assert "fact for cause" in markdown and "fact for went_well" not in markdown


def test_team_templates_override_and_add(tmp_path: Path):
    (tmp_path / "default.md.j2").write_text("# {{ incident.title }} — our format\n{{ summary }}\n")
    (tmp_path / "recurring.md.j2").write_text(
        '{% extends "builtin/_base.md.j2" %}\n'
        "{% block variant_analysis %}\n## Earlier incidents like this\n_list them_\n"
        "{% endblock %}\n"
    )
    assert known_variants(tmp_path) == ["data-loss", "default", "degradation", "recurring", "security", "third-party"]
    rendered = render("default", build_context(source(), inputs()), tmp_path)
    assert rendered.problems == [] and rendered.markdown == "# Checkout returns 503 — our format\nfact for summary\n"
    recurring = render("recurring", build_context(source(incident_type="recurring"), inputs()), tmp_path)
    assert recurring.template == "recurring" and "## Earlier incidents like this" in recurring.markdown
    assert "## Root causes and contributing factors" in recurring.markdown
    # built-in variants the team did not touch stay built-in
    assert "### Exposure" in render("security", build_context(source(), inputs()), tmp_path).markdown


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("# {{ incident.title }}\n\n{% for item in %}\n{% endfor %}\n", 3, "Expected an expression"),
        ("# {{ incident.title }}\n{{ incident.no_such_field }}\n", 2, "UndefinedError"),
        ("# x\n\n\n{{ incident.__class__.__mro__ }}\n", 4, "SecurityError"),
        ('{% include "missing.md.j2" %}\n', 1, "missing.md.j2"),
    ],
)
def test_a_broken_team_template_falls_back_with_file_and_line(tmp_path: Path, text, line, what):
    (tmp_path / "default.md.j2").write_text(text)
    rendered = render("default", build_context(source(), inputs()), tmp_path)
    assert len(rendered.problems) == 1
    problem = rendered.problems[0]
    assert f"`default.md.j2` in {tmp_path} line {line}" in problem and what in problem, problem
    assert "the built-in `default` template was used instead" in problem
    assert rendered.markdown.startswith("# Postmortem: Checkout returns 503")  # the built-in draft, complete
    assert problem in rendered.markdown  # and it says why, in its notes


def test_an_unknown_type_uses_the_default_template():
    rendered = render("capacity", build_context(source(), inputs()), None)
    assert rendered.template == "default" and "There is no template for type `capacity`" in rendered.problems[0]


def test_a_team_template_at_close_and_a_broken_one_reported_to_the_closer(make_bot, db, tmp_path: Path):
    (tmp_path / "security.md.j2").write_text(
        '{% extends "builtin/security.md.j2" %}\n'
        "{% block variant_follow_up %}\n- Tell the CISO within 24 hours.\n"
        "{% endblock %}\n"
    )
    (tmp_path / "default.md.j2").write_text("# {{ incident.title }}\n\n{% if %}\n")
    bot = make_bot(INCIDENT_TEMPLATES_DIR=str(tmp_path))
    channel = seed_incident(bot)
    run(bot, at(14, 47), "type security", channel=channel)
    _, _, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    assert "- Tell the CISO within 24 hours." in markdown and "### Exposure" in markdown

    run(bot, at(14, 49), "type default", channel=channel)
    reply = run(bot, at(14, 50), "postmortem", channel=channel)
    assert f"`default.md.j2` in {tmp_path} line 3" in reply and "built-in `default` template was used" in reply
    assert "Re-rendered" in reply
    with db.unit_of_work() as session:
        from sqlalchemy import select

        from bot.models import Postmortem

        row = session.scalar(select(Postmortem))
    assert row.template == "default" and row.markdown.startswith("# Postmortem: Checkout API returns 503")


def test_a_setting_picks_the_template_for_incidents_of_no_particular_type(make_bot, db):
    bot = make_bot(POSTMORTEM_TEMPLATE="degradation")
    channel = seed_incident(bot)
    _, _, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    assert "### Performance" in markdown and "Latency p99" in markdown
    # an incident's own type still wins over the setting
    run(bot, at(14, 49), "type security", channel=channel)
    run(bot, at(14, 50), "postmortem", channel=channel)
    wait_until_settled(bot, channel)
    assert "### Exposure" in draft_files(bot, channel)[-1]
