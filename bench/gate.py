"""Figure 4, gate latency and cost: a job that turns SUCCEEDED about T seconds after the Create request arrives.

A real job finishes at a random moment between two polls, so for T > 0 every seed draws one finish moment
``T + phase``, the phase uniform in ``[0, phase window)``, the window being the longest poll period among the three
systems (crhelper's rate); at T = 0 the job is already SUCCEEDED when the request arrives. The same finish moments,
one per seed, are fed to all three systems, and each is reported as the median and the worst over the seeds; a cost
ratio is formed per seed, at one finish moment.

OURS runs the real code on a virtual clock. Each simulated Lambda invocation is one call of ``lifecycle.run``, the
step the handler's entry point runs: a ``Continuation`` goes on in a new invocation with the event it carries, and
the last one's ``Answer`` must be SUCCESS. Only time, sleep and randomness are injected (``outbound.Clock``); the
client is a fake whose job reports RUNNING before the finish moment and SUCCEEDED from then on. The function's
timeout and memory are read from the synthesized template, so they are the ones the construct deploys. Its poll
jitter is seeded by the same seed that draws the finish moment.

CRHELPER and the PROVIDER framework are models of their documented mechanics (see ``crhelper_model`` and
``provider_model``); neither runs against a real scheduler here.

Shared assumptions (stated in the summary's models): Describe calls take no virtual time (latency is "status changed" to
"a Describe saw it", the API round trip excluded on every side); a short invocation (one Describe, a hand-off or an
answer) is billed ``SHORT_INVOCATION_S``; an asynchronous self-invocation starts ``HANDOFF_GAP_S`` after the
previous one hands off.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import ceil_ms, median
from harness.cloudformation import make_event, properties
from harness.lookoutvision import description
from harness.offline import VirtualClock

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
            "lambda_arm64": "Lambda on Arm $0.0000133334 per GB-s (the first 7.5 billion GB-s a month)",
            "lambda_requests": "$0.20 per 1M Lambda requests",
            "stepfunctions_standard": "Step Functions Standard $0.025 per 1,000 state transitions",
            "eventbridge_scheduled_rules": "EventBridge scheduled rules free",
            "note": "free tiers ignored; every GB-s at the Arm rate, though the Provider framework's own functions "
            "are x86_64 (its default), 25% dearer",
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


class JobThatFinishes:
    """A Lookout for Vision client whose job is RUNNING until ``finish_at`` and SUCCEEDED from then on."""

    def __init__(self, clock: Any, finish_at: float, call_s: float) -> None:
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
        return {"ModelPackagingDescription": description(status, project=ProjectName, job=JobName)}


@dataclass(frozen=True)
class OursRun:
    latency_s: float
    api_calls: int
    invocations: int
    billed_s: list[float]
    gb_s: float


def simulate_ours(finish_after_s: float, seed: int, function: dict[str, Any], assumptions: Assumptions) -> OursRun:
    from cdk_lookoutvision_packaging_handler import lifecycle, response

    clock = VirtualClock(EPOCH)
    client = JobThatFinishes(clock, EPOCH + finish_after_s, assumptions.describe_call_s)
    event = make_event(props=properties(WaitTimeoutSeconds=assumptions.wait_timeout_s))
    wait_clock = clock.clock(seed)
    billed: list[float] = []
    function_timeout_s = float(function["timeout_s"])
    while True:
        if len(billed) > 100:
            raise RuntimeError("the simulated wait never ended")
        invocation_start = clock.now()
        # A fresh invocation has its whole timeout ahead of it.
        outcome = lifecycle.run(event, function_timeout_s, lookoutvision=client, clock=wait_clock)
        billed.append(ceil_ms(clock.now() - invocation_start + assumptions.short_invocation_s))
        if isinstance(outcome, lifecycle.Continuation):
            event = outcome.event
            clock.sleep(assumptions.handoff_gap_s)  # the asynchronous invocation starts (and initializes)
            continue
        if outcome.status != response.SUCCESS:
            raise RuntimeError(f"the simulated gate did not succeed: {outcome}")
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


def crhelper_model(finish_at_s: float, interval_s: float, assumptions: Assumptions) -> dict[str, Any]:
    """crhelper with poll_create: the first invocation runs create() and, because a poll function is registered,
    always sets up polling (put_rule rate(N minutes), add_permission, put_targets) and does not answer, even when
    the job is already SUCCEEDED. The rule first fires one interval after it is created and then every interval;
    each firing is one invocation running poll_create (one Describe). The first poll at or after the finish moment
    answers and removes the rule."""
    polls = max(1, math.ceil(round(finish_at_s / interval_s, 9)))
    invocations = 1 + polls
    gb_s = invocations * assumptions.short_invocation_s * assumptions.crhelper_memory_mb / 1024.0
    return {
        "crhelper_latency_s": round(polls * interval_s - finish_at_s, 3),
        "crhelper_invocations": invocations,
        "crhelper_api_calls": polls + 6,  # Describes + put_rule, add_permission, put_targets and their removal
        "crhelper_gb_s": round(gb_s, 3),
        "crhelper_cost_usd": cost_usd(invocations, gb_s),
    }


def provider_model(finish_at_s: float, assumptions: Assumptions) -> dict[str, Any]:
    """custom_resources.Provider with an isComplete handler: CloudFormation invokes framework-onEvent, which invokes
    the user's onEvent (2 invocations) and starts the waiter state machine; its one Task invokes framework-isComplete
    at once, which invokes the user's isComplete (2 invocations per poll), and retries every queryInterval (5 s by
    default, backoff rate 1) until IsComplete is true. One state transition per poll (the Task entered or retried;
    the execution's start and end are not counted, which flatters the Provider). totalTimeout must cover the wait:
    its default, 30 minutes, would fail the T = 50 minutes row, so it is set to the same 55 minutes as ours."""
    interval = assumptions.provider_query_interval_s
    polls = math.ceil(round(finish_at_s / interval, 9)) + 1  # at 0, q, 2q, ... up to the first at or after it
    if (polls - 1) * interval > assumptions.provider_total_timeout_s:
        raise RuntimeError("the Provider model would time out")
    invocations = 2 + 2 * polls
    gb_s = invocations * assumptions.short_invocation_s * assumptions.provider_memory_mb / 1024.0
    return {
        "provider_latency_s": round((polls - 1) * interval - finish_at_s, 3),
        "provider_invocations": invocations,
        "provider_state_transitions": polls,
        "provider_api_calls": polls,
        "provider_gb_s": round(gb_s, 3),
        "provider_cost_usd": cost_usd(invocations, gb_s, polls),
    }


# --- the figure ----------------------------------------------------------------------------------------------------

SYSTEMS = ("ours", "crhelper", "provider")


def invocation_allowance(waited_s: float) -> int:
    """ "At most 5 invocations per hour of waiting", in whole invocations: ceil(5 x hours waited), at least 1."""
    return max(1, math.ceil(5 * waited_s / 3600.0 - 1e-9))


def usd_per_second_of_waiting(
    function: dict[str, Any], assumptions: Assumptions = ASSUMPTIONS, prices: Prices = PRICES
) -> dict[str, float]:
    """What a further second of waiting costs ours (its function keeps running) and the Provider (a state transition
    and two short invocations per query interval): the per-seed cost ratio tends to theirs as the wait grows."""
    poll_gb_s = 2 * assumptions.short_invocation_s * assumptions.provider_memory_mb / 1024.0
    return {
        "ours": cost_usd(0, function["memory_mb"] / 1024.0, prices=prices),
        "provider": cost_usd(2, poll_gb_s, 1, prices) / assumptions.provider_query_interval_s,
    }


def phase_window_s(assumptions: Assumptions = ASSUMPTIONS) -> float:
    """The span the finish phase is drawn from: the longest poll period of the three systems, so that the finish
    falls at a random point of every system's period (crhelper's rate is a whole number of the Provider's)."""
    return max(crhelper_polling_interval_s(), assumptions.provider_query_interval_s)


def finish_moment(finish_after_s: float, seed: int, window_s: float) -> float:
    """Seconds from the request to SUCCEEDED for one seed: T plus a phase drawn uniformly from [0, window_s).
    At T = 0 the job is already done when the request arrives, so there is no phase to draw."""
    if finish_after_s == 0:
        return 0.0
    # A stream of its own, so the finish moment does not shift the poll jitter that the same seed drives.
    phase = random.Random(f"finish-phase:{finish_after_s}:{seed}").random() * window_s
    return round(finish_after_s + phase, 3)


OursSystem = Callable[[float, int, dict[str, Any], Assumptions], OursRun]
CrhelperSystem = Callable[[float, float, Assumptions], dict[str, Any]]
ProviderSystem = Callable[[float, Assumptions], dict[str, Any]]


def measure(
    function: dict[str, Any],
    seeds: int,
    finish_after: Sequence[int] = FINISH_AFTER_S,
    assumptions: Assumptions = ASSUMPTIONS,
    *,
    ours: OursSystem = simulate_ours,
    crhelper: CrhelperSystem = crhelper_model,
    provider: ProviderSystem = provider_model,
) -> list[dict[str, Any]]:
    """One row per T. Every seed draws one finish moment and all three systems run against that same moment; the
    row keeps every run and reports each system's latency as the median and the worst over the seeds."""
    interval_s = crhelper_polling_interval_s()
    window_s = phase_window_s(assumptions)
    rows: list[dict[str, Any]] = []
    for finish_after_s in finish_after:
        runs: list[dict[str, Any]] = []
        billed: list[list[float]] = []
        for seed in range(seeds):
            finish_at_s = finish_moment(finish_after_s, seed, window_s)
            mine = ours(finish_at_s, seed, function, assumptions)
            theirs = {**crhelper(finish_at_s, interval_s, assumptions), **provider(finish_at_s, assumptions)}
            run: dict[str, Any] = {
                "seed": seed,
                "finish_at_s": finish_at_s,
                "ours_latency_s": mine.latency_s,
                "ours_api_calls": mine.api_calls,
                "ours_invocations": mine.invocations,
                "ours_invocations_allowed": invocation_allowance(finish_at_s),
                "ours_gb_s": mine.gb_s,
                "ours_cost_usd": cost_usd(mine.invocations, mine.gb_s),
                **theirs,
            }
            run["cost_ratio_ours_to_provider"] = round(run["ours_cost_usd"] / run["provider_cost_usd"], 4)
            runs.append(run)
            billed.append(mine.billed_s)
        row: dict[str, Any] = {
            "finish_after_s": finish_after_s,
            "phase_window_s": window_s if finish_after_s else 0.0,
            "seeds": seeds,
            "finish_at_s_min": min(r["finish_at_s"] for r in runs),
            "finish_at_s_max": max(r["finish_at_s"] for r in runs),
        }
        for system in SYSTEMS:
            latencies = [r[f"{system}_latency_s"] for r in runs]
            costs = [r[f"{system}_cost_usd"] for r in runs]
            row[f"{system}_latency_s_median"] = round(median(latencies), 3)
            row[f"{system}_latency_s_worst"] = max(latencies)
            row[f"{system}_invocations_worst"] = max(r[f"{system}_invocations"] for r in runs)
            row[f"{system}_cost_usd_median"] = median(costs)
            row[f"{system}_cost_usd_worst"] = max(costs)
        row["ours_api_calls_median"] = round(median([r["ours_api_calls"] for r in runs]))
        row["ours_api_calls_worst"] = max(r["ours_api_calls"] for r in runs)
        row["ours_gb_s_median"] = round(median([r["ours_gb_s"] for r in runs]), 3)
        row["ours_gb_s_worst"] = max(r["ours_gb_s"] for r in runs)
        row["ours_billed_s_worst"] = max(billed, key=sum)
        row["ours_invocations_allowed_min"] = min(r["ours_invocations_allowed"] for r in runs)
        row["ours_invocations_over_allowance"] = sum(
            1 for r in runs if r["ours_invocations"] > r["ours_invocations_allowed"]
        )
        row["provider_state_transitions_worst"] = max(r["provider_state_transitions"] for r in runs)
        ratios = [r["cost_ratio_ours_to_provider"] for r in runs]
        row["cost_ratio_ours_to_provider_median"] = round(median(ratios), 4)
        row["cost_ratio_ours_to_provider_worst"] = max(ratios)
        row["runs"] = runs
        rows.append(row)
    return rows


def describe_models(function: dict[str, Any]) -> dict[str, Any]:
    from cdk_lookoutvision_packaging_handler import continuation, waiting

    return {
        "assumptions": asdict(ASSUMPTIONS),
        "ours_function": function,
        "ours_handoff_margin_s": continuation.HANDOFF_MARGIN_S,
        "ours_poll_interval_s": list(waiting.POLL_INTERVAL_S),
        "crhelper_polling_interval_s": crhelper_polling_interval_s(),
        "crhelper_first_poll": "one rate interval after the rule is created (EventBridge rate schedules start at "
        "creation)",
        "provider_query_interval_s": ASSUMPTIONS.provider_query_interval_s,
        "finish_phase_window_s": phase_window_s(),
        "usd_per_s_waiting": usd_per_second_of_waiting(function),
        "finish_phase": "for T > 0 each seed's job finishes at T + a phase drawn uniformly from [0, window), the "
        "same moment for all three systems; at T = 0 it is already SUCCEEDED when the request arrives",
    }
