"""step.run, one invocation's step of a Create or Update, with a scripted Lookout for Vision client on a virtual clock:
which physical id each answer carries, what an invocation does with the time it has (wait, hand the wait on, or
answer that it is too short), how a continuation picks the wait up, and that a bug of ours still gives an answer."""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest
from support import ScriptedClient, VirtualClock, client_error, description, make_event, properties

from model_packaging_job import contract, step
from model_packaging_job import custom_resource as cr
from model_packaging_job import packaging_job as pj

PROJECT, JOB = "pcb", "pcb-v3-x86"
PHYSICAL_ID = f"{PROJECT}/{JOB}"
REGION = "eu-west-1"
LOG_STREAM = "2026/11/29/[$LATEST]0123456789abcdef"
# The function's timeout as the construct sets it, and an invocation that hands on 10 s in: the shortest one that can
# wait at the 2-4.5 s pace is 69 s (the 60 s hand-off margin and room for two looks).
FULL_INVOCATION_S = 900.0
HANDS_ON_AFTER_TEN_SECONDS_S = 70.0


def run(
    event: dict[str, Any],
    client: ScriptedClient,
    remaining_s: float = FULL_INVOCATION_S,
    environ: dict[str, str] | None = None,
) -> step.Answer | step.Continuation:
    return step.run(
        event,
        remaining_s,
        lookoutvision=client,
        clock=client.vclock.clock(),
        region=REGION,
        environ=environ or {},
        log_stream=LOG_STREAM,
    )


def answer(outcome: step.Answer | step.Continuation) -> step.Answer:
    assert isinstance(outcome, step.Answer), outcome
    return outcome


def scripted(*steps: Any) -> ScriptedClient:
    return ScriptedClient(VirtualClock(), list(steps))


# --- the answer and its physical id --------------------------------------------------------------------------------


def test_a_finished_job_is_answered_after_one_look_with_its_attributes() -> None:
    client = scripted(description("SUCCEEDED"))
    assert answer(run(make_event(), client)) == step.Answer(
        cr.SUCCESS, "", PHYSICAL_ID, pj.to_attributes(description("SUCCEEDED"))
    )
    assert client.params == [{"ProjectName": PROJECT, "JobName": JOB}]
    assert client.vclock.sleeps == []


@pytest.mark.parametrize(
    ("request_type", "job_status", "status", "physical_id"),
    [
        ("Create", "FAILED", cr.FAILED, "pcb/pcb-v4-x86"),
        ("Update", "SUCCEEDED", cr.SUCCESS, "pcb/pcb-v4-x86"),
        # A failed Update keeps the old id: a new one would make CloudFormation replace (and delete) the old resource.
        ("Update", "FAILED", cr.FAILED, PHYSICAL_ID),
    ],
)
def test_the_physical_id_is_the_job_s_unless_an_update_failed(
    request_type: str, job_status: str, status: str, physical_id: str
) -> None:
    event = make_event(
        request_type,
        props=properties(job="pcb-v4-x86"),
        physical_id=PHYSICAL_ID if request_type == "Update" else None,
        old_props=properties() if request_type == "Update" else None,
    )
    client = scripted(description(job_status, job="pcb-v4-x86", status_message="bad"))
    outcome = answer(run(event, client))
    assert (outcome.status, outcome.physical_id) == (status, physical_id)
    assert client.params == [{"ProjectName": PROJECT, "JobName": "pcb-v4-x86"}]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_invalid_properties_are_answered_without_a_look(request_type: str) -> None:
    # A Create has no id of its own yet: the stand-in keeps a later Delete of it harmless.
    event = make_event(request_type, props=properties(job="pcb_v4"), physical_id=PHYSICAL_ID)
    if request_type == "Create":
        del event["PhysicalResourceId"]
    client = scripted(description("SUCCEEDED"))
    outcome = answer(run(event, client))
    problem = contract.JOB_NAME_RULE.problem("pcb_v4")
    expected_id = PHYSICAL_ID if request_type == "Update" else cr.fallback_physical_id(event)
    assert outcome == step.Answer(cr.FAILED, f"Invalid properties: {problem}", expected_id, cr.empty_data())
    assert client.calls == []


def test_a_final_api_error_is_answered_with_its_classification_in_the_region() -> None:
    error = client_error("AccessDeniedException", 403, "not authorized")
    client = scripted(error, description("SUCCEEDED"))
    outcome = answer(run(make_event(), client))
    message = pj.classify_error(error, PROJECT, JOB, REGION).message
    assert outcome == step.Answer(cr.FAILED, message, PHYSICAL_ID, cr.empty_data(cr.JobProperties(PROJECT, JOB)))
    assert len(client.calls) == 1


def test_without_waiting_the_current_status_is_answered_after_one_look() -> None:
    client = scripted(description("RUNNING"), description("SUCCEEDED"))
    outcome = answer(run(make_event(props=properties(WaitForCompletion="false")), client))
    assert (outcome.status, outcome.data["Status"]) == (cr.SUCCESS, "RUNNING")
    assert client.vclock.sleeps == []


def test_the_wait_timeout_answers_failed_at_the_wait_timeout() -> None:
    client = scripted(description("RUNNING"))
    outcome = answer(run(make_event(props=properties(WaitTimeoutSeconds="60")), client))
    assert outcome.status == cr.FAILED
    assert outcome.reason == pj.timeout_reason(PROJECT, JOB, "RUNNING", 60.0)
    assert sum(client.vclock.sleeps) == pytest.approx(60.0)
    assert outcome.data["Status"] == "RUNNING"


def test_without_waiting_the_answer_comes_before_the_service_timeout() -> None:
    # As the construct synthesizes wait_for_completion=False: ServiceTimeout 300 s, WaitTimeoutSeconds 45 minutes.
    unavailable = client_error("ServiceUnavailableException", 503, "Unavailable")
    props = properties(WaitForCompletion="false", WaitTimeoutSeconds="2700", ServiceTimeout="300")
    client = scripted(unavailable)
    outcome = answer(run(make_event(props=props), client))
    waited = 300 - cr.SERVICE_TIMEOUT_MARGIN_S
    assert sum(client.vclock.sleeps) == pytest.approx(waited)
    last_error = pj.classify_error(unavailable, PROJECT, JOB).message
    assert outcome.status == cr.FAILED
    assert outcome.reason == cr.no_wait_timeout_reason(cr.parse_properties(props), waited, last_error)


def test_a_bug_of_ours_is_answered_failed_naming_its_type_and_the_log_stream(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> float:
        raise RuntimeError("a bug")

    clock = pj.Clock(now=broken, sleep=VirtualClock().sleep, rng=random.Random(1))
    with caplog.at_level(logging.ERROR):
        outcome = step.run(make_event(), FULL_INVOCATION_S, lookoutvision=None, clock=clock, log_stream=LOG_STREAM)
    assert outcome == step.Answer(cr.FAILED, cr.internal_error_reason(RuntimeError(), LOG_STREAM), PHYSICAL_ID, {})
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


# --- the invocation's time ----------------------------------------------------------------------------------------


def test_near_the_lambda_deadline_the_wait_continues_in_a_new_invocation() -> None:
    client = scripted(description("RUNNING"))
    event = make_event()
    started = client.vclock.now()
    outcome = run(event, client, HANDS_ON_AFTER_TEN_SECONDS_S)
    assert isinstance(outcome, step.Continuation)
    assert 2 <= len(client.calls) <= 5
    assert (outcome.invocation, outcome.physical_id) == (2, PHYSICAL_ID)
    state = outcome.event.pop(cr.CONTINUATION_KEY)
    assert outcome.event == event
    assert (state["StartedAt"], state["Invocation"]) == (started, 2)
    # The next look is due one poll after the last one, past the hand-off point: the continuation keeps the pace.
    assert started + 10 <= state["NextLookAt"] <= client.calls[-1] + pj.POLL_INTERVAL_S[1]
    # What is answered if Lambda refuses the hand-off.
    refused = outcome.refused_because("Lambda said no")
    assert refused.status == cr.FAILED and refused.physical_id == PHYSICAL_ID
    assert refused.reason == (
        "Could not continue waiting for model packaging job pcb/pcb-v3-x86 in a new invocation (last status RUNNING): "
        "Lambda said no"
    )
    assert refused.data["Status"] == "RUNNING"


def test_near_the_lambda_deadline_a_finished_job_is_answered() -> None:
    outcome = run(make_event(), scripted(description("SUCCEEDED")), HANDS_ON_AFTER_TEN_SECONDS_S)
    assert answer(outcome).status == cr.SUCCESS


@pytest.mark.parametrize("remaining_s", [10.0, 30.0, 61.0, 68.0])
def test_an_invocation_too_short_to_wait_in_looks_once_and_answers_failed(remaining_s: float) -> None:
    # Handing on at once would chain invocations as fast as Lambda starts them.
    client = scripted(description("RUNNING"))
    outcome = answer(run(make_event(), client, remaining_s))
    needed_s = cr.needed_invocation_s(pj.POLL_INTERVAL_S[1])
    assert outcome.status == cr.FAILED
    assert outcome.reason == cr.too_short_reason(cr.JobProperties(PROJECT, JOB), remaining_s, needed_s)
    assert outcome.data["Status"] == "RUNNING"
    assert (len(client.calls), client.vclock.sleeps) == (1, [])


def test_an_invocation_too_short_to_wait_in_still_answers_a_finished_job() -> None:
    assert answer(run(make_event(), scripted(description("SUCCEEDED")), 30.0)).status == cr.SUCCESS


# --- a continuation ------------------------------------------------------------------------------------------------


def continuation(vclock: VirtualClock, waited_s: float, invocation: int = 2, **state: float) -> dict[str, Any]:
    event = make_event()
    event[cr.CONTINUATION_KEY] = {"StartedAt": vclock.now() - waited_s, "Invocation": invocation, **state}
    return event


def test_a_continuation_takes_its_first_look_when_the_last_invocation_would_have() -> None:
    client = scripted(description("SUCCEEDED"))
    vclock = client.vclock
    outcome = run(continuation(vclock, 840, NextLookAt=vclock.now() + 3), client)
    assert answer(outcome).status == cr.SUCCESS
    assert vclock.sleeps == [pytest.approx(3.0)]


def test_a_continuation_past_the_wait_timeout_looks_once_and_times_out_counting_from_the_first_invocation() -> None:
    client = scripted(description("RUNNING"))
    outcome = answer(run(continuation(client.vclock, 3000, invocation=3), client))
    assert outcome.reason == pj.timeout_reason(PROJECT, JOB, "RUNNING", 3000.0)
    assert (len(client.calls), client.vclock.sleeps) == (1, [])


def test_a_continuation_whose_state_cannot_be_trusted_is_answered_without_a_look() -> None:
    client = scripted(description("SUCCEEDED"))
    event = continuation(client.vclock, 60, invocation=1)
    outcome = answer(run(event, client))
    assert outcome.status == cr.FAILED
    assert outcome.reason.startswith("Invalid continuation of the wait: LookoutVisionWait.Invocation must be")
    assert outcome.data == cr.empty_data(cr.JobProperties(PROJECT, JOB))
    assert client.calls == []


# --- the function's environment ------------------------------------------------------------------------------------


def test_the_polling_budget_of_the_environment_spreads_the_first_look_and_paces_the_polls() -> None:
    # 100 jobs sharing 4 requests per second: a share of 25 s each.
    environ = {contract.BUDGET_RPS_ENV: "4", contract.BUDGET_JOBS_ENV: "100"}
    client = scripted(description("RUNNING"), description("RUNNING"), description("SUCCEEDED"))
    assert answer(run(make_event(), client, environ=environ)).status == cr.SUCCESS
    first, *polls = client.vclock.sleeps
    assert 0 < first <= 25.0
    assert polls and all(25.0 <= gap <= 37.5 for gap in polls), polls


def test_an_unusable_polling_budget_is_logged_and_does_not_fail_the_request(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        outcome = run(make_event(), scripted(description("SUCCEEDED")), environ={contract.BUDGET_RPS_ENV: "fast"})
    assert answer(outcome).status == cr.SUCCESS
    warnings = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [{"pollBudget": "DESCRIBE_BUDGET_RPS='fast' is not a positive number; using 4"}]
