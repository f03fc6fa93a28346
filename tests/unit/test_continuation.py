"""continuation: the wait state a continuation carries or is refused for, the wait's window, the polling budget."""

from __future__ import annotations

import json
import re

import pytest
from support import make_event

from cdk_lookoutvision_packaging_handler import continuation as cn
from cdk_lookoutvision_packaging_handler.properties import JobProperties
from cdk_lookoutvision_packaging_handler.waiting import PollBudget

PROPS = JobProperties("pcb", "pcb-v3-x86")
SHORT = JobProperties("pcb", "pcb-v3-x86", service_timeout_s=300)
NOW = 10_000.0


def test_a_continuation_carries_the_request_the_wait_s_start_its_count_and_its_pace() -> None:
    event = make_event()
    assert cn.wait_state(event, 100.0, PROPS) == cn.WaitState(100.0, 1)
    forwarded = cn.continuation_event(event, cn.WaitState(100.0, 1), 160.5)
    assert forwarded == {**event, cn.CONTINUATION_KEY: {"StartedAt": 100.0, "Invocation": 2, "NextLookAt": 160.5}}
    assert cn.CONTINUATION_KEY not in event
    # The next invocation reads it back; a further hand-off keeps the start, counts on and replaces the state.
    resumed = cn.wait_state(json.loads(json.dumps(forwarded)), 160.0, PROPS)
    assert resumed == cn.WaitState(100.0, 2, 160.5)
    again = cn.continuation_event(forwarded, resumed, None)
    assert again == {**event, cn.CONTINUATION_KEY: {"StartedAt": 100.0, "Invocation": 3}}
    # A continuation starts within its request's ServiceTimeout, or a clock skew ahead of this host.
    for started, props in ((NOW + cn.CLOCK_SKEW_S, SHORT), (NOW - 300, SHORT), (NOW - 3600, PROPS)):
        state = {"StartedAt": started, "Invocation": 100, "NextLookAt": started}
        assert cn.wait_state({cn.CONTINUATION_KEY: state}, NOW, props) == cn.WaitState(started, 100, started)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("x", "LookoutVisionWait must be an object, got str"),
        ({"StartedAt": "9990", "Invocation": 2}, "LookoutVisionWait.StartedAt must be a number of seconds, got '9990'"),
        ({"StartedAt": True, "Invocation": 2}, "StartedAt must be a number of seconds, got True"),
        ({"StartedAt": 10**400, "Invocation": 2}, "is not a finite time"),
        ({"StartedAt": float("nan"), "Invocation": 2}, "StartedAt nan is not a finite time"),
        ({"StartedAt": NOW + 5.5, "Invocation": 2}, "StartedAt 10005.5 is -5.5 s before this invocation; a "),
        ({"StartedAt": NOW - 301, "Invocation": 2}, "between 0 and 300 s (its ServiceTimeout) after it"),
        ({"StartedAt": 9990.0}, "LookoutVisionWait.Invocation must be a whole number from 2 to 100, got None"),
        ({"StartedAt": 9990.0, "Invocation": 2.0}, "Invocation must be a whole number from 2 to 100, got 2.0"),
        ({"StartedAt": 9990.0, "Invocation": True}, "Invocation must be a whole number from 2 to 100, got True"),
        ({"StartedAt": 9990.0, "Invocation": 1}, "Invocation must be a whole number from 2 to 100, got 1"),
        ({"StartedAt": 9990.0, "Invocation": 101}, "Invocation must be a whole number from 2 to 100, got 101"),
        ({"StartedAt": 9990.0, "Invocation": 2, "NextLookAt": "soon"}, "NextLookAt must be a number"),
        (
            {"StartedAt": 9990.0, "Invocation": 2, "NextLookAt": 9989.0},
            "NextLookAt 9989.0 lies outside the wait, which began at 9990.0",
        ),
        ({"StartedAt": 9990.0, "Invocation": 2, "NextLookAt": 10291.0}, "NextLookAt 10291.0 lies outside the wait"),
    ],
)
def test_a_malformed_or_impossible_wait_state_is_refused(raw: object, says: str) -> None:
    with pytest.raises(cn.StateError, match=re.escape(says)):
        cn.wait_state({cn.CONTINUATION_KEY: raw}, NOW, SHORT)


def test_a_look_due_at_the_very_end_of_the_wait_is_kept() -> None:
    raw = {"StartedAt": 9990.0, "Invocation": 2, "NextLookAt": 10290.0}
    assert cn.wait_state({cn.CONTINUATION_KEY: raw}, NOW, SHORT).next_look_at == 10290.0


def test_the_wait_ends_at_wait_timeout_or_a_minute_before_the_service_timeout() -> None:
    for wait_timeout_s, service_timeout_s, ends_after_s, capped in (
        (2700, 300, 300 - 60, True),  # a resource that does not wait, as synthesized
        (1800, 2100, 1800, False),  # a waiting one: ServiceTimeout is wait_timeout + 5 minutes
        (3300, None, 3300, False),  # no ServiceTimeout: CloudFormation waits 3600 s
        (3300, 3300, 3300 - 60, True),
        (3300, 3360, 3300, False),  # both end it at once: wait_timeout is what to raise
    ):
        props = JobProperties("pcb", "j", wait_timeout_s=wait_timeout_s, service_timeout_s=service_timeout_s)
        # The invocation hands the wait on a minute before its own Lambda deadline.
        window = cn.Window(1000.0 + ends_after_s, 1500.0 + 900.0 - 60, capped)
        assert cn.wait_window(props, cn.WaitState(1000.0, 2), 1500.0, 900.0) == window


def test_the_polling_budget_comes_from_the_environment_and_an_unusable_part_falls_back_saying_so() -> None:
    assert cn.poll_budget({}) == (None, "")
    assert cn.poll_budget({"DESCRIBE_BUDGET_RPS": "2.5", "DESCRIBE_BUDGET_JOBS": " 7 "}) == (PollBudget(2.5, 7), "")
    assert cn.poll_budget({"DESCRIBE_BUDGET_JOBS": "10000"}) == (PollBudget(4.0, 10_000), "")
    assert cn.poll_budget({"DESCRIBE_BUDGET_RPS": "0.01"}) == (PollBudget(0.01, 1), "")
    assert cn.poll_budget({"DESCRIBE_BUDGET_RPS": "10000"}) == (PollBudget(10_000.0, 1), "")
    for rps, jobs in (("abc", "0"), ("nan", "10001"), ("0.009", "1.5"), ("1e9", "\u0663"), ("", "")):
        assert cn.poll_budget({"DESCRIBE_BUDGET_RPS": rps, "DESCRIBE_BUDGET_JOBS": jobs}) == (
            PollBudget(4.0, 1),
            f"DESCRIBE_BUDGET_RPS={rps!r} is not a positive number; using 4; "
            f"DESCRIBE_BUDGET_JOBS={jobs!r} is not a job count (1-10000); using 1",
        )


def test_a_bad_value_in_a_wait_state_or_the_budget_is_shown_cut_to_sixty_characters() -> None:
    with pytest.raises(cn.StateError) as info:
        cn.wait_state({cn.CONTINUATION_KEY: {"StartedAt": "9" * 70, "Invocation": 2}}, NOW, SHORT)
    assert str(info.value) == f"LookoutVisionWait.StartedAt must be a number of seconds, got {'9' * 60 + '...'!r}"
    with pytest.raises(cn.StateError) as info:
        cn.wait_state({cn.CONTINUATION_KEY: {"StartedAt": 10**400, "Invocation": 2}}, NOW, SHORT)
    assert str(info.value) == f"LookoutVisionWait.StartedAt {str(10**400)[:60]}... is not a finite time"
    with pytest.raises(cn.StateError) as info:
        cn.wait_state({cn.CONTINUATION_KEY: {"StartedAt": 9990.0, "Invocation": "2" * 70}}, NOW, SHORT)
    assert str(info.value).endswith(f"from 2 to 100, got {'2' * 60 + '...'!r}")
    long_rps, long_jobs = "9" * 70, "x" * 70
    _, problems = cn.poll_budget({"DESCRIBE_BUDGET_RPS": long_rps, "DESCRIBE_BUDGET_JOBS": long_jobs})
    assert problems == (
        f"DESCRIBE_BUDGET_RPS={long_rps[:60] + '...'!r} is not a positive number; using 4; "
        f"DESCRIBE_BUDGET_JOBS={long_jobs[:60] + '...'!r} is not a job count (1-10000); using 1"
    )
