"""End-to-end tests of index.handler with botocore's Stubber: every behaviour of issue 2, answered through the real
crhelper glue to a loopback ResponseURL that records the PUT."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from support import (
    COMPONENT_ARN,
    EXPECTED_BODY_KEYS,
    EXPECTED_DATA_KEYS,
    FUNCTION_ARN,
    STACK_ID,
    FakeContext,
    ResponseRecorder,
    VirtualClock,
    description,
    make_event,
    properties,
)

from model_packaging_job import custom_resource as cr
from model_packaging_job import handoff, index
from model_packaging_job import packaging_job as pj

PROJECT, JOB = "pcb", "pcb-v3-x86"
PHYSICAL_ID = f"{PROJECT}/{JOB}"
OPERATION = "describe_model_packaging_job"
DESCRIBE_EVENT = "before-parameter-build.lookoutvision.DescribeModelPackagingJob"
INVOKE_EVENT = "before-parameter-build.lambda.Invoke"
SIGNATURE = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


# --- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pj, "POLL_INTERVAL_S", (0.01, 0.02))
    monkeypatch.setattr(pj, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(pj, "BACKOFF_CAP_S", 0.05)


class Recorder(ResponseRecorder):
    """ResponseRecorder whose server notices shutdown within 20 ms, so that each test can have its own."""

    def __enter__(self) -> Recorder:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self


# The handler's own clients, made by its factories, behind Stubbers that the fixtures below activate per test.
LV_CLIENT = index.make_lookoutvision_client()
LAMBDA_CLIENT = index.make_lambda_client()
HANDLER = index.make_handler(lookoutvision=LV_CLIENT, lambda_client=LAMBDA_CLIENT)


@pytest.fixture(scope="module")
def lv_client() -> Any:
    return LV_CLIENT


@pytest.fixture(scope="module")
def lambda_client() -> Any:
    return LAMBDA_CLIENT


@pytest.fixture
def lv(lv_client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """A real Lookout for Vision client behind a Stubber, installed as the handler's client. ``calls`` records the
    parameters of every Describe call that reached the client."""
    calls: list[dict[str, Any]] = []
    hooks: list[str] = []

    def hook(handler: Callable[..., Any]) -> None:
        unique_id = f"test-hook-{len(hooks)}"
        lv_client.meta.events.register(DESCRIBE_EVENT, handler, unique_id=unique_id)
        hooks.append(unique_id)

    hook(lambda params, **_: calls.append(dict(params)))
    stubber = Stubber(lv_client)
    stubber.activate()
    yield SimpleNamespace(client=lv_client, stubber=stubber, calls=calls, hook=hook)
    stubber.deactivate()
    for unique_id in hooks:
        lv_client.meta.events.unregister(DESCRIBE_EVENT, unique_id=unique_id)


@pytest.fixture(autouse=True)
def lambda_api(lambda_client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """A real Lambda client behind a Stubber with nothing queued: an unexpected hand-off fails loudly (FAILED)."""
    invokes: list[dict[str, Any]] = []
    lambda_client.meta.events.register(
        INVOKE_EVENT, lambda params, **_: invokes.append(dict(params)), unique_id="test-invokes"
    )
    stubber = Stubber(lambda_client)
    stubber.activate()
    yield SimpleNamespace(client=lambda_client, stubber=stubber, invokes=invokes)
    stubber.deactivate()
    lambda_client.meta.events.unregister(INVOKE_EVENT, unique_id="test-invokes")


@pytest.fixture
def recorder() -> Iterator[ResponseRecorder]:
    with Recorder() as rec:
        yield rec


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[str]]]:
    """Every formatted line that reaches a root handler, as the Lambda runtime's handler would see it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [line for line in stream.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)


# --- helpers -------------------------------------------------------------------------------------------------------


def expect_describe(lv: SimpleNamespace, desc: dict[str, Any], project: str = PROJECT, job: str = JOB) -> None:
    lv.stubber.add_response(OPERATION, {"ModelPackagingDescription": desc}, {"ProjectName": project, "JobName": job})


def expect_error(
    lv: SimpleNamespace, code: str, status: int, message: str = "error", modeled: dict[str, Any] | None = None
) -> None:
    lv.stubber.add_client_error(
        OPERATION,
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params={"ProjectName": PROJECT, "JobName": JOB},
        modeled_fields=modeled,
    )


def event_for(recorder: ResponseRecorder, request_type: str = "Create", **kwargs: Any) -> dict[str, Any]:
    return make_event(request_type, response_url=recorder.url, **kwargs)


def answer_of(recorder: ResponseRecorder, event: dict[str, Any]) -> dict[str, Any]:
    """The one answer, checked for size, schema and that it belongs to this request."""
    body = recorder.only
    assert len(recorder.raw[0]) <= cr.MAX_RESPONSE_BYTES
    assert set(body) == EXPECTED_BODY_KEYS
    assert body["Status"] in (cr.SUCCESS, cr.FAILED)
    assert body["RequestId"] == event["RequestId"]
    assert body["StackId"] == event["StackId"] == STACK_ID
    assert body["LogicalResourceId"] == event["LogicalResourceId"]
    assert body["NoEcho"] is False
    assert isinstance(body["PhysicalResourceId"], str)
    assert body["PhysicalResourceId"]
    assert "\n" not in body["Reason"]
    assert "Traceback" not in body["Reason"]
    return body


def run(
    recorder: ResponseRecorder, event: dict[str, Any], context: FakeContext | None = None, handler: Any = HANDLER
) -> dict[str, Any]:
    assert handler(event, context or FakeContext()) is None
    return answer_of(recorder, event)


def assert_clean_logs(lines: list[str], recorder: ResponseRecorder) -> None:
    assert lines, "the handler logged nothing"
    url_path = recorder.url.split("?")[0].split("/", 3)[3]
    for line in lines:
        assert recorder.url not in line
        assert "X-Amz-Signature" not in line
        assert SIGNATURE not in line
        assert url_path not in line


# --- 1. SUCCEEDED --------------------------------------------------------------------------------------------------


def test_succeeded_answers_success_with_all_attributes_after_one_call(lv, recorder, log_lines) -> None:
    expect_describe(lv, description("SUCCEEDED", status_message="Packaging complete"))
    event = event_for(recorder)
    body = run(recorder, event)
    lv.stubber.assert_no_pending_responses()
    assert len(lv.calls) == 1
    assert body["Status"] == cr.SUCCESS
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert body["Data"] == {
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
    }
    assert recorder.attempts == 1
    lines = log_lines()
    assert_clean_logs(lines, recorder)
    # Logs are JSON at INFO.
    records = [json.loads(line) for line in lines]
    assert {r["level"] for r in records} <= {"INFO", "WARNING", "ERROR"}
    assert any(r["level"] == "INFO" for r in records)


def test_service_timeout_property_from_cloudformation_is_accepted(lv, recorder) -> None:
    expect_describe(lv, description("SUCCEEDED"))
    body = run(recorder, event_for(recorder, props=properties(ServiceTimeout="3000")))
    assert body["Status"] == cr.SUCCESS


# --- 2. CREATED / RUNNING ------------------------------------------------------------------------------------------


def test_created_then_running_then_succeeded_is_waited_for(lv, recorder) -> None:
    for status in ("CREATED", "CREATED", "RUNNING", "RUNNING", "RUNNING"):
        expect_describe(lv, description(status))
    expect_describe(lv, description("SUCCEEDED"))
    body = run(recorder, event_for(recorder))
    lv.stubber.assert_no_pending_responses()
    assert len(lv.calls) == 6
    assert body["Status"] == cr.SUCCESS
    assert body["Data"]["Status"] == "SUCCEEDED"
    assert body["Data"]["ComponentVersionArn"] == COMPONENT_ARN
    assert body["PhysicalResourceId"] == PHYSICAL_ID


class VirtualTime(VirtualClock):
    """Wall-clock time from now on that only moves when the handler sleeps, and the handler that runs on it."""

    def __init__(self) -> None:
        super().__init__(time.time())
        self.handler: Any = index.make_handler(
            lookoutvision=LV_CLIENT, lambda_client=LAMBDA_CLIENT, clock=self.clock(3)
        )


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    vt = VirtualTime()
    monkeypatch.setattr(pj, "POLL_INTERVAL_S", (2.0, 4.5))
    return vt


def test_wait_timeout_answers_failed_naming_job_status_and_minutes(lv, recorder, virtual_time) -> None:
    for _ in range(45):
        expect_describe(lv, description("RUNNING"))
    event = event_for(recorder, props=properties(WaitTimeoutSeconds="60"))
    started = time.monotonic()
    body = run(recorder, event, handler=virtual_time.handler)
    assert time.monotonic() - started < 10
    assert body["Status"] == cr.FAILED
    reason = body["Reason"]
    assert "pcb/pcb-v3-x86" in reason
    assert "last status RUNNING" in reason
    assert "1.0 minutes" in reason
    assert body["Data"]["Status"] == "RUNNING"
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    # The wait polled at the real interval, never slept more than 4.5 s, and stopped at 60 virtual seconds.
    assert virtual_time.sleeps
    assert max(virtual_time.sleeps) <= 4.5
    assert sum(virtual_time.sleeps) == pytest.approx(60.0)
    assert 60 / 4.5 <= len(lv.calls) <= 60 / 2.0 + 2


def test_continuation_past_the_wait_timeout_fails_after_one_look(lv, recorder, virtual_time) -> None:
    expect_describe(lv, description("RUNNING"))
    expect_describe(lv, description("RUNNING"))
    event = event_for(recorder)
    event[cr.CONTINUATION_KEY] = {"StartedAt": virtual_time.t - 3000, "Invocation": 3}
    body = run(recorder, event, handler=virtual_time.handler)
    assert len(lv.calls) == 1
    assert virtual_time.sleeps == []
    assert body["Status"] == cr.FAILED
    assert "50.0 minutes" in body["Reason"]
    assert "last status RUNNING" in body["Reason"]


def test_continuation_answers_success_when_the_job_finished(lv, recorder) -> None:
    expect_describe(lv, description("RUNNING"))
    expect_describe(lv, description("SUCCEEDED"))
    event = event_for(recorder)
    event[cr.CONTINUATION_KEY] = {"StartedAt": time.time() - 900, "Invocation": 2}
    body = run(recorder, event)
    assert body["Status"] == cr.SUCCESS
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    lv.stubber.assert_no_pending_responses()


# --- the Lambda deadline: hand the wait to a fresh invocation -----------------------------------------------------


# The shortest invocation that can wait at the 2-4.5 s pace is 69 s (60 s hand-off margin, room for two looks); one
# of 70 s hands off 10 s in, on the virtual clock, after two or three looks.
HANDS_OFF_AFTER_TEN_SECONDS_S = 70.0


def expect_running(lv: SimpleNamespace, looks: int = 5) -> None:
    for _ in range(looks):
        expect_describe(lv, description("RUNNING"))


def test_deadline_near_hands_off_to_a_new_invocation_without_answering(
    lv, lambda_api, recorder, log_lines, virtual_time
) -> None:
    expect_running(lv)
    lambda_api.stubber.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": FUNCTION_ARN, "InvocationType": "Event", "Payload": ANY},
    )
    event = event_for(recorder)
    before = virtual_time.t
    assert virtual_time.handler(event, FakeContext(timeout_s=HANDS_OFF_AFTER_TEN_SECONDS_S)) is None
    lambda_api.stubber.assert_no_pending_responses()
    assert 2 <= len(lv.calls) <= 5
    assert recorder.bodies == []
    assert recorder.attempts == 0
    payload = json.loads(lambda_api.invokes[0]["Payload"])
    state = payload["LookoutVisionWait"]
    assert state["Invocation"] == 2
    assert state["StartedAt"] == before
    # The next look is due one poll after the last one, past the hand-off point: the continuation keeps the pace.
    assert before + 9.9 <= state["NextLookAt"] <= before + 10 + 4.5
    assert {k: v for k, v in payload.items() if k != "LookoutVisionWait"} == event
    assert_clean_logs(log_lines(), recorder)


def test_a_continuation_takes_its_first_look_when_the_last_invocation_would_have(lv, recorder, virtual_time) -> None:
    expect_describe(lv, description("SUCCEEDED"))
    event = event_for(recorder)
    event[cr.CONTINUATION_KEY] = {"StartedAt": virtual_time.t - 840, "Invocation": 2, "NextLookAt": virtual_time.t + 3}
    body = run(recorder, event, handler=virtual_time.handler)
    assert body["Status"] == cr.SUCCESS
    assert virtual_time.sleeps == [pytest.approx(3.0)]


def hand_off_refused(
    lv: SimpleNamespace,
    lambda_api: SimpleNamespace,
    recorder: ResponseRecorder,
    handler: Any,
    code: str,
    status: int,
    times: int = 1,
) -> dict[str, Any]:
    """The answer of a request whose job keeps RUNNING and whose hand-off Lambda refuses ``times`` times."""
    expect_running(lv)
    for _ in range(times):
        lambda_api.stubber.add_client_error("invoke", service_error_code=code, http_status_code=status)
    event = event_for(recorder)
    handler(event, FakeContext(timeout_s=HANDS_OFF_AFTER_TEN_SECONDS_S))
    lambda_api.stubber.assert_no_pending_responses()
    return answer_of(recorder, event)


def test_failed_hand_off_answers_failed_once_naming_the_permission(lv, lambda_api, recorder, virtual_time) -> None:
    body = hand_off_refused(lv, lambda_api, recorder, virtual_time.handler, "AccessDeniedException", 403)
    assert body["Status"] == cr.FAILED
    assert "lambda:InvokeFunction" in body["Reason"]
    assert "pcb/pcb-v3-x86" in body["Reason"]
    assert "RUNNING" in body["Reason"]
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert set(body["Data"]) == EXPECTED_DATA_KEYS


@pytest.mark.parametrize(("code", "status"), [("RequestEntityTooLargeException", 413), ("ExpiredTokenException", 403)])
def test_a_hand_off_refused_for_another_reason_names_it_not_the_permission(
    lv, lambda_api, recorder, virtual_time, code: str, status: int
) -> None:
    body = hand_off_refused(lv, lambda_api, recorder, virtual_time.handler, code, status)
    assert body["Status"] == cr.FAILED
    assert f"{code} ({status})" in body["Reason"], body["Reason"]
    assert "lambda:InvokeFunction" not in body["Reason"]
    assert len(lambda_api.invokes) == 1, "a refusal that will not change is not retried"


def test_a_hand_off_throttled_on_every_attempt_answers_failed_naming_the_throttling(
    lv, lambda_api, recorder, virtual_time
) -> None:
    body = hand_off_refused(
        lv, lambda_api, recorder, virtual_time.handler, "TooManyRequestsException", 429, times=handoff.HANDOFF_ATTEMPTS
    )
    assert body["Status"] == cr.FAILED
    assert "did not take the Invoke after 3 attempts (TooManyRequestsException (429))" in body["Reason"]
    assert "lambda:InvokeFunction" not in body["Reason"]
    assert len(lambda_api.invokes) == handoff.HANDOFF_ATTEMPTS


def test_a_hand_off_of_unknown_outcome_is_neither_repeated_nor_answered(
    lv, lambda_api, recorder, log_lines, virtual_time
) -> None:
    # A 5xx from Lambda, like a read timeout, may come after Lambda queued the event: a retry or a FAILED answer
    # could start a second chain or contradict the first one.
    expect_running(lv)
    lambda_api.stubber.add_client_error(
        "invoke", service_error_code="ServiceException", service_message="internal", http_status_code=500
    )
    event = event_for(recorder)
    virtual_time.handler(event, FakeContext(timeout_s=HANDS_OFF_AFTER_TEN_SECONDS_S))
    assert recorder.bodies == [] and recorder.attempts == 0
    assert len(lambda_api.invokes) == 1
    assert any("handOffUnknown" in line and "ServiceException" in line for line in log_lines())


def test_when_the_timer_answered_first_the_wait_is_not_handed_off(lv, lambda_api, recorder, virtual_time) -> None:
    # The timer fires while the Describe call is in flight (its thread runs beside the handler's).
    lv.hook(lambda params, **_: virtual_time.handler._timeout())
    expect_running(lv)
    event = event_for(recorder)
    virtual_time.handler(event, FakeContext(timeout_s=HANDS_OFF_AFTER_TEN_SECONDS_S))
    body = answer_of(recorder, event)
    assert body["Status"] == cr.FAILED and "ran out of time" in body["Reason"]
    assert lambda_api.invokes == [], "an answered request must not be handed on"


@pytest.mark.parametrize("timeout_s", [10.0, 30.0, 61.0, 68.0])
def test_an_invocation_too_short_to_wait_in_looks_once_and_answers_failed(
    lv, lambda_api, recorder, virtual_time, timeout_s
) -> None:
    expect_describe(lv, description("RUNNING"))
    event = event_for(recorder)
    virtual_time.handler(event, FakeContext(timeout_s=timeout_s))
    body = answer_of(recorder, event)
    assert body["Status"] == cr.FAILED
    assert re.fullmatch(
        r"Cannot wait for model packaging job pcb/pcb-v3-x86: this invocation of the handler function had "
        r"\d+\.\d s, and a wait needs at least 69 s per invocation \(60 s to hand the wait on, and "
        r"room for 2 looks\)\. Restore the function's timeout \(15 minutes as the construct sets it\)",
        body["Reason"],
    ), body["Reason"]
    assert body["Data"]["Status"] == "RUNNING"
    assert len(lv.calls) == 1 and lambda_api.invokes == [] and virtual_time.sleeps == []


def test_an_invocation_too_short_to_wait_in_still_answers_a_finished_job(lv, recorder, virtual_time) -> None:
    expect_describe(lv, description("SUCCEEDED"))
    event = event_for(recorder)
    virtual_time.handler(event, FakeContext(timeout_s=30))
    assert answer_of(recorder, event)["Status"] == cr.SUCCESS


def test_deadline_near_but_job_done_answers_without_hand_off(lv, lambda_api, recorder, virtual_time) -> None:
    expect_describe(lv, description("SUCCEEDED"))
    event = event_for(recorder)
    virtual_time.handler(event, FakeContext(timeout_s=HANDS_OFF_AFTER_TEN_SECONDS_S))
    body = answer_of(recorder, event)
    assert body["Status"] == cr.SUCCESS
    assert lambda_api.invokes == []


def test_a_warm_container_answers_the_next_request_after_a_hand_off(lv, lambda_api, recorder, virtual_time) -> None:
    expect_running(lv, 3)
    lambda_api.stubber.add_response("invoke", {"StatusCode": 202})
    virtual_time.handler(event_for(recorder), FakeContext(timeout_s=HANDS_OFF_AFTER_TEN_SECONDS_S))
    assert recorder.bodies == []
    expect_describe(lv, description("SUCCEEDED"))
    event = event_for(recorder)
    body = run(recorder, event, handler=virtual_time.handler)
    assert body["Status"] == cr.SUCCESS


def test_without_waiting_the_answer_comes_before_the_service_timeout(lv, recorder, virtual_time, monkeypatch) -> None:
    # As the construct synthesizes wait_for_completion=False: ServiceTimeout 300 s, WaitTimeoutSeconds 45 minutes.
    monkeypatch.setattr(pj, "BACKOFF_BASE_S", 2.0)
    monkeypatch.setattr(pj, "BACKOFF_CAP_S", 30.0)
    for _ in range(200):
        expect_error(lv, "ServiceUnavailableException", 503, "Unavailable")
    props = properties(WaitForCompletion="false", WaitTimeoutSeconds="2700", ServiceTimeout="300")
    event = event_for(recorder, props=props)
    body = run(recorder, event, handler=virtual_time.handler)
    assert body["Status"] == cr.FAILED
    assert sum(virtual_time.sleeps) == pytest.approx(300 - cr.SERVICE_TIMEOUT_MARGIN_S)
    assert "before CloudFormation's ServiceTimeout of 300 s" in body["Reason"], body["Reason"]
    assert "ServiceUnavailableException" in body["Reason"]


# --- 3. FAILED -----------------------------------------------------------------------------------------------------


def test_failed_job_answers_failed_with_the_exact_reason(lv, recorder) -> None:
    message = "Greengrass component com.example.pcb-defects could not be created: S3 bucket pcb-models not found"
    expect_describe(lv, description("FAILED", status_message=message))
    body = run(recorder, event_for(recorder))
    lv.stubber.assert_no_pending_responses()
    assert body["Status"] == cr.FAILED
    assert body["Reason"] == f"Model packaging job pcb/pcb-v3-x86 FAILED: {message}"
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert body["Data"]["Status"] == "FAILED"
    assert body["Data"]["StatusMessage"] == message


def test_failed_job_with_a_multiline_message_gives_a_one_line_reason(lv, recorder) -> None:
    expect_describe(lv, description("FAILED", status_message="step 1 failed\nstep 2 skipped\r\n"))
    body = run(recorder, event_for(recorder))
    assert body["Reason"] == "Model packaging job pcb/pcb-v3-x86 FAILED: step 1 failed step 2 skipped"


def test_failed_job_with_a_huge_message_still_fits(lv, recorder) -> None:
    message = "Compilation error: " + "x" * 30_000
    expect_describe(lv, description("FAILED", status_message=message))
    body = run(recorder, event_for(recorder))
    assert body["Status"] == cr.FAILED
    assert body["Reason"].startswith("Model packaging job pcb/pcb-v3-x86 FAILED: Compilation error: xxx")
    assert body["Data"]["StatusMessage"].startswith("Compilation error: ")


def test_unknown_job_status_fails_instead_of_waiting_forever(lv, recorder) -> None:
    expect_describe(lv, description("STOPPING"))
    body = run(recorder, event_for(recorder))
    assert body["Status"] == cr.FAILED
    assert "STOPPING" in body["Reason"]
    assert len(lv.calls) == 1


# --- 4. other errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "modeled", "must_say", "must_not_say"),
    [
        ("AccessDeniedException", 403, None, ["lookoutvision:DescribeModelPackagingJob", 'Resource "*"'], []),
        (
            "ResourceNotFoundException",
            404,
            {"Message": "Project pcb not found", "ResourceId": PROJECT, "ResourceType": "PROJECT"},
            ["project 'pcb' does not exist", "check project_name", "us-east-1"],
            ["check job_name"],
        ),
        (
            "ResourceNotFoundException",
            404,
            {"Message": "Job not found", "ResourceId": JOB, "ResourceType": "MODEL_PACKAGE_JOB"},
            ["'pcb-v3-x86' does not exist in project 'pcb'", "check job_name"],
            ["check project_name"],
        ),
        ("ValidationException", 400, None, ["pcb/pcb-v3-x86", "naming rules"], []),
    ],
)
def test_final_api_errors_fail_with_one_line_that_says_what_to_fix(
    lv, recorder, code: str, status: int, modeled: dict[str, Any] | None, must_say: list[str], must_not_say: list[str]
) -> None:
    expect_error(lv, code, status, "the service said\nno", modeled)
    body = run(recorder, event_for(recorder))
    lv.stubber.assert_no_pending_responses()
    assert len(lv.calls) == 1, "a final error must not be retried"
    assert body["Status"] == cr.FAILED
    for text in must_say:
        assert text in body["Reason"]
    for text in must_not_say:
        assert text not in body["Reason"]
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert set(body["Data"]) == EXPECTED_DATA_KEYS


def test_throttling_and_server_errors_are_retried_then_success(lv, recorder) -> None:
    expect_error(lv, "ThrottlingException", 429, "Rate exceeded")
    expect_error(lv, "InternalServerException", 500, "Internal failure")
    expect_error(lv, "ServiceUnavailableException", 503, "Unavailable")
    expect_describe(lv, description("RUNNING"))
    expect_error(lv, "ThrottlingException", 429, "Rate exceeded")
    expect_describe(lv, description("SUCCEEDED"))
    body = run(recorder, event_for(recorder))
    lv.stubber.assert_no_pending_responses()
    assert len(lv.calls) == 6
    assert body["Status"] == cr.SUCCESS
    assert body["Data"]["ComponentVersionArn"] == COMPONENT_ARN


def test_connection_errors_are_retried_then_success(lv, recorder) -> None:
    failures = {"left": 2}

    def flaky(**_: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise EndpointConnectionError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com")

    lv.hook(flaky)
    expect_describe(lv, description("SUCCEEDED"))
    body = run(recorder, event_for(recorder))
    lv.stubber.assert_no_pending_responses()
    assert failures["left"] == 0
    assert len(lv.calls) == 3
    assert body["Status"] == cr.SUCCESS


def test_a_credential_error_fails_once_saying_what_to_fix(lv, recorder) -> None:
    # Which code means which fix is packaging_job's (tests/test_wait_logic.py); here: one call, one clean answer.
    code, fix = "ExpiredTokenException", "refresh them"
    expect_error(lv, code, 403, "The security token included in the request is expired")
    body = run(recorder, event_for(recorder))
    lv.stubber.assert_no_pending_responses()
    assert len(lv.calls) == 1, "a credential error must not be retried"
    assert body["Status"] == cr.FAILED
    assert fix in body["Reason"] and code in body["Reason"]
    assert "grant" not in body["Reason"] and "naming rules" not in body["Reason"]


def test_an_endpoint_that_does_not_resolve_fails_at_once_naming_region_and_endpoint(recorder, monkeypatch) -> None:
    # No Stubber: the product's own client really resolves the name, and .invalid never resolves (RFC 6761).
    endpoint = "https://lookoutvision.eu-west-9.amazonaws.invalid"
    handler = index.make_handler(lookoutvision=index.make_lookoutvision_client(endpoint_url=endpoint))
    started = time.monotonic()
    body = run(recorder, event_for(recorder), FakeContext(timeout_s=120), handler)
    assert time.monotonic() - started < 10, "a name that does not resolve must not be retried"
    assert body["Status"] == cr.FAILED
    assert f"{endpoint} for Region {index.REGION}" in body["Reason"]
    assert "Check the Region the stack deploys to" in body["Reason"]


# --- 5. no Greengrass output ---------------------------------------------------------------------------------------


def test_succeeded_without_output_details_fails(lv, recorder) -> None:
    expect_describe(lv, description("SUCCEEDED", with_output=False))
    body = run(recorder, event_for(recorder))
    assert body["Status"] == cr.FAILED
    assert "pcb/pcb-v3-x86" in body["Reason"]
    assert "no Greengrass output" in body["Reason"]
    assert body["Data"]["ComponentVersionArn"] == ""


# --- 6. expected component name ------------------------------------------------------------------------------------


def test_expected_component_name_mismatch_fails(lv, recorder) -> None:
    expect_describe(lv, description("SUCCEEDED", component_name="com.example.other"))
    event = event_for(recorder, props=properties(ExpectedComponentName="com.example.pcb-defects"))
    body = run(recorder, event)
    assert body["Status"] == cr.FAILED
    assert "'com.example.other'" in body["Reason"]
    assert "'com.example.pcb-defects'" in body["Reason"]


def test_expected_component_name_match_succeeds(lv, recorder) -> None:
    expect_describe(lv, description("SUCCEEDED"))
    event = event_for(recorder, props=properties(ExpectedComponentName="com.example.pcb-defects"))
    body = run(recorder, event)
    assert body["Status"] == cr.SUCCESS
    assert body["Data"]["ComponentName"] == "com.example.pcb-defects"


# --- 7. WaitForCompletion false ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["RUNNING", "CREATED", "FAILED"])
@pytest.mark.parametrize("flag", ["false", False])
def test_no_wait_answers_success_at_once_with_the_current_status(lv, recorder, status: str, flag: object) -> None:
    expect_describe(lv, description(status, status_message="broken" if status == "FAILED" else None))
    body = run(recorder, event_for(recorder, props=properties(WaitForCompletion=flag)))
    lv.stubber.assert_no_pending_responses()
    assert len(lv.calls) == 1
    assert body["Status"] == cr.SUCCESS
    assert body["Data"]["Status"] == status
    assert set(body["Data"]) == EXPECTED_DATA_KEYS
    assert body["PhysicalResourceId"] == PHYSICAL_ID


# --- 8. Delete -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "physical_id", ["pcb/pcb-v3-x86", "LogicalId-abc12345", "ModelPackagingJob21DA863A-3f2a1b9c", "whatever"]
)
def test_delete_succeeds_with_the_same_id_and_no_api_call(lv, lambda_api, recorder, physical_id: str) -> None:
    event = event_for(recorder, "Delete", physical_id=physical_id)
    started = time.monotonic()
    body = run(recorder, event)
    assert time.monotonic() - started < 5
    assert lv.calls == []
    assert lambda_api.invokes == []
    assert body["Status"] == cr.SUCCESS
    assert body["PhysicalResourceId"] == physical_id


def test_delete_after_a_create_with_invalid_properties_succeeds(lv, recorder) -> None:
    event = event_for(
        recorder, "Delete", physical_id="ModelPackagingJob21DA863A-9d1c2b3a", props=properties(project="bad name!")
    )
    body = run(recorder, event)
    assert lv.calls == []
    assert body["Status"] == cr.SUCCESS
    assert body["PhysicalResourceId"] == "ModelPackagingJob21DA863A-9d1c2b3a"


def test_rollback_delete_after_a_failed_create_succeeds(lv, recorder) -> None:
    expect_describe(lv, description("FAILED", status_message="bad"))
    create = run(recorder, event_for(recorder))
    assert create["Status"] == cr.FAILED
    with Recorder() as second:
        delete = run(second, event_for(second, "Delete", physical_id=create["PhysicalResourceId"]))
    assert delete["Status"] == cr.SUCCESS
    assert delete["PhysicalResourceId"] == create["PhysicalResourceId"]
    assert len(lv.calls) == 1


# --- 9. PhysicalResourceId on Update -------------------------------------------------------------------------------


def test_update_to_another_job_answers_the_new_physical_id(lv, recorder) -> None:
    expect_describe(lv, description("SUCCEEDED", job="pcb-v4-x86"), job="pcb-v4-x86")
    event = event_for(
        recorder,
        "Update",
        props=properties(job="pcb-v4-x86"),
        old_props=properties(job=JOB),
        physical_id=PHYSICAL_ID,
    )
    body = run(recorder, event)
    lv.stubber.assert_no_pending_responses()
    assert body["Status"] == cr.SUCCESS
    assert body["PhysicalResourceId"] == "pcb/pcb-v4-x86"
    assert body["Data"]["JobName"] == "pcb-v4-x86"


def test_rollback_update_returns_to_the_old_job(lv, recorder) -> None:
    expect_describe(lv, description("SUCCEEDED"))
    event = event_for(
        recorder,
        "Update",
        props=properties(job=JOB),
        old_props=properties(job="pcb-v4-x86"),
        physical_id="pcb/pcb-v4-x86",
    )
    body = run(recorder, event)
    lv.stubber.assert_no_pending_responses()
    assert body["Status"] == cr.SUCCESS
    assert body["PhysicalResourceId"] == PHYSICAL_ID


def test_failed_update_keeps_the_old_physical_id(lv, recorder) -> None:
    expect_describe(lv, description("FAILED", job="pcb-v4-x86", status_message="bad"), job="pcb-v4-x86")
    event = event_for(
        recorder, "Update", props=properties(job="pcb-v4-x86"), old_props=properties(), physical_id=PHYSICAL_ID
    )
    body = run(recorder, event)
    assert body["Status"] == cr.FAILED
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert body["Reason"] == "Model packaging job pcb/pcb-v4-x86 FAILED: bad"


def test_update_with_invalid_properties_keeps_the_old_physical_id(lv, recorder) -> None:
    event = event_for(
        recorder, "Update", props=properties(job="pcb_v4"), old_props=properties(), physical_id=PHYSICAL_ID
    )
    body = run(recorder, event)
    assert lv.calls == []
    assert body["Status"] == cr.FAILED
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert "'pcb_v4'" in body["Reason"]


# --- invalid properties --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "shown"),
    [
        (properties(project="bad name!"), "'bad name!'"),
        (properties(job="job_with_underscore"), "'job_with_underscore'"),
        (properties(Colour="blue"), "'Colour'"),
        (properties(WaitTimeoutSeconds="30"), "30"),
        (properties(WaitForCompletion="maybe"), "'maybe'"),
        (properties(ExpectedComponentName="has space"), "'has space'"),
    ],
)
def test_invalid_properties_fail_showing_the_value(lv, recorder, props: dict[str, Any], shown: str) -> None:
    body = run(recorder, event_for(recorder, props=props))
    assert lv.calls == []
    assert body["Status"] == cr.FAILED
    assert body["Reason"].startswith("Invalid properties: ")
    assert shown in body["Reason"]
    assert set(body["Data"]) == EXPECTED_DATA_KEYS


# --- 11. exactly one answer, whatever fails ------------------------------------------------------------------------


def test_a_bug_in_the_gate_answers_one_clean_failed(lv, recorder, log_lines, monkeypatch) -> None:
    event = event_for(recorder)

    def broken(*_args: Any) -> Any:
        raise RuntimeError(f"bug while answering {event['ResponseURL']}")

    monkeypatch.setattr(cr, "wait_state", broken)
    body = run(recorder, event)
    assert body["Status"] == cr.FAILED
    assert "Internal error" in body["Reason"]
    assert "RuntimeError" in body["Reason"]
    assert "X-Amz-Signature" not in body["Reason"]
    lines = log_lines()
    assert any("RuntimeError" in line for line in lines), "the traceback belongs in the log"
    assert_clean_logs(lines, recorder)


def test_a_bug_in_decide_answers_one_clean_failed(lv, recorder, monkeypatch) -> None:
    expect_describe(lv, description("SUCCEEDED"))

    def broken(*args: Any, **kwargs: Any) -> cr.Decision:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cr, "decide", broken)
    body = run(recorder, event_for(recorder))
    assert body["Status"] == cr.FAILED
    assert "Internal error" in body["Reason"]
    assert body["PhysicalResourceId"] == PHYSICAL_ID


def test_a_bug_in_describe_answers_one_failed_without_traceback(lv, recorder, monkeypatch) -> None:
    def broken(client: Any, project_name: str, job_name: str, timeout_s: float | None = None) -> dict[str, Any]:
        raise RuntimeError("unexpected shape")

    monkeypatch.setattr(pj, "describe", broken)
    body = run(recorder, event_for(recorder))
    assert body["Status"] == cr.FAILED
    assert "RuntimeError" in body["Reason"]
    assert 'File "' not in body["Reason"]


def test_the_answer_is_retried_when_cloudformation_hiccups(lv) -> None:
    expect_describe(lv, description("SUCCEEDED"))
    with Recorder(fail_first=2) as flaky:
        event = event_for(flaky)
        body = run(flaky, event)
        assert flaky.attempts == 3
    assert body["Status"] == cr.SUCCESS


# --- bad events ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["missing", None, 42])
def test_event_without_a_usable_response_url_is_dropped_quietly(lv, recorder, url: object) -> None:
    event = event_for(recorder)
    if url == "missing":
        del event["ResponseURL"]
    else:
        event["ResponseURL"] = url
    assert HANDLER(event, FakeContext()) is None
    assert lv.calls == []
    assert recorder.attempts == 0


def test_unknown_request_type_answers_one_failed(lv, recorder, log_lines) -> None:
    event = event_for(recorder, "Replace")
    body = run(recorder, event)
    assert lv.calls == []
    assert body["Status"] == cr.FAILED
    assert "RequestType" in body["Reason"]
    assert "'Replace'" in body["Reason"]
    assert_clean_logs(log_lines(), recorder)


def test_event_without_stack_id_answers_one_failed(lv, recorder) -> None:
    event = event_for(recorder)
    del event["StackId"]
    HANDLER(event, FakeContext())
    body = recorder.only
    assert len(recorder.raw[0]) <= cr.MAX_RESPONSE_BYTES
    assert body["Status"] == cr.FAILED
    assert "StackId" in body["Reason"]
    assert lv.calls == []


@pytest.mark.parametrize("event", [None, "Create", ["Create"], 17])
def test_non_object_events_do_not_raise(lv, event: object) -> None:
    assert HANDLER(event, FakeContext()) is None
    assert lv.calls == []
