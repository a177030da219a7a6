"""Only the workspace the bot is installed in is served.

A request signed with our secret can still come from another workspace (the same app installed
twice) or from a sibling workspace of an Enterprise Grid org. It is refused before it is stored
or acted on: a command gets a short line, anything else an empty 200 (an event refused with an
error would only be re-sent by Slack).

Whose workspace this is comes from `auth.test` (handlers/authorization.py, learnt in the
background at start). Until that has answered, requests are served: the signature already proves
they come from Slack for this app, refusing would turn a slow or failing `auth.test` into a bot
that answers nobody (see tests/test_http.py), and the window is the few seconds after a start.
Requests that name no workspace at all (Slack's URL verification and SSL check) carry no
workspace data and are let through too.
"""

from __future__ import annotations

import logging

from slack_bolt.request import BoltRequest
from slack_bolt.request.payload_utils import is_slash_command
from slack_bolt.response import BoltResponse

from handlers.authorization import BotIdentity

logger = logging.getLogger("incident_bot.guard")

REFUSAL = (
    "This incident bot serves another Slack workspace; nothing was done. "
    "Use the incident bot installed in this workspace."
)


def is_ours(identity: BotIdentity, team_id: str | None, enterprise_id: str | None) -> bool:
    if not identity.known.is_set() or (team_id is None and enterprise_id is None):
        return True
    if identity.is_enterprise_install:  # an org-wide install serves every workspace of its org
        return enterprise_id == identity.enterprise_id
    if identity.enterprise_id and enterprise_id and enterprise_id != identity.enterprise_id:
        return False
    return team_id == identity.team_id


def refuse_foreign(request: BoltRequest, identity: BotIdentity) -> BoltResponse | None:
    """A response refusing the request when it is from another workspace; None to serve it."""
    context = request.context
    if is_ours(identity, context.team_id, context.enterprise_id):
        return None
    logger.warning(
        "refused a request from workspace %s (enterprise %s): this bot serves %s",
        context.team_id,
        context.enterprise_id,
        identity.team_id,
    )
    if is_slash_command(request.body):
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": REFUSAL})
    return BoltResponse(status=200, body="")
