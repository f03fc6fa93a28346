"""Where a wait stands across invocations: the state a continuation carries, the window this invocation may wait
in, and the polling budget the function was configured with.

A wait longer than one Lambda invocation goes on in a new invocation of the same function (``handoff``), whose event
carries the wait's start, its count and when it would have looked next, so that the deadline and the pace hold across
the chain. A continuation's state is checked before it is trusted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import contract as c
from .properties import JobProperties
from .waiting import PollBudget

# Stop polling this long before the Lambda deadline, to leave time for one slow API call, the hand-off and an answer.
HANDOFF_MARGIN_S = 60.0
# An invocation must have room for this many looks at the wait's pace before its hand-off point; a shorter one (a
# function whose timeout was lowered below what a wait needs) answers FAILED instead of handing off at once, which
# would chain invocations as fast as Lambda starts them.
MIN_LOOKS_PER_INVOCATION = 2
# CloudFormation fails a custom resource that has not answered ServiceTimeout seconds after it sent the request,
# with a generic message of its own. The wait ends this long before then, so that our reason is the one it shows.
SERVICE_TIMEOUT_MARGIN_S = 60
# How far a continuation's StartedAt may lie in the future of this invocation's clock (clock skew between hosts).
CLOCK_SKEW_S = 5.0
# The key a continuation invocation carries its wait state under.
CONTINUATION_KEY = "LookoutVisionWait"
# A continuation's count is at most this: a wait ends within MAX_SERVICE_TIMEOUT_S, and every invocation it continues
# in lasts longer than HANDOFF_MARGIN_S, so a real chain has fewer than 60 links.
MAX_INVOCATIONS = 100


@dataclass(frozen=True)
class WaitState:
    """Carried from one invocation to the next while a long wait continues."""

    started_at: float
    invocation: int = 1
    # When the previous invocation would have taken its next look: the continuation keeps the wait's pace.
    next_look_at: float | None = None
    # Until when a job the first invocation started counts as not visible yet, rather than missing.
    visible_by: float | None = None


class StateError(ValueError):
    """A continuation whose wait state cannot be trusted, phrased as what is wrong with it."""


def _state_time(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StateError(f"{CONTINUATION_KEY}.{key} must be a number of seconds, got {c.show(value, 60)}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise StateError(f"{CONTINUATION_KEY}.{key} {c.show(value, 60)} is not a finite time")
    return seconds


def wait_state(event: Mapping[str, Any], now: float, props: JobProperties) -> WaitState:
    """The wait state of this invocation: a fresh one for CloudFormation's own request, the carried one for a
    continuation. Raises StateError when a continuation's state cannot belong to this request: a StartedAt outside
    the time CloudFormation waits for an answer, a count that is not a whole number, a next look outside the wait."""
    if CONTINUATION_KEY not in event:
        return WaitState(now, 1)
    raw = event[CONTINUATION_KEY]
    if not isinstance(raw, Mapping):
        raise StateError(f"{CONTINUATION_KEY} must be an object, got {type(raw).__name__}")
    started = _state_time(raw, "StartedAt")
    oldest = now - props.answer_within_s
    if not oldest <= started <= now + CLOCK_SKEW_S:
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
    """An optional moment of the wait, which must lie within it."""
    if raw.get(key) is None:
        return None
    moment = _state_time(raw, key)
    if not within[0] <= moment <= within[1]:
        raise StateError(f"{CONTINUATION_KEY}.{key} {moment:.1f} lies outside the wait, which began at {within[0]:.1f}")
    return moment


@dataclass(frozen=True)
class Window:
    """When the whole wait ends, when this invocation hands it on, and whether CloudFormation's ServiceTimeout (not
    wait_timeout) set the end."""

    deadline: float
    hand_off_at: float
    capped_by_service_timeout: bool


def wait_window(props: JobProperties, state: WaitState, now: float, remaining_s: float) -> Window:
    """The wait ends wait_timeout after the first invocation began, and always SERVICE_TIMEOUT_MARGIN_S before
    CloudFormation's ServiceTimeout would fail the resource with its own message; this invocation, with
    ``remaining_s`` left before its Lambda deadline, hands the wait on HANDOFF_MARGIN_S before that deadline."""
    by_service = props.answer_within_s - SERVICE_TIMEOUT_MARGIN_S
    within = min(props.wait_timeout_s, by_service)
    return Window(state.started_at + within, now + remaining_s - HANDOFF_MARGIN_S, by_service < props.wait_timeout_s)


def needed_invocation_s(pace_high_s: float) -> float:
    """The shortest invocation a wait can continue in: the hand-off margin plus room for its looks."""
    return HANDOFF_MARGIN_S + MIN_LOOKS_PER_INVOCATION * pace_high_s


def continuation_event(
    event: Mapping[str, Any], state: WaitState, next_look_at: float | None, visible_by: float | None = None
) -> dict[str, Any]:
    """The event to invoke ourselves with: the original request plus where the wait stands."""
    forwarded = {k: v for k, v in event.items() if k != CONTINUATION_KEY}
    carried: dict[str, Any] = {"StartedAt": state.started_at, "Invocation": state.invocation + 1}
    for key, moment in (("NextLookAt", next_look_at), ("VisibleBy", visible_by)):
        if moment is not None:
            carried[key] = moment
    forwarded[CONTINUATION_KEY] = carried
    return forwarded


def poll_budget(environ: Mapping[str, str]) -> tuple[PollBudget | None, str]:
    """The polling budget the function was configured with, and a warning when part of it is unusable.

    None when neither variable is set (a function configured without a budget polls at POLL_INTERVAL_S alone).
    An unusable value falls back to the default budget or to one job, and says so: a wait must not fail over it.
    """
    raw_rps, raw_jobs = environ.get(c.BUDGET_RPS_ENV), environ.get(c.BUDGET_JOBS_ENV)
    if raw_rps is None and raw_jobs is None:
        return None, ""
    problems: list[str] = []
    rps = c.DEFAULT_DESCRIBE_BUDGET_RPS
    if raw_rps is not None:
        try:
            parsed = float(raw_rps)
        except ValueError:
            parsed = float("nan")
        low, high = c.DESCRIBE_BUDGET_RPS_RANGE
        if low <= parsed <= high:
            rps = parsed
        else:
            problems.append(f"{c.BUDGET_RPS_ENV}={c.show(raw_rps, 60)} is not a positive number; using {rps:g}")
    jobs = 1
    if raw_jobs is not None:
        text = raw_jobs.strip()
        if text.isascii() and text.isdigit() and 1 <= int(text) <= c.MAX_BUDGET_JOBS:
            jobs = int(text)
        else:
            problems.append(
                f"{c.BUDGET_JOBS_ENV}={c.show(raw_jobs, 60)} is not a job count (1-{c.MAX_BUDGET_JOBS}); using 1"
            )
    return PollBudget(rps, jobs), "; ".join(problems)
