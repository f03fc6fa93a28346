"""job, the one implementation of a model packaging job: its status and attributes, a Describe's problems in the
job's own words, why a wait ended as it did, and wait_for_job through a client the fake API answers, in virtual time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from support import FakeLookoutVision, VirtualClock, answer, description, error, ok

from cdk_lookoutvision_packaging_handler import job
from cdk_lookoutvision_packaging_handler.contract import DATA_KEYS
from cdk_lookoutvision_packaging_handler.outbound import CallTimeoutError, MalformedResponseError, Wording, classify
from cdk_lookoutvision_packaging_handler.waiting import Schedule, Waited

P, J = "pcb", "v3"  # short names keep each expected sentence on a line or two
NO_PROJECT = error(404, "ResourceNotFoundException", "Project pcb not found", ResourceType="PROJECT")
NO_JOB = error(404, "ResourceNotFoundException", "Job not found", ResourceType="MODEL_PACKAGE_JOB")
BARE_404 = answer(404, {}, {"x-amzn-ErrorType": "ResourceNotFoundException"})  # no message, no ResourceType
CLI = Wording("--project-name", "--job-name", "--region")
DENIED = "Access denied describing model packaging job pcb/v3"
GRANT = 'grant lookoutvision:DescribeModelPackagingJob on Resource "*" to the caller, and check SCPs and permission'
STATUSES = ("CREATED", "RUNNING", "SUCCEEDED", "FAILED")
UNKNOWN = "Model packaging job pcb/v3 reported an unknown status"


def lookout(*steps: Any) -> tuple[FakeLookoutVision, VirtualClock]:
    """The fake API answering pcb/v3's Describe with ``steps``, its requests at the times of a new VirtualClock."""
    api, vclock = FakeLookoutVision(), VirtualClock()
    api.now = vclock.now
    api.script(P, J, steps)
    return api, vclock


def raised(step: Any) -> Exception:
    """What the product's client raises for a Describe answered ``step``."""
    with pytest.raises((ClientError, ParamValidationError)) as caught:
        lookout(step)[0].client().describe_model_packaging_job(ProjectName=P, JobName=J)
    return caught.value


@pytest.mark.parametrize(
    ("status", "phase"),
    [*zip(STATUSES, ("waiting", "waiting", "succeeded", "failed"), strict=True)]
    + [(status, "unknown") for status in ("STOPPED", "running", "", None)],
)
def test_classify_status(status: str | None, phase: str) -> None:
    assert job.classify_status(status) == phase


@pytest.mark.parametrize(
    ("output", "name"), [(None, ""), ({"Greengrass": None}, ""), ({"Greengrass": {"ComponentName": "c"}}, "c")]
)
def test_what_a_job_does_not_say_is_an_empty_string_and_no_greengrass_output(output: Any, name: str) -> None:
    desc = {**description("RUNNING"), "ModelPackagingOutputDetails": output, "LastUpdatedTimestamp": None}
    del desc["CreationTimestamp"], desc["ProjectName"]
    attributes = job.to_attributes(desc, "given", "ignored")
    named = (attributes["ProjectName"], attributes["JobName"], attributes["ComponentName"])
    assert named == ("given", "pcb-v3-x86", name)
    said = {"ProjectName", "JobName", "Status", "ModelVersion", *(["ComponentName"] if name else [])}
    assert [key for key in DATA_KEYS if not attributes[key]] == [key for key in DATA_KEYS if key not in said]
    assert list(attributes) == list(DATA_KEYS) and not job.has_greengrass_output(attributes)
    assert job.has_greengrass_output(job.to_attributes(description("SUCCEEDED")))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 29, 17, 30, 5, tzinfo=timezone(timedelta(hours=2))), "2026-11-29T15:30:05Z"),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-3))), "2027-01-01T02:59:59Z"),
        (datetime(2026, 11, 29, 15, 0, 0), "2026-11-29T15:00:00Z"),  # naive: taken as UTC
        (datetime(2026, 11, 29, 15, 0, 0, 999999, tzinfo=UTC), "2026-11-29T15:00:00Z"),
    ],
)
def test_timestamps_are_iso_utc_with_z(value: datetime, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # a naive timestamp is UTC, whatever the machine's time zone
    time.tzset()
    try:
        attributes = job.to_attributes({**description(), "CreationTimestamp": value, "LastUpdatedTimestamp": value})
    finally:
        monkeypatch.undo()
        time.tzset()
    assert attributes["CreationTimestamp"] == attributes["LastUpdatedTimestamp"] == expected


def test_describe_asks_for_the_job_and_a_response_without_its_description_is_malformed() -> None:
    release = threading.Event()
    api, _ = lookout(ok(description()), answer(200, {}), lambda: release.wait(5.0) and ok(description()))
    client = api.client()
    assert job.describe(client, P, J, 5.0) == description() and api.calls(P, J) == len(api.requests) == 1
    with pytest.raises(
        MalformedResponseError, match=r"^DescribeModelPackagingJob returned no ModelPackagingDescription$"
    ):
        job.describe(client, P, J, 5.0)
    with pytest.raises(CallTimeoutError, match=r"^DescribeModelPackagingJob did not complete within 0\.1 s$"):
        job.describe(client, P, J, 0.1)
    release.set()


def test_what_is_not_a_description_s_value_reads_as_text_or_nothing() -> None:
    assert job.to_attributes({}) == dict.fromkeys(DATA_KEYS, "")
    odd = {"ModelPackagingOutputDetails": {"Greengrass": "c"}, "CreationTimestamp": "yesterday", "Status": None}
    assert job.to_attributes(odd) == {**dict.fromkeys(DATA_KEYS, ""), "CreationTimestamp": "yesterday"}


# fmt: off
EXPLAINED = [
    (error(403, "AccessDeniedException", "no"), "us-east-1", None, f"{DENIED} in us-east-1: {GRANT} boundaries (no)"),
    (error(403, "Forbidden", "no"), "", None, f"{DENIED}: {GRANT} boundaries (no)"),
    (NO_PROJECT, "eu-west-1", None,
     "Lookout for Vision project 'pcb' does not exist in eu-west-1: check project_name (Project pcb not found)"),
    (NO_JOB, "", None, "Model packaging job 'v3' does not exist in project 'pcb': check job_name "
     "(ListModelPackagingJobs lists the project's jobs) (Job not found)"),
    (BARE_404, "", None,
     "Model packaging job pcb/v3 was not found: check project_name, job_name and the Region the stack deploys to"),
    (BARE_404, "", CLI, "Model packaging job pcb/v3 was not found: check --project-name, --job-name and --region"),
    (error(400, "ValidationException", "1 validation error"), "", None, "Lookout for Vision rejected the "
     "request for pcb/v3: 1 validation error. Check project_name and job_name against the naming rules"),
    # What is not about the job keeps the policy's words.
    (ParamValidationError(report="x"), "", None,
     "Cannot describe model packaging job pcb/v3: the request is invalid: Parameter validation failed: x"),
    (error(429, "ThrottlingException", "slow"), "", None, "ThrottlingException (429): slow"),
]
# fmt: on


@pytest.mark.parametrize(("answered", "region", "wording", "message"), EXPLAINED)
def test_a_describe_problem_says_what_to_fix_in_the_caller_s_terms(
    answered: Any, region: str, wording: Any, message: str
) -> None:
    call = job.describe_call(P, J, region, *([wording] if wording else []))
    assert job.explain(classify(raised(answered), call), call, P, J).message == message


@pytest.mark.parametrize(("answered", "missing"), [(NO_JOB, True), (BARE_404, True), (NO_PROJECT, False)])
def test_only_a_not_found_that_is_not_the_project_says_the_job_is_missing(answered: Any, missing: bool) -> None:
    assert job.job_missing(classify(raised(answered), job.describe_call(P, J))) == missing


# fmt: off
def test_the_reasons_name_the_job_and_what_to_change() -> None:
    assert job.failed_reason(P, J, "step 1 failed\nstep 2 skipped\r\n") == (
        "Model packaging job pcb/v3 FAILED: step 1 failed step 2 skipped")
    assert job.failed_reason(P, J, "") == "Model packaging job pcb/v3 FAILED: (no StatusMessage)"
    assert job.failed_reason(P, J, "denied\n", adopted=True) == (
        "Model packaging job pcb/v3 already existed with this configuration and was adopted; it FAILED earlier: "
        "denied. A packaging job never runs twice: to package again, give a new component_version (the default job "
        "name follows it) or a new job_name")
    assert job.timeout_reason("job pcb/v3", "last status RUNNING", 2700, remedy="Raise it") == (
        "Timed out after 45.0 minutes waiting for job pcb/v3; last status RUNNING. Raise it")
    assert job.timeout_reason("x", "last status unknown", 90, "ThrottlingException (429): slow", remedy="Wait") == (
        "Timed out after 1.5 minutes waiting for x; last status unknown; last error ThrottlingException (429): slow. "
        "Wait")
    assert job.timeout_reason("x", "y", 90, remedy="Z", waited="90 s") == "Timed out after 90 s waiting for x; y. Z"
    assert job.no_output_reason(P, J) == (
        "Model packaging job pcb/v3 SUCCEEDED but reported no Greengrass output details (ModelPackagingOutputDetails."
        "Greengrass.ComponentVersionArn is missing); only Greengrass packaging jobs can be gated")
# fmt: on


def wait(*steps: Any, visible_for_s: float | None = None, **kwargs: Any) -> tuple[Waited, list[float], list[float]]:
    """wait_for_job for pcb/v3 answered ``steps``: its result, when it looked (seconds from the start) and slept."""
    api, vclock = lookout(*steps)
    visible_by = None if visible_for_s is None else vclock.start + visible_for_s
    schedule = Schedule(vclock.start + 2700, vclock.clock())
    result = job.wait_for_job(api.client(), job.describe_call(P, J), P, J, schedule, visible_by=visible_by, **kwargs)
    return result, [request["at"] - vclock.start for request in api.requests], vclock.sleeps


@pytest.mark.parametrize(
    ("status", "wait_"), [("SUCCEEDED", True), ("FAILED", True)] + [(status, False) for status in STATUSES]
)
def test_one_look_decides_a_terminal_job_or_a_look_without_waiting(status: str, wait_: bool) -> None:
    result, looks, sleeps = wait(ok(description(status)), ok(description("RUNNING")), wait=wait_)
    outcome = "not_ready" if status in ("CREATED", "RUNNING") else status.lower()
    assert (result.outcome, result.status, result.description) == (outcome, status, description(status))
    assert (result.calls, looks, sleeps) == (1, [0.0], [])


def test_a_waiting_job_is_looked_at_until_it_ends_reporting_each_status_once() -> None:
    seen: list[str] = []
    steps = [*[ok(description("CREATED"))] * 2, *[ok(description("RUNNING"))] * 3, ok(description("SUCCEEDED"))]
    result, _, _ = wait(*steps, on_status=lambda status, desc: seen.append(desc["Status"]))
    assert (result.outcome, result.calls, seen) == ("succeeded", 6, ["CREATED", "RUNNING", "SUCCEEDED"])


NOT_VISIBLE = (
    "Model packaging job pcb/v3 was started but is not visible to DescribeModelPackagingJob after 60 s: rerun the "
    "deployment, which adopts the job once Lookout for Vision shows it"
)


@pytest.mark.parametrize(
    ("steps", "visible_for_s", "outcome", "message"),
    [
        ([ok(description("STOPPED"))], None, "error", f"{UNKNOWN} 'STOPPED'"),
        ([NO_PROJECT], None, "error", "Lookout for Vision project 'pcb' does not exist: check project_name"),
        ([NO_JOB], None, "error", "Model packaging job 'v3' does not exist in project 'pcb': check job_name"),
        # A job just started may not show yet: its 404 means "not yet" until visible_by, never for a missing project.
        ([NO_JOB, NO_JOB, NO_JOB, ok(description("SUCCEEDED"))], 60.0, "succeeded", None),
        ([NO_JOB], 60.0, "error", NOT_VISIBLE),
        ([NO_JOB, ok(description())], 0.0, "error", NOT_VISIBLE),
        ([NO_PROJECT], 60.0, "error", "Lookout for Vision project 'pcb' does not exist: check project_name"),
    ],
    ids="unknown-status no-project no-job visible-after-three-looks never-visible grace-over no-project-yet".split(),
)
def test_a_wait_that_cannot_go_on_ends_in_the_job_s_words_but_a_started_job_may_show_late(
    steps: list[Any], visible_for_s: float | None, outcome: str, message: str | None
) -> None:
    result, looks, _ = wait(*steps, visible_for_s=visible_for_s)
    assert result.outcome == outcome and (result.problem is None) == (message is None)
    assert result.problem is None or result.problem.message.startswith(str(message))
    assert result.calls == len(looks)
    if not visible_for_s:
        assert result.calls == 1
    if message == NOT_VISIBLE:
        assert looks[-1] >= float(visible_for_s or 0)


def test_a_status_nobody_knows_even_none_ends_the_wait_refused() -> None:
    result = wait(ok({k: v for k, v in description().items() if k != "Status"}))[0]
    problem = result.problem and (result.problem.kind, result.problem.code, result.problem.message)
    assert (result.outcome, problem) == ("error", ("refused", "UnknownStatus", f"{UNKNOWN} ''"))
