"""The handler in process (``index.make_handler``) over real HTTP: the product's own Lookout for Vision client calls a
loopback API (real botocore serialization, SigV4 signing and error parsing, one attempt per call), and the answer goes
through the crhelper adapter and its sender to a loopback ResponseURL that records every PUT.

The wait runs on a virtual clock (``support.VirtualClock``, from the wall clock's now), so polls and backoff take no
time while each call, the Lambda deadline and the crhelper timer stay real. The Lambda client that hands a wait on is
a double here; ``tests/unit/test_handoff.py`` checks the Invoke itself against the Lambda service model. What each
reason says is the unit tests' (tests/unit, one file per module); this suite checks what only the whole
handler can get wrong: the wire, exactly one answer, and the logs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError
from support import (
    COMPONENT_ARN,
    EXPECTED_DATA_KEYS,
    FUNCTION_ARN,
    FakeContext,
    FakeGreengrass,
    FakeLookoutVision,
    ResponseRecorder,
    VirtualClock,
    answered_with,
    client_error,
    component_arn,
    description,
    error,
    make_event,
    malformed,
    ok,
    packaged,
    properties,
    reset,
    slow,
)

from model_packaging_job import configuration, continuation, contract, index, lifecycle, outbound, response
from model_packaging_job import job as jobs

PROJECT, JOB = "pcb", "pcb-v3-x86"
PHYSICAL_ID = f"{PROJECT}/{JOB}"
# An invocation of 70 s hands a wait on 10 s in, on the virtual clock: after two to five looks, at once in real time.
HANDS_ON_AFTER_TEN_SECONDS_S = 70.0


# --- doubles and helpers -------------------------------------------------------------------------------------------


class FakeLambda:
    """The Lambda client the handler hands a wait on with: records each Invoke, runs ``during`` inside it, and
    accepts it or refuses it as AccessDenied."""

    def __init__(self, refuse: bool = False, during: Callable[[], None] | None = None) -> None:
        self.refuse, self.during = refuse, during
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations.append(kwargs)
        if self.during is not None:
            self.during()
        if self.refuse:
            body = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
            raise ClientError({**body, "ResponseMetadata": {"HTTPStatusCode": 403}}, "Invoke")
        return {"StatusCode": 202}


class Gate:
    """One handler made by the product's factory, its virtual clock and its Lambda double."""

    def __init__(
        self, lookoutvision: Any, lam: FakeLambda | None = None, clock: outbound.Clock | None = None, **kwargs: Any
    ) -> None:
        self.vclock = VirtualClock(time.time())
        self.lam = lam or FakeLambda()
        kwargs.setdefault("environ", {})
        self.handler = index.make_handler(
            lookoutvision=lookoutvision, lambda_client=self.lam, clock=clock or self.vclock.clock(), **kwargs
        )

    def __call__(self, event: Any, timeout_s: float = 900.0, limit_s: float = 20.0) -> float:
        """Invoke the handler in a thread, so that a hang fails the test; return how long it ran."""
        started = time.monotonic()
        worker = threading.Thread(target=self.handler, args=(event, FakeContext(timeout_s)), daemon=True)
        worker.start()
        worker.join(limit_s)
        assert not worker.is_alive(), f"the handler was still running after {limit_s} s"
        return time.monotonic() - started


@pytest.fixture(scope="module")
def api_server() -> Iterator[FakeLookoutVision]:
    with FakeLookoutVision() as fake:
        yield fake


@pytest.fixture(scope="module")
def client(api_server: FakeLookoutVision) -> Any:
    """The product's own Lookout for Vision client, pointed at the loopback API."""
    return index.make_lookoutvision_client(endpoint_url=api_server.url)


@pytest.fixture
def api(api_server: FakeLookoutVision) -> FakeLookoutVision:
    """The loopback API with no jobs and no requests yet."""
    for state in (api_server.scripts, api_server.projects, api_server.requests):
        state.clear()
    return api_server


@pytest.fixture
def recorder() -> Iterator[ResponseRecorder]:
    with ResponseRecorder() as rec:
        yield rec


@pytest.fixture
def gate(api: FakeLookoutVision, client: Any) -> Gate:
    return Gate(client)


def event_for(recorder: ResponseRecorder, request_type: str = "Create", **kwargs: Any) -> dict[str, Any]:
    return make_event(request_type, response_url=recorder.url, **kwargs)


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


def test_a_failed_job_answers_failed_with_its_status_message(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    message = "Greengrass component com.example.pcb-defects could not be created:\nS3 bucket pcb-models not found"
    api.script(PROJECT, JOB, [ok(description("RUNNING")), ok(description("FAILED", status_message=message))])

    gate(event_for(recorder))

    body = recorder.only
    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", PHYSICAL_ID)
    assert body["Reason"] == jobs.failed_reason(PROJECT, JOB, message)
    assert (body["Data"]["Status"], body["Data"]["StatusMessage"]) == ("FAILED", message)
    assert api.calls() == 2


MAX_PROJECT = ("Pcb_defect-line" * 20)[:255]
MAX_JOB = ("X86-v3-" * 10)[:64]
MAX_COMPONENT = ("com.example.pcb-defects." * 6)[:128]


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED"])
def test_maximal_names_reach_the_api_intact_and_a_huge_status_message_still_fits_the_answer(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, status: str
) -> None:
    message = "\U0001f600\n\t<>&" * 20_000
    job = description(status, project=MAX_PROJECT, job=MAX_JOB, status_message=message, component_name=MAX_COMPONENT)
    api.script(MAX_PROJECT, MAX_JOB, [ok(job)])

    gate(event_for(recorder, props=properties(MAX_PROJECT, MAX_JOB)))

    assert api.requests[0]["path"] == f"/2020-11-20/projects/{MAX_PROJECT}/modelpackagingjobs/{MAX_JOB}"
    assert len(recorder.raw[0]) <= response.MAX_RESPONSE_BYTES
    body = recorder.only
    assert body["Status"] == ("SUCCESS" if status == "SUCCEEDED" else "FAILED"), body["Reason"]
    assert body["PhysicalResourceId"] == f"{MAX_PROJECT}/{MAX_JOB}"
    assert (body["Data"]["ProjectName"], body["Data"]["JobName"]) == (MAX_PROJECT, MAX_JOB)
    assert body["Data"]["ComponentName"] == (MAX_COMPONENT if status == "SUCCEEDED" else "")
    assert message.startswith(body["Data"]["StatusMessage"].removesuffix(" ...(truncated)")[:100])


@pytest.mark.parametrize(
    "failure",
    [
        error(429, "ThrottlingException", "Rate exceeded"),
        error(500, "InternalServerException", "Internal error"),
        error(503, "ServiceUnavailableException", "Service unavailable"),
        error(502, "", "Bad Gateway"),
        reset(),
        # A 200 whose JSON is cut short: botocore returns a response without a ModelPackagingDescription.
        malformed(),
    ],
    ids=["429", "500", "503", "502-no-code", "connection-reset", "malformed-json"],
)
def test_a_transient_failure_on_the_wire_is_retried_by_the_wait_not_by_botocore(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, failure: Any
) -> None:
    api.script(PROJECT, JOB, [failure, ok(description())])

    gate(event_for(recorder))

    assert recorder.only["Status"] == "SUCCESS", recorder.only["Reason"]
    assert api.calls() == 2, "one attempt per call: the wait retries, with its own backoff"
    assert len(gate.vclock.sleeps) == 1


def test_a_retry_after_header_sets_the_pause_before_the_retry(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    api.script(PROJECT, JOB, [error(429, "ThrottlingException", headers={"Retry-After": "20"}), ok(description())])

    gate(event_for(recorder))

    assert recorder.only["Status"] == "SUCCESS"
    assert gate.vclock.sleeps == [20.0]


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

    assert recorder.only["Status"] == "SUCCESS", recorder.only["Reason"]
    first, second = (r["at"] for r in api.requests)
    assert 1.0 <= second - first < 2.5, "the client gives up on the call after its read timeout"


NOT_FOUND = "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("project", "job", "expected"),
    [
        (PROJECT, JOB, client_error("AccessDeniedException", 403, "not authorized to perform: lookoutvision:Describe")),
        ("ghost-project", JOB, client_error(NOT_FOUND, 404, "Project ghost-project not found", ResourceType="PROJECT")),
        (
            PROJECT,
            "ghost-job",
            client_error(NOT_FOUND, 404, "Job ghost-job not found", ResourceType="MODEL_PACKAGE_JOB"),
        ),
        (PROJECT, JOB, client_error("ValidationException", 400, "1 validation error detected: Value at 'jobName'")),
    ],
    ids=["access-denied", "no-project", "no-job", "validation"],
)
def test_a_final_error_on_the_wire_reaches_its_classification_intact_and_is_answered_after_one_call(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, project: str, job: str, expected: ClientError
) -> None:
    # The loopback API answers unknown projects and jobs 404 with their ResourceType, like the service.
    api.script(PROJECT, "another-job", [ok(description(job="another-job"))])
    if expected.response["Error"]["Code"] != NOT_FOUND:
        api.script(project, job, [answered_with(expected)])

    gate(event_for(recorder, props=properties(project, job)))

    body = recorder.only
    assert body["Status"] == "FAILED"
    call = jobs.describe_call(project, job, index.REGION)
    assert body["Reason"] == jobs.explain(outbound.classify(expected, call), call, project, job).message
    # Every attribute, empty but for the names: the job was never described.
    assert body["Data"] == {**dict.fromkeys(EXPECTED_DATA_KEYS, ""), "ProjectName": project, "JobName": job}
    assert api.calls() == 1
    assert gate.vclock.sleeps == []


def test_an_endpoint_that_does_not_resolve_fails_at_once_naming_the_function_s_region(
    recorder: ResponseRecorder,
) -> None:
    # .invalid never resolves (RFC 6761): like the endpoint of a Region without Lookout for Vision.
    endpoint = "https://lookoutvision.eu-west-9.amazonaws.invalid"
    gate = Gate(index.make_lookoutvision_client(endpoint_url=endpoint))

    gate(event_for(recorder), timeout_s=120)

    assert recorder.only["Status"] == "FAILED"
    assert f"{endpoint} for Region {index.REGION}:" in recorder.only["Reason"]
    assert gate.vclock.sleeps == []


def test_the_function_s_environment_reaches_the_wait(
    api: FakeLookoutVision, client: Any, recorder: ResponseRecorder
) -> None:
    # 100 jobs sharing 4 requests per second, as the construct configures the function: each first look is spread
    # over one share of 25 s.
    environ = {"DESCRIBE_BUDGET_RPS": "4", "DESCRIBE_BUDGET_JOBS": "100"}
    gate = Gate(client, environ=environ)
    api.script(PROJECT, JOB, [ok(description())])

    gate(event_for(recorder))

    assert recorder.only["Status"] == "SUCCESS"
    [stagger] = gate.vclock.sleeps
    assert 0 < stagger <= 25.0


# --- Delete --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("physical_id", "props"),
    [
        (PHYSICAL_ID, properties()),
        # What a Create with invalid properties answered: its Delete (a rollback) must succeed too.
        ("ModelPackagingJob21DA863A-9d1c2b3a", properties(project="bad name!")),
    ],
)
def test_delete_succeeds_with_the_same_id_and_no_call(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, physical_id: str, props: dict[str, Any]
) -> None:
    gate(event_for(recorder, "Delete", physical_id=physical_id, props=props))

    body = recorder.only
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", physical_id)
    assert api.calls() == 0 and gate.lam.invocations == []


# --- exactly one answer, whatever fails ----------------------------------------------------------------------------


@pytest.mark.wall_clock
def test_a_response_url_that_fails_twice_is_retried_and_answered_once(gate: Gate, api: FakeLookoutVision) -> None:
    api.script(PROJECT, JOB, [ok(description())])
    with ResponseRecorder(fail_first=2) as flaky:
        gate(event_for(flaky))

    assert flaky.attempts == 3
    assert flaky.only["Status"] == "SUCCESS"


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
    captured.assert_clean(dead)


def test_a_bug_of_ours_answers_one_clean_failed_and_logs_the_traceback_without_the_url(
    client: Any, recorder: ResponseRecorder, captured: Capture
) -> None:
    event = event_for(recorder)

    def broken() -> float:
        raise RuntimeError(f"bug while answering {event['ResponseURL']}")

    Gate(client, clock=outbound.Clock(now=broken))(event)

    body = recorder.only
    assert body["Status"] == "FAILED"
    assert body["Reason"] == lifecycle.internal_error_reason(RuntimeError(), FakeContext().log_stream_name)
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert any("Traceback" in line and "RuntimeError: bug while answering" in line for line in captured.lines)
    captured.assert_clean(recorder)


@pytest.mark.wall_clock
def test_the_timer_answers_when_a_describe_outlives_the_invocation(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # A 4.6 s invocation: the timer fires at 0.6 s, while the 1.5 s Describe is still in flight; the handler's own
    # answer, when the call returns, is not sent.
    api.script(PROJECT, JOB, [slow(1.5, ok(description("RUNNING")))])

    elapsed = gate(event_for(recorder), timeout_s=4.6)
    time.sleep(0.3)

    assert elapsed < 4.6
    assert recorder.attempts == 1
    assert recorder.only["Reason"] == "The handler ran out of time before it could answer; see the function's log"


def test_when_the_timer_answered_first_the_wait_is_not_handed_on(
    api: FakeLookoutVision, client: Any, recorder: ResponseRecorder
) -> None:
    gate = Gate(client)
    # The timer fires while a Describe call is in flight (its thread runs beside the handler's).
    sending = "before-send.lookoutvision.DescribeModelPackagingJob"
    client.meta.events.register(sending, lambda **_: gate.handler._timeout(), unique_id="test-timer")
    api.script(PROJECT, JOB, [ok(description("RUNNING"))])
    try:
        gate(event_for(recorder), timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)
    finally:
        client.meta.events.unregister(sending, unique_id="test-timer")

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

    assert len(lam.invocations) == 1
    assert recorder.attempts == 1
    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "lambda:InvokeFunction" in body["Reason"] and "ran out of time" not in body["Reason"]
    assert body["Data"]["Status"] == "RUNNING"


def test_a_hand_off_and_its_continuation_answer_exactly_once_overall(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # More RUNNING looks than the first invocation takes before its hand-off point.
    api.script(PROJECT, JOB, [*[ok(description("RUNNING"))] * 6, ok(description())])
    event = event_for(recorder)

    gate(event, timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)

    assert recorder.attempts == 0
    [call] = gate.lam.invocations
    assert (call["FunctionName"], call["InvocationType"]) == (FUNCTION_ARN, "Event")
    payload = json.loads(call["Payload"])
    state = payload.pop(continuation.CONTINUATION_KEY)
    assert payload == event
    assert state["Invocation"] == 2

    # The same warm container runs the continuation: the hand-off's claim does not outlive its request.
    gate(json.loads(call["Payload"]))

    body = recorder.only
    assert body["Status"] == "SUCCESS"
    assert body["RequestId"] == event["RequestId"]
    assert api.calls() == 7


# --- events crhelper cannot handle ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["missing", None, 42])
def test_an_event_without_a_usable_response_url_is_dropped(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, url: object
) -> None:
    event = event_for(recorder)
    if url == "missing":
        del event["ResponseURL"]
    else:
        event["ResponseURL"] = url

    gate(event)

    assert (api.calls(), recorder.attempts) == (0, 0)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"RequestType": "Replace"},
            "Bad request: unsupported RequestType 'Replace'; expected Create, Update or Delete",
        ),
        ({"StackId": None}, "Bad request: the event has no StackId"),
    ],
)
def test_an_event_crhelper_cannot_parse_is_answered_failed_saying_why(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, change: dict[str, Any], reason: str
) -> None:
    event = {k: v for k, v in {**event_for(recorder), **change}.items() if v is not None}

    gate(event)

    assert len(recorder.raw[0]) <= response.MAX_RESPONSE_BYTES
    assert (recorder.only["Status"], recorder.only["Reason"]) == ("FAILED", reason)
    assert api.calls() == 0


@pytest.mark.parametrize("event", [None, "Create", ["Create"], 17])
def test_an_event_that_is_not_an_object_is_dropped(gate: Gate, api: FakeLookoutVision, event: object) -> None:
    gate(event)

    assert api.calls() == 0


# --- logs ----------------------------------------------------------------------------------------------------------


class Capture(logging.Handler):
    """Keeps every record's message and its formatted line (crhelper replaces the formatter of root handlers)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.formatted: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.formatted.append(self.format(record))
        self.lines.append(self.formatted[-1])

    def assert_clean(self, *recorders: ResponseRecorder) -> None:
        """No line carries a ResponseURL, its path, or the signing parameters of a presigned URL."""
        assert self.lines, "the capturing handler saw no log records"
        signature = urlsplit(recorders[0].url).query.rsplit("X-Amz-Signature=", 1)[1]
        for line in self.lines:
            assert "X-Amz-Signature" not in line and "X-Amz-Credential" not in line, line
            assert signature not in line, line
            for recorder in recorders:
                assert urlsplit(recorder.url).path not in line, line


@pytest.fixture
def captured() -> Iterator[Capture]:
    root = logging.getLogger()
    level, handler = root.level, Capture()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
def test_no_log_line_carries_the_response_url_and_every_line_is_json(
    api: FakeLookoutVision, client: Any, recorder: ResponseRecorder, captured: Capture, log_level: str
) -> None:
    gate = Gate(client, FakeLambda(), environ={"LOG_LEVEL": log_level})
    refusing = Gate(client, FakeLambda(refuse=True), environ={"LOG_LEVEL": log_level})
    api.script(PROJECT, JOB, [ok(description())])
    api.script(PROJECT, "failed-job", [ok(description("FAILED", job="failed-job", status_message="boom"))])
    api.script(PROJECT, "running-job", [ok(description("RUNNING", job="running-job"))])
    running = properties(job="running-job")

    gate(event_for(recorder))
    gate(event_for(recorder, props=properties(job="failed-job")))
    gate(event_for(recorder, props=running), timeout_s=10)  # too short to wait in
    gate(event_for(recorder, props=running), timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)  # handed on
    refusing(event_for(recorder, props=running), timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)
    gate(event_for(recorder, props=properties(job="bad name!")))
    gate({k: v for k, v in event_for(recorder).items() if k != "StackId"})

    assert len(recorder.bodies) == 6
    if log_level == "DEBUG":
        # crhelper logs the whole event at DEBUG: the check below only means something if that line was captured.
        assert any("ResponseURL" in line for line in captured.lines)
    else:
        assert logging.getLogger().level == logging.INFO
    captured.assert_clean(recorder)
    for line in captured.formatted:
        assert json.loads(line)["level"] in {log_level, "INFO", "WARNING", "ERROR"}, line


# --- starting the job from the stack, and passing only a deployable component -------------------------------------

COMPONENT = "com.example.pcb-defects"
STARTED_JOB = contract.default_job_name(COMPONENT, "3.0.0")
STARTED_ARN = component_arn(COMPONENT, "3.0.0")
GREENGRASS = {
    "ComponentName": COMPONENT,
    "ComponentVersion": "3.0.0",
    "TargetDevice": "jetson_xavier",
    "S3OutputLocation": {"Bucket": "pcb-lookoutvision-models", "Prefix": "lookoutvision/pcb/"},
}


def packaging_props(**greengrass: Any) -> dict[str, Any]:
    """ResourceProperties of a resource that starts its job, as CloudFormation sends them."""
    config = {**GREENGRASS, **greengrass}
    return properties(job=STARTED_JOB, Packaging={"ModelVersion": "3", "Configuration": {"Greengrass": config}})


def start_request(**greengrass: Any) -> dict[str, Any]:
    """The StartModelPackagingJob body a job started with ``packaging_props`` has."""
    return {
        "ProjectName": PROJECT,
        "JobName": STARTED_JOB,
        "ModelVersion": "3",
        "Configuration": {"Greengrass": {**GREENGRASS, **greengrass}},
    }


@pytest.fixture(scope="module")
def greengrass_server() -> Iterator[FakeGreengrass]:
    with FakeGreengrass() as fake:
        yield fake


@pytest.fixture
def gg(greengrass_server: FakeGreengrass) -> FakeGreengrass:
    greengrass_server.scripts.clear()
    greengrass_server.requests.clear()
    return greengrass_server


@pytest.fixture
def starting(api: FakeLookoutVision, client: Any, gg: FakeGreengrass) -> Gate:
    """A gate whose Greengrass client is the product's own, pointed at the loopback Greengrass."""
    for state in (api.starts, api.started, api.refusals):
        state.clear()
    api.projects.add(PROJECT)  # the project exists; its job does not, until it is started
    api.after_start = lambda request: [ok(packaged(request, "CREATED")), ok(packaged(request))]
    return Gate(client, greengrass=index.make_greengrass_client(endpoint_url=gg.url))


def test_a_missing_job_is_started_once_then_awaited_until_greengrass_can_deploy_it(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    gg.script(STARTED_ARN, ["REQUESTED", "INITIATED", "DEPLOYABLE"])
    starting(event_for(recorder, props=packaging_props()))

    [start] = api.starts
    assert start["body"] == start_request()
    assert start["token"] == configuration.parse(packaging_props()["Packaging"]).client_token(PROJECT, STARTED_JOB)
    body = recorder.only
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", f"{PROJECT}/{STARTED_JOB}")
    assert body["Data"]["ComponentVersionArn"] == STARTED_ARN
    # One Describe that found nothing, then CREATED and SUCCEEDED; Greengrass until DEPLOYABLE.
    assert api.calls(PROJECT, STARTED_JOB) == 3 and gg.calls(STARTED_ARN) == 3
    assert gg.requests[0]["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/us-east-1/greengrass/aws4_request" in gg.requests[0]["headers"]["Authorization"]


def test_a_job_of_that_name_with_the_same_configuration_is_adopted_without_a_start(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    api.script(PROJECT, STARTED_JOB, [ok(packaged(start_request()))])
    gg.script(STARTED_ARN, ["DEPLOYABLE"])
    starting(event_for(recorder, props=packaging_props()))
    assert api.starts == []
    assert recorder.only["Status"] == "SUCCESS"


def test_a_job_of_that_name_with_another_configuration_fails_naming_the_difference(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    api.script(
        PROJECT,
        STARTED_JOB,
        [ok(packaged(start_request(TargetDevice=None, TargetPlatform={"Os": "LINUX", "Arch": "ARM64"})))],
    )
    starting(event_for(recorder, props=packaging_props()))
    body = recorder.only
    assert api.starts == [] and gg.requests == []
    assert body["Status"] == "FAILED" and body["PhysicalResourceId"] == f"{PROJECT}/{STARTED_JOB}"
    assert "TargetDevice is none, this configuration asks for jetson_xavier" in body["Reason"]
    assert "A packaging job cannot change" in body["Reason"]


def test_a_start_the_service_refuses_fails_with_one_line_and_waits_for_nothing(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    api.refusals.append(error(402, "ServiceQuotaExceededException", "Too many packaging jobs", QuotaCode="L-1"))
    starting(event_for(recorder, props=packaging_props()))
    body = recorder.only
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(f"Could not start model packaging job {PROJECT}/{STARTED_JOB}: ")
    assert len(api.starts) == 1 and api.calls(PROJECT, STARTED_JOB) == 1


def test_the_same_create_delivered_twice_starts_one_job_and_both_answer_success(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder, client: Any
) -> None:
    gg.script(STARTED_ARN, ["DEPLOYABLE"])
    event = event_for(recorder, props=packaging_props())
    # Two containers, as Lambda runs two deliveries at once.
    other = Gate(client, greengrass=index.make_greengrass_client(endpoint_url=gg.url))
    first = threading.Thread(target=other, args=(json.loads(json.dumps(event)),))
    first.start()
    starting(json.loads(json.dumps(event)))
    first.join(30)
    assert len(api.started) == 1, "one job, whichever delivery started it"
    assert {s["token"] for s in api.starts} <= {next(iter(api.started.values()))}
    assert [b["Status"] for b in recorder.bodies] == ["SUCCESS", "SUCCESS"]


def test_a_continuation_waits_for_the_job_it_started_and_starts_nothing(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    api.after_start = lambda request: [*[ok(packaged(request, "RUNNING"))] * 6, ok(packaged(request))]
    gg.script(STARTED_ARN, ["DEPLOYABLE"])
    starting(event_for(recorder, props=packaging_props()), timeout_s=HANDS_ON_AFTER_TEN_SECONDS_S)
    [call] = starting.lam.invocations
    starting(json.loads(call["Payload"]))
    assert len(api.starts) == 1
    assert recorder.only["Status"] == "SUCCESS"


@pytest.mark.parametrize("state", ["FAILED", "DEPRECATED"])
def test_a_component_greengrass_cannot_deploy_fails_the_gate_with_its_own_message(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder, state: str
) -> None:
    gg.script(STARTED_ARN, ["REQUESTED", f"{state}:artifact checksum mismatch"])
    starting(event_for(recorder, props=packaging_props()))
    body = recorder.only
    assert body["Status"] == "FAILED"
    assert f"{STARTED_ARN} is {state} and cannot be deployed: artifact checksum mismatch" in body["Reason"]
    assert body["Data"]["Status"] == "SUCCEEDED"


def test_a_watched_job_with_an_expected_component_passes_only_once_it_is_deployable(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    api.script(PROJECT, JOB, [ok(description())])
    gg.script(COMPONENT_ARN, [error(404, "ResourceNotFoundException", "not yet"), "REQUESTED", "DEPLOYABLE"])
    starting(event_for(recorder, props=properties(ExpectedComponentName=COMPONENT)))
    assert recorder.only["Status"] == "SUCCESS"
    assert (api.calls(), gg.calls(COMPONENT_ARN)) == (1, 3)


def test_a_component_still_not_deployable_at_the_wait_timeout_fails_saying_so(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    api.script(PROJECT, JOB, [ok(description())])
    gg.script(COMPONENT_ARN, ["REQUESTED"])
    starting(event_for(recorder, props=properties(ExpectedComponentName=COMPONENT, WaitTimeoutSeconds="60")))
    body = recorder.only
    assert body["Status"] == "FAILED"
    assert f"after 1.0 minutes waiting for Greengrass component {COMPONENT_ARN}" in body["Reason"]
    assert "last state REQUESTED" in body["Reason"]


def test_delete_of_a_started_job_calls_nothing(
    starting: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    starting(event_for(recorder, "Delete", props=packaging_props(), physical_id=f"{PROJECT}/{STARTED_JOB}"))
    assert recorder.only["Status"] == "SUCCESS"
    assert (api.requests, api.starts, gg.requests) == ([], [], [])
