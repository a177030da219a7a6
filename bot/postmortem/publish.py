"""Publishing the draft where people read it, and retrying until Slack takes it.

One attempt: claim the draft (drafts.claim), render it from what is stored now, save the
Markdown and the review in the database, then in the incident's channel upload the full draft
as a Markdown file (files_upload_v2), put it in the channel's canvas where the workspace allows
canvases, and post (or update) one short headline message with buttons. Each step is recorded
as soon as it is done, so a retry does not repeat it. When Slack fails with 5xx, 429 or a
network error, the draft waits in the database and the background job `retry_due` tries
again with backoff. The headline message is built to fit Slack's limits however long the
incident: the detail lives in the file.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.errors import report_unexpected
from bot.insights import draft_context, related
from bot.insights import labels as insight_store
from bot.insights.related_text import context_line
from bot.models import FactSection, Postmortem
from bot.postmortem import checklist, detection, drafts, late_changes, snapshot
from bot.postmortem import status as pm_status
from bot.postmortem.followup import FollowupValue
from bot.postmortem.metrics import human_duration
from bot.postmortem.render import (
    DEFAULT_VARIANT,
    RECURRING_VARIANT,
    ContextInputs,
    NameBlanker,
    Rendered,
    build_context,
    build_public_context,
    render,
)
from bot.postmortem.review import Finding, load_vocabulary, review
from bot.runtime import Runtime
from bot.slack import blocks as bk
from bot.slack.gateway import SlackFailure, SlackGateway, UploadedFile
from bot.slack.text import mention, plain_text, safe_mrkdwn, slack_date

RERENDER_ACTION = "postmortem_rerender"
# Variants whose draft is for a restricted audience: never copied into the channel canvas.
RESTRICTED_VARIANTS = ("security",)
CANVAS_WITHDRAWN = (
    "This incident's postmortem has restricted distribution, so it is not kept in the channel "
    "canvas. Ask the incident commander for the draft."
)
FINAL_ACTION = "postmortem_final"
MAX_NAME_LOOKUPS = 60
HEADLINE_SUMMARY_LIMIT = 600
# Failures Slack recovers from: the draft waits and publication is tried again with backoff.
_RETRYABLE = {
    "ratelimited",
    "connection_error",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "http_429",
    "answer_lost",
    "invalid_response",
}
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def retryable(code: str) -> bool:
    return code in _RETRYABLE or code.startswith("http_5")


@dataclass
class Outcome:
    state: str  # published | retrying | failed | busy | missing
    error: str | None = None
    next_attempt_at: dt.datetime | None = None
    problems: list[str] = field(default_factory=list)  # broken team templates or vocabulary
    file_url: str | None = None
    findings: int = 0


@dataclass(frozen=True)
class Draft:
    """A rendered draft and what the headline message shows about it."""

    rendered: Rendered
    findings: list[Finding]
    source: snapshot.DraftSource
    problems: list[str]
    names_blanked: int = 0  # public summary: names and mentions replaced by "the team"
    seen_before: str | None = None  # one line on related past incidents (bot/insights), for the headline

    @property
    def restricted(self) -> bool:
        """A draft for a restricted audience (security): uploaded as asked, never put in a canvas."""
        return self.rendered.template in RESTRICTED_VARIANTS


# -- rendering -------------------------------------------------------------------------------
def resolve_names(gateway: SlackGateway, user_ids: Iterable[str]) -> dict[str, str]:
    """Display names for the draft, looked up at once with a deadline; the rest stay as ids."""
    wanted = list(dict.fromkeys(user_ids))
    names = gateway.user_names(wanted[:MAX_NAME_LOOKUPS])
    return {user_id: names.get(user_id, user_id) for user_id in wanted}


def _mentioned(source: snapshot.DraftSource) -> list[str]:
    texts = [e.text for e in source.entries] + [f.text for f in source.facts] + [a.text for a in source.action_items]
    return [match.group(1) for text in texts for match in _MENTION.finditer(text)]


def make_draft(runtime: Runtime, incident_id: int, *, public: bool = False) -> Draft:
    """Read, look up names, review and render; no database transaction is held meanwhile."""
    settings = runtime.settings
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        source = snapshot.load(session, incident_id)
        labels = insight_store.of(session, incident_id)
    found = related.find_or_nothing(runtime.db, incident_id, runtime.logger)
    insights = draft_context.build(source, labels, found, settings.timezone)
    # The public summary needs the names too: to blank them out of what people typed.
    names = resolve_names(runtime.gateway, [*source.people, *_mentioned(source)])
    vocabulary, problems = load_vocabulary(settings.templates_dir)
    reference = (source.key_times.resolved or source.incident.closed_at or now).astimezone(settings.timezone).date()
    findings = review(
        source,
        vocabulary,
        names=names,
        due_days=settings.action_due_days,
        zone=settings.timezone,
        reference_date=reference,
    )
    inputs = ContextInputs(
        zone=settings.timezone,
        names=names,
        findings=findings,
        due_days=settings.action_due_days,
        review_days=settings.postmortem_reminder_days,
        now=now,
        notes=list(problems),
        insights=insights,
    )
    blank = NameBlanker(names)
    if public:
        rendered = render("public", build_public_context(source, inputs, blank), settings.templates_dir)
    else:
        # An incident of no particular type gets the team's chosen template (POSTMORTEM_TEMPLATE).
        variant = source.incident.incident_type
        if variant == "default":
            variant = settings.postmortem_template
        if variant == DEFAULT_VARIANT and insights["recurring"]:
            variant = RECURRING_VARIANT  # it happened before: the draft asks the systemic questions
        rendered = render(variant, build_context(source, inputs), settings.templates_dir)
    problems = [*problems, *rendered.problems]
    for problem in problems:
        runtime.logger.warning("postmortem for incident %s: %s", incident_id, problem)
    return Draft(
        rendered,
        findings,
        source,
        problems,
        names_blanked=blank.replaced,
        seen_before=context_line(found) if found else None,
    )


# -- publishing ------------------------------------------------------------------------------
def publish(runtime: Runtime, incident_id: int) -> Outcome:
    """One publication attempt, if the draft is due and nobody else is on it."""
    now = runtime.clock.now()
    with runtime.db.unit_of_work() as session:
        row = drafts.get(session, incident_id)
        if row is None:
            return Outcome("missing")
        attempt = drafts.claim(session, row.id, now)
        if attempt is None:
            return Outcome("busy")
        postmortem_id = row.id
    try:
        with _Heartbeat(runtime, postmortem_id, attempt):
            return _attempt(runtime, incident_id, postmortem_id)
    except Exception as err:
        error_id = report_unexpected(runtime.logger, f"publishing the postmortem of incident {incident_id}")
        with runtime.db.unit_of_work() as session:
            drafts.record_failure(session, postmortem_id, runtime.clock.now(), f"error {error_id}: {err}", retry=True)
        raise


class _Heartbeat:
    """Renews the publication claim every few seconds while this process works on it, so that
    only a dead publisher's claim runs out (drafts.CLAIM_LEASE)."""

    def __init__(self, runtime: Runtime, postmortem_id: int, attempt: int):
        self._runtime, self._postmortem_id, self._attempt = runtime, postmortem_id, attempt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"publish-heartbeat-{postmortem_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(drafts.HEARTBEAT_SECONDS):
            try:
                with self._runtime.db.unit_of_work() as session:
                    if not drafts.renew(session, self._postmortem_id, self._attempt, self._runtime.clock.now()):
                        return  # settled or taken over: nothing left to hold
            except Exception:  # a database hiccup: the next beat tries again before the lease runs out
                self._runtime.logger.warning(
                    "could not renew the publication claim of postmortem %s", self._postmortem_id, exc_info=True
                )


def _attempt(runtime: Runtime, incident_id: int, postmortem_id: int) -> Outcome:
    with runtime.db.unit_of_work() as session:
        changes = late_changes.seen(session, postmortem_id)  # before the snapshot: later ones re-render again
    draft = make_draft(runtime, incident_id)
    markdown = draft.rendered.markdown
    with runtime.db.unit_of_work() as session:
        drafts.save_render(
            session,
            postmortem_id,
            markdown=markdown,
            review=[f.as_dict() for f in draft.findings],
            template=draft.rendered.template,
            now=runtime.clock.now(),
        )
        late_changes.rendered(session, postmortem_id, changes)
        row = session.get(Postmortem, postmortem_id)
        assert row is not None
        state = _Progress(row.status, row.message_ts, row.file_id, row.file_url, row.canvas_id)
    outcome = Outcome("published", problems=draft.problems, findings=len(draft.findings))
    try:
        _publish_steps(runtime, postmortem_id, draft, state)
    except SlackFailure as failure:
        again = retryable(failure.code)
        with runtime.db.unit_of_work() as session:
            row = drafts.record_failure(
                session, postmortem_id, runtime.clock.now(), f"{failure.method}: {failure.code}", retry=again
            )
            outcome.state = "retrying" if row.publish_state == drafts.PENDING else "failed"
            outcome.next_attempt_at = row.next_attempt_at
        outcome.error = failure.code
        log = runtime.logger.warning if again else runtime.logger.error
        log(
            "publishing the postmortem of incident %s failed (%s); %s",
            incident_id,
            failure,
            f"next attempt at {outcome.next_attempt_at}" if outcome.state == "retrying" else "given up",
        )
        return outcome
    with runtime.db.unit_of_work() as session:
        drafts.record_success(session, postmortem_id, runtime.clock.now())
    outcome.file_url = state.file_url
    return outcome


@dataclass
class _Progress:
    status: str
    message_ts: str | None
    file_id: str | None
    file_url: str | None
    canvas_id: str | None


def _publish_steps(runtime: Runtime, postmortem_id: int, draft: Draft, state: _Progress) -> None:
    gateway = runtime.gateway
    incident = draft.source.incident
    channel = incident.channel_id
    title = _document_title(draft, state.status)
    if not state.file_id:
        uploaded: UploadedFile = gateway.upload_document(
            channel, _filename(draft), draft.rendered.markdown, title=title
        )
        state.file_id, state.file_url = uploaded.id, uploaded.permalink
        with runtime.db.unit_of_work() as session:
            drafts.record(session, postmortem_id, file_id=state.file_id, file_url=state.file_url)
    if draft.restricted:
        # The canvas stays in the channel for anyone who can see it, forwarded or not: no security
        # draft there, and an earlier draft (before the type changed) is taken out.
        _withdraw_canvas(runtime, state.canvas_id)
        has_canvas = False
    else:
        canvas_id = _publish_canvas(runtime, channel, title, draft.rendered.markdown, state.canvas_id)
        if canvas_id != state.canvas_id:
            state.canvas_id = canvas_id
            with runtime.db.unit_of_work() as session:
                drafts.record(session, postmortem_id, canvas_id=canvas_id)
        has_canvas = state.canvas_id is not None
    text, blocks = headline(draft, state.status, state.file_url, has_canvas)
    if state.message_ts:
        try:
            gateway.update_message(channel, state.message_ts, text, blocks)
            return
        except SlackFailure as failure:
            if failure.code not in ("message_not_found", "cant_update_message", "edit_window_closed"):
                raise
    posted = gateway.post_message(channel, text, blocks)
    state.message_ts = posted.ts
    with runtime.db.unit_of_work() as session:
        drafts.record(session, postmortem_id, message_ts=posted.ts)


def _publish_canvas(runtime: Runtime, channel: str, title: str, markdown: str, canvas_id: str | None) -> str | None:
    """The draft in the channel's canvas where the workspace allows; never holds publication up."""
    gateway = runtime.gateway
    try:
        if canvas_id:
            try:
                gateway.replace_canvas(canvas_id, markdown)
                return canvas_id
            except SlackFailure as failure:
                if failure.code not in ("canvas_not_found", "canvas_deleted", "file_not_found"):
                    raise
        return gateway.create_channel_canvas(channel, title, markdown) or None
    except SlackFailure as failure:
        # canvas_disabled_for_team, missing_scope, channel_canvas_already_exists, free teams … or a
        # Slack hiccup: the file and the headline carry the draft either way.
        runtime.logger.info("no canvas for the postmortem in %s: %s", channel, failure.code)
        return canvas_id


def _withdraw_canvas(runtime: Runtime, canvas_id: str | None) -> None:
    """Replace an earlier draft in the channel canvas with a notice (kept, so a later draft can use it)."""
    if not canvas_id:
        return
    try:
        runtime.gateway.replace_canvas(canvas_id, CANVAS_WITHDRAWN)
    except SlackFailure as failure:
        runtime.logger.warning(
            "could not take the earlier postmortem draft out of canvas %s: %s", canvas_id, failure.code
        )


def _filename(draft: Draft) -> str:
    stem = draft.source.incident.channel_name or f"incident-{draft.source.incident.id}"
    return f"postmortem-{stem}.md"


def _document_title(draft: Draft, status: str) -> str:
    label = "Postmortem (approved)" if status == "final" else "Postmortem draft"
    return bk.truncate(f"{label}: {plain_text(draft.source.incident.title)}", 250)


def headline(draft: Draft, status: str, file_url: str | None, has_canvas: bool) -> tuple[str, list[bk.Block]]:
    """The short message in the channel: headline facts and buttons. Bounded whatever the size of
    the incident: counts, not lists; user text cut short and shown without pinging anyone."""
    source = draft.source
    incident = source.incident
    times = source.key_times
    title = plain_text(incident.title)
    final = status == "final"
    label = "Postmortem" if final else "Postmortem draft"
    duration = human_duration(times.duration)
    follow = source.followup
    state = follow.label if follow else ("Approved" if final else "Draft")
    first = f"*{incident.severity.upper()}* · {incident.incident_type} · *{state}* · duration *{duration}*"
    key = " · ".join(
        f"{name} {human_duration(value) if value is not None else 'not recorded'}"
        for name, value in (
            ("detect", times.time_to_detect),
            ("acknowledge", times.time_to_acknowledge),
            ("mitigate", times.time_to_mitigate),
            ("resolve", times.time_to_resolve),
        )
    )
    summaries = source.facts_in(FactSection.SUMMARY)
    lines = [first, f"Time to {key}"]
    if times.monitoring_gap or times.users_found_first:
        lines.append(":mag: Detection was slow: the draft asks what would have caught it sooner.")
    proposal = detection.analyse(source).proposal
    if proposal:
        lines.append(
            f":mag: Detection gap; proposed action item (type detect): {safe_mrkdwn(proposal, live_mentions=False)}"
        )
    if draft.restricted:
        lines.append(
            ":lock: *Restricted distribution*: the draft is only in the Markdown file, not in the channel canvas."
        )
        if not incident.is_private:
            lines.append(
                ":warning: *This channel is public*: the draft file is visible to everyone in the channel. "
                "If it holds sensitive detail, delete the file and share the draft in a private channel."
            )
    blocks: list[bk.Block] = [bk.header(f":memo: {label}: {title}"), bk.section("\n".join(lines))]
    if summaries:
        summary = bk.truncate(summaries[-1].text, HEADLINE_SUMMARY_LIMIT)
        blocks.append(bk.section(safe_mrkdwn(summary, live_mentions=False)))
    open_items = [a for a in source.action_items if a.status == "open"]
    unowned = sum(1 for a in open_items if not a.owner_id)
    causes = len(source.facts_in(FactSection.CAUSE))
    counts = [
        f"{len(source.entries)} timeline entries",
        f"{causes} cause{'s' if causes != 1 else ''}",
        f"{len(source.action_items)} action items" + (f" ({unowned} open without an owner)" if unowned else ""),
        f"wording review: {len(draft.findings)} note{'s' if len(draft.findings) != 1 else ''}"
        if draft.findings
        else "wording review: no notes",
    ]
    where = [f"<{file_url}|the Markdown file>" if file_url else "the Markdown file above"]
    if has_canvas:
        where.append("the channel canvas")
    blocks.append(bk.context(" · ".join(counts)))
    if draft.seen_before:
        blocks.append(bk.context(draft.seen_before))
    blocks.append(
        bk.context(f"Full draft in {' and '.join(where)}. Correct facts with `/incident edit <id>`, then re-render.")
    )
    if follow is not None:
        blocks.extend(followup_blocks(follow, incident.id))
    buttons = [bk.button(":arrows_counterclockwise: Re-render", RERENDER_ACTION, str(incident.id))]
    if not final:
        buttons.append(bk.button(":white_check_mark: Approve", FINAL_ACTION, str(incident.id), style="primary"))
    if proposal and not final:
        buttons.append(
            bk.button(":heavy_plus_sign: Add the detect action item", detection.DETECT_ACTION, str(incident.id))
        )
    blocks.append(bk.actions(*buttons, block_id=f"postmortem-{incident.id}"))
    text = safe_mrkdwn(f"{label}: {bk.truncate(title, 200)} — duration {duration}", live_mentions=False)
    bk.check_fits(blocks, text)
    return text, blocks


def followup_blocks(follow: FollowupValue, incident_id: int) -> list[bk.Block]:
    """The status history and owner, then the communication checklist as checkboxes."""
    line = pm_status.history_line(follow.history, when=lambda at: slack_date(at, "{date_short} {time}"))
    owner = f"Owner {mention(follow.owner)}"
    reviewers = f" · reviewers {', '.join(mention(r) for r in follow.reviewers[:10])}" if follow.reviewers else ""
    meeting = f" · review meeting {slack_date(follow.meeting_at)}" if follow.meeting_at else ""
    return [
        bk.context(f"{owner}{reviewers}{meeting}", f"Status: {line}" if line else ""),
        checklist.block(incident_id, follow.checklist),
    ]


def withdraw_headline(runtime: Runtime, channel: str, ts: str) -> None:
    """After a reopen: the old headline says it is out of date and loses its buttons."""
    text = "This postmortem draft is out of date: the incident was reopened. A new draft follows the next close."
    try:
        block = {**bk.section(f":leftwards_arrow_with_hook: {text}"), "block_id": f"postmortem-withdrawn-{ts}"}
        runtime.gateway.update_message(channel, ts, text, [block])
    except SlackFailure as failure:
        runtime.logger.warning("could not mark the old postmortem headline out of date: %s", failure)


def retry_due(runtime: Runtime) -> int:
    """The background job: one attempt for each draft that is due. Returns how many were tried."""
    with runtime.db.unit_of_work() as session:
        late_changes.schedule_rerenders(session, runtime.clock.now())  # drafts that changes reached after close
    with runtime.db.unit_of_work() as session:
        incident_ids = drafts.due(session, runtime.clock.now())
    for incident_id in incident_ids:
        try:
            publish(runtime, incident_id)
        except Exception:  # logged with an id by publish; the others still get their turn
            continue
    return len(incident_ids)


def publish_public_summary(runtime: Runtime, incident_id: int) -> tuple[UploadedFile, Draft]:
    """The customer-facing summary as a Markdown file in the incident's channel (on demand)."""
    draft = make_draft(runtime, incident_id, public=True)
    incident = draft.source.incident
    stem = incident.channel_name or f"incident-{incident.id}"
    uploaded = runtime.gateway.upload_document(
        incident.channel_id,
        f"public-summary-{stem}.md",
        draft.rendered.markdown,
        title=bk.truncate(f"Customer-facing summary (draft): {plain_text(incident.title)}", 250),
    )
    return uploaded, draft


def describe_failure(outcome: Outcome, zone: Any) -> str:
    """What the person who asked should know when publication did not go through."""
    if outcome.state == "retrying" and outcome.next_attempt_at is not None:
        when = outcome.next_attempt_at.astimezone(zone).strftime("%H:%M:%S")
        return (
            f":hourglass: Slack did not take the postmortem draft (`{outcome.error}`). It is saved; I'll try again "
            f"at {when} {zone.key}, or run `/incident postmortem` to try now."
        )
    if outcome.error in ("is_archived", "channel_is_archived"):
        # Trying again cannot help (and no slash command runs in an archived channel).
        return (
            ":file_cabinet: I can't post the postmortem draft: the incident channel is archived. The draft is "
            "saved. Unarchive the channel first, then run `/incident postmortem` there to publish it."
        )
    if outcome.error in ("not_in_channel", "channel_not_found"):
        return (
            "I can't post the postmortem draft in this channel: I'm not a member. Add me with "
            "`/invite @incident-bot`, then run `/incident postmortem`. The draft is saved."
        )
    return (
        f":warning: Publishing the postmortem draft failed (`{outcome.error}`). The draft is saved; "
        "run `/incident postmortem` to try again."
    )
