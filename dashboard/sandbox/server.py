"""The sandbox on a real socket: a threaded HTTP/1.1 server and the handle tests drive it with.

``start()`` binds, generates the data set, serves on a daemon thread and returns a
:class:`Sandbox`: its base URL (both the Talkdesk ID host and the API host), the data it serves,
every request it received, and switches for faults, latency and token expiry.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TextIO

from dashboard.sandbox.app import (
    DEFAULT_REDIRECT_URIS,
    RecordedRequest,
    SandboxApp,
)
from dashboard.sandbox.data import SandboxData, generate

__all__ = ["DEFAULT_REDIRECT_URIS", "RecordedRequest", "Sandbox", "start"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind its load balancer
    server_version = "talkdesk-sandbox"
    sys_version = ""
    # Idle keep-alive connections are dropped after this long, as load balancers do.
    timeout = 120
    # Headers and body go out in separate writes; with Nagle's algorithm on, the body waits for
    # the client's delayed ACK and every small response takes 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            return None
        if length < 0:
            return None
        return self.rfile.read(length)

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            self.send_error(400, "Bad request body")
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        response = self.server.app.handle(self.command, self.path, headers, body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        log = self.server.access_log
        if log is not None:
            log.write(f"{self.address_string()} - {format % args}\n")
            log.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 stalls a burst of new connections (fan-outs of
    # dozens of calls) for a second; Talkdesk's load balancers accept them at once.
    request_queue_size = 128
    app: SandboxApp

    def __init__(self, host: str, port: int, access_log: TextIO | None) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.access_log = access_log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Wake handler threads parked on idle keep-alive connections so stop() is prompt."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _base_url(host: str, port: int) -> str:
    # A wildcard bind is reachable on loopback; links must name a host a client can dial.
    if host in {"", "0.0.0.0"}:
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Sandbox:
    """A running sandbox. Use :func:`start` to get one; :meth:`stop` when done.

    ``requests`` is the live, thread-safe log of every request received (in the order they were
    answered). ``latency_ms`` and ``error_rate`` may be changed while it runs.
    """

    def __init__(
        self,
        server: _Server,
        thread: threading.Thread,
        app: SandboxApp,
        *,
        latency_ms: int,
        error_rate: float,
    ) -> None:
        self._server = server
        self._thread = thread
        self._app = app
        self._initial_latency_ms = latency_ms
        self._initial_error_rate = error_rate
        self.base_url: str = app.base_url
        self.client_id: str = app.client_id
        self.client_secret: str = app.client_secret
        self.data: SandboxData = app.data
        self.requests: list[RecordedRequest] = app.requests

    @property
    def app(self) -> SandboxApp:
        return self._app

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return tuple(self._app.redirect_uris)

    @property
    def latency_ms(self) -> int:
        return self._app.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: int) -> None:
        self._app.latency_ms = value

    @property
    def error_rate(self) -> float:
        return self._app.error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        self._app.error_rate = value

    def clear_requests(self) -> None:
        self._app.clear_requests()

    def register_redirect_uri(self, uri: str) -> None:
        self._app.register_redirect_uri(uri)

    def issue_tokens(
        self,
        user_id: str | None = None,
        scopes: Iterable[str] | None = None,
        ttl: int | None = None,
    ) -> dict[str, Any]:
        """Tokens as a completed authorization-code grant would return them, minus the browser.

        ``user_id`` defaults to the first agent; ``scopes`` to every scope the sandbox knows
        (unknown ones are dropped, as at authorize); ``ttl`` to the sandbox's token TTL.
        """
        agent = self.data.agents[0] if user_id is None else self.data.agents_by_id.get(user_id)
        if agent is None:
            raise ValueError(f"no agent with id {user_id!r}")
        granted = self._app.granted_scopes(None if scopes is None else " ".join(scopes))
        return self._app.tokens.issue(agent, granted, ttl=ttl)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far now answers 401, as after its expiry."""
        self._app.tokens.expire_access_tokens()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far now answers ``invalid_grant``."""
        self._app.tokens.revoke_refresh_tokens()

    def fail_next(
        self,
        count: int,
        kind: str,
        *,
        retry_after: int = 1,
        delay: float = 0.0,
        path_prefix: str = "/",
    ) -> None:
        """Give the next ``count`` requests whose path starts with ``path_prefix`` a fault.

        Kinds: ``"500"`` (JSON system error), ``"502"`` (HTML page), ``"503"`` (HTML page with
        Retry-After), ``"429"`` (JSON rate limit with Retry-After), ``"malformed"`` (200 with a
        truncated JSON body), ``"delay"`` (sleep ``delay`` seconds, then answer normally). A
        ``delay`` given with another kind sleeps before that fault.
        """
        self._app.fail_next(
            count, kind, retry_after=retry_after, delay=delay, path_prefix=path_prefix
        )

    def clear_faults(self) -> None:
        self._app.clear_faults()

    def reset(self) -> None:
        """Pending faults dropped; latency and error rate back to their start values."""
        self._app.clear_faults()
        self._app.latency_ms = self._initial_latency_ms
        self._app.error_rate = self._initial_error_rate

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    cases: int = 10_000,
    seed: int = 42,
    latency_ms: int = 0,
    error_rate: float = 0.0,
    token_ttl: int = 600,
    client_id: str = "casebook-demo",
    client_secret: str = "casebook-demo-secret",
    redirect_uris: Iterable[str] = DEFAULT_REDIRECT_URIS,
    now: datetime | None = None,
    access_log: TextIO | None = None,
    record_requests: bool = True,
) -> Sandbox:
    """Bind ``host:port`` (0 = a free port), generate the data and serve on a daemon thread.

    ``now`` pins the data set's clock (default: the current time); ``access_log`` receives
    one line per request; ``record_requests=False`` keeps ``requests`` empty, so a long-running
    demo does not grow without bound.
    """
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    server = _Server(host, port, access_log)
    try:
        data = generate(seed=seed, cases=cases, now=now)
        bound_port = server.server_address[1]
        app = SandboxApp(
            data,
            _base_url(host, bound_port),
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
            token_ttl=token_ttl,
            latency_ms=latency_ms,
            error_rate=error_rate,
            seed=seed,
            record_requests=record_requests,
        )
    except BaseException:
        server.server_close()
        raise
    server.app = app
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"talkdesk-sandbox:{bound_port}",
        daemon=True,
    )
    thread.start()
    return Sandbox(server, thread, app, latency_ms=latency_ms, error_rate=error_rate)
