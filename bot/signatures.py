"""Constant-time checks of the credentials webhooks and scrapers send: a bearer token, and the
HMAC-SHA256 of a raw body in a `sha256=<hex>` header. One place, so every surface (monitoring
hooks, tracker hooks, /metrics) compares the same way."""

from __future__ import annotations

import hashlib
import hmac


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def bearer_matches(token: str, authorization: str | None) -> bool:
    """`Authorization: Bearer <token>`."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def sha256_matches(secret: str, body: bytes, header: str | None) -> bool:
    """`sha256=<hex>`: GitHub's X-Hub-Signature-256, Jira's X-Hub-Signature, the generic hook's header."""
    scheme, _, given = (header or "").partition("=")
    return scheme == "sha256" and hmac.compare_digest(given.strip().lower().encode(), hex_hmac(secret, body).encode())
