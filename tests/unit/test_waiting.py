"""waiting, the one wait loop, on a virtual clock: its jittered pace, the deadline and the hand-off point, the first
look, failed looks (backed off; throttling slows the pace) and the polling budget's share."""

from __future__ import annotations

from typing import Any

import pytest
from support import VirtualClock, client_error

from cdk_lookoutvision_packaging_handler import waiting
from cdk_lookoutvision_packaging_handler.outbound import BACKOFF, MAX_CALL_S, Call

LOW, HIGH = waiting.POLL_INTERVAL_S
CALL = Call("Describe", "t-1", "Cannot describe t-1", "Access denied")
THROTTLED = client_error("ThrottlingException", 429, "Rate exceeded")
THROTTLED_TEXT = "ThrottlingException (429): Rate exceeded"


class Looks:
    """Looks answering the next step: True (over), False, an exception, or a callable of the virtual seconds."""

    def __init__(self, *steps: Any) -> None:
        self.vclock, self.steps, self.at, self.bounds = VirtualClock(), list(steps), [], []

    def __call__(self, timeout_s: float) -> bool:
        self.at.append(self.vclock.now() - self.vclock.start)
        self.bounds.append(timeout_s)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        return bool(step(self.at[-1]) if callable(step) else step)


def wait(looks: Looks, deadline_s: float = 2700.0, yield_s: float | None = None, **kwargs: Any) -> waiting.Waited:
    start, clock = looks.vclock.start, looks.vclock.clock(kwargs.pop("seed", 7))
    if "first_s" in kwargs:
        kwargs["first_look_at"] = start + kwargs.pop("first_s")
    yield_at = None if yield_s is None else start + yield_s
    return waiting.wait(looks, CALL, waiting.Schedule(start + deadline_s, clock, yield_at, **kwargs))


def paced(pressure: float) -> tuple[float, float]:
    return min(waiting.PACE_CAP_S, LOW * 2**pressure), min(waiting.PACE_CAP_S, HIGH * 2**pressure)


def test_polls_are_jittered_by_the_clock_s_randomness_and_notice_a_change_within_one_interval() -> None:
    moments = []
    for seed in (1, 1, 2):
        looks = Looks(lambda seconds: seconds >= 97.3)
        assert wait(looks, seed=seed) == waiting.Waited("done", len(looks.at))
        assert all(LOW <= s <= HIGH for s in looks.vclock.sleeps) and len(set(looks.vclock.sleeps)) > 1
        assert 97.3 <= looks.at[-1] <= 97.3 + HIGH
        moments.append(looks.at)
    assert moments[0] == moments[1] != moments[2]


@pytest.mark.parametrize(
    ("step", "outcome", "last_error"),
    [(False, "timeout", ""), (lambda s: s >= 60.0, "done", ""), (THROTTLED, "timeout", THROTTLED_TEXT)],
    ids=["still-waiting", "over-at-the-deadline", "throttled-to-the-end"],
)
def test_the_look_taken_at_the_deadline_decides(step: Any, outcome: str, last_error: str) -> None:
    looks = Looks(step)
    waited = wait(looks, deadline_s=60.0)
    assert (waited.outcome, waited.last_error) == (outcome, last_error)
    assert looks.at[-1] == looks.vclock.now() - looks.vclock.start == 60.0
    assert looks.bounds[-1] == MAX_CALL_S  # without a hand-off point, even that look may take one call's time
    assert max(looks.vclock.sleeps, default=0.0) <= waiting.PACE_CAP_S


def test_the_wait_yields_before_a_look_would_pass_the_hand_off_point_saying_when_that_look_was_due() -> None:
    looks = Looks(False)
    waited = wait(looks, yield_s=30.0)
    now = looks.vclock.now() - looks.vclock.start
    assert waited.outcome == "yield" and waited.next_look_at is not None
    assert 30.0 - HIGH <= now < 30.0 <= waited.next_look_at - looks.vclock.start <= now + HIGH
    assert all(at + bound <= 30.0 for at, bound in zip(looks.at, looks.bounds, strict=True))


@pytest.mark.parametrize(("over", "outcome"), [(False, "yield"), (True, "done")])
def test_a_hand_off_point_already_passed_still_allows_one_look(over: bool, outcome: str) -> None:
    looks = Looks(over)
    assert (wait(looks, yield_s=-10.0).outcome, looks.at, looks.vclock.sleeps) == (outcome, [0.0], [])


@pytest.mark.parametrize(
    ("first_s", "deadline_s", "yield_s", "look_s"),
    [(3.0, 2700.0, None, 3.0), (-5.0, 2700.0, None, 0.0), (40.0, 10.0, None, 10.0), (40.0, 2700.0, 20.0, 20.0)],
    ids=["as-given", "already-due", "not-past-the-deadline", "not-past-the-hand-off"],
)
def test_the_first_look_comes_when_due_but_within_the_wait(
    first_s: Any, deadline_s: Any, yield_s: Any, look_s: Any
) -> None:
    looks = Looks(True)
    wait(looks, deadline_s, yield_s, first_s=first_s)
    assert looks.at == [look_s]


def test_a_failure_retrying_cannot_fix_ends_the_wait_after_one_look() -> None:
    looks = Looks(client_error("AccessDeniedException", 403), True)
    waited = wait(looks)
    assert (waited.outcome, waited.calls, looks.vclock.sleeps) == ("error", 1, [])
    assert waited.problem is not None and waited.problem.kind == "denied"


def test_a_transient_failure_is_backed_off_without_slowing_the_polls() -> None:
    looks, retries = Looks(client_error("ServiceUnavailableException", 503), *[False] * 5, True), []
    assert wait(looks, on_retry=lambda _, delay: retries.append(delay)).outcome == "done"
    first, *polls = looks.vclock.sleeps
    assert retries == [first] and 1.0 <= first <= 2.0 and all(LOW <= s <= HIGH for s in polls)


def test_throttling_slows_the_pace_with_the_backoff_up_to_the_cap() -> None:
    looks, retries = Looks(*[THROTTLED] * 9, True), []
    assert wait(looks, on_retry=lambda _, delay: retries.append(delay)) == waiting.Waited("done", 10)
    assert retries == looks.vclock.sleeps
    for failures, slept in enumerate(looks.vclock.sleeps, start=1):
        ceiling = min(BACKOFF.cap_s, BACKOFF.base_s * 2 ** (failures - 1))
        low, high = paced(min(waiting.PRESSURE_MAX, failures))
        # The later of the backoff and the poll interval stretched by the pressure.
        assert max(ceiling / 2, low) <= slept <= max(ceiling, high), (failures, slept)


def test_throttling_pressure_outlives_a_success_and_then_relaxes() -> None:
    looks = Looks(*[THROTTLED] * 5, False, THROTTLED, *[False] * 30, True)
    assert wait(looks).outcome == "done"
    sleeps, (low, high) = looks.vclock.sleeps, paced(waiting.PRESSURE_MAX - waiting.PRESSURE_RELIEF)
    assert low <= sleeps[5] <= high  # a poll after an accepted look, still slowed
    assert sleeps[6] >= paced(waiting.PRESSURE_MAX)[0]  # the backoff starts again, the pressure does not
    assert LOW <= sleeps[-1] <= HIGH  # each accepted look relaxed the pace back to normal


def test_retry_after_is_a_floor_and_the_throttled_pace_beats_a_shorter_one() -> None:
    looks = Looks(*(client_error("ThrottlingException", 429, RetryAfterSeconds=s) for s in (20, 0.1)), True)
    assert wait(looks).outcome == "done"
    assert looks.vclock.sleeps[0] == 20.0 and paced(2.0)[0] <= looks.vclock.sleeps[1] <= paced(2.0)[1]


@pytest.mark.parametrize(
    ("budget", "steps", "low", "high"),
    [
        (waiting.PollBudget(1.0, 100), [False, False, False, True], 100.0, 150.0),
        # One throttle's pressure doubles the share of 10 s: well past the 1 to 2 s backoff.
        (waiting.PollBudget(4.0, 40), [THROTTLED, True], 20.0, 30.0),
    ],
    ids=["share-longer-than-the-pace-cap", "throttled-share"],
)
def test_a_wait_keeps_to_its_share_of_the_budget(budget: Any, steps: list[Any], low: float, high: float) -> None:
    looks = Looks(*steps)
    assert wait(looks, interval=waiting.poll_interval(budget)).outcome == "done"
    assert all(low <= s <= high for s in looks.vclock.sleeps), looks.vclock.sleeps


def test_at_a_steady_pace_failures_back_off_from_their_count_throttles_double_it_and_the_hand_off_point_is_kept() -> (
    None
):
    unavailable = client_error("ServiceUnavailableException", 503, "Unavailable")
    looks = Looks(unavailable, unavailable, unavailable, False, unavailable, client_error("AccessDeniedException", 403))
    ended = wait(looks, interval=(4.0, 4.0))
    assert (ended.outcome, ended.calls, ended.last_error) == (
        "error",
        6,
        "ServiceUnavailableException (503): Unavailable",
    )
    # The n-th failure in a row waits [d/2, d], d = 2 s * 2**(n-1); a look that answers starts the count again.
    (first, second, third, steady, again), base = looks.vclock.sleeps, BACKOFF.base_s
    assert (base / 2 <= first <= base, base <= second <= 2 * base, 2 * base <= third <= 4 * base) == (True,) * 3
    assert (steady, base / 2 <= again < base) == (4.0, True)
    throttled = Looks(THROTTLED, THROTTLED, THROTTLED, True)
    wait(throttled, interval=(4.0, 4.0))
    assert throttled.vclock.sleeps == [8.0, 16.0, 32.0]
    # A look that would fall exactly on the hand-off point is the next invocation's.
    handed_on = Looks(False)
    assert wait(handed_on, yield_s=4.0, interval=(4.0, 4.0)) == waiting.Waited(
        "yield", 1, next_look_at=handed_on.vclock.start + 4.0
    )
