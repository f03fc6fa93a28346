"""handoff.continue_elsewhere on the handler's own Lambda client (index.make_lambda_client) behind botocore's Stubber,
which checks each Invoke against the real Lambda service model: what is retried, what is refused with a reason for
the FAILED answer, and what counts as handed on because a retry could start a second chain."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import exceptions
from botocore.stub import Stubber
from support import FUNCTION_ARN, VirtualClock, make_event

from cdk_lookoutvision_packaging_handler import handoff, index

PAYLOAD = {**make_event(), "LookoutVisionWait": {"StartedAt": 1000.0, "Invocation": 2}}
INVOKE_BUILT = "before-parameter-build.lambda.Invoke"
INVOKE = {"FunctionName": FUNCTION_ARN, "InvocationType": "Event", "Payload": json.dumps(PAYLOAD).encode("utf-8")}


class Claim:
    """The request's claim, as the responder keeps it: ``answered`` when the timer's answer came first."""

    def __init__(self, answered: bool = False) -> None:
        self.answered = answered
        self.held = False
        self.released = 0

    def claim_hand_off(self) -> bool:
        self.held = not self.answered
        return self.held

    def release_hand_off(self) -> None:
        self.held = False
        self.released += 1


@pytest.fixture(scope="module")
def lambda_client() -> Any:
    return index.make_lambda_client()


@pytest.fixture
def stubber(lambda_client: Any) -> Iterator[Stubber]:
    with Stubber(lambda_client) as stub:
        yield stub
        # A request that did not match the model or the expected parameters leaves its response queued.
        stub.assert_no_pending_responses()


def hand_off(lambda_client: Any, claim: Claim, vclock: VirtualClock) -> str | None:
    return handoff.continue_elsewhere(
        lambda_client, FUNCTION_ARN, PAYLOAD, 2, claim, sleep=vclock.sleep, monotonic=vclock.now
    )


def refuse(stubber: Stubber, code: str, status: int, times: int = 1) -> None:
    for _ in range(times):
        stubber.add_client_error("invoke", service_error_code=code, http_status_code=status, expected_params=INVOKE)


def test_the_wait_is_handed_on_with_one_asynchronous_invoke_of_the_payload(
    lambda_client: Any, stubber: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    stubber.add_response("invoke", {"StatusCode": 202}, INVOKE)
    claim, vclock = Claim(), VirtualClock()
    with caplog.at_level(logging.INFO):
        assert hand_off(lambda_client, claim, vclock) is None
    assert (claim.held, claim.released, vclock.sleeps) == (True, 0, [])
    assert {"handedOffTo": "invocation", "invocation": 2} in [json.loads(r.getMessage()) for r in caplog.records]


@pytest.mark.parametrize(
    ("code", "status", "why"),
    [
        (
            "AccessDeniedException",
            403,
            "AccessDeniedException: check that the function may lambda:InvokeFunction itself",
        ),
        ("RequestEntityTooLargeException", 413, "Lambda refused the Invoke with RequestEntityTooLargeException (413)"),
        ("ExpiredTokenException", 403, "Lambda refused the Invoke with ExpiredTokenException (403)"),
    ],
)
def test_a_refusal_is_named_not_retried_and_the_request_is_answered_after_all(
    lambda_client: Any, stubber: Stubber, code: str, status: int, why: str
) -> None:
    refuse(stubber, code, status)
    claim, vclock = Claim(), VirtualClock()
    assert hand_off(lambda_client, claim, vclock) == why
    assert (claim.held, claim.released, vclock.sleeps) == (False, 1, [])


def assert_backed_off(sleeps: list[float], count: int) -> None:
    """``count`` pauses of the one backoff: the n-th drawn from [d/2, d] with d = 2 s * 2**(n-1)."""
    assert len(sleeps) == count
    for n, pause in enumerate(sleeps, 1):
        assert 2.0 ** (n - 1) <= pause <= 2.0**n


def test_throttling_is_retried_with_backoff_and_then_named(lambda_client: Any, stubber: Stubber) -> None:
    refuse(stubber, "TooManyRequestsException", 429, times=handoff.HANDOFF_ATTEMPTS)
    claim, vclock = Claim(), VirtualClock()
    why = hand_off(lambda_client, claim, vclock)
    assert why == "Lambda did not take the Invoke after 3 attempts (TooManyRequestsException (429))"
    assert claim.released == 1
    assert_backed_off(vclock.sleeps, 2)


def test_a_throttled_invoke_that_is_then_taken_hands_the_wait_on(lambda_client: Any, stubber: Stubber) -> None:
    refuse(stubber, "TooManyRequestsException", 429)
    stubber.add_response("invoke", {"StatusCode": 202}, INVOKE)
    claim, vclock = Claim(), VirtualClock()
    assert hand_off(lambda_client, claim, vclock) is None
    assert claim.held
    assert_backed_off(vclock.sleeps, 1)


def test_a_server_error_may_have_queued_the_invoke_so_it_is_neither_retried_nor_answered(
    lambda_client: Any, stubber: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    refuse(stubber, "ServiceException", 500)
    claim, vclock = Claim(), VirtualClock()
    with caplog.at_level(logging.ERROR):
        assert hand_off(lambda_client, claim, vclock) is None
    # The claim stays held: a FAILED answer could contradict the continuation's.
    assert (claim.held, vclock.sleeps) == (True, [])
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.ERROR]
    assert line["handOffUnknown"] == "Lambda answered ServiceException (500)"


def test_a_read_timeout_counts_as_handed_on(lambda_client: Any) -> None:
    sent: list[str] = []

    def time_out(**kwargs: Any) -> None:
        sent.append(kwargs["event_name"])
        raise exceptions.ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    lambda_client.meta.events.register("before-send.lambda.Invoke", time_out, unique_id="test-read-timeout")
    try:
        claim, vclock = Claim(), VirtualClock()
        assert hand_off(lambda_client, claim, vclock) is None
    finally:
        lambda_client.meta.events.unregister("before-send.lambda.Invoke", unique_id="test-read-timeout")
    assert (len(sent), claim.held, vclock.sleeps) == (1, True, [])


def test_a_connection_lambda_never_received_is_retried_and_then_named() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Closed now: the product's own client really connects and is refused.
    refusing = index.make_lambda_client(endpoint_url=f"http://127.0.0.1:{port}")
    claim, vclock = Claim(), VirtualClock()
    why = hand_off(refusing, claim, vclock)
    assert why == "Lambda did not take the Invoke after 3 attempts (EndpointConnectionError connecting to Lambda)"
    assert claim.released == 1
    assert_backed_off(vclock.sleeps, 2)


def test_nothing_is_invoked_when_the_request_was_already_answered(lambda_client: Any) -> None:
    calls: list[dict[str, Any]] = []
    lambda_client.meta.events.register(INVOKE_BUILT, lambda params, **_: calls.append(params), unique_id="test-calls")
    try:
        claim, vclock = Claim(answered=True), VirtualClock()
        assert hand_off(lambda_client, claim, vclock) is None
    finally:
        lambda_client.meta.events.unregister(INVOKE_BUILT, unique_id="test-calls")
    assert (calls, claim.held, claim.released) == ([], False, 0)


def test_a_connection_closed_after_sending_is_tried_once_by_botocore_and_not_again() -> None:
    # botocore would retry it, and so queue the same continuation twice: the client makes one attempt per call.
    accepted: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))

    def reset_each_connection() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            accepted.append(connection.recv(65536))
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    threading.Thread(target=reset_each_connection, daemon=True).start()
    try:
        closing = index.make_lambda_client(endpoint_url=f"http://127.0.0.1:{server.getsockname()[1]}")
        claim, vclock = Claim(), VirtualClock()
        assert hand_off(closing, claim, vclock) is None
    finally:
        server.close()
    assert len(accepted) == 1 and accepted[0].startswith(b"POST /2015-03-31/functions/")
    assert (claim.held, vclock.sleeps) == (True, [])
