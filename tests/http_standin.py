"""What the tracker stand-ins share: a loopback HTTP server that records calls and injects faults.

Faults are told per route (a verb and a path pattern) and used up in order: an error status with
its body and headers (401, 404, 410, 422, 429 + Retry-After, 5xx), a slow answer, or a lost answer
(the request is carried out, then the connection closes without a response — what a client sees
when the network drops after the write).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Call:
    verb: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    verb: str
    pattern: re.Pattern[str]
    times: int
    status: int | None = None  # answer this instead
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # answer late
    lose_answer: bool = False  # do the work, then drop the connection


class Route:
    def __init__(self, verb: str, pattern: str, handler: Callable[..., Answer]):
        self.verb, self.pattern, self.handler = verb, re.compile(pattern + r"/?$"), handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HttpStandIn:
    """Subclasses add routes (`route(verb, pattern)` methods) and the service's state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.routes: list[Route] = []
        self._server: _Server | None = None

    # -- life ------------------------------------------------------------------------------------
    def start(self) -> HttpStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                standin._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    # -- faults ----------------------------------------------------------------------------------
    def fail(
        self,
        verb: str,
        pattern: str,
        status: int,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self.lock:
            self.faults.append(Fault(verb, re.compile(pattern), times, status=status, body=body, headers=headers or {}))

    def slow(self, verb: str, pattern: str, seconds: float, *, times: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(verb, re.compile(pattern), times, delay=seconds))

    def lose_answer(self, verb: str, pattern: str, *, times: int = 1) -> None:
        with self.lock:
            self.faults.append(Fault(verb, re.compile(pattern), times, lose_answer=True))

    def _fault_for(self, verb: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.verb == verb and fault.pattern.search(path):
                    fault.times -= 1
                    return fault
        return None

    # -- calls -----------------------------------------------------------------------------------
    def calls_to(self, verb: str, pattern: str) -> list[Call]:
        compiled = re.compile(pattern)
        with self.lock:
            return [c for c in self.calls if c.verb == verb and compiled.search(c.path)]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            time.sleep(0.02)
        raise AssertionError("the stand-in never saw what was expected")

    def authorized(self, headers: dict[str, str]) -> bool:
        return True

    def unauthorized(self) -> Answer:
        return Answer(401, {"message": "Bad credentials"})

    # -- serving ---------------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        verb = request.command
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self.lock:
            self.calls.append(Call(verb, parts.path, query, headers, body))
        fault = self._fault_for(verb, parts.path)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status is not None:
            answer = Answer(
                fault.status, fault.body if fault.body is not None else {"message": "injected"}, fault.headers
            )
        elif not self.authorized(headers):
            answer = self.unauthorized()
        else:
            answer = self._route(verb, parts.path, query, body, headers)
        if fault and fault.lose_answer:
            request.close_connection = True
            try:
                request.connection.shutdown(2)
            except OSError:
                pass
            return
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        request.send_response(answer.status)
        for name, value in answer.headers.items():
            request.send_header(name, value)
        if payload:
            request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def _route(self, verb: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]) -> Answer:
        for route in self.routes:
            if route.verb != verb:
                continue
            match = route.pattern.match(path)
            if match:
                with self.lock:
                    return route.handler(*match.groups(), query=query, body=body, headers=headers)
        return Answer(404, {"message": "Not Found"})
