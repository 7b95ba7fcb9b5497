"""A fault-injecting, serialising HTTP proxy in front of the emulator: AWS on a bad day, and AWS where moto is
lenient.

boto3 points at the proxy (``AWS_ENDPOINT_URL``), the proxy forwards to moto's server. On the way it can:

- **serialise** DynamoDB: every DynamoDB request is forwarded one at a time, so two conditional writes race as
  they do in DynamoDB (one wins, the other gets ``ConditionalCheckFailedException``); moto alone applies both;
- **fail** a chosen operation (by its ``X-Amz-Target`` or its query ``Action``) before it reaches moto, with
  any status and AWS error code (500, ``ThrottlingException``, ``ConflictException``...);
- **fail after applying**: forward the request, let moto apply it, and answer 500 anyway, as when a write's
  answer is lost;
- **delay** an answer, or **rewrite** it (a stale read right after a write, a delivery error in a status);
- **validate** what AWS validates and moto does not (``Fault`` with ``when=`` on the request's arguments).

Each fault applies to the next ``times`` matching requests (``times=-1``: all). Every forwarded request is
recorded as ``(operation, arguments)`` in ``seen``. Start with ``with FaultProxy(emu.endpoint) as proxy:``
and point boto3 at ``proxy.endpoint`` (``proxy.environ()``).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .emulator import FAKE_CREDENTIALS

Arguments = dict[str, Any]


@dataclass
class Fault:
    """What to do to the next ``times`` requests of ``operation`` (for which ``when(arguments)`` holds)."""

    operation: str
    kind: str = "error"  # error | after | delay | rewrite
    times: int = 1
    status: int = 500
    code: str = "InternalFailure"
    message: str = "injected by the trailguard fault proxy"
    seconds: float = 0.0
    rewrite: Callable[[Arguments], Arguments] | None = None  # the parsed JSON answer -> the answer sent
    when: Callable[[Arguments], bool] | None = None
    hits: int = field(default=0, init=False)

    def matches(self, operation: str, arguments: Arguments) -> bool:
        return operation == self.operation and self.times != 0 and (self.when is None or self.when(arguments))


def _operation(target: str | None, body: bytes, query: str) -> tuple[str, str, Arguments]:
    """(service protocol, operation, arguments) of a request: JSON protocols name it in ``X-Amz-Target``."""
    if target:
        try:
            arguments = json.loads(body or b"{}")
        except ValueError:
            arguments = {}
        return "json", target.rsplit(".", 1)[-1], arguments if isinstance(arguments, dict) else {}
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    fields = fields or {k: v[0] for k, v in parse_qs(query).items()}
    return "query", fields.get("Action", ""), dict(fields)


def _error_body(protocol: str, code: str, message: str) -> tuple[str, bytes]:
    if protocol == "json":
        return "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()
    xml = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>trailguard-fault-proxy</RequestId></ErrorResponse>"
    )
    return "text/xml", xml.encode()


class FaultProxy:
    def __init__(self, upstream: str, port: int = 0) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.faults: list[Fault] = []
        self.seen: list[tuple[str, Arguments]] = []
        self._lock = threading.RLock()  # guards faults and seen (a fault's `when` may count what was seen)
        self._dynamodb = threading.Lock()  # DynamoDB requests, one at a time, as DynamoDB serialises writes
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:  # one line per request is noise in tests
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any  # http.server's names

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def environ(self) -> dict[str, str]:
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def __enter__(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.seen.clear()

    def count(self, operation: str) -> int:
        with self._lock:
            return sum(1 for op, _ in self.seen if op == operation)

    def _take(self, operation: str, arguments: Arguments) -> list[Fault]:
        with self._lock:
            self.seen.append((operation, arguments))
            taken = [f for f in self.faults if f.matches(operation, arguments)]
            for fault in taken:
                fault.hits += 1
                fault.times -= 1 if fault.times > 0 else 0
            return taken

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        target = request.headers.get("X-Amz-Target")
        protocol, operation, arguments = _operation(target, body, urlsplit(request.path).query)
        faults = self._take(operation, arguments)
        for fault in faults:
            if fault.kind == "delay":
                time.sleep(fault.seconds)
        failing = next((f for f in faults if f.kind == "error"), None)
        if failing is not None:
            return self._answer(request, failing.status, *_error_body(protocol, failing.code, failing.message))
        serial = self._dynamodb if (target or "").startswith("DynamoDB_") else None
        if serial is not None:
            with serial:
                status, headers, answer = self._forward(request, body)
        else:
            status, headers, answer = self._forward(request, body)
        after = next((f for f in faults if f.kind == "after"), None)
        if after is not None:  # applied upstream; the answer is lost
            return self._answer(request, after.status, *_error_body(protocol, after.code, after.message))
        for fault in faults:
            if fault.kind == "rewrite" and fault.rewrite is not None and status < 300:
                answer = json.dumps(fault.rewrite(json.loads(answer or b"{}"))).encode()
        self._answer(request, status, headers.get("Content-Type", "application/json"), answer)

    def _forward(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
            headers["Host"] = f"{self.upstream_host}:{self.upstream_port}"
            connection.request(request.command, request.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("x-amzn-RequestId", "trailguard-fault-proxy")
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)
