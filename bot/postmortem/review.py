"""The wording review: advisory notes on words and shapes that work against a blameless review.

Blame labels, counterfactuals and minimisers are phrases from `templates/review_vocabulary.yml`
(teams extend it with a file of the same name in INCIDENT_TEMPLATES_DIR). Structural checks —
a person as the subject of a cause, action items without owner, due date or within the
severity's policy, missing key times — are code, with their wording in the same file.
Each finding quotes the text, says why, and suggests a system-focused rewrite. Never blocking.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bot.models import EntryKind, FactSection, Milestone
from bot.postmortem.facts import SECTION_LABELS
from bot.postmortem.snapshot import DraftSource
from bot.refs import action_ref, entry_ref, fact_ref
from bot.slack.text import plain_text

VOCABULARY_FILE = "review_vocabulary.yml"
SCOPES = ("facts", "timeline", "action_items")
CAUSE_SECTIONS = (FactSection.CAUSE, FactSection.TRIGGER)
QUOTE_LIMIT = 240
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

_MILESTONE_WHAT = {
    Milestone.STARTED: "the impact start",
    Milestone.DETECTED: "the time to detect",
    Milestone.ACKNOWLEDGED: "the time to acknowledge",
    Milestone.MITIGATED: "the time to mitigate",
    Milestone.RESOLVED: "the duration",
}


class VocabularyError(ValueError):
    """The vocabulary file is malformed; str() names the file and what is wrong."""


@dataclass(frozen=True)
class Phrase:
    text: str
    pattern: re.Pattern[str]
    suggestion: str | None = None


@dataclass(frozen=True)
class PhraseCategory:
    key: str
    title: str
    why: str
    suggestion: str
    looks_at: tuple[str, ...]
    phrases: tuple[Phrase, ...]  # longest first
    drop_rewrite: bool = False

    @property
    def pattern(self) -> re.Pattern[str]:
        """All phrases in one expression, longest first, so "forgot to" wins over "forgot"."""
        return _combined(tuple(_phrase_body(p.text) for p in self.phrases))

    @property
    def first_words(self) -> tuple[str, ...]:
        """A cheap test before the expression: a text holding none of these cannot match."""
        return _first_words(tuple(p.text for p in self.phrases))

    def phrase_for(self, matched: str) -> Phrase:
        key = _key(matched)
        return next(p for p in self.phrases if _key(p.text) == key)


def _key(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


@lru_cache(maxsize=64)
def _first_words(phrases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple({_key(text).split()[0].split("'")[0] for text in phrases})


@lru_cache(maxsize=64)
def _combined(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(_BEFORE + "(?:" + "|".join(patterns) + ")" + _AFTER, re.IGNORECASE)


@dataclass(frozen=True)
class Vocabulary:
    categories: tuple[PhraseCategory, ...]
    checks: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Finding:
    category: str
    title: str
    where: str
    quote: str
    why: str
    suggestion: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# -- the vocabulary file --------------------------------------------------------------------
_BEFORE, _AFTER = r"(?<![\w'’-])", r"(?![\w'’-])"  # whole words: "just" is not in "adjust" or "just-in-time"


def _phrase_body(text: str) -> str:
    return r"\s+".join(re.escape(word) for word in text.split()).replace("'", "['’]")


def _phrase_pattern(text: str) -> re.Pattern[str]:
    return re.compile(_BEFORE + _phrase_body(text) + _AFTER, re.IGNORECASE)


def _phrases(raw: Any, source: str, key: str) -> list[Phrase]:
    if not isinstance(raw, list):
        raise VocabularyError(f"{source}: phrases of `{key}` must be a list")
    found = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            found.append(Phrase(item.strip(), _phrase_pattern(item.strip())))
        elif isinstance(item, dict) and isinstance(item.get("phrase"), str) and item["phrase"].strip():
            suggestion = item.get("suggestion")
            found.append(
                Phrase(
                    item["phrase"].strip(),
                    _phrase_pattern(item["phrase"].strip()),
                    str(suggestion) if suggestion else None,
                )
            )
        else:
            raise VocabularyError(f"{source}: in `{key}`, {item!r} is not a phrase (a string or {{phrase: …}})")
    return found


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise VocabularyError(f"{source} is not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise VocabularyError(f"{source} must be a mapping with `phrases`, `checks` and `ignore`")
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any], source: str) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "phrases": {key: dict(value) for key, value in (base.get("phrases") or {}).items()},
        "checks": {key: dict(value) for key, value in (base.get("checks") or {}).items()},
        "ignore": list(base.get("ignore") or []),
    }
    for key, value in (extra.get("phrases") or {}).items():
        if not isinstance(value, dict):
            raise VocabularyError(f"{source}: `phrases.{key}` must be a mapping")
        target = merged["phrases"].setdefault(key, {})
        for field_name, field_value in value.items():
            if field_name == "phrases":
                target["phrases"] = list(target.get("phrases") or []) + list(field_value or [])
            else:
                target[field_name] = field_value
    for key, value in (extra.get("checks") or {}).items():
        if not isinstance(value, dict):
            raise VocabularyError(f"{source}: `checks.{key}` must be a mapping")
        merged["checks"].setdefault(key, {}).update({k: str(v) for k, v in value.items()})
    merged["ignore"] += list(extra.get("ignore") or [])
    return merged


def _build(data: dict[str, Any], source: str) -> Vocabulary:
    ignored = {_key(str(word)) for word in data.get("ignore") or []}
    categories = []
    for key, value in (data.get("phrases") or {}).items():
        missing = [name for name in ("title", "why", "suggestion", "phrases") if not value.get(name)]
        if missing:
            raise VocabularyError(f"{source}: category `{key}` lacks {', '.join(missing)}")
        looks_at = tuple(value.get("looks_at") or SCOPES)
        unknown = [scope for scope in looks_at if scope not in SCOPES]
        if unknown:
            raise VocabularyError(f"{source}: `{key}` looks_at {unknown}; use {', '.join(SCOPES)}")
        phrases = [p for p in _phrases(value["phrases"], source, key) if _key(p.text) not in ignored]
        unique = {_key(p.text): p for p in phrases}
        # Longer phrases first, so "forgot to" is quoted rather than "forgot".
        ordered = sorted(unique.values(), key=lambda p: -len(p.text))
        categories.append(
            PhraseCategory(
                key=key,
                title=str(value["title"]),
                why=_flat(value["why"]),
                suggestion=_flat(value["suggestion"]),
                looks_at=looks_at,
                phrases=tuple(ordered),
                drop_rewrite=value.get("rewrite") == "drop",
            )
        )
    checks = {key: {k: _flat(v) for k, v in value.items()} for key, value in (data.get("checks") or {}).items()}
    return Vocabulary(tuple(categories), checks)


def _flat(value: Any) -> str:
    return " ".join(str(value).split())


@lru_cache(maxsize=1)
def _builtin_data() -> dict[str, Any]:
    text = resources.files("bot.templates").joinpath(VOCABULARY_FILE).read_text(encoding="utf-8")
    return _parse(text, f"built-in {VOCABULARY_FILE}")


def load_vocabulary(override_dir: Path | None) -> tuple[Vocabulary, list[str]]:
    """The built-in vocabulary extended by the team's file; problems with the team's file are
    returned (and the built-in one used alone), never raised."""
    base = _builtin_data()
    problems: list[str] = []
    if override_dir is not None:
        path = override_dir / VOCABULARY_FILE
        if path.is_file():
            try:
                extra = _parse(path.read_text(encoding="utf-8"), str(path))
                merged = _merge(base, extra, str(path))
                return _build(merged, str(path)), problems
            except (VocabularyError, OSError, UnicodeDecodeError) as err:
                problems.append(f"{err} — the built-in vocabulary was used alone.")
    return _build(base, f"built-in {VOCABULARY_FILE}"), problems


# -- the review ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewedText:
    scope: str  # facts | timeline | action_items
    where: str
    text: str  # plain text, as the draft shows it
    raw: str  # as stored (mentions intact)
    is_cause: bool = False

    @cached_property
    def lowered(self) -> str:
        return self.text.lower().replace("’", "'")


def _texts(source: DraftSource) -> list[ReviewedText]:
    texts = [
        ReviewedText(
            "facts",
            f"{fact_ref(f.id)} ({SECTION_LABELS[f.section]})",
            plain_text(f.text),
            f.text,
            f.section in CAUSE_SECTIONS,
        )
        for f in source.facts
    ]
    texts += [
        ReviewedText("timeline", f"{entry_ref(e.id)} (timeline)", plain_text(e.text), e.text)
        for e in source.entries
        if e.kind != EntryKind.SYSTEM
    ]
    texts += [
        ReviewedText("action_items", f"{action_ref(a.id)} (action item)", plain_text(a.text), a.text)
        for a in source.action_items
    ]
    return texts


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence holding text[start:end], cut to QUOTE_LIMIT around the match."""
    begin = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() <= start:
            begin = match.end()
        elif match.start() >= end:
            stop = match.start()
            break
    else:
        stop = len(text)
    sentence = text[begin:stop].strip()
    if len(sentence) <= QUOTE_LIMIT:
        return sentence
    offset = max(0, (start - begin) - QUOTE_LIMIT // 2)
    cut = sentence[offset : offset + QUOTE_LIMIT - 2]
    return ("…" if offset else "") + cut + "…"


def _drop_word(sentence: str, pattern: re.Pattern[str]) -> str:
    rewritten = pattern.sub("", sentence)
    rewritten = re.sub(r"\s{2,}", " ", rewritten).strip()
    rewritten = re.sub(r"\s+([,.;:!?])", r"\1", rewritten)
    rewritten = re.sub(r"^[,;:]\s*", "", rewritten)
    return rewritten[:1].upper() + rewritten[1:] if sentence[:1].isupper() else rewritten


def _fill(template: str, values: Mapping[str, Any]) -> str:
    """Replace known {placeholders} only (team-written text: no format-string evaluation)."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def _check(vocabulary: Vocabulary, key: str, where: str, quote: str, **values: Any) -> Finding:
    wording = vocabulary.checks.get(key, {})
    return Finding(
        category=key,
        title=wording.get("title", key.replace("_", " ").capitalize()),
        where=where,
        quote=quote,
        why=_fill(wording.get("why", ""), values),
        suggestion=_fill(wording.get("suggestion", ""), values),
    )


def _phrase_findings(vocabulary: Vocabulary, texts: Iterable[ReviewedText]) -> list[Finding]:
    findings = []
    for category in vocabulary.categories:
        for item in texts:
            if item.scope not in category.looks_at or not any(w in item.lowered for w in category.first_words):
                continue
            seen: set[str] = set()
            for match in category.pattern.finditer(item.text):
                phrase = category.phrase_for(match.group(0))
                if phrase.text in seen:
                    continue  # one finding per phrase per text
                seen.add(phrase.text)
                quote = _sentence_around(item.text, match.start(), match.end())
                suggestion = phrase.suggestion or category.suggestion
                if category.drop_rewrite:
                    rewrite = _drop_word(quote, phrase.pattern)
                    if rewrite:
                        suggestion = f"{suggestion} For example: “{rewrite}”"
                findings.append(
                    Finding(
                        category=category.key,
                        title=f"{category.title}: “{match.group(0)}”",
                        where=item.where,
                        quote=quote,
                        why=category.why,
                        suggestion=suggestion,
                    )
                )
    return findings


def participant_names(names: Mapping[str, str]) -> re.Pattern[str] | None:
    """People's names as typed in prose ("ivan", "@Ivan"), whole words in any case; None when no
    name is known. The review finds a person as a cause with it; the public summary blanks them."""
    # A name equal to its user id is a lookup that failed: nothing to recognise in prose.
    known = sorted({n.lower() for user, n in names.items() if n and len(n) > 1 and n != user}, key=len, reverse=True)
    if not known:
        return None
    return re.compile(r"(?<![\w@.-])@?(" + "|".join(re.escape(n) for n in known) + r")(?![\w-])", re.IGNORECASE)


def _person_findings(vocabulary: Vocabulary, texts: Iterable[ReviewedText], names: Mapping[str, str]) -> list[Finding]:
    name_pattern = participant_names(names)
    findings = []
    for item in texts:
        if not item.is_cause:
            continue
        person = None
        mention = _MENTION.search(item.raw)
        if mention:
            person = "@" + (mention.group(2) or names.get(mention.group(1)) or mention.group(1))
        else:
            for sentence in _SENTENCE_END.split(item.text):
                opening = sentence.lstrip()
                match = (name_pattern.match(opening) if name_pattern else None) or re.match(r"@([\w.-]+)", opening)
                if match:
                    person = match.group(0).strip()
                    break
        if person:
            quote = item.text if len(item.text) <= QUOTE_LIMIT else item.text[: QUOTE_LIMIT - 1] + "…"
            findings.append(_check(vocabulary, "person_as_cause", item.where, quote, person=person))
    return findings


def _action_findings(
    vocabulary: Vocabulary, source: DraftSource, due_days: Mapping[str, int], reference: dt.date
) -> list[Finding]:
    severity = source.incident.severity
    limit = due_days.get(severity)
    findings = []
    for item in source.action_items:
        if item.status != "open":
            continue
        ref = action_ref(item.id)
        where = f"{ref} (action item)"
        quote = plain_text(item.text)
        values = {"ref": ref, "severity": severity.upper(), "limit": limit if limit is not None else "?"}
        if not item.owner_id:
            findings.append(_check(vocabulary, "action_no_owner", where, quote, **values))
        if item.due_date is None:
            findings.append(_check(vocabulary, "action_no_due", where, quote, **values))
        elif limit is not None and (item.due_date - reference).days > limit:
            findings.append(
                _check(
                    vocabulary,
                    "action_due_too_far",
                    where,
                    quote,
                    due=item.due_date.isoformat(),
                    days=(item.due_date - reference).days,
                    **values,
                )
            )
    return findings


def _key_time_findings(vocabulary: Vocabulary, source: DraftSource, zone: dt.tzinfo) -> list[Finding]:
    times = source.key_times
    findings = []
    for milestone in times.missing:
        if milestone == Milestone.STARTED:
            if times.impact_start is not None:
                at = times.impact_start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                findings.append(_check(vocabulary, "start_from_earliest_entry", "key times", "", at=at))
            continue
        findings.append(
            _check(
                vocabulary,
                "missing_key_time",
                "key times",
                "",
                milestone=milestone.value,
                what=_MILESTONE_WHAT[milestone],
            )
        )
    for problem in times.out_of_order():
        refs = [
            _entry_ref_at(source, name, instant)
            for name, instant in ((problem.later, problem.later_at), (problem.earlier, problem.earlier_at))
        ]
        shown = " and ".join(f"`{ref}`" for ref in refs if ref) or "the milestone entries"
        findings.append(
            _check(
                vocabulary,
                "key_times_out_of_order",
                "key times",
                "",
                later=problem.later,
                later_at=problem.later_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                earlier=problem.earlier,
                earlier_at=problem.earlier_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                entries=shown,
                ref=next((ref for ref in refs if ref), "<id>"),
            )
        )
    return findings


def _entry_ref_at(source: DraftSource, key_time: str, instant: dt.datetime) -> str | None:
    """The timeline entry a key time was read from: its milestone's entry, or (for an impact start
    taken from the earliest entry) the entry at that time."""
    wanted = Milestone.STARTED if key_time == "impact start" else Milestone(key_time)
    fallback = None
    for entry in source.entries:
        if entry.occurred_at != instant:
            continue
        if entry.milestone == wanted:
            return entry_ref(entry.id)
        fallback = fallback or entry_ref(entry.id)
    return fallback if key_time == "impact start" else None


def review(
    source: DraftSource,
    vocabulary: Vocabulary,
    *,
    names: Mapping[str, str],
    due_days: Mapping[str, int],
    zone: dt.tzinfo,
    reference_date: dt.date,
) -> list[Finding]:
    """Every finding for one draft, wording first, then people, action items and key times."""
    texts = _texts(source)
    return [
        *_phrase_findings(vocabulary, texts),
        *_person_findings(vocabulary, texts, names),
        *_action_findings(vocabulary, source, due_days, reference_date),
        *_key_time_findings(vocabulary, source, zone),
    ]
