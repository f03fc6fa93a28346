"""The one wait loop (the job's and the component's): look again at a jittered pace until the look says it is over
or time is up; failed looks are classified by ``outbound``, transient ones back off, throttling slows the pace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .contract import DEFAULT_DESCRIBE_BUDGET_RPS
from .outbound import MAX_CALL_S, ApiProblem, Call, Clock, classify

# Jitter keeps many waiters from polling in step; the upper bound notices a status change within 5 seconds.
POLL_INTERVAL_S = (2.0, 4.5)
# Many waiters share one account quota: each throttle raises a wait's pressure by one (up to PRESSURE_MAX), each
# accepted call lowers it by PRESSURE_RELIEF, and every delay is stretched by 2**pressure (up to PACE_CAP_S).
PRESSURE_MAX = 3.0
PRESSURE_RELIEF = 0.125
PACE_CAP_S = 60.0
# Polls are drawn from [share, share * SHARE_JITTER] of the budget, so the fleet's mean rate stays under it.
SHARE_JITTER = 1.5


@dataclass(frozen=True)
class PollBudget:
    """How many Describe calls per second ``jobs`` waits may make together, in equal shares."""

    requests_per_second: float = DEFAULT_DESCRIBE_BUDGET_RPS
    jobs: int = 1

    @property
    def share_s(self) -> float:
        return self.jobs / self.requests_per_second


def poll_interval(budget: PollBudget | None = None) -> tuple[float, float]:
    """The range of unthrottled poll delays: POLL_INTERVAL_S, or the wait's share of ``budget`` when slower."""
    low, high = POLL_INTERVAL_S
    if budget is not None:
        low, high = max(low, budget.share_s), max(high, budget.share_s * SHARE_JITTER)
    return low, high


@dataclass(frozen=True)
class Waited:
    """How a wait ended: ``done``, ``timeout`` at the deadline, ``yield`` at the hand-off point (``next_look_at``: when
    the next look was due) or ``error``; ``last_error`` is the last transient failure, for a timeout's reason. The
    job's and the component's waits refine ``outcome`` and add what they last saw: ``status`` (the job's Status or
    the component's state), the job's ``description``, and the ``reason`` a failed component gives."""

    outcome: str
    calls: int
    problem: ApiProblem | None = None
    last_error: str = ""
    next_look_at: float | None = None
    status: str = ""
    reason: str = ""
    description: dict[str, Any] | None = None


@dataclass(frozen=True)
class Schedule:
    """When a wait ends (``deadline``: the look taken there decides) or hands on (``yield_at``), both ``clock.now()``
    values, and its pace; the first look comes at ``first_look_at`` (a continuation keeps its predecessor's pace),
    but always in this invocation. ``on_retry`` hears of each failed look that is retried."""

    deadline: float
    clock: Clock
    yield_at: float | None = None
    interval: tuple[float, float] = POLL_INTERVAL_S
    first_look_at: float | None = None
    on_retry: Callable[[ApiProblem, float], None] | None = None


def wait(look: Callable[[float], bool], call: Call, schedule: Schedule) -> Waited:
    """Run ``look(timeout_s)`` (True when the wait is over) until it is over or ``schedule`` ends it."""
    deadline, yield_at, clock, interval = schedule.deadline, schedule.yield_at, schedule.clock, schedule.interval
    first_look_at, on_retry = schedule.first_look_at, schedule.on_retry
    calls, failures, pressure, last_error = 0, 0, 0.0, ""
    pace_cap = max(PACE_CAP_S, interval[1])
    call_limit = yield_at if yield_at is not None else deadline + MAX_CALL_S
    end = deadline if yield_at is None else min(deadline, yield_at)
    if first_look_at is not None and min(first_look_at, end) > clock.now():
        clock.sleep(min(first_look_at, end) - clock.now())
    while True:
        calls += 1
        try:
            if look(min(MAX_CALL_S, call_limit - clock.now())):
                return Waited("done", calls)
        except Exception as error:  # noqa: BLE001 - every failure is classified, none escapes unanswered
            problem = classify(error, call)
            if not problem.retryable:
                return Waited("error", calls, problem, last_error)
            failures += 1
            last_error = problem.message
            delay = call.backoff.delay(failures, clock.rng, problem.retry_after_s)
            if problem.kind == "throttled":
                pressure = min(PRESSURE_MAX, pressure + 1.0)
                delay = max(delay, min(pace_cap, clock.rng.uniform(*interval) * 2**pressure))
            if on_retry is not None:
                on_retry(problem, delay)
        else:
            failures, pressure = 0, max(0.0, pressure - PRESSURE_RELIEF)
            delay = min(pace_cap, clock.rng.uniform(*interval) * 2**pressure)
        now = clock.now()
        if now >= deadline:
            return Waited("timeout", calls, None, last_error)
        if yield_at is not None and now + delay >= yield_at:
            return Waited("yield", calls, None, last_error, next_look_at=now + delay)
        # Never sleep past the deadline: the look taken at the deadline decides between success and timeout.
        clock.sleep(min(delay, deadline - now))
