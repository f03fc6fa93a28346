"""Wait until AWS IoT Greengrass can deploy the component version a packaging job produced.

A job that SUCCEEDED has created the component version, but Greengrass registers it asynchronously: a deployment
made before it is DEPLOYABLE fails on the devices, long after the stack said yes. So once the job SUCCEEDED, the
component version is described (greengrassv2 DescribeComponent): DEPLOYABLE passes, REQUESTED and INITIATED (and a
version Greengrass does not list yet) keep waiting within the same wait timeout, FAILED and DEPRECATED fail with the
component's own message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from . import packaging_job as pj

SERVICE_NAME = "greengrassv2"
DESCRIBE_ACTION = "greengrass:DescribeComponent"
DEPLOYABLE = "DEPLOYABLE"
WAITING_STATES = frozenset({"REQUESTED", "INITIATED"})
FAILED_STATES = frozenset({"FAILED", "DEPRECATED"})
# What a version Greengrass does not list yet counts as while the wait goes on.
NOT_LISTED = "not registered yet"


@dataclass(frozen=True)
class ComponentResult:
    """``deployable``; ``failed`` or ``error`` with a reason; ``timeout`` or ``yield`` at the wait's limits."""

    outcome: str
    state: str = ""
    reason: str = ""
    calls: int = 0
    next_look_at: float | None = None


def wait_deployable(
    client: Any,
    arn: str,
    *,
    deadline: float,
    yield_at: float | None,
    clock: pj.Clock,
    on_state: Callable[[str], None] | None = None,
) -> ComponentResult:
    """Describe the component version ``arn`` until it is DEPLOYABLE or can never be, or the wait's time is up."""
    state, calls, attempt = "", 0, 0
    while True:
        calls += 1
        try:
            response = pj.bounded_call(partial(client.describe_component, arn=arn), pj.MAX_CALL_S, "DescribeComponent")
            status = response.get("status") or {}
            new_state = str(status.get("componentState") or "")
            attempt = 0
        except Exception as error:  # noqa: BLE001 - classified below
            retry, implied, reason = _classify(error, arn)
            if not retry:
                return ComponentResult("error", state, reason, calls)
            new_state, status = implied or state, {}
            attempt += 1
        if new_state != state and on_state is not None:
            on_state(new_state)
        state = new_state
        if state == DEPLOYABLE:
            return ComponentResult("deployable", state, "", calls)
        if state in FAILED_STATES:
            return ComponentResult("failed", state, failed_reason(arn, state, status), calls)
        if state and state not in WAITING_STATES and state != NOT_LISTED:
            return ComponentResult("error", state, f"Greengrass component {arn} is in unknown state {state}", calls)
        low, high = pj.POLL_INTERVAL_S
        backoff = pj.BACKOFF_BASE_S * 2.0 ** min(attempt, 8)
        delay = clock.rng.uniform(low, high) if attempt == 0 else min(pj.BACKOFF_CAP_S, backoff)
        now = clock.now()
        if yield_at is not None and now + delay >= yield_at:
            return ComponentResult("yield", state, "", calls, next_look_at=now + delay)
        if now + delay > deadline:
            return ComponentResult("timeout", state, "", calls)
        clock.sleep(delay)


def _classify(error: BaseException, arn: str) -> tuple[bool, str, str]:
    """(retry, state it implies, reason) for a failed DescribeComponent."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        message = pj.one_line(str(err.get("Message", "")).strip())
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code == "ResourceNotFoundException" or status == 404:
            return True, NOT_LISTED, ""
        if code in ("ThrottlingException", "InternalServerException") or status == 429 or status >= 500:
            return True, "", ""
        if code == "AccessDeniedException" or status == 403:
            return (
                False,
                "",
                (f"Access denied describing Greengrass component {arn}: grant {DESCRIBE_ACTION} on it ({message})"),
            )
        return False, "", f"DescribeComponent for {arn} failed with {code} ({status}): {message}"
    if isinstance(error, BotoCoreError | ConnectionError | TimeoutError):
        # Connection failures, timeouts and malformed answers are retried; a name that does not resolve is not.
        problem = pj.classify_error(error, "", "")
        if problem.retryable:
            return True, "", ""
        return False, "", f"DescribeComponent for {arn} failed: {type(error).__name__}: {pj.one_line(str(error))}"
    return False, "", f"DescribeComponent for {arn} failed: {type(error).__name__}: {error}"


def failed_reason(arn: str, state: str, status: Mapping[str, Any]) -> str:
    message = pj.one_line(str(status.get("message") or "").strip())
    errors = status.get("errors") or {}
    detail = (
        "; ".join(f"{k}: {pj.one_line(str(v))}" for k, v in sorted(errors.items()))
        if isinstance(errors, Mapping)
        else ""
    )
    said = " ".join(part for part in (message, detail) if part) or "no message"
    return (
        f"The model packaged, but Greengrass component {arn} is {state} and cannot be deployed: {said}. Package it "
        "again under a new component version"
    )


def timeout_reason(arn: str, state: str, waited_s: float) -> str:
    return (
        f"Greengrass component {arn} was still {state or 'not described'} after {waited_s / 60:.1f} minutes: "
        "Greengrass has not made it deployable yet. Retry the deployment, or raise wait_timeout"
    )
