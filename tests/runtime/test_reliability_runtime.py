"""The fault matrix of what only a real process shows, on the asset under awslambdaric (tests/e2e_support.py):
Lambda's deadlines, the hand-off chain across real invocations, the timer's answer before Lambda kills a blocked
invocation, frozen runtimes, and what a runtime process logs. What a handler in process can show is asserted in
tests/unit and tests/protocol.

The function runs at LOG_LEVEL=DEBUG, where crhelper logs whole events, ResponseURL included, so the redaction has
work to do; a job's status changes on the wall clock. The scenarios run at once.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import FunctionSpec, Invocation, LocalLambda
from support import ResponseRecorder, description, leaked_lines, make_event, ok, properties

PROJECT = "pcb"
# An invocation this long hands the wait on after ~12 s (60 s before its deadline, and room for two looks at the
# 2-4.5 s pace besides: 69 s is the shortest that can wait).
HANDOFF_DEADLINE_S = 72.0
# Long enough that the kill and the cold start after it do not disturb the other scenarios' hand-offs (12-18 s in).
KILL_DEADLINE_S = 30.0
REQUEST_BOUND_S = 120.0
# Appended to job.py in a copy of the asset: our own code blocks for this job, on the success path.
BLOCKED_JOB = "blocked-forever"
INJECTED_HANG = f"""
import time as _time

_unblocked_to_attributes = to_attributes


def to_attributes(description, project_name="", job_name=""):  # injected by {__name__}
    if job_name == "{BLOCKED_JOB}":
        _time.sleep(3600)
    return _unblocked_to_attributes(description, project_name, job_name)
"""


@dataclass
class Run:
    """One CloudFormation request through the stand-in, and everything it caused."""

    event: dict[str, Any]
    recorder: ResponseRecorder
    invocations: list[Invocation]
    looks: list[dict[str, Any]]

    def sender(self) -> Invocation:
        """The invocation that was running when the answer arrived."""
        at = self.recorder.requests[0]["at"]
        [running] = [i for i in self.invocations if (i.dispatched_at or at + 1) <= at <= (i.finished_at or at) + 0.05]
        return running


def request(function: LocalLambda, job: str) -> Run:
    """Send a Create watching ``job`` and wait (bounded) until its whole chain of invocations ended."""
    with ResponseRecorder() as recorder:
        sent = make_event("Create", recorder.url, properties(PROJECT, job))
        function.invoke(sent)
        invocations = function.wait_request(sent["RequestId"], REQUEST_BOUND_S)
        time.sleep(0.05)  # an answer is sent before its invocation returns: let the recorder's thread note it
    looks = [r for r in function.lookoutvision.requests if r["job"] == job]
    return Run(sent, recorder, invocations, looks)


def ended_well(run: Run, expected: str, *, killed: bool = False) -> dict[str, Any]:
    """The rules every scenario shares (``request`` bounds it): each invocation returned before its deadline (or,
    ``killed``, was killed at it), and one answer sent before the deadline of the invocation that sent it (its form:
    the fuzz)."""
    for invocation in run.invocations:
        if not (killed and invocation.status == "timed_out"):
            returned = invocation.status == "success" and invocation.finished_at <= invocation.deadline  # type: ignore[operator]
            assert returned, f"{invocation.status} {invocation.result[:500]!r}"
    [body] = run.recorder.bodies
    assert (body["Status"], body["RequestId"]) == (expected, run.event["RequestId"]), body["Reason"]
    sender = run.sender()
    assert sender.deadline is not None and run.recorder.requests[0]["at"] <= sender.deadline, "answered too late"
    return body


@dataclass
class Matrix:
    function: LocalLambda
    blocking: LocalLambda  # a copy of the asset with INJECTED_HANG
    runs: dict[str, Future[Any]]


def hand_off_chain(m: Matrix) -> Run:
    # The job SUCCEEDS 30 s after the first look (not after scripting it: a cold start comes between), past the
    # hand-off points of the first two invocations (one every ~12 s).
    job, first_look = "long-wait", []
    running, done = ok(description("RUNNING", job=job)), ok(description(job=job))

    def status() -> Any:
        first_look[:] = first_look or [time.monotonic()]
        return running if time.monotonic() < first_look[0] + 30.0 else done

    m.function.lookoutvision.script(PROJECT, job, [status])
    return request(m.function, job)


def killed_at_the_deadline(m: Matrix) -> dict[str, Run]:
    # Our own code blocks: the timer must answer before Lambda kills the process, and the next request must be served
    # by a fresh one.
    for job in (BLOCKED_JOB, "after-the-kill"):
        m.blocking.lookoutvision.script(PROJECT, job, [ok(description(job=job))])
    return {"killed": request(m.blocking, BLOCKED_JOB), "fresh": request(m.blocking, "after-the-kill")}


@pytest.fixture(scope="module")
def matrix(gate_function: FunctionSpec, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    work = tmp_path_factory.mktemp("fault-matrix")
    debug = dataclasses.replace(gate_function, environment=gate_function.environment | {"LOG_LEVEL": "DEBUG"})
    handing_off = dataclasses.replace(debug, timeout_s=HANDOFF_DEADLINE_S)
    blocked_root = shutil.copytree(gate_function.asset_dir, work / "blocked-task")
    with open(blocked_root / "cdk_lookoutvision_packaging_handler" / "job.py", "a") as source:
        source.write(INJECTED_HANG)
    blocking = dataclasses.replace(debug, timeout_s=KILL_DEADLINE_S, asset_dir=blocked_root)
    with (
        LocalLambda(handing_off) as function,
        LocalLambda(blocking) as blocked,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        m = Matrix(function, blocked, {})
        m.runs = {scenario.__name__: pool.submit(scenario, m) for scenario in (hand_off_chain, killed_at_the_deadline)}
        yield m


def result(m: Matrix, scenario: Callable[[Matrix], Any]) -> Any:
    return m.runs[scenario.__name__].result(timeout=REQUEST_BOUND_S * 3)


def test_a_wait_past_the_lambda_deadline_is_handed_on_and_the_chain_answers_once(matrix: Matrix) -> None:
    run = result(matrix, hand_off_chain)
    body = ended_well(run, "SUCCESS")
    assert (body["PhysicalResourceId"], body["Data"]["Status"]) == (f"{PROJECT}/long-wait", "SUCCEEDED")
    # Each continuation was queued by a signed Event Invoke (LocalLambda refuses any other); what it carries is
    # asserted in tests/unit/test_continuation.py and tests/protocol/test_handler.py.
    assert len(run.invocations) >= 3, f"30 s of waiting with ~12 s per invocation: {run.invocations}"
    assert run.sender() is run.invocations[-1], "only the last invocation answers"
    # The pace holds across hand-offs: a continuation takes its first look when the last one would have.
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(run.looks)]
    assert min(gaps) >= 2.0 - 0.05, f"looks closer than the 2-4.5 s pace: {gaps}"


def test_the_timer_answers_before_lambda_kills_a_blocked_invocation_and_a_fresh_process_serves_the_next(
    matrix: Matrix,
) -> None:
    runs = result(matrix, killed_at_the_deadline)
    killed, fresh = runs["killed"], runs["fresh"]
    assert "ran out of time" in ended_well(killed, "FAILED", killed=True)["Reason"]
    ended_well(fresh, "SUCCESS")
    [invocation] = killed.invocations
    assert invocation.status == "timed_out", "the block outlives the deadline"
    assert fresh.invocations[0].env is not invocation.env, "a new cold start"


def test_zz_no_line_a_runtime_process_logged_carries_a_response_url_and_idle_runtimes_are_frozen(
    matrix: Matrix,
) -> None:
    runs = [result(matrix, hand_off_chain), *result(matrix, killed_at_the_deadline).values()]
    lines = [*matrix.function.logs, *matrix.blocking.logs]
    urls = [run.recorder.url for run in runs]
    assert leaked_lines([f"PUT {urls[0]}", "X-Amz-Signature=0123"], urls[:1]) != [], "the check must see a leak"
    assert leaked_lines(lines, urls) == [], "a log line carries a ResponseURL"
    # At DEBUG crhelper logs every event: the check means something only if those lines were read, redacted.
    assert any("'ResponseURL': '<redacted>'" in line for line in lines), "no DEBUG line of an event was seen"
    idle = [e for e in matrix.function.environments if e.state == "ready" and e.process.poll() is None]
    states = {Path(f"/proc/{e.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] for e in idle}
    assert idle and states == {"T"}, f"idle runtimes must be frozen (SIGSTOP) like Lambda's: states {states}"
