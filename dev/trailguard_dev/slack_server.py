"""A local stand-in for Slack: a real HTTP server on 127.0.0.1 that slack_sdk's clients can talk to.

``POST /api/chat.postMessage`` (JSON or form body, ``Authorization: Bearer <token>``) answers as the Web API
does (``{"ok": true, "channel", "ts"}``, or ``ok: false`` with Slack's error codes); a POST to any other path
is an incoming webhook (JSON ``{"text", "blocks"}``) answering ``200 ok``. Every request is counted in
``attempts`` as it arrives and recorded in ``requests`` once answered; the ones Slack would have posted are
also in ``messages``. It can be told to misbehave for the next N
requests (answer 500, answer 429 with ``Retry-After``, hang before answering) or to refuse connections.

    with SlackServer() as slack:
        slack.fail_next(1)                  # the next request gets 500, the one after is posted
        ...post to slack.webhook_url or WebClient(token, base_url=slack.api_url)...
        assert slack.attempts == 2 and len(slack.messages) == 1

A request that hangs is answered normally afterwards and counts as posted: like a slow Slack, the message
arrives even though the client may have given up waiting (``wait_for_messages`` waits for it).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

API_PREFIX = "/api/"
WEBHOOK_PATH = "/services/T0000TEST/B0000TEST/localwebhooksecret0000"


@dataclass(frozen=True)
class Received:
    """One request as the server saw it: ``body`` is the parsed JSON or form (``blocks`` decoded)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@dataclass(frozen=True)
class _Fault:
    status: int = 0  # answer with this status (0: answer normally)
    error: str = ""
    retry_after: int | None = None
    hang: float = 0.0
    drop: bool = False  # post it, then close the connection without an answer


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: deque[_Fault] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    messages: list[Received] = field(default_factory=list)
    posted: threading.Condition = field(default_factory=threading.Condition)
    stopping: threading.Event = field(default_factory=threading.Event)
    attempts: int = 0
    token: str | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up (timeout) before the answer: expected when hanging on purpose
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: no line per request on stderr

    def do_POST(self) -> None:
        state = self.server.state
        with state.lock:
            state.attempts += 1
        body = self._body()
        fault = self._next_fault(state)
        if fault.hang:
            state.stopping.wait(fault.hang)
        api = self.path.startswith(API_PREFIX)
        if fault.drop:  # posted, and the answer is lost
            received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, 200)
            with state.posted:
                state.messages.append(received)
                state.posted.notify_all()
            self.close_connection = True
            return
        status, answer, headers = _fault_answer(fault) if fault.status else self._answer(body, api, state)
        received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status)
        with state.lock:
            state.requests.append(received)
        if status == 200 and (not api or answer.get("ok")):
            with state.posted:
                state.messages.append(received)
                state.posted.notify_all()
        self._send(status, answer, headers)

    def _next_fault(self, state: _State) -> _Fault:
        with state.lock:
            return state.faults.popleft() if state.faults else _Fault()

    def _body(self) -> dict[str, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        if "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            form: dict[str, Any] = {k: v[-1] for k, v in parse_qs(raw).items()}
            if isinstance(form.get("blocks"), str):
                form["blocks"] = _json_or(form["blocks"], form["blocks"])
            return form
        parsed = _json_or(raw, None)
        return parsed if isinstance(parsed, dict) else {"_unparsed": raw}

    def _answer(self, body: dict[str, Any], api: bool, state: _State) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not api:
            if "_unparsed" in body:
                return 400, {"error": "invalid_payload"}, {}
            if not body.get("text") and not body.get("blocks"):
                return 400, {"error": "no_text"}, {}
            return 200, {}, {}
        return 200, _api_answer(self.path.removeprefix(API_PREFIX), body, self._token(), state.token), {}

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

    def _send(self, status: int, answer: dict[str, Any], headers: dict[str, str]) -> None:
        if self.path.startswith(API_PREFIX):
            payload, kind = json.dumps(answer).encode(), "application/json; charset=utf-8"
        else:  # incoming webhooks answer plain text: "ok" or an error code
            payload, kind = (answer.get("error") or "ok").encode(), "text/html"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _json_or(text: str, default: Any) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return default


def _api_answer(method: str, body: dict[str, Any], token: str | None, expected: str | None) -> dict[str, Any]:
    if method != "chat.postMessage":
        return {"ok": False, "error": "unknown_method"}
    if not token:
        return {"ok": False, "error": "not_authed"}
    if expected is not None and token != expected:
        return {"ok": False, "error": "invalid_auth"}
    if not body.get("channel"):
        return {"ok": False, "error": "channel_not_found"}
    if not body.get("text") and not body.get("blocks"):
        return {"ok": False, "error": "no_text"}
    message = {"type": "message", "text": body.get("text", ""), "blocks": body.get("blocks", [])}
    return {"ok": True, "channel": body["channel"], "ts": f"{time.time():.6f}", "message": message}


def _fault_answer(fault: _Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    return fault.status, {"ok": False, "error": fault.error}, headers


class SlackServer:
    """Start with ``with SlackServer() as slack:``; see the module docstring for the API."""

    def __init__(self, port: int = 0, token: str | None = None) -> None:
        """``token``: when given, the Web API answers ``invalid_auth`` to any other bearer token."""
        self.port = port
        self._state = _State(token=token)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``slack_sdk.WebClient``."""
        return self.base_url + API_PREFIX

    @property
    def attempts(self) -> int:
        """How many requests arrived, counted on arrival (a request still hanging counts)."""
        with self._state.lock:
            return self._state.attempts

    @property
    def requests(self) -> list[Received]:
        """Every request answered, in order, including the ones answered with an error."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def messages(self) -> list[Received]:
        """The requests Slack would have posted (accepted), in order."""
        with self._state.posted:
            return list(self._state.messages)

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least ``count`` messages were posted (or ``timeout`` passed); return them all."""
        with self._state.posted:
            self._state.posted.wait_for(lambda: len(self._state.messages) >= count, timeout)
            return list(self._state.messages)

    def clear(self) -> None:
        """Forget what was received and any pending misbehaviour."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.faults.clear()
            self._state.attempts = 0
        with self._state.posted:
            self._state.messages.clear()

    def fail_next(self, count: int, status: int = 500, error: str = "internal_error") -> None:
        """Answer the next ``count`` requests with ``status`` (webhook: body ``error``; API: ``ok: false``).
        ``status=200`` makes the Web API answer ``{"ok": false, "error": error}``, as Slack does."""
        self._add(count, _Fault(status=status, error=error))

    def rate_limit_next(self, count: int, retry_after: int = 1) -> None:
        """Answer the next ``count`` requests with 429 and ``Retry-After: retry_after`` (seconds)."""
        self._add(count, _Fault(status=429, error="rate_limited", retry_after=retry_after))

    def hang_next(self, count: int, seconds: float, status: int = 0) -> None:
        """Hold the next ``count`` requests for ``seconds`` before answering (and posting) them normally, or,
        with ``status``, before answering that error without posting."""
        self._add(count, _Fault(hang=seconds, status=status, error="internal_error" if status else ""))

    def drop_next(self, count: int) -> None:
        """Post the next ``count`` requests, then close their connections without answering: the answer lost."""
        self._add(count, _Fault(drop=True))

    def _add(self, count: int, fault: _Fault) -> None:
        with self._state.lock:
            self._state.faults.extend([fault] * count)

    def refuse(self, seconds: float | None = None) -> None:
        """Stop listening: clients get "connection refused". With ``seconds``, listen again after that long."""
        self._stop_server()
        if seconds is not None:
            self._timer = threading.Timer(seconds, self.accept)
            self._timer.daemon = True
            self._timer.start()

    def accept(self) -> None:
        """Listen again, on the same port."""
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.state = self._state
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def start(self) -> SlackServer:
        self._state.stopping.clear()
        self.accept()
        return self

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._state.stopping.set()  # release requests that are hanging on purpose
        self._stop_server()

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
