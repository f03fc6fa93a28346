"""The fault matrix, run through the Lambda stand-in of tests/lambda_runtime.py.

The function under test is the asset the real `cdk synth` wrote, configured from the synthesized template and run by
AWS's runtime interface client on the newest boto3 (no lookoutvision), against a loopback Lookout for Vision API
whose jobs follow timelines on a compressed clock, a loopback lambda:Invoke that continues a handed-off wait, and a
loopback ResponseURL shaped like a presigned S3 URL.

Every scenario must end in exactly one answer with the right Status and a useful Reason, sent before the deadline of
the invocation that sent it (the always-failing ResponseURL: no answer accepted, but the runtime returns before its
deadline). Scenarios are independent (own job, own ResponseURL, own CloudFormation RequestId), so the module
fixture starts them all at once on pre-warmed execution environments and each test checks its own; the wall time is
that of the slowest scenario, not the sum. Each one is recorded with reliability_report.record_scenario.

"hang" in the figures means: the request's chain of invocations did not end within the bound, or an invocation was
killed at its deadline before any answer was delivered.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import reliability_report
from lambda_runtime import (
    RUNTIME_DIR,
    RUNTIME_NOTE,
    RUNTIME_PYTHON,
    RUNTIME_TARGET,
    HarnessError,
    Invocation,
    InvokeCall,
    LambdaFunction,
    LambdaHarness,
    LambdaInvokeAPI,
    SynthesizedApp,
    cfn_properties,
    leaked_lines,
    prepare_task_root,
    probe_runtime,
    say,
)
from support import (
    COMPONENT_ARN,
    EXPECTED_DATA_KEYS,
    FakeLookoutVision,
    ResponseRecorder,
    Step,
    description,
    error,
    make_event,
    malformed,
    ok,
    reset,
    slow,
    trickle,
)

SUITE = "runtime-fault-matrix"
PROJECT = "pcb"
# Virtual seconds per real second for job timelines: "SUCCEEDED after 20 minutes" happens 10 s after scripting.
SCALE = 120.0
# A deadline this far away makes the handler hand off after ~12 s (it stops polling 60 s before the deadline, and an
# invocation needs room for two looks at the 2-4.5 s pace besides, so 69 s is the shortest one that can wait).
HANDOFF_DEADLINE_S = 72.0
# No request may take longer than this to end (every scenario here ends in well under a minute).
REQUEST_BOUND_S = 120.0
MAX_RESPONSE_BYTES = 4096
DESCRIBE_ACTION = "lookoutvision:DescribeModelPackagingJob"


def minutes(m: float) -> float:
    """A timeline time in virtual seconds."""
    return m * 60.0


def running_then(job: str, after_minutes: float, final: Step, project: str = PROJECT) -> list[tuple[float, Step]]:
    return [(0.0, ok(description("RUNNING", project=project, job=job))), (minutes(after_minutes), final)]


def succeeded(job: str, project: str = PROJECT) -> list[tuple[float, Step]]:
    return [(0.0, ok(description(project=project, job=job)))]


# --- running requests ----------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One CloudFormation request through the stand-in, and everything it caused."""

    event: dict[str, Any]
    recorder: ResponseRecorder
    function: LambdaFunction
    lookoutvision: FakeLookoutVision
    invocations: list[Invocation]
    started: float
    ended: float
    hung: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def request_id(self) -> str:
        return str(self.event["RequestId"])

    @property
    def answers(self) -> list[dict[str, Any]]:
        return list(self.recorder.bodies)

    @property
    def only(self) -> dict[str, Any]:
        assert len(self.answers) == 1, f"expected exactly one answer, got {len(self.answers)}: {self.answers}"
        return self.answers[0]

    @property
    def api(self) -> list[dict[str, Any]]:
        props = self.event["ResourceProperties"]
        return self.lookoutvision.request_log(props.get("ProjectName"), props.get("JobName"))

    @property
    def invokes(self) -> list[InvokeCall]:
        invoke_api: LambdaInvokeAPI = self.notes["invoke_api"]
        return invoke_api.event_calls(self.request_id)

    @property
    def log_lines(self) -> list[str]:
        return self.function.log_lines(i.request_id for i in self.invocations)

    @property
    def outcome(self) -> str:
        count = len(self.answers)
        return str(self.answers[0]["Status"]) if count == 1 else "NO_ANSWER" if count == 0 else f"{count} ANSWERS"

    @property
    def hang(self) -> bool:
        killed_unanswered = not self.answers and any(i.status == "timed_out" for i in self.invocations)
        return self.hung or killed_unanswered


class Matrix:
    """The shared stand-in: one function on pre-warmed environments, plus one with LOG_LEVEL=DEBUG and one running a
    copy of the asset with injected bugs on a single execution environment, and the scenarios running on them
    concurrently."""

    def __init__(
        self,
        app: SynthesizedApp,
        harness: LambdaHarness,
        debug: LambdaHarness,
        patched: LambdaHarness,
    ) -> None:
        self.app = app
        self.harness = harness
        self.debug = debug
        self.patched = patched
        self.response_urls: list[str] = []
        self.continuation_timeouts: dict[str, float] = {}
        self._futures: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=40, thread_name_prefix="scenario")
        self.template_properties = next(iter(app.custom_resources().values()))

    def timeout_for(self, invocation: Invocation) -> float:
        """Continuations of a hand-off scenario get its short deadline; every other invocation the template's."""
        try:
            request_id = invocation.event.get("RequestId")
        except ValueError:
            request_id = None
        return self.continuation_timeouts.get(str(request_id), float(self.app.function.timeout_s))

    def props(self, job: str, project: str = PROJECT, **overrides: str) -> dict[str, Any]:
        """The synthesized custom resource's properties as CloudFormation sends them, for another job."""
        props = cfn_properties(self.template_properties)
        props.update({"ProjectName": project, "JobName": job, **overrides})
        return props

    def request(
        self,
        build: Callable[[str], dict[str, Any]],
        *,
        recorder: ResponseRecorder | None = None,
        first_timeout_s: float | None = None,
        continuation_timeout_s: float | None = None,
        harness: LambdaHarness | None = None,
    ) -> Run:
        """Send the event ``build(response_url)`` and wait (bounded) until its whole chain of invocations ended."""
        harness = harness or self.harness
        recorder = recorder or ResponseRecorder()
        with recorder:
            with self._lock:
                self.response_urls.append(recorder.url)
            event = build(recorder.url)
            if continuation_timeout_s is not None:
                self.continuation_timeouts[event["RequestId"]] = continuation_timeout_s
            started = time.time()
            harness.function.invoke(event, timeout_s=first_timeout_s)
            hung = False
            try:
                invocations = harness.function.wait_request(event["RequestId"], REQUEST_BOUND_S)
            except HarnessError:
                hung = True
                invocations = harness.function.invocations_for(event["RequestId"])
            # An answer is sent before the invocation returns; give the recorder's thread a moment to note it.
            time.sleep(0.05)
            return Run(
                event,
                recorder,
                harness.function,
                harness.lookoutvision,
                invocations,
                started,
                time.time(),
                hung,
                {"invoke_api": harness.invoke_api},
            )

    def start(self, key: str, scenario: Callable[[Matrix], Any]) -> None:
        self._futures[key] = self._pool.submit(scenario, self)

    def result(self, key: str) -> Any:
        try:
            return self._futures[key].result(timeout=REQUEST_BOUND_S * 3)
        except Exception as exc:
            reliability_report.record_scenario(
                key, suite=SUITE, expected="?", outcome="ERROR", answers=0, hang=True, detail=str(exc)[:300]
            )
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# --- checks --------------------------------------------------------------------------------------------------------


def _sender(run: Run, at: float) -> Invocation | None:
    """The invocation that was running when an answer arrived. A continuation starts before the invocation that
    handed off returns, so when two overlap the later one is the sender (one that handed off never answers)."""
    for invocation in sorted(run.invocations, key=lambda i: i.dispatched_at or 0.0, reverse=True):
        end = invocation.finished_at or invocation.deadline or 0.0
        if invocation.dispatched_at is not None and invocation.dispatched_at <= at <= end + 0.05:
            return invocation
    return None


def assert_request_ended_well(run: Run, expected: str, *, killed_ok: bool = False) -> None:
    """The rules every scenario shares: bounded, one answer (or none, when expected), before the deadline, on time,
    well-formed, and no secret in the log."""
    assert not run.hung, f"the request did not end within {REQUEST_BOUND_S:.0f} s: {run.invocations}"
    assert run.invocations, "the request was never invoked"
    for invocation in run.invocations:
        if killed_ok and invocation.status == "timed_out":
            continue
        assert invocation.status == "success", (
            f"invocation {invocation.request_id} ended {invocation.status} {invocation.error_type}: "
            f"{invocation.result[:500]!r}"
        )
        assert invocation.returned_in_time, f"invocation returned after its deadline: {invocation}"
    if expected == "NO_ANSWER":
        assert run.answers == [], run.answers
    else:
        body = run.only
        assert body["Status"] == expected, f"{body['Status']}: {body['Reason']}"
        assert body["RequestId"] == run.event["RequestId"]
        assert body["StackId"] == run.event["StackId"]
        assert body["LogicalResourceId"] == run.event["LogicalResourceId"]
        assert len(run.recorder.raw[0]) <= MAX_RESPONSE_BYTES
        assert set(body["Data"]) == EXPECTED_DATA_KEYS or body["Data"] == {}, body["Data"]
        if expected == "FAILED":
            reason = body["Reason"]
            assert reason.strip(), "a FAILED answer needs a Reason"
            assert "\n" not in reason and "Traceback" not in reason and 'File "' not in reason, reason
        answered_at = run.recorder.answer_times[0]
        sender = _sender(run, answered_at)
        assert sender is not None, f"the answer at {answered_at} came while no invocation ran: {run.invocations}"
        assert sender.deadline is not None and answered_at <= sender.deadline, "answered after the deadline"
    leaks = leaked_lines(run.log_lines, [run.recorder.url])
    assert leaks == [], f"log lines carry the ResponseURL: {leaks[:3]}"


def failed_reason(run: Run) -> str:
    """The Reason of the one FAILED answer, once the rules every scenario shares hold."""
    assert_request_ended_well(run, "FAILED")
    return str(run.only["Reason"])


@contextmanager
def verdict(name: str, expected: str, run: Run) -> Iterator[Run]:
    """Record the scenario whatever the checks in the block say."""
    failure = ""
    try:
        yield run
    except BaseException as exc:
        failure = f"check failed: {type(exc).__name__}: {str(exc)[:300]}"
        raise
    finally:
        outcome = run.outcome + (" (check failed)" if failure else "")
        reason = run.answers[0]["Reason"] if len(run.answers) == 1 else ""
        stats = (
            f"{len(run.api)} API call(s), {len(run.invocations)} invocation(s), "
            f"{run.recorder.attempts} PUT(s), {run.ended - run.started:.1f} s"
        )
        reliability_report.record_scenario(
            name,
            suite=SUITE,
            expected=expected,
            outcome=outcome,
            answers=len(run.answers),
            hang=run.hang,
            detail=failure or "; ".join(filter(None, [reason[:200], run.notes.get("detail", ""), stats])),
        )


def assert_success_data(body: dict[str, Any], job: str, project: str = PROJECT) -> None:
    assert body["PhysicalResourceId"] == f"{project}/{job}"
    data = body["Data"]
    assert data["Status"] == "SUCCEEDED"
    assert data["ComponentVersionArn"] == COMPONENT_ARN
    assert data["ComponentName"] == "com.example.pcb-defects"
    assert (data["ProjectName"], data["JobName"]) == (project, job)


def gaps(requests: list[dict[str, Any]]) -> list[float]:
    times = [r["at"] for r in requests]
    return [b - a for a, b in itertools.pairwise(times)]


# --- the scenarios (each runs in its own thread; the tests below check them) ---------------------------------------


def create(m: Matrix, job: str, project: str = PROJECT, **overrides: Any) -> Callable[[str], dict[str, Any]]:
    def build(url: str) -> dict[str, Any]:
        return make_event("Create", url, m.props(job, project), **overrides)

    return build


def with_first_steps(job: str, steps: list[Step]) -> Callable[[Matrix], Run]:
    def scenario(m: Matrix) -> Run:
        m.harness.lookoutvision.play(PROJECT, job, succeeded(job), first=steps)
        return m.request(create(m, job))

    return scenario


THROTTLE_RETRY_AFTER_S = 3.0
SCENARIOS: dict[str, Callable[[Matrix], Any]] = {
    "throttling": with_first_steps(
        "throttled",
        [error(429, "ThrottlingException", "Rate exceeded", {"Retry-After": f"{THROTTLE_RETRY_AFTER_S:g}"})] * 3,
    ),
    "http500": with_first_steps("http-500", [error(500, "InternalServerException", "Internal error")] * 2),
    "http503": with_first_steps("http-503", [error(503, "ServiceUnavailableException", "Unavailable")] * 2),
    "reset": with_first_steps("conn-reset", [reset(), reset()]),
    "slow": with_first_steps("slow-answer", [slow(11.0, ok(description("RUNNING", job="slow-answer")))]),
    "malformed": with_first_steps("malformed-json", [malformed(), malformed()]),
    "http403": with_first_steps(
        "denied", [error(403, "AccessDeniedException", "User is not authorized to perform this action")]
    ),
    "validation": with_first_steps(
        "bad-request",
        [
            error(
                400,
                "ValidationException",
                "1 validation error detected: Value at 'jobName' failed to satisfy constraint",
            )
        ],
    ),
}


def _scenario_404_project(m: Matrix) -> Run:
    return m.request(create(m, "any-job", project="no-such-project"))


def _scenario_404_job(m: Matrix) -> Run:
    m.harness.lookoutvision.play(PROJECT, "some-other-job", succeeded("some-other-job"))  # the project exists
    return m.request(create(m, "no-such-job"))


def _scenario_malformed_state(m: Matrix) -> Run:
    # A continuation whose StartedAt is an integer too large for a float: a forged or corrupted wait state.
    job = "malformed-state"
    m.harness.lookoutvision.play(PROJECT, job, succeeded(job))

    def build(url: str) -> dict[str, Any]:
        event = make_event("Create", url, m.props(job))
        event["LookoutVisionWait"] = {"StartedAt": 10**400, "Invocation": 2}
        return event

    return m.request(build)


# Appended to job.py in a copy of the asset: bugs deep inside our code, on the success path, whatever the
# input (independent of how the handler validates events): for one job it raises, for another it never returns.
INJECTED_FAULT = """
import time

_injected_original_to_attributes = to_attributes


def to_attributes(description, project_name="", job_name=""):  # injected by tests/runtime/test_reliability_runtime.py
    if job_name == "blocked-forever":
        time.sleep(3600)
    if job_name == "patched-bug":
        raise RuntimeError("injected fault in job.to_attributes")
    return _injected_original_to_attributes(description, project_name, job_name)
"""


def _scenario_internal_error_patched(m: Matrix) -> Run:
    job = "patched-bug"
    m.patched.lookoutvision.play(PROJECT, job, succeeded(job))
    return m.request(create(m, job), harness=m.patched)


def _scenario_put_flaky(m: Matrix) -> Run:
    job = "put-flaky"
    m.harness.lookoutvision.play(PROJECT, job, succeeded(job))
    return m.request(create(m, job), recorder=ResponseRecorder(fail_first=3))


PUT_ALWAYS_FAILS_DEADLINE_S = 15.0


def _scenario_put_always_fails(m: Matrix) -> Run:
    # A deadline of 15 s (what the runtime reports late in an invocation) keeps the bounded give-up short.
    job = "put-broken"
    m.harness.lookoutvision.play(PROJECT, job, succeeded(job))
    return m.request(
        create(m, job), recorder=ResponseRecorder(always_fail=True), first_timeout_s=PUT_ALWAYS_FAILS_DEADLINE_S
    )


def _scenario_deadline_mid_wait(m: Matrix) -> Run:
    job = "long-wait"
    m.harness.lookoutvision.play(PROJECT, job, running_then(job, 50, ok(description(job=job))))
    return m.request(create(m, job), first_timeout_s=HANDOFF_DEADLINE_S, continuation_timeout_s=HANDOFF_DEADLINE_S)


FAILED_MESSAGE = "Greengrass component creation failed: access denied to s3://pcb-models/packages/"


def _scenario_running_failed(m: Matrix) -> Run:
    job = "turns-failed"
    final = ok(description("FAILED", job=job, status_message=FAILED_MESSAGE))
    # The first look finds it RUNNING however late it comes: on a loaded machine the first describe can arrive after
    # the compressed clock has already passed the 5 minutes.
    first = [ok(description("RUNNING", job=job))]
    m.harness.lookoutvision.play(PROJECT, job, running_then(job, 5, final), first=first)
    return m.request(create(m, job))


def _scenario_no_output(m: Matrix) -> Run:
    job = "no-output"
    m.harness.lookoutvision.play(PROJECT, job, running_then(job, 5, ok(description(job=job, with_output=False))))
    return m.request(create(m, job))


def _scenario_update_rollback(m: Matrix) -> dict[str, Run]:
    old_job, bad_job, good_job = "upd-v3", "upd-v4", "upd-v5"
    lookoutvision = m.harness.lookoutvision
    lookoutvision.play(PROJECT, old_job, succeeded(old_job))
    lookoutvision.play(
        PROJECT, bad_job, [(0.0, ok(description("FAILED", job=bad_job, status_message="Training data missing")))]
    )
    lookoutvision.play(PROJECT, good_job, succeeded(good_job))
    old_id = f"{PROJECT}/{old_job}"

    def update(new: str, old: str, physical_id: str) -> Callable[[str], dict[str, Any]]:
        def build(url: str) -> dict[str, Any]:
            return make_event("Update", url, m.props(new), physical_id=physical_id, old_props=m.props(old))

        return build

    runs = {"changed": m.request(update(bad_job, old_job, old_id))}
    # CloudFormation rolls the failed update back: an Update from the new properties to the old ones.
    runs["rollback"] = m.request(update(old_job, bad_job, old_id))
    runs["changed_ok"] = m.request(update(good_job, old_job, old_id))
    return runs


FOREIGN_ID = "LookoutVisionModelGate_ModelPackagingJob21DA863A_QX7ZK2PL"


def _scenario_delete_foreign(m: Matrix) -> Run:
    def build(url: str) -> dict[str, Any]:
        props = m.props("never-made", project="never-made-project")
        return make_event("Delete", url, props, physical_id=FOREIGN_ID)

    return m.request(build)


def _scenario_wait_timeout(m: Matrix) -> Run:
    # What the continuation of a 60 s wait carries 57 s after it began: the wait_timeout expires in this invocation.
    job = "never-finishes"
    m.harness.lookoutvision.play(PROJECT, job, [(0.0, ok(description("RUNNING", job=job)))])

    def build(url: str) -> dict[str, Any]:
        event = make_event("Create", url, m.props(job, WaitTimeoutSeconds="60"))
        event["LookoutVisionWait"] = {"StartedAt": time.time() - 57, "Invocation": 2}
        return event

    return m.request(build)


def with_hand_off_fault(
    job: str, timeline: list[tuple[float, Step]], fault: Callable[[LambdaInvokeAPI, str], None]
) -> Callable[[Matrix], Run]:
    """A Create whose wait is handed on (72 s invocations), with ``fault`` set on lambda:Invoke for its RequestId."""

    def scenario(m: Matrix) -> Run:
        m.harness.lookoutvision.play(PROJECT, job, timeline)

        def build(url: str) -> dict[str, Any]:
            event = make_event("Create", url, m.props(job))
            fault(m.harness.invoke_api, event["RequestId"])
            return event

        return m.request(build, first_timeout_s=HANDOFF_DEADLINE_S, continuation_timeout_s=HANDOFF_DEADLINE_S)

    return scenario


_scenario_invoke_denied = with_hand_off_fault(
    "cannot-hand-off",
    [(0.0, ok(description("RUNNING", job="cannot-hand-off")))],
    lambda api, rid: api.fail_next(
        1, 403, "AccessDeniedException", "User is not authorized to perform: lambda:InvokeFunction", request_id=rid
    ),
)
_scenario_invoke_throttled = with_hand_off_fault(
    "hand-off-throttled",
    running_then("hand-off-throttled", 40, ok(description(job="hand-off-throttled"))),
    lambda api, rid: api.fail_next(1, 429, "TooManyRequestsException", "Rate exceeded", request_id=rid),
)
# Lambda queues the continuation at once but its 202 comes after the client's 10 s read timeout: the outcome is
# unknown to the handler, and a second attempt would start a second chain.
_scenario_invoke_answers_late = with_hand_off_fault(
    "hand-off-late-202",
    running_then("hand-off-late-202", 40, ok(description(job="hand-off-late-202"))),
    lambda api, rid: api.answer_late(1, 11.0, request_id=rid),
)


def _scenario_starts_with_seconds_left(m: Matrix) -> Run:
    # An invocation that starts with 4 s left: the timer's moment has come at once.
    job = "four-seconds-left"
    m.harness.lookoutvision.play(PROJECT, job, [(0.0, ok(description("RUNNING", job=job)))])
    return m.request(create(m, job), first_timeout_s=4.0, continuation_timeout_s=4.0)


TRICKLE_DEADLINE_S = 75.0


def _scenario_trickling_describe(m: Matrix) -> Run:
    # The first Describe answers one byte every 5 s: no read times out, but the call would outlast the hand-off point.
    job = "trickling-describe"
    steps = [trickle(5.0, ok(description("RUNNING", job=job)))]
    m.harness.lookoutvision.play(PROJECT, job, running_then(job, 30, ok(description(job=job))), first=steps)
    return m.request(create(m, job), first_timeout_s=TRICKLE_DEADLINE_S, continuation_timeout_s=TRICKLE_DEADLINE_S)


def _scenario_too_short_to_wait(m: Matrix) -> dict[str, Run]:
    # A function whose timeout was lowered to 61 s or 30 s: waiting in it would hand on at once, forever.
    runs = {}
    for seconds in (61.0, 30.0):
        job = f"only-{seconds:.0f}-seconds"
        m.harness.lookoutvision.play(PROJECT, job, [(0.0, ok(description("RUNNING", job=job)))])
        runs[job] = m.request(create(m, job), first_timeout_s=seconds, continuation_timeout_s=seconds)
    return runs


def _scenario_duplicates(m: Matrix) -> dict[str, Any]:
    # Lambda's asynchronous delivery is at least once: the same CloudFormation event, and the same continuation, twice.
    job = "delivered-twice"
    lookoutvision, function = m.harness.lookoutvision, m.harness.function
    lookoutvision.play(PROJECT, job, running_then(job, 10, ok(description(job=job))))
    outcome: dict[str, Any] = {}
    with (
        ResponseRecorder() as event_recorder,
        ResponseRecorder() as continuation_recorder,
        ResponseRecorder() as late_recorder,
    ):
        m.response_urls.extend([event_recorder.url, continuation_recorder.url, late_recorder.url])
        event = make_event("Create", event_recorder.url, m.props(job))
        continuation = make_event("Create", continuation_recorder.url, m.props(job))
        continuation["LookoutVisionWait"] = {"StartedAt": time.time(), "Invocation": 2}
        # Delivered again after the wait_timeout passed and the job SUCCEEDED (the first delivery answered long ago).
        late = make_event("Create", late_recorder.url, m.props(job, WaitTimeoutSeconds="60"))
        late["LookoutVisionWait"] = {"StartedAt": time.time() - 70, "Invocation": 2}
        for payload in (event, event, continuation, continuation):
            function.invoke(payload)
        for payload in (event, continuation):
            function.wait_request(payload["RequestId"], REQUEST_BOUND_S)
        function.invoke(late)
        function.wait_request(late["RequestId"], REQUEST_BOUND_S)
        time.sleep(0.05)
        outcome["event"] = list(event_recorder.bodies)
        outcome["continuation"] = list(continuation_recorder.bodies)
        outcome["late"] = list(late_recorder.bodies)
    outcome["api"] = lookoutvision.request_log(PROJECT, job)
    return outcome


# Any deadline will do (the hang is in our own code, not in a wait), as long as the kill and the cold start after it
# come while the matrix still runs (the throttling scenario takes 30 s and more) but not at the 12-18 s in when the
# other scenarios hand off, whose timing the cold start's CPU would disturb.
KILL_DEADLINE_S = 30.0


def _scenario_killed_at_deadline(m: Matrix) -> dict[str, Run]:
    # An invocation that hangs in our own code (the patched asset's to_attributes never returns for this job): the
    # handler's timer must answer before Lambda kills the process, and the next request must be served by a fresh
    # runtime process. On a function with one execution environment, so that the next request cannot go to another
    # warm one.
    job, next_job = "blocked-forever", "after-the-kill"
    m.patched.lookoutvision.play(PROJECT, job, succeeded(job))
    m.patched.lookoutvision.play(PROJECT, next_job, succeeded(next_job))
    runs = {"killed": m.request(create(m, job), first_timeout_s=KILL_DEADLINE_S, harness=m.patched)}
    runs["fresh"] = m.request(create(m, next_job), harness=m.patched)
    return runs


def _quoted(url: str) -> str:
    """The recorder's URL with both quote characters in its path: no pattern keyed on quotes can find its end."""
    return url.replace("x%7CJob%7Cid", 'it\'s-a-"quoted"-stack')


def _scenario_debug_logs(m: Matrix) -> dict[str, Run]:
    # LOG_LEVEL=DEBUG: crhelper then logs whole events, ResponseURL included, so the redaction has work to do.
    job = "debug-logging"
    m.debug.lookoutvision.play(PROJECT, job, running_then(job, 4, ok(description(job=job))))
    runs = {
        "success": m.request(create(m, job), harness=m.debug),
        "failed": m.request(create(m, "x", project="no-such-project"), harness=m.debug),
    }

    def quoted(url: str) -> dict[str, Any]:
        with m._lock:
            m.response_urls.append(_quoted(url))
        return make_event("Create", _quoted(url), m.props(job))

    runs["quoted"] = m.request(quoted, harness=m.debug)
    return runs


SCENARIOS.update(
    {
        "404project": _scenario_404_project,
        "404job": _scenario_404_job,
        "malformed_state": _scenario_malformed_state,
        "internal_patched": _scenario_internal_error_patched,
        "put_flaky": _scenario_put_flaky,
        "put_always_fails": _scenario_put_always_fails,
        "deadline_mid_wait": _scenario_deadline_mid_wait,
        "running_failed": _scenario_running_failed,
        "no_output": _scenario_no_output,
        "update": _scenario_update_rollback,
        "delete_foreign": _scenario_delete_foreign,
        "wait_timeout": _scenario_wait_timeout,
        "invoke_denied": _scenario_invoke_denied,
        "invoke_throttled": _scenario_invoke_throttled,
        "invoke_late": _scenario_invoke_answers_late,
        "seconds_left": _scenario_starts_with_seconds_left,
        "trickle": _scenario_trickling_describe,
        "too_short": _scenario_too_short_to_wait,
        "duplicates": _scenario_duplicates,
        "killed": _scenario_killed_at_deadline,
        "debug_logs": _scenario_debug_logs,
    }
)


# --- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matrix(
    gate_app: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Matrix]:
    work = tmp_path_factory.mktemp("fault-matrix")
    holder: dict[str, Matrix] = {}

    def timeout_policy(invocation: Invocation) -> float:
        return holder["m"].timeout_for(invocation)

    def function(name: str, **options: Any) -> LambdaHarness:
        return LambdaHarness(
            gate_app.function, work / name, lookoutvision=FakeLookoutVision(time_scale=SCALE), **options
        )

    injected = {"model_packaging_job/job.py": INJECTED_FAULT}
    with (
        function("main", max_concurrency=48, timeout_policy=timeout_policy) as harness,
        function("debug", max_concurrency=4, extra_environment={"LOG_LEVEL": "DEBUG"}) as debug,
        function(
            "patched",
            max_concurrency=1,
            task_root=prepare_task_root(gate_app.function, work / "patched-task", injected),
        ) as patched,
    ):
        m = Matrix(gate_app, harness, debug, patched)
        holder["m"] = m
        started = time.monotonic()
        # One warm environment per concurrent request, as Lambda would have after a first deployment.
        warm = harness.function.prewarm(len(SCENARIOS) + 4)
        debug.function.prewarm(1)
        patched.function.prewarm(1)
        print(f"\n[fault matrix] {len(SCENARIOS) + 4} environments warm in {warm:.1f} s")
        # Which interpreter runs the asset goes into the run's output, passed or failed.
        probe = probe_runtime(m.harness.function)
        say(
            request.config,
            f"\n[runtime] the asset runs on Python {probe['python']} ({probe['executable']}), "
            f"awslambdaric + botocore {probe['botocore_version']} from {RUNTIME_DIR}"
            + (f"; {RUNTIME_NOTE}" if RUNTIME_NOTE else ""),
        )
        for key, scenario in SCENARIOS.items():
            m.start(key, scenario)
        try:
            yield m
        finally:
            m.close()
            print(f"[fault matrix] wall time {time.monotonic() - started:.1f} s")


# --- the stand-in itself -------------------------------------------------------------------------------------------


def test_the_function_is_configured_from_the_synthesized_template(gate_app: SynthesizedApp, matrix: Matrix) -> None:
    spec = gate_app.function
    assert spec.handler == "model_packaging_job.index.handler"
    # The gate stack has one job, which has the default polling budget to itself.
    assert spec.environment == {
        "AWS_DATA_PATH": "/var/task/models",
        "LOG_LEVEL": "INFO",
        "DESCRIBE_BUDGET_RPS": "4",
        "DESCRIBE_BUDGET_JOBS": "1",
    }
    assert spec.timeout_s == 900
    assert spec.asset_dir.parent == gate_app.assembly_dir and spec.asset_dir.name.startswith("asset.")
    assert spec.async_retries == 0, "an async retry would answer CloudFormation twice"
    task_root = matrix.harness.task_root
    assert {p.name for p in task_root.iterdir()} >= {"model_packaging_job", "crhelper", "models"}

    report = probe_runtime(matrix.harness.function)
    assert report["botocore_version"] == "1.44.5"
    assert Path(report["botocore_file"]).is_relative_to(RUNTIME_DIR)
    assert Path(report["awslambdaric"]).is_relative_to(RUNTIME_DIR)
    # Python 3.13 where the machine has it (make setup found it); otherwise RUNTIME_NOTE said so in the output.
    if not RUNTIME_NOTE:
        assert report["python"].startswith(f"{RUNTIME_TARGET}."), report["python"]
        assert report["executable"] == str(RUNTIME_PYTHON)
    assert report["bare_has_lookoutvision"] is False
    assert report["with_data_path_has_lookoutvision"] is True
    assert report["aws_data_path"] == f"{task_root}/models", "AWS_DATA_PATH must map /var/task to the task root"
    assert report["dev_environment_importable"] is False
    assert report["cwd"] == str(task_root)
    assert not any("site-packages" in p or ".venv" in p for p in report["sys_path"]), report["sys_path"]


# --- throttling, server errors, transport failures: retried, then SUCCESS ------------------------------------------


@pytest.mark.parametrize(
    ("key", "name", "job", "calls", "min_gap_s", "logged"),
    [
        (
            "throttling",
            "throttling burst (3x 429 ThrottlingException, Retry-After: 3)",
            "throttled",
            4,
            THROTTLE_RETRY_AFTER_S - 0.1,  # Retry-After is honoured
            ["ThrottlingException", "retrying"],
        ),
        ("http500", "HTTP 500 InternalServerException twice", "http-500", 3, 0.0, []),
        ("http503", "HTTP 503 ServiceUnavailableException twice", "http-503", 3, 0.0, []),
        ("reset", "connection reset twice", "conn-reset", 3, 0.0, []),
        ("malformed", "malformed JSON body twice", "malformed-json", 3, 0.0, []),
        # The second call comes after the read timeout.
        ("slow", "response slower than the 10 s read timeout (11 s)", "slow-answer", 2, 10.0, ["ReadTimeoutError"]),
    ],
)
def test_a_transient_failure_is_retried_to_success(
    matrix: Matrix, key: str, name: str, job: str, calls: int, min_gap_s: float, logged: list[str]
) -> None:
    run = matrix.result(key)
    with verdict(name, "SUCCESS", run):
        assert_request_ended_well(run, "SUCCESS")
        assert_success_data(run.only, job)
        assert len(run.api) == calls
        assert all(gap >= min_gap_s for gap in gaps(run.api)), f"retried too soon: {gaps(run.api)}"
        assert not logged or any(all(word in line for word in logged) for line in run.log_lines), logged


# --- errors that retrying cannot fix: FAILED with one line saying what to fix --------------------------------------


@pytest.mark.parametrize(
    ("key", "name", "physical_id", "words"),
    [
        ("http403", "HTTP 403 AccessDeniedException", "pcb/denied", ["Access denied", DESCRIBE_ACTION]),
        (
            "404project",
            "HTTP 404 ResourceNotFoundException (project)",
            "no-such-project/any-job",
            ["project 'no-such-project' does not exist", "project_name"],
        ),
        (
            "404job",
            "HTTP 404 ResourceNotFoundException (job)",
            "pcb/no-such-job",
            ["job 'no-such-job' does not exist in project 'pcb'", "job_name"],
        ),
        (
            "validation",
            "HTTP 400 ValidationException",
            "pcb/bad-request",
            ["rejected the request", "failed to satisfy constraint"],
        ),
    ],
)
def test_an_error_retrying_cannot_fix_answers_failed_at_once_naming_it(
    matrix: Matrix, key: str, name: str, physical_id: str, words: list[str]
) -> None:
    run = matrix.result(key)
    with verdict(name, "FAILED", run):
        assert_request_ended_well(run, "FAILED")
        assert all(word in run.only["Reason"] for word in words), run.only["Reason"]
        assert run.only["PhysicalResourceId"] == physical_id
        assert len(run.api) == 1


def test_a_malformed_wait_state_answers_failed_naming_it(matrix: Matrix) -> None:
    run = matrix.result("malformed_state")
    with verdict("continuation with an impossible StartedAt (10**400)", "FAILED", run):
        reason = failed_reason(run)
        assert reason.startswith("Invalid continuation of the wait: LookoutVisionWait.StartedAt"), reason
        assert "not a finite time" in reason, reason
        assert run.only["PhysicalResourceId"] == f"{PROJECT}/malformed-state"
        assert run.api == [] and run.invokes == [], "a state that cannot be trusted is neither waited on nor passed on"


def test_a_bug_deep_in_our_code_answers_failed_without_a_trace(matrix: Matrix) -> None:
    run = matrix.result("internal_patched")
    with verdict("exception inside our code (asset copy whose to_attributes raises)", "FAILED", run):
        reason = failed_reason(run)
        assert reason.startswith("Internal error in the ModelPackagingJob handler (RuntimeError)"), reason
        assert "injected fault" not in reason, "the exception's text stays in the log"
        assert len(run.api) == 1
        assert any("injected fault in job.to_attributes" in line for line in run.log_lines)


# --- the ResponseURL -----------------------------------------------------------------------------------------------


def test_response_url_failing_three_times_then_accepting_gets_one_answer(matrix: Matrix) -> None:
    run = matrix.result("put_flaky")
    with verdict("response-URL PUT fails 3x (HTTP 500), then succeeds", "SUCCESS", run):
        assert_request_ended_well(run, "SUCCESS")
        assert run.recorder.attempts == 4
        assert [ok_ for _, ok_ in run.recorder.attempt_log] == [False, False, False, True]


def test_response_url_failing_always_gives_up_before_the_deadline(matrix: Matrix) -> None:
    run = matrix.result("put_always_fails")
    with verdict("response-URL PUT fails always (bounded give-up)", "NO_ANSWER", run):
        assert_request_ended_well(run, "NO_ANSWER")
        (invocation,) = run.invocations
        assert invocation.deadline is not None and invocation.finished_at is not None
        assert run.recorder.attempts >= 3, "the sender must retry while time remains"
        last_attempt = run.recorder.attempt_log[-1][0]
        assert last_attempt <= invocation.deadline
        margin = invocation.deadline - invocation.finished_at
        run.notes["detail"] = f"{run.recorder.attempts} PUTs; runtime returned {margin:.1f} s before its deadline"
        assert margin > 0, "the runtime must return before its deadline"
        assert any("Gave up answering CloudFormation" in line for line in run.log_lines)


# --- waiting: deadlines, hand-offs, terminal states ----------------------------------------------------------------


def test_deadline_mid_wait_hands_off_and_the_continuation_answers_once(matrix: Matrix) -> None:
    run = matrix.result("deadline_mid_wait")
    with verdict("Lambda deadline mid-wait: hand-off, continuation, SUCCESS", "SUCCESS", run):
        assert_request_ended_well(run, "SUCCESS")
        assert_success_data(run.only, "long-wait")
        invocations = run.invocations
        run.notes["detail"] = f"{len(invocations)} invocations"
        assert len(invocations) >= 3, f"20 virtual minutes at {SCALE:g}x with ~3 s per invocation: {invocations}"
        assert len(run.invokes) == len(invocations) - 1
        assert all(call.status == 202 and call.signed for call in run.invokes)
        first = invocations[0].event
        assert "LookoutVisionWait" not in first
        started = {inv.event["LookoutVisionWait"]["StartedAt"] for inv in invocations[1:]}
        assert len(started) == 1, f"every continuation measures the wait from one start: {started}"
        assert [inv.event["LookoutVisionWait"]["Invocation"] for inv in invocations[1:]] == list(
            range(2, len(invocations) + 1)
        )
        for inv in invocations[1:]:
            forwarded = {k: v for k, v in inv.event.items() if k != "LookoutVisionWait"}
            assert forwarded == first, "a continuation must carry the original request unchanged"
        assert _sender(run, run.recorder.answer_times[0]) is invocations[-1]
        # The pace holds across hand-offs: a continuation takes its first look when the last one would have.
        assert min(gaps(run.api)) >= 2.0 - 0.05, f"looks closer than the 2-4.5 s pace: {gaps(run.api)}"


def test_running_then_failed_answers_with_the_jobs_message(matrix: Matrix) -> None:
    run = matrix.result("running_failed")
    with verdict("job RUNNING -> FAILED", "FAILED", run):
        assert_request_ended_well(run, "FAILED")
        assert run.only["Reason"] == f"Model packaging job {PROJECT}/turns-failed FAILED: {FAILED_MESSAGE}"
        assert run.only["Data"]["Status"] == "FAILED"
        assert [r["throttled"] for r in run.api].count(False) >= 2


def test_running_then_succeeded_without_output_fails_clearly(matrix: Matrix) -> None:
    run = matrix.result("no_output")
    with verdict("job RUNNING -> SUCCEEDED without output details", "FAILED", run):
        reason = failed_reason(run)
        assert "SUCCEEDED but reported no Greengrass output details" in reason, reason
        assert f"{PROJECT}/no-output" in reason


def test_wait_timeout_names_project_job_status_and_minutes(matrix: Matrix) -> None:
    run = matrix.result("wait_timeout")
    with verdict("wait_timeout expires (60 s, RUNNING)", "FAILED", run):
        reason = failed_reason(run)
        assert re.search(r"Timed out after 1\.\d minutes", reason), reason
        assert f"{PROJECT}/never-finishes" in reason and "last status RUNNING" in reason, reason
        assert len(run.invocations) == 1 and run.invokes == []


def test_a_refused_hand_off_answers_failed_naming_the_permission(matrix: Matrix) -> None:
    run = matrix.result("invoke_denied")
    with verdict("hand-off refused (lambda:Invoke 403)", "FAILED", run):
        reason = failed_reason(run)
        assert "lambda:InvokeFunction" in reason and "last status RUNNING" in reason, reason
        assert len(run.invocations) == 1
        assert [c.status for c in run.invokes] == [403]


def test_a_throttled_hand_off_is_retried(matrix: Matrix) -> None:
    run = matrix.result("invoke_throttled")
    with verdict("hand-off throttled once (lambda:Invoke 429), then continued", "SUCCESS", run):
        assert_request_ended_well(run, "SUCCESS")
        assert_success_data(run.only, "hand-off-throttled")
        statuses = [c.status for c in run.invokes]
        assert statuses[:2] == [429, 202], statuses
        assert len(run.invocations) == statuses.count(202) + 1


def test_a_hand_off_whose_answer_is_late_starts_one_chain(matrix: Matrix) -> None:
    run = matrix.result("invoke_late")
    with verdict("hand-off accepted, 202 after the 11 s read timeout: one chain", "SUCCESS", run):
        assert_request_ended_well(run, "SUCCESS")
        assert_success_data(run.only, "hand-off-late-202")
        counts = [inv.event["LookoutVisionWait"]["Invocation"] for inv in run.invocations[1:]]
        assert counts == list(range(2, len(run.invocations) + 1)), f"a second chain started: {counts}"
        assert len(run.invokes) == len(run.invocations) - 1, "an Invoke of unknown outcome is never repeated"
        assert any("handOffUnknown" in line for line in run.log_lines)


def test_an_invocation_starting_with_seconds_left_answers_once_and_hands_nothing_on(matrix: Matrix) -> None:
    run = matrix.result("seconds_left")
    with verdict("invocation starts with 4 s left: one FAILED, no hand-off", "FAILED", run):
        assert_request_ended_well(run, "FAILED", killed_ok=True)
        assert run.invokes == [] and len(run.invocations) == 1, run.invocations
        reason = run.only["Reason"]
        assert "had 4 s" in reason or "ran out of time" in reason, reason


def test_a_describe_that_trickles_is_cut_off_before_the_hand_off(matrix: Matrix) -> None:
    run = matrix.result("trickle")
    with verdict("Describe trickles 1 byte / 5 s (no read timeout): cut at the hand-off point", "SUCCESS", run):
        assert_request_ended_well(run, "SUCCESS")
        assert_success_data(run.only, "trickling-describe")
        first = run.invocations[0]
        assert first.dispatched_at is not None and run.invokes, "the wait must have been handed on"
        handed_on_after = run.invokes[0].at - first.dispatched_at
        usable = TRICKLE_DEADLINE_S - 60.0
        assert handed_on_after <= usable + 2.0, f"handed on {handed_on_after:.1f} s in, past the hand-off point"
        assert any("CallTimeoutError" in line and "retrying" in line for line in run.log_lines)


def test_an_invocation_too_short_to_wait_in_looks_once_and_answers_failed(matrix: Matrix) -> None:
    runs = matrix.result("too_short")
    for job, run in runs.items():
        with verdict(f"function timeout too short to wait in ({job})", "FAILED", run):
            reason = failed_reason(run)
            assert "a wait needs at least 69 s per invocation" in reason and "Restore the function's timeout" in reason
            assert len(run.invocations) == 1 and run.invokes == [], "no chain of invocations"
            assert len(run.api) == 1, "one look, in case the job needs no waiting"


def test_duplicate_deliveries_answer_success_only(matrix: Matrix) -> None:
    outcome = matrix.result("duplicates")
    statuses = {key: [body["Status"] for body in outcome[key]] for key in ("event", "continuation", "late")}
    name = "same event and same continuation delivered twice; a late duplicate"
    detail = f"answers {statuses}, {len(outcome['api'])} API calls"
    passed = statuses == {"event": ["SUCCESS"] * 2, "continuation": ["SUCCESS"] * 2, "late": ["SUCCESS"]}
    reliability_report.record_scenario(
        name,
        suite=SUITE,
        expected="SUCCESS",
        outcome="SUCCESS" if passed else "MIXED",
        answers=5,
        hang=False,
        detail=detail,
    )
    assert passed, detail


def test_the_timer_answers_before_lambda_kills_a_blocked_invocation(matrix: Matrix) -> None:
    runs = matrix.result("killed")
    killed, fresh = runs["killed"], runs["fresh"]
    with verdict("our code hangs: the timer answers, Lambda kills at the deadline", "FAILED", killed):
        assert_request_ended_well(killed, "FAILED", killed_ok=True)
        (invocation,) = killed.invocations
        assert invocation.status == "timed_out", "the hang outlives the deadline"
        assert "ran out of time" in killed.only["Reason"]
        assert any(f"Task timed out after {KILL_DEADLINE_S:.2f} seconds" in line for line in killed.log_lines)
        killed.notes["detail"] = "answered by the timer; runtime killed at the deadline"
    with verdict("after a killed invocation, a fresh runtime process answers", "SUCCESS", fresh):
        assert_request_ended_well(fresh, "SUCCESS")
        environments = matrix.patched.function.environments
        dead = next(e for e in environments if e.env_id == invocation.env_id)
        assert dead.state == "dead" and dead.process.returncode == -9, "Lambda kills the timed-out runtime"
        (served_by,) = [e for e in environments if e.env_id == fresh.invocations[0].env_id]
        assert served_by is not dead
        assert invocation.finished_at is not None and served_by.started_at >= invocation.finished_at, (
            "the next request must get a runtime process started after the kill (a new cold start)"
        )


# --- updates and deletes -------------------------------------------------------------------------------------------


def test_update_to_a_failed_job_then_rollback_update(matrix: Matrix) -> None:
    runs = matrix.result("update")
    with verdict("Update to a changed job that FAILED (keeps the old id)", "FAILED", runs["changed"]) as run:
        assert_request_ended_well(run, "FAILED")
        assert run.only["PhysicalResourceId"] == f"{PROJECT}/upd-v3", "a failed Update must not look like a replacement"
        assert "upd-v4 FAILED: Training data missing" in run.only["Reason"]
    with verdict("rollback Update to the previous job", "SUCCESS", runs["rollback"]) as run:
        assert_request_ended_well(run, "SUCCESS")
        assert_success_data(run.only, "upd-v3")
    with verdict("Update to a changed job that SUCCEEDED (new id)", "SUCCESS", runs["changed_ok"]) as run:
        assert_request_ended_well(run, "SUCCESS")
        assert_success_data(run.only, "upd-v5")


def test_delete_with_a_physical_id_we_never_made(matrix: Matrix) -> None:
    run = matrix.result("delete_foreign")
    with verdict("Delete with a physical id we never made", "SUCCESS", run):
        assert_request_ended_well(run, "SUCCESS")
        assert run.only["PhysicalResourceId"] == FOREIGN_ID
        assert run.api == [] and run.invokes == [], "Delete calls no API"


# --- logs ----------------------------------------------------------------------------------------------------------


def test_debug_logging_still_redacts_the_response_url(matrix: Matrix) -> None:
    runs = matrix.result("debug_logs")
    with verdict("LOG_LEVEL=DEBUG: SUCCESS without leaking the ResponseURL", "SUCCESS", runs["success"]) as run:
        assert_request_ended_well(run, "SUCCESS")
        assert any('"level": "DEBUG"' in line for line in run.log_lines), "DEBUG must be on for this to mean anything"
    with verdict("LOG_LEVEL=DEBUG: FAILED without leaking the ResponseURL", "FAILED", runs["failed"]) as run:
        assert_request_ended_well(run, "FAILED")
    with verdict("LOG_LEVEL=DEBUG: a ResponseURL holding both quotes is not leaked", "SUCCESS", runs["quoted"]) as run:
        assert_request_ended_well(run, "SUCCESS")
        url = _quoted(run.recorder.url)
        assert run.recorder.paths and "quoted" in run.recorder.paths[0], "the answer went to the quoted URL"
        assert any("LookoutVisionWait" not in line and "ResponseURL" in line for line in run.log_lines)
        leaks = leaked_lines(run.log_lines, [url])
        assert leaks == [], f"log lines carry the quoted ResponseURL: {leaks[:3]}"


def test_zz_no_captured_log_line_carries_a_response_url(matrix: Matrix) -> None:
    """Every line every runtime process printed in this module, against every ResponseURL any scenario used."""
    for key in SCENARIOS:
        matrix.result(key)  # every scenario has ended
    harnesses = (matrix.harness, matrix.debug, matrix.patched)
    lines = [line for h in harnesses for line in h.function.log_lines()]
    reliability_report.record_log_lines(len(lines))
    print(f"\n[fault matrix] {len(lines)} log lines checked against {len(matrix.response_urls)} ResponseURLs")
    assert len(lines) > 100
    leaks = leaked_lines(lines, matrix.response_urls)
    assert leaks == [], f"{len(leaks)} log lines carry a ResponseURL, e.g. {leaks[:3]}"
    assert any("<redacted>" in line for line in lines), "the DEBUG scenario must have exercised the redaction"


def test_the_leak_check_sees_a_leak() -> None:
    """Negative control for the log checks: a line with the URL, its path or its signature is caught."""
    url = (
        "http://127.0.0.1:1/cloudformation-custom-resource-response-useast1/arn%3Aaws%3Acloudformation%3Aus-east-1"
        "%3A123456789012%3Astack/S/x%7CJob%7Cid?X-Amz-Expires=7200&X-Amz-Signature=0123456789abcdef"
    )
    path = url.split("?")[0].split(":1", 1)[1]
    lines = [f"sending to {url}", f"PUT {path}", "sig 0123456789abcdef", "X-Amz-Signature=<redacted>", "all good"]
    assert leaked_lines(lines, [url]) == lines[:4]


def test_zz_harness_collects_platform_lines_and_freezes_idle_environments(matrix: Matrix) -> None:
    for key in SCENARIOS:
        matrix.result(key)  # every scenario has ended
    lines = matrix.harness.function.log_lines()
    assert any(line.startswith("START RequestId: ") for line in lines)
    assert any(line.startswith("REPORT RequestId: ") for line in lines)
    idle = [e for e in matrix.harness.function.environments if e.state == "ready" and e.process.poll() is None]
    assert idle, "no idle environment left to look at"
    states = {Path(f"/proc/{e.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] for e in idle}
    assert states == {"T"}, f"idle runtimes must be frozen (SIGSTOP) like Lambda's: states {states}"


def test_harness_reports_an_init_error(gate_app: SynthesizedApp, tmp_path: Path) -> None:
    """Harness self-test: a handler that cannot be loaded posts /runtime/init/error, and the invocation fails with
    it instead of starting runtimes forever."""
    broken = dataclasses.replace(gate_app.function, handler="model_packaging_job.index.no_such_handler")
    with LambdaHarness(broken, tmp_path, max_concurrency=1) as harness:
        invocation = harness.function.invoke({"RequestType": "Create"}, timeout_s=30)
        assert invocation.done.wait(30), "the invocation never ended"
        assert invocation.status == "init_failed"
        assert invocation.error_type == "Runtime.HandlerNotFound"
        assert [error_type for _, error_type, _ in harness.function.init_errors] == ["Runtime.HandlerNotFound"]
        assert len(harness.function.environments) == 1
