"""Wait until Greengrass can deploy the component version a SUCCEEDED job produced: Greengrass registers it
asynchronously, and a deployment made before it is DEPLOYABLE fails on the devices, long after the stack said yes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from . import waiting
from .contract import DESCRIBE_COMPONENT_ACTION
from .outbound import CONSTRUCT_WORDING, Call, Wording, bounded_call, classify, one_line

DEPLOYABLE = "DEPLOYABLE"
WAITING_STATES = frozenset({"REQUESTED", "INITIATED"})
FAILED_STATES = frozenset({"FAILED", "DEPRECATED"})
# What a version Greengrass does not list yet counts as while the wait goes on.
NOT_LISTED = "not registered yet"


def describe_call(arn: str, region: str = "", wording: Wording = CONSTRUCT_WORDING) -> Call:
    denied = f"Access denied describing Greengrass component {arn}: grant {DESCRIBE_COMPONENT_ACTION} on it"
    failure = f"Cannot describe Greengrass component {arn}"
    return Call("DescribeComponent", arn, failure, denied, service="Greengrass", wording=wording, region=region)


def wait_deployable(
    client: Any,
    arn: str,
    schedule: waiting.Schedule,
    *,
    call: Call | None = None,
    on_state: Callable[[str], None] | None = None,
) -> waiting.Waited:
    """``deployable``; ``failed`` or ``error`` with a ``reason``; ``timeout`` or ``yield`` at the wait's limits."""
    call = call or describe_call(arn)
    seen: dict[str, Any] = {"state": "", "status": {}}

    def look(timeout_s: float) -> bool:
        try:
            response = bounded_call(partial(client.describe_component, arn=arn), timeout_s, "DescribeComponent")
            status = response.get("status") or {}
            state = str(status.get("componentState") or "")
        except Exception as error:
            if classify(error, call).kind != "not_found":
                raise
            state, status = NOT_LISTED, {}
        if state != seen["state"] and on_state is not None:
            on_state(state)
        seen.update(state=state, status=status)
        return state not in WAITING_STATES and state != NOT_LISTED

    waited = waiting.wait(look, call, schedule)
    state = seen["state"]
    if waited.outcome == "error" and waited.problem is not None:
        return replace(waited, status=state, reason=waited.problem.message)
    if waited.outcome != "done":
        return replace(waited, status=state)
    if state == DEPLOYABLE:
        return replace(waited, outcome="deployable", status=state)
    if state in FAILED_STATES:
        return replace(waited, outcome="failed", status=state, reason=failed_reason(arn, state, seen["status"]))
    reason = f"Greengrass component {arn} is in unknown state {state}"
    return replace(waited, outcome="error", status=state, reason=reason)


def failed_reason(arn: str, state: str, status: Mapping[str, Any]) -> str:
    message = one_line(str(status.get("message") or "").strip())
    errors = status.get("errors") or {}
    detail = (
        "; ".join(f"{k}: {one_line(str(v))}" for k, v in sorted(errors.items())) if isinstance(errors, Mapping) else ""
    )
    said = " ".join(part for part in (message, detail) if part) or "no message"
    return (
        f"The model packaged, but Greengrass component {arn} is {state} and cannot be deployed: {said}. Package it "
        "again under a new component version"
    )


def timeout_what(arn: str) -> str:
    return f"Greengrass component {arn} to become deployable"
