"""One invocation of a Create or Update, read forward: properties, window, starting or adopting the job, waiting,
deciding, the Greengrass component, and the ``Answer`` (or a ``Continuation`` in a new invocation). index and the
benchmark both call ``run``; it knows neither crhelper nor Lambda.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from . import component, continuation, job, waiting
from .contract import MAX_SERVICE_TIMEOUT_S, SERVICE_TIMEOUT_AFTER_WAIT_S
from .outbound import CONSTRUCT_WORDING, ApiProblem, Clock
from .properties import JobProperties, PropertyError, parse_properties
from .response import FAILED, SUCCESS, fallback_physical_id
from .start import ensure_job

logger = logging.getLogger(__name__)


def _log(level: int, **fields: Any) -> None:
    """One JSON log line, attributed to the caller (crhelper's formatter names the function and line)."""
    logger.log(level, json.dumps(fields), stacklevel=2)


@dataclass(frozen=True)
class Answer:
    status: str
    reason: str
    physical_id: str
    data: dict[str, str]


@dataclass(frozen=True)
class Continuation:
    """The wait goes on in a new invocation with ``event``; ``refused`` is the answer if it cannot."""

    event: dict[str, Any]
    invocation: int
    physical_id: str
    refused: Answer

    def refused_because(self, why: str) -> Answer:
        return Answer(self.refused.status, f"{self.refused.reason}: {why}", self.refused.physical_id, self.refused.data)


def failed_physical_id(event: Mapping[str, Any]) -> str:
    """<project>/<job> for a Create whose names are valid (CloudFormation then knows which job failed); else the old
    id (an Update's failure is never a replacement) or a stable stand-in."""
    if event.get("RequestType") == "Create":
        with suppress(PropertyError):
            return parse_properties(event.get("ResourceProperties")).physical_id
    return fallback_physical_id(event)


def run(
    event: Mapping[str, Any],
    remaining_s: float,
    *,
    lookoutvision: Any,
    clock: Clock,
    greengrass: Any = None,
    region: str = "",
    environ: Mapping[str, str] | None = None,
    log_stream: str = "",
    answered: Callable[[], bool] = lambda: False,
) -> Answer | Continuation:
    """One step for ``event`` with ``remaining_s`` left; nothing is started once ``answered()`` (the timer's answer).
    An unexpected error answers FAILED with a clean line (the traceback goes to the log only)."""
    props = None
    try:
        props = parse_properties(event.get("ResourceProperties"))
        step = _Invocation(event, props, remaining_s, lookoutvision, greengrass, clock, region, environ or {})
        return step.run(answered)
    except PropertyError as error:
        return Answer(FAILED, f"Invalid properties: {error}", fallback_physical_id(event), empty_data())
    except continuation.StateError as error:
        reason = f"Invalid continuation of the wait: {error}"
        return Answer(FAILED, reason, failed_physical_id(event), empty_data(props))
    except Exception as error:  # our own bug
        logger.exception("Unexpected error in the handler")
        # Its type and log stream, never its text (which may be anything).
        reason = (
            f"Internal error in the ModelPackagingJob handler ({type(error).__name__}); see log stream {log_stream}"
        )
        return Answer(FAILED, reason, failed_physical_id(event), {})


@dataclass
class _Invocation:
    event: Mapping[str, Any]
    props: JobProperties
    remaining_s: float
    lookoutvision: Any
    greengrass: Any
    clock: Clock
    region: str
    environ: Mapping[str, str]

    def __post_init__(self) -> None:
        event, props, remaining_s, clock = self.event, self.props, self.remaining_s, self.clock
        self.failed_id = failed_physical_id(event)
        self.now = clock.now()
        self.state = continuation.wait_state(event, self.now, props)
        self.budget, budget_problem = continuation.poll_budget(self.environ)
        if budget_problem:
            _log(logging.WARNING, pollBudget=budget_problem)
        self.window = continuation.wait_window(props, self.state, self.now, remaining_s)
        self.interval = waiting.poll_interval(self.budget)
        self.needed_s = continuation.HANDOFF_MARGIN_S + continuation.MIN_LOOKS_PER_INVOCATION * self.interval[1]
        # An invocation too short to wait in takes one look, and answers FAILED if the job still needs waiting for:
        # handing on at once would chain invocations as fast as Lambda starts them.
        self.too_short = self.window.deadline > self.window.hand_off_at and remaining_s < self.needed_s
        self.deadline = self.now if self.too_short else self.window.deadline
        self.yield_at = None if self.too_short else self.window.hand_off_at
        self.visible_by = self.state.visible_by
        _log(
            logging.INFO,
            request=event["RequestType"],
            logicalResourceId=event.get("LogicalResourceId"),
            job=self.props.physical_id,
            waitForCompletion=self.props.wait_for_completion,
            waitTimeoutSeconds=self.props.wait_timeout_s,
            invocation=self.state.invocation,
            waitedSeconds=round(self.now - self.state.started_at, 1),
            pollShareSeconds=round(self.budget.share_s, 2) if self.budget else None,
        )

    def failed(self, reason: str, data: dict[str, str] | None = None) -> Answer:
        return Answer(FAILED, reason, self.failed_id, empty_data(self.props) if data is None else data)

    def waited_s(self) -> float:
        return self.clock.now() - self.state.started_at

    def run(self, answered: Callable[[], bool]) -> Answer | Continuation:
        adopted, p = False, self.props
        if p.packaging is not None and self.state.invocation == 1:
            refusal = self.cannot_start_reason(answered)
            if refusal:
                return self.failed(refusal)
            give_up_at = min(self.window.deadline, self.window.hand_off_at)
            schedule = waiting.Schedule(give_up_at, self.clock, on_retry=self.on_retry)
            started = ensure_job(
                self.lookoutvision, p.project_name, p.job_name, p.packaging, schedule, region=self.region
            )
            _log(logging.INFO, job=self.props.physical_id, packagingJob=started.outcome)
            if started.outcome == "refused":
                return self.failed(started.reason)
            adopted = started.outcome == "adopted"
            self.visible_by = None if adopted else self.clock.now() + job.VISIBILITY_GRACE_S
        result = self.wait_for_job()
        data = job.to_attributes(result.description or {}, self.props.project_name, self.props.job_name)
        if result.outcome == "yield":
            last = f"last status {result.status or 'unknown'}"
            return self.continuation(result.next_look_at, f"model packaging job {self.props.physical_id}", last, data)
        if self.too_short and result.outcome == "timeout":
            return self.failed(self.too_short_reason(), data)
        reason = self.job_failure(result, data, adopted)
        if reason is not None:
            return self.failed(reason, data)
        if not (self.props.wait_for_completion and self.props.expected_component_name):
            return Answer(SUCCESS, "", self.props.physical_id, data)
        return self.check_component(data)

    def cannot_start_reason(self, answered: Callable[[], bool]) -> str | None:
        if answered():
            return "The handler ran out of time before it could start the job; see the function's log"
        if not self.props.wait_for_completion:
            return None
        if self.too_short:
            return self.too_short_reason()
        if self.window.deadline - self.now < self.needed_s - continuation.HANDOFF_MARGIN_S:
            return (
                f"Cannot start model packaging job {self.props.physical_id}: CloudFormation's ServiceTimeout of "
                f"{self.props.answer_within_s} s leaves no time to wait for it (the wait ends "
                f"{continuation.SERVICE_TIMEOUT_MARGIN_S} s before it). {self.service_timeout_remedy()}"
            )
        return None

    def wait_for_job(self) -> waiting.Waited:
        first_look_at = self.state.next_look_at
        # When all first calls at once (CloudFormation creates resources concurrently) would exceed the budget.
        if first_look_at is None and self.budget and self.state.invocation == 1 and self.budget.share_s > 1.0:
            first_look_at = self.now + self.clock.rng.uniform(0.0, self.budget.share_s)

        def on_status(status: str, _description: dict[str, Any]) -> None:
            _log(logging.INFO, job=self.props.physical_id, status=status, waitedSeconds=round(self.waited_s(), 1))

        p = self.props
        schedule = waiting.Schedule(
            self.deadline, self.clock, self.yield_at, self.interval, first_look_at, self.on_retry
        )
        return job.wait_for_job(
            self.lookoutvision,
            job.describe_call(p.project_name, p.job_name, self.region),
            p.project_name,
            p.job_name,
            schedule,
            wait=p.wait_for_completion,
            visible_by=self.visible_by,
            on_status=on_status,
        )

    def on_retry(self, problem: ApiProblem, delay: float) -> None:
        _log(logging.WARNING, job=self.props.physical_id, retrying=problem.code, inSeconds=round(delay, 1))

    def job_failure(self, result: waiting.Waited, data: dict[str, str], adopted: bool) -> str | None:
        """Why the job does not pass the gate, or None (also when the caller asked for its state only)."""
        p, j, expected = self.props.project_name, self.props.job_name, self.props.expected_component_name
        if result.outcome == "error":
            return result.problem.message if result.problem else "unknown error"
        if expected is not None and data["ComponentName"] and data["ComponentName"] != expected:
            return (
                f"Model packaging job {p}/{j} produced component '{data['ComponentName']}', but "
                f"expected_component_name is '{expected}': set expected_component_name to the job's ComponentName"
            )
        if result.outcome == "timeout" and not self.props.wait_for_completion:
            # Only transient errors can keep a no-wait look from answering; wait_timeout is not what bounds it.
            return (
                f"Could not describe model packaging job {self.props.physical_id} in {self.waited_s() / 60.0:.1f} "
                f"minutes, before CloudFormation's ServiceTimeout of {self.props.answer_within_s} s; last error "
                f"{result.last_error or 'unknown'}. Rerun the deployment when Lookout for Vision answers again"
            )
        if not self.props.wait_for_completion:
            return None  # the caller asked for the current state, not a gate: report it, whatever it is
        if result.outcome == "failed":
            return job.failed_reason(p, j, data["StatusMessage"], adopted=adopted)
        if result.outcome == "timeout":
            what, last = f"model packaging job {p}/{j}", f"last status {result.status or 'unknown'}"
            return job.timeout_reason(what, last, self.waited_s(), result.last_error, remedy=self.timeout_remedy())
        return None if job.has_greengrass_output(data) else job.no_output_reason(p, j)

    def check_component(self, data: dict[str, str]) -> Answer | Continuation:
        """Pass the component on only once Greengrass can deploy it."""
        arn = data["ComponentVersionArn"]

        def on_state(state: str) -> None:
            _log(logging.INFO, job=self.props.physical_id, component=arn, componentState=state)

        checked = component.wait_deployable(
            self.greengrass,
            arn,
            waiting.Schedule(self.deadline, self.clock, self.yield_at),
            call=component.describe_call(arn, self.region),
            on_state=on_state,
        )
        if checked.outcome == "deployable":
            return Answer(SUCCESS, "", self.props.physical_id, data)
        if checked.outcome == "yield":
            last = f"last state {checked.status or 'unknown'}"
            return self.continuation(checked.next_look_at, f"Greengrass component {arn}", last, data)
        if checked.outcome != "timeout":
            return self.failed(checked.reason, data)
        if self.too_short:
            return self.failed(self.too_short_reason(), data)
        what, last = component.timeout_what(arn), f"last state {checked.status or 'not described'}"
        remedy = self.timeout_remedy("rerun the deployment once Greengrass has registered the component")
        reason = job.timeout_reason(what, last, self.waited_s(), checked.last_error, remedy=remedy)
        return self.failed(reason, data)

    def continuation(self, next_look_at: float | None, what: str, last: str, data: dict[str, str]) -> Continuation:
        reason = f"Could not continue waiting for {what} in a new invocation ({last})"
        payload = continuation.continuation_event(self.event, self.state, next_look_at, self.visible_by)
        return Continuation(payload, self.state.invocation + 1, self.props.physical_id, self.failed(reason, data))

    def timeout_remedy(self, rerun: str = "") -> str:
        """What to do about a timed-out wait, naming what ended it: wait_timeout or the ServiceTimeout."""
        if self.window.capped_by_service_timeout:
            return (
                f"CloudFormation's ServiceTimeout of {self.props.answer_within_s} s ended the wait before wait_timeout "
                f"({self.props.wait_timeout_s} s) did. {self.service_timeout_remedy()}"
            )
        return f"Raise wait_timeout or {rerun}" if rerun else CONSTRUCT_WORDING.timeout_remedy

    def service_timeout_remedy(self) -> str:
        return (
            f"Raise the resource's ServiceTimeout (at most {MAX_SERVICE_TIMEOUT_S} s; the construct sets it "
            f"{SERVICE_TIMEOUT_AFTER_WAIT_S // 60} minutes after wait_timeout), or rerun the deployment when the job "
            "has finished"
        )

    def too_short_reason(self) -> str:
        return (
            f"Cannot wait for model packaging job {self.props.physical_id}: this invocation of the handler function "
            f"had {self.remaining_s:.1f} s, and a wait needs at least {math.ceil(self.needed_s)} s per invocation "
            f"({continuation.HANDOFF_MARGIN_S:.0f} s to hand the wait on, and room for "
            f"{continuation.MIN_LOOKS_PER_INVOCATION} looks). Restore the function's timeout (15 minutes as the "
            "construct sets it)"
        )


def empty_data(props: JobProperties | None = None) -> dict[str, str]:
    """Every Data key empty but the names."""
    return job.to_attributes({}, props.project_name, props.job_name) if props else job.to_attributes({})
