"""A local AWS emulator: moto's server on 127.0.0.1, as boto3 reaches it through ``AWS_ENDPOINT_URL``.

It runs in a child process by default, so that its CPU time does not compete with the client's for one
interpreter lock, or in a thread (``in_process=True``) when a test wants to read moto's backends directly.
It answers as AWS does where plain moto is lenient about organization trails and AssumeRole (see
``trailguard_dev.faithful``). Two more additions to plain moto: an optional latency added to every response
(as a real AWS round trip would add), and a count of the API calls it answered, by operation, at ``GET
/_trailguard/calls`` (``DELETE`` clears it; ``POST /moto-api/reset`` clears both state and counts). ``POST
/_trailguard/throttle?count=N`` makes the next N JSON-protocol calls (CloudTrail among them) answer
``ThrottlingException`` as AWS does under load; they are counted like any other call.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

CALLS_PATH = "/_trailguard/calls"
THROTTLE_PATH = "/_trailguard/throttle"
LATENCY_PATH = "/_trailguard/latency"
THROTTLED = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

StartResponse = Callable[..., Any]


class CountingLatencyMiddleware:
    """Wraps moto's WSGI app: sleeps ``latency`` seconds per request and counts requests by operation."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]], latency: float) -> None:
        self.app = app
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.throttle = 0
        self.lock = threading.Lock()

    def _operation(self, environ: dict[str, Any]) -> str:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:  # JSON protocols (CloudTrail, DynamoDB, Secrets Manager): "Service_Version.Operation"
            return str(target).rsplit(".", 1)[-1]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = _Replay(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action") or parse_qs(
            environ.get("QUERY_STRING", "")
        ).get("Action")
        return action[0] if action else f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CALLS_PATH:
            with self.lock:
                if environ.get("REQUEST_METHOD") == "DELETE":
                    self.calls.clear()
                body = json.dumps(dict(self.calls)).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == LATENCY_PATH:  # POST ?seconds=S: the latency added to every later response
            with self.lock:
                self.latency = float(parse_qs(environ.get("QUERY_STRING", "")).get("seconds", ["0"])[0])
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        if path == THROTTLE_PATH:
            with self.lock:
                self.throttle = int(parse_qs(environ.get("QUERY_STRING", "")).get("count", ["1"])[0])
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        throttled = False
        if path.startswith("/moto-api/reset"):
            with self.lock:
                self.calls.clear()
                self.throttle = 0
        else:
            operation = self._operation(environ)
            with self.lock:
                self.calls[operation] += 1
                if self.throttle and environ.get("HTTP_X_AMZ_TARGET"):
                    self.throttle -= 1
                    throttled = True
        if self.latency:
            time.sleep(self.latency)
        if throttled:
            start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")])
            return [THROTTLED]
        return self.app(environ, start_response)


class _Replay:
    """A request body that has been read once, offered again to moto."""

    def __init__(self, body: bytes) -> None:
        self._body, self._pos = body, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._body) if size is None or size < 0 else self._pos + size
        chunk, self._pos = self._body[self._pos : end], min(end, len(self._body))
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def make_server(port: int = 0, latency: float = 0.0) -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server as werkzeug_server

    from .faithful import install

    install()  # organization trails as members see them, AssumeRole as STS decides it (once per process)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request is noise here
    app = CountingLatencyMiddleware(DomainDispatcherApplication(create_backend_app), latency)
    return werkzeug_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)


class Emulator:
    """Start with ``with Emulator() as emu:``; ``emu.endpoint`` is the ``AWS_ENDPOINT_URL``."""

    def __init__(self, port: int = 0, latency: float = 0.0, in_process: bool = False) -> None:
        self.port, self.latency, self.in_process = port, latency, in_process
        self._proc: subprocess.Popen[str] | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        if self.in_process:
            self._server = make_server(self.port, self.latency)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            self._thread.start()
            return self
        cmd = [
            sys.executable,
            "-m",
            "trailguard_dev.emulator",
            "--port",
            str(self.port),
            "--latency",
            str(self.latency),
        ]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, **FAKE_CREDENTIALS})
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _request(self, method: str, path: str) -> bytes:
        req = urllib.request.Request(self.endpoint + path, method=method, data=b"" if method != "GET" else None)
        with urllib.request.urlopen(req, timeout=30) as response:
            return bytes(response.read())

    def reset(self) -> None:
        self._request("POST", "/moto-api/reset")

    def calls(self) -> Counter[str]:
        return Counter(json.loads(self._request("GET", CALLS_PATH)))

    def clear_calls(self) -> None:
        self._request("DELETE", CALLS_PATH)

    def set_latency(self, seconds: float) -> None:
        """The latency added to every later response, from now on."""
        self._request("POST", f"{LATENCY_PATH}?seconds={seconds}")

    def throttle_next(self, count: int) -> None:
        self._request("POST", f"{THROTTLE_PATH}?count={count}")

    def environ(self) -> dict[str, str]:
        """The environment that points boto3 (and ``trailguard``) at this emulator."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set these environment variables for the duration of the block, then put back what was there."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pointed_at(emulator: Emulator) -> contextlib.AbstractContextManager[None]:
    """Point this process's boto3 at the emulator for the duration of the block."""
    return environment(emulator.environ())


def main() -> None:
    parser = argparse.ArgumentParser(description="moto's server on 127.0.0.1 with latency and call counts")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    args = parser.parse_args()
    server = make_server(args.port, args.latency)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
