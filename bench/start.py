"""Figure 5, the component check and starting the job from the stack: API calls and latency of the real step.

Each row runs ``lifecycle.run`` (the handler's invocation step) on a virtual clock, one call per simulated invocation as
in figure 4, against fakes of the two APIs: a Lookout for Vision client whose job is RUNNING until its finish
moment and SUCCEEDED with its Greengrass output from then on, and a Greengrass client whose component version is
DEPLOYABLE. Rows:

- ``component``: a job watched with ``expected_component_name`` that is already SUCCEEDED when the request arrives
  (the cost of the component check: one more call, to Greengrass).
- ``start``: a resource with ``Packaging`` whose job does not exist yet: the step starts it (one Describe that finds
  nothing, one StartModelPackagingJob), then waits; the job finishes T seconds after its start, T = 0 (done at once)
  and T = 300 (+ a phase drawn from [0, 4.5 s) per seed, so that the finish falls anywhere between two polls).

Latency is "SUCCEEDED" to "the step answered SUCCESS", API calls take no virtual time.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import median
from bench.gate import ASSUMPTIONS, EPOCH, Assumptions, invocation_allowance
from harness.cloudformation import make_event, properties
from harness.lookoutvision import description
from harness.offline import VirtualClock

ROWS: tuple[tuple[str, int], ...] = (("component", 0), ("start", 0), ("start", 300))
COMPONENT = "com.example.pcb-defects"
COMPONENT_ARN = f"arn:aws:greengrass:us-east-1:123456789012:components:{COMPONENT}:versions:3.0.0"


class _Job:
    """DescribeModelPackagingJob and StartModelPackagingJob of one job that finishes ``after_s`` seconds after it
    was started (a watched job counts as started long ago)."""

    def __init__(self, clock: Any, after_s: float, *, exists: bool) -> None:
        self.clock = clock
        self.after_s = after_s
        self.started_at: float | None = EPOCH - 3600.0 if exists else None
        self.calls = {"describe": 0, "start": 0}

    @property
    def finish_at(self) -> float | None:
        return None if self.started_at is None else self.started_at + self.after_s

    def describe_model_packaging_job(self, *, ProjectName: str, JobName: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls["describe"] += 1
        if self.started_at is None:
            error = {"Code": "ResourceNotFoundException", "Message": f"job {JobName} not found"}
            raise ClientError(
                {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 404}}, "DescribeModelPackagingJob"
            )
        done = self.clock.now() >= float(self.finish_at or 0.0)
        desc = description("SUCCEEDED" if done else "RUNNING", project=ProjectName, job=JobName)
        if done:
            desc["ModelPackagingOutputDetails"]["Greengrass"]["ComponentVersionArn"] = COMPONENT_ARN
        return {"ModelPackagingDescription": desc}

    def start_model_packaging_job(self, **request: Any) -> dict[str, Any]:
        self.calls["start"] += 1
        if self.started_at is None:
            self.started_at = self.clock.now()
        return {"JobName": request["JobName"]}


class _Component:
    def __init__(self) -> None:
        self.calls = 0

    def describe_component(self, *, arn: str) -> dict[str, Any]:
        self.calls += 1
        return {"arn": arn, "status": {"componentState": "DEPLOYABLE"}}


@dataclass(frozen=True)
class StartRun:
    lookoutvision_calls: int
    starts: int
    greengrass_calls: int
    latency_s: float
    invocations: int


def _properties(mode: str) -> dict[str, Any]:
    if mode == "component":
        return properties(ExpectedComponentName=COMPONENT)
    greengrass = {
        "ComponentName": COMPONENT,
        "ComponentVersion": "3.0.0",
        "TargetDevice": "jetson_xavier",
        "S3OutputLocation": {"Bucket": "pcb-lookoutvision-models", "Prefix": "lookoutvision/pcb/"},
    }
    return properties(Packaging={"ModelVersion": "3", "Configuration": {"Greengrass": greengrass}})


def simulate(mode: str, after_s: float, seed: int, function: dict[str, Any], assumptions: Assumptions) -> StartRun:
    from cdk_lookoutvision_packaging_handler import lifecycle, response

    clock = VirtualClock(EPOCH)
    job, component = _Job(clock, after_s, exists=mode == "component"), _Component()
    event = make_event(props=_properties(mode))
    invocations = 0
    while True:
        invocations += 1
        if invocations > 100:
            raise RuntimeError("the simulated wait never ended")
        outcome = lifecycle.run(
            event, float(function["timeout_s"]), lookoutvision=job, greengrass=component, clock=clock.clock(seed)
        )
        if isinstance(outcome, lifecycle.Continuation):
            event = outcome.event
            clock.sleep(assumptions.handoff_gap_s)
            continue
        if outcome.status != response.SUCCESS:
            raise RuntimeError(f"the simulated gate did not succeed: {outcome}")
        break
    return StartRun(
        lookoutvision_calls=job.calls["describe"] + job.calls["start"],
        starts=job.calls["start"],
        greengrass_calls=component.calls,
        latency_s=round(clock.now() - max(float(job.finish_at or EPOCH), EPOCH), 3),
        invocations=invocations,
    )


def measure(
    function: dict[str, Any], seeds: int, rows: Sequence[tuple[str, int]] = ROWS, assumptions: Assumptions = ASSUMPTIONS
) -> list[dict[str, Any]]:
    from cdk_lookoutvision_packaging_handler import waiting

    out = []
    for mode, after_s in rows:
        runs = []
        for seed in range(seeds):
            draw = random.Random(f"start-phase:{after_s}:{seed}").random()
            phase = 0.0 if after_s == 0 else draw * waiting.POLL_INTERVAL_S[1]
            run = simulate(mode, after_s + phase, seed, function, assumptions)
            runs.append({"seed": seed, "finish_after_start_s": round(after_s + phase, 3), **run.__dict__})
        row: dict[str, Any] = {"mode": mode, "finish_after_s": after_s, "seeds": seeds}
        for key in ("lookoutvision_calls", "starts", "greengrass_calls", "latency_s", "invocations"):
            values = [r[key] for r in runs]
            row[f"{key}_median"] = round(median(values), 3)
            row[f"{key}_worst"] = max(values)
        row["invocations_allowed"] = invocation_allowance(max(r["finish_after_start_s"] for r in runs))
        row["poll_interval_high_s"] = waiting.POLL_INTERVAL_S[1]
        row["runs"] = runs
        out.append(row)
    return out
