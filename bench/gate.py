"""Figure 4, gate latency and cost: a job that turns SUCCEEDED T seconds after the Create request arrives.

OURS runs the real code on a virtual clock. Each simulated Lambda invocation does what index._gate does: it reads
the wait state from the event with ``custom_resource.wait_state``, calls ``packaging_job.wait_for_job`` with
``deadline = started_at + wait_timeout`` and ``yield_at = invocation start + function timeout -
custom_resource.HANDOFF_MARGIN_S``, and on ``yield`` continues in a new invocation with the event
``custom_resource.continuation_event`` builds; the last one's result goes through ``custom_resource.decide``, which
must answer SUCCESS. Only time, sleep and randomness are injected (``packaging_job.Clock``); the client is a fake
whose job reports RUNNING before T and SUCCEEDED from T on. The function's timeout and memory are read from the
synthesized template, so they are the ones the construct deploys. The jitter is random, so every T runs with
several seeds: latency is reported as the median and the worst, calls as the median, invocations and GB-s as the
worst.

CRHELPER and the PROVIDER framework are models of their documented mechanics (see ``crhelper_model`` and
``provider_model``); neither runs against a real scheduler here.

Shared assumptions (stated in results.json): Describe calls take no virtual time (latency is "status changed" to
"a Describe saw it", the API round trip excluded on every side); a short invocation (one Describe, a hand-off or an
answer) is billed ``SHORT_INVOCATION_S``; an asynchronous self-invocation starts ``HANDOFF_GAP_S`` after the
previous one hands off.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import ceil_ms, median, use_project_paths

FINISH_AFTER_S = (0, 30, 300, 1200, 3000)
WAIT_TIMEOUT_S = 55 * 60
EPOCH = 1_764_428_400.0  # 2025-11-29T15:00:00Z: any absolute time works, the handler only subtracts


@dataclass(frozen=True)
class Prices:
    """Public on-demand prices, us-east-1."""

    lambda_arm64_usd_per_gb_s: float = 0.0000133334
    lambda_usd_per_request: float = 0.20 / 1_000_000
    stepfunctions_standard_usd_per_transition: float = 0.025 / 1_000
    eventbridge_scheduled_rule_usd_per_invocation: float = 0.0

    def describe(self) -> dict[str, str]:
        return {
            "lambda_arm64": "$0.0000133334 per GB-second (AWS Lambda pricing, Arm, first 7.5 billion GB-s/month)",
            "lambda_requests": "$0.20 per 1M requests",
            "stepfunctions_standard": "$0.025 per 1,000 state transitions (Standard workflows)",
            "eventbridge_scheduled_rules": "free (EventBridge scheduled rules carry no charge)",
            "note": "free tiers ignored; every Lambda GB-s priced at the arm64 rate, although the Provider "
            "framework's own functions are x86_64 (its default), which would cost it 25% more per GB-s",
        }


@dataclass(frozen=True)
class Assumptions:
    wait_timeout_s: int = WAIT_TIMEOUT_S
    short_invocation_s: float = 0.1
    handoff_gap_s: float = 1.0
    describe_call_s: float = 0.0
    provider_query_interval_s: float = 5.0
    provider_total_timeout_s: int = WAIT_TIMEOUT_S
    provider_memory_mb: int = 128
    crhelper_memory_mb: int = 128


PRICES = Prices()
ASSUMPTIONS = Assumptions()


def crhelper_polling_interval_s() -> float:
    """crhelper's default ``polling_interval`` (minutes; it becomes the rule's ``rate(N minutes)``), in seconds."""
    from crhelper import CfnResource

    minutes = inspect.signature(CfnResource.__init__).parameters["polling_interval"].default
    return float(minutes) * 60.0


def cost_usd(invocations: int, gb_s: float, transitions: int = 0, prices: Prices = PRICES) -> float:
    return (
        invocations * prices.lambda_usd_per_request
        + gb_s * prices.lambda_arm64_usd_per_gb_s
        + transitions * prices.stepfunctions_standard_usd_per_transition
    )


# --- ours: the real wait on a virtual clock ------------------------------------------------------------------------


class VirtualClock:
    """Moves only when someone sleeps on it."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"negative sleep {seconds}")
        self.t += seconds


class JobThatFinishes:
    """A Lookout for Vision client whose job is RUNNING until ``finish_at`` and SUCCEEDED from then on."""

    def __init__(self, clock: VirtualClock, finish_at: float, call_s: float) -> None:
        from support import description

        self._description = description
        self.clock = clock
        self.finish_at = finish_at
        self.call_s = call_s
        self.calls = 0
        self.detected_at: float | None = None

    def describe_model_packaging_job(self, *, ProjectName: str, JobName: str) -> dict[str, Any]:
        self.calls += 1
        done = self.clock.now() >= self.finish_at
        if done and self.detected_at is None:
            self.detected_at = self.clock.now()
        self.clock.sleep(self.call_s)
        status = "SUCCEEDED" if done else "RUNNING"
        return {"ModelPackagingDescription": self._description(status, project=ProjectName, job=JobName)}


@dataclass(frozen=True)
class OursRun:
    latency_s: float
    api_calls: int
    invocations: int
    billed_s: list[float]
    gb_s: float


def simulate_ours(finish_after_s: float, seed: int, function: dict[str, Any], assumptions: Assumptions) -> OursRun:
    use_project_paths()
    import custom_resource as cr
    import packaging_job as pj
    from support import make_event, properties

    clock = VirtualClock(EPOCH)
    client = JobThatFinishes(clock, EPOCH + finish_after_s, assumptions.describe_call_s)
    event = make_event(props=properties(WaitTimeoutSeconds=assumptions.wait_timeout_s))
    props = cr.parse_properties(event["ResourceProperties"])
    rng = random.Random(seed)
    billed: list[float] = []
    function_timeout_s = float(function["timeout_s"])
    while True:
        if len(billed) > 100:
            raise RuntimeError("the simulated wait never ended")
        invocation_start = clock.now()
        state = cr.wait_state(event, invocation_start, props)
        remaining_s = function_timeout_s  # a fresh invocation has its whole timeout ahead of it
        deadline, yield_at = cr.wait_window(props, state, invocation_start, remaining_s)
        result = pj.wait_for_job(
            client,
            props.project_name,
            props.job_name,
            deadline=deadline,
            yield_at=yield_at,
            wait=props.wait_for_completion,
            clock=pj.Clock(now=clock.now, sleep=clock.sleep, rng=rng),
            first_look_at=state.next_look_at,
        )
        billed.append(ceil_ms(clock.now() - invocation_start + assumptions.short_invocation_s))
        if result.outcome == "yield":
            event = cr.continuation_event(event, state, result.next_look_at)
            clock.sleep(assumptions.handoff_gap_s)  # the asynchronous invocation starts (and initializes)
            continue
        decision = cr.decide(props, result, clock.now() - state.started_at)
        if decision.status != cr.SUCCESS:
            raise RuntimeError(f"the simulated gate did not succeed: {decision}")
        break
    if client.detected_at is None:
        raise RuntimeError("the simulated gate answered without seeing SUCCEEDED")
    memory_gb = function["memory_mb"] / 1024.0
    return OursRun(
        latency_s=round(client.detected_at - (EPOCH + finish_after_s), 3),
        api_calls=client.calls,
        invocations=len(billed),
        billed_s=billed,
        gb_s=round(memory_gb * sum(billed), 3),
    )


# --- the alternatives, modelled ------------------------------------------------------------------------------------


def crhelper_model(finish_after_s: float, interval_s: float, assumptions: Assumptions) -> dict[str, Any]:
    """crhelper with poll_create: the first invocation runs create() and, because a poll function is registered,
    always sets up polling (put_rule rate(N minutes), add_permission, put_targets) and does not answer, even when
    the job is already SUCCEEDED. The rule first fires one interval after it is created and then every interval;
    each firing is one invocation running poll_create (one Describe). The first poll at or after T answers and
    removes the rule."""
    polls = max(1, math.ceil(finish_after_s / interval_s))
    invocations = 1 + polls
    gb_s = invocations * assumptions.short_invocation_s * assumptions.crhelper_memory_mb / 1024.0
    return {
        "crhelper_latency_s": round(polls * interval_s - finish_after_s, 3),
        "crhelper_invocations": invocations,
        "crhelper_api_calls": polls + 6,  # Describes + put_rule, add_permission, put_targets and their removal
        "crhelper_gb_s": round(gb_s, 3),
        "crhelper_cost_usd": cost_usd(invocations, gb_s),
    }


def provider_model(finish_after_s: float, assumptions: Assumptions) -> dict[str, Any]:
    """custom_resources.Provider with an isComplete handler: CloudFormation invokes framework-onEvent, which invokes
    the user's onEvent (2 invocations) and starts the waiter state machine; its one Task invokes framework-isComplete
    at once, which invokes the user's isComplete (2 invocations per poll), and retries every queryInterval (5 s by
    default, backoff rate 1) until IsComplete is true. One state transition per poll (the Task entered or retried;
    the execution's start and end are not counted, which flatters the Provider). totalTimeout must cover the wait:
    its default, 30 minutes, would fail the T = 50 minutes row, so it is set to the same 55 minutes as ours."""
    interval = assumptions.provider_query_interval_s
    polls = math.ceil(finish_after_s / interval) + 1  # at 0, q, 2q, ... up to the first at or after T
    if (polls - 1) * interval > assumptions.provider_total_timeout_s:
        raise RuntimeError("the Provider model would time out")
    invocations = 2 + 2 * polls
    gb_s = invocations * assumptions.short_invocation_s * assumptions.provider_memory_mb / 1024.0
    return {
        "provider_latency_s": round((polls - 1) * interval - finish_after_s, 3),
        "provider_invocations": invocations,
        "provider_state_transitions": polls,
        "provider_api_calls": polls,
        "provider_gb_s": round(gb_s, 3),
        "provider_cost_usd": cost_usd(invocations, gb_s, polls),
    }


# --- the figure ----------------------------------------------------------------------------------------------------


def invocation_allowance(finish_after_s: float) -> int:
    """ "At most 5 invocations per hour of waiting", in whole invocations: ceil(5 x hours waited), at least 1."""
    return max(1, math.ceil(5 * finish_after_s / 3600.0 - 1e-9))


def measure(
    function: dict[str, Any],
    seeds: int,
    finish_after: Sequence[int] = FINISH_AFTER_S,
    assumptions: Assumptions = ASSUMPTIONS,
) -> list[dict[str, Any]]:
    interval_s = crhelper_polling_interval_s()
    rows: list[dict[str, Any]] = []
    for finish_after_s in finish_after:
        runs = [simulate_ours(finish_after_s, seed, function, assumptions) for seed in range(seeds)]
        invocations = max(r.invocations for r in runs)
        gb_s = max(r.gb_s for r in runs)
        hours = finish_after_s / 3600.0
        row: dict[str, Any] = {
            "finish_after_s": finish_after_s,
            "ours_latency_s": max(r.latency_s for r in runs),
            "ours_latency_s_median": round(median([r.latency_s for r in runs]), 3),
            "ours_api_calls": round(median([r.api_calls for r in runs])),
            "ours_api_calls_max": max(r.api_calls for r in runs),
            "ours_invocations": invocations,
            "ours_invocations_allowed": invocation_allowance(finish_after_s),
            "ours_invocations_per_hour": round(invocations / hours, 2) if hours else None,
            "ours_gb_s": gb_s,
            "ours_billed_s": max((r.billed_s for r in runs), key=sum),
            "ours_cost_usd": cost_usd(invocations, gb_s),
        }
        row.update(crhelper_model(finish_after_s, interval_s, assumptions))
        row.update(provider_model(finish_after_s, assumptions))
        row["cost_ratio_ours_to_provider"] = round(row["ours_cost_usd"] / row["provider_cost_usd"], 4)
        row["seeds"] = seeds
        rows.append(row)
    return rows


def describe_models(function: dict[str, Any]) -> dict[str, Any]:
    use_project_paths()
    import custom_resource as cr
    import packaging_job as pj

    return {
        "assumptions": asdict(ASSUMPTIONS),
        "ours_function": function,
        "ours_handoff_margin_s": cr.HANDOFF_MARGIN_S,
        "ours_poll_interval_s": list(pj.POLL_INTERVAL_S),
        "crhelper_polling_interval_s": crhelper_polling_interval_s(),
        "crhelper_first_poll": "one rate interval after the rule is created (EventBridge rate schedules start at "
        "creation)",
        "provider_query_interval_s": ASSUMPTIONS.provider_query_interval_s,
    }
