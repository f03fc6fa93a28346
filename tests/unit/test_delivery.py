"""delivery: the answer PUT to a loopback ResponseURL, retried until its deadline, given up where no retry helps."""

from __future__ import annotations

import http.client
import time
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from unittest.mock import ANY
from urllib.parse import urlsplit

import pytest
from support import LoopbackServer, ResponseRecorder, VirtualClock, read_body, reply

from cdk_lookoutvision_packaging_handler import delivery
from cdk_lookoutvision_packaging_handler.delivery import send_response

BODY = b'{"Status":"SUCCESS"}'


class Refusing(LoopbackServer):
    """Answers every PUT ``status``: 403 as S3 answers an expired or forged presigned URL."""

    methods, hits = ("PUT",), 0

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        read_body(request)
        self.hits += 1
        reply(request, self.status)


def send(url: object, vclock: VirtualClock, within_s: float = 30.0) -> bool:
    return send_response(url, BODY, deadline=vclock.now() + within_s, now=vclock.now, sleep=vclock.sleep)


def assert_backed_off(sleeps: list[float]) -> None:
    """The PUT's backoff: the n-th pause drawn from [d/2, d], d = min(5 s, 0.5 s * 2**(n-1))."""
    assert all(
        min(5.0, 0.5 * 2 ** (n - 1)) / 2 <= pause <= min(5.0, 0.5 * 2 ** (n - 1)) for n, pause in enumerate(sleeps, 1)
    )


@pytest.mark.parametrize("failures", [0, 2])
def test_the_body_is_put_once_as_the_presigned_url_was_signed_after_retrying_server_errors(failures: int) -> None:
    vclock = VirtualClock()
    with ResponseRecorder(fail_first=failures) as recorder:
        assert send(recorder.url, vclock) is True
    [put] = recorder.requests
    assert (put["raw"], recorder.attempts, len(vclock.sleeps)) == (BODY, failures + 1, failures)
    assert_backed_off(vclock.sleeps)
    # S3 signed the URL without a Content-Type, and checks the path and query byte for byte.
    headers = {k.lower(): v for k, v in put["headers"].items()}
    assert headers == {"host": ANY, "accept-encoding": "identity", "content-type": "", "content-length": str(len(BODY))}
    assert put["path"] == f"{urlsplit(recorder.url).path}?{urlsplit(recorder.url).query}"


@pytest.mark.parametrize("listening", [True, False])
def test_a_url_that_keeps_failing_is_given_up_at_the_deadline(listening: bool) -> None:
    vclock = VirtualClock()
    with ResponseRecorder(always_fail=True) as recorder:
        if listening:
            assert send(recorder.url, vclock, within_s=10.0) is False
    if not listening:  # the recorder is closed now: nothing listens on its port
        assert send(recorder.url, vclock, within_s=10.0) is False
    assert recorder.bodies == [] and recorder.attempts == (len(vclock.sleeps) + 1 if listening else 0)
    assert len(vclock.sleeps) >= 2 and vclock.now() < vclock.start + 10.0
    assert_backed_off(vclock.sleeps)


@pytest.mark.parametrize("status", [403, 300])
def test_a_refused_answer_is_not_retried(status: int) -> None:
    vclock = VirtualClock()
    with Refusing(status) as server:
        assert send(f"{server.url}/expired?X-Amz-Signature=00", vclock) is False
    assert (server.hits, vclock.sleeps) == (1, []), "an expired or forged URL will not work on a retry"


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://s3.example/p/q?X-Amz-Signature=00", ("https", "s3.example", None, "/p/q?X-Amz-Signature=00")),
        ("http://127.0.0.1:9?a=1", ("http", "127.0.0.1", 9, "/?a=1")),
        ("http://h.example/p", ("http", "h.example", None, "/p")),
    ],
)
def test_the_put_goes_to_the_url_s_host_and_port_with_its_path_and_query(url: str, target: tuple[object]) -> None:
    assert delivery._target(url) == target


def test_an_https_url_is_put_over_tls_each_attempt_bounded_by_ten_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[object, ...]] = []

    class Connection:
        def __init__(self, host: str, port: int | None, timeout: float) -> None:
            made.append((host, port, timeout))

        def request(self, *args: object, **kwargs: object) -> None:
            pass

        def getresponse(self) -> SimpleNamespace:
            return SimpleNamespace(status=200)

        def close(self) -> None:
            pass

    monkeypatch.setattr(http.client, "HTTPSConnection", Connection)
    assert send("https://s3.example:8443/p?X-Amz-Signature=00", VirtualClock()) is True
    assert made == [("s3.example", 8443, 10.0)]


@pytest.mark.parametrize(
    "url",
    [None, 42, "", "not a url", "ftp://example.com/x", "file:///etc/passwd", "http://"]
    + [f"http://127.0.0.1:9/{bad}/x?X-Amz-Signature=00" for bad in (" a space", "\x00nul", "\x7fdel")],
)
def test_a_url_that_cannot_work_is_refused_at_once_without_raising(url: object) -> None:
    vclock = VirtualClock()
    assert send(url, vclock) is False
    assert vclock.sleeps == []


def test_a_deadline_already_past_or_now_makes_no_attempt() -> None:
    with ResponseRecorder() as recorder:
        assert send_response(recorder.url, BODY, deadline=time.monotonic() - 1) is False
        assert send(recorder.url, VirtualClock(), within_s=0.0) is False
    assert recorder.attempts == 0
