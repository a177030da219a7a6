"""The wording review catches each category, quotes, explains and suggests; quiet on a clean draft."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from bot.models import EntryKind, FactSection, Milestone
from bot.postmortem.metrics import key_times
from bot.postmortem.review import load_vocabulary, review
from bot.postmortem.snapshot import ActionValue, DraftSource, EntryValue, FactValue, IncidentValue, PostmortemValue
from tests.conftest import ANN, BOB
from tests.postmortem_steps import IVAN, add_action_items, at, close_and_wait, run, seed_incident

ALL_MILESTONES = {m: at(14, i) for i, m in enumerate(Milestone)}
CLEAN_ACTION = ActionValue(
    1, "Add an alert on DB pool saturation above 80%", IVAN, dt.date(2026, 6, 30), "P1", "detect", "open", None
)


def make_source(*, facts=(), entries=(), actions=(CLEAN_ACTION,), milestones=None, severity="sev2") -> DraftSource:
    return DraftSource(
        incident=IncidentValue(
            1,
            "Checkout 503",
            severity,
            "closed",
            "default",
            "C1",
            "inc",
            ANN,
            ANN,
            None,
            None,
            at(14, 0),
            at(14, 50),
            ANN,
        ),
        postmortem=PostmortemValue("draft", None, None),
        entries=[EntryValue(i + 1, at(14, 10), text, ANN, EntryKind.NOTE, None) for i, text in enumerate(entries)],
        facts=[FactValue(i + 1, section, text, ANN) for i, (section, text) in enumerate(facts)],
        action_items=list(actions),
        key_times=key_times(ALL_MILESTONES if milestones is None else milestones, at(14, 0), severity),
    )


def findings_for(source: DraftSource, *, vocabulary_dir: Path | None = None, names=None):
    vocabulary, problems = load_vocabulary(vocabulary_dir)
    assert problems == []
    return review(
        source,
        vocabulary,
        names=names or {ANN: "ann", BOB: "bob", IVAN: "ivan"},
        due_days={"sev1": 15, "sev2": 30, "sev3": 45, "sev4": 45},
        zone=dt.UTC,
        reference_date=dt.date(2026, 6, 22),
    )


def only(findings, category):
    found = [f for f in findings if f.category == category]
    assert len(found) == 1, [(f.category, f.title, f.quote) for f in findings]
    return found[0]


def test_a_clean_draft_gets_no_notes():
    source = make_source(
        facts=[
            (FactSection.CAUSE, "New code opened a connection per request without returning it to the pool."),
            (FactSection.CAUSE, "Load testing did not cover peak traffic."),
            (FactSection.WENT_WELL, "The alert arrived within 3 minutes."),
            (FactSection.SUMMARY, "Checkout returned 503 for 45 minutes; adjusting the pool fixed it."),
        ],
        entries=["Deploy v2.4.1", "Rolled back to v2.4.0", "Justin joined the call"],
    )
    assert findings_for(source) == []


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("The outage was caused by human error during the deploy.", "human error"),
        ("An operator error deleted the index.", "operator error"),
        ("A careless change to the config.", "careless"),
        ("The migration was negligent.", "negligent"),
    ],
)
def test_blame_labels(text, phrase):
    finding = only(findings_for(make_source(facts=[(FactSection.CAUSE, text)])), "blame_label")
    assert finding.title == f"Blame label: “{phrase}”"
    assert finding.quote == text and finding.where == "F1 (root causes and contributing factors)"
    assert (
        "says nothing about what" in finding.why
        and "what the tool, the process or the system allowed" in finding.suggestion
    )


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("The on-call should have checked the pool size.", "should have"),
        ("We could have rolled back sooner.", "could have"),
        ("The deploy failed to run the smoke tests.", "failed to"),
        ("Nobody forgot anything, we think.", "forgot"),
        ("If only the alert had been louder.", "If only"),
    ],
)
def test_counterfactuals(text, phrase):
    finding = only(findings_for(make_source(facts=[(FactSection.WENT_WRONG, text)])), "counterfactual")
    assert finding.title == f"Counterfactual: “{phrase}”" and finding.quote == text
    assert "what was missing then" in finding.suggestion


def test_counterfactuals_in_the_timeline_are_caught_too():
    finding = only(findings_for(make_source(entries=["Bob forgot to renew the cert"])), "counterfactual")
    assert finding.where == "T1 (timeline)" and "forgot to" in finding.title


@pytest.mark.parametrize(
    ("text", "rewrite"),
    [
        ("Obviously the cache was stale.", "The cache was stale."),
        ("We simply restarted the pods.", "We restarted the pods."),
        ("It was just a config typo.", "It was a config typo."),
    ],
)
def test_minimisers_come_with_the_sentence_rewritten(text, rewrite):
    finding = only(findings_for(make_source(facts=[(FactSection.SUMMARY, text)])), "minimiser")
    assert finding.quote == text and finding.suggestion.endswith(f"For example: “{rewrite}”")


def test_the_quote_is_the_sentence_holding_the_phrase():
    text = "The pool ran out at 14:20. Obviously nobody was watching it. Rollback fixed it."
    finding = only(findings_for(make_source(facts=[(FactSection.WENT_WRONG, text)])), "minimiser")
    assert finding.quote == "Obviously nobody was watching it."


@pytest.mark.parametrize(
    "text",
    [
        "<@U0BOB|bob> ran the migration without a lock.",
        "The migration ran after <@U0BOB> approved it.",
        "Bob ran the migration without a lock.",
        "The deploy was fine. Ann disabled the alert.",
        "@bob deployed on Friday.",
    ],
)
def test_a_person_as_the_subject_of_a_cause(text):
    finding = only(findings_for(make_source(facts=[(FactSection.CAUSE, text)])), "person_as_cause")
    assert "bob, a person" in finding.why.lower() or "ann, a person" in finding.why.lower()
    assert "Make a system, process or condition the subject" in finding.suggestion


def test_names_outside_causes_and_names_mid_sentence_are_fine():
    source = make_source(
        facts=[
            (FactSection.WENT_WELL, "Bob found the bad query fast."),
            (FactSection.CAUSE, "The runbook Bob wrote had no pool section."),
        ]
    )
    assert [f for f in findings_for(source) if f.category == "person_as_cause"] == []


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Be more careful with deploys", "Be more careful"),
        ("Improve monitoring", "Improve monitoring"),
        ("Look into the connection pool", "Look into"),
        ("Consider a canary stage", "Consider"),
        ("Remind people to check dashboards", "Remind people"),
    ],
)
def test_vague_action_items(text, phrase):
    action = ActionValue(9, text, IVAN, dt.date(2026, 6, 30), "P2", None, "open", None)
    finding = only(findings_for(make_source(actions=[action])), "vague_action")
    assert finding.title == f"Vague action item: “{phrase}”" and finding.where == "A9 (action item)"
    assert "specific, bounded change" in finding.suggestion


def test_action_items_without_owner_or_date_or_beyond_the_policy():
    actions = [
        ActionValue(1, "Add a pool alert", None, dt.date(2026, 6, 30), "P1", None, "open", None),
        ActionValue(2, "Add a load test", IVAN, None, "P2", None, "open", None),
        ActionValue(3, "Shard the database", IVAN, dt.date(2026, 9, 1), "P2", None, "open", None),
        ActionValue(4, "Rotate the keys", None, None, "P2", None, "done", None),  # done: nothing to say
    ]
    findings = findings_for(make_source(actions=actions))
    assert only(findings, "action_no_owner").where == "A1 (action item)"
    no_due = only(findings, "action_no_due")
    assert no_due.where == "A2 (action item)" and "within 30 days" in no_due.suggestion
    too_far = only(findings, "action_due_too_far")
    assert too_far.where == "A3 (action item)"
    assert too_far.why == "Due 2026-09-01, 71 days after the incident; the policy for SEV2 is 30 days."
    sev1_item = ActionValue(5, "Add a pool alert", IVAN, dt.date(2026, 7, 20), "P1", None, "open", None)
    sev1 = findings_for(make_source(actions=[sev1_item], severity="sev1"))
    assert "the policy for SEV1 is 15 days" in only(sev1, "action_due_too_far").why


def test_missing_key_times_are_asked_for():
    findings = findings_for(make_source(milestones={Milestone.RESOLVED: at(14, 47)}))
    missing = [f for f in findings if f.category == "missing_key_time"]
    assert [f.why.split("`")[1] for f in missing] == ["detected", "acknowledged", "mitigated"]
    assert "`/incident timeline <when> detected: <what happened>`" in missing[0].suggestion
    assert only(findings, "start_from_earliest_entry").why.startswith("There is no `started` milestone")


def test_key_times_out_of_order_are_findings_that_name_the_entries():
    milestones = {
        Milestone.STARTED: at(14, 2),
        Milestone.DETECTED: at(14, 5),
        Milestone.ACKNOWLEDGED: at(14, 9),
        Milestone.MITIGATED: at(14, 50),
        Milestone.RESOLVED: at(14, 47),
    }
    source = make_source(milestones=milestones)
    entries = [
        EntryValue(10 + i, when, f"{m.value} entry", ANN, EntryKind.MILESTONE, m)
        for i, (m, when) in enumerate(milestones.items())
    ]
    finding = only(findings_for(dataclasses.replace(source, entries=entries)), "key_times_out_of_order")
    assert finding.title == "Key times out of order" and finding.where == "key times"
    assert finding.why.startswith(
        "The resolved time (2026-06-22 14:47) is recorded before the mitigated time (2026-06-22 14:50)"
    )
    assert finding.suggestion == "Check `T14` and `T13` and correct the wrong time, e.g. `/incident edit T14 <when>`."


def test_teams_extend_the_vocabulary(tmp_path: Path):
    (tmp_path / "review_vocabulary.yml").write_text(
        "phrases:\n"
        "  blame_label:\n    phrases: [cowboy]\n"
        "  jargon:\n    title: Jargon\n    why: Readers outside the team do not know it.\n"
        "    suggestion: Say it plainly.\n    looks_at: [facts]\n    phrases: [{phrase: yolo, suggestion: Say what was skipped.}]\n"
        "ignore: [just]\n"
    )
    source = make_source(
        facts=[
            (FactSection.CAUSE, "A cowboy deploy went out."),
            (FactSection.WENT_WRONG, "We went yolo on the migration."),
            (FactSection.SUMMARY, "It was just a typo."),
        ]
    )
    findings = findings_for(source, vocabulary_dir=tmp_path)
    assert only(findings, "blame_label").title == "Blame label: “cowboy”"
    jargon = only(findings, "jargon")
    assert (jargon.title, jargon.suggestion) == ("Jargon: “yolo”", "Say what was skipped.")
    assert [f for f in findings if f.category == "minimiser"] == []


def test_a_broken_team_vocabulary_is_reported_and_the_built_in_one_used(tmp_path: Path):
    (tmp_path / "review_vocabulary.yml").write_text("phrases:\n  blame_label: [oops\n")
    vocabulary, problems = load_vocabulary(tmp_path)
    assert len(problems) == 1 and "review_vocabulary.yml is not valid YAML at line" in problems[0]
    assert any(c.key == "blame_label" for c in vocabulary.categories)
    (tmp_path / "review_vocabulary.yml").write_text("phrases:\n  new_one:\n    phrases: [x]\n")
    _, problems = load_vocabulary(tmp_path)
    assert "category `new_one` lacks title, why, suggestion" in problems[0]


def test_the_review_in_a_published_draft(bot, db):
    channel = seed_incident(bot)
    run(bot, at(14, 43), "cause <@U0ANN|ann> should have noticed the pool size; human error", channel=channel)
    run(bot, at(14, 43), "went-wrong The alert was obviously too quiet", channel=channel)
    add_action_items(bot, channel, [("Be more careful with deploys", None, None, "P2")])
    _, headline, markdown = close_and_wait(bot, channel, at(14, 48), "close 14:47 Metrics normal")
    appendix = markdown[markdown.index("## Appendix: wording review") :]
    for title in (
        "Blame label: “human error”",
        "Counterfactual: “should have”",
        "Minimiser: “obviously”",
        "A person as the cause",
        "Vague action item: “Be more careful”",
        "Action item without an owner",
        "Action item without a due date",
    ):
        assert f"**{title}**" in appendix, title
    assert "> @ann should have noticed the pool size; human error" in appendix
    assert "Nothing here blocks the draft" in appendix
    assert "wording review: 7 notes" in str(headline["blocks"])
