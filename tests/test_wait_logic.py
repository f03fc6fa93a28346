"""Unit tests of the pure logic: packaging_job (status, attributes, errors, the wait on a virtual clock) and
custom_resource (properties, decisions, continuation, the 4096-byte response, bounded delivery, log redaction)."""

from __future__ import annotations

import io
import itertools
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    UnknownServiceError,
)
from support import ResponseRecorder, VirtualClock, description, make_event, properties

from model_packaging_job import custom_resource as cr
from model_packaging_job import packaging_job as pj

PROJECT, JOB = "pcb", "pcb-v3-x86"
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


# --- helpers -------------------------------------------------------------------------------------------------------


Step = dict[str, Any] | BaseException | Callable[[float], dict[str, Any]]


class ScriptedClient:
    """Answers describe_model_packaging_job from a script; the last step repeats. A callable step gets the virtual
    time, so a job can change status at a given moment."""

    def __init__(self, vclock: VirtualClock, steps: list[Step]) -> None:
        self.vclock = vclock
        self.steps = list(steps)
        self.calls: list[float] = []
        self.params: list[dict[str, str]] = []

    def describe_model_packaging_job(self, **params: str) -> dict[str, Any]:
        self.calls.append(self.vclock.now())
        self.params.append(params)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        desc = step(self.vclock.now()) if callable(step) else step
        return {"ModelPackagingDescription": desc}


class Recorder(ResponseRecorder):
    """ResponseRecorder whose server notices shutdown within 20 ms."""

    def __enter__(self) -> Recorder:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self


def client_error(
    code: str, status: int, message: str = "something went wrong", headers: dict[str, str] | None = None, **extra: Any
) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
    }
    response.update(extra)
    return ClientError(response, "DescribeModelPackagingJob")


def throttle(retry_after: float | None = None) -> ClientError:
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
    assert len(pj.DATA_KEYS) == 10
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
    assert ISO_Z.fullmatch(attrs["CreationTimestamp"])


def test_to_attributes_missing_timestamps_are_empty() -> None:
    desc = description()
    del desc["CreationTimestamp"]
    desc["LastUpdatedTimestamp"] = None
    attrs = pj.to_attributes(desc)
    assert attrs["CreationTimestamp"] == ""
    assert attrs["LastUpdatedTimestamp"] == ""


# --- classify_error ------------------------------------------------------------------------------------------------


def test_access_denied_names_the_missing_action() -> None:
    problem = pj.classify_error(client_error("AccessDeniedException", 403, "not authorized"), PROJECT, JOB, "us-east-1")
    assert not problem.retryable
    assert "lookoutvision:DescribeModelPackagingJob" in problem.message
    assert "pcb/pcb-v3-x86" in problem.message
    assert "us-east-1" in problem.message
    assert "\n" not in problem.message


def test_plain_403_is_access_denied_too() -> None:
    problem = pj.classify_error(client_error("Forbidden", 403), PROJECT, JOB)
    assert not problem.retryable
    assert "lookoutvision:DescribeModelPackagingJob" in problem.message


def test_missing_project_says_to_fix_project_name() -> None:
    error = client_error(
        "ResourceNotFoundException", 404, "Project pcb not found", ResourceId=PROJECT, ResourceType="PROJECT"
    )
    problem = pj.classify_error(error, PROJECT, JOB, "eu-west-1")
    assert not problem.retryable
    assert "project 'pcb' does not exist" in problem.message
    assert "check project_name" in problem.message
    assert "check job_name" not in problem.message
    assert "eu-west-1" in problem.message


def test_missing_job_says_to_fix_job_name() -> None:
    error = client_error(
        "ResourceNotFoundException", 404, "Job not found", ResourceId=JOB, ResourceType="MODEL_PACKAGE_JOB"
    )
    problem = pj.classify_error(error, PROJECT, JOB)
    assert not problem.retryable
    assert "'pcb-v3-x86' does not exist in project 'pcb'" in problem.message
    assert "check job_name" in problem.message
    assert "check project_name" not in problem.message


def test_not_found_without_resource_type_names_both_and_the_region() -> None:
    problem = pj.classify_error(client_error("ResourceNotFoundException", 404), PROJECT, JOB)
    assert not problem.retryable
    assert "project_name" in problem.message
    assert "job_name" in problem.message
    assert "Region" in problem.message


def test_validation_exception_is_final_and_names_the_job() -> None:
    error = client_error("ValidationException", 400, "1 validation error detected: JobName")
    problem = pj.classify_error(error, PROJECT, JOB)
    assert not problem.retryable
    assert problem.code == "ValidationException"
    assert "pcb/pcb-v3-x86" in problem.message
    assert "1 validation error detected: JobName" in problem.message
    assert "naming rules" in problem.message


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
    header = client_error("ThrottlingException", 429, headers={"retry-after": "3"})
    assert pj.classify_error(header, PROJECT, JOB).retry_after_s == 3.0
    assert pj.classify_error(throttle(), PROJECT, JOB).retry_after_s is None
    garbage = client_error("ThrottlingException", 429, headers={"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert pj.classify_error(garbage, PROJECT, JOB).retry_after_s is None
    assert pj.classify_error(throttle(retry_after=100_000), PROJECT, JOB).retry_after_s is None


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        ConnectionClosedError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        ConnectionResetError("reset by peer"),
        TimeoutError("timed out"),
    ],
)
def test_connection_errors_are_retryable(error: BaseException) -> None:
    assert pj.classify_error(error, PROJECT, JOB).retryable


def test_missing_service_model_and_credentials_are_final_with_a_fix() -> None:
    unknown = pj.classify_error(
        UnknownServiceError(service_name="lookoutvision", known_service_names="s3"), PROJECT, JOB
    )
    assert not unknown.retryable
    assert "AWS_DATA_PATH" in unknown.message
    creds = pj.classify_error(NoCredentialsError(), PROJECT, JOB)
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
    with pytest.raises(EndpointConnectionError) as raised:
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
    error = EndpointConnectionError(endpoint_url="https://lookoutvision.eu-west-1.amazonaws.com/", error=temporary)
    assert pj.classify_error(error, PROJECT, JOB, "eu-west-1").retryable
    gone = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    error = EndpointConnectionError(endpoint_url="https://lookoutvision.eu-west-1.amazonaws.com/", error=gone)
    assert not pj.classify_error(error, PROJECT, JOB, "eu-west-1").retryable


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [(502, "Bad Gateway", "HTTP error (502): Bad Gateway"), (503, "", "HTTP error (503)")],
)
def test_an_error_without_a_code_reads_as_an_http_error(status: int, message: str, expected: str) -> None:
    problem = pj.classify_error(client_error("", status, message), PROJECT, JOB)
    assert problem.retryable
    assert problem.message == expected


def test_a_final_error_without_a_code_reads_as_an_http_error() -> None:
    problem = pj.classify_error(client_error("", 418, "I'm a teapot"), PROJECT, JOB)
    assert not problem.retryable
    assert problem.message.endswith("failed with HTTP error (418): I'm a teapot")


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
    steps: list[Step] = [description("CREATED")] * 2 + [description("RUNNING")] * 3 + [description("SUCCEEDED")]
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


def test_yield_before_yield_at() -> None:
    vclock = VirtualClock()
    yield_at = vclock.start + 30
    client = ScriptedClient(vclock, [description("RUNNING")])
    result = wait(client, vclock, yield_at=yield_at)
    assert result.outcome == "yield"
    assert result.status == "RUNNING"
    assert yield_at - 4.5 <= vclock.now() < yield_at
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
    assert "STOPPED" in result.problem.message
    assert result.api_calls == 1


def test_final_error_stops_after_one_call() -> None:
    vclock = VirtualClock()
    client = ScriptedClient(vclock, [client_error("AccessDeniedException", 403), description("SUCCEEDED")])
    result = wait(client, vclock)
    assert result.outcome == "error"
    assert result.api_calls == 1
    assert vclock.sleeps == []
    assert result.problem is not None
    assert "lookoutvision:DescribeModelPackagingJob" in result.reason_detail


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
    assert max(vclock.sleeps) <= max(pj.BACKOFF_CAP_S, pj.PACE_CAP_S)
    assert min(vclock.sleeps[4:]) >= pj.BACKOFF_CAP_S / 2
    assert [delay for _, delay in retries] == vclock.sleeps
    assert {code for code, _ in retries} == {"ThrottlingException"}


def test_throttling_pressure_outlives_a_success_and_then_relaxes() -> None:
    vclock = VirtualClock()
    steps: list[Step] = (
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
    steps: list[Step] = [client_error("InternalServerException", 500)] + [description("RUNNING")] * 5
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
    steps: list[Step] = [
        client_error("InternalServerException", 500),
        EndpointConnectionError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://lookoutvision.us-east-1.amazonaws.com"),
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
    decision = cr.decide(cr.JobProperties(PROJECT, JOB), result, vclock.now() - vclock.start)
    assert decision.status == cr.FAILED
    assert "last status unknown" in decision.reason
    assert "ThrottlingException" in decision.reason


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


def test_poll_budget_from_the_environment() -> None:
    assert cr.poll_budget({}) == (None, "")
    assert cr.poll_budget({"DESCRIBE_BUDGET_RPS": "2.5", "DESCRIBE_BUDGET_JOBS": "7"}) == (pj.PollBudget(2.5, 7), "")
    assert cr.poll_budget({"DESCRIBE_BUDGET_JOBS": "12"}) == (pj.PollBudget(4.0, 12), "")


@pytest.mark.parametrize("value", ["", "abc", "0", "-1", "inf", "nan", "1e9"])
def test_an_unusable_budget_rate_falls_back_to_the_default_and_says_so(value: str) -> None:
    budget, problem = cr.poll_budget({"DESCRIBE_BUDGET_RPS": value, "DESCRIBE_BUDGET_JOBS": "3"})
    assert budget == pj.PollBudget(pj.DEFAULT_DESCRIBE_BUDGET_RPS, 3)
    assert problem.startswith(f"DESCRIBE_BUDGET_RPS={value!r} is not a positive number; using 4")


@pytest.mark.parametrize("value", ["", "0", "x", "1.5", "-3", "99999999", "\u0663"])
def test_an_unusable_job_count_falls_back_to_one_job_and_says_so(value: str) -> None:
    budget, problem = cr.poll_budget({"DESCRIBE_BUDGET_RPS": "2", "DESCRIBE_BUDGET_JOBS": value})
    assert budget == pj.PollBudget(2.0, 1)
    assert f"DESCRIBE_BUDGET_JOBS={value!r} is not a job count" in problem


# --- parse_properties ----------------------------------------------------------------------------------------------


def props(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ServiceToken": "arn:aws:lambda:...", "ProjectName": PROJECT, "JobName": JOB}
    base.update(extra)
    return base


def test_parse_properties_defaults() -> None:
    parsed = cr.parse_properties(props())
    assert parsed == cr.JobProperties(PROJECT, JOB, True, 2700, None)
    assert parsed.physical_id == "pcb/pcb-v3-x86"


def test_parse_properties_accepts_cloudformation_service_timeout() -> None:
    assert cr.parse_properties(props(ServiceTimeout="3000")).job_name == JOB


@pytest.mark.parametrize("name", ["p", "pcb", "PCB_line-2", "0abc", "a" * 255, "a-_-_"])
def test_valid_project_names(name: str) -> None:
    assert cr.parse_properties(props(ProjectName=name)).project_name == name


@pytest.mark.parametrize("name", ["j", "pcb-v3-x86", "ABC-123", "a" * 64, "-leading-dash"])
def test_valid_job_names(name: str) -> None:
    assert cr.parse_properties(props(JobName=name)).job_name == name


@pytest.mark.parametrize("name", ["-pcb", "_pcb", "pcb line", "pcb/line", "pcb.v1", "pcb!"])
def test_invalid_project_name_shows_value_and_rule(name: str) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(ProjectName=name))
    message = str(info.value)
    assert "ProjectName" in message
    assert repr(name) in message
    assert r"[a-zA-Z0-9][a-zA-Z0-9_\-]*" in message


@pytest.mark.parametrize("name", ["pcb_v3", "pcb v3", "pcb.v3", "pcb/v3", "jöb"])
def test_invalid_job_name_shows_value_and_rule(name: str) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(JobName=name))
    message = str(info.value)
    assert "JobName" in message
    assert repr(name) in message
    assert "[a-zA-Z0-9-]+" in message


@pytest.mark.parametrize(
    ("key", "value", "length"), [("ProjectName", "", 0), ("ProjectName", "a" * 256, 256), ("JobName", "b" * 65, 65)]
)
def test_name_length_limits(key: str, value: str, length: int) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(**{key: value}))
    message = str(info.value)
    assert key in message
    assert f"{length} characters" in message
    shown = repr(value) if len(value) <= 80 else repr(value[:80] + "...")
    assert shown in message  # the value (or its start, when long) is shown


def test_non_string_name_is_rejected() -> None:
    with pytest.raises(cr.PropertyError, match="ProjectName must be a string"):
        cr.parse_properties(props(ProjectName=123))


@pytest.mark.parametrize("missing", ["ProjectName", "JobName"])
def test_missing_name_is_rejected(missing: str) -> None:
    given = props()
    del given[missing]
    with pytest.raises(cr.PropertyError, match=f"{missing} is required"):
        cr.parse_properties(given)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("True", True), ("FALSE", False), (True, True), (False, False)],
)
def test_wait_for_completion_values(value: object, expected: bool) -> None:
    assert cr.parse_properties(props(WaitForCompletion=value)).wait_for_completion is expected


@pytest.mark.parametrize("value", ["yes", "", "0", 1, None])
def test_wait_for_completion_rejects_other_values(value: object) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(WaitForCompletion=value))
    assert "WaitForCompletion" in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(("value", "expected"), [("60", 60), (60, 60), ("3300", 3300), (3300, 3300), ("900", 900)])
def test_wait_timeout_seconds_bounds_accepted(value: object, expected: int) -> None:
    assert cr.parse_properties(props(WaitTimeoutSeconds=value)).wait_timeout_s == expected


@pytest.mark.parametrize("value", [59, "59", 3301, "3301", 0, "0"])
def test_wait_timeout_seconds_out_of_bounds(value: object) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(WaitTimeoutSeconds=value))
    message = str(info.value)
    assert "WaitTimeoutSeconds" in message
    assert str(int(value)) in message
    assert "60..3300" in message


@pytest.mark.parametrize("value", ["abc", "1.5", "-60", 60.0, True, None, ""])
def test_wait_timeout_seconds_must_be_whole_seconds(value: object) -> None:
    with pytest.raises(cr.PropertyError, match="WaitTimeoutSeconds must be a whole number of seconds"):
        cr.parse_properties(props(WaitTimeoutSeconds=value))


def test_unknown_property_is_rejected_by_name() -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(Colour="blue"))
    message = str(info.value)
    assert "'Colour'" in message
    assert "ProjectName" in message  # lists what is supported


def test_properties_must_be_an_object() -> None:
    with pytest.raises(cr.PropertyError, match="must be an object"):
        cr.parse_properties(["ProjectName"])
    with pytest.raises(cr.PropertyError):
        cr.parse_properties(None)


@pytest.mark.parametrize("name", ["com.example.pcb-defects", "a", "A_b.c-d", "x" * 128])
def test_expected_component_name_valid(name: str) -> None:
    assert cr.parse_properties(props(ExpectedComponentName=name)).expected_component_name == name


@pytest.mark.parametrize("name", ["com example", "com/example", "", "x" * 129, "comp:1"])
def test_expected_component_name_invalid(name: str) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(ExpectedComponentName=name))
    message = str(info.value)
    assert message.startswith("ExpectedComponentName")
    assert "[a-zA-Z0-9._-]+" in message


# --- decide --------------------------------------------------------------------------------------------------------


def result_of(outcome: pj.Outcome, desc: dict[str, Any] | None, **kwargs: Any) -> pj.WaitResult:
    return pj.WaitResult(outcome=outcome, description=desc, status=(desc or {}).get("Status", ""), **kwargs)


JOB_PROPS = cr.JobProperties(PROJECT, JOB)


def test_decide_succeeded() -> None:
    decision = cr.decide(JOB_PROPS, result_of("succeeded", description("SUCCEEDED")), 0.2)
    assert decision.status == cr.SUCCESS
    assert decision.reason == ""
    assert list(decision.data) == list(pj.DATA_KEYS)
    assert decision.data["ComponentVersionArn"].startswith("arn:aws:greengrass:")


def test_decide_failed_reason_is_exact() -> None:
    desc = description("FAILED", status_message="Greengrass component creation failed: bucket not found")
    decision = cr.decide(JOB_PROPS, result_of("failed", desc), 1.0)
    assert decision.status == cr.FAILED
    assert (
        decision.reason
        == "Model packaging job pcb/pcb-v3-x86 FAILED: Greengrass component creation failed: bucket not found"
    )
    assert decision.data["Status"] == "FAILED"


def test_decide_timeout_names_project_job_status_and_minutes() -> None:
    result = result_of("timeout", description("RUNNING"))
    decision = cr.decide(JOB_PROPS, result, 45 * 60)
    assert decision.status == cr.FAILED
    assert "pcb/pcb-v3-x86" in decision.reason
    assert "last status RUNNING" in decision.reason
    assert "45.0 minutes" in decision.reason
    assert "Traceback" not in decision.reason


def test_decide_timeout_before_any_description() -> None:
    decision = cr.decide(JOB_PROPS, result_of("timeout", None, last_error="ThrottlingException (429): slow"), 90)
    assert decision.status == cr.FAILED
    assert "1.5 minutes" in decision.reason
    assert "last status unknown" in decision.reason
    assert decision.data["ProjectName"] == PROJECT
    assert decision.data["JobName"] == JOB
    assert list(decision.data) == list(pj.DATA_KEYS)


def test_decide_error_uses_the_problem_message() -> None:
    problem = pj.ApiProblem(False, "AccessDeniedException", "grant lookoutvision:DescribeModelPackagingJob")
    decision = cr.decide(JOB_PROPS, result_of("error", None, problem=problem), 0.1)
    assert decision.status == cr.FAILED
    assert decision.reason == "grant lookoutvision:DescribeModelPackagingJob"
    assert list(decision.data) == list(pj.DATA_KEYS)


def test_decide_succeeded_without_greengrass_output_fails() -> None:
    decision = cr.decide(JOB_PROPS, result_of("succeeded", description("SUCCEEDED", with_output=False)), 0.1)
    assert decision.status == cr.FAILED
    assert "pcb/pcb-v3-x86" in decision.reason
    assert "no Greengrass output" in decision.reason


def test_decide_succeeded_with_partial_output_fails() -> None:
    desc = description("SUCCEEDED")
    del desc["ModelPackagingOutputDetails"]["Greengrass"]["ComponentVersionArn"]
    assert cr.decide(JOB_PROPS, result_of("succeeded", desc), 0.1).status == cr.FAILED


def test_decide_expected_component_mismatch_fails() -> None:
    job_props = cr.JobProperties(PROJECT, JOB, expected_component_name="com.example.other")
    desc = description("SUCCEEDED", component_name="com.example.pcb-defects")
    decision = cr.decide(job_props, result_of("succeeded", desc), 0.1)
    assert decision.status == cr.FAILED
    assert "'com.example.pcb-defects'" in decision.reason
    assert "'com.example.other'" in decision.reason


def test_decide_expected_component_match_succeeds() -> None:
    job_props = cr.JobProperties(PROJECT, JOB, expected_component_name="com.example.pcb-defects")
    decision = cr.decide(job_props, result_of("succeeded", description("SUCCEEDED")), 0.1)
    assert decision.status == cr.SUCCESS
    assert decision.data["ComponentName"] == "com.example.pcb-defects"


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("failed", "FAILED"), ("not_ready", "RUNNING"), ("not_ready", "CREATED"), ("succeeded", "SUCCEEDED")],
)
def test_decide_without_waiting_never_fails_on_the_job_status(outcome: pj.Outcome, status: str) -> None:
    job_props = cr.JobProperties(PROJECT, JOB, wait_for_completion=False)
    desc = description(status, status_message="boom" if status == "FAILED" else None)
    decision = cr.decide(job_props, result_of(outcome, desc), 0.1)
    assert decision.status == cr.SUCCESS
    assert decision.reason == ""
    assert decision.data["Status"] == status


def test_decide_without_waiting_still_fails_on_api_errors() -> None:
    job_props = cr.JobProperties(PROJECT, JOB, wait_for_completion=False)
    problem = pj.ApiProblem(False, "ValidationException", "rejected")
    assert cr.decide(job_props, result_of("error", None, problem=problem), 0.1).status == cr.FAILED


def test_decide_yield_is_never_success() -> None:
    assert cr.decide(JOB_PROPS, result_of("yield", description("RUNNING")), 1).status == cr.FAILED


# --- continuation --------------------------------------------------------------------------------------------------


def test_wait_state_starts_fresh_without_a_continuation() -> None:
    assert cr.wait_state(make_event(), 123.0, JOB_PROPS) == cr.WaitState(123.0, 1)


def test_continuation_event_carries_the_request_the_wait_and_its_pace() -> None:
    event = make_event()
    state = cr.WaitState(100.0, 1)
    forwarded = cr.continuation_event(event, state, 160.5)
    assert forwarded[cr.CONTINUATION_KEY] == {"StartedAt": 100.0, "Invocation": 2, "NextLookAt": 160.5}
    assert {k: v for k, v in forwarded.items() if k != cr.CONTINUATION_KEY} == event
    assert cr.CONTINUATION_KEY not in event
    # The next invocation reads the state back, and a further hand-off keeps the start and counts on.
    resumed = cr.wait_state(json.loads(json.dumps(forwarded)), 160.0, JOB_PROPS)
    assert resumed == cr.WaitState(100.0, 2, 160.5)
    again = cr.continuation_event(forwarded, resumed, None)
    assert again[cr.CONTINUATION_KEY] == {"StartedAt": 100.0, "Invocation": 3}


NOW = 10_000.0


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("x", "must be an object"),
        ({"StartedAt": "9990", "Invocation": 2}, "StartedAt must be a number"),
        ({"StartedAt": True, "Invocation": 2}, "StartedAt must be a number"),
        ({"StartedAt": 9990.0}, "Invocation must be a whole number"),
        ({"StartedAt": 9990.0, "Invocation": 2.0}, "Invocation must be a whole number"),
        ({"StartedAt": 9990.0, "Invocation": 1}, "Invocation must be a whole number"),
        ({"StartedAt": 9990.0, "Invocation": 101}, "Invocation must be a whole number"),
        ({"StartedAt": NOW + 3600, "Invocation": 2}, "-3600.0 s before this invocation"),
        ({"StartedAt": 1e300, "Invocation": 2}, "s before this invocation"),
        ({"StartedAt": 0, "Invocation": 2}, "10000.0 s before this invocation"),
        ({"StartedAt": NOW - 3601, "Invocation": 2}, "between 0 and 3600 s"),
        ({"StartedAt": 10**400, "Invocation": 2}, "is not a finite time"),
        ({"StartedAt": float("nan"), "Invocation": 2}, "is not a finite time"),
        ({"StartedAt": 9990.0, "Invocation": 2, "NextLookAt": "soon"}, "NextLookAt must be a number"),
        ({"StartedAt": 9990.0, "Invocation": 2, "NextLookAt": 9000.0}, "NextLookAt 9000.0 lies outside the wait"),
    ],
)
def test_a_malformed_or_impossible_wait_state_is_refused(raw: object, says: str) -> None:
    event = make_event()
    event[cr.CONTINUATION_KEY] = raw
    with pytest.raises(cr.StateError, match=re.escape(says)):
        cr.wait_state(event, NOW, JOB_PROPS)


def test_the_window_for_a_continuation_is_the_service_timeout_of_the_request() -> None:
    event = make_event()
    event[cr.CONTINUATION_KEY] = {"StartedAt": NOW - 400, "Invocation": 2}
    short = cr.JobProperties(PROJECT, JOB, service_timeout_s=300)
    with pytest.raises(cr.StateError, match="between 0 and 300 s"):
        cr.wait_state(event, NOW, short)
    assert cr.wait_state(event, NOW, JOB_PROPS) == cr.WaitState(NOW - 400, 2)
    # A start a moment ahead of this host's clock is clock skew, not a forged state.
    event[cr.CONTINUATION_KEY] = {"StartedAt": NOW + 2, "Invocation": 2}
    assert cr.wait_state(event, NOW, JOB_PROPS).started_at == NOW + 2


def test_the_wait_ends_before_cloudformation_s_service_timeout() -> None:
    state = cr.WaitState(1000.0, 1)
    # As the construct synthesizes a no-wait resource: ServiceTimeout 300 s, WaitTimeoutSeconds 45 minutes.
    no_wait = cr.JobProperties(PROJECT, JOB, wait_for_completion=False, service_timeout_s=300)
    deadline, yield_at = cr.wait_window(no_wait, state, 1000.0, 900.0)
    assert deadline == 1000.0 + 300 - cr.SERVICE_TIMEOUT_MARGIN_S
    assert yield_at == 1000.0 + 900.0 - cr.HANDOFF_MARGIN_S
    # As the construct synthesizes a waiting one: ServiceTimeout = wait_timeout + 5 minutes: wait_timeout decides.
    waiting = cr.JobProperties(PROJECT, JOB, wait_timeout_s=1800, service_timeout_s=2100)
    assert cr.wait_window(waiting, state, 1000.0, 900.0)[0] == 1000.0 + 1800
    # Without a ServiceTimeout, CloudFormation waits 3600 s.
    longest = cr.JobProperties(PROJECT, JOB, wait_timeout_s=cr.MAX_WAIT_TIMEOUT_S)
    assert cr.wait_window(longest, state, 1000.0, 900.0)[0] == 1000.0 + cr.MAX_WAIT_TIMEOUT_S


def test_the_service_timeout_comes_from_cloudformation_s_property() -> None:
    assert cr.parse_properties(properties(ServiceTimeout="300")).answer_within_s == 300
    assert cr.parse_properties(properties()).answer_within_s == cr.MAX_SERVICE_TIMEOUT_S


@pytest.mark.parametrize("value", ["0", "3601", "soon", True])
def test_a_service_timeout_cloudformation_would_not_send_counts_as_none(value: object) -> None:
    assert cr.parse_properties(properties(ServiceTimeout=value)).answer_within_s == cr.MAX_SERVICE_TIMEOUT_S


def test_decide_names_the_service_timeout_when_a_no_wait_look_never_succeeded() -> None:
    no_wait = cr.JobProperties(PROJECT, JOB, wait_for_completion=False, service_timeout_s=300)
    result = result_of("timeout", None, last_error="ServiceUnavailableException (503): Unavailable")
    decision = cr.decide(no_wait, result, 240.0)
    assert decision.status == cr.FAILED
    assert decision.reason == (
        "Could not describe model packaging job pcb/pcb-v3-x86 in 4.0 minutes, before CloudFormation's "
        "ServiceTimeout of 300 s; last error ServiceUnavailableException (503): Unavailable. Rerun the deployment "
        "when Lookout for Vision answers again"
    )


# --- encode_response -----------------------------------------------------------------------------------------------

HEAVY_TEXTS = {
    "ascii": "x" * 50_000,
    "cjk": "名" * 6_000,
    "emoji": "\U0001f600" * 3_000,
    "mixed-emoji": "a\U0001f600" * 3_000,
    "controls": "\x00\x01\x1f" * 3_000,
    "escapes": '"\\\n\t' * 5_000,
    "unpaired-surrogates": "\ud800" * 3_000,
}


def failed_body(message: str, **overrides: Any) -> dict[str, Any]:
    data = pj.to_attributes(description("FAILED", status_message=message))
    body = cr.build_response(make_event(), cr.FAILED, pj.failed_reason(PROJECT, JOB, message), "pcb/pcb-v3-x86", data)
    body.update(overrides)
    return body


def test_small_body_is_encoded_unchanged() -> None:
    body = failed_body("bucket not found")
    encoded = cr.encode_response(body)
    assert json.loads(encoded) == body
    assert encoded == json.dumps(body, separators=(",", ":")).encode()


@pytest.mark.parametrize("name", sorted(HEAVY_TEXTS))
def test_heavy_status_message_and_reason_fit_and_keep_the_reason_start(name: str) -> None:
    text = HEAVY_TEXTS[name]
    encoded = cr.encode_response(failed_body(text))
    assert len(encoded) <= cr.MAX_RESPONSE_BYTES
    parsed = json.loads(encoded)
    assert parsed["Status"] == cr.FAILED
    assert parsed["Reason"].startswith("Model packaging job pcb/pcb-v3-x86 FAILED:")
    assert parsed["PhysicalResourceId"] == "pcb/pcb-v3-x86"
    assert set(parsed["Data"]) == set(pj.DATA_KEYS)


def test_the_reason_carries_no_control_characters() -> None:
    message = "model\x00 failed\x1b[31m at\x07 step\r\n2\x7f\x85!"
    body = cr.build_response(make_event(), cr.FAILED, pj.failed_reason(PROJECT, JOB, message), "pcb/pcb-v3-x86", {})
    assert body["Reason"] == "Model packaging job pcb/pcb-v3-x86 FAILED: model failed [31m at step 2 !"
    # Printable text outside ASCII stays as the job wrote it.
    unicode = cr.build_response(make_event(), cr.FAILED, "Modell für Prüfstand ✓", "x", {})
    assert unicode["Reason"] == "Modell für Prüfstand ✓"


@pytest.mark.parametrize("name", sorted(HEAVY_TEXTS))
def test_shortening_does_not_discard_much_more_than_needed(name: str) -> None:
    encoded = cr.encode_response(failed_body(HEAVY_TEXTS[name]))
    # Inputs many times the limit must still use most of it: the cut is a trim, not a wipe.
    assert len(encoded) >= 0.75 * cr.MAX_RESPONSE_BYTES, (name, len(encoded), json.loads(encoded)["Reason"][:80])


def test_huge_status_message_on_success_keeps_success_and_every_key() -> None:
    data = pj.to_attributes(description("SUCCEEDED", status_message="y" * 100_000))
    body = cr.build_response(make_event(), cr.SUCCESS, "", "pcb/pcb-v3-x86", data)
    encoded = cr.encode_response(body)
    assert len(encoded) <= cr.MAX_RESPONSE_BYTES
    parsed = json.loads(encoded)
    assert parsed["Status"] == cr.SUCCESS
    assert list(parsed["Data"]) == list(pj.DATA_KEYS)
    assert parsed["Data"]["ComponentVersionArn"] == data["ComponentVersionArn"]
    assert parsed["Data"]["StatusMessage"].startswith("yyyy")
    assert parsed["Data"]["StatusMessage"].endswith("(truncated)")


def test_huge_reason_alone_is_cut_keeping_its_start() -> None:
    reason = "Timed out waiting for pcb/pcb-v3-x86 " + "z" * 20_000
    body = failed_body("short", Reason=reason)
    parsed = json.loads(cr.encode_response(body))
    assert parsed["Reason"].startswith("Timed out waiting for pcb/pcb-v3-x86 zzz")
    assert len(parsed["Reason"]) <= cr.MAX_REASON_CHARS
    assert parsed["Data"]["StatusMessage"] == "short"


def test_seeded_random_inputs_always_fit_as_valid_json() -> None:
    rng = random.Random(20261129)
    alphabet = ["a", "Z", "0", " ", '"', "\\", "\n", "\x00", "\x7f", "é", "名", "\u2028", "\U0001f600", "\ud83d"]
    for _ in range(150):
        message = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6000)))
        reason = pj.failed_reason(PROJECT, JOB, message) if rng.random() < 0.8 else ""
        body = failed_body(message, Reason=reason)
        encoded = cr.encode_response(body)
        assert len(encoded) <= cr.MAX_RESPONSE_BYTES
        parsed = json.loads(encoded)
        assert set(parsed) == {
            "Status",
            "Reason",
            "PhysicalResourceId",
            "StackId",
            "RequestId",
            "LogicalResourceId",
            "NoEcho",
            "Data",
        }
        if reason:
            assert parsed["Reason"].startswith("Model packaging job pcb/pcb-v3-x86 FAILED: ")


def test_absurd_identifiers_still_fit_as_a_failed_answer() -> None:
    body = failed_body("m", LogicalResourceId="L" * 10_000, PhysicalResourceId="P" * 10_000)
    encoded = cr.encode_response(body)
    assert len(encoded) <= cr.MAX_RESPONSE_BYTES
    parsed = json.loads(encoded)
    assert parsed["Status"] == cr.FAILED
    assert parsed["Reason"]


# --- send_response -------------------------------------------------------------------------------------------------


def test_send_response_delivers_once_with_an_empty_content_type() -> None:
    body = cr.encode_response(failed_body("x"))
    with Recorder() as recorder:
        assert cr.send_response(recorder.url, body, deadline=time.monotonic() + 10) is True
        assert recorder.raw == [body]
        assert recorder.attempts == 1
        assert recorder.headers[0].get("Content-Type") == ""
        assert "X-Amz-Signature=" in recorder.paths[0]


def test_send_response_retries_server_errors() -> None:
    pauses: list[float] = []
    with Recorder(fail_first=2) as recorder:
        ok = cr.send_response(recorder.url, b"{}", deadline=time.monotonic() + 30, sleep=pauses.append)
        assert ok is True
        assert recorder.attempts == 3
        assert recorder.raw == [b"{}"]
    assert len(pauses) == 2
    assert pauses[0] < pauses[1]


def test_send_response_gives_up_at_the_deadline() -> None:
    with Recorder(always_fail=True) as recorder:
        started = time.monotonic()
        ok = cr.send_response(recorder.url, b"{}", deadline=started + 2.0)
        elapsed = time.monotonic() - started
        assert ok is False
        assert recorder.attempts >= 2
        assert recorder.bodies == []
    assert elapsed <= 3.0


@pytest.mark.parametrize("bad", [" a space", "\x00nul", "\x7fdel"])
def test_send_response_gives_up_at_once_on_a_url_http_client_refuses(bad: str) -> None:
    pauses: list[float] = []
    with ResponseRecorder() as recorder:
        url = recorder.url.replace("/cloudformation-custom-resource", f"/{bad}/cloudformation-custom-resource")
        assert cr.send_response(url, b"{}", deadline=time.monotonic() + 45, sleep=pauses.append) is False
        assert recorder.attempts == 0
    assert pauses == [], "a URL that http.client refuses will not work on a retry"


def test_send_response_gives_up_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    assert cr.send_response(f"http://127.0.0.1:{port}/r?X-Amz-Signature=ab", b"{}", deadline=started + 1.0) is False
    assert time.monotonic() - started <= 2.0


def test_send_response_does_not_retry_a_client_error() -> None:
    hits: list[str] = []

    class Refuse(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hits.append(self.path)
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/expired?X-Amz-Signature=00"
        started = time.monotonic()
        assert cr.send_response(url, b"{}", deadline=started + 30) is False
        assert time.monotonic() - started < 5
        assert len(hits) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_send_response_with_an_expired_deadline_makes_no_attempt() -> None:
    with Recorder() as recorder:
        assert cr.send_response(recorder.url, b"{}", deadline=time.monotonic() - 1) is False
        assert recorder.attempts == 0


@pytest.mark.parametrize("url", [None, 42, "", "not a url", "ftp://example.com/x", "file:///etc/passwd", "http://"])
def test_send_response_rejects_unusable_urls_without_raising(url: object) -> None:
    assert cr.send_response(url, b"{}", deadline=time.monotonic() + 1) is False


# --- redaction -----------------------------------------------------------------------------------------------------

PRESIGNED = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation%3A"
    "us-east-1%3A123456789012%3Astack/S/x%7CJob%7Cid?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T160000Z"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)
LEGACY = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?AWSAccessKeyId=AKIA&Expires=1&Signature=abc%3D"


@pytest.mark.parametrize(
    "text",
    [
        f"PUT to {PRESIGNED} failed",
        f"url={PRESIGNED}",
        json.dumps({"ResponseURL": PRESIGNED, "RequestType": "Create"}),
        str({"ResponseURL": PRESIGNED, "RequestType": "Create"}),
        f"sending to {LEGACY}",
    ],
)
def test_redact_removes_presigned_urls(text: str) -> None:
    clean = cr.redact(text)
    assert "X-Amz-Signature" not in clean
    assert "Signature=" not in clean
    assert "0123456789abcdef0123456789abcdef" not in clean
    assert "amazonaws.com/" not in clean


def test_redact_removes_a_response_url_value_even_without_a_signature() -> None:
    clean = cr.redact(json.dumps({"ResponseURL": "http://127.0.0.1:8080/secret-path", "RequestId": "r-1"}))
    assert "secret-path" not in clean
    assert "r-1" in clean
    assert "ResponseURL" in clean


@pytest.mark.parametrize("form", ["raw", "repr", "json", "dict"])
def test_redact_finds_the_signature_whatever_quotes_surround_the_url(form: str) -> None:
    url = 'https://cfn.s3.amazonaws.com/arn%3Astack/it\'s-a-"quoted"-stack?' + PRESIGNED.split("?", 1)[1]
    text = {
        "raw": f"PUT {url}",
        "repr": repr(url),
        "json": json.dumps({"ResponseURL": url}),
        "dict": str({"RequestType": "Create", "ResponseURL": url}),
    }[form]
    for clean in (cr.redact(text), cr.redact(text, cr.secret_forms(url))):
        assert "0123456789abcdef0123456789abcdef" not in clean, clean
        assert "AKIAEXAMPLE" not in clean, clean
        assert "X-Amz-Signature" not in clean and "X-Amz-Credential" not in clean, clean
    # Told the request's URL, it leaves none of it, path included.
    assert "quoted" not in cr.redact(text, cr.secret_forms(url))


def test_redact_removes_a_security_token_parameter() -> None:
    text = "PUT https://h/p?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Ftoken&X-Amz-Date=1"
    assert "IQoJb3JpZ2luX2VjEXAMPLE" not in cr.redact(text)


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "Model packaging job pcb/pcb-v3-x86 FAILED: see https://docs.aws.amazon.com/lookout-for-vision/"
    assert cr.redact(text) == text


def test_redacting_filter_scrubs_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(cr.RedactingFilter())
    log = logging.getLogger("test_wait_logic.redaction")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        log.info("answering %s now", PRESIGNED)
        log.info("event %s", {"ResponseURL": PRESIGNED})
        try:
            raise RuntimeError(f"could not reach {PRESIGNED}")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    output = stream.getvalue()
    assert "answering" in output
    assert "RuntimeError" in output
    assert "X-Amz-Signature" not in output
    assert "0123456789abcdef0123456789abcdef" not in output


def test_install_redaction_attaches_one_filter_per_handler() -> None:
    root = logging.Logger("isolated-root")
    first, second = logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO())
    root.addHandler(first)
    root.addHandler(second)
    cr.install_redaction(root)
    cr.install_redaction(root)
    for handler in (first, second):
        assert sum(isinstance(f, cr.RedactingFilter) for f in handler.filters) == 1
