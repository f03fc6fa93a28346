"""start: ensure_job starts, adopts or refuses a job, through the product's own client answered by the fake API."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from botocore import exceptions as be
from support import FakeLookoutVision, Step, VirtualClock, answer, description, error, ok

from cdk_lookoutvision_packaging_handler.configuration import Packaging
from cdk_lookoutvision_packaging_handler.outbound import Wording
from cdk_lookoutvision_packaging_handler.start import Started, ensure_job
from cdk_lookoutvision_packaging_handler.waiting import Schedule

JOB, WORDS = "pcb-v3-jetson", "the service's own words"
PREFIX = f"Could not start model packaging job pcb/{JOB}"
GREENGRASS = {"ComponentName": "com.example.pcb-defects", "ComponentVersion": "3.0.0", "TargetDevice": "jetson_xavier"}
PACKAGING = Packaging("3", {**GREENGRASS, "S3OutputLocation": {"Bucket": "models-bucket", "Prefix": "pcb/"}})
NOT_FOUND, THROTTLED = error(404, "ResourceNotFoundException", WORDS), error(429, "ThrottlingException", WORDS)
NO_PROJECT = error(404, "ResourceNotFoundException", WORDS, ResourceType="PROJECT", ResourceId="pcb")
CLI = Wording("--project-name", "--job-name", "--region")


def existing(model_version: str = "3", status: str = "SUCCEEDED", **greengrass: str) -> Step:
    configuration = {"ModelPackagingConfiguration": {"Greengrass": {**PACKAGING.greengrass, **greengrass}}}
    return ok({**description(status, job=JOB), "ModelVersion": model_version, **configuration})


def differs(key: str, theirs: str, ours: str, new: str) -> str:
    return (
        f"Model packaging job pcb/{JOB} already exists with another configuration: {key} is {theirs}, this "
        f"configuration asks for {ours}. A packaging job cannot change: give this configuration a new {new}"
    )


def lookout(*steps: Any, refuse: Any = None) -> tuple[FakeLookoutVision, VirtualClock]:
    """The fake API knowing project pcb: pcb/JOB's Describe answers ``steps`` (none: the 404 for the job), each Start
    ``refuse`` (None accepts it; a scripted job answers the 409 of a job that exists); requests at virtual times."""
    api, vclock = FakeLookoutVision(), VirtualClock()
    api.now, api.refuse_start = vclock.now, lambda request: refuse
    api.projects.add("pcb")
    if steps:
        api.script("pcb", JOB, steps)
    return api, vclock


def ensure(api: FakeLookoutVision, vclock: VirtualClock, give_up_s: float = 600.0, **kwargs: Any) -> Started:
    """ensure_job for pcb/JOB through a client ``api`` answers, ``give_up_s`` from now on ``vclock``."""
    schedule = Schedule(vclock.now() + give_up_s, vclock.clock())
    return ensure_job(api.client(), "pcb", JOB, PACKAGING, schedule, **kwargs)


def test_a_missing_job_is_started_once_with_its_request() -> None:
    api, vclock = lookout()
    assert ensure(api, vclock) == Started("started")
    request = PACKAGING.start_request("pcb", JOB)
    token = request.pop("ClientToken")
    assert (api.calls(), api.starts) == (1, [{"project": "pcb", "job": JOB, "token": token, "body": request}])


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([existing()], ""),
        # A duplicate delivery started the job: the Start's Conflict, then Describe shows it a few looks later.
        ([NOT_FOUND, NOT_FOUND, NOT_FOUND, existing()], ""),
        ([existing("2")], differs("ModelVersion", "2", "3", "component_version (the default job name follows it)")),
        # A new job name with the same component version would only conflict again: that version exists already.
        ([existing(ComponentVersion="2.0.0")], differs("ComponentVersion", "2.0.0", "3.0.0", "job_name")),
        ([NO_PROJECT], f"Lookout for Vision project 'pcb' does not exist: check project_name ({WORDS})"),
    ],
)
def test_what_describe_shows_decides_between_adopting_and_refusing(steps: list[Any], reason: str) -> None:
    api, vclock = lookout(*steps)
    assert ensure(api, vclock) == Started("refused" if reason else "adopted", reason)
    assert (api.calls(), len(api.starts)) == (len(steps), int(len(steps) > 1))


@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("ResourceNotFoundException", 404, "model version 3 of the project does not exist"),
        ("ValidationException", 400, "check that the model version is trained"),
        ("ServiceQuotaExceededException", 402, "wait for running packaging jobs to end"),
        ("AccessDeniedException", 403, "grant lookoutvision:StartModelPackagingJob on the model, s3:PutObject"),
        # No job shows up after the Conflict until give_up_at (its looks are 2 s or more apart).
        ("ConflictException", 409, "Greengrass component com.example.pcb-defects version 3.0.0 probably exists"),
        ("ExpiredTokenException", 400, "the AWS credentials have expired"),
        ("TeapotException", 418, f"StartModelPackagingJob for pcb/{JOB} failed with TeapotException (418): the"),
    ],
)
def test_a_refused_start_answers_one_line_saying_what_to_change(code: str, status: int, says: str) -> None:
    api, vclock = lookout(refuse=error(status, code, WORDS))
    started = ensure(api, vclock, give_up_s=1.9)
    advised = "" if code in ("ExpiredTokenException", "TeapotException") else f"{code}: {WORDS}; "
    assert started.outcome == "refused" and started.reason.startswith(f"{PREFIX}: {advised}{says}"), started.reason
    assert (api.calls(), len(api.starts)) == (1 + 2 * (code == "ConflictException"), 1)


def test_a_job_a_conflict_implies_is_looked_for_during_the_visibility_grace_only() -> None:
    api, vclock = lookout(refuse=error(409, "ConflictException"))
    assert ensure(api, vclock).outcome == "refused"
    looks = [request["at"] for request in api.requests]
    assert len(looks) > 10 and looks[-1] == pytest.approx(vclock.start + 60.0)


def test_throttling_is_retried_until_give_up_at_then_the_reason_names_the_quota() -> None:
    api, vclock = lookout()
    refusals = iter([THROTTLED])
    api.refuse_start = lambda request: next(refusals, None)
    assert (ensure(api, vclock), len(vclock.sleeps), len(api.starts)) == (Started("started"), 1, 2)
    api, vclock = lookout(refuse=THROTTLED)  # backoffs of 1-2 s, then 2-4 s: a third would pass give_up_at
    assert ensure(api, vclock, give_up_s=2.9) == Started(
        "refused",
        f"{PREFIX}: Lookout for Vision kept answering ThrottlingException (429): {WORDS} until the wait's time ran "
        "out; rerun the deployment later, or ask for a higher StartModelPackagingJob quota",
        temporary=True,
    )
    assert len(api.starts) == 2
    # The look before starting is the job wait's: its last look is at the deadline.
    api, vclock = lookout(THROTTLED)
    assert ensure(api, vclock, give_up_s=0.9) == Started(
        "refused",
        f"Cannot describe model packaging job pcb/{JOB}: Lookout for Vision kept answering ThrottlingException "
        f"(429): {WORDS} until the time ran out; rerun the deployment later",
        temporary=True,
    )
    assert ([r["at"] - vclock.start for r in api.requests], api.starts) == (pytest.approx([0.0, 0.9]), [])


def test_a_start_throttled_until_give_up_at_is_refused_as_temporary() -> None:
    api, vclock = lookout(refuse=THROTTLED)
    assert (ensure(api, vclock, give_up_s=0.9).temporary, len(api.starts)) == (True, 1)


def test_a_job_that_exists_is_adopted_at_the_first_look_however_far_it_got() -> None:
    api, vclock = lookout(existing(status="RUNNING"))
    assert (ensure(api, vclock), api.calls(), api.starts) == (Started("adopted"), 1, [])


def test_a_job_a_conflict_reveals_with_other_settings_is_refused_naming_each_difference() -> None:
    # The job is there (scripted), so the fake answers the Start with the service's 409 ConflictException.
    shown = lookout(NOT_FOUND, existing("2", ComponentVersion="2.0.0"))
    assert ensure(*shown, wording=CLI) == Started(
        "refused",
        f"Model packaging job pcb/{JOB} already exists with another configuration: ModelVersion is 2, this "
        "configuration asks for 3; ComponentVersion is 2.0.0, this configuration asks for 3.0.0. A packaging job "
        "cannot change: give this configuration a new --job-name",
    )


def test_the_region_and_the_caller_s_words_reach_the_reasons_of_both_calls() -> None:
    denied, no_project = lookout(error(403, "AccessDeniedException", "")), lookout(NO_PROJECT)
    assert ensure(*denied, region="eu-west-1").reason.startswith(
        f"Access denied describing model packaging job pcb/{JOB} in eu-west-1: grant"
    )
    assert ensure(*no_project, wording=CLI).reason == (
        f"Lookout for Vision project 'pcb' does not exist: check --project-name ({WORDS})"
    )
    assert denied[0].starts == no_project[0].starts == []
    # A Conflict whose job never shows, said without a message.
    conflicted = lookout(refuse=answer(409, {}, {"x-amzn-ErrorType": "ConflictException"}))
    assert ensure(*conflicted, wording=CLI).reason == (
        f"{PREFIX}: ConflictException: no message; Greengrass component com.example.pcb-defects version 3.0.0 "
        "probably exists already: give the configuration a new component_version"
    )
    expired = lookout(refuse=error(400, "ExpiredTokenException", "expired"))
    assert ensure(*expired, region="eu-west-1").reason.startswith(
        f"{PREFIX} in eu-west-1: the AWS credentials have expired"
    )
    unresolvable = be.EndpointConnectionError(endpoint_url="https://lookoutvision.xx-east-9.amazonaws.com", error=None)
    unresolvable.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert "Check --region" in ensure(*lookout(refuse=unresolvable), region="xx-east-9", wording=CLI).reason


def test_a_start_that_hangs_is_cut_off_and_named() -> None:
    release = threading.Event()
    hanging = lookout(refuse=lambda: release.wait(30.0) and None)
    try:
        started = ensure(*hanging, give_up_s=0.6)
    finally:
        release.set()
    assert started.temporary and "StartModelPackagingJob did not complete within" in started.reason
