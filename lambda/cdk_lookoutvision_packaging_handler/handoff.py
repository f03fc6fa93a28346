"""Hand a wait on to a new invocation of this same function, with an asynchronous Invoke that is never doubled.

An asynchronous Invoke is not idempotent: a retried one that Lambda had already queued starts a second chain of
invocations for one request. So only attempts that cannot have reached Lambda, or that Lambda refused outright, are
repeated; an Invoke whose outcome is unknown counts as handed off.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from .contract import INVOKE_ACTION
from .outbound import ApiProblem, Call, Clock, retrying

logger = logging.getLogger(__name__)

# At most this many Invoke attempts, within this long.
HANDOFF_ATTEMPTS = 3
HANDOFF_BUDGET_S = 30.0


class Claim(Protocol):
    """The request's one claim: the hand-off and an answer (the timer's) exclude each other."""

    def claim_hand_off(self) -> bool: ...

    def release_hand_off(self) -> None: ...


def invoke_call(function_arn: str) -> Call:
    """The asynchronous Invoke, as the calling policy needs to know it: never repeated once it may have reached
    Lambda (``repeatable`` False makes a 5xx or a read timeout an unknown outcome, not a retry)."""
    return Call(
        "Invoke",
        function_arn,
        "Could not hand the wait on",
        f"check that the function may {INVOKE_ACTION} itself",
        service="Lambda",
        repeatable=False,
    )


def continue_elsewhere(
    lambda_client: Any,
    function_arn: str,
    payload: dict[str, Any],
    invocation: int,
    claim: Claim,
    *,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> str | None:
    """Invoke ``function_arn`` with ``payload`` (its ``invocation``-th invocation for this request). Returns None when
    the wait is handed on (or may have been: then it must not be started twice), or why Lambda refused it, for this
    invocation's FAILED answer.

    Claiming the hand-off and claiming the answer are one decision: when the timer answered first, nothing is
    invoked, and once the hand-off is claimed, the timer stays silent.
    """
    if not claim.claim_hand_off():
        logger.info("Not handing the wait on: this request was already answered")
        return None
    body, attempts = json.dumps(payload).encode("utf-8"), 0

    def invoke(_timeout_s: float) -> Any:
        nonlocal attempts
        attempts += 1
        return lambda_client.invoke(FunctionName=function_arn, InvocationType="Event", Payload=body)

    def on_retry(problem: ApiProblem, _delay: float) -> None:
        logger.warning(json.dumps({"handOffRetry": _detail(problem), "attempt": attempts}))

    clock = Clock(now=monotonic, sleep=sleep)
    sent = retrying(
        invoke,
        invoke_call(function_arn),
        clock=clock,
        give_up_at=monotonic() + HANDOFF_BUDGET_S,
        max_attempts=HANDOFF_ATTEMPTS,
        on_retry=on_retry,
    )
    problem = sent.problem
    if problem is None:
        logger.info(json.dumps({"handedOffTo": "invocation", "invocation": invocation}))
        return None
    if problem.kind == "unknown_outcome":
        _handed_off_maybe(f"Lambda answered {_detail(problem)}" if problem.status else problem.code, invocation)
        return None
    claim.release_hand_off()
    if sent.gave_up:
        return f"Lambda did not take the Invoke after {sent.attempts} attempts ({_detail(problem)})"
    if problem.kind == "denied":
        return f"{problem.code}: check that the function may {INVOKE_ACTION} itself"
    return f"Lambda refused the Invoke with {problem.code or 'an error'} ({problem.status})"


def _detail(problem: ApiProblem) -> str:
    if problem.status:
        return f"{problem.code} ({problem.status})"
    return f"{problem.code} connecting to Lambda" if problem.kind == "transient" else problem.code


def _handed_off_maybe(problem: str, invocation: int) -> None:
    """An Invoke whose outcome is unknown: Lambda may have queued it. A second attempt could start a second chain,
    and a FAILED answer could contradict the continuation's, so this invocation stays silent; if no continuation
    runs, CloudFormation fails the resource at its ServiceTimeout."""
    logger.error(
        json.dumps(
            {
                "handOffUnknown": problem,
                "invocation": invocation,
                "note": "not retried: Lambda may have queued it; if not, the resource fails at its ServiceTimeout",
            }
        )
    )
