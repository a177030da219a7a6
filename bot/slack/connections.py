"""Keep-alive connections to Slack, shared by the Web API client and response_url answers.

slack_sdk sends each call with urllib, which opens a new connection (and, to slack.com, a new TLS
handshake) every time and closes it after the answer. Slack speaks HTTP/1.1 keep-alive, so this
module keeps idle connections per host and sends the next call on one of them.

It keeps urllib's contract exactly, because the gateway's fault handling rests on it: a request
that could not be sent raises `URLError` (Slack never saw it: safe to send again), an error while
waiting for the answer is raised as it is (Slack may have acted: the gateway looks before creating
anything twice), and an answer outside 2xx raises `HTTPError`. What keep-alive adds is one case: a
connection Slack closed while it sat idle. It is checked before reuse (a closed socket reads as
ready). One closed in the instant between that check and the write fails either the write (`URLError`:
sent again by the SDK's retry handler) or the wait for the answer (a lost answer, handled as any other:
slower, never doubled).

Where urllib would go through a proxy (`HTTPS_PROXY` …) the call is left to urllib.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl
import threading
import time
import urllib.request
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

MAX_IDLE_PER_HOST = 16
# A connection idle longer than this is closed rather than kept: load balancers drop idle
# connections after a minute or so, and a host the bot stopped calling should not hold sockets.
MAX_IDLE_SECONDS = 45.0

_Key = tuple[str, str, int, int]  # scheme, host, port, id of the TLS context


class Answer:
    """What urllib's response offers the SDK: the status, the headers, the body (read already)."""

    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status = self.code = status
        self.headers = headers
        self._body = body

    def read(self) -> bytes:
        return self._body

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class ConnectionPool:
    def __init__(self, max_idle_per_host: int = MAX_IDLE_PER_HOST, max_idle_seconds: float = MAX_IDLE_SECONDS):
        self._idle: dict[_Key, list[tuple[float, http.client.HTTPConnection]]] = {}
        self._max_idle_seconds = max_idle_seconds
        self._lock = threading.Lock()
        self._max_idle = max_idle_per_host
        self.opened = 0  # connections made so far (the bench and tests read it)

    def urlopen(self, request: urllib.request.Request, *, timeout: float, context: ssl.SSLContext | None) -> Any:
        """Send `request` as urllib.request.urlopen would, on a kept connection where possible."""
        parts = urlsplit(request.full_url)
        scheme = parts.scheme.lower()
        proxies = urllib.request.getproxies()  # read now: urlopen's own opener keeps the first it saw
        if scheme not in ("http", "https") or not parts.hostname or _proxied(proxies, scheme, parts.hostname):
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler(proxies), urllib.request.HTTPSHandler(context=context)
            )
            return opener.open(request, timeout=timeout)
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, parts.hostname, port, id(context) if context else 0)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = self._take(key, timeout, context)
        try:
            connection.request(request.get_method(), target, body=request.data, headers=dict(request.header_items()))
        except OSError as err:
            connection.close()
            raise URLError(err) from err  # not sent, as urllib says it
        try:
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            connection.close()
            raise  # the request went out: whether Slack acted is the caller's question
        if response.will_close:
            connection.close()
        else:
            self._give_back(key, connection)
        if not 200 <= response.status < 300:
            raise HTTPError(request.full_url, response.status, response.reason, response.msg, io.BytesIO(body))
        return Answer(response.status, response.msg, body)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for _, connection in connections:
                connection.close()

    def _take(self, key: _Key, timeout: float, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                since, connection = idle.pop() if idle else (0.0, None)
            if connection is None:
                break
            if time.monotonic() - since < self._max_idle_seconds and _still_open(connection):
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                return connection
            connection.close()
        scheme, host, port, _ = key
        with self._lock:
            self.opened += 1
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _give_back(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        now = time.monotonic()
        stale: list[http.client.HTTPConnection] = []
        with self._lock:
            for other, entries in list(self._idle.items()):  # also hosts no longer called
                kept = []
                for since, idle_connection in entries:
                    if now - since < self._max_idle_seconds:
                        kept.append((since, idle_connection))
                    else:
                        stale.append(idle_connection)
                if kept:
                    self._idle[other] = kept
                else:
                    del self._idle[other]
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._max_idle:
                idle.append((now, connection))
            else:
                stale.append(connection)
        for old in stale:
            old.close()


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle connection has nothing to read: readable means the server closed it (or broke the
    protocol), either way not one to send on."""
    sock = connection.sock
    if sock is None:
        return False
    poller = select.poll()  # not select(): it fails on descriptors above 1023
    poller.register(sock, select.POLLIN)
    try:
        return not poller.poll(0)
    except OSError:
        return False


def _proxied(proxies: dict[str, str], scheme: str, host: str) -> bool:
    return bool(proxies.get(scheme)) and not urllib.request.proxy_bypass(host)


# One pool per process: every Slack call of the process shares it.
SLACK = ConnectionPool()
