"""The due-date grammar and the `action` grammar: tables of accepted and refused inputs."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.actions.due_dates import ACCEPTED_DUE_FORMS, DueDateError, looks_like_due_date, parse_due_date
from bot.actions.grammar import ActionDraft, parse_action
from bot.errors import UserError

MONDAY = dt.date(2026, 6, 22)


@pytest.mark.parametrize(
    "text, today, expected",
    [
        ("2026-06-25", MONDAY, dt.date(2026, 6, 25)),
        ("2026-7-3", MONDAY, dt.date(2026, 7, 3)),
        ("Jun 25", MONDAY, dt.date(2026, 6, 25)),
        ("25 Jun", MONDAY, dt.date(2026, 6, 25)),
        ("june 25th", MONDAY, dt.date(2026, 6, 25)),
        ("Sept 3", MONDAY, dt.date(2026, 9, 3)),
        ("25 June 2027", MONDAY, dt.date(2027, 6, 25)),
        ("Jul 4, 2027", MONDAY, dt.date(2027, 7, 4)),
        ("today", MONDAY, MONDAY),
        ("tomorrow", MONDAY, dt.date(2026, 6, 23)),
        ("Tomorrow", dt.date(2026, 12, 31), dt.date(2027, 1, 1)),
        ("friday", MONDAY, dt.date(2026, 6, 26)),
        ("fri", MONDAY, dt.date(2026, 6, 26)),
        ("next friday", MONDAY, dt.date(2026, 6, 26)),
        ("monday", MONDAY, dt.date(2026, 6, 29)),  # the next one, never today
        ("in 3 days", MONDAY, dt.date(2026, 6, 25)),
        ("in 1 day", MONDAY, dt.date(2026, 6, 23)),
        ("in 2 weeks", MONDAY, dt.date(2026, 7, 6)),
        ("in  2   weeks", MONDAY, dt.date(2026, 7, 6)),
        ("Jan 10", dt.date(2026, 12, 20), dt.date(2027, 1, 10)),  # a yearless date over half a year back is next year's
    ],
)
def test_due_dates_accepted(text, today, expected):
    parsed = parse_due_date(text, today=today)
    assert parsed.date == expected
    assert parsed.warning is None


@pytest.mark.parametrize(
    "text, expected",
    [("2026-06-01", dt.date(2026, 6, 1)), ("Jun 21", dt.date(2026, 6, 21)), ("Jan 10", dt.date(2026, 1, 10))],
)
def test_a_past_due_date_is_kept_with_a_warning(text, expected):
    parsed = parse_due_date(text, today=MONDAY)
    assert parsed.date == expected
    assert "in the past" in parsed.warning and "overdue" in parsed.warning


@pytest.mark.parametrize(
    "text, reason",
    [
        ("2026-13-01", "month must be in 1..12"),
        ("2026-02-30", "day is out of range"),
        ("Jun 31", "day is out of range"),
        ("31 Feb", "day is out of range"),
        ("Juno 12", "`juno` is not a month"),
        ("in 0 days", "between 1 and 999"),
        ("in 1000 days", "between 1 and 999"),
        ("in 2 months", ""),
        ("someday", ""),
        ("fridya", ""),
        ("", ""),
    ],
)
def test_due_dates_refused_with_the_forms(text, reason):
    with pytest.raises(DueDateError) as refused:
        parse_due_date(text, today=MONDAY)
    assert reason in str(refused.value)
    assert ACCEPTED_DUE_FORMS in str(refused.value)


def test_the_29th_of_february_moves_to_no_year_without_one():
    with pytest.raises(DueDateError):
        parse_due_date("Feb 29", today=dt.date(2028, 12, 1))  # next year's 29 Feb does not exist
    assert parse_due_date("Feb 29", today=dt.date(2028, 2, 1)).date == dt.date(2028, 2, 29)


@pytest.mark.parametrize(
    "text, looks",
    [
        ("friday", True),
        ("Jun 25", True),
        ("25 jun", True),
        ("in 2 weeks", True),
        ("2026-06-25", True),
        ("tomorrow", True),
        ("hand", False),
        ("25 hosts", False),
        ("the end of the month", False),
        ("ann", False),
        ("6/25", True),
        ("25/6/2026", True),
        ("6-25", True),
        ("eow", True),
        ("end of month", True),
        ("3-5x", False),
    ],
)
def test_what_looks_like_a_due_date(text, looks):
    assert looks_like_due_date(text) is looks


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Add an alert on queue depth <@U0BOB|bob> by friday P1 type:detect",
            ActionDraft("Add an alert on queue depth", "U0BOB", dt.date(2026, 6, 26), "P1", "detect"),
        ),
        (
            "Add an alert P1 <@U0BOB> type:detect by Jun 30",
            ActionDraft("Add an alert", "U0BOB", dt.date(2026, 6, 30), "P1", "detect"),
        ),
        ("Rotate the keys by in 2 weeks p0", ActionDraft("Rotate the keys", None, dt.date(2026, 7, 6), "P0", None)),
        ("Rotate the keys", ActionDraft("Rotate the keys", None, None, None, None)),
        # options only count at the end: a mention or "by" inside the text stays text
        ("Ask <@U0BOB> about quotas", ActionDraft("Ask <@U0BOB> about quotas", None, None, None, None)),
        ("Document the restore done by hand", ActionDraft("Document the restore done by hand", None, None, None, None)),
        ("Check by 25 hosts <@U0ANN>", ActionDraft("Check by 25 hosts", "U0ANN", None, None, None)),
        (
            "Runbook for failover type:PROCESS by 2026-07-01",
            ActionDraft("Runbook for failover", None, dt.date(2026, 7, 1), None, "process"),
        ),
    ],
)
def test_action_grammar(text, expected):
    assert parse_action(text, today=MONDAY) == expected


def test_a_past_due_date_in_an_action_carries_the_warning():
    draft = parse_action("Fix the cron by 2026-06-01", today=MONDAY)
    assert draft.due_date == dt.date(2026, 6, 1)
    assert "in the past" in draft.warning


@pytest.mark.parametrize(
    "text, says",
    [
        ("Fix it P5", "`P5` is not a priority. Use P0"),
        ("Fix it type:prevnt", "`prevnt` is not an action type"),
        ("Fix it by Jun 31", "can't read `Jun 31` as a due date"),
        # date-shaped but not a form we read: refused, never kept as words with the default due date
        ("Fix pool by 6/25", "can't read `6/25` as a due date (a date in numbers only could be month/day or day/month"),
        ("Fix pool by 25/6 P1", "can't read `25/6` as a due date"),
        ("Fix pool by 6/25/26", "can't read `6/25/26` as a due date"),
        ("Fix pool by 6-25", "can't read `6-25` as a due date"),
        ("Fix pool by next week", "can't read `next week` as a due date"),
        ("Fix pool by eow <@U0ANN>", "can't read `eow` as a due date"),
        ("Fix pool by end of month", "can't read `end of month` as a due date"),
        ("Fix it <@U0ANN> <@U0BOB>", "one owner"),
        ("Fix it P1 P2", "Two priorities"),
        ("Fix it type:detect type:prevent", "Two types"),
        ("P1 <@U0BOB> by friday", "needs a description"),
        ("x" * 501, "keep it under 500"),
    ],
)
def test_action_grammar_refusals(text, says):
    with pytest.raises(UserError) as refused:
        parse_action(text, today=MONDAY)
    assert says in str(refused.value)
