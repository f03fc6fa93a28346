"""Load: one stack with 100 ModelPackagingJobs, whose Create events arrive at once, against a
Lookout for Vision API that throttles above 5 requests per second.

The stack is synthesized in-process with aws_cdk; the 100 custom resources' properties come from its template, as
CloudFormation would send them. The function is the asset of that synthesis, run by the Lambda stand-in of
tests/lambda_runtime.py in one execution environment per concurrent request, as Lambda would scale out (100 runtime
processes, pre-warmed, when the machine has the memory; the count is printed). CloudFormation's 100 asynchronous
lambda:Invoke calls are made through the loopback Invoke API from 100 threads.

Jobs: half are already SUCCEEDED; the other half are RUNNING until 40-55 virtual minutes and then SUCCEEDED, on a
clock compressed 60x. The loopback API is a token bucket (5 tokens, refilled at 5 per second); a request finding it
empty gets 429 ThrottlingException with Retry-After: 1.

Every job must answer SUCCESS exactly once, before its deadline. Steady state is the stretch between the end of the
start (WARMUP_S = 20 s after the events arrive: the time the quota needs to serve one call per job) and the first
RUNNING job finishing (40 s): 50 waiters polling, a constant demand. There, measured per 1 s window:
- the accepted rate cannot exceed the quota beyond the bucket's burst (the server enforces it; checked anyway), and
  averages at most the quota;
- the offered rate (every request, throttled ones included) must not exceed the quota: its mean over the steady
  windows is at most the quota. A fleet that offers more than the quota is held back by the service's throttling,
  not by the client.
The stack's jobs share the construct's default budget of 4 requests per second, so the same must hold from the
first event to the last answer, and throttling stays the exception: at most THROTTLED_FRACTION of all calls. (Their
first looks are spread at random, so a second can still see more calls than the bucket holds; a simulation of this
setup gave 2.8 throttled calls of 182 on average, 14 at most, over 2,000 runs.)
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import reliability_report
from botocore.config import Config
from lambda_runtime import (
    FunctionSpec,
    Invocation,
    LambdaHarness,
    cfn_properties,
    leaked_lines,
    wait_until,
)
from support import FUNCTION_ARN, FakeLookoutVision, ResponseRecorder, description, make_event, ok

from model_packaging_job.contract import RESOURCE_TYPE

SUITE = "load"
JOBS = 100
PROJECT = "pcb"
QUOTA_RPS = 5.0
BURST = 5
SCALE = 60.0
# Steady state, in seconds after the events were sent: after the initial burst (the time the quota needs to serve one
# call per job: a burst of 100 first calls cannot drain faster), before the first RUNNING job ends.
WARMUP_S = JOBS / QUOTA_RPS
RUNNING_MINUTES = (40, 55)
STEADY_END_S = RUNNING_MINUTES[0] * 60.0 / SCALE
# The construct's default polling budget, which the 100 jobs share, and the largest share of calls that may be
# throttled over the whole run.
BUDGET_RPS = 4.0
THROTTLED_FRACTION = 0.1
LOAD_BOUND_S = 300.0
RUNTIME_RSS_BUDGET_MB = 90


@dataclass(frozen=True)
class LoadApp:
    outdir: Path
    template: dict[str, Any]
    function: FunctionSpec
    resources: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def load_app(tmp_path_factory: pytest.TempPathFactory) -> LoadApp:
    import aws_cdk as cdk

    from cdk_lookoutvision_packaging import ModelPackagingJob

    outdir = tmp_path_factory.mktemp("load-synth")
    # The CLI asks for asset metadata (aws:asset:path) this way; an in-process App must ask itself.
    app = cdk.App(outdir=str(outdir), context={"aws:cdk:enable-asset-metadata": True})
    stack = cdk.Stack(app, "LoadTest100Jobs", env=cdk.Environment(account="123456789012", region="us-east-1"))
    for i in range(JOBS):
        ModelPackagingJob(stack, f"Job{i:03d}", project_name=PROJECT, job_name=f"pcb-load-{i:03d}")
    assembly = app.synth()
    template = assembly.get_stack_by_name("LoadTest100Jobs").template
    resources = {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == RESOURCE_TYPE}
    return LoadApp(Path(assembly.directory), template, FunctionSpec.from_template(template, outdir), resources)


def _mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _per_second(times: list[float], start: float, end: float) -> list[int]:
    """Counts per 1 s window [start + k, start + k + 1) that lies wholly before ``end``."""
    windows = max(0, math.floor(end - start))
    counts = Counter(math.floor(t - start) for t in times if start <= t < start + windows)
    return [counts.get(k, 0) for k in range(windows)]


@pytest.fixture(scope="module")
def environments() -> int:
    """One execution environment per concurrent request, as far as memory allows (half of what is available)."""
    affordable = int(_mem_available_mb() * 0.5 // RUNTIME_RSS_BUDGET_MB)
    return max(10, min(JOBS, affordable))


@dataclass(repr=False)
class LoadRun:
    """What one load run produced; the tests below judge it."""

    resources: dict[str, dict[str, Any]]
    jobs: dict[str, str]
    events: list[dict[str, Any]]
    answers: list[dict[str, Any]]
    paths: list[str]
    invocations: list[Invocation]
    log_lines: list[str]
    hung: bool
    offered: list[int]
    accepted: list[int]
    offered_whole_run: list[int]
    figures: dict[str, Any]

    @property
    def mean_offered(self) -> float:
        return sum(self.offered) / max(1, len(self.offered))

    @property
    def mean_accepted(self) -> float:
        return sum(self.accepted) / max(1, len(self.accepted))

    @property
    def mean_offered_whole_run(self) -> float:
        return sum(self.offered_whole_run) / max(1, len(self.offered_whole_run))


def _script_jobs(
    lookoutvision: FakeLookoutVision, resources: dict[str, dict[str, Any]]
) -> tuple[dict[str, str], dict[str, float]]:
    """Even-numbered jobs are SUCCEEDED already; odd ones RUNNING until 40-55 virtual minutes, then SUCCEEDED.
    Returns the job names by logical id, and when each RUNNING job finishes, in real seconds after the clock's start."""
    jobs: dict[str, str] = {}
    finishes: dict[str, float] = {}
    for index, (logical_id, props) in enumerate(sorted(resources.items())):
        job = props["JobName"]
        jobs[logical_id] = job
        final = ok(description(project=PROJECT, job=job))
        if index % 2 == 0:
            lookoutvision.play(PROJECT, job, [(0.0, final)])
        else:
            running = ok(description("RUNNING", project=PROJECT, job=job))
            finish = RUNNING_MINUTES[0] + (index // 2) % (RUNNING_MINUTES[1] - RUNNING_MINUTES[0] + 1)
            lookoutvision.play(PROJECT, job, [(0.0, running), (60.0 * finish, final)])
            finishes[job] = 60.0 * finish / SCALE
    return jobs, finishes


def _send_concurrently(invoke_url: str, events: list[dict[str, Any]]) -> list[int]:
    """CloudFormation's asynchronous lambda:Invoke calls, one thread per resource, released together."""
    client = boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=invoke_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}, max_pool_connections=len(events)),
    )
    barrier = threading.Barrier(len(events), timeout=60)

    def send(event: dict[str, Any]) -> int:
        barrier.wait()
        response = client.invoke(FunctionName=FUNCTION_ARN, InvocationType="Event", Payload=json.dumps(event).encode())
        return int(response["StatusCode"])

    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        return list(pool.map(send, events, timeout=120))


@pytest.fixture(scope="module")
def load_run(load_app: LoadApp, environments: int, tmp_path_factory: pytest.TempPathFactory) -> LoadRun:
    resources = load_app.resources
    assert len(resources) == JOBS
    lookoutvision = FakeLookoutVision(time_scale=SCALE, rate_per_s=QUOTA_RPS, burst=BURST, retry_after_s=1.0)
    work = tmp_path_factory.mktemp("load")
    with (
        LambdaHarness(load_app.function, work, lookoutvision=lookoutvision, max_concurrency=environments) as harness,
        ResponseRecorder() as recorder,
    ):
        # One execution environment per concurrent request, initialised before the events arrive.
        warm_s = harness.function.prewarm(environments, timeout_s=240)
        rss_mb = sum(_rss_mb(e.process.pid) for e in harness.function.environments)
        print(f"\n[load] {environments} runtime processes warm in {warm_s:.1f} s, {rss_mb:.0f} MB RSS in total")
        jobs, finishes = _script_jobs(lookoutvision, resources)
        events = [
            # Each resource gets its own presigned-looking URL, as CloudFormation gives it.
            make_event(
                "Create",
                recorder.url.replace("x%7CJob%7Cid", f"x%7C{logical_id}%7Cid"),
                cfn_properties(props),
                logical_id=logical_id,
            )
            for logical_id, props in sorted(resources.items())
        ]
        lookoutvision.restart_clock()
        sent_at, mono_sent = time.time(), time.monotonic()
        statuses = _send_concurrently(harness.invoke_api.url, events)
        assert statuses == [202] * JOBS
        hung = False
        try:
            wait_until(lambda: len(recorder.bodies) >= JOBS, LOAD_BOUND_S, f"{JOBS} answers", poll_s=0.2)
            harness.function.wait_quiet(60)
        except AssertionError:
            hung = True
        wall_s = max(recorder.answer_times, default=time.time()) - sent_at
        mono_answered = mono_sent + wall_s
        answers, paths = list(recorder.bodies), list(recorder.paths)
        invocations = list(harness.function.invocations)
        log_lines = harness.function.log_lines()

    requests = lookoutvision.request_log()
    throttled = sum(1 for r in requests if r["throttled"])
    steady = (mono_sent + WARMUP_S, mono_sent + STEADY_END_S)
    offered = _per_second([r["at"] for r in requests], *steady)
    accepted = _per_second([r["at"] for r in requests if not r["throttled"]], *steady)
    # Every whole second from the events to the last answer (a last partial second is left out).
    whole_run = _per_second([r["at"] for r in requests], mono_sent, mono_answered)
    # How long after its job finished each RUNNING job's wait noticed: its last accepted Describe saw SUCCEEDED.
    last_accepted: dict[str, float] = {}
    for r in requests:
        if not r["throttled"]:
            last_accepted[r["job"]] = max(r["at"], last_accepted.get(r["job"], r["at"]))
    noticed = [last_accepted[job] - mono_sent - finish for job, finish in finishes.items() if job in last_accepted]
    run = LoadRun(
        resources,
        jobs,
        events,
        answers,
        paths,
        invocations,
        log_lines,
        hung,
        offered,
        accepted,
        whole_run,
        {},
    )
    run.figures = {
        "jobs": JOBS,
        "environments": environments,
        "api_calls": len(requests),
        "throttled": throttled,
        "wall_s": round(wall_s, 1),
        "max_rps_steady": max(offered, default=0),
        "mean_offered_rps_steady": round(run.mean_offered, 2),
        "max_accepted_rps_steady": max(accepted, default=0),
        "mean_accepted_rps_steady": round(run.mean_accepted, 2),
        "mean_offered_rps_whole_run": round(run.mean_offered_whole_run, 2),
        "max_noticed_after_finish_s": round(max(noticed, default=0.0), 1),
        "steady_window_s": f"{WARMUP_S:g}-{STEADY_END_S:g}",
        "invocations": len(invocations),
        "prewarm_s": round(warm_s, 1),
        "runtime_rss_mb_total": round(rss_mb),
    }
    reliability_report.record_load(**run.figures)
    print("[load] " + ", ".join(f"{k}={v}" for k, v in run.figures.items()))
    print(f"[load] offered per second in steady state: {offered}")
    print(f"[load] accepted per second in steady state: {accepted}")

    per_resource = Counter(body["LogicalResourceId"] for body in answers)
    once = set(per_resource) == set(resources) and set(per_resource.values()) == {1}
    all_success = once and all(body["Status"] == "SUCCESS" for body in answers)
    reliability_report.record_scenario(
        f"{JOBS} concurrent Creates against a {QUOTA_RPS:g} rps quota",
        suite=SUITE,
        expected="SUCCESS",
        outcome="SUCCESS" if all_success else str(dict(Counter(body["Status"] for body in answers))),
        answers=len(answers),
        hang=hung,
        detail=f"{len(requests)} API calls ({throttled} throttled), {len(invocations)} invocations, {wall_s:.1f} s",
    )
    reliability_report.record_scenario(
        f"steady-state offered rate within the quota (mean <= {QUOTA_RPS:g} rps)",
        suite=SUITE,
        expected="WITHIN_QUOTA",
        outcome="WITHIN_QUOTA" if run.mean_offered <= QUOTA_RPS else "OVER_QUOTA",
        answers=0,
        hang=hung,
        detail=f"offered mean {run.mean_offered:.2f} rps, peak {max(offered, default=0)} rps, "
        f"accepted mean {run.mean_accepted:.2f} rps, {WARMUP_S:g}-{STEADY_END_S:g} s after the events",
    )
    within = run.mean_offered_whole_run <= QUOTA_RPS and throttled <= THROTTLED_FRACTION * len(requests)
    reliability_report.record_scenario(
        f"offered rate within the quota from the first event to the last answer, "
        f"at most {THROTTLED_FRACTION:.0%} of calls throttled",
        suite=SUITE,
        expected="WITHIN_QUOTA",
        outcome="WITHIN_QUOTA" if within else "OVER_QUOTA",
        answers=0,
        hang=hung,
        detail=f"offered mean {run.mean_offered_whole_run:.2f} rps over {len(whole_run)} s, "
        f"{throttled} of {len(requests)} calls throttled",
    )
    return run


def test_the_stack_has_100_jobs_on_one_synthesized_function(load_app: LoadApp) -> None:
    assert len(load_app.resources) == JOBS
    tokens = {json.dumps(props["ServiceToken"]) for props in load_app.resources.values()}
    assert tokens == {json.dumps({"Fn::GetAtt": [load_app.function.logical_id, "Arn"]})}
    assert load_app.function.handler == "model_packaging_job.index.handler"
    # The 100 jobs share the default polling budget: each looks at its job every 25-37.5 s.
    assert load_app.function.environment == {
        "AWS_DATA_PATH": "/var/task/models",
        "LOG_LEVEL": "INFO",
        "DESCRIBE_BUDGET_RPS": f"{BUDGET_RPS:g}",
        "DESCRIBE_BUDGET_JOBS": str(JOBS),
    }
    assert (load_app.function.asset_dir / "model_packaging_job" / "index.py").is_file()


def test_100_concurrent_creates_each_answer_success_exactly_once(load_run: LoadRun) -> None:
    assert not load_run.hung, f"only {len(load_run.answers)} of {JOBS} answers within {LOAD_BOUND_S:.0f} s"
    per_resource = Counter(body["LogicalResourceId"] for body in load_run.answers)
    assert set(per_resource) == set(load_run.resources), "every resource must be answered"
    assert set(per_resource.values()) == {1}, (
        f"answered more than once: {[k for k, n in per_resource.items() if n > 1]}"
    )
    failed = [(b["LogicalResourceId"], b["Reason"]) for b in load_run.answers if b["Status"] != "SUCCESS"]
    assert not failed, f"{len(failed)} jobs answered FAILED, e.g. {failed[:3]}"
    for body in load_run.answers:
        assert body["PhysicalResourceId"] == f"{PROJECT}/{load_run.jobs[body['LogicalResourceId']]}"
        assert body["Data"]["Status"] == "SUCCEEDED"
    assert len(set(load_run.paths)) == JOBS, "each answer goes to its own resource's URL"
    assert len(load_run.invocations) == JOBS, "no hand-off is needed within a 900 s invocation"
    for invocation in load_run.invocations:
        assert invocation.status == "success" and invocation.returned_in_time, invocation


def test_no_log_line_of_the_load_run_carries_a_response_url(load_run: LoadRun) -> None:
    reliability_report.record_log_lines(len(load_run.log_lines))
    assert len(load_run.log_lines) > JOBS
    assert leaked_lines(load_run.log_lines, [e["ResponseURL"] for e in load_run.events]) == []


def test_accepted_rate_stays_within_the_quota_in_steady_state(load_run: LoadRun) -> None:
    accepted = load_run.accepted
    assert len(accepted) == int(STEADY_END_S - WARMUP_S)
    assert max(accepted) <= QUOTA_RPS + BURST, f"accepted per second: {accepted}"
    assert load_run.mean_accepted <= QUOTA_RPS + 0.5, f"accepted per second: {accepted}"


def test_offered_rate_does_not_exceed_the_quota_in_steady_state(load_run: LoadRun) -> None:
    figures = load_run.figures
    mean_offered = load_run.mean_offered
    assert mean_offered <= QUOTA_RPS, (
        f"in steady state the {JOBS // 2} waiting jobs offer {mean_offered:.1f} requests/s on average "
        f"(peak {max(load_run.offered)}) against a quota of {QUOTA_RPS:g}/s: "
        f"{figures['throttled']} of {figures['api_calls']} calls were throttled. "
        f"Offered per second: {load_run.offered}"
    )


def test_offered_rate_stays_within_the_quota_from_the_first_event_and_throttling_is_rare(load_run: LoadRun) -> None:
    # The 100 first looks are spread over 25 s (100 jobs / 4 requests per second), not sent in one burst: a second
    # sees about 4 of them (a burst would put all 100 into the first second).
    assert len(load_run.offered_whole_run) >= STEADY_END_S
    assert max(load_run.offered_whole_run) <= 4 * QUOTA_RPS, load_run.offered_whole_run
    assert load_run.mean_offered_whole_run <= QUOTA_RPS, f"offered per second: {load_run.offered_whole_run}"
    figures = load_run.figures
    assert figures["throttled"] <= THROTTLED_FRACTION * figures["api_calls"], (
        f"{figures['throttled']} of {figures['api_calls']} calls were throttled; offered per second: "
        f"{load_run.offered_whole_run}"
    )
