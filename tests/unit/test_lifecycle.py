"""lifecycle.run, one invocation of a Create or Update, on the fake API's in-memory client and a virtual clock: the
window it waits in, when it is too short to wait, the continuation it hands on, the physical id of each answer, the
polling budget, and when it must not start the job. Classification and the job's reasons are test_outbound's and
test_job's; what the handler answers over HTTP is test_handler's."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import time
from typing import Any

import pytest
from botocore import exceptions as be
from support import (
    COMPONENT,
    COMPONENT_ARN,
    FakeGreengrass,
    FakeLookoutVision,
    VirtualClock,
    description,
    error,
    make_event,
    ok,
    packaging,
)
from support import properties as props

from cdk_lookoutvision_packaging_handler import contract, job, lifecycle
from cdk_lookoutvision_packaging_handler.continuation import CONTINUATION_KEY
from cdk_lookoutvision_packaging_handler.outbound import CONSTRUCT_WORDING
from cdk_lookoutvision_packaging_handler.properties import JobProperties
from cdk_lookoutvision_packaging_handler.response import FAILED, SUCCESS, fallback_physical_id

PROJECT, JOB = "pcb", "pcb-v3-x86"
PHYSICAL_ID = f"{PROJECT}/{JOB}"
LOG_STREAM = "2026/11/29/[$LATEST]0123456789abcdef"
# An invocation of 70 s hands the wait on 10 s in: the shortest that can wait at the 2-4.5 s pace is 69 s (the 60 s
# hand-off margin and room for two looks).
HANDS_ON_AFTER_10_S = 70.0
NO_WAIT = {"WaitForCompletion": "false"}
RUNNING, DONE = description("RUNNING"), description()
NO_JOB = error(404, "ResourceNotFoundException", "Job not found", ResourceType="MODEL_PACKAGE_JOB")
UNAVAILABLE = error(503, "ServiceUnavailableException", "Unavailable")
DENIED = error(403, "AccessDeniedException", "no")
OTHER = "com.example.other"
STARTS, STARTED = props(Packaging=packaging()), description(component_version="3.0.0")  # what that Start describes
NAMES_ONLY = lifecycle.empty_data(JobProperties(PROJECT, JOB))
SERVICE_TIMEOUT_REMEDY = (
    "Raise the resource's ServiceTimeout (at most 3600 s; the construct sets it 5 minutes after wait_timeout), or "
    "rerun the deployment when the job has finished"
)


def lookout(*steps: Any, job: str = JOB) -> tuple[FakeLookoutVision, VirtualClock]:
    """The API on a new virtual clock, answering the job's Describes with ``steps``, or 404 until the job is started."""
    api, vclock = FakeLookoutVision(), VirtualClock()
    api.now = vclock.now
    api.projects.add(PROJECT)
    if steps:
        api.script(PROJECT, job, [ok(step) if isinstance(step, dict) else step for step in steps])
    return api, vclock


def run(event: Any, api: FakeLookoutVision, vclock: VirtualClock, remaining_s: float = 900.0, **kw: Any) -> Any:
    kw.setdefault("environ", {})
    client, clock = api.client(), vclock.clock()
    return lifecycle.run(event, remaining_s, lookoutvision=client, clock=clock, log_stream=LOG_STREAM, **kw)


def answer(outcome: lifecycle.Answer | lifecycle.Continuation) -> lifecycle.Answer:
    assert isinstance(outcome, lifecycle.Answer), outcome
    return outcome


def continued(vclock: VirtualClock, waited_s: float, invocation: int = 2, **state: float) -> dict[str, Any]:
    event = make_event()
    event[CONTINUATION_KEY] = {"StartedAt": vclock.now() - waited_s, "Invocation": invocation, **state}
    return event


@pytest.mark.parametrize(
    ("request_type", "job_status", "status", "physical_id"),
    [
        ("Create", "FAILED", FAILED, "pcb/pcb-v4-x86"),
        ("Update", "SUCCEEDED", SUCCESS, "pcb/pcb-v4-x86"),
        # A failed Update keeps the old id: a new one would make CloudFormation replace (and delete) the old resource.
        ("Update", "FAILED", FAILED, PHYSICAL_ID),
    ],
)
def test_the_physical_id_is_the_job_s_unless_an_update_failed(
    request_type: str, job_status: Any, status: Any, physical_id: Any
) -> None:
    old = {"physical_id": PHYSICAL_ID, "old_props": props()} if request_type == "Update" else {}
    event = make_event(request_type, props=props(job="pcb-v4-x86"), **old)
    outcome = answer(run(event, *lookout(description(job_status, job="pcb-v4-x86"), job="pcb-v4-x86")))
    assert (outcome.status, outcome.physical_id) == (status, physical_id)


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_invalid_properties_are_answered_without_a_look(request_type: str) -> None:
    # A Create has no id of its own yet: the stand-in keeps a later Delete of it harmless.
    event = make_event(request_type, props=props(job="pcb_v4"), physical_id=PHYSICAL_ID)
    if request_type == "Create":
        del event["PhysicalResourceId"]
    (api, vclock), reason = lookout(DONE), f"Invalid properties: {contract.JOB_NAME_RULE.problem('pcb_v4')}"
    expected_id = PHYSICAL_ID if request_type == "Update" else fallback_physical_id(event)
    assert answer(run(event, api, vclock)) == lifecycle.Answer(FAILED, reason, expected_id, lifecycle.empty_data())
    assert (lifecycle.failed_physical_id(event), api.requests) == (expected_id, [])


FAILED_JOB = description("FAILED", status_message="bad")
# As the construct synthesizes wait_for_completion=False: ServiceTimeout 300 s, WaitTimeoutSeconds 45 minutes.
LOOK_ONLY = {**NO_WAIT, "WaitTimeoutSeconds": "2700", "ServiceTimeout": "300"}
CAPPED = {"WaitTimeoutSeconds": "2700", "ServiceTimeout": "90"}
MISMATCH = (
    f"Model packaging job {PROJECT}/{JOB} produced component '{COMPONENT}', but expected_component_name is '{OTHER}': "
    "set expected_component_name to the job's ComponentName"
)


def timed_out(waited_s: float, remedy: str = CONSTRUCT_WORDING.timeout_remedy) -> str:
    return job.timeout_reason(f"model packaging job {PHYSICAL_ID}", "last status RUNNING", waited_s, remedy=remedy)


def too_short(remaining_s: float) -> str:
    return (
        f"Cannot wait for model packaging job pcb/pcb-v3-x86: this invocation of the handler function had "
        f"{remaining_s:.1f} s, and a wait needs at least 69 s per invocation (60 s to hand the wait on, and room for 2 "
        "looks). Restore the function's timeout (15 minutes as the construct sets it)"
    )


# fmt: off
ANSWERS = {
    # The window: wait_timeout after the first invocation began, and a minute before CloudFormation's ServiceTimeout.
    "wait-timeout": ({"WaitTimeoutSeconds": "60"}, 900, 0, RUNNING, FAILED, timed_out(60), 60),
    "service-timeout": (CAPPED, 900, 0, RUNNING, FAILED, timed_out(30, "CloudFormation's ServiceTimeout of 90 s ended "
                        f"the wait before wait_timeout (2700 s) did. {SERVICE_TIMEOUT_REMEDY}"), 30),
    "continued-past-wait-timeout": ({}, 900, 3000, RUNNING, FAILED, timed_out(3000), 0),
    "look-only": (LOOK_ONLY, 900, 0, UNAVAILABLE, FAILED, "Could not describe model packaging job pcb/pcb-v3-x86 in "
                  "4.0 minutes, before CloudFormation's ServiceTimeout of 300 s; last error "
                  "ServiceUnavailableException (503): Unavailable. Rerun the deployment when Lookout for Vision "
                  "answers again", 240),
    # Too short to wait in: one look, and FAILED if the job needs waiting for (handing on at once would chain
    # invocations as fast as Lambda starts them).
    **{f"{s:.0f}-s-left": ({}, s, 0, RUNNING, FAILED, too_short(s), 0) for s in (10.0, 30.0, 61.0, 68.0)},
    "done-with-70-s-left": ({}, HANDS_ON_AFTER_10_S, 0, DONE, SUCCESS, "", 0),
    "done-with-30-s-left": ({}, 30, 0, DONE, SUCCESS, "", 0),
    "look-only-with-30-s-left": (NO_WAIT, 30, 0, RUNNING, SUCCESS, "", 0),
    # The gate: what the job produced; without waiting the caller asked for its state, whatever it is.
    "no-output": ({}, 900, 0, description(with_output=False), FAILED, job.no_output_reason(PROJECT, JOB), 0),
    "other-component": ({"ExpectedComponentName": OTHER}, 900, 0, DONE, FAILED, MISMATCH, 0),
    "other-component-look-only": ({**NO_WAIT, "ExpectedComponentName": OTHER}, 900, 0, DONE, FAILED, MISMATCH, 0),
    "component-look-only": ({**NO_WAIT, "ExpectedComponentName": COMPONENT}, 900, 0, DONE, SUCCESS, "", 0),
    "failed-look-only": (NO_WAIT, 900, 0, FAILED_JOB, SUCCESS, "", 0),
    "failed": ({}, 900, 0, FAILED_JOB, FAILED, job.failed_reason(PROJECT, JOB, "bad"), 0),
}
# fmt: on


@pytest.mark.parametrize(
    ("extra", "remaining_s", "continued_s", "step", "status", "reason", "waited_s"), ANSWERS.values(), ids=ANSWERS
)
def test_what_an_invocation_answers_given_its_window_and_the_job(
    extra: Any, remaining_s: float, continued_s: float, step: Any, status: str, reason: str, waited_s: float
) -> None:
    api, vclock = lookout(step)
    event = continued(vclock, continued_s, invocation=3) if continued_s else make_event()
    event["ResourceProperties"] = props(**extra)
    outcome = answer(run(event, api, vclock, remaining_s))
    data = job.to_attributes(step) if isinstance(step, dict) else NAMES_ONLY
    assert outcome == lifecycle.Answer(status, reason, PHYSICAL_ID, data)
    assert vclock.now() - vclock.start == waited_s and (api.calls() == 1) == (waited_s == 0)


def test_near_the_lambda_deadline_the_wait_continues_in_a_new_invocation() -> None:
    (api, vclock), event = lookout(RUNNING), make_event()
    outcome = run(event, api, vclock, HANDS_ON_AFTER_10_S)
    assert isinstance(outcome, lifecycle.Continuation)
    assert (outcome.invocation, outcome.physical_id, api.calls() > 1) == (2, PHYSICAL_ID, True)
    state = outcome.event.pop(CONTINUATION_KEY)
    assert outcome.event == event and (state["StartedAt"], state["Invocation"]) == (vclock.start, 2)
    # The next look is due one poll after the last one, past the hand-off point: the continuation keeps the pace.
    assert vclock.start + 10 <= state["NextLookAt"] <= api.requests[-1]["at"] + 4.5
    refused = outcome.refused_because("Lambda said no")
    assert (refused.status, refused.physical_id, refused.data["Status"]) == (FAILED, PHYSICAL_ID, "RUNNING")
    assert refused.reason == (
        "Could not continue waiting for model packaging job pcb/pcb-v3-x86 in a new invocation (last status RUNNING): "
        "Lambda said no"
    )


def test_a_continuation_looks_when_its_predecessor_would_have() -> None:
    api, vclock = lookout(DONE)
    assert answer(run(continued(vclock, 840, NextLookAt=vclock.now() + 3), api, vclock)).status == SUCCESS
    assert vclock.sleeps == [3.0]


def test_a_continuation_whose_state_cannot_be_trusted_is_answered_without_a_look() -> None:
    api, vclock = lookout(DONE)
    outcome = answer(run(continued(vclock, 60, invocation=1), api, vclock))
    assert (outcome.status, outcome.physical_id, api.requests) == (FAILED, PHYSICAL_ID, [])
    assert outcome.data == NAMES_ONLY
    assert outcome.reason.startswith("Invalid continuation of the wait: LookoutVisionWait.Invocation must be")


@pytest.mark.parametrize(
    ("jobs", "continued_s", "first", "pace"),
    [
        ("100", 0, (0.1, 25.0), (25.0, 37.5)),
        ("6", 0, (0.01, 1.0), (2.0, 4.5)),  # a share of 1.5 s: staggered, and this seed's first look within 1 s
        ("100", 840, (0.0, 0.0), (25.0, 37.5)),
        ("4", 0, (0.0, 0.0), (2.0, 4.5)),
    ],
    ids=[
        "first-look-within-one-share",
        "share-over-a-second",
        "continuation-not-staggered-again",
        "first-looks-fit-one-second",
    ],
)
def test_the_polling_budget_spreads_the_first_looks_and_paces_the_polls(
    jobs: str, continued_s: int, first: Any, pace: Any
) -> None:
    # 4 requests per second shared by 100 jobs: a share of 25 s each; by 4 jobs, all first looks fit one second.
    api, vclock = lookout(RUNNING, RUNNING, RUNNING, DONE)
    event = continued(vclock, continued_s) if continued_s else make_event()
    environ = {contract.BUDGET_RPS_ENV: "4", contract.BUDGET_JOBS_ENV: jobs}
    assert answer(run(event, api, vclock, environ=environ)).status == SUCCESS
    assert first[0] <= api.requests[0]["at"] - vclock.start <= first[1]
    assert all(pace[0] <= b - a <= pace[1] for a, b in itertools.pairwise(r["at"] for r in api.requests))


def test_an_unusable_polling_budget_is_logged_and_does_not_fail_the_request(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        outcome = run(make_event(), *lookout(DONE), environ={contract.BUDGET_RPS_ENV: "fast"})
    assert answer(outcome).status == SUCCESS
    warnings = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [{"pollBudget": "DESCRIBE_BUDGET_RPS='fast' is not a positive number; using 4"}]


@pytest.mark.parametrize(
    ("remaining_s", "extra", "answered", "reason"),
    [
        (30.0, {}, False, too_short(30.0)),
        (900.0, {"ServiceTimeout": "50"}, False, "Cannot start model packaging job pcb/pcb-v3-x86: CloudFormation's "
         "ServiceTimeout of 50 s leaves no time to wait for it (the wait ends 60 s before it). "
         + SERVICE_TIMEOUT_REMEDY),
        (900.0, {}, True, "The handler ran out of time before it could start the job; see the function's log"),
        # Nothing to wait for: an invocation too short for a wait (69 s) may start the job, its calls bounded as ever.
        (68.0, NO_WAIT, False, ""),
    ],
    ids=["invocation-too-short", "service-timeout-too-short", "already-answered", "without-waiting"],
)  # fmt: skip
def test_a_job_nobody_could_wait_for_is_not_started(
    remaining_s: float, extra: Any, answered: bool, reason: str
) -> None:
    api, vclock = lookout()  # a Start is answered CREATED, then SUCCEEDED
    outcome = answer(run(make_event(props={**STARTS, **extra}), api, vclock, remaining_s, answered=lambda: answered))
    assert (outcome.status, outcome.physical_id) == (FAILED if reason else SUCCESS, PHYSICAL_ID)
    assert outcome.reason == reason
    assert (len(api.starts), api.calls()) == ((0, 0) if reason else (1, 2))
    assert outcome.data == NAMES_ONLY if reason else outcome.data["Status"] == "CREATED"


@pytest.mark.parametrize("adopted", [True, False], ids=["adopted", "started"])
def test_a_failed_job_that_existed_before_is_blamed_as_adopted(adopted: bool) -> None:
    failed = {**STARTED, "Status": "FAILED", "StatusMessage": "denied"}
    api, vclock = lookout(failed) if adopted else lookout()
    api.after_start = lambda request: [ok(failed)]
    outcome = answer(run(make_event(props=STARTS), api, vclock))
    assert (outcome.status, outcome.reason) == (FAILED, job.failed_reason(PROJECT, JOB, "denied", adopted=adopted))
    assert len(api.starts) == (0 if adopted else 1)


def test_a_job_started_just_before_a_hand_off_is_not_missing_in_the_continuation() -> None:
    api, vclock = lookout()
    api.after_start = lambda request: [lambda: ok(STARTED) if vclock.now() >= vclock.start + 20 else NO_JOB]
    deployable = FakeGreengrass(default="DEPLOYABLE").client()
    handed_on = run(make_event(props=STARTS), api, vclock, HANDS_ON_AFTER_10_S, greengrass=deployable)
    assert isinstance(handed_on, lifecycle.Continuation) and len(api.starts) == 1
    outcome = answer(run(handed_on.event, api, vclock, greengrass=deployable))
    assert (outcome.status, outcome.reason, len(api.starts)) == (SUCCESS, "", 1)


def greengrass(*steps: Any) -> FakeGreengrass:
    """Greengrass answering the job's component version with ``steps`` (componentStates, errors), the last repeating."""
    fake = FakeGreengrass()
    fake.script(COMPONENT_ARN, steps)
    return fake


def watch(fake: FakeGreengrass, remaining_s: float = 900.0, **kwargs: Any) -> Any:
    event = make_event(props=props(ExpectedComponentName=COMPONENT, **kwargs.pop("extra", {})))
    return run(event, *lookout(DONE), remaining_s, greengrass=fake.client(), **kwargs)


def test_a_component_not_deployable_by_the_hand_off_point_is_waited_for_in_a_new_invocation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeGreengrass(default="REQUESTED")
    with caplog.at_level(logging.INFO):
        outcome = watch(fake, HANDS_ON_AFTER_10_S)
    assert isinstance(outcome, lifecycle.Continuation) and {r["arn"] for r in fake.requests} == {COMPONENT_ARN}
    assert outcome.event[CONTINUATION_KEY]["NextLookAt"] >= VirtualClock().start + 10
    refused = outcome.refused_because("Lambda said no")
    assert (refused.physical_id, refused.data) == (PHYSICAL_ID, job.to_attributes(description()))
    assert refused.reason == (
        f"Could not continue waiting for Greengrass component {COMPONENT_ARN} in a new invocation (last state "
        "REQUESTED): Lambda said no"
    )
    assert any('"componentState": "REQUESTED"' in record.getMessage() for record in caplog.records)


def test_a_component_wait_that_runs_out_of_time_says_what_to_raise_or_rerun() -> None:
    outcome = answer(watch(greengrass("REQUESTED"), extra={"WaitTimeoutSeconds": "60"}))
    assert (outcome.status, outcome.data) == (FAILED, job.to_attributes(description()))
    assert outcome.reason == (
        f"Timed out after 1.0 minutes waiting for Greengrass component {COMPONENT_ARN} to become deployable; last "
        "state REQUESTED. Raise wait_timeout or rerun the deployment once Greengrass has registered the component"
    )
    too_short = answer(watch(greengrass("REQUESTED"), 68.0))
    assert too_short.reason.startswith(f"Cannot wait for model packaging job {PHYSICAL_ID}: this invocation")
    assert too_short.data == outcome.data


def test_a_component_never_described_says_so_whether_the_wait_times_out_hands_on_or_is_denied() -> None:
    timed_out = answer(watch(greengrass(UNAVAILABLE), extra={"WaitTimeoutSeconds": "60"}))
    assert "to become deployable; last state not described; last error ServiceUnavailableException" in timed_out.reason
    handed_on = watch(greengrass(UNAVAILABLE), HANDS_ON_AFTER_10_S)
    assert handed_on.refused.reason.endswith(f"component {COMPONENT_ARN} in a new invocation (last state unknown)")
    denied = answer(watch(greengrass(DENIED)))
    assert denied.reason.startswith(f"Access denied describing Greengrass component {COMPONENT_ARN}: grant")


def test_the_component_call_names_the_function_s_region() -> None:
    resolution = OSError("Failed to resolve")
    resolution.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    nowhere = be.EndpointConnectionError(endpoint_url="https://greengrass.eu-west-9.amazonaws.com", error=resolution)
    outcome = answer(watch(greengrass(nowhere), region="eu-west-9"))
    assert "Greengrass endpoint https://greengrass.eu-west-9.amazonaws.com for Region eu-west-9" in outcome.reason


def test_a_service_timeout_that_leaves_exactly_the_two_looks_still_starts_the_job() -> None:
    (api, vclock), event = lookout(), make_event()
    event["ResourceProperties"] = {**STARTS, "ServiceTimeout": "69"}  # the wait gets 9 s: room for two looks
    assert answer(run(event, api, vclock, greengrass=FakeGreengrass(default="DEPLOYABLE").client())).status == SUCCESS
    assert len(api.starts) == 1


def test_a_wait_that_never_saw_the_job_says_so_with_its_last_error_and_a_denial_names_the_job() -> None:
    outcome = answer(run(make_event(props=props(WaitTimeoutSeconds="60")), *lookout(UNAVAILABLE)))
    assert outcome.reason == job.timeout_reason(
        f"model packaging job {PHYSICAL_ID}",
        "last status unknown",
        60,
        "ServiceUnavailableException (503): Unavailable",
        remedy=CONSTRUCT_WORDING.timeout_remedy,
    )
    denied = answer(run(make_event(), *lookout(DENIED)))
    assert denied.reason.startswith(f"Access denied describing model packaging job {PHYSICAL_ID}: grant")


def test_a_wait_handed_on_before_the_job_was_seen_says_its_status_is_unknown() -> None:
    outcome = run(make_event(), *lookout(UNAVAILABLE), HANDS_ON_AFTER_10_S)
    assert isinstance(outcome, lifecycle.Continuation)
    assert outcome.refused.reason == (
        f"Could not continue waiting for model packaging job {PHYSICAL_ID} in a new invocation (last status unknown)"
    )


def test_an_adopted_job_that_then_cannot_be_found_is_missing_at_once_not_late() -> None:
    api, vclock = lookout(STARTED, NO_JOB)
    outcome = answer(run(make_event(props=STARTS), api, vclock))
    assert (outcome.status, api.starts) == (FAILED, [])
    assert f"Model packaging job '{JOB}' does not exist in project '{PROJECT}'" in outcome.reason


def test_the_look_before_a_start_names_the_function_s_region() -> None:
    outcome = answer(run(make_event(props=STARTS), *lookout(DENIED), region="eu-west-9"))
    assert outcome.reason.startswith(f"Access denied describing model packaging job {PHYSICAL_ID} in eu-west-9: grant")


def test_an_invocation_is_too_short_only_below_the_seconds_a_wait_needs_and_its_one_look_is_not_cut() -> None:
    assert isinstance(run(make_event(), *lookout(RUNNING), 69.0), lifecycle.Continuation)
    # A continuation whose wait ends exactly at its hand-off point (5 s in) still waits, however short.
    api, vclock = lookout(RUNNING)
    event = make_event(props=props(WaitTimeoutSeconds="60"))
    event[CONTINUATION_KEY] = {"StartedAt": vclock.now() - 55, "Invocation": 2}
    assert isinstance(run(event, api, vclock, 65.0), lifecycle.Continuation)
    # The one look of a too-short invocation has its whole bound, though the hand-off point has passed.
    slow = lookout(lambda: time.sleep(0.05) or ok(DONE))
    assert answer(run(make_event(), *slow, 30.0)).status == SUCCESS


def test_an_unexpected_error_answers_failed_with_its_type_and_the_log_stream_only() -> None:
    event = make_event()
    reason = f"Internal error in the ModelPackagingJob handler (AttributeError); see log stream {LOG_STREAM}"
    expected = lifecycle.Answer(FAILED, reason, lifecycle.failed_physical_id(event), {})
    assert run(event, *lookout(DONE), environ=42) == expected
