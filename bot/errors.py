"""Errors a user can act on, and the error id that ties an unexpected failure to its log line."""

from __future__ import annotations

import logging
import secrets


class UserError(Exception):
    """Something the user asked for cannot be done as asked; str() is the whole reply (mrkdwn)."""


class NotFound(UserError):
    pass


class PermissionDenied(UserError):
    pass


def report_unexpected(logger: logging.Logger, what: str) -> str:
    """Log the exception being handled with a traceback and a short id; return the id for the user."""
    error_id = secrets.token_hex(4)
    logger.exception("unexpected error %s while %s", error_id, what, extra={"error_id": error_id})
    return error_id


def unexpected_error_text(error_id: str) -> str:
    return (
        f":warning: Something went wrong on our side (error id `{error_id}`). "
        "Part of what you asked may not have happened: check (for example with `/incident timeline`) "
        f"before trying again, and give the id `{error_id}` to whoever runs incident-bot."
    )
