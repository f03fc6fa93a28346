"""Hand a wait on to a new invocation of this function, with an asynchronous Invoke that is never doubled: a retried
Invoke Lambda had queued would start a second chain, so one whose outcome is unknown counts as handed off.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from .contract import INVOKE_ACTION
from .outbound import ApiProblem, Call, Clock, retrying

logger = logging.getLogger(__name__)

HANDOFF_ATTEMPTS = 3
HANDOFF_BUDGET_S = 30.0


class Claim(Protocol):
    def claim_hand_off(self) -> bool: ...

    def release_hand_off(self) -> None: ...


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
    """Invoke ``function_arn`` with ``payload``; None when the wait is (or may be) handed on, else why Lambda refused
    it. Nothing is invoked once the timer answered, and once the hand-off is claimed the timer stays silent."""
    if not claim.claim_hand_off():
        logger.info("Not handing the wait on: this request was already answered")
        return None
    body, retries = json.dumps(payload).encode("utf-8"), itertools.count(1)

    def on_retry(problem: ApiProblem, _delay: float) -> None:  # the n-th retry follows the n-th attempt
        logger.warning(json.dumps({"handOffRetry": _detail(problem), "attempt": next(retries)}))

    # repeatable=False: a 5xx or a read timeout is an unknown outcome, never a retry.
    denied = f"check that the function may {INVOKE_ACTION} itself"
    call = Call("Invoke", function_arn, "Could not hand the wait on", denied, service="Lambda", repeatable=False)
    sent = retrying(
        lambda _timeout_s: lambda_client.invoke(FunctionName=function_arn, InvocationType="Event", Payload=body),
        call,
        clock=Clock(now=monotonic, sleep=sleep),
        give_up_at=monotonic() + HANDOFF_BUDGET_S,
        max_attempts=HANDOFF_ATTEMPTS,
        on_retry=on_retry,
    )
    problem = sent.problem
    if problem is None:
        logger.info(json.dumps({"handedOffTo": "invocation", "invocation": invocation}))
        return None
    if problem.kind == "unknown_outcome":
        # Lambda may have queued it: a FAILED answer could contradict the continuation's, so stay silent.
        unknown = f"Lambda answered {_detail(problem)}" if problem.status else problem.code
        note = "not retried: Lambda may have queued it; if not, the resource fails at its ServiceTimeout"
        logger.error(json.dumps({"handOffUnknown": unknown, "invocation": invocation, "note": note}))
        return None
    claim.release_hand_off()
    if sent.gave_up:
        return f"Lambda did not take the Invoke after {sent.attempts} attempts ({_detail(problem)})"
    if problem.kind == "denied":
        return f"{problem.code}: {denied}"
    return f"Lambda refused the Invoke with {problem.code or 'an error'} ({problem.status})"


def _detail(problem: ApiProblem) -> str:
    if problem.status:
        return f"{problem.code} ({problem.status})"
    return f"{problem.code} connecting to Lambda" if problem.kind == "transient" else problem.code
