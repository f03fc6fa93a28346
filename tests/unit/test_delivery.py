"""delivery: the answer PUT to a loopback ResponseURL, retried until its deadline, given up where no retry helps."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest
from support import LoopbackServer, ResponseRecorder, VirtualClock, read_body, reply

from cdk_lookoutvision_packaging_handler.delivery import send_response

BODY = b'{"Status":"SUCCESS"}'


class Refusing(LoopbackServer):
    """Answers every PUT 403, as S3 answers an expired or forged presigned URL."""

    methods, hits = ("PUT",), 0

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        read_body(request)
        self.hits += 1
        reply(request, 403)


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
    assert (headers.get("content-type", ""), headers["content-length"]) == ("", str(len(BODY)))
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


def test_a_refused_answer_is_not_retried() -> None:
    vclock = VirtualClock()
    with Refusing() as server:
        assert send(f"{server.url}/expired?X-Amz-Signature=00", vclock) is False
    assert (server.hits, vclock.sleeps) == (1, []), "an expired or forged URL will not work on a retry"


@pytest.mark.parametrize(
    "url",
    [None, 42, "", "not a url", "ftp://example.com/x", "file:///etc/passwd", "http://"]
    + [f"http://127.0.0.1:9/{bad}/x?X-Amz-Signature=00" for bad in (" a space", "\x00nul", "\x7fdel")],
)
def test_a_url_that_cannot_work_is_refused_at_once_without_raising(url: object) -> None:
    vclock = VirtualClock()
    assert send(url, vclock) is False
    assert vclock.sleeps == []


def test_a_deadline_already_past_makes_no_attempt() -> None:
    with ResponseRecorder() as recorder:
        assert send_response(recorder.url, BODY, deadline=time.monotonic() - 1) is False
        assert recorder.attempts == 0
