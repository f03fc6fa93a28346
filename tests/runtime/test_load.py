"""Load: one stack of 100 ModelPackagingJobs (synthesized in process) whose Create events arrive at once through the
loopback lambda:Invoke, run on the asset in one execution environment per request as far as memory allows, against
a Lookout for Vision API that throttles above 5 requests per second (a token bucket of 5; 429 with Retry-After: 1).
Half the jobs are SUCCEEDED, half RUNNING until 40-55 virtual minutes on a clock compressed 60x.

Every job answers SUCCESS exactly once, before its deadline. The jobs share the construct's default budget of 4
requests per second, so the offered rate (throttled calls included, per 1 s window) averages at most the quota in
steady state (from WARMUP_S, when the quota has served one call per job, until the first RUNNING job ends) and from
the first event to the last answer, and at most THROTTLED_FRACTION of the calls are throttled (their first looks
are spread at random: a simulation of this setup gave 2.8 throttled calls of 182 on average, 14 at most, in 2,000
runs).
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
from botocore.config import Config
from lambda_runtime import FunctionSpec, Invocation, LambdaHarness, cfn_properties, leaked_lines, wait_until
from support import FUNCTION_ARN, FakeLookoutVision, ResponseRecorder, description, make_event, ok

from cdk_lookoutvision_packaging_handler.contract import RESOURCE_TYPE

JOBS = 100
PROJECT = "pcb"
QUOTA_RPS = 5.0
SCALE = 60.0
# Steady state, in seconds after the events were sent: after the initial burst (the time the quota needs to serve one
# call per job: a burst of 100 first calls cannot drain faster), before the first RUNNING job ends.
WARMUP_S = JOBS / QUOTA_RPS
RUNNING_MINUTES = (40, 55)
STEADY_END_S = RUNNING_MINUTES[0] * 60.0 / SCALE
# The largest share of calls that may be throttled over the whole run.
THROTTLED_FRACTION = 0.1
LOAD_BOUND_S = 300.0
RUNTIME_RSS_BUDGET_MB = 90


def synthesize(outdir: Path) -> tuple[FunctionSpec, dict[str, dict[str, Any]]]:
    """The stack of 100 jobs: its function, and each custom resource's properties by logical id."""
    import aws_cdk as cdk

    from cdk_lookoutvision_packaging import ModelPackagingJob

    # The CLI asks for asset metadata (aws:asset:path) this way; an in-process App must ask itself.
    app = cdk.App(outdir=str(outdir), context={"aws:cdk:enable-asset-metadata": True})
    stack = cdk.Stack(app, "LoadTest100Jobs", env=cdk.Environment(account="123456789012", region="us-east-1"))
    for i in range(JOBS):
        ModelPackagingJob(stack, f"Job{i:03d}", project_name=PROJECT, job_name=f"pcb-load-{i:03d}")
    template = app.synth().get_stack_by_name("LoadTest100Jobs").template
    resources = {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == RESOURCE_TYPE}
    return FunctionSpec.from_template(template, outdir), resources


def _proc_mb(path: str, key: str) -> float:
    try:
        line = next(line for line in Path(path).read_text().splitlines() if line.startswith(key))
    except (OSError, StopIteration):
        return 0.0
    return int(line.split()[1]) / 1024


def _per_second(times: list[float], start: float, end: float) -> list[int]:
    """Counts per 1 s window [start + k, start + k + 1) that lies wholly before ``end``."""
    windows = max(0, math.floor(end - start))
    counts = Counter(math.floor(t - start) for t in times if start <= t < start + windows)
    return [counts.get(k, 0) for k in range(windows)]


def _script_jobs(lookoutvision: FakeLookoutVision, resources: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Even-numbered jobs are SUCCEEDED already; odd ones RUNNING until 40-55 virtual minutes, then SUCCEEDED.
    Returns the job names by logical id."""
    jobs: dict[str, str] = {}
    for index, (logical_id, props) in enumerate(sorted(resources.items())):
        jobs[logical_id] = job = props["JobName"]
        final = ok(description(project=PROJECT, job=job))
        finish = RUNNING_MINUTES[0] + (index // 2) % (RUNNING_MINUTES[1] - RUNNING_MINUTES[0] + 1)
        running = [(0.0, ok(description("RUNNING", project=PROJECT, job=job))), (60.0 * finish, final)]
        lookoutvision.play(PROJECT, job, running if index % 2 else [(0.0, final)])
    return jobs


def _send_concurrently(invoke_url: str, events: list[dict[str, Any]]) -> list[int]:
    """CloudFormation's asynchronous lambda:Invoke calls, one thread per resource, released together."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 3}, max_pool_connections=len(events))
    client = boto3.client("lambda", region_name="us-east-1", endpoint_url=invoke_url, config=config)
    barrier = threading.Barrier(len(events), timeout=60)

    def send(event: dict[str, Any]) -> int:
        barrier.wait()
        response = client.invoke(FunctionName=FUNCTION_ARN, InvocationType="Event", Payload=json.dumps(event).encode())
        return int(response["StatusCode"])

    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        return list(pool.map(send, events, timeout=120))


@dataclass(repr=False)
class LoadRun:
    """What one load run produced; the tests below judge it."""

    jobs: dict[str, str]
    events: list[dict[str, Any]]
    answers: list[dict[str, Any]]
    paths: list[str]
    invocations: list[Invocation]
    log_lines: list[str]
    hung: bool
    steady: list[int]  # calls offered per second in steady state
    whole_run: list[int]  # and from the first event to the last answer
    throttled: int
    calls: int


@pytest.fixture(scope="module")
def load_run(tmp_path_factory: pytest.TempPathFactory) -> LoadRun:
    spec, resources = synthesize(tmp_path_factory.mktemp("load-synth"))
    assert len(resources) == JOBS and spec.environment["DESCRIBE_BUDGET_JOBS"] == str(JOBS)
    # One execution environment per concurrent request, as far as memory allows (half of what is available).
    environments = max(10, min(JOBS, int(_proc_mb("/proc/meminfo", "MemAvailable:") * 0.5 // RUNTIME_RSS_BUDGET_MB)))
    lookoutvision = FakeLookoutVision(time_scale=SCALE, rate_per_s=QUOTA_RPS, burst=5, retry_after_s=1.0)
    work = tmp_path_factory.mktemp("load")
    with (
        LambdaHarness(spec, work, lookoutvision=lookoutvision, max_concurrency=environments) as harness,
        ResponseRecorder() as recorder,
    ):
        harness.function.prewarm(environments, timeout_s=240)
        jobs = _script_jobs(lookoutvision, resources)
        # Each resource gets its own presigned-looking URL, as CloudFormation gives it.
        urls = {logical_id: recorder.url.replace("x%7CJob%7Cid", f"x%7C{logical_id}%7Cid") for logical_id in resources}
        events = [
            make_event("Create", urls[logical_id], cfn_properties(props), logical_id=logical_id)
            for logical_id, props in sorted(resources.items())
        ]
        lookoutvision.restart_clock()
        sent_at, mono_sent = time.time(), time.monotonic()
        assert _send_concurrently(harness.invoke_api.url, events) == [202] * JOBS
        hung = False
        try:
            wait_until(lambda: len(recorder.bodies) >= JOBS, LOAD_BOUND_S, f"{JOBS} answers", poll_s=0.2)
            harness.function.wait_quiet(60)
        except AssertionError:
            hung = True
        wall_s = max(recorder.answer_times, default=time.time()) - sent_at
        answers, paths, invocations = list(recorder.bodies), list(recorder.paths), list(harness.function.invocations)
        run = LoadRun(jobs, events, answers, paths, invocations, harness.function.log_lines(), hung, [], [], 0, 0)

    requests = lookoutvision.request_log()
    run.calls, run.throttled = len(requests), sum(1 for r in requests if r["throttled"])
    run.steady = _per_second([r["at"] for r in requests], mono_sent + WARMUP_S, mono_sent + STEADY_END_S)
    # Every whole second from the events to the last answer (a last partial second is left out).
    run.whole_run = _per_second([r["at"] for r in requests], mono_sent, mono_sent + wall_s)
    return run


def test_100_concurrent_creates_each_answer_success_exactly_once(load_run: LoadRun) -> None:
    assert not load_run.hung, f"only {len(load_run.answers)} of {JOBS} answers within {LOAD_BOUND_S:.0f} s"
    per_resource = Counter(body["LogicalResourceId"] for body in load_run.answers)
    assert set(per_resource) == set(load_run.jobs) and set(per_resource.values()) == {1}, per_resource
    failed = [(b["LogicalResourceId"], b["Reason"]) for b in load_run.answers if b["Status"] != "SUCCESS"]
    assert not failed, f"{len(failed)} jobs answered FAILED, e.g. {failed[:3]}"
    for body in load_run.answers:
        assert body["PhysicalResourceId"] == f"{PROJECT}/{load_run.jobs[body['LogicalResourceId']]}"
    assert len(set(load_run.paths)) == JOBS, "each answer goes to its own resource's URL"
    assert len(load_run.invocations) == JOBS, "no hand-off is needed within a 900 s invocation"
    assert all(invocation.returned_in_time for invocation in load_run.invocations)


def test_no_log_line_of_the_load_run_carries_a_response_url(load_run: LoadRun) -> None:
    assert len(load_run.log_lines) > JOBS
    assert leaked_lines(load_run.log_lines, [e["ResponseURL"] for e in load_run.events]) == []


def test_the_offered_rate_stays_within_the_quota_from_the_first_event_and_throttling_is_rare(load_run: LoadRun) -> None:
    steady, whole = load_run.steady, load_run.whole_run
    assert len(steady) == int(STEADY_END_S - WARMUP_S) and len(whole) >= STEADY_END_S
    assert sum(steady) / len(steady) <= QUOTA_RPS, f"offered per second in steady state: {steady}"
    # The 100 first looks are spread over 25 s (100 jobs / 4 requests per second), not sent in one burst: a second
    # sees about 4 of them (a burst would put all 100 into the first second).
    assert max(whole) <= 4 * QUOTA_RPS and sum(whole) / len(whole) <= QUOTA_RPS, f"offered per second: {whole}"
    assert load_run.throttled <= THROTTLED_FRACTION * load_run.calls, f"{load_run.throttled} of {load_run.calls}"
