"""HTTP for the Talkdesk client: the only module that touches requests and urllib3.

Every call has a connect timeout, a read timeout and a wall-clock budget, because requests'
read timeout bounds each socket read, not the call (reference B3). Only GET is retried, only
on connection errors, 429, 502, 503 and 504, at most `retries` times and never sleeping past
`max_retry_wait`: an interactive page says "retry in N s" rather than holding a worker.

The token endpoint is called with plain requests rather than requests-oauthlib's OAuth2Session:
that class needs OAUTHLIB_INSECURE_TRANSPORT (a process-wide switch) to talk to the sandbox
over loopback http, logs whole token responses at DEBUG (requests-oauthlib issue #536), and
its refresh path is the one DESIGN §3 habit 7 rules out. A form POST with HTTP Basic client
authentication is all Talkdesk's token endpoint needs.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth

from .errors import (
    BadResponse,
    TalkdeskError,
    UpstreamError,
    UpstreamTimeout,
    error_from_response,
    parse_retry_after,
)
from .hosts import check_base_url

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Bigger than any real page (500 cases); a body past this is treated as broken, not buffered.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_READ_SIZE = 64 * 1024


class _BearerToken(AuthBase):
    """Sets the Authorization header; passing any auth also stops requests reading ~/.netrc."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<_BearerToken (hidden)>"


class _ConnectionFailed(Exception):
    """No HTTP response at all (refused, reset, DNS): the one failure worth a quick retry."""


class Transport:
    """Thread-safe HTTP transport: one requests.Session (and connection pool) per thread.

    Share one instance per process; sessions of threads that have finished are closed the next
    time a thread needs a new one, and all of them by close().
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        budget: float = 15.0,
        retries: int = 1,
        max_retry_wait: float = 2.0,
        user_agent: str = "Casebook/0.1",
        pool_maxsize: int = 8,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.budget = budget
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.user_agent = user_agent
        self.pool_maxsize = pool_maxsize
        self._sessions: dict[threading.Thread, requests.Session] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every session (and so every pooled connection) this transport opened."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()

    def get_json(
        self, url: str, params: list[tuple[str, str]], token: str, *, required_scope: str | None
    ) -> Any:
        """GET `url` with `params` as the bearer of `token` and return the decoded JSON.

        Raises a TalkdeskError: the status ladder's exception for a non-2xx answer,
        UpstreamTimeout when the budget runs out, BadResponse for a 2xx that is not JSON.
        """
        check_base_url(url, name="The Talkdesk request URL")
        # %20 for spaces and %2B for "+", so any server reads the query the same way
        # (requests would send "+" for a space, which only form decoders understand).
        full_url = f"{url}?{urlencode(params, quote_via=quote, safe='')}" if params else url
        path = urlsplit(url).path
        deadline = time.monotonic() + self.budget
        attempt = 0
        while True:
            wait: float | None
            try:
                status, body, headers = self._send(
                    "GET", full_url, deadline, auth=_BearerToken(token)
                )
            except _ConnectionFailed as exc:
                wait = self._backoff(attempt)
                failure: TalkdeskError = UpstreamError(
                    "Casebook could not connect to Talkdesk. Try again in a moment."
                )
                failure.__cause__ = exc  # what `raise ... from exc` would record
            else:
                if 200 <= status < 300:
                    return _decode_json(body)
                wait = self._retry_wait(status, headers, attempt)
                failure = error_from_response(status, body, headers, required_scope=required_scope)
            if wait is None or attempt >= self.retries or time.monotonic() + wait >= deadline:
                raise failure
            reason = f"HTTP {failure.status}" if failure.status else "no connection"
            logger.warning("Talkdesk GET %s: %s, retrying in %.1f s", path, reason, wait)
            time.sleep(wait)
            attempt += 1

    def post_token(
        self, token_url: str, form: dict[str, str], client_id: str, client_secret: str
    ) -> Any:
        """POST an OAuth token request with HTTP Basic client authentication; never retried.

        A retried POST could spend a rotating refresh token twice (reference B2).
        """
        check_base_url(token_url, name="The Talkdesk token URL")
        deadline = time.monotonic() + self.budget
        try:
            status, body, headers = self._send(
                "POST",
                token_url,
                deadline,
                data=form,
                # Talkdesk documents base64(client_id:client_secret) without form-encoding
                # the parts first, which is what HTTPBasicAuth sends.
                auth=HTTPBasicAuth(client_id, client_secret),
            )
        except _ConnectionFailed as exc:
            raise UpstreamError(
                "Casebook could not connect to Talkdesk's sign-in service. Try again in a moment."
            ) from exc
        if 200 <= status < 300:
            return _decode_json(body)
        raise error_from_response(status, body, headers, required_scope=None, token_endpoint=True)

    def _retry_wait(self, status: int, headers: Mapping[str, str], attempt: int) -> float | None:
        """Seconds to wait before retrying this answer, or None when it must not be retried."""
        if status not in RETRYABLE_STATUSES:
            return None
        retry_after = parse_retry_after(headers.get("Retry-After"))
        wait = self._backoff(attempt) if retry_after is None else float(retry_after)
        return wait if wait <= self.max_retry_wait else None

    def _backoff(self, attempt: int) -> float:
        # Jitter spreads the retries of the export's parallel page fetches.
        return min(self.max_retry_wait, 0.25 * 2.0**attempt + random.uniform(0, 0.1))

    def _send(
        self, method: str, url: str, deadline: float, **kwargs: Any
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """One attempt: status, whole body and headers, within what is left of the budget."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout()
        timeout = (min(self.connect_timeout, remaining), min(self.read_timeout, remaining))
        try:
            with self._session().request(
                method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs
            ) as response:
                body = self._read_body(response.raw, deadline)
                return response.status_code, body, response.headers
        except requests.exceptions.ReadTimeout as exc:
            raise UpstreamTimeout() from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise UpstreamTimeout() from exc
        except requests.exceptions.SSLError as exc:
            raise UpstreamError("Casebook could not make a secure connection to Talkdesk.") from exc
        except requests.exceptions.ConnectionError as exc:
            if isinstance(exc.args[0] if exc.args else None, urllib3.exceptions.ReadTimeoutError):
                raise UpstreamTimeout() from exc
            raise _ConnectionFailed() from exc
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
            # A connection broken mid-body, an undecodable compressed body, and the like.
            raise UpstreamError(
                "Talkdesk's answer was cut off or garbled. Try again in a moment."
            ) from exc

    def _read_body(self, raw: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        # read1() returns after one socket read, so a body trickling in slowly is still
        # stopped by the budget, which a single read() of the whole body would not notice.
        body = bytearray()
        while chunk := raw.read1(_READ_SIZE, decode_content=True):
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise BadResponse("Talkdesk sent a response too large for Casebook to read.")
            if time.monotonic() > deadline:
                raise UpstreamTimeout()
        # The body was read to its end, so the connection can go back to the pool.
        raw.release_conn()
        return bytes(body)

    def _session(self) -> requests.Session:
        thread = threading.current_thread()
        with self._lock:
            session = self._sessions.get(thread)
            if session is None:
                for finished in [t for t in self._sessions if not t.is_alive()]:
                    self._sessions.pop(finished).close()
                session = self._sessions[thread] = self._new_session()
        return session

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update({"User-Agent": self.user_agent, "Accept": "application/json"})
        # Retries are ours (above), so urllib3's own are off.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.pool_maxsize, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise BadResponse(
            "Talkdesk sent a response Casebook could not read (it is not JSON)."
        ) from None
