"""start: ensure_job starts, adopts or refuses a job, through a botocore client and a Stubber on the package's model."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore import exceptions as be
from botocore.stub import Stubber
from support import ScriptedClient, VirtualClock, client_error, description

from cdk_lookoutvision_packaging import _model
from cdk_lookoutvision_packaging_handler.configuration import Packaging
from cdk_lookoutvision_packaging_handler.outbound import Wording, client_config
from cdk_lookoutvision_packaging_handler.start import Started, ensure_job
from cdk_lookoutvision_packaging_handler.waiting import Schedule

JOB, WORDS = "pcb-v3-jetson", "the service's own words"
PREFIX = f"Could not start model packaging job pcb/{JOB}"
GREENGRASS = {"ComponentName": "com.example.pcb-defects", "ComponentVersion": "3.0.0", "TargetDevice": "jetson_xavier"}
PACKAGING = Packaging("3", {**GREENGRASS, "S3OutputLocation": {"Bucket": "models-bucket", "Prefix": "pcb/"}})
DESCRIBE, START = "describe_model_packaging_job", "start_model_packaging_job"
NOT_FOUND, CONFLICT = (DESCRIBE, "ResourceNotFoundException", 404, None), (START, "ConflictException", 409, None)
THROTTLED = (START, "ThrottlingException", 429, None)
MISSING = client_error("ResourceNotFoundException", 404)
CLI = Wording("--project-name", "--job-name", "--region")
NO_PROJECT = (DESCRIBE, "ResourceNotFoundException", 404, {"ResourceType": "PROJECT", "ResourceId": "pcb"})


def existing(model_version: str = "3", **greengrass: str) -> dict[str, Any]:
    configuration = {"Greengrass": {**PACKAGING.greengrass, **greengrass}}
    return {**description(job=JOB), "ModelVersion": model_version, "ModelPackagingConfiguration": configuration}


def differs(key: str, theirs: str, ours: str, new: str) -> str:
    return (
        f"Model packaging job pcb/{JOB} already exists with another configuration: {key} is {theirs}, this "
        f"configuration asks for {ours}. A packaging job cannot change: give this configuration a new {new}"
    )


@pytest.fixture(scope="module")
def client() -> Any:
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(_model.data_path()))
    return session.create_client("lookoutvision", region_name="us-east-1", config=client_config())


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def answer(stub: Stubber, *steps: Any) -> None:
    """Queue answers: a description, or (operation, code, HTTP status, modeled fields) for an error."""
    for step in steps:
        if isinstance(step, dict):
            stub.add_response(DESCRIBE, {"ModelPackagingDescription": step})
        else:
            operation, code, status, fields = step
            modeled = {"Message": WORDS, **fields} if fields else None
            stub.add_client_error(operation, code, WORDS, status, modeled_fields=modeled)


def ensure(client: Any, vclock: VirtualClock | None = None, give_up_s: float = 600.0, **kwargs: Any) -> Started:
    """ensure_job for pcb/JOB on ``vclock`` (a scripted client's own, or a new one), ``give_up_s`` from now."""
    vclock = vclock or getattr(client, "vclock", None) or VirtualClock()
    schedule = Schedule(vclock.now() + give_up_s, vclock.clock())
    return ensure_job(client, "pcb", JOB, PACKAGING, schedule, **kwargs)


def test_a_missing_job_is_started_once_with_its_request(stub: Stubber) -> None:
    answer(stub, NOT_FOUND)
    stub.add_response(START, {"JobName": JOB}, PACKAGING.start_request("pcb", JOB))
    assert ensure(stub.client) == Started("started")


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([existing()], ""),
        # A duplicate delivery of the request started the job: Describe shows it a few looks after the Conflict.
        ([NOT_FOUND, CONFLICT, NOT_FOUND, NOT_FOUND, existing()], ""),
        ([existing("2")], differs("ModelVersion", "2", "3", "component_version (the default job name follows it)")),
        # A new job name with the same component version would only conflict again: that version exists already.
        ([existing(ComponentVersion="2.0.0")], differs("ComponentVersion", "2.0.0", "3.0.0", "job_name")),
        ([NO_PROJECT], f"Lookout for Vision project 'pcb' does not exist: check project_name ({WORDS})"),
    ],
)
def test_what_describe_shows_decides_between_adopting_and_refusing(
    stub: Stubber, steps: list[Any], reason: str
) -> None:
    answer(stub, *steps)
    assert ensure(stub.client) == Started("refused" if reason else "adopted", reason)


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
def test_a_refused_start_answers_one_line_saying_what_to_change(
    stub: Stubber, code: str, status: int, says: str
) -> None:
    answer(stub, NOT_FOUND, (START, code, status, None), *[NOT_FOUND] * 2 * (code == "ConflictException"))
    started = ensure(stub.client, give_up_s=1.9)
    advised = "" if code in ("ExpiredTokenException", "TeapotException") else f"{code}: {WORDS}; "
    assert started.outcome == "refused" and started.reason.startswith(f"{PREFIX}: {advised}{says}"), started.reason


def test_a_job_a_conflict_implies_is_looked_for_during_the_visibility_grace_only() -> None:
    vclock = VirtualClock()
    lookoutvision = ScriptedClient(vclock, [MISSING], start=client_error("ConflictException", 409))
    assert ensure(lookoutvision, vclock).outcome == "refused"
    assert len(lookoutvision.calls) > 10 and lookoutvision.calls[-1] == pytest.approx(vclock.start + 60.0)


def test_throttling_is_retried_until_give_up_at_then_the_reason_names_the_quota(stub: Stubber) -> None:
    answer(stub, NOT_FOUND, THROTTLED)
    stub.add_response(START, {"JobName": JOB})
    vclock = VirtualClock()
    assert (ensure(stub.client, vclock), len(vclock.sleeps)) == (Started("started"), 1)
    answer(stub, NOT_FOUND, THROTTLED, THROTTLED)  # backoffs of 1-2 s, then 2-4 s: a third would pass give_up_at
    assert ensure(stub.client, give_up_s=2.9) == Started(
        "refused",
        f"{PREFIX}: Lookout for Vision kept answering ThrottlingException (429): {WORDS} until the wait's time ran "
        "out; rerun the deployment later, or ask for a higher StartModelPackagingJob quota",
        temporary=True,
    )
    # The look before starting is the job wait's: its last look is at the deadline.
    answer(stub, (DESCRIBE, "ThrottlingException", 429, None), (DESCRIBE, "ThrottlingException", 429, None))
    assert ensure(stub.client, give_up_s=0.9) == Started(
        "refused",
        f"Cannot describe model packaging job pcb/{JOB}: Lookout for Vision kept answering ThrottlingException "
        f"(429): {WORDS} until the time ran out; rerun the deployment later",
        temporary=True,
    )


def test_a_start_throttled_until_give_up_at_is_refused_as_temporary(stub: Stubber) -> None:
    answer(stub, NOT_FOUND, THROTTLED)
    assert ensure(stub.client, give_up_s=0.9).temporary is True


def test_a_job_that_exists_is_adopted_at_the_first_look_however_far_it_got() -> None:
    running = ScriptedClient(VirtualClock(), [{**existing(), "Status": "RUNNING"}], start=AssertionError("no Start"))
    assert (ensure(running), len(running.calls)) == (Started("adopted"), 1)


def test_a_job_a_conflict_reveals_with_other_settings_is_refused_naming_each_difference() -> None:
    shown = ScriptedClient(
        VirtualClock(), [MISSING, existing("2", ComponentVersion="2.0.0")], start=client_error("ConflictException", 409)
    )
    assert ensure(shown, wording=CLI) == Started(
        "refused",
        f"Model packaging job pcb/{JOB} already exists with another configuration: ModelVersion is 2, this "
        "configuration asks for 3; ComponentVersion is 2.0.0, this configuration asks for 3.0.0. A packaging job "
        "cannot change: give this configuration a new --job-name",
    )


def test_the_region_and_the_caller_s_words_reach_the_reasons_of_both_calls() -> None:
    denied = ScriptedClient(VirtualClock(), [client_error("AccessDeniedException", 403, "")], start=AssertionError())
    assert ensure(denied, region="eu-west-1").reason.startswith(
        f"Access denied describing model packaging job pcb/{JOB} in eu-west-1: grant"
    )
    missing_job = client_error("ResourceNotFoundException", 404, ResourceType="MODEL_PACKAGE_JOB")
    no_project = client_error("ResourceNotFoundException", 404, ResourceType="PROJECT")
    assert ensure(ScriptedClient(VirtualClock(), [no_project], start=AssertionError()), wording=CLI).reason == (
        "Lookout for Vision project 'pcb' does not exist: check --project-name (something went wrong)"
    )
    # A Conflict whose job never shows, said without a message.
    conflicted = ScriptedClient(VirtualClock(), [missing_job], start=client_error("ConflictException", 409, ""))
    assert ensure(conflicted, wording=CLI).reason == (
        f"{PREFIX}: ConflictException: no message; Greengrass component com.example.pcb-defects version 3.0.0 "
        "probably exists already: give the configuration a new component_version"
    )
    expired = ScriptedClient(VirtualClock(), [MISSING], start=client_error("ExpiredTokenException", 400, "expired"))
    assert ensure(expired, region="eu-west-1").reason.startswith(
        f"{PREFIX} in eu-west-1: the AWS credentials have expired"
    )
    unresolvable = be.EndpointConnectionError(endpoint_url="https://lookoutvision.xx-east-9.amazonaws.com", error=None)
    unresolvable.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    nowhere = ScriptedClient(VirtualClock(), [MISSING], start=unresolvable)
    assert "Check --region" in ensure(nowhere, region="xx-east-9", wording=CLI).reason


def test_a_start_that_hangs_is_cut_off_and_named() -> None:
    release = threading.Event()
    hanging = ScriptedClient(VirtualClock(), [MISSING], start=lambda: release.wait(30.0))
    try:
        started = ensure(hanging, give_up_s=0.6)
    finally:
        release.set()
    assert started.temporary and "StartModelPackagingJob did not complete within" in started.reason
