"""HTTP/1.1 servers on 127.0.0.1 for the stand-ins that speak the wire, the same stand-ins answering a botocore client
in memory, and waiting on them with a time bound."""

from __future__ import annotations

import functools
import http.client
import io
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.awsrequest import AWSResponse
from urllib3.response import HTTPResponse

from cdk_lookoutvision_packaging_handler.outbound import client_config


class HarnessError(AssertionError):
    """A stand-in could not do what a test asked within its time bound."""


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


@functools.cache
def _session() -> Any:
    """One botocore session for every in-memory client: its loader reads each service model once."""
    return botocore.session.get_session()


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 in a daemon thread, run as a context manager. GET, POST and PUT requests go to
    ``self._handle(request)``, which may ``_record`` it in ``requests`` under ``_lock``. A client that hangs up
    mid-answer (a read timeout, a killed runtime) is a scenario here, so only other errors of a handler are printed."""

    service, keys = "", tuple[str, ...]()  # the botocore service a fake plays, and what ``calls`` counts by

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:
                pass

        for method in ("GET", "POST", "PUT"):
            setattr(Handler, f"do_{method}", lambda request: owner._handle(request))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = self._handle_error  # type: ignore[method-assign]
        self.server.socket.listen(512)  # a hundred clients connecting at once, as in the load test
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # serve_forever looks for a shutdown every 20 ms, so that closing a server is quick.
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.requests: list[dict[str, Any]] = []
        self.now: Callable[[], float] = time.time  # when ``_record`` says a request came (a VirtualClock's now)
        self._lock = threading.Lock()

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def _record(self, request: BaseHTTPRequestHandler, **fields: Any) -> None:
        """Keeps the request's path, headers and arrival (``now()``) with ``fields``; the caller holds the lock."""
        self.requests.append({"path": request.path, "headers": dict(request.headers), "at": self.now(), **fields})

    def calls(self, *values: str) -> int:
        """How many recorded requests have these values of the first ``keys`` (no values: every request)."""
        with self._lock:
            return sum(1 for r in self.requests if [r[key] for key in self.keys[: len(values)]] == list(values))

    def client(self) -> Any:
        """A botocore client of ``service`` (the product's Config) that this server, no longer listening, answers in the
        caller's thread over a ``Wire``; a scripted exception is raised as the client's own."""
        self.server.server_close()
        client = _session().create_client(self.service, config=client_config())

        def send(request: Any, **_: Any) -> AWSResponse:
            url, body = urlsplit(request.url), request.body or b""
            head = "".join(f"{k}: {v.decode() if isinstance(v, bytes) else v}\r\n" for k, v in request.headers.items())
            line = f"{request.method} {url.path}{url.query and '?'}{url.query} HTTP/1.1\r\n{head}\r\n"
            wire = Wire(line.encode() + (body.encode() if isinstance(body, str) else body))
            self.server.RequestHandlerClass(wire, ("127.0.0.1", 0), self.server)
            answer = http.client.HTTPResponse(Wire(bytes(wire.sent)))  # type: ignore[arg-type]
            answer.begin()
            raw = HTTPResponse(io.BytesIO(answer.read()), preload_content=False)
            return AWSResponse(request.url, answer.status, dict(answer.getheaders()), raw)

        client.meta.events.register("before-send", send)
        return client

    @staticmethod
    def _handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            traceback.print_exc()


class Wire:
    """A connection that holds what one side sent, for the other to read, and keeps what it is sent."""

    def __init__(self, received: bytes) -> None:
        self.received, self.sent = io.BytesIO(received), bytearray()
        self.sendall, self.setsockopt = self.sent.extend, lambda *options: None

    def makefile(self, *args: Any) -> io.BytesIO:
        return self.received


def reply(request: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: Mapping[str, str] = {}) -> None:
    request.send_response(status)
    for key, value in headers.items():
        request.send_header(key, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def read_body(request: BaseHTTPRequestHandler) -> bytes:
    return request.rfile.read(int(request.headers.get("Content-Length") or 0))
