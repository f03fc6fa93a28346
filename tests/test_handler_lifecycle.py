"""The handler in process over real HTTP, through a job's whole life: starting it, seeing it appear, waiting for it
and for its Greengrass component, and what the answer says when any of that goes wrong.

Each test drives ``index.make_handler`` with the product's own clients pointed at the loopback Lookout for Vision and
Greengrass fakes, on a virtual clock, and checks the one answer CloudFormation receives: its status, what its reason
names, its physical id, and how many calls the services saw.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support import (
    COMPONENT_ARN,
    NOT_FOUND,
    FakeContext,
    FakeGreengrass,
    FakeLookoutVision,
    ResponseRecorder,
    Step,
    VirtualClock,
    component_arn,
    description,
    error,
    make_event,
    ok,
    packaged,
    properties,
)

from model_packaging_job import contract, index

PROJECT, JOB = "pcb", "pcb-v3-x86"
COMPONENT = "com.example.pcb-defects"
STARTED_JOB = contract.default_job_name(COMPONENT, "3.0.0")
STARTED_ID = f"{PROJECT}/{STARTED_JOB}"
STARTED_ARN = component_arn(COMPONENT, "3.0.0")
GREENGRASS = {
    "ComponentName": COMPONENT,
    "ComponentVersion": "3.0.0",
    "TargetDevice": "jetson_xavier",
    "S3OutputLocation": {"Bucket": "pcb-lookoutvision-models", "Prefix": "lookoutvision/pcb/"},
}
THROTTLED = error(429, "ThrottlingException", "Rate exceeded")


def packaging_props(greengrass: dict[str, Any] | None = None, /, **extra: Any) -> dict[str, Any]:
    """ResourceProperties of a resource that starts its job; a None in ``greengrass`` drops that key."""
    config = {k: v for k, v in {**GREENGRASS, **(greengrass or {})}.items() if v is not None}
    packaging = {"ModelVersion": "3", "Configuration": {"Greengrass": config}}
    return properties(job=STARTED_JOB, Packaging=packaging, **extra)


def started_job(status: str = "SUCCEEDED", status_message: str | None = None) -> dict[str, Any]:
    """The description of the job ``packaging_props()`` starts."""
    request = {"ProjectName": PROJECT, "JobName": STARTED_JOB, "ModelVersion": "3"}
    desc = packaged({**request, "Configuration": {"Greengrass": GREENGRASS}}, status)
    if status_message is not None:
        desc["StatusMessage"] = status_message
    return desc


def job_not_visible(job: str = STARTED_JOB) -> Step:
    """Describe's answer for a job it does not know (yet)."""
    return error(404, NOT_FOUND, f"Job {job} not found", ResourceId=job, ResourceType="MODEL_PACKAGE_JOB")


class NoHandOff:
    """The Lambda client: records an Invoke that would hand the wait on; none of these waits should need one."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations.append(kwargs)
        return {"StatusCode": 202}


class Gate:
    """One handler made by the product's factory, on its own virtual clock."""

    def __init__(self, lookoutvision: Any, greengrass: Any) -> None:
        self.vclock = VirtualClock(time.time())
        self.lam = NoHandOff()
        self.handler = index.make_handler(
            lookoutvision=lookoutvision,
            greengrass=greengrass,
            lambda_client=self.lam,
            clock=self.vclock.clock(),
            environ={},
        )

    def __call__(self, event: dict[str, Any], timeout_s: float = 900.0, limit_s: float = 20.0) -> None:
        """Invoke the handler in a thread, so that a hang fails the test."""
        worker = threading.Thread(target=self.handler, args=(event, FakeContext(timeout_s)), daemon=True)
        worker.start()
        worker.join(limit_s)
        assert not worker.is_alive(), f"the handler was still running after {limit_s} s"


@pytest.fixture(scope="module")
def api_server() -> Iterator[FakeLookoutVision]:
    with FakeLookoutVision() as fake:
        yield fake


@pytest.fixture(scope="module")
def greengrass_server() -> Iterator[FakeGreengrass]:
    with FakeGreengrass() as fake:
        yield fake


@pytest.fixture
def api(api_server: FakeLookoutVision) -> FakeLookoutVision:
    """The loopback API: project pcb exists without jobs; a started job is CREATED, then SUCCEEDED."""
    for state in (api_server.scripts, api_server.projects, api_server.requests, api_server.starts):
        state.clear()
    api_server.started.clear()
    api_server.refusals.clear()
    api_server.refuse_start = None
    api_server.projects.add(PROJECT)
    api_server.after_start = lambda request: [ok(packaged(request, "CREATED")), ok(packaged(request))]
    return api_server


@pytest.fixture
def gg(greengrass_server: FakeGreengrass) -> FakeGreengrass:
    greengrass_server.scripts.clear()
    greengrass_server.requests.clear()
    return greengrass_server


@pytest.fixture
def gate(api: FakeLookoutVision, gg: FakeGreengrass) -> Gate:
    return Gate(
        index.make_lookoutvision_client(endpoint_url=api.url), index.make_greengrass_client(endpoint_url=gg.url)
    )


@pytest.fixture
def recorder() -> Iterator[ResponseRecorder]:
    with ResponseRecorder() as rec:
        yield rec


def event_for(recorder: ResponseRecorder, props: dict[str, Any]) -> dict[str, Any]:
    return make_event("Create", response_url=recorder.url, props=props)


# --- a started job that Describe does not show yet -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hidden_looks", "status", "fragments"),
    [(3, "SUCCESS", ()), (None, "FAILED", ("not visible",))],
    ids=["visible-after-three-looks", "never-visible"],
)
def test_a_job_this_request_started_is_waited_for_while_describe_does_not_show_it_yet(
    gate: Gate,
    api: FakeLookoutVision,
    gg: FakeGreengrass,
    recorder: ResponseRecorder,
    hidden_looks: int | None,
    status: str,
    fragments: tuple[str, ...],
) -> None:
    # Describe lags behind Start: a 404 for the job just started means "not yet", not "no such job". A job that never
    # shows fails after a grace period, saying it is not visible, not blaming the job name the stack chose.
    def after_start(request: dict[str, Any]) -> list[Step]:
        if hidden_looks is None:
            return [job_not_visible()]
        return [*[job_not_visible()] * hidden_looks, ok(packaged(request, "RUNNING")), ok(packaged(request))]

    api.after_start = after_start
    gg.script(STARTED_ARN, ["DEPLOYABLE"])

    gate(event_for(recorder, packaging_props()))

    body = recorder.only
    assert body["Status"] == status, body["Reason"]
    assert "check job_name" not in body["Reason"]
    for fragment in fragments:
        assert fragment in body["Reason"]
    assert len(api.starts) == 1
    assert api.calls(PROJECT, STARTED_JOB) > 2, "the 404s after the Start are looked past, not taken as final"


# --- adopting a job that exists ------------------------------------------------------------------------------------


def test_an_existing_failed_job_of_the_same_configuration_fails_saying_it_never_runs_twice(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # Adopting it would fail every redeploy with the old job's message alone: the reason must say that this job was
    # adopted, that a job never runs twice, and what to change to package again.
    message = "Access denied writing to s3://pcb-lookoutvision-models/lookoutvision/pcb/"
    api.script(PROJECT, STARTED_JOB, [ok(started_job("FAILED", message))])

    gate(event_for(recorder, packaging_props()))

    body = recorder.only
    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", STARTED_ID)
    assert api.starts == []
    for fragment in ("adopted", message, "never runs twice", "component_version", "job_name"):
        assert fragment in body["Reason"], (fragment, body["Reason"])


def test_a_conflicting_start_adopts_the_job_a_duplicate_request_created_once_describe_shows_it(
    gate: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    # Start answers 409 because a duplicate delivery created the job; Describe shows that job only a few looks later.
    # The job is ours (same configuration), so it is adopted, not blamed on an existing component version.
    lag = [job_not_visible()] * 4
    api.script(PROJECT, STARTED_JOB, [*lag, ok(started_job("RUNNING")), ok(started_job())])
    gg.script(STARTED_ARN, ["DEPLOYABLE"])

    gate(event_for(recorder, packaging_props()))

    body = recorder.only
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert (body["Reason"], body["PhysicalResourceId"]) == ("", STARTED_ID)
    assert [start["job"] for start in api.starts] == [STARTED_JOB]


# --- the Greengrass component check --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message", "advice"),
    [
        ("ExpiredTokenException", "The security token included in the request is expired", "credentials have expired"),
        (
            "InvalidSignatureException",
            "Signature expired: 20261129T150000Z is now earlier than 20261129T151000Z",
            "clock",
        ),
        (
            "UnrecognizedClientException",
            "The security token included in the request is invalid",
            "does not recognise the access key ID",
        ),
    ],
    ids=["expired-token", "clock-skew", "unknown-key"],
)
def test_a_credential_or_clock_error_from_greengrass_gets_the_credential_advice_not_an_iam_grant(
    gate: Gate,
    api: FakeLookoutVision,
    gg: FakeGreengrass,
    recorder: ResponseRecorder,
    code: str,
    message: str,
    advice: str,
) -> None:
    # These codes come with 403, yet no IAM grant fixes them: the advice is the one Lookout for Vision's errors get.
    api.script(PROJECT, JOB, [ok(description())])
    gg.script(COMPONENT_ARN, [error(403, code, message)])

    gate(event_for(recorder, properties(ExpectedComponentName=COMPONENT)))

    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "grant greengrass:DescribeComponent" not in body["Reason"]
    assert advice in body["Reason"]
    assert gg.calls(COMPONENT_ARN) == 1


def test_a_component_wait_that_only_gets_server_errors_names_the_last_error_at_the_deadline(
    gate: Gate, api: FakeLookoutVision, gg: FakeGreengrass, recorder: ResponseRecorder
) -> None:
    # Greengrass never answered: "still not described" alone would hide why.
    api.script(PROJECT, JOB, [ok(description())])
    gg.script(COMPONENT_ARN, [error(500, "InternalServerException", "Internal error")])

    gate(event_for(recorder, properties(ExpectedComponentName=COMPONENT, WaitTimeoutSeconds="60")))

    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "last error" in body["Reason"] and "InternalServerException" in body["Reason"]
    assert gg.calls(COMPONENT_ARN) > 1, "server errors are retried until the deadline"


# --- properties ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "greengrass",
    [
        # An empty string is no list of tags; the API's model rejects it before any request is sent.
        {"Tags": ""},
        {"Tags": [{"Key": "a", "Value": "b", "Extra": "c"}]},
        {"TargetDevice": None, "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64", "Colour": "red"}},
        {"S3OutputLocation": {"Bucket": "pcb-models", "Prefix": "p/", "Region": "x"}},
    ],
    ids=["tags-as-a-string", "tag-with-an-extra-key", "target-platform-extra-key", "s3-output-location-extra-key"],
)
def test_a_packaging_value_the_api_cannot_take_fails_as_invalid_properties_before_any_request(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder, greengrass: dict[str, Any]
) -> None:
    # Such a value never becomes valid by retrying: it is a property error, answered at once.
    gate(event_for(recorder, packaging_props(greengrass)))

    body = recorder.only
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("Invalid properties"), body["Reason"]
    assert (api.requests, api.starts) == ([], [])


# --- how long there is to wait -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout_s", "extra", "linger_s"),
    [(8.0, {}, 0.0), (30.0, {}, 0.0), (900.0, {"ServiceTimeout": "50"}, 0.0), (5.0, {}, 2.0)],
    ids=["8-s-left", "30-s-left", "service-timeout-50-s", "5-s-left"],
)
def test_a_request_with_too_little_time_to_wait_starts_no_job_and_answers_once(
    gate: Gate,
    api: FakeLookoutVision,
    recorder: ResponseRecorder,
    timeout_s: float,
    extra: dict[str, str],
    linger_s: float,
) -> None:
    # Starting a job that nobody can wait for leaves it running behind a FAILED stack; the answer keeps the resource's
    # own physical id, whichever of the handler and the invocation's timer gives it.
    gate(event_for(recorder, packaging_props(**extra)), timeout_s=timeout_s)
    time.sleep(linger_s)  # room for a late second answer (the invocation's timer) to arrive

    body = recorder.only
    assert (body["Status"], body["PhysicalResourceId"]) == ("FAILED", STARTED_ID)
    assert api.starts == [], f"{len(api.starts)} StartModelPackagingJob call(s); answered {body['Reason']!r}"


def test_a_wait_cut_short_by_service_timeout_blames_service_timeout_not_wait_timeout(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # CloudFormation's ServiceTimeout ended the wait long before wait_timeout: raising wait_timeout would change
    # nothing.
    api.script(PROJECT, JOB, [ok(description("RUNNING"))])

    gate(event_for(recorder, properties(WaitTimeoutSeconds="2700", ServiceTimeout="90")))

    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "ServiceTimeout" in body["Reason"]
    assert "Raise wait_timeout" not in body["Reason"]


# --- starting the job ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("throttled_for_s", "wait_timeout", "status", "fragments", "jobs_started"),
    [
        (90.0, "2700", "SUCCESS", (), 1),
        (math.inf, "60", "FAILED", ("ThrottlingException", "quota"), 0),
    ],
    ids=["throttled-for-90-s", "throttled-until-the-deadline"],
)
def test_a_throttled_start_is_retried_for_as_long_as_the_wait_lasts(
    gate: Gate,
    api: FakeLookoutVision,
    gg: FakeGreengrass,
    recorder: ResponseRecorder,
    throttled_for_s: float,
    wait_timeout: str,
    status: str,
    fragments: tuple[str, ...],
    jobs_started: int,
) -> None:
    # Throttling ends; the wait's own deadline, not a shorter budget of its own, bounds how long Start is retried.
    # Throttled to the end, the reason names the throttling and what to do about it.
    until = gate.vclock.now() + throttled_for_s
    api.refuse_start = lambda request: THROTTLED if gate.vclock.now() < until else None
    gg.script(STARTED_ARN, ["DEPLOYABLE"])

    gate(event_for(recorder, packaging_props(WaitTimeoutSeconds=wait_timeout)))

    body = recorder.only
    assert body["Status"] == status, body["Reason"]
    for fragment in fragments:
        assert fragment in body["Reason"], (fragment, body["Reason"])
    assert len(api.started) == jobs_started


def test_a_credential_error_on_start_is_worded_as_starting_the_job(
    gate: Gate, api: FakeLookoutVision, recorder: ResponseRecorder
) -> None:
    # The call that failed was StartModelPackagingJob: the reason must not say a Describe failed.
    api.refusals.append(error(400, "ExpiredTokenException", "The security token included in the request is expired"))

    gate(event_for(recorder, packaging_props()))

    body = recorder.only
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith(f"Could not start model packaging job {STARTED_ID}"), body["Reason"]
    assert "credentials have expired" in body["Reason"]
    assert "Cannot describe" not in body["Reason"]
    assert len(api.starts) == 1
