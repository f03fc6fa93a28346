"""component: DescribeComponent until Greengrass can deploy the version, through the product's own greengrassv2 client
answered by the fake Greengrass in memory."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from botocore import exceptions as be
from support import COMPONENT_ARN, FakeGreengrass, VirtualClock, answer, error

from cdk_lookoutvision_packaging_handler.component import NOT_LISTED, describe_call, timeout_what, wait_deployable
from cdk_lookoutvision_packaging_handler.outbound import Wording
from cdk_lookoutvision_packaging_handler.waiting import Schedule, Waited

WAITING = [("ResourceNotFoundException", 404), "REQUESTED", "REQUESTED", "INITIATED", "DEPLOYABLE"]
DENIED = f"Access denied describing Greengrass component {COMPONENT_ARN}: grant greengrass:DescribeComponent on it (no)"
FAILED = {"componentState": "FAILED", "message": "recipe\nrejected", "errors": {"b": "x", "artifact": "bad\nsum"}}


def cannot(state: str, said: str) -> str:
    return (
        f"The model packaged, but Greengrass component {COMPONENT_ARN} is {state} and cannot be deployed: {said}. "
        "Package it again under a new component version"
    )


def greengrass(*steps: Any) -> Any:
    """The product's client of a fake Greengrass that answers each look with the next step, the last one repeating:
    a state, a status, an error's (code, HTTP status), or what the fake takes as a step."""
    fake = FakeGreengrass()
    fake.script(COMPONENT_ARN, [status_or(step) for step in steps])
    return fake.client()


def status_or(step: Any) -> Any:
    if isinstance(step, tuple):
        return error(step[1], step[0], "no")
    if isinstance(step, str | dict):
        return answer(
            200, {"arn": COMPONENT_ARN, "status": step if isinstance(step, dict) else {"componentState": step}}
        )
    return step


def wait(script: list[Any], limit_s: float = 600.0, yield_s: float | None = None) -> tuple[Any, list[str]]:
    seen: list[str] = []
    vclock = VirtualClock()
    result = wait_deployable(
        greengrass(*script),
        COMPONENT_ARN,
        Schedule(vclock.start + limit_s, vclock.clock(), None if yield_s is None else vclock.start + yield_s),
        on_state=seen.append,
    )
    return result, seen


@pytest.mark.parametrize(
    ("script", "seen", "outcome", "reason"),
    [
        (["DEPLOYABLE"], ["DEPLOYABLE"], "deployable", ""),
        # A version Greengrass does not list yet, REQUESTED and INITIATED keep the wait going; each is told once.
        (WAITING, [NOT_LISTED, "REQUESTED", "INITIATED", "DEPLOYABLE"], "deployable", ""),
        ([FAILED], ["FAILED"], "failed", cannot("FAILED", "recipe rejected artifact: bad sum; b: x")),
        (["DEPRECATED"], ["DEPRECATED"], "failed", cannot("DEPRECATED", "no message")),
        ([("AccessDeniedException", 403)], [], "error", DENIED),
        (["REQUESTED", ("AccessDeniedException", 403)], ["REQUESTED"], "error", DENIED),
        (
            [("TeapotException", 418)],
            [],
            "error",
            f"DescribeComponent for {COMPONENT_ARN} failed with TeapotException (418): no",
        ),
        (
            [("ExpiredTokenException", 403)],
            [],
            "error",
            f"Cannot describe Greengrass component {COMPONENT_ARN}: the AWS credentials have expired",
        ),
        ([{}], [], "error", f"Greengrass component {COMPONENT_ARN} is in unknown state "),
        (["MELTED"], ["MELTED"], "error", f"Greengrass component {COMPONENT_ARN} is in unknown state MELTED"),
    ],
)
def test_the_wait_ends_when_the_component_is_deployable_or_never_can_be(
    script: list[Any], seen: list[str], outcome: str, reason: str
) -> None:
    result, told = wait(script)
    assert ((result.outcome, result.status, result.reason[: len(reason)], result.calls), told) == (
        (outcome, (seen or [""])[-1], reason, len(script)),
        seen,
    )


def test_a_component_not_deployable_in_time_times_out_or_yields_with_its_last_state() -> None:
    # Looks at 0 s and at the deadline, 1 s later: the first one's server error is the last error.
    timed_out, _ = wait([("InternalServerException", 500), "REQUESTED"], limit_s=1.0)
    assert timed_out == Waited("timeout", 2, last_error="InternalServerException (500): no", status="REQUESTED")
    yielded, _ = wait(["INITIATED"], yield_s=1.0)
    assert (yielded.outcome, yielded.status, yielded.calls) == ("yield", "INITIATED", 1)
    assert yielded.next_look_at is not None and yielded.next_look_at > VirtualClock().start + 1.0
    assert timeout_what(COMPONENT_ARN) == f"Greengrass component {COMPONENT_ARN} to become deployable"


def test_a_component_call_that_cannot_be_made_says_so_in_the_caller_s_words() -> None:
    vclock = VirtualClock()
    schedule = Schedule(vclock.start + 600.0, vclock.clock())
    nowhere = be.EndpointConnectionError(endpoint_url="https://greengrass.eu-west-9.amazonaws.com", error=OSError())
    nowhere.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    cli = Wording("--project-name", "--job-name", "--region")
    reason = wait_deployable(
        greengrass(nowhere), COMPONENT_ARN, schedule, call=describe_call(COMPONENT_ARN, "eu-west-9", cli)
    ).reason
    assert reason.startswith(
        "Cannot resolve the Greengrass endpoint https://greengrass.eu-west-9.amazonaws.com for Region eu-west-9"
    )
    assert "Check --region," in reason
    assert "for Region" not in wait_deployable(greengrass(nowhere), COMPONENT_ARN, schedule).reason
    no_credentials = wait_deployable(greengrass(be.NoCredentialsError()), COMPONENT_ARN, schedule).reason
    assert no_credentials == "no AWS credentials were found to call Greengrass"


def test_a_component_call_that_hangs_is_cut_off_and_named() -> None:
    vclock, release = VirtualClock(), threading.Event()
    hanging = greengrass(lambda: release.wait(30.0) and status_or("REQUESTED"), "REQUESTED")
    try:
        # A hand-off point 0.6 s away bounds the call (a look at the deadline may take a whole call's time).
        waited = wait_deployable(
            hanging, COMPONENT_ARN, Schedule(vclock.start + 600, vclock.clock(), vclock.start + 0.6)
        )
    finally:
        release.set()
    assert waited.outcome == "yield" and waited.last_error.startswith("DescribeComponent did not complete within")
