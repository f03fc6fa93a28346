"""The one wait loop: look, then look again at a jittered pace, until the look says it is over or time is up.

The job wait and the component wait both run it, so that both keep the same meaning of the deadline (the look
taken at the deadline decides), the same hand-off point, and the same handling of failed looks: ``outbound``
classifies them, transient ones back off (``Call.pause``), throttling slows the pace, the rest end the wait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .contract import DEFAULT_DESCRIBE_BUDGET_RPS
from .outbound import MAX_CALL_S, ApiProblem, Call, Clock, classify

# Poll interval bounds while a job is CREATED or RUNNING: uniform jitter keeps many waiters from polling in step,
# and the upper bound keeps the time to notice a status change under 5 seconds.
POLL_INTERVAL_S = (2.0, 4.5)
# Throttling pressure: many waiters share one account quota (100 jobs in a stack poll at once). Each throttle
# raises a wait's pressure by one (up to PRESSURE_MAX) and each accepted call lowers it by PRESSURE_RELIEF; every
# poll and throttle retry is stretched by 2**pressure (up to PACE_CAP_S). Unthrottled waits are unaffected.
PRESSURE_MAX = 3.0
PRESSURE_RELIEF = 0.125
PACE_CAP_S = 60.0
# A job's share of the budget is one call every jobs / budget seconds; its polls are drawn from
# [share, share * SHARE_JITTER] (or POLL_INTERVAL_S, whichever is slower), so the fleet's mean rate stays under
# the budget whatever the jobs' phases.
SHARE_JITTER = 1.5


@dataclass(frozen=True)
class PollBudget:
    """How many Describe calls per second ``jobs`` waits may make together: each wait takes an equal share."""

    requests_per_second: float = DEFAULT_DESCRIBE_BUDGET_RPS
    jobs: int = 1

    @property
    def share_s(self) -> float:
        """The mean time between one wait's calls that keeps all ``jobs`` waits within the budget."""
        return self.jobs / self.requests_per_second

    @property
    def staggers_start(self) -> bool:
        """Whether the waits' first calls must be spread out: all ``jobs`` first calls at once would exceed one
        second's worth of the budget (CloudFormation creates a stack's resources concurrently)."""
        return self.share_s > 1.0


def poll_interval(
    budget: PollBudget | None = None, poll_interval_s: tuple[float, float] | None = None
) -> tuple[float, float]:
    """The range a wait draws its unthrottled poll delays from: ``poll_interval_s`` (default POLL_INTERVAL_S), or the
    wait's share of ``budget`` when that is slower."""
    low, high = poll_interval_s or POLL_INTERVAL_S
    if budget is not None:
        low, high = max(low, budget.share_s), max(high, budget.share_s * SHARE_JITTER)
    return low, high


@dataclass(frozen=True)
class Waited:
    """How a wait ended: ``done`` (the look said so), ``timeout`` at the deadline, ``yield`` at the hand-off point
    (``next_look_at`` is when the next look was due), or ``error`` with a problem retrying cannot fix."""

    outcome: Literal["done", "timeout", "yield", "error"]
    calls: int
    problem: ApiProblem | None = None
    # The last transient failure, for a timeout's reason.
    last_error: str = ""
    next_look_at: float | None = None


def wait(
    look: Callable[[float], bool],
    call: Call,
    *,
    deadline: float,
    yield_at: float | None,
    clock: Clock,
    interval: tuple[float, float] = POLL_INTERVAL_S,
    first_look_at: float | None = None,
    on_retry: Callable[[ApiProblem, float], None] | None = None,
) -> Waited:
    """Run ``look(timeout_s)`` (one call, bounded by ``timeout_s``; True when the wait is over) until it is over, or
    until ``deadline`` (the look taken there decides) or ``yield_at`` (the caller continues elsewhere). Times are
    ``clock.now()`` values. The first look comes at ``first_look_at`` when given (a continuation keeps its
    predecessor's pace), but always in this invocation. Each call ends before ``yield_at``, or one call's time after
    ``deadline`` when there is no hand-off point."""
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
            delay = call.pause(failures, clock.rng, problem.retry_after_s)
            if problem.throttled:
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
