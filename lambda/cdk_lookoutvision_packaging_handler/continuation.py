"""Where a wait stands across invocations: the state a continuation's event carries (checked before it is trusted),
so that the deadline and the pace hold across the chain; the window this invocation may wait in; the poll budget.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import contract as c
from .properties import JobProperties
from .waiting import PollBudget

# Stop polling this long before the Lambda deadline, to leave time for one slow API call, the hand-off and an answer.
HANDOFF_MARGIN_S = 60.0
# An invocation must have room for this many looks before its hand-off point; a shorter one answers FAILED.
MIN_LOOKS_PER_INVOCATION = 2
# The wait ends this long before CloudFormation's ServiceTimeout, so that our reason, not its generic one, shows.
SERVICE_TIMEOUT_MARGIN_S = 60
# How far a continuation's StartedAt may lie in the future of this invocation's clock (skew between hosts).
CLOCK_SKEW_S = 5.0
CONTINUATION_KEY = "LookoutVisionWait"
# A wait ends within MAX_SERVICE_TIMEOUT_S and each link lasts over HANDOFF_MARGIN_S: fewer than 60 links.
MAX_INVOCATIONS = 100


@dataclass(frozen=True)
class WaitState:
    """Carried from one invocation to the next: the previous one's next look (the pace), and until when a job the
    first invocation started counts as not visible yet, rather than missing."""

    started_at: float
    invocation: int = 1
    next_look_at: float | None = None
    visible_by: float | None = None


class StateError(ValueError):
    """A continuation whose wait state cannot be trusted."""


def _state_time(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StateError(f"{CONTINUATION_KEY}.{key} must be a number of seconds, got {c.show(value, 60)}")
    with contextlib.suppress(OverflowError):  # an integer too large for a float is not finite either
        if math.isfinite(value):
            return float(value)
    raise StateError(f"{CONTINUATION_KEY}.{key} {c.show(value, 60)} is not a finite time")


def wait_state(event: Mapping[str, Any], now: float, props: JobProperties) -> WaitState:
    """A fresh state for CloudFormation's own request, the carried one for a continuation; StateError when that
    cannot belong to this request."""
    if CONTINUATION_KEY not in event:
        return WaitState(now, 1)
    raw = event[CONTINUATION_KEY]
    if not isinstance(raw, Mapping):
        raise StateError(f"{CONTINUATION_KEY} must be an object, got {type(raw).__name__}")
    started = _state_time(raw, "StartedAt")
    if not now - props.answer_within_s <= started <= now + CLOCK_SKEW_S:
        raise StateError(
            f"{CONTINUATION_KEY}.StartedAt {started:.1f} is {now - started:.1f} s before this invocation; a "
            f"continuation of this request starts between 0 and {props.answer_within_s} s (its ServiceTimeout) after it"
        )
    invocation = raw.get("Invocation")
    if isinstance(invocation, bool) or not isinstance(invocation, int) or not 2 <= invocation <= MAX_INVOCATIONS:
        raise StateError(
            f"{CONTINUATION_KEY}.Invocation must be a whole number from 2 to {MAX_INVOCATIONS}, "
            f"got {c.show(invocation, 60)}"
        )
    within = (started, started + props.answer_within_s)
    return WaitState(started, invocation, _moment(raw, "NextLookAt", within), _moment(raw, "VisibleBy", within))


def _moment(raw: Mapping[str, Any], key: str, within: tuple[float, float]) -> float | None:
    if raw.get(key) is None:
        return None
    moment = _state_time(raw, key)
    if not within[0] <= moment <= within[1]:
        raise StateError(f"{CONTINUATION_KEY}.{key} {moment:.1f} lies outside the wait, which began at {within[0]:.1f}")
    return moment


@dataclass(frozen=True)
class Window:
    """When the whole wait ends, when this invocation hands it on, and whether the ServiceTimeout set the end."""

    deadline: float
    hand_off_at: float
    capped_by_service_timeout: bool


def wait_window(props: JobProperties, state: WaitState, now: float, remaining_s: float) -> Window:
    """wait_timeout after the first invocation began, at most; this invocation hands on HANDOFF_MARGIN_S before its
    Lambda deadline."""
    by_service = props.answer_within_s - SERVICE_TIMEOUT_MARGIN_S
    within = min(props.wait_timeout_s, by_service)
    return Window(state.started_at + within, now + remaining_s - HANDOFF_MARGIN_S, by_service < props.wait_timeout_s)


def continuation_event(
    event: Mapping[str, Any], state: WaitState, next_look_at: float | None, visible_by: float | None = None
) -> dict[str, Any]:
    forwarded = {k: v for k, v in event.items() if k != CONTINUATION_KEY}
    carried = {"StartedAt": state.started_at, "Invocation": state.invocation + 1}
    moments = {"NextLookAt": next_look_at, "VisibleBy": visible_by}
    forwarded[CONTINUATION_KEY] = {**carried, **{k: v for k, v in moments.items() if v is not None}}
    return forwarded


def poll_budget(environ: Mapping[str, str]) -> tuple[PollBudget | None, str]:
    """The configured budget (None when neither variable is set), and a warning for a value that falls back to the
    default: a wait must not fail over it."""
    raw_rps, raw_jobs = environ.get(c.BUDGET_RPS_ENV), environ.get(c.BUDGET_JOBS_ENV)
    if raw_rps is None and raw_jobs is None:
        return None, ""
    problems: list[str] = []
    try:
        rps = c.DEFAULT_DESCRIBE_BUDGET_RPS if raw_rps is None else float(raw_rps)
    except ValueError:
        rps = math.nan
    low, high = c.DESCRIBE_BUDGET_RPS_RANGE
    if not low <= rps <= high:
        rps = c.DEFAULT_DESCRIBE_BUDGET_RPS
        problems.append(f"{c.BUDGET_RPS_ENV}={c.show(raw_rps, 60)} is not a positive number; using {rps:g}")
    text = "1" if raw_jobs is None else raw_jobs.strip()
    jobs = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= jobs <= c.MAX_BUDGET_JOBS:
        jobs = 1
        problems.append(
            f"{c.BUDGET_JOBS_ENV}={c.show(raw_jobs, 60)} is not a job count (1-{c.MAX_BUDGET_JOBS}); using 1"
        )
    return PollBudget(rps, jobs), "; ".join(problems)
