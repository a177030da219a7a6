"""Sharing the postmortem with engineering and stakeholders (deadlines and the owner's reminders
with a clock we set, three replicas sweeping) and the communication checklist's checkboxes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot.models import Incident
from bot.nudges.claims import ChannelPacer
from bot.postmortem import checklist, sharing
from bot.settings import Settings, SettingsError
from tests.conftest import ANN, BOB, CAROL
from tests.followup_steps import closed_incident, headline, latest_draft, t
from tests.harness import reply_text
from tests.nudge_steps import nudge_posts
from tests.postmortem_steps import run, stored_postmortem

SHARING = {"SHARE_ENGINEERING_CHANNEL": "C0ENGINEERS", "SHARE_STAKEHOLDERS_CHANNEL": "#stakeholders"}


def share_reminders(standin) -> dict[tuple[str, str], int]:
    return {
        (channel, period): n
        for (channel, kind, period), n in nudge_posts(standin).items()
        if kind == sharing.KIND_REMINDER
    }


def test_sharing_needs_its_channel_setting(bot, db):
    channel = closed_incident(bot)
    reply = run(bot, t(15, 5), "postmortem share engineering", user=ANN, channel=channel)
    assert "No channel is set for sharing with engineering" in reply and "SHARE_ENGINEERING_CHANNEL" in reply
    assert "Share with whom?" in run(bot, t(15, 5), "postmortem share everyone", user=ANN, channel=channel)
    assert stored_postmortem(bot, channel).shared_engineering_at is None


def test_share_times_deadlines_and_the_owners_reminders_once_each(make_bot, db, standin, clock):
    standin.add_channel("C0ENGINEERS", "eng-postmortems")
    standin.add_channel("C0STAKEHOLD", "stakeholders")
    replicas = [make_bot(**SHARING) for _ in range(3)]
    bot = replicas[0]
    channel = closed_incident(bot)  # resolved 2026-06-22 14:47: engineering by 23rd 14:47, stakeholders by 24th
    pacer = ChannelPacer(0)

    def sweep_at(day: int, hour: int, minute: int = 0) -> None:
        clock.set(t(hour, minute, day=day))
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda replica: sharing.sweep(replica.runtime, pacer=pacer), replicas))

    sweep_at(23, 10, 0)  # 4 hours 47 minutes before the engineering deadline: not yet
    assert share_reminders(standin) == {}
    sweep_at(23, 11, 0)
    sweep_at(23, 11, 3)
    owner_dm = standin.dm_channel(CAROL)  # the commander owns the postmortem by default
    assert share_reminders(standin) == {(owner_dm, "engineering"): 1}
    reminder = reply_text(standin.messages[owner_dm][-1])
    assert "not shared with engineering yet; it is due" in reminder
    assert "`/incident postmortem share engineering`" in reminder

    reply = run(bot, t(12, 0, day=23), "postmortem share engineering", user=ANN, channel=channel)
    assert "<@U0ANN> shared the postmortem with engineering in <#C0ENGINEERS>" in reply and "deadline" not in reply
    [posted] = standin.messages["C0ENGINEERS"]
    assert "Postmortem: Checkout returns 503" in reply_text(posted)
    assert "Deploy v2.4.1 exhausted the DB pool" in reply_text(posted) and "|Read the postmortem>" in reply_text(posted)

    sweep_at(24, 11, 0)
    assert share_reminders(standin) == {(owner_dm, "engineering"): 1, (owner_dm, "stakeholders"): 1}

    reply = run(bot, t(16, 0, day=24), "postmortem share stakeholders", user=ANN, channel=channel)
    assert "after the 48-hour deadline, by 1 hour 13 minutes" in reply
    assert len(standin.messages["C0STAKEHOLD"]) == 1
    again = run(bot, t(17, 0, day=24), "postmortem share stakeholders", user=BOB, channel=channel)
    assert "shared there before; the first time stays recorded" in again

    row = stored_postmortem(bot, channel)
    assert (row.shared_engineering_at, row.shared_engineering_by) == (t(12, 0, day=23), ANN)
    assert (row.shared_stakeholders_at, row.shared_stakeholders_by) == (t(16, 0, day=24), ANN)
    sweep_at(24, 18, 0)
    assert sum(share_reminders(standin).values()) == 2

    run(bot, t(17, 5, day=24), "postmortem", user=CAROL, channel=channel)
    draft = latest_draft(bot, channel)
    assert "- Shared with engineering: 2026-06-23 12:00 UTC by @ann\n" in draft
    assert "- Shared with stakeholders: 2026-06-24 16:00 UTC by @ann (after the deadline, 2026-06-24 14:47)" in draft


def test_a_private_incident_is_not_shared_nor_reminded_about(make_bot, db, standin, clock):
    standin.add_channel("C0ENGINEERS", "eng-postmortems")
    bot = make_bot(SHARE_ENGINEERING_CHANNEL="C0ENGINEERS")
    channel = closed_incident(bot, "Payroll data exposed sev1")
    with db.unit_of_work() as session:
        session.scalar(select(Incident).where(Incident.channel_id == channel)).is_private = True
    assert "channel is private" in run(bot, t(15, 5), "postmortem share engineering", user=CAROL, channel=channel)
    clock.set(t(12, 0, day=23))
    sharing.sweep(bot.runtime, pacer=ChannelPacer(0))
    assert share_reminders(standin) == {} and standin.messages.get("C0ENGINEERS", []) == []


def test_a_restricted_postmortem_is_not_shared_nor_reminded_about(make_bot, db, standin, clock):
    standin.add_channel("C0ENGINEERS", "eng-postmortems")
    bot = make_bot(SHARE_ENGINEERING_CHANNEL="C0ENGINEERS")
    channel = closed_incident(bot, "Leaked token in logs sev2 type:security")
    assert "restricted distribution (`security`)" in run(
        bot, t(15, 5), "postmortem share engineering", user=CAROL, channel=channel
    )
    clock.set(t(12, 0, day=23))
    sharing.sweep(bot.runtime, pacer=ChannelPacer(0))
    assert share_reminders(standin) == {} and standin.messages.get("C0ENGINEERS", []) == []


def test_the_owner_is_reminded_not_the_commander(make_bot, db, standin, clock):
    standin.add_channel("C0ENGINEERS", "eng-postmortems")
    bot = make_bot(SHARE_ENGINEERING_CHANNEL="C0ENGINEERS")
    channel = closed_incident(bot)
    run(bot, t(15, 5), "role postmortem <@U0BOB|bob>", user=CAROL, channel=channel)
    clock.set(t(12, 0, day=23))
    sharing.sweep(bot.runtime, pacer=ChannelPacer(0))
    assert share_reminders(standin) == {(standin.dm_channel(BOB), "engineering"): 1}  # no stakeholders channel set
    assert standin.dm_channel(CAROL) is None


def tick(bot, channel: str, user: str, values: list[str]):
    message = headline(bot, channel)
    options = [{"text": {"type": "plain_text", "text": checklist.ITEMS[v]}, "value": v} for v in values]
    response, response_url = bot.click(
        message, checklist.ACTION, user=user, channel=channel, extra={"type": "checkboxes", "selected_options": options}
    )
    assert response.status_code == 200
    token = response_url.rsplit("/", 1)[-1]
    return bot.standin.wait_for_responses(1, where=lambda r: r.token == token)[0].payload["text"]


def test_the_checklist_keeps_who_ticked_what_and_when(bot, db):
    channel = closed_incident(bot)
    [boxes] = [
        e
        for b in headline(bot, channel)["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "checkboxes"
    ]
    assert [o["text"]["text"] for o in boxes["options"]] == list(checklist.ITEMS.values())
    assert "initial_options" not in boxes

    bot.clock.set(t(15, 10))
    said = tick(bot, channel, BOB, ["support", "status_page"])
    assert "Support briefed: ticked; Status page updated: ticked" in said
    bot.clock.set(t(15, 20))
    assert "Support briefed: unticked" in tick(bot, channel, ANN, ["status_page"])

    run(bot, t(15, 30), "postmortem", user=CAROL, channel=channel)  # re-rendered: the message and the draft show it
    [boxes] = [
        e
        for b in headline(bot, channel)["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "checkboxes"
    ]
    assert [o["value"] for o in boxes["initial_options"]] == ["status_page"]
    draft = latest_draft(bot, channel)
    assert "## Communication" in draft
    assert "- [ ] Internal stakeholders notified\n" in draft
    assert "- [ ] Support briefed — unticked by @ann, 2026-06-22 15:20 UTC" in draft
    assert "- [x] Status page updated — ticked by @bob, 2026-06-22 15:10 UTC" in draft


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"SHARE_ENGINEERING_CHANNEL": "eng postmortems"}, "SHARE_ENGINEERING_CHANNEL must be a channel id"),
        ({"SHARE_STAKEHOLDERS_CHANNEL": "#Leadership!"}, "SHARE_STAKEHOLDERS_CHANNEL must be a channel id"),
        ({"POSTMORTEM_REVIEW_REMINDER_DAYS": "0"}, "POSTMORTEM_REVIEW_REMINDER_DAYS must be between 1 and 60"),
    ],
)
def test_follow_up_settings_are_checked_with_one_line_naming_them(env, problem):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", **env})
    assert str(info.value).startswith(problem) and "\n" not in str(info.value)


def test_follow_up_settings_read_ids_and_names():
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "SHARE_ENGINEERING_CHANNEL": "C0ENGINEERS",
            "SHARE_STAKEHOLDERS_CHANNEL": "#leads",
        }
    )
    assert (settings.share_engineering_channel, settings.share_stakeholders_channel) == ("C0ENGINEERS", "leads")
    assert settings.postmortem_review_reminder_days == 2


def test_the_periodic_review_counts_late_and_missing_shares(make_bot, db, standin, clock):
    standin.add_channel("C0ENGINEERS", "eng-postmortems")
    standin.add_channel("C0STAKEHOLD", "stakeholders")
    bot = make_bot(**SHARING)
    channel = closed_incident(bot)  # resolved 2026-06-22 14:47: engineering due 23rd 14:47, stakeholders 24th 14:47
    run(bot, t(17, 47, day=23), "postmortem share engineering", user=ANN, channel=channel)  # 3 hours late
    clock.set(t(9, 0, day=26))  # past both deadlines; stakeholders never heard
    run(bot, t(9, 0, day=26), "review 2026-Q2", user=ANN, channel="C0GENERAL")
    standin.wait_for(
        "files.completeUploadExternal", where=lambda c: c.params.get("channel_id") == standin.dm_channel(ANN)
    )
    text = "\n".join(reply_text(m) for m in standin.messages[standin.dm_channel(ANN)])
    assert "Postmortems shared late*: 2" in text
    assert "engineering: shared 3 hours late" in text
    assert "stakeholders: not shared, due 2026-06-24 14:47 UTC" in text
