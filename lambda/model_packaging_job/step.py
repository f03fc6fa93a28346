"""One invocation's step of a Create or Update: read the wait, look at the job, and decide or continue elsewhere.

``run`` is the whole step, the one implementation that the Lambda entry point (index) and the benchmark's simulated
invocations (bench/gate.py) both call. It returns an ``Answer`` for CloudFormation, or a ``Continuation``: the wait
goes on in a new invocation of the function. Its client and clock are arguments, so a caller can run it against a
stub or on a virtual clock; it knows neither crhelper nor Lambda.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import component
from . import custom_resource as cr
from . import packaging_job as pj
from .packaging import ensure_job

logger = logging.getLogger("model_packaging_job")


@dataclass(frozen=True)
class Answer:
    """What to answer CloudFormation."""

    status: str
    reason: str
    physical_id: str
    data: dict[str, str]


@dataclass(frozen=True)
class Continuation:
    """The wait goes on in a new invocation, which receives ``event``; ``refused`` is the answer if it cannot."""

    event: dict[str, Any]
    invocation: int
    physical_id: str
    refused: Answer

    def refused_because(self, why: str) -> Answer:
        return Answer(self.refused.status, f"{self.refused.reason}: {why}", self.refused.physical_id, self.refused.data)


def run(
    event: Mapping[str, Any],
    remaining_s: float,
    *,
    lookoutvision: Any,
    clock: pj.Clock,
    greengrass: Any = None,
    region: str = "",
    environ: Mapping[str, str] | None = None,
    log_stream: str = "",
) -> Answer | Continuation:
    """Run one invocation's step for a Create or Update ``event``, with ``remaining_s`` left in the invocation.

    A failed Create answers with <project>/<job> when the names are valid; a failed Update keeps the old id, so that
    CloudFormation never mistakes a failure for a replacement. An unexpected error answers FAILED with a clean line
    (the traceback goes to the log only).
    """
    ids = {"answer": cr.fallback_physical_id(event)}
    try:
        return _run(event, remaining_s, ids, lookoutvision, greengrass, clock, region, environ or {})
    except Exception as error:  # our own bug
        logger.exception("Unexpected error in the handler")
        return Answer(cr.FAILED, cr.internal_error_reason(error, log_stream), ids["answer"], {})


def _run(
    event: Mapping[str, Any],
    remaining_s: float,
    ids: dict[str, str],
    lookoutvision: Any,
    greengrass: Any,
    clock: pj.Clock,
    region: str,
    environ: Mapping[str, str],
) -> Answer | Continuation:
    request_type = event["RequestType"]
    old_id = ids["answer"]
    try:
        props = cr.parse_properties(event.get("ResourceProperties"))
    except cr.PropertyError as error:
        return Answer(cr.FAILED, f"Invalid properties: {error}", old_id, cr.empty_data())
    failed_id = props.physical_id if request_type == "Create" else old_id
    ids["answer"] = failed_id
    now = clock.now()
    try:
        state = cr.wait_state(event, now, props)
    except cr.StateError as error:
        return Answer(cr.FAILED, f"Invalid continuation of the wait: {error}", failed_id, cr.empty_data(props))
    budget, budget_problem = cr.poll_budget(environ)
    if budget_problem:
        logger.warning(json.dumps({"pollBudget": budget_problem}))
    logger.info(
        json.dumps(
            {
                "request": request_type,
                "logicalResourceId": event.get("LogicalResourceId"),
                "job": props.physical_id,
                "waitForCompletion": props.wait_for_completion,
                "waitTimeoutSeconds": props.wait_timeout_s,
                "invocation": state.invocation,
                "waitedSeconds": round(now - state.started_at, 1),
                "pollShareSeconds": round(budget.share_s, 2) if budget else None,
            }
        )
    )
    deadline, hand_off_at = cr.wait_window(props, state, now, remaining_s)
    needed_s = cr.needed_invocation_s(pj.poll_interval(budget)[1])
    # An invocation too short to wait in takes one look, and answers FAILED if the job still needs waiting for:
    # handing on at once would chain invocations as fast as Lambda starts them.
    too_short = deadline > hand_off_at and remaining_s < needed_s
    yield_at: float | None = hand_off_at
    if too_short:
        deadline, yield_at = now, None
    if props.packaging is not None and state.invocation == 1:
        # The first invocation starts the job, or adopts it; a continuation only waits for it.
        started = ensure_job(
            lookoutvision, props.project_name, props.job_name, props.packaging, clock=clock, region=region
        )
        logger.info(json.dumps({"job": props.physical_id, "packagingJob": started.outcome}))
        if started.outcome == "refused":
            return Answer(cr.FAILED, started.reason, failed_id, cr.empty_data(props))

    def on_status(status: str, description: dict[str, Any]) -> None:
        waited = round(clock.now() - state.started_at, 1)
        logger.info(json.dumps({"job": props.physical_id, "status": status, "waitedSeconds": waited}))

    def on_retry(problem: pj.ApiProblem, delay: float) -> None:
        logger.warning(json.dumps({"job": props.physical_id, "retrying": problem.code, "inSeconds": round(delay, 1)}))

    result = pj.wait_for_job(
        lookoutvision,
        props.project_name,
        props.job_name,
        deadline=deadline,
        yield_at=yield_at,
        wait=props.wait_for_completion,
        clock=clock,
        region=region,
        on_status=on_status,
        on_retry=on_retry,
        budget=budget,
        first_call=state.invocation == 1,
        first_look_at=state.next_look_at,
    )
    if too_short and result.outcome == "timeout":
        reason = cr.too_short_reason(props, remaining_s, needed_s)
        return Answer(cr.FAILED, reason, failed_id, cr.result_data(props, result))
    if result.outcome == "yield":
        what = f"model packaging job {props.physical_id}"
        last = f"last status {result.status or 'unknown'}"
        return _continuation(
            event, state, props, failed_id, result.next_look_at, what, last, cr.result_data(props, result)
        )
    decision = cr.decide(props, result, clock.now() - state.started_at)
    if decision.status == cr.FAILED:
        return Answer(decision.status, decision.reason, failed_id, decision.data)
    if not (props.wait_for_completion and props.expected_component_name):
        return Answer(decision.status, decision.reason, props.physical_id, decision.data)
    # The component name is known: pass it on only once Greengrass can deploy it.
    arn = decision.data["ComponentVersionArn"]

    def on_state(state_now: str) -> None:
        logger.info(json.dumps({"job": props.physical_id, "component": arn, "componentState": state_now}))

    checked = component.wait_deployable(
        greengrass, arn, deadline=deadline, yield_at=yield_at, clock=clock, on_state=on_state
    )
    if checked.outcome == "deployable":
        return Answer(decision.status, decision.reason, props.physical_id, decision.data)
    if checked.outcome == "yield":
        last = f"last state {checked.state or 'unknown'}"
        what = f"Greengrass component {arn}"
        return _continuation(event, state, props, failed_id, checked.next_look_at, what, last, decision.data)
    if checked.outcome == "timeout":
        reason = component.timeout_reason(arn, checked.state, clock.now() - state.started_at)
        if too_short:
            reason = cr.too_short_reason(props, remaining_s, needed_s)
        return Answer(cr.FAILED, reason, failed_id, decision.data)
    return Answer(cr.FAILED, checked.reason, failed_id, decision.data)


def _continuation(
    event: Mapping[str, Any],
    state: cr.WaitState,
    props: cr.JobProperties,
    failed_id: str,
    next_look_at: float | None,
    what: str,
    last: str,
    data: dict[str, str],
) -> Continuation:
    """Continue waiting for ``what`` in a new invocation; if that is refused, answer FAILED saying so."""
    reason = f"Could not continue waiting for {what} in a new invocation ({last})"
    payload = cr.continuation_event(event, state, next_look_at)
    return Continuation(payload, state.invocation + 1, props.physical_id, Answer(cr.FAILED, reason, failed_id, data))
