"""Tests for the Slack Web API stand-in, driven through the real slack_sdk clients."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.slack_standin import (
    MAX_ACTIONS_ELEMENTS,
    MAX_BLOCKS_PER_MESSAGE,
    MAX_BLOCKS_TOTAL_TEXT,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_ELEMENTS,
    MAX_HEADER_TEXT,
    MAX_ID_LENGTH,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_FIELD_TEXT,
    MAX_SECTION_FIELDS,
    MAX_SECTION_TEXT,
    MAX_TOPIC,
    RESPONSE_URL_MAX_USES,
    SlackStandIn,
)

CHANNEL = "C0INCIDNT"


@pytest.fixture
def standin():
    stand_in = SlackStandIn().start()
    stand_in.add_user("U0ALICE", name="alice", tz="Europe/Paris")
    stand_in.add_channel(CHANNEL, "incidents")
    yield stand_in
    stand_in.stop()
    assert stand_in.internal_errors == []


@pytest.fixture
def client(standin):
    return WebClient(token="xoxb-test", base_url=standin.base_url, timeout=5)


def api_error(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


# --------------------------------------------------------------------------- basics
def test_auth_test_identifies_the_bot(client):
    response = client.auth_test()
    assert response["user_id"] == "UBOT"
    assert response["bot_id"] == "BBOT"
    assert response["team_id"] == "T0001"


def test_base_url_has_trailing_slash(standin):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/", standin.base_url)
    assert standin.base_url == standin.url + "/api/"


@pytest.mark.parametrize(
    "token, error",
    [(None, "not_authed"), ("xoxp-user-token", "invalid_auth"), ("nonsense", "invalid_auth")],
)
def test_token_is_checked(standin, token, error):
    bad_client = WebClient(token=token, base_url=standin.base_url)
    err = api_error(bad_client.auth_test)
    assert err.response["error"] == error
    assert standin.calls_to("auth.test")[0].error == error


def test_unknown_method_is_answered_and_recorded(client, standin):
    err = api_error(lambda: client.api_call("incidents.frobnicate"))
    assert err.response.status_code == 200
    assert err.response["error"] == "unknown_method"
    assert standin.calls[-1].method == "incidents.frobnicate"
    assert standin.calls[-1].failed


def test_users_info(client):
    user = client.users_info(user="U0ALICE")["user"]
    assert user["name"] == "alice"
    assert user["tz"] == "Europe/Paris"
    assert user["tz_offset"] in (3600, 7200)
    assert user["profile"]["display_name"] == "alice"
    assert api_error(lambda: client.users_info(user="U0NOBODY")).response["error"] == "user_not_found"


# --------------------------------------------------------------------------- channels
def test_create_channel_and_name_taken(client, standin):
    channel = client.conversations_create(name="inc-42-db-down")["channel"]
    assert re.fullmatch(r"C[A-Z0-9]{8}", channel["id"])
    assert channel["name"] == "inc-42-db-down"
    assert standin.channels[channel["id"]]["is_member"]
    assert "UBOT" in standin.channels[channel["id"]]["members"]
    err = api_error(lambda: client.conversations_create(name="inc-42-db-down"))
    assert err.response["error"] == "name_taken"


@pytest.mark.parametrize(
    "name, error",
    [
        ("", "invalid_name_required"),
        ("x" * 81, "invalid_name_maxlength"),
        ("Inc-42", "invalid_name_specials"),
        ("inc 42", "invalid_name_specials"),
        ("inc.42", "invalid_name_specials"),
        ("---", "invalid_name_punctuation"),
    ],
)
def test_channel_name_rules(client, name, error):
    assert api_error(lambda: client.conversations_create(name=name)).response["error"] == error


def test_channel_name_at_max_length_is_accepted(client):
    assert client.conversations_create(name="x" * 80)["ok"]


def test_private_channel_creation(client, standin):
    channel = client.conversations_create(name="inc-secret", is_private=True)["channel"]
    assert channel["is_private"] is True
    assert standin.channels[channel["id"]]["is_private"] is True


def test_invite_rules(client, standin):
    standin.add_channel("C0OUTSIDE", "outside", bot_is_member=False)
    assert client.conversations_invite(channel=CHANNEL, users=["U0ALICE", "W0BOB"])["ok"]
    assert {"U0ALICE", "W0BOB"} <= standin.channels[CHANNEL]["members"]

    def invite_error(channel, users):
        return api_error(lambda: client.conversations_invite(channel=channel, users=users)).response["error"]

    assert invite_error(CHANNEL, ["U0ALICE"]) == "already_in_channel"
    assert invite_error(CHANNEL, ["UBOT"]) == "cant_invite_self"
    assert invite_error(CHANNEL, ["not-a-user"]) == "user_not_found"
    assert invite_error("C0OUTSIDE", ["U0ALICE"]) == "not_in_channel"
    assert invite_error("C0MISSING", ["U0ALICE"]) == "channel_not_found"


def test_set_topic(client, standin):
    client.conversations_setTopic(channel=CHANNEL, topic="SEV1: db down")
    assert standin.channels[CHANNEL]["topic"] == "SEV1: db down"
    assert client.conversations_info(channel=CHANNEL)["channel"]["topic"]["value"] == "SEV1: db down"
    err = api_error(lambda: client.conversations_setTopic(channel=CHANNEL, topic="x" * (MAX_TOPIC + 1)))
    assert err.response["error"] == "too_long"


def test_archive_blocks_posting(client, standin):
    client.conversations_archive(channel=CHANNEL)
    assert client.conversations_info(channel=CHANNEL)["channel"]["is_archived"] is True
    err = api_error(lambda: client.chat_postMessage(channel=CHANNEL, text="hello?"))
    assert err.response["error"] == "is_archived"


def test_post_needs_membership_and_a_known_channel(client, standin):
    standin.add_channel("C0OUTSIDE", "outside", bot_is_member=False)
    assert api_error(lambda: client.chat_postMessage(channel="C0OUTSIDE", text="x")).response["error"] == (
        "not_in_channel"
    )
    assert api_error(lambda: client.chat_postMessage(channel="C0MISSING", text="x")).response["error"] == (
        "channel_not_found"
    )
    err = api_error(lambda: client.conversations_history(channel="C0OUTSIDE"))
    assert err.response["error"] == "not_in_channel"


def test_dm_by_user_id_and_conversations_open(client, standin):
    opened = client.conversations_open(users="U0ALICE")["channel"]["id"]
    assert opened.startswith("D")
    posted = client.chat_postMessage(channel="U0ALICE", text="you are on call")
    assert posted["channel"] == opened == standin.dm_channel("U0ALICE")
    assert standin.messages[opened][-1]["text"] == "you are on call"


# --------------------------------------------------------------------------- messages
def test_post_update_and_delete(client, standin):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*SEV2* api latency"}}]
    posted = client.chat_postMessage(
        channel=CHANNEL, text="SEV2", blocks=blocks, metadata={"event_type": "incident", "event_payload": {"id": 7}}
    )
    ts = posted["ts"]
    stored = standin.messages[CHANNEL][-1]
    assert stored["ts"] == ts
    assert stored["bot_id"] == "BBOT" and stored["user"] == "UBOT"
    assert stored["blocks"] == blocks
    assert stored["metadata"] == {"event_type": "incident", "event_payload": {"id": 7}}

    client.chat_update(channel=CHANNEL, ts=ts, text="SEV2 resolved")
    assert stored["text"] == "SEV2 resolved"
    assert stored["blocks"] == blocks, "blocks left out of chat.update are kept, as in Slack"
    client.chat_update(channel=CHANNEL, ts=ts, text="SEV2 resolved", blocks=[])
    assert not stored["blocks"]

    client.chat_delete(channel=CHANNEL, ts=ts)
    assert standin._find_message(CHANNEL, ts) is None
    assert api_error(lambda: client.chat_update(channel=CHANNEL, ts=ts, text="x")).response["error"] == (
        "message_not_found"
    )


def test_cannot_update_a_human_message(client, standin):
    ts = standin.add_message(CHANNEL, user="U0ALICE", text="help")
    err = api_error(lambda: client.chat_update(channel=CHANNEL, ts=ts, text="edited"))
    assert err.response["error"] == "cant_update_message"


def test_ts_format_and_order(client, standin):
    stamps = [client.chat_postMessage(channel=CHANNEL, text=str(i))["ts"] for i in range(20)]
    assert all(re.fullmatch(r"\d{10}\.\d{6}", ts) for ts in stamps)
    assert [float(ts) for ts in stamps] == sorted(float(ts) for ts in stamps)
    assert len(set(stamps)) == len(stamps)


def test_blocks_as_form_encoded_json_string(client, standin):
    blocks = [{"type": "divider"}]
    response = client.api_call(
        "chat.postMessage", params={"channel": CHANNEL, "text": "x", "blocks": json.dumps(blocks)}
    )
    assert response["ok"]
    assert standin.messages[CHANNEL][-1]["blocks"] == blocks
    too_many = json.dumps([{"type": "divider"}] * (MAX_BLOCKS_PER_MESSAGE + 1))
    err = api_error(lambda: client.api_call("chat.postMessage", params={"channel": CHANNEL, "blocks": too_many}))
    assert err.response["error"] == "invalid_blocks"
    assert isinstance(standin.calls[-1].params["blocks"], str), "params are kept as received"


def section(text):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text="Ack", value="v", action_id="ack"):
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "value": value, "action_id": action_id}


def plain(text):
    return {"type": "plain_text", "text": text}


# Each case: (id, blocks at the limit (accepted), blocks just over it, error)
LIMIT_CASES = [
    (
        "block-count",
        [{"type": "divider"}] * MAX_BLOCKS_PER_MESSAGE,
        [{"type": "divider"}] * (MAX_BLOCKS_PER_MESSAGE + 1),
        "invalid_blocks",
    ),
    ("block-type", [{"type": "divider"}], [{"type": "carousel"}], "invalid_blocks"),
    ("section-text", [section("x" * MAX_SECTION_TEXT)], [section("x" * (MAX_SECTION_TEXT + 1))], "invalid_blocks"),
    (
        "section-field-count",
        [{"type": "section", "fields": [plain("f")] * MAX_SECTION_FIELDS}],
        [{"type": "section", "fields": [plain("f")] * (MAX_SECTION_FIELDS + 1)}],
        "invalid_blocks",
    ),
    (
        "section-field-length",
        [{"type": "section", "fields": [plain("f" * MAX_SECTION_FIELD_TEXT)]}],
        [{"type": "section", "fields": [plain("f" * (MAX_SECTION_FIELD_TEXT + 1))]}],
        "invalid_blocks",
    ),
    (
        "header-length",
        [{"type": "header", "text": plain("h" * MAX_HEADER_TEXT)}],
        [{"type": "header", "text": plain("h" * (MAX_HEADER_TEXT + 1))}],
        "invalid_blocks",
    ),
    (
        "header-plain-text-only",
        [{"type": "header", "text": plain("h")}],
        [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
        "invalid_blocks",
    ),
    (
        "context-elements",
        [{"type": "context", "elements": [plain("c")] * MAX_CONTEXT_ELEMENTS}],
        [{"type": "context", "elements": [plain("c")] * (MAX_CONTEXT_ELEMENTS + 1)}],
        "invalid_blocks",
    ),
    (
        "actions-elements",
        [{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(MAX_ACTIONS_ELEMENTS)]}],
        [{"type": "actions", "elements": [button(action_id=f"a{i}") for i in range(MAX_ACTIONS_ELEMENTS + 1)]}],
        "invalid_blocks",
    ),
    (
        "button-text",
        [{"type": "actions", "elements": [button(text="b" * MAX_BUTTON_TEXT)]}],
        [{"type": "actions", "elements": [button(text="b" * (MAX_BUTTON_TEXT + 1))]}],
        "invalid_blocks",
    ),
    (
        "button-value",
        [{"type": "actions", "elements": [button(value="v" * MAX_BUTTON_VALUE)]}],
        [{"type": "actions", "elements": [button(value="v" * (MAX_BUTTON_VALUE + 1))]}],
        "invalid_blocks",
    ),
    (
        "action-id",
        [{"type": "actions", "elements": [button(action_id="a" * MAX_ID_LENGTH)]}],
        [{"type": "actions", "elements": [button(action_id="a" * (MAX_ID_LENGTH + 1))]}],
        "invalid_blocks",
    ),
    (
        "block-id",
        [{"type": "divider", "block_id": "b" * MAX_ID_LENGTH}],
        [{"type": "divider", "block_id": "b" * (MAX_ID_LENGTH + 1)}],
        "invalid_blocks",
    ),
    (
        "total-block-text",
        [section("x" * 2_000)] * (MAX_BLOCKS_TOTAL_TEXT // 2_000),
        [section("x" * 2_000)] * (MAX_BLOCKS_TOTAL_TEXT // 2_000) + [section("x")],
        "msg_blocks_too_long",
    ),
]


@pytest.mark.parametrize("ok_blocks, bad_blocks, error", [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES])
def test_block_limits(client, standin, ok_blocks, bad_blocks, error):
    assert client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=ok_blocks)["ok"]
    err = api_error(lambda: client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=bad_blocks))
    assert err.response["error"] == error
    messages = err.response["response_metadata"]["messages"]
    assert messages and all(m.startswith("[ERROR]") for m in messages)
    assert standin.calls[-1].failed and standin.calls[-1].error == error


def test_message_text_limit(client):
    assert client.chat_postMessage(channel=CHANNEL, text="t" * MAX_MESSAGE_TEXT)["ok"]
    err = api_error(lambda: client.chat_postMessage(channel=CHANNEL, text="t" * (MAX_MESSAGE_TEXT + 1)))
    assert err.response["error"] == "msg_too_long"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_no_text(client):
    assert api_error(lambda: client.chat_postMessage(channel=CHANNEL)).response["error"] == "no_text"


def test_limits_apply_to_update_and_ephemeral(client):
    ts = client.chat_postMessage(channel=CHANNEL, text="ok")["ts"]
    too_long = [section("x" * (MAX_SECTION_TEXT + 1))]
    err = api_error(lambda: client.chat_update(channel=CHANNEL, ts=ts, text="ok", blocks=too_long))
    assert err.response["error"] == "invalid_blocks"
    err = api_error(lambda: client.chat_postEphemeral(channel=CHANNEL, user="U0ALICE", text="x", blocks=too_long))
    assert err.response["error"] == "invalid_blocks"


def test_ephemeral_is_not_in_history(client, standin):
    response = client.chat_postEphemeral(channel=CHANNEL, user="U0ALICE", text="only you")
    assert response["message_ts"]
    assert standin.ephemerals[-1]["user"] == "U0ALICE"
    assert all(m["text"] != "only you" for m in standin.messages[CHANNEL])


# --------------------------------------------------------------------------- threads & history
def test_history_excludes_replies_and_replies_lists_the_thread(client, standin):
    parent = standin.add_message(CHANNEL, user="U0ALICE", text="db is down")
    first = client.chat_postMessage(channel=CHANNEL, thread_ts=parent, text="looking")["ts"]
    second = standin.add_message(CHANNEL, user="U0ALICE", text="thanks", thread_ts=parent)
    later = client.chat_postMessage(channel=CHANNEL, text="status update")["ts"]

    history = client.conversations_history(channel=CHANNEL)["messages"]
    assert [m["ts"] for m in history] == [later, parent], "top-level only, newest first"
    assert history[1]["reply_count"] == 2 and history[1]["latest_reply"] == second

    thread = client.conversations_replies(channel=CHANNEL, ts=parent)["messages"]
    assert [m["ts"] for m in thread] == [parent, first, second], "parent first, then replies oldest first"

    err = api_error(lambda: client.conversations_replies(channel=CHANNEL, ts="1.000001"))
    assert err.response["error"] == "thread_not_found"


def test_history_window_and_pagination(client, standin):
    stamps = [standin.add_message(CHANNEL, user="U0ALICE", text=str(i)) for i in range(5)]
    window = client.conversations_history(channel=CHANNEL, oldest=stamps[1], latest=stamps[3])["messages"]
    assert [m["ts"] for m in window] == [stamps[2]]
    inclusive = client.conversations_history(channel=CHANNEL, oldest=stamps[1], latest=stamps[3], inclusive=True)
    assert [m["ts"] for m in inclusive["messages"]] == [stamps[3], stamps[2], stamps[1]]

    seen, cursor = [], None
    while True:
        page = client.conversations_history(channel=CHANNEL, limit=2, cursor=cursor)
        seen += [m["ts"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == list(reversed(stamps))


def test_system_messages_like_slack(client, standin):
    client.conversations_invite(channel=CHANNEL, users="U0ALICE")
    client.conversations_setTopic(channel=CHANNEL, topic="SEV1")
    subtypes = [m.get("subtype") for m in client.conversations_history(channel=CHANNEL)["messages"]]
    assert subtypes == ["channel_topic", "channel_join"]


def test_permalink(client, standin):
    parent = standin.add_message(CHANNEL, user="U0ALICE", text="p", ts="1718000000.000100")
    reply = client.chat_postMessage(channel=CHANNEL, thread_ts=parent, text="r")["ts"]
    link = client.chat_getPermalink(channel=CHANNEL, message_ts=parent)["permalink"]
    assert link == f"https://example.slack.com/archives/{CHANNEL}/p1718000000000100"
    reply_link = client.chat_getPermalink(channel=CHANNEL, message_ts=reply)["permalink"]
    assert reply_link.endswith(f"?thread_ts={parent}&cid={CHANNEL}")
    err = api_error(lambda: client.chat_getPermalink(channel=CHANNEL, message_ts="1.000002"))
    assert err.response["error"] == "message_not_found"


def test_reactions(client, standin):
    ts = standin.add_message(CHANNEL, user="U0ALICE", text="fire")
    client.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes")
    assert standin._find_message(CHANNEL, ts)["reactions"][0]["users"] == ["UBOT"]
    again = api_error(lambda: client.reactions_add(channel=CHANNEL, timestamp=ts, name="eyes"))
    assert again.response["error"] == "already_reacted"
    client.reactions_remove(channel=CHANNEL, timestamp=ts, name="eyes")
    missing = api_error(lambda: client.reactions_remove(channel=CHANNEL, timestamp=ts, name="eyes"))
    assert missing.response["error"] == "no_reaction"


# --------------------------------------------------------------------------- files, views, canvases
def test_files_upload_v2_round_trip(client, standin):
    content = b"timeline\n\x00\x01 binary-safe \xff"
    response = client.files_upload_v2(
        channel=CHANNEL, content=content, filename="timeline.txt", title="Timeline", initial_comment="postmortem"
    )
    file_id = response["file"]["id"]
    stored = standin.files[file_id]
    assert stored["content"] == content
    assert stored["title"] == "Timeline"
    assert stored["channels"] == [CHANNEL]
    message = standin.messages[CHANNEL][-1]
    assert message["text"] == "postmortem"
    assert message["files"][0]["id"] == file_id
    assert [c.method for c in standin.calls] == ["files.getUploadURLExternal", "files.completeUploadExternal"]


def test_views(client, standin):
    modal = {"type": "modal", "title": plain("Declare incident"), "blocks": [section("hi")], "external_id": "decl-1"}
    view = client.views_open(trigger_id="123.456", view=modal)["view"]
    assert view["id"].startswith("V")
    updated = client.views_update(external_id="decl-1", view={**modal, "blocks": []})["view"]
    assert updated["id"] == view["id"]

    long_title = {**modal, "title": plain("t" * 25)}
    assert api_error(lambda: client.views_open(trigger_id="1", view=long_title)).response["error"] == (
        "invalid_arguments"
    )
    standin.expired_triggers.add("old.trigger")
    assert api_error(lambda: client.views_open(trigger_id="old.trigger", view=modal)).response["error"] == (
        "expired_trigger_id"
    )


def test_canvases(client, standin):
    content = {"type": "markdown", "markdown": "# Postmortem"}
    canvas_id = client.conversations_canvases_create(channel_id=CHANNEL, document_content=content)["canvas_id"]
    assert standin.canvases[canvas_id]["markdown"] == "# Postmortem"
    assert client.canvases_create(title="Notes", document_content=content)["canvas_id"] in standin.canvases
    standin.canvases_enabled = False
    err = api_error(lambda: client.canvases_create(title="Notes", document_content=content))
    assert err.response["error"] == "canvas_disabled_for_team"


# --------------------------------------------------------------------------- faults
def test_rate_limit_is_seen_by_the_client(client, standin):
    standin.fail("chat.postMessage", status=429, retry_after=7)
    err = api_error(lambda: client.chat_postMessage(channel=CHANNEL, text="x"))
    assert err.response.status_code == 429
    assert err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel=CHANNEL, text="x")["ok"], "only the next call fails"
    first, second = standin.calls_to("chat.postMessage")
    assert first.failed and first.status == 429 and not second.failed


def test_rate_limit_with_the_sdk_retry_handler(standin):
    retrying = WebClient(token="xoxb-test", base_url=standin.base_url)
    retrying.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    standin.fail("chat.postMessage", status=429, retry_after=0, times=2)
    assert retrying.chat_postMessage(channel=CHANNEL, text="x")["ok"]
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 429, 200]


def test_server_error_and_injected_error(client, standin):
    standin.fail("conversations.create", status=503)
    err = api_error(lambda: client.conversations_create(name="inc-x"))
    assert err.response.status_code == 503
    assert standin.calls[-1].error == "http_503"
    standin.fail("conversations.create", status=200, error="restricted_action")
    assert api_error(lambda: client.conversations_create(name="inc-x")).response["error"] == "restricted_action"
    assert client.conversations_create(name="inc-x")["ok"]


def test_a_lost_answer_does_the_work_and_resets_the_connection(standin):
    client = WebClient(token="xoxb-test", base_url=standin.base_url, timeout=5, retry_handlers=[])
    standin.fail("chat.postMessage", mode="lost_answer", channel=CHANNEL)
    with pytest.raises(ConnectionError):
        client.chat_postMessage(channel=CHANNEL, text="posted, answer lost")
    [call] = standin.calls_to("chat.postMessage")
    assert call.lost and not call.failed
    assert [m["text"] for m in standin.messages[CHANNEL]] == ["posted, answer lost"]
    assert client.chat_postMessage(channel=CHANNEL, text="next")["ok"], "only the next call is lost"


def test_502_and_504_are_html_pages(client, standin):
    for status in (502, 504):
        standin.fail("conversations.create", status=status)
        err = api_error(lambda: client.conversations_create(name="inc-x"))
        assert err.response.status_code == status
        assert "<html>" in str(err.response.data) or "non-JSON" in str(err.response.data)
    assert not [c for c in standin.channels.values() if c["name"] == "inc-x"]


def test_a_non_json_200_and_a_slow_answer(client, standin):
    standin.fail("conversations.setTopic", mode="non_json", body="<html>proxy</html>")
    err = api_error(lambda: client.conversations_setTopic(channel=CHANNEL, topic="t"))
    assert err.response.status_code == 200 and standin.calls[-1].error == "invalid_response"
    standin.fail("conversations.setTopic", mode="non_json")  # a cut-off JSON body
    with pytest.raises(ValueError):
        client.conversations_setTopic(channel=CHANNEL, topic="t")
    standin.fail("conversations.setTopic", mode="slow", seconds=1.5)
    quick = WebClient(token="xoxb-test", base_url=standin.base_url, timeout=1, retry_handlers=[])
    with pytest.raises(TimeoutError):
        quick.conversations_setTopic(channel=CHANNEL, topic="set before the late answer")
    assert standin.channels[CHANNEL]["topic"] == "set before the late answer"
    with pytest.raises(ValueError):
        standin.fail("chat.postMessage", mode="no_such_mode")


# --------------------------------------------------------------------------- response_url
def test_response_url_allows_five_uses(standin):
    url = standin.response_url()
    webhook = WebhookClient(url)
    statuses = [webhook.send(text=f"update {i}").status_code for i in range(RESPONSE_URL_MAX_USES)]
    assert statuses == [200] * RESPONSE_URL_MAX_USES
    sixth = webhook.send(text="one too many")
    assert sixth.status_code == 404 and sixth.body == "used_url"
    assert len(standin.responses) == RESPONSE_URL_MAX_USES + 1
    assert standin.responses[-1].rejected == "used_url"
    assert standin.responses[0].payload == {"text": "update 0"}
    assert url.rsplit("/", 1)[1] == standin.responses[0].token


def test_response_url_validates_blocks(standin):
    webhook = WebhookClient(standin.response_url())
    response = webhook.send(text="x", blocks=[{"type": "header", "text": plain("h" * (MAX_HEADER_TEXT + 1))}])
    assert response.status_code == 400 and response.body == "invalid_blocks"
    assert standin.responses[-1].rejected == "invalid_blocks"
    ok = webhook.send(text="in channel", response_type="in_channel", replace_original=True)
    assert ok.status_code == 200 and ok.body == "ok"
    assert standin.wait_for_responses(where=lambda r: r.rejected is None)[0].payload["response_type"] == "in_channel"


# --------------------------------------------------------------------------- waiting
def test_wait_for_sees_calls_from_another_thread(client, standin):
    def later():
        time.sleep(0.1)
        client.chat_postMessage(channel=CHANNEL, text="from a worker")

    worker = threading.Thread(target=later)
    worker.start()
    calls = standin.wait_for("chat.postMessage", timeout=5, where=lambda c: c.params.get("text") == "from a worker")
    worker.join()
    assert calls[0].params["channel"] == CHANNEL
    assert standin.messages[CHANNEL][-1]["text"] == "from a worker", "state is updated when wait_for returns"


def test_wait_for_timeout_message_lists_calls(client, standin):
    client.auth_test()
    client.conversations_info(channel=CHANNEL)
    started = time.monotonic()
    with pytest.raises(AssertionError) as caught:
        standin.wait_for("chat.postMessage", count=2, timeout=0.2)
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert "2 call(s) to chat.postMessage" in message
    assert "auth.test" in message and f"conversations.info [ok] channel={CHANNEL}" in message


def test_wait_for_responses_timeout(standin):
    with pytest.raises(AssertionError, match="response_url post"):
        standin.wait_for_responses(timeout=0.05)
