"""The handler in process (``index.make_handler``) over real HTTP: the product's own Lookout for Vision and Greengrass
clients call loopback APIs (real botocore serialization, SigV4 signing and error parsing, one attempt per call), and
the answer goes to a loopback ResponseURL that records every PUT; the wait runs on a virtual clock. What each reason
says is tests/unit's; this suite checks what only the whole handler can get wrong: the wire, exactly one answer, the
logs, and a job's life from its start to its deployable component.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import boto3
import pytest
from inprocess import Gate, refused
from support import (
    COMPONENT,
    COMPONENT_ARN,
    NOT_FOUND,
    FakeContext,
    ResponseRecorder,
    Step,
    component_arn,
    description,
    error,
    make_event,
    ok,
    packaged,
    packaging,
    properties,
    reply,
)

from cdk_lookoutvision_packaging_handler import configuration, contract, index, outbound

PROJECT, JOB = "pcb", "pcb-v3-x86"
CUT_SHORT = b'{"ModelPackagingDescription": {"Status": "SUCC'
MALFORMED = Step(lambda request: reply(request, 200, CUT_SHORT, {"Content-Type": "application/json"}))


def reset(request: BaseHTTPRequestHandler) -> None:
    """The connection is reset instead of answered."""
    request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.connection.close()
    request.close_connection = True


def slow(delay_s: float, then: Step) -> Step:
    return Step(lambda request: time.sleep(delay_s) or then.send(request))


PHYSICAL_ID = f"{PROJECT}/{JOB}"
# An invocation of 70 s hands a wait on 10 s in, on the virtual clock: after two to five looks, at once in real time.
HANDS_ON_AFTER_TEN_SECONDS_S = 70.0

# A resource that starts its job: its properties, the job they name, its Start request and its component.
STARTED_JOB = contract.default_job_name(COMPONENT, "3.0.0")
STARTING = properties(job=STARTED_JOB, Packaging=packaging())
STARTED_ID = f"{PROJECT}/{STARTED_JOB}"
STARTED_ARN = component_arn(version="3.0.0")
START_REQUEST = {"ProjectName": PROJECT, "JobName": STARTED_JOB, **packaging()}


def event_for(gate: Gate, **kwargs: Any) -> dict[str, Any]:
    return make_event(response_url=gate.recorder.url, **kwargs)


def answer(gate: Gate, status: str, says: str = "", physical_id: str = "") -> dict[str, Any]:
    """The one answer: its status, a Reason that says ``says``, and ``physical_id``."""
    [body] = gate.recorder.bodies
    assert body["Status"] == status and says in body["Reason"], body["Reason"]
    assert body["PhysicalResourceId"] == (physical_id or body["PhysicalResourceId"])
    return body


def test_a_succeeded_job_is_answered_once_with_every_attribute_after_one_signed_request(gate: Gate) -> None:
    gate.api.script(PROJECT, JOB, [ok(description("SUCCEEDED", status_message="Packaging complete"))])
    event = event_for(gate)
    gate(event)
    assert gate.recorder.attempts == 1
    [body] = gate.recorder.bodies
    assert body == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": {
            "ComponentVersionArn": COMPONENT_ARN,
            "ComponentName": "com.example.pcb-defects",
            "ComponentVersion": "1.0.0",
            "Status": "SUCCEEDED",
            "StatusMessage": "Packaging complete",
            "ModelVersion": "3",
            "ProjectName": PROJECT,
            "JobName": JOB,
            "CreationTimestamp": "2026-11-29T15:00:00Z",
            "LastUpdatedTimestamp": "2026-11-29T15:04:30Z",
        },
    }
    [request] = gate.api.requests
    assert request["path"] == f"/2020-11-20/projects/{PROJECT}/modelpackagingjobs/{JOB}"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")
    assert f"/{index.REGION}/lookoutvision/aws4_request" in headers["authorization"]
    assert outbound.USER_AGENT in headers["user-agent"]
    assert gate.vclock.sleeps == []


@pytest.mark.parametrize(
    ("failure", "pause_s"),
    [
        (error(429, "ThrottlingException", "Rate exceeded"), None),
        (error(429, "ThrottlingException", headers={"Retry-After": "20"}), 20.0),
        (error(502, "", "Bad Gateway"), None),
        (Step(reset), None),
        # A 200 whose JSON is cut short: botocore returns a response without a ModelPackagingDescription.
        (MALFORMED, None),
    ],
    ids=["429", "429-retry-after", "502-no-code", "connection-reset", "malformed-json"],
)
def test_a_transient_failure_on_the_wire_is_retried_by_the_wait_not_by_botocore(
    gate: Gate, failure: Any, pause_s: float | None
) -> None:
    gate.api.script(PROJECT, JOB, [failure, ok(description())])
    gate(event_for(gate))
    answer(gate, "SUCCESS")
    assert gate.api.calls() == 2, "one attempt per call: the wait retries, with its own backoff"
    [pause] = gate.vclock.sleeps
    assert pause_s in (None, pause), "a Retry-After header sets the pause before the retry"


@pytest.mark.wall_clock
def test_a_response_slower_than_the_read_timeout_is_cut_off_and_retried(gate: Gate) -> None:
    # The product's client settings, with a read timeout of 1 s instead of 10 s.
    client = boto3.session.Session().client(
        contract.LOOKOUTVISION_SERVICE,
        region_name=index.REGION,
        endpoint_url=gate.api.url,
        config=outbound.client_config(read_timeout=1),
    )
    gate.api.script(PROJECT, JOB, [slow(3.0, ok(description("RUNNING"))), ok(description())])
    gate.again(lookoutvision=client)(event_for(gate))
    answer(gate, "SUCCESS")
    first, second = (r["at"] for r in gate.api.requests)
    # The server stamps a request when it reads it, which under load can lag the client's clock by a few ms.
    assert 0.9 <= second - first < 2.5, "the client gives up on the call after its read timeout"


def test_an_endpoint_that_does_not_resolve_fails_at_once_naming_the_function_s_region(gate: Gate) -> None:
    # .invalid never resolves (RFC 6761): like the endpoint of a Region without Lookout for Vision.
    endpoint = "https://lookoutvision.eu-west-9.amazonaws.invalid"
    nowhere = gate.again(lookoutvision=index.make_lookoutvision_client(endpoint_url=endpoint))
    nowhere(event_for(gate), timeout_s=120)
    answer(gate, "FAILED", f"{endpoint} for Region {index.REGION}:")
    assert nowhere.vclock.sleeps == []


def test_the_function_s_environment_reaches_the_wait(gate: Gate) -> None:
    # 100 jobs sharing 4 requests per second, as the construct configures the function: each first look is spread
    # over one share of 25 s.
    budgeted = gate.again(environ={"DESCRIBE_BUDGET_RPS": "4", "DESCRIBE_BUDGET_JOBS": "100"})
    gate.api.script(PROJECT, JOB, [ok(description())])
    budgeted(event_for(gate))
    answer(gate, "SUCCESS")
    [stagger] = budgeted.vclock.sleeps
    assert 0 < stagger <= 25.0


@pytest.mark.wall_clock
def test_a_response_url_that_always_fails_is_given_up_before_the_deadline_without_logging_it(gate: Gate) -> None:
    gate.api.script(PROJECT, JOB, [ok(description())])
    with ResponseRecorder(always_fail=True) as dead:
        elapsed = gate(make_event(response_url=dead.url), timeout_s=4.5)
        assert elapsed < 4.5, f"the handler ran {elapsed:.2f} s of a 4.5 s invocation"
        assert dead.attempts >= 2, "a failing response URL is retried while time remains"
        assert dead.bodies == []
        attempts = dead.attempts
        time.sleep(0.6)
        assert dead.attempts == attempts, "nothing may keep answering after the handler returned"
    # Each failed attempt and the giving up are logged, and none of those lines names the URL.
    assert any("Gave up answering CloudFormation" in line for line in gate.capture.lines)
    gate.capture.assert_clean(dead.url)


def test_a_bug_of_ours_answers_one_clean_failed_and_logs_the_traceback_without_the_url(gate: Gate) -> None:
    event = event_for(gate)

    def broken() -> float:
        raise RuntimeError(f"bug while answering {event['ResponseURL']}")

    gate.again(clock=outbound.Clock(now=broken))(event)
    body = answer(gate, "FAILED", physical_id=PHYSICAL_ID)
    stream = FakeContext().log_stream_name
    assert body["Reason"] == f"Internal error in the ModelPackagingJob handler (RuntimeError); see log stream {stream}"
    assert any("Traceback" in line and "RuntimeError: bug while answering" in line for line in gate.capture.lines)
    gate.capture.assert_clean(gate.recorder.url)


@pytest.mark.wall_clock
def test_the_timer_answers_when_a_describe_outlives_the_invocation(gate: Gate) -> None:
    # A 4.6 s invocation: the timer fires at 0.6 s, while the 1.5 s Describe is still in flight; the handler's own
    # answer, when the call returns, is not sent.
    gate.api.script(PROJECT, JOB, [slow(1.5, ok(description("RUNNING")))])
    elapsed = gate(event_for(gate), timeout_s=4.6)
    time.sleep(0.3)
    assert elapsed < 4.6 and gate.recorder.attempts == 1
    [body] = gate.recorder.bodies
    assert body["Reason"] == "The handler ran out of time before it could answer; see the function's log"


@pytest.mark.parametrize(
    ("fires_in", "invokes", "reason"),
    [("Describe", 0, "The handler ran out of time"), ("Invoke", 1, "Could not continue waiting for model packaging")],
)
def test_the_timer_and_a_hand_off_never_both_answer(gate: Gate, fires_in: str, invokes: int, reason: str) -> None:
    """The timer fires while a Describe is in flight: its answer is the one, and nothing is handed on. It fires inside
    an Invoke that Lambda then refuses: the hand-off was claimed first, so the timer stays quiet, and the refusal is
    the one answer."""
    if fires_in == "Invoke":
        gate.lam.invoke.side_effect = lambda **_: gate.handler._timeout() or refused()
    else:
        gate.lam.invoke.side_effect = refused
        sending = "before-send.lookoutvision.DescribeModelPackagingJob"
        gate.arguments["lookoutvision"].meta.events.register(sending, lambda **_: gate.handler._timeout())
    gate.api.script(PROJECT, JOB, [ok(description("RUNNING"))])
    gate(event_for(gate), timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)
    assert (gate.lam.invoke.call_count, gate.recorder.attempts) == (invokes, 1)
    [body] = gate.recorder.bodies
    assert body["Reason"].startswith(reason)


def test_a_hand_off_and_its_continuation_answer_exactly_once_and_start_the_job_once(gate: Gate) -> None:
    # More RUNNING looks than the first invocation takes before its hand-off point.
    gate.api.after_start = lambda _: [*[ok(packaged(START_REQUEST, "RUNNING"))] * 6, ok(packaged(START_REQUEST))]
    gate.gg.script(STARTED_ARN, ["DEPLOYABLE"])
    event = event_for(gate, props=STARTING)
    gate(event, timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)
    [call] = gate.lam.invoke.call_args_list
    assert gate.recorder.attempts == 0
    # The same warm container runs the continuation: the hand-off's claim does not outlive its request.
    gate(json.loads(call.kwargs["Payload"]))
    assert answer(gate, "SUCCESS")["RequestId"] == event["RequestId"]
    assert len(gate.api.starts) == 1, "the continuation waits for the job it started, and starts none"
    assert gate.api.calls() == 8  # the look that found no job, then six RUNNING and SUCCEEDED


def test_a_missing_job_is_started_once_then_awaited_until_greengrass_can_deploy_it(gate: Gate) -> None:
    gate.gg.script(STARTED_ARN, [error(404, NOT_FOUND, "not yet"), "REQUESTED", "DEPLOYABLE"])
    gate(event_for(gate, props=STARTING))
    [start] = gate.api.starts
    assert start["body"] == START_REQUEST
    assert start["token"] == configuration.parse(packaging()).client_token(PROJECT, STARTED_JOB)
    assert answer(gate, "SUCCESS", physical_id=STARTED_ID)["Data"]["ComponentVersionArn"] == STARTED_ARN
    # One Describe that found nothing, then CREATED and SUCCEEDED; Greengrass from not listed yet until DEPLOYABLE.
    assert gate.api.calls(PROJECT, STARTED_JOB) == 3 and gate.gg.calls(STARTED_ARN) == 3
    authorization = gate.gg.requests[0]["headers"]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=") and "/greengrass/aws4_request" in authorization


def test_the_same_create_delivered_twice_starts_one_job_and_both_answer_success(gate: Gate) -> None:
    gate.gg.script(STARTED_ARN, ["DEPLOYABLE"])
    event = event_for(gate, props=STARTING)
    # Two containers, as Lambda runs two deliveries at once.
    first = threading.Thread(target=gate.again(), args=(json.loads(json.dumps(event)),))
    first.start()
    gate(json.loads(json.dumps(event)))
    first.join(30)
    assert len(gate.api.started) == 1, "one job, whichever delivery started it"
    assert {s["token"] for s in gate.api.starts} <= {next(iter(gate.api.started.values()))}
    assert [b["Status"] for b in gate.recorder.bodies] == ["SUCCESS", "SUCCESS"]


THROTTLED = error(429, "ThrottlingException", "Rate exceeded")
QUOTA = error(402, "ServiceQuotaExceededException", "Too many packaging jobs", QuotaCode="L-1")
# Each: what Start answers until when (in virtual seconds; then it starts the job), more properties, the invocation's
# seconds, then the answer, what its Reason says, and the Start and Describe calls (None: any number).
STARTS = {
    # A Start the service refuses answers at once and waits for nothing.
    "start-quota": (QUOTA, math.inf, {}, 900, "FAILED", "Could not start model packaging job", (1, 1)),
    # Throttling ends: the wait's own deadline, not a shorter budget of Start's, bounds how long Start is retried;
    # throttled to the end, the answer says so.
    "throttled-for-90-s": (THROTTLED, 90, {"WaitTimeoutSeconds": "2700"}, 900, "SUCCESS", "", None),
    "throttled-to-the-deadline": (THROTTLED, math.inf, {"WaitTimeoutSeconds": "60"}, 900, "FAILED", "Throttling", None),
    # Starting a job nobody can wait for would leave it running behind a FAILED stack.
    "5-s-left": (None, 0, {}, 5, "FAILED", "", (0, 0)),
}


@pytest.mark.parametrize("case", STARTS.values(), ids=STARTS)
def test_a_resource_that_starts_its_job_answers_once_with_the_start_s_outcome(
    gate: Gate, case: tuple[Any, ...]
) -> None:
    refusal, refused_for_s, extra, timeout_s, status, says, calls = case
    until = gate.vclock.now() + refused_for_s
    gate.api.refuse_start = lambda _: refusal if gate.vclock.now() < until else None
    gate.gg.script(STARTED_ARN, ["DEPLOYABLE"])
    gate(event_for(gate, props={**STARTING, **extra}), timeout_s=timeout_s)
    time.sleep(2.0 if timeout_s < 6 else 0.0)  # room for a late second answer (the invocation's timer) to arrive
    answer(gate, status, says, physical_id=STARTED_ID)
    assert calls is None or (len(gate.api.starts), gate.api.calls()) == calls


SERVER_ERROR = error(500, "InternalServerException", "Internal error")
COMPONENT_CHECKS = {
    "failed": (["REQUESTED", "FAILED:checksum mismatch"], {}, range(2, 3), "FAILED and cannot be deployed: checksum"),
    # Greengrass never answered: "still not described" alone would hide why.
    "server-errors": ([SERVER_ERROR], {"WaitTimeoutSeconds": "60"}, range(2, 99), "last error InternalServerException"),
}


@pytest.mark.parametrize(("states", "extra", "calls", "says"), COMPONENT_CHECKS.values(), ids=COMPONENT_CHECKS)
def test_a_watched_job_passes_only_once_greengrass_can_deploy_its_component(
    gate: Gate, states: list[Any], extra: dict[str, str], calls: range, says: str
) -> None:
    gate.api.script(PROJECT, JOB, [ok(description())])
    gate.gg.script(COMPONENT_ARN, states)
    gate(event_for(gate, props=properties(ExpectedComponentName=COMPONENT, **extra)))
    body = answer(gate, "FAILED", says, physical_id=PHYSICAL_ID)
    assert (body["Data"]["Status"], gate.api.calls()) == ("SUCCEEDED", 1)
    assert gate.gg.calls(COMPONENT_ARN) in calls
