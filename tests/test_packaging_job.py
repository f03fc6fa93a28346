"""packaging_job, the one place that describes, classifies and waits: job status and attributes, the classification of
every failure a Describe call can end in (with the advice each final one gives), and wait_for_job on a virtual clock:
polling, backoff, throttling pressure, the polling budget, deadlines and hand-off points."""

from __future__ import annotations

import itertools
import socket
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore import exceptions
from support import ScriptedClient, ScriptStep, VirtualClock, client_error, description

from model_packaging_job import packaging_job as pj

PROJECT, JOB = "pcb", "pcb-v3-x86"


def throttle(retry_after: float | None = None) -> Any:
    extra = {} if retry_after is None else {"RetryAfterSeconds": retry_after}
    return client_error("ThrottlingException", 429, "Rate exceeded", **extra)


def wait(client: ScriptedClient, vclock: VirtualClock, **kwargs: Any) -> pj.WaitResult:
    kwargs.setdefault("deadline", vclock.start + 2700)
    return pj.wait_for_job(client, PROJECT, JOB, clock=vclock.clock(kwargs.pop("seed", 7)), **kwargs)


# --- classify_status -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("CREATED", "waiting"),
        ("RUNNING", "waiting"),
        ("SUCCEEDED", "succeeded"),
        ("FAILED", "failed"),
        ("STOPPED", "unknown"),
        ("running", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_classify_status(status: str | None, phase: str) -> None:
    assert pj.classify_status(status) == phase


# --- to_attributes -------------------------------------------------------------------------------------------------


def test_to_attributes_succeeded_job_has_every_key_with_values() -> None:
    attrs = pj.to_attributes(description("SUCCEEDED", status_message="done"))
    assert list(attrs) == list(pj.DATA_KEYS)
    assert attrs == {
        "ComponentVersionArn": "arn:aws:greengrass:us-east-1:123456789012:components:com.example.pcb-defects:"
        "versions:1.0.0",
        "ComponentName": "com.example.pcb-defects",
        "ComponentVersion": "1.0.0",
        "Status": "SUCCEEDED",
        "StatusMessage": "done",
        "ModelVersion": "3",
        "ProjectName": "pcb",
        "JobName": "pcb-v3-x86",
        "CreationTimestamp": "2026-11-29T15:00:00Z",
        "LastUpdatedTimestamp": "2026-11-29T15:04:30Z",
    }


def test_to_attributes_running_job_has_every_key_empty_where_missing() -> None:
    attrs = pj.to_attributes(description("RUNNING"))
    assert list(attrs) == list(pj.DATA_KEYS)
    assert attrs["ComponentVersionArn"] == attrs["ComponentName"] == attrs["ComponentVersion"] == ""
    assert attrs["StatusMessage"] == ""
    assert attrs["Status"] == "RUNNING"
    assert all(isinstance(v, str) for v in attrs.values())


def test_to_attributes_of_empty_description_uses_given_names_and_empty_strings() -> None:
    attrs = pj.to_attributes({}, "proj", "job-1")
    assert list(attrs) == list(pj.DATA_KEYS)
    assert attrs["ProjectName"] == "proj"
    assert attrs["JobName"] == "job-1"
    assert {k: v for k, v in attrs.items() if k not in ("ProjectName", "JobName")} == dict.fromkeys(
        [k for k in pj.DATA_KEYS if k not in ("ProjectName", "JobName")], ""
    )


def test_to_attributes_tolerates_null_output_details() -> None:
    desc = description("SUCCEEDED", with_output=False)
    desc["ModelPackagingOutputDetails"] = {"Greengrass": None}
    attrs = pj.to_attributes(desc)
    assert attrs["ComponentVersionArn"] == ""
    assert pj.greengrass_output(desc) == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 29, 17, 30, 5, tzinfo=timezone(timedelta(hours=2))), "2026-11-29T15:30:05Z"),
        (datetime(2026, 11, 29, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-11-29T06:00:00Z"),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-3))), "2027-01-01T02:59:59Z"),
        (datetime(2026, 11, 29, 15, 0, 0), "2026-11-29T15:00:00Z"),
        (datetime(2026, 11, 29, 15, 0, 0, 999999, tzinfo=UTC), "2026-11-29T15:00:00Z"),
    ],
)
def test_to_attributes_timestamps_are_iso_utc_with_z(value: datetime, expected: str) -> None:
    desc = description()
    desc["CreationTimestamp"] = value
    desc["LastUpdatedTimestamp"] = value
    attrs = pj.to_attributes(desc)
    assert attrs["CreationTimestamp"] == expected
    assert attrs["LastUpdatedTimestamp"] == expected


def test_to_attributes_missing_timestamps_are_empty() -> None:
    desc = description()
    del desc["CreationTimestamp"]
    desc["LastUpdatedTimestamp"] = None
    attrs = pj.to_attributes(desc)
    assert attrs["CreationTimestamp"] == ""
    assert attrs["LastUpdatedTimestamp"] == ""


# --- classify_error ------------------------------------------------------------------------------------------------

NOT_FOUND = "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("error", "region", "message"),
    [
        (
            client_error("AccessDeniedException", 403, "not authorized"),
            "us-east-1",
            "Access denied describing model packaging job pcb/pcb-v3-x86 in us-east-1: grant "
            'lookoutvision:DescribeModelPackagingJob on Resource "*" to the caller, and check SCPs and permission '
            "boundaries (not authorized)",
        ),
        (
            client_error("Forbidden", 403, "no"),
            "",
            "Access denied describing model packaging job pcb/pcb-v3-x86: grant "
            'lookoutvision:DescribeModelPackagingJob on Resource "*" to the caller, and check SCPs and permission '
            "boundaries (no)",
        ),
        (
            client_error(NOT_FOUND, 404, "Project pcb not found", ResourceId=PROJECT, ResourceType="PROJECT"),
            "eu-west-1",
            "Lookout for Vision project 'pcb' does not exist in eu-west-1: check project_name (Project pcb not found)",
        ),
        (
            client_error(NOT_FOUND, 404, "Job not found", ResourceId=JOB, ResourceType="MODEL_PACKAGE_JOB"),
            "",
            "Model packaging job 'pcb-v3-x86' does not exist in project 'pcb': check job_name "
            "(ListModelPackagingJobs lists the project's jobs) (Job not found)",
        ),
        (
            client_error(NOT_FOUND, 404, ""),
            "",
            "Model packaging job pcb/pcb-v3-x86 was not found: check project_name, job_name and the Region the stack "
            "deploys to",
        ),
        (
            client_error("ValidationException", 400, "1 validation error detected: JobName"),
            "",
            "Lookout for Vision rejected the request for pcb/pcb-v3-x86: 1 validation error detected: JobName. "
            "Check project_name and job_name against the naming rules",
        ),
        (
            client_error("", 418, "I'm a teapot"),
            "",
            "DescribeModelPackagingJob for pcb/pcb-v3-x86 failed with HTTP error (418): I'm a teapot",
        ),
    ],
    ids=["access-denied", "plain-403", "no-project", "no-job", "not-found", "validation", "no-code"],
)
def test_a_final_api_error_says_what_to_fix(error: Exception, region: str, message: str) -> None:
    problem = pj.classify_error(error, PROJECT, JOB, region)
    assert not problem.retryable
    assert problem.message == message


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("ThrottlingException", 400),
        ("TooManyRequestsException", 429),
        ("SomethingNew", 429),
        ("InternalServerException", 500),
        ("ServiceUnavailable", 503),
        ("SomethingElse", 502),
        ("RequestTimeout", 408),
    ],
)
def test_throttling_and_server_errors_are_retryable(code: str, status: int) -> None:
    problem = pj.classify_error(client_error(code, status), PROJECT, JOB)
    assert problem.retryable
    assert problem.code == code
    assert problem.throttled == (code in ("ThrottlingException", "TooManyRequestsException") or status == 429)


def test_a_server_error_quoting_a_429_is_not_a_throttle() -> None:
    vclock = VirtualClock()
    unavailable = client_error("ServiceUnavailableException", 503, "upstream answered (429)")
    assert not pj.classify_error(unavailable, PROJECT, JOB).throttled
    client = ScriptedClient(vclock, [unavailable, description("SUCCEEDED")])
    assert wait(client, vclock).outcome == "succeeded"
    # Backoff alone (1-2 s after one failure), not a throttled poll (at least twice the 2 s poll).
    assert max(vclock.sleeps) < pj.POLL_INTERVAL_S[0] * 2


def test_retry_after_seconds_is_honoured_from_the_modeled_field_and_the_header() -> None:
    assert pj.classify_error(throttle(retry_after=7), PROJECT, JOB).retry_after_s == 7.0
    header = client_error("ThrottlingException", 429, HTTPHeaders={"retry-after": "3"})
    assert pj.classify_error(header, PROJECT, JOB).retry_after_s == 3.0
    assert pj.classify_error(throttle(), PROJECT, JOB).retry_after_s is None
    garbage = client_error("ThrottlingException", 429, HTTPHeaders={"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert pj.classify_error(garbage, PROJECT, JOB).retry_after_s is None
    assert pj.classify_error(throttle(retry_after=100_000), PROJECT, JOB).retry_after_s is None


@pytest.mark.parametrize(
    "error",
    [
        exceptions.EndpointConnectionError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        exceptions.ConnectTimeoutError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        exceptions.ReadTimeoutError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        exceptions.ConnectionClosedError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        ConnectionResetError("reset by peer"),
        TimeoutError("timed out"),
    ],
)
def test_connection_errors_are_retryable(error: BaseException) -> None:
    assert pj.classify_error(error, PROJECT, JOB).retryable


def test_missing_service_model_and_credentials_are_final_with_a_fix() -> None:
    unknown = pj.classify_error(
        exceptions.UnknownServiceError(service_name="lookoutvision", known_service_names="s3"), PROJECT, JOB
    )
    assert not unknown.retryable
    assert "AWS_DATA_PATH" in unknown.message
    creds = pj.classify_error(exceptions.NoCredentialsError(), PROJECT, JOB)
    assert not creds.retryable
    assert "credentials" in creds.message


def test_unexpected_exception_is_final_and_named() -> None:
    problem = pj.classify_error(KeyError("Status"), PROJECT, JOB)
    assert not problem.retryable
    assert problem.message.startswith("KeyError")


@pytest.mark.parametrize(
    ("code", "status", "message", "fix"),
    [
        ("ExpiredTokenException", 403, "The security token included in the request is expired", "refresh them"),
        ("ExpiredTokenException", 400, "The security token included in the request is expired", "refresh them"),
        ("ExpiredToken", 400, "The security token included in the request is expired", "refresh them"),
        ("UnrecognizedClientException", 403, "The security token included in the request is invalid.", "access keys"),
        ("UnrecognizedClientException", 400, "The security token included in the request is invalid.", "access keys"),
        ("InvalidClientTokenId", 403, "The security token included in the request is invalid.", "access keys"),
        (
            "InvalidSignatureException",
            403,
            "The request signature we calculated does not match the signature you provided.",
            "check the secret access key",
        ),
        ("SignatureDoesNotMatch", 403, "Signature does not match", "check the secret access key"),
        (
            "InvalidSignatureException",
            403,
            "Signature expired: 20261201T100000Z is now earlier than 20261201T100500Z (20261201T101000Z - 5 min.)",
            "fix the clock",
        ),
        (
            "InvalidSignatureException",
            400,
            "Signature not yet current: 20261201T103000Z is still later than 20261201T102000Z",
            "fix the clock",
        ),
        ("RequestExpired", 400, "Request has expired.", "fix the clock"),
    ],
)
def test_credential_errors_say_what_to_fix_not_iam_or_naming(code: str, status: int, message: str, fix: str) -> None:
    problem = pj.classify_error(client_error(code, status, message), PROJECT, JOB, "eu-west-1")
    assert not problem.retryable
    assert problem.code == code
    assert fix in problem.message
    assert f"{code} ({status}): {message}" in problem.message  # the service's own words stay visible
    assert "pcb/pcb-v3-x86 in eu-west-1" in problem.message
    assert "grant" not in problem.message and "naming rules" not in problem.message
    assert "\n" not in problem.message


def _real_describe_error(endpoint_url: str, region: str = "eu-west-9") -> BaseException:
    """The exception botocore really raises for a Describe call to ``endpoint_url`` (one attempt, as the product)."""
    import botocore.session

    from cdk_lookoutvision_packaging import _model

    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(_model.data_path()))
    client = session.create_client(
        pj.SERVICE_NAME, region_name=region, endpoint_url=endpoint_url, config=pj.client_config(connect_timeout=2)
    )
    with pytest.raises(exceptions.EndpointConnectionError) as raised:
        pj.describe(client, PROJECT, JOB)
    return raised.value


def test_an_endpoint_that_does_not_resolve_is_final_naming_the_region_and_the_endpoint() -> None:
    # .invalid never resolves (RFC 6761): the same answer as a Region where Lookout for Vision has no endpoint.
    error = _real_describe_error("https://lookoutvision.eu-west-9.amazonaws.invalid")

    problem = pj.classify_error(error, PROJECT, JOB, "eu-west-9")

    assert not problem.retryable
    assert "https://lookoutvision.eu-west-9.amazonaws.invalid for Region eu-west-9" in problem.message
    assert "does not resolve in DNS" in problem.message
    assert "Check the Region the stack deploys to" in problem.message
    assert "\n" not in problem.message


def test_a_refused_connection_is_still_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Closed now: nothing listens on the port, so the connection is refused.
    error = _real_describe_error(f"http://127.0.0.1:{port}")

    problem = pj.classify_error(error, PROJECT, JOB, "eu-west-9")

    assert problem.retryable
    assert problem.code == "EndpointConnectionError"


def test_a_resolver_that_cannot_answer_now_is_retried() -> None:
    # botocore wraps a bare gaierror the same way (httpsession: except (NewConnectionError, socket.gaierror)).
    temporary = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    error = exceptions.EndpointConnectionError(
        endpoint_url="https://lookoutvision.eu-west-1.amazonaws.com/", error=temporary
    )
    assert pj.classify_error(error, PROJECT, JOB, "eu-west-1").retryable
    gone = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    error = exceptions.EndpointConnectionError(
        endpoint_url="https://lookoutvision.eu-west-1.amazonaws.com/", error=gone
    )
    assert not pj.classify_error(error, PROJECT, JOB, "eu-west-1").retryable


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [(502, "Bad Gateway", "HTTP error (502): Bad Gateway"), (503, "", "HTTP error (503)")],
)
def test_an_error_without_a_code_reads_as_an_http_error(status: int, message: str, expected: str) -> None:
    problem = pj.classify_error(client_error("", status, message), PROJECT, JOB)
    assert problem.retryable
    assert problem.message == expected


def test_a_throttle_without_a_code_still_raises_the_pressure() -> None:
    vclock = VirtualClock()
    bare = client_error("", 429, "Too Many Requests")
    client = ScriptedClient(vclock, [bare, bare, description("SUCCEEDED")])
    result = wait(client, vclock)
    assert result.outcome == "succeeded"
    # A throttle stretches the retry to at least a paced poll interval (POLL_INTERVAL_S * 2**pressure).
    assert min(vclock.sleeps) >= pj.POLL_INTERVAL_S[0] * 2


def test_advice_names_the_inputs_in_the_caller_s_terms() -> None:
    cli = pj.Wording("--project-name", "--job-name", "--region")
    project = client_error("ResourceNotFoundException", 404, "x", ResourceType="PROJECT")
    job = client_error("ResourceNotFoundException", 404, "x", ResourceType="MODEL_PACKAGE_JOB")
    other = client_error("ResourceNotFoundException", 404, "x")
    invalid = client_error("ValidationException", 400, "x")

    assert "check --project-name" in pj.classify_error(project, PROJECT, JOB, wording=cli).message
    assert "check --job-name" in pj.classify_error(job, PROJECT, JOB, wording=cli).message
    assert (
        "check --project-name, --job-name and --region" in pj.classify_error(other, PROJECT, JOB, wording=cli).message
    )
    assert "Check --project-name and --job-name" in pj.classify_error(invalid, PROJECT, JOB, wording=cli).message
    # The construct's terms stay the default.
    assert "check project_name, job_name and the Region" in pj.classify_error(other, PROJECT, JOB).message


def test_a_problem_keeps_the_exception_it_classified() -> None:
    error = client_error("ResourceNotFoundException", 404, "x", ResourceType="PROJECT")
    assert pj.classify_error(error, PROJECT, JOB).error is error


# --- reasons -------------------------------------------------------------------------------------------------------


def test_a_failed_job_s_reason_is_its_status_message_on_one_line() -> None:
    reason = pj.failed_reason(PROJECT, JOB, "step 1 failed\nstep 2 skipped\r\n")
    assert reason == "Model packaging job pcb/pcb-v3-x86 FAILED: step 1 failed step 2 skipped"
    assert pj.failed_reason(PROJECT, JOB, "") == "Model packaging job pcb/pcb-v3-x86 FAILED: (no StatusMessage)"


def test_a_timeout_names_the_job_the_minutes_the_last_status_and_the_last_error() -> None:
    assert pj.timeout_reason(PROJECT, JOB, "RUNNING", 2700) == (
        "Timed out after 45.0 minutes waiting for model packaging job pcb/pcb-v3-x86; last status RUNNING. "
        "Raise wait_timeout or rerun the deployment when the job has finished"
    )
    assert pj.timeout_reason(PROJECT, JOB, "", 90, "ThrottlingException (429): slow") == (
        "Timed out after 1.5 minutes waiting for model packaging job pcb/pcb-v3-x86; last status unknown; last error "
        "ThrottlingException (429): slow. Raise wait_timeout or rerun the deployment when the job has finished"
    )


def test_the_gate_reasons_name_the_job_and_what_to_change() -> None:
    assert pj.no_output_reason(PROJECT, JOB) == (
        "Model packaging job pcb/pcb-v3-x86 SUCCEEDED but reported no Greengrass output details "
        "(ModelPackagingOutputDetails.Greengrass.ComponentVersionArn is missing); only Greengrass packaging jobs can "
        "be gated"
    )
    assert pj.component_mismatch_reason(PROJECT, JOB, "com.example.other", "com.example.pcb-defects") == (
        "Model packaging job pcb/pcb-v3-x86 produced component 'com.example.pcb-defects', but expected_component_name "
        "is 'com.example.other': set expected_component_name to the job's ComponentName"
    )
    assert pj.unknown_status_reason(PROJECT, JOB, "STOPPED") == (
        "Model packaging job pcb/pcb-v3-x86 reported an unknown status 'STOPPED'"
    )


# --- wait_for_job on a virtual clock -------------------------------------------------------------------------------


def test_succeeded_on_first_look_is_one_call_and_no_sleep() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description("SUCCEEDED")])
    result = wait(client, vclock)
    assert result.outcome == "succeeded"
    assert result.api_calls == 1
    assert len(client.calls) == 1
    assert vclock.sleeps == []
    assert result.status == "SUCCEEDED"
    assert result.description is not None
    assert client.params == [{"ProjectName": PROJECT, "JobName": JOB}]


def test_failed_on_first_look_is_one_call_and_no_sleep() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description("FAILED", status_message="bad model")])
    result = wait(client, vclock)
    assert result.outcome == "failed"
    assert result.api_calls == 1
    assert vclock.sleeps == []


def test_running_then_succeeded_is_noticed_within_poll_bound_with_jitter() -> None:
    vclock = VirtualClock()
    done_at = vclock.start + 97.3

    def job(now: float) -> dict[str, Any]:
        return description("SUCCEEDED" if now >= done_at else "RUNNING")

    client = ScriptedClient(vclock, [job])
    seen: list[str] = []
    result = wait(client, vclock, on_status=lambda status, desc: seen.append(status))
    assert result.outcome == "succeeded"
    assert result.statuses == ["RUNNING", "SUCCEEDED"]
    assert seen == ["RUNNING", "SUCCEEDED"]
    assert vclock.sleeps, "a RUNNING job must be waited for"
    assert all(2.0 <= s <= 4.5 for s in vclock.sleeps), vclock.sleeps
    assert len(set(vclock.sleeps)) > 1, "poll intervals must be jittered"
    # The look that saw SUCCEEDED came at most one poll interval after the change.
    assert done_at <= client.calls[-1] <= done_at + 4.5
    assert result.api_calls == len(client.calls) == len(vclock.sleeps) + 1


def test_created_running_succeeded_reports_each_status_once() -> None:
    vclock = VirtualClock()
    steps: list[ScriptStep] = [description("CREATED")] * 2 + [description("RUNNING")] * 3 + [description("SUCCEEDED")]
    client = ScriptedClient(vclock, steps)
    result = wait(client, vclock)
    assert result.outcome == "succeeded"
    assert result.statuses == ["CREATED", "RUNNING", "SUCCEEDED"]
    assert result.api_calls == 6
    assert len(vclock.sleeps) == 5


def test_different_seeds_poll_at_different_moments() -> None:
    sequences = []
    for seed in (1, 2):
        vclock = VirtualClock()
        client = ScriptedClient(vclock, [description("RUNNING")] * 5 + [description("SUCCEEDED")])
        wait(client, vclock, seed=seed)
        sequences.append(vclock.sleeps)
    assert sequences[0] != sequences[1]


def test_timeout_at_the_deadline() -> None:
    vclock = VirtualClock()
    deadline = vclock.start + 60
    client = ScriptedClient(vclock, [description("RUNNING")])
    result = wait(client, vclock, deadline=deadline)
    assert result.outcome == "timeout"
    assert result.status == "RUNNING"
    # The last look is taken exactly at the deadline, and the wait never sleeps past it.
    assert vclock.now() == pytest.approx(deadline)
    assert client.calls[-1] == pytest.approx(deadline)
    assert all(c <= deadline + 1e-9 for c in client.calls)
    assert all(s <= 4.5 for s in vclock.sleeps)
    assert 60 / 4.5 <= result.api_calls <= 60 / 2.0 + 2


def test_job_finishing_at_the_deadline_look_succeeds() -> None:
    vclock = VirtualClock()
    deadline = vclock.start + 60

    def job(now: float) -> dict[str, Any]:
        return description("SUCCEEDED" if now >= deadline else "RUNNING")

    result = wait(ScriptedClient(vclock, [job]), vclock, deadline=deadline)
    assert result.outcome == "succeeded"


def test_yield_before_a_poll_would_pass_yield_at_with_the_moment_of_that_poll() -> None:
    vclock = VirtualClock()
    result = wait(ScriptedClient(vclock, [description("RUNNING")]), vclock, yield_at=vclock.start + 30)
    assert (result.outcome, result.status) == ("yield", "RUNNING")
    assert vclock.start + 30 - 4.5 <= vclock.now() < vclock.start + 30 <= (result.next_look_at or 0)
    assert result.next_look_at is not None and result.next_look_at - vclock.now() <= 4.5
    assert result.api_calls >= 30 / 4.5


def test_yield_at_in_the_past_yields_after_one_look_without_sleeping() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description("CREATED")])
    result = wait(client, vclock, yield_at=vclock.start - 10)
    assert result.outcome == "yield"
    assert result.api_calls == 1
    assert vclock.sleeps == []


def test_terminal_job_wins_over_a_past_yield_at() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description("SUCCEEDED")])
    assert wait(client, vclock, yield_at=vclock.start - 10).outcome == "succeeded"


@pytest.mark.parametrize("status", ["CREATED", "RUNNING"])
def test_no_wait_returns_not_ready_after_one_look(status: str) -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description(status)])
    result = wait(client, vclock, wait=False)
    assert result.outcome == "not_ready"
    assert result.status == status
    assert result.api_calls == 1
    assert vclock.sleeps == []


def test_no_wait_still_reports_terminal_outcomes() -> None:
    vclock = VirtualClock()
    assert wait(ScriptedClient(vclock, [description("FAILED")]), vclock, wait=False).outcome == "failed"
    assert wait(ScriptedClient(vclock, [description("SUCCEEDED")]), vclock, wait=False).outcome == "succeeded"


def test_unknown_status_is_an_error_not_an_endless_wait() -> None:
    vclock = VirtualClock()
    result = wait(ScriptedClient(vclock, [description("STOPPED")]), vclock)
    assert result.outcome == "error"
    assert result.problem is not None
    assert result.problem.message == pj.unknown_status_reason(PROJECT, JOB, "STOPPED")
    assert result.api_calls == 1


def test_final_error_stops_after_one_call() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [client_error("AccessDeniedException", 403), description("SUCCEEDED")])
    result = wait(client, vclock)
    assert result.outcome == "error"
    assert result.api_calls == 1
    assert vclock.sleeps == []
    assert result.problem is not None and result.problem.code == "AccessDeniedException"
    assert result.reason_detail == result.problem.message


def _paced_bounds(pressure: float) -> tuple[float, float]:
    low, high = pj.POLL_INTERVAL_S
    return min(pj.PACE_CAP_S, low * 2**pressure), min(pj.PACE_CAP_S, high * 2**pressure)


def test_throttling_backoff_grows_with_jitter_and_is_capped() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [throttle() for _ in range(9)] + [description("SUCCEEDED")])
    retries: list[tuple[str, float]] = []
    result = wait(client, vclock, on_retry=lambda problem, delay: retries.append((problem.code, delay)))
    assert result.outcome == "succeeded"
    assert result.api_calls == 10
    assert len(vclock.sleeps) == 9
    for attempt, slept in enumerate(vclock.sleeps):
        ceiling = min(pj.BACKOFF_CAP_S, pj.BACKOFF_BASE_S * 2**attempt)
        paced_low, paced_high = _paced_bounds(min(pj.PRESSURE_MAX, attempt + 1.0))
        # The later of the exponential backoff and the poll interval stretched by throttling pressure.
        assert max(ceiling / 2, paced_low) <= slept <= max(ceiling, paced_high), (attempt, slept)
    assert min(vclock.sleeps[4:]) >= pj.BACKOFF_CAP_S / 2
    assert [delay for _, delay in retries] == vclock.sleeps
    assert {code for code, _ in retries} == {"ThrottlingException"}


def test_throttling_pressure_outlives_a_success_and_then_relaxes() -> None:
    vclock = VirtualClock()
    steps: list[ScriptStep] = (
        [throttle()] * 5
        + [description("RUNNING")]
        + [throttle()]
        + [description("RUNNING")] * 30
        + [description("SUCCEEDED")]
    )
    result = wait(ScriptedClient(vclock, steps), vclock)
    assert result.outcome == "succeeded"
    assert vclock.sleeps[4] >= 16.0  # fifth consecutive failure
    low, high = _paced_bounds(pj.PRESSURE_MAX - pj.PRESSURE_RELIEF)
    assert low <= vclock.sleeps[5] <= high  # a poll after the RUNNING look, still slowed by the throttling
    # The backoff count started again, but the pressure did not: no quick retry into a throttled quota.
    assert vclock.sleeps[6] >= _paced_bounds(pj.PRESSURE_MAX)[0]
    # Every accepted call relaxes the pace, until polls are back to the normal interval.
    assert pj.POLL_INTERVAL_S[0] <= vclock.sleeps[-1] <= pj.POLL_INTERVAL_S[1]


def test_unthrottled_polling_keeps_the_normal_interval() -> None:
    vclock = VirtualClock()
    steps: list[ScriptStep] = [client_error("InternalServerException", 500)] + [description("RUNNING")] * 5
    result = wait(ScriptedClient(vclock, [*steps, description("SUCCEEDED")]), vclock)
    assert result.outcome == "succeeded"
    assert all(pj.POLL_INTERVAL_S[0] <= slept <= pj.POLL_INTERVAL_S[1] for slept in vclock.sleeps[1:])


def test_retry_after_is_respected_even_above_the_backoff() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [throttle(retry_after=20), throttle(retry_after=0.1), description("SUCCEEDED")])
    result = wait(client, vclock)
    assert result.outcome == "succeeded"
    assert vclock.sleeps[0] == 20
    low, high = _paced_bounds(2.0)
    assert low <= vclock.sleeps[1] <= high  # the paced interval beats a shorter Retry-After
    assert client.calls[1] - client.calls[0] >= 20


def test_server_and_connection_errors_are_retried_until_success() -> None:
    vclock = VirtualClock()
    steps: list[ScriptStep] = [
        client_error("InternalServerException", 500),
        exceptions.EndpointConnectionError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        exceptions.ReadTimeoutError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        description("SUCCEEDED"),
    ]
    result = wait(ScriptedClient(vclock, steps), vclock)
    assert result.outcome == "succeeded"
    assert result.api_calls == 4


def test_throttled_until_the_deadline_times_out_with_the_last_error() -> None:
    vclock = VirtualClock()
    deadline = vclock.start + 120
    result = wait(ScriptedClient(vclock, [throttle()]), vclock, deadline=deadline)
    assert result.outcome == "timeout"
    assert "ThrottlingException" in result.last_error
    assert vclock.now() == pytest.approx(deadline)
    assert all(s <= pj.BACKOFF_CAP_S for s in vclock.sleeps)
    assert (result.status, result.description) == ("", None)


# --- the polling budget: many waits, one quota ----------------------------------------------------------------------


def test_poll_budget_share_and_when_it_staggers() -> None:
    assert pj.PollBudget(4.0, 100).share_s == 25.0
    assert pj.PollBudget(4.0, 100).staggers_start
    # Four first looks fit one second of a budget of 4: no need to spread them.
    assert pj.PollBudget(4.0, 4).share_s == 1.0
    assert not pj.PollBudget(4.0, 4).staggers_start
    assert pj.PollBudget().share_s == 1 / pj.DEFAULT_DESCRIBE_BUDGET_RPS


def _fleet_calls(budget: pj.PollBudget, running_s: float, seed: int = 0) -> list[list[float]]:
    """Each of ``budget.jobs`` waits on its own virtual clock from the same start, its job RUNNING for
    ``running_s``: the call times (relative to the start) of the fleet, wait by wait."""
    fleet = []
    for index in range(budget.jobs):
        vclock = VirtualClock()
        done_at = vclock.start + running_s

        def job(now: float, done_at: float = done_at) -> dict[str, Any]:
            return description("SUCCEEDED" if now >= done_at else "RUNNING")

        client = ScriptedClient(vclock, [job])
        result = wait(client, vclock, budget=budget, seed=seed * 100_000 + index)
        assert result.outcome == "succeeded"
        fleet.append([t - vclock.start for t in client.calls])
    return fleet


def test_a_fleet_sharing_a_budget_stays_within_it_from_the_first_look() -> None:
    budget = pj.PollBudget(4.0, 100)
    running_s = 40 * 60.0
    fleet = _fleet_calls(budget, running_s)
    calls = sorted(t for wait_calls in fleet for t in wait_calls)
    # The first looks are spread over one share (25 s), not sent together.
    firsts = sorted(wait_calls[0] for wait_calls in fleet)
    assert 0.0 <= firsts[0] and firsts[-1] <= budget.share_s
    assert firsts[-1] - firsts[0] > budget.share_s / 2
    assert max(sum(1 for t in firsts if k <= t < k + 1) for k in range(25)) < 20
    # Over the whole wait, and in every minute of it, the fleet's rate stays within the budget.
    assert len(calls) / running_s <= budget.requests_per_second
    per_minute = [sum(1 for t in calls if k * 60 <= t < (k + 1) * 60) for k in range(int(running_s // 60))]
    assert max(per_minute) <= budget.requests_per_second * 60, per_minute
    # Each wait looks every share to 1.5 shares, and notices the end within one such interval.
    for wait_calls in fleet:
        gaps = [b - a for a, b in itertools.pairwise(wait_calls)]
        assert all(budget.share_s <= gap <= budget.share_s * pj.SHARE_JITTER for gap in gaps)
        assert running_s <= wait_calls[-1] <= running_s + budget.share_s * pj.SHARE_JITTER


def test_without_a_budget_the_same_fleet_would_offer_several_times_the_quota() -> None:
    # The reason the budget exists: 100 waits at POLL_INTERVAL_S alone make about 30 calls per second.
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description("RUNNING")] * 200 + [description("SUCCEEDED")])
    wait(client, vclock)
    assert 100 * len(client.calls) / (client.calls[-1] - client.calls[0]) > 5 * 5.0


def test_a_small_budgeted_fleet_looks_at_once_and_polls_at_the_normal_interval() -> None:
    budget = pj.PollBudget(4.0, 4)
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description("RUNNING")] * 5 + [description("SUCCEEDED")])
    result = wait(client, vclock, budget=budget)
    assert result.outcome == "succeeded"
    assert client.calls[0] == vclock.start, "a share of 1 s or less needs no stagger"
    assert all(pj.POLL_INTERVAL_S[0] <= s <= pj.POLL_INTERVAL_S[1] for s in vclock.sleeps)


def test_a_succeeded_job_in_a_large_fleet_is_answered_within_one_share() -> None:
    budget = pj.PollBudget(4.0, 100)
    starts = []
    for seed in range(20):
        vclock = VirtualClock()
        client = ScriptedClient(vclock, [description("SUCCEEDED")])
        result = wait(client, vclock, budget=budget, seed=seed)
        assert result.outcome == "succeeded" and result.api_calls == 1
        starts.append(client.calls[0] - vclock.start)
    assert all(0.0 <= start <= budget.share_s for start in starts)
    assert len(set(starts)) == len(starts), "each wait draws its own moment"


def test_a_continuation_does_not_stagger_its_first_look_again() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description("RUNNING"), description("SUCCEEDED")])
    result = wait(client, vclock, budget=pj.PollBudget(4.0, 100), first_call=False)
    assert result.outcome == "succeeded"
    assert client.calls[0] == vclock.start
    assert 25.0 <= vclock.sleeps[0] <= 37.5


@pytest.mark.parametrize("limit", ["deadline", "yield_at"])
def test_the_stagger_never_passes_the_deadline_or_the_hand_off(limit: str) -> None:
    vclock = VirtualClock()
    bound = vclock.start + 3.0
    client = ScriptedClient(vclock, [description("RUNNING")])
    for seed in range(10):
        vclock.t = vclock.start
        client.calls.clear()
        result = wait(client, vclock, budget=pj.PollBudget(1.0, 1000), seed=seed, **{limit: bound})
        assert client.calls and client.calls[0] <= bound
        assert result.outcome == ("timeout" if limit == "deadline" else "yield")
        assert result.api_calls == 1


def test_a_throttled_budgeted_wait_backs_off_beyond_its_share() -> None:
    budget = pj.PollBudget(4.0, 40)
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [throttle(), description("SUCCEEDED")])
    result = wait(client, vclock, budget=budget, first_call=False)
    assert result.outcome == "succeeded"
    # The share (10 s) stretched by one throttle's pressure: 20 to 30 s, well past the 1 to 2 s backoff.
    assert 2 * budget.share_s <= vclock.sleeps[0] <= 2 * budget.share_s * pj.SHARE_JITTER


def test_a_share_longer_than_the_pace_cap_is_still_respected() -> None:
    budget = pj.PollBudget(1.0, 100)
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [description("RUNNING")] * 3 + [description("SUCCEEDED")])
    wait(client, vclock, budget=budget, first_call=False)
    assert all(100.0 <= s <= 150.0 for s in vclock.sleeps), vclock.sleeps
