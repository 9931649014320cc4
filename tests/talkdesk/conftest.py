"""A scriptable HTTP server on a free loopback port, for transport behaviour the sandbox cannot
stage (slow bodies, redirects, foreign hosts, raw request lines)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dashboard.talkdesk import Transport


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # bytes are sent as they are, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    drip: float = 0.0  # between body bytes


@dataclass
class Seen:
    method: str
    target: str  # the raw request target, e.g. "/users?page=1"
    headers: dict[str, str]
    body: bytes


class StubServer:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                stub._handle(self)

            def do_POST(self) -> None:
                stub._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def reply(self, *replies: Reply) -> None:
        """Queue replies, used in order; once they run out every request gets `200 {}`."""
        with self._lock:
            self.replies.extend(replies)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        seen = Seen(
            method=handler.command,
            target=handler.path,
            headers=dict(handler.headers.items()),
            body=handler.rfile.read(length),
        )
        with self._lock:
            self.requests.append(seen)
            reply = self.replies.pop(0) if self.replies else Reply()
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            time.sleep(reply.delay)
            handler.send_response(reply.status)
            headers = {"Content-Type": "application/json", **reply.headers}
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if reply.drip:
                for byte in body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(reply.drip)
            else:
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first, which is what timeout tests want


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.stop()


@pytest.fixture
def foreign() -> Iterator[StubServer]:
    """A second server standing for a host Casebook must never call."""
    server = StubServer()
    yield server
    server.stop()


@pytest.fixture
def transport() -> Iterator[Transport]:
    """A transport with short timeouts so failure tests finish quickly."""
    with Transport(connect_timeout=1.0, read_timeout=0.5, budget=2.5) as instance:
        yield instance
