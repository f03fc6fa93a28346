"""The handler in process (``index.make_handler``) over real HTTP: the product's own Lookout for Vision and Greengrass
clients call loopback APIs (real botocore serialization, SigV4 signing and error parsing, one attempt per call), and
the answer goes to a loopback ResponseURL that records every PUT; the wait runs on a virtual clock. What each reason
says is tests/unit's; this suite checks what only the whole handler can get wrong: the wire, exactly one answer, the
logs, and a job's life from its start to its deployable component.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from inprocess import Capture, FakeLambda, Gate
from support import (
    COMPONENT,
    COMPONENT_ARN,
    FUNCTION_ARN,
    MALFORMED,
    NOT_FOUND,
    RESET,
    FakeContext,
    FakeGreengrass,
    FakeLookoutVision,
    ResponseRecorder,
    component_arn,
    description,
    error,
    make_event,
    ok,
    packaged,
    packaging,
    properties,
    slow,
)

from cdk_lookoutvision_packaging_handler import configuration, continuation, contract, index, outbound

PROJECT, JOB = "pcb", "pcb-v3-x86"
PHYSICAL_ID = f"{PROJECT}/{JOB}"
# An invocation of 70 s hands a wait on 10 s in, on the virtual clock: after two to five looks, at once in real time.
HANDS_ON_AFTER_TEN_SECONDS_S = 70.0
MISSING = object()  # a key to leave out of an event

# A resource that starts its job: the job ``packaging_props()`` names, its Start request and its component.
STARTED_JOB = contract.default_job_name(COMPONENT, "3.0.0")
STARTED_ID = f"{PROJECT}/{STARTED_JOB}"
STARTED_ARN = component_arn(version="3.0.0")
START_REQUEST = {"ProjectName": PROJECT, "JobName": STARTED_JOB, **packaging()}
NOT_VISIBLE = error(404, NOT_FOUND, "Job not found", ResourceId=STARTED_JOB, ResourceType="MODEL_PACKAGE_JOB")


def packaging_props(**extra: Any) -> dict[str, Any]:
    """ResourceProperties of a resource that starts its job, as CloudFormation sends them."""
    return properties(job=STARTED_JOB, Packaging=packaging(), **extra)


def event_for(recorder: ResponseRecorder, request_type: str = "Create", **kwargs: Any) -> dict[str, Any]:
    return make_event(request_type, response_url=recorder.url, **kwargs)


def edited(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``event`` with ``changes``; a MISSING value leaves that key out."""
    return {k: v for k, v in {**event, **changes}.items() if v is not MISSING}


def answer(
    recorder: ResponseRecorder, status: str, *says: str, lacks: tuple[str, ...] = (), physical_id: str = ""
) -> dict[str, Any]:
    """The one answer: its status, a Reason with each of ``says`` and none of ``lacks``, and ``physical_id``."""
    body = recorder.only
    assert body["Status"] == status, body["Reason"]
    for fragment in says:
        assert fragment in body["Reason"], (fragment, body["Reason"])
    for fragment in lacks:
        assert fragment not in body["Reason"], (fragment, body["Reason"])
    if physical_id:
        assert body["PhysicalResourceId"] == physical_id
    return body


# --- what goes over the wire ---------------------------------------------------------------------------------------


def test_a_succeeded_job_is_answered_once_with_every_attribute_after_one_signed_request(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    api.script(PROJECT, JOB, [ok(description("SUCCEEDED", status_message="Packaging complete"))])
    event = event_for(recorder)
    gate(event)
    assert recorder.attempts == 1
    assert recorder.only == {
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
    [request] = api.requests
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
        (error(500, "InternalServerException", "Internal error"), None),
        (error(502, "", "Bad Gateway"), None),
        (RESET, None),
        # A 200 whose JSON is cut short: botocore returns a response without a ModelPackagingDescription.
        (MALFORMED, None),
    ],
    ids=["429", "429-retry-after", "500", "502-no-code", "connection-reset", "malformed-json"],
)
def test_a_transient_failure_on_the_wire_is_retried_by_the_wait_not_by_botocore(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, failure: Any, pause_s: float | None
) -> None:
    api.script(PROJECT, JOB, [failure, ok(description())])
    gate(event_for(recorder))
    answer(recorder, "SUCCESS")
    assert api.calls() == 2, "one attempt per call: the wait retries, with its own backoff"
    [pause] = gate.vclock.sleeps
    assert pause_s in (None, pause), "a Retry-After header sets the pause before the retry"


@pytest.mark.wall_clock
def test_a_response_slower_than_the_read_timeout_is_cut_off_and_retried(
    api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # The product's client settings, with a read timeout of 1 s instead of 10 s.
    client = boto3.session.Session().client(
        contract.LOOKOUTVISION_SERVICE,
        region_name=index.REGION,
        endpoint_url=api.url,
        config=outbound.client_config(read_timeout=1),
    )
    api.script(PROJECT, JOB, [slow(3.0, ok(description("RUNNING"))), ok(description())])
    Gate(client)(event_for(recorder))
    answer(recorder, "SUCCESS")
    first, second = (r["at"] for r in api.requests)
    # The server stamps a request when it reads it, which under load can lag the client's clock by a few ms.
    assert 0.9 <= second - first < 2.5, "the client gives up on the call after its read timeout"


def test_an_endpoint_that_does_not_resolve_fails_at_once_naming_the_function_s_region(
    recorder: ResponseRecorder,
) -> None:
    # .invalid never resolves (RFC 6761): like the endpoint of a Region without Lookout for Vision.
    endpoint = "https://lookoutvision.eu-west-9.amazonaws.invalid"
    gate = Gate(index.make_lookoutvision_client(endpoint_url=endpoint))
    gate(event_for(recorder), timeout_s=120)
    answer(recorder, "FAILED", f"{endpoint} for Region {index.REGION}:")
    assert gate.vclock.sleeps == []


def test_the_function_s_environment_reaches_the_wait(
    api: FakeLookoutVision, client: Any, recorder: ResponseRecorder
) -> None:
    # 100 jobs sharing 4 requests per second, as the construct configures the function: each first look is spread
    # over one share of 25 s.
    gate = Gate(client, environ={"DESCRIBE_BUDGET_RPS": "4", "DESCRIBE_BUDGET_JOBS": "100"})
    api.script(PROJECT, JOB, [ok(description())])
    gate(event_for(recorder))
    answer(recorder, "SUCCESS")
    [stagger] = gate.vclock.sleeps
    assert 0 < stagger <= 25.0


# --- exactly one answer, whatever fails ----------------------------------------------------------------------------


@pytest.mark.wall_clock
def test_a_response_url_that_always_fails_is_given_up_before_the_deadline_without_logging_it(
    gate: Gate, api: FakeLookoutVision, captured: Capture
) -> None:
    api.script(PROJECT, JOB, [ok(description())])
    with ResponseRecorder(always_fail=True) as dead:
        elapsed = gate(event_for(dead), timeout_s=4.5)
        assert elapsed < 4.5, f"the handler ran {elapsed:.2f} s of a 4.5 s invocation"
        assert dead.attempts >= 2, "a failing response URL is retried while time remains"
        assert dead.bodies == []
        attempts = dead.attempts
        time.sleep(0.6)
        assert dead.attempts == attempts, "nothing may keep answering after the handler returned"
    # Each failed attempt and the giving up are logged, and none of those lines names the URL.
    assert any("Gave up answering CloudFormation" in line for line in captured.lines)
    captured.assert_clean(dead.url)


def test_a_bug_of_ours_answers_one_clean_failed_and_logs_the_traceback_without_the_url(
    client: Any, recorder: ResponseRecorder, captured: Capture
) -> None:
    event = event_for(recorder)

    def broken() -> float:
        raise RuntimeError(f"bug while answering {event['ResponseURL']}")

    Gate(client, clock=outbound.Clock(now=broken))(event)
    body = answer(recorder, "FAILED", physical_id=PHYSICAL_ID)
    stream = FakeContext().log_stream_name
    assert body["Reason"] == f"Internal error in the ModelPackagingJob handler (RuntimeError); see log stream {stream}"
    assert any("Traceback" in line and "RuntimeError: bug while answering" in line for line in captured.lines)
    captured.assert_clean(recorder.url)


@pytest.mark.wall_clock
def test_the_timer_answers_when_a_describe_outlives_the_invocation(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # A 4.6 s invocation: the timer fires at 0.6 s, while the 1.5 s Describe is still in flight; the handler's own
    # answer, when the call returns, is not sent.
    api.script(PROJECT, JOB, [slow(1.5, ok(description("RUNNING")))])
    elapsed = gate(event_for(recorder), timeout_s=4.6)
    time.sleep(0.3)
    assert elapsed < 4.6 and recorder.attempts == 1
    assert recorder.only["Reason"] == "The handler ran out of time before it could answer; see the function's log"


def test_when_the_timer_answered_first_the_wait_is_not_handed_on(
    api: FakeLookoutVision, client: Any, recorder: ResponseRecorder
) -> None:
    gate = Gate(client)
    # The timer fires while a Describe call is in flight (its thread runs beside the handler's).
    sending = "before-send.lookoutvision.DescribeModelPackagingJob"
    client.meta.events.register(sending, lambda **_: gate.handler._timeout())
    api.script(PROJECT, JOB, [ok(description("RUNNING"))])
    gate(event_for(recorder), timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)
    assert recorder.attempts == 1
    assert recorder.only["Reason"].startswith("The handler ran out of time")
    assert gate.lam.invocations == [], "an answered request must not be handed on"


def test_the_timer_firing_during_a_refused_hand_off_stays_quiet_and_the_refusal_is_the_one_answer(
    api: FakeLookoutVision, client: Any, recorder: ResponseRecorder
) -> None:
    # The hand-off was claimed first: the timer (fired from inside the Invoke) stays silent, and once Lambda refuses
    # the Invoke, this invocation answers FAILED with the refusal.
    lam = FakeLambda(refuse=True, during=lambda: gate.handler._timeout())
    gate = Gate(client, lam)
    api.script(PROJECT, JOB, [ok(description("RUNNING"))])
    gate(event_for(recorder), timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)
    assert len(lam.invocations) == 1 and recorder.attempts == 1
    body = answer(recorder, "FAILED", "lambda:InvokeFunction", lacks=("ran out of time",))
    assert body["Data"]["Status"] == "RUNNING"


def test_a_hand_off_and_its_continuation_answer_exactly_once_and_start_the_job_once(
    gate: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    # More RUNNING looks than the first invocation takes before its hand-off point.
    api.after_start = lambda _: [*[ok(packaged(START_REQUEST, "RUNNING"))] * 6, ok(packaged(START_REQUEST))]
    gg.script(STARTED_ARN, ["DEPLOYABLE"])
    event = event_for(recorder, props=packaging_props())
    gate(event, timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)
    assert recorder.attempts == 0
    [call] = gate.lam.invocations
    assert (call["FunctionName"], call["InvocationType"]) == (FUNCTION_ARN, "Event")
    payload = json.loads(call["Payload"])
    state = payload.pop(continuation.CONTINUATION_KEY)
    assert payload == event and state["Invocation"] == 2
    # The same warm container runs the continuation: the hand-off's claim does not outlive its request.
    gate(json.loads(call["Payload"]))
    assert answer(recorder, "SUCCESS")["RequestId"] == event["RequestId"]
    assert len(api.starts) == 1, "the continuation waits for the job it started, and starts none"
    assert api.calls() == 8  # the look that found no job, then six RUNNING and SUCCEEDED


# --- events crhelper cannot handle ---------------------------------------------------------------------------------


# test_fuzz.py tries these among every kind of bad event; here the exact Reason, which no unit test writes out.
UNHANDLED = {
    "replace": (
        {"RequestType": "Replace"},
        "Bad request: unsupported RequestType 'Replace'; expected Create, Update or Delete",
    ),
    "no-stack-id": ({"StackId": MISSING}, "Bad request: the event has no StackId"),
}


@pytest.mark.parametrize(("change", "reason"), UNHANDLED.values(), ids=UNHANDLED)
def test_an_event_crhelper_cannot_handle_is_answered_failed_saying_why(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, change: dict[str, Any], reason: str
) -> None:
    gate(edited(event_for(recorder), **change))
    assert (api.calls(), answer(recorder, "FAILED")["Reason"]) == (0, reason)


@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
def test_log_level_sets_the_level_of_the_root_logger(client: Any, captured: Capture, log_level: str) -> None:
    Gate(client, environ={"LOG_LEVEL": log_level})
    assert logging.getLogger().level == getattr(logging, log_level)


# --- starting the job from the stack -------------------------------------------------------------------------------


def test_a_missing_job_is_started_once_then_awaited_until_greengrass_can_deploy_it(
    gate: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    gg.script(STARTED_ARN, [error(404, NOT_FOUND, "not yet"), "REQUESTED", "DEPLOYABLE"])
    gate(event_for(recorder, props=packaging_props()))
    [start] = api.starts
    assert start["body"] == START_REQUEST
    assert start["token"] == configuration.parse(packaging_props()["Packaging"]).client_token(PROJECT, STARTED_JOB)
    assert answer(recorder, "SUCCESS", physical_id=STARTED_ID)["Data"]["ComponentVersionArn"] == STARTED_ARN
    # One Describe that found nothing, then CREATED and SUCCEEDED; Greengrass from not listed yet until DEPLOYABLE.
    assert api.calls(PROJECT, STARTED_JOB) == 3 and gg.calls(STARTED_ARN) == 3
    authorization = gg.requests[0]["headers"]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=") and "/greengrass/aws4_request" in authorization


def test_the_same_create_delivered_twice_starts_one_job_and_both_answer_success(
    gate: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder, client: Any, greengrass: Any
) -> None:
    gg.script(STARTED_ARN, ["DEPLOYABLE"])
    event = event_for(recorder, props=packaging_props())
    # Two containers, as Lambda runs two deliveries at once.
    first = threading.Thread(target=Gate(client, greengrass=greengrass), args=(json.loads(json.dumps(event)),))
    first.start()
    gate(json.loads(json.dumps(event)))
    first.join(30)
    assert len(api.started) == 1, "one job, whichever delivery started it"
    assert {s["token"] for s in api.starts} <= {next(iter(api.started.values()))}
    assert [b["Status"] for b in recorder.bodies] == ["SUCCESS", "SUCCESS"]


def refused(step: Any) -> Callable[[Gate, FakeLookoutVision], None]:
    return lambda gate, api: setattr(api, "refuse_start", lambda _: step)


def throttled_for(seconds: float) -> Callable[[Gate, FakeLookoutVision], None]:
    def arrange(gate: Gate, api: FakeLookoutVision) -> None:
        until = gate.vclock.now() + seconds
        api.refuse_start = lambda _: (
            error(429, "ThrottlingException", "Rate exceeded") if gate.vclock.now() < until else None
        )

    return arrange


def after_start(*steps: Any) -> Callable[[Gate, FakeLookoutVision], None]:
    return lambda gate, api: setattr(api, "after_start", lambda _: list(steps))


def nothing(gate: Gate, api: FakeLookoutVision) -> None:
    pass


QUOTA = error(402, "ServiceQuotaExceededException", "Too many packaging jobs", QuotaCode="L-1")
NOT_STARTED = f"Could not start model packaging job {STARTED_ID}"
ONE, ANY = range(1, 2), range(999)
# Each: how the API behaves, the properties, the invocation's seconds, then the answer, what its Reason says and
# must not say, the Start calls (None: any number) and the Describe calls.
# fmt: off
STARTS = {
    # A Start the service refuses is worded as starting the job, not as a Describe, and waits for nothing.
    "start-quota": (refused(QUOTA), packaging_props(), 900, "FAILED", (NOT_STARTED, "Too many packaging"),
                    ("Cannot describe",), 1, ONE),
    # Throttling ends: the wait's own deadline, not a shorter budget of Start's, bounds how long Start is retried;
    # throttled to the end, the reason names the throttling and what to do about it.
    "throttled-for-90-s": (throttled_for(90), packaging_props(WaitTimeoutSeconds="2700"), 900, "SUCCESS", (), (),
                           None, ANY),
    "throttled-to-the-deadline": (throttled_for(math.inf), packaging_props(WaitTimeoutSeconds="60"), 900, "FAILED",
                                  ("ThrottlingException", "quota"), (), None, ANY),
    # A job that never shows after its Start fails saying it is not visible, not blaming the job name the stack chose.
    "never-visible": (after_start(NOT_VISIBLE), packaging_props(), 900, "FAILED", ("not visible",),
                      ("check job_name",), 1, range(3, 999)),
    # Starting a job nobody can wait for would leave it running behind a FAILED stack.
    "5-s-left": (nothing, packaging_props(), 5, "FAILED", (), (), 0, ANY),
}
# fmt: on


@pytest.mark.parametrize("case", STARTS.values(), ids=STARTS)
def test_a_resource_that_starts_its_job_answers_once_with_the_start_s_outcome(
    gate: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder, case: tuple[Any, ...]
) -> None:
    arrange, props, timeout_s, status, says, lacks, starts, looks = case
    arrange(gate, api)
    gg.script(STARTED_ARN, ["DEPLOYABLE"])
    gate(event_for(recorder, props=props), timeout_s=timeout_s)
    time.sleep(2.0 if timeout_s < 6 else 0.0)  # room for a late second answer (the invocation's timer) to arrive
    body = answer(recorder, status, *says, lacks=lacks, physical_id=STARTED_ID)
    assert (body["Reason"] == "") is (status == "SUCCESS")
    assert starts is None or len(api.starts) == starts, api.starts
    assert api.calls() in looks, "the 404s after a Start are looked past, not taken as final"


# --- the Greengrass component: passed on only once it is deployable ------------------------------------------------

MISMATCH = "artifact checksum mismatch"
# fmt: off
COMPONENT_CHECKS = {
    "failed": (["REQUESTED", f"FAILED:{MISMATCH}"], None, range(2, 3),
               (f"{COMPONENT_ARN} is FAILED and cannot be deployed: {MISMATCH}",)),
    "timeout": (["REQUESTED"], "60", range(2, 99),
                (f"after 1.0 minutes waiting for Greengrass component {COMPONENT_ARN}", "last state REQUESTED")),
    # Greengrass never answered: "still not described" alone would hide why.
    "server-errors": ([error(500, "InternalServerException", "Internal error")], "60", range(2, 99),
                      ("last error", "InternalServerException")),
}
# fmt: on


@pytest.mark.parametrize("check", COMPONENT_CHECKS.values(), ids=COMPONENT_CHECKS)
def test_a_watched_job_passes_only_once_greengrass_can_deploy_its_component(
    gate: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder, check: tuple[Any, ...]
) -> None:
    states, wait_timeout, calls, says = check
    api.script(PROJECT, JOB, [ok(description())])
    gg.script(COMPONENT_ARN, states)
    timeout = {"WaitTimeoutSeconds": wait_timeout} if wait_timeout else {}
    gate(event_for(recorder, props=properties(ExpectedComponentName=COMPONENT, **timeout)))
    body = answer(recorder, "FAILED" if says else "SUCCESS", *says, physical_id=PHYSICAL_ID)
    assert (body["Data"]["Status"], api.calls()) == ("SUCCEEDED", 1)
    assert gg.calls(COMPONENT_ARN) in calls
