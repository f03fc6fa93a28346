"""index.handler against a loopback Lookout for Vision API over real HTTP.

Every test builds the client with the handler's own factory (``index.make_lookoutvision_client``), so requests go
through real botocore serialization, SigV4 signing, error parsing and the client's retry configuration, and answers
go to a loopback ResponseURL through the handler's real sender. Waits are made fast by shrinking packaging_job's
poll and backoff constants; nothing else in the handler is replaced.

The read-timeout test forces ``read_timeout=1`` by wrapping ``packaging_job.client_config`` (which
``make_lookoutvision_client`` builds its Config with), so every other setting of the product's client, including one
attempt per call, stays the product's own.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from support import (
    COMPONENT_ARN,
    EXPECTED_DATA_KEYS,
    FakeContext,
    FakeLookoutVision,
    ResponseRecorder,
    description,
    error,
    make_event,
    malformed,
    ok,
    properties,
    reset,
    slow,
)

from model_packaging_job import index
from model_packaging_job import packaging_job as pj

PROJECT, JOB = "pcb", "pcb-v3-x86"
PHYSICAL_ID = f"{PROJECT}/{JOB}"


# --- fixtures and helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def api() -> Any:
    with FakeLookoutVision() as fake:
        yield fake


@pytest.fixture
def recorder() -> Any:
    with ResponseRecorder() as rec:
        yield rec


@pytest.fixture
def handler(api: FakeLookoutVision) -> Any:
    """The handler with the product's own client, pointed at the loopback API."""
    return index.make_handler(lookoutvision=index.make_lookoutvision_client(endpoint_url=api.url))


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pj, "POLL_INTERVAL_S", (0.01, 0.03))
    monkeypatch.setattr(pj, "BACKOFF_BASE_S", 0.05)
    monkeypatch.setattr(pj, "BACKOFF_CAP_S", 0.1)


def _record_raw_requests(api: FakeLookoutVision) -> list[dict[str, Any]]:
    """Record each request's raw path and headers as the server saw them (before it unquotes the names)."""
    seen: list[dict[str, Any]] = []
    original = api._handle

    def handle(request: Any) -> None:
        seen.append({"path": request.path, "headers": {k.lower(): v for k, v in request.headers.items()}})
        original(request)

    api._handle = handle  # type: ignore[method-assign]
    return seen


def _run(
    handler: Any,
    recorder: ResponseRecorder,
    props: dict[str, Any] | None = None,
    *,
    timeout_s: float = 120.0,
    **event_kw: Any,
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Invoke the handler once; return the event, the single answer and how long the invocation took."""
    event = make_event(response_url=recorder.url, props=props, **event_kw)
    started = time.monotonic()
    handler(event, FakeContext(timeout_s=timeout_s))
    elapsed = time.monotonic() - started
    return event, recorder.only, elapsed


def _gaps(api: FakeLookoutVision) -> list[float]:
    times = [r["at"] for r in api.requests]
    return [b - a for a, b in itertools.pairwise(times)]


def _assert_one_line_failure(body: dict[str, Any]) -> str:
    assert body["Status"] == "FAILED", body
    reason: str = body["Reason"]
    assert reason and "\n" not in reason and "Traceback" not in reason, reason
    assert set(body["Data"]) == EXPECTED_DATA_KEYS
    return reason


def _expected_success_data(project: str = PROJECT, job: str = JOB) -> dict[str, str]:
    return {
        "ComponentVersionArn": COMPONENT_ARN,
        "ComponentName": "com.example.pcb-defects",
        "ComponentVersion": "1.0.0",
        "Status": "SUCCEEDED",
        "StatusMessage": "",
        "ModelVersion": "3",
        "ProjectName": project,
        "JobName": job,
        "CreationTimestamp": "2026-11-29T15:00:00Z",
        "LastUpdatedTimestamp": "2026-11-29T15:04:30Z",
    }


# --- success and waiting -------------------------------------------------------------------------------------------


def test_succeeded_job_answers_success_after_one_signed_request_without_sleeping(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # The poll interval keeps its production value (>= 2 s): any sleep would show in the elapsed time.
    raw = _record_raw_requests(api)
    api.script(PROJECT, JOB, [ok(description("SUCCEEDED"))])

    event, body, elapsed = _run(handler, recorder)

    assert api.calls() == 1
    assert elapsed < 1.5, f"a SUCCEEDED job must be answered without sleeping; took {elapsed:.2f}s"
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert body["Data"] == _expected_success_data()
    assert body["RequestId"] == event["RequestId"]

    assert raw[0]["path"] == f"/2020-11-20/projects/{PROJECT}/modelpackagingjobs/{JOB}"
    headers = raw[0]["headers"]
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")
    assert "/us-east-1/lookoutvision/aws4_request" in headers["authorization"]
    assert pj.USER_AGENT in headers["user-agent"]


def test_waits_through_created_and_running_with_jittered_polls(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pj, "POLL_INTERVAL_S", (0.2, 0.3))
    api.script(
        PROJECT,
        JOB,
        [ok(description("CREATED")), ok(description("RUNNING")), ok(description("RUNNING")), ok(description())],
    )

    _, body, _ = _run(handler, recorder)

    assert api.calls() == 4
    assert body["Status"] == "SUCCESS"
    assert body["Data"] == _expected_success_data()
    for gap in _gaps(api):
        assert 0.19 <= gap < 1.0, f"polls must follow POLL_INTERVAL_S (0.2-0.3 s here); gaps {_gaps(api)}"


@pytest.mark.usefixtures("fast")
def test_the_function_s_polling_budget_spreads_the_first_look_and_paces_the_polls(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the construct sets for 30 jobs sharing 20 requests per second: a share of 1.5 s each.
    monkeypatch.setenv("DESCRIBE_BUDGET_RPS", "20")
    monkeypatch.setenv("DESCRIBE_BUDGET_JOBS", "30")
    firsts = []
    for _ in range(3):
        api.script(PROJECT, JOB, [ok(description("RUNNING")), ok(description("RUNNING")), ok(description())])
        api.requests.clear()
        started = time.monotonic()
        _, body, _ = _run(handler, recorder)
        recorder.bodies.clear()
        assert body["Status"] == "SUCCESS"
        firsts.append(api.requests[0]["at"] - started)
        # POLL_INTERVAL_S is 0.01-0.03 s here: only the share explains these gaps.
        assert all(1.5 <= gap <= 2.25 + 0.3 for gap in _gaps(api)), _gaps(api)
    assert all(0.0 <= first <= 1.5 + 0.3 for first in firsts), firsts
    assert max(firsts) - min(firsts) > 0.05, f"each request draws its own first moment: {firsts}"


@pytest.mark.usefixtures("fast")
def test_an_unusable_polling_budget_is_logged_and_does_not_fail_the_request(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("DESCRIBE_BUDGET_RPS", "fast please")
    api.script(PROJECT, JOB, [ok(description())])
    with caplog.at_level("WARNING"):
        _, body, elapsed = _run(handler, recorder)
    assert body["Status"] == "SUCCESS"
    assert api.calls() == 1 and elapsed < 1.5
    assert any("DESCRIBE_BUDGET_RPS='fast please' is not a positive number" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("fast")
@pytest.mark.parametrize("before", [[], ["RUNNING"]], ids=["failed-at-once", "running-then-failed"])
def test_failed_job_answers_failed_with_the_exact_reason(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder, before: list[str]
) -> None:
    message = "Model packaging failed: the model version 3 is not trained for the target platform."
    api.script(PROJECT, JOB, [*(ok(description(s)) for s in before), ok(description("FAILED", status_message=message))])

    _, body, _ = _run(handler, recorder)

    assert api.calls() == len(before) + 1
    assert _assert_one_line_failure(body) == f"Model packaging job {PHYSICAL_ID} FAILED: {message}"
    assert body["PhysicalResourceId"] == PHYSICAL_ID
    assert body["Data"]["Status"] == "FAILED"
    assert body["Data"]["StatusMessage"] == message
    assert body["Data"]["ComponentVersionArn"] == ""


# --- transient failures are retried --------------------------------------------------------------------------------


@pytest.mark.usefixtures("fast")
def test_throttling_waits_at_least_retry_after_then_succeeds(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    api.script(
        PROJECT,
        JOB,
        [error(429, "ThrottlingException", "Rate exceeded", headers={"Retry-After": "1"}), ok(description())],
    )

    _, body, _ = _run(handler, recorder)

    assert api.calls() == 2, "botocore must make one attempt per call; the wait loop retries"
    [gap] = _gaps(api)
    # The backoff alone is at most 0.05 s here, so only Retry-After can explain a 1 s gap.
    assert 1.0 <= gap < 3.0, f"the retry came {gap:.2f}s after a 429 with Retry-After: 1"
    assert body["Status"] == "SUCCESS"
    assert body["Data"]["ComponentVersionArn"] == COMPONENT_ARN


def test_repeated_throttling_backs_off_exponentially(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pj, "BACKOFF_BASE_S", 0.1)
    monkeypatch.setattr(pj, "BACKOFF_CAP_S", 10.0)
    monkeypatch.setattr(pj, "POLL_INTERVAL_S", (0.02, 0.04))
    throttle = error(429, "ThrottlingException", "Rate exceeded")
    api.script(PROJECT, JOB, [throttle, throttle, throttle, ok(description())])

    _, body, _ = _run(handler, recorder)

    assert body["Status"] == "SUCCESS"
    assert api.calls() == 4
    gaps = _gaps(api)
    # The later of the jittered backoff, half to all of base * 2**n, and the poll interval stretched by the
    # throttling pressure (n + 1 throttles so far): both grow exponentially.
    for n, gap in enumerate(gaps):
        low = max(0.1 * 2**n / 2, 0.02 * 2 ** (n + 1))
        high = max(0.1 * 2**n, 0.04 * 2 ** (n + 1))
        assert low - 0.01 <= gap <= high + 0.3, f"retry {n + 1} came after {gap:.3f}s; gaps {gaps}"
    assert gaps[2] > gaps[0]


@pytest.mark.usefixtures("fast")
@pytest.mark.parametrize(
    "failures",
    [
        [error(500, "InternalServerException", "Internal error")],
        [error(503, "ServiceUnavailableException", "Service unavailable")],
        [
            error(500, "InternalServerException", "Internal error"),
            error(503, "ServiceUnavailableException", "Service unavailable"),
            error(500, "InternalServerException", "Internal error"),
        ],
    ],
    ids=["500", "503", "500-503-500"],
)
def test_server_errors_are_retried_then_succeed(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder, failures: list[Any]
) -> None:
    api.script(PROJECT, JOB, [*failures, ok(description())])

    _, body, _ = _run(handler, recorder)

    assert api.calls() == len(failures) + 1
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["Data"] == _expected_success_data()


@pytest.mark.usefixtures("fast")
def test_connection_reset_is_retried_then_succeeds(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    api.script(PROJECT, JOB, [reset(), reset(), ok(description())])

    _, body, _ = _run(handler, recorder)

    assert api.calls() == 3
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["Data"]["ComponentVersionArn"] == COMPONENT_ARN


@pytest.mark.usefixtures("fast")
def test_malformed_json_is_retried_then_succeeds(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # A 200 whose JSON body is cut short: botocore does not raise, it returns a response without
    # ModelPackagingDescription. That is a transient wire failure, not a reason to fail the deployment.
    api.script(PROJECT, JOB, [malformed(), ok(description())])

    _, body, _ = _run(handler, recorder)

    assert body["Status"] == "SUCCESS", f"a malformed response must be retried; got {body['Reason']!r}"
    assert api.calls() == 2
    assert body["Data"]["ComponentVersionArn"] == COMPONENT_ARN


@pytest.mark.usefixtures("fast")
def test_response_slower_than_the_read_timeout_is_retried(
    api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keep the product's client settings, only shorten its read timeout from 10 s to 1 s.
    product_config = pj.client_config
    monkeypatch.setattr(pj, "client_config", lambda **kwargs: product_config(**{**kwargs, "read_timeout": 1}))
    lookoutvision = index.make_lookoutvision_client(endpoint_url=api.url)
    handler = index.make_handler(lookoutvision=lookoutvision)
    assert lookoutvision.meta.config.read_timeout == 1
    assert lookoutvision.meta.config.retries["total_max_attempts"] == 1
    api.script(PROJECT, JOB, [slow(3.0, ok(description("RUNNING"))), ok(description())])

    _, body, elapsed = _run(handler, recorder)

    assert body["Status"] == "SUCCESS", body["Reason"]
    assert api.calls() == 2
    [gap] = _gaps(api)
    assert 1.0 <= gap < 2.5, f"the client must give up after its 1 s read timeout; retried after {gap:.2f}s"
    assert elapsed < 3.0


# --- errors that retrying cannot fix -------------------------------------------------------------------------------


@pytest.mark.usefixtures("fast")
def test_access_denied_fails_naming_the_missing_iam_action(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    api.script(
        PROJECT,
        JOB,
        [
            error(
                403,
                "AccessDeniedException",
                "User: arn:aws:sts::123456789012:assumed-role/Handler/fn is not authorized to perform: "
                "lookoutvision:DescribeModelPackagingJob",
            )
        ],
    )

    _, body, _ = _run(handler, recorder)

    assert api.calls() == 1, "AccessDenied must not be retried"
    reason = _assert_one_line_failure(body)
    assert "grant lookoutvision:DescribeModelPackagingJob" in reason
    assert PHYSICAL_ID in reason
    assert body["PhysicalResourceId"] == PHYSICAL_ID


@pytest.mark.usefixtures("fast")
def test_missing_project_and_missing_job_get_distinct_reasons(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    api.script(PROJECT, "another-job", [ok(description(job="another-job"))])  # the project exists, the job does not

    handler(make_event(response_url=recorder.url, props=properties("ghost-project", JOB)), FakeContext(120))
    handler(make_event(response_url=recorder.url, props=properties(PROJECT, "ghost-job")), FakeContext(120))

    assert api.calls() == 2, "ResourceNotFound must not be retried"
    assert len(recorder.bodies) == 2
    project_reason = _assert_one_line_failure(recorder.bodies[0])
    job_reason = _assert_one_line_failure(recorder.bodies[1])
    assert project_reason != job_reason
    assert "project 'ghost-project' does not exist" in project_reason
    assert "check project_name" in project_reason
    assert "job_name" not in project_reason
    assert "job 'ghost-job' does not exist in project 'pcb'" in job_reason
    assert "check job_name" in job_reason
    assert "check project_name" not in job_reason


@pytest.mark.usefixtures("fast")
def test_validation_error_fails_with_the_service_message(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    message = "1 validation error detected: Value at 'jobName' failed to satisfy constraint"
    api.script(PROJECT, JOB, [error(400, "ValidationException", message)])

    _, body, _ = _run(handler, recorder)

    assert api.calls() == 1, "ValidationException must not be retried"
    reason = _assert_one_line_failure(body)
    assert message in reason
    assert PHYSICAL_ID in reason


# --- names on the wire ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fast")
def test_maximal_names_reach_the_api_intact(handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder) -> None:
    project = ("Pcb_defect-line" * 20)[:255]
    job = ("X86-v3-" * 10)[:64]
    assert len(project) == 255 and len(job) == 64
    raw = _record_raw_requests(api)
    api.script(project, job, [ok(description(project=project, job=job))])

    _, body, _ = _run(handler, recorder, properties(project, job))

    assert api.requests[0]["project"] == project and api.requests[0]["job"] == job
    assert raw[0]["path"] == f"/2020-11-20/projects/{project}/modelpackagingjobs/{job}"
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == f"{project}/{job}"
    assert body["Data"] == _expected_success_data(project, job)


# --- more of the documented behaviour over the wire ----------------------------------------------------------------


@pytest.mark.usefixtures("fast")
@pytest.mark.parametrize(
    ("step", "last_status", "last_error"),
    [
        (ok(description("RUNNING")), "RUNNING", ""),
        (error(429, "ThrottlingException", "Rate exceeded"), "unknown", "ThrottlingException"),
    ],
    ids=["running", "throttled"],
)
def test_wait_timeout_fails_naming_job_status_and_minutes(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder, step: Any, last_status: str, last_error: str
) -> None:
    # A continuation invocation whose wait started 59.2 s ago, with a 60 s wait_timeout: it times out in ~0.8 s.
    api.script(PROJECT, JOB, [step])
    event = make_event(response_url=recorder.url, props=properties(WaitTimeoutSeconds=60))
    event["LookoutVisionWait"] = {"StartedAt": time.time() - 59.2, "Invocation": 2}

    started = time.monotonic()
    handler(event, FakeContext(120))

    assert time.monotonic() - started < 3.0
    reason = _assert_one_line_failure(recorder.only)
    assert reason.startswith(f"Timed out after 1.0 minutes waiting for model packaging job {PHYSICAL_ID}")
    assert f"last status {last_status}" in reason
    if last_error:
        assert f"last error {last_error}" in reason
    assert api.calls() >= 2


@pytest.mark.usefixtures("fast")
def test_succeeded_without_greengrass_output_fails(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    api.script(PROJECT, JOB, [ok(description("SUCCEEDED", with_output=False))])

    _, body, _ = _run(handler, recorder)

    reason = _assert_one_line_failure(body)
    assert "SUCCEEDED but reported no Greengrass output details" in reason
    assert PHYSICAL_ID in reason


@pytest.mark.usefixtures("fast")
def test_unexpected_component_name_fails(handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder) -> None:
    api.script(PROJECT, JOB, [ok(description(component_name="com.example.other"))])

    _, body, _ = _run(handler, recorder, properties(ExpectedComponentName="com.example.pcb-defects"))

    reason = _assert_one_line_failure(body)
    assert "'com.example.other'" in reason and "'com.example.pcb-defects'" in reason


@pytest.mark.usefixtures("fast")
@pytest.mark.parametrize("status", ["RUNNING", "FAILED"])
def test_no_wait_answers_the_current_status_at_once(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder, status: str
) -> None:
    api.script(PROJECT, JOB, [ok(description(status, status_message="still going"))])

    _, body, _ = _run(handler, recorder, properties(WaitForCompletion="false"))

    assert api.calls() == 1
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["Data"]["Status"] == status


def test_delete_answers_success_without_calling_the_api(
    handler: Any, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    _, body, _ = _run(handler, recorder, request_type="Delete", physical_id="ModelPackagingJob21DA863A-1a2b3c4d")

    assert api.calls() == 0
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "ModelPackagingJob21DA863A-1a2b3c4d"
