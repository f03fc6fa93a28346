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

logger = logging.getLogger("model_packaging_job")

# At most this many Invoke attempts, within this long.
HANDOFF_ATTEMPTS = 3
HANDOFF_BUDGET_S = 30.0


class Claim(Protocol):
    """The request's one claim: the hand-off and an answer (the timer's) exclude each other."""

    def claim_hand_off(self) -> bool: ...

    def release_hand_off(self) -> None: ...


def lambda_client_config() -> Any:
    from botocore.config import Config

    # One attempt per call: botocore would retry a read timeout, and so queue the same continuation twice.
    return Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 1})


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
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    body = json.dumps(payload).encode("utf-8")
    give_up_at = monotonic() + HANDOFF_BUDGET_S
    attempt = 0
    while True:
        attempt += 1
        try:
            lambda_client.invoke(FunctionName=function_arn, InvocationType="Event", Payload=body)
        except (EndpointConnectionError, ConnectTimeoutError) as error:
            # Refused, unresolvable or unreachable while connecting: the request was never sent.
            problem = f"{type(error).__name__} connecting to Lambda"
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code") or "")
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if status >= 500:
                _handed_off_maybe(f"Lambda answered {code or 'an error'} ({status})", invocation)
                return None
            if code == "AccessDeniedException":
                claim.release_hand_off()
                return f"{code}: check that the function may lambda:InvokeFunction itself"
            if status != 429 and code != "TooManyRequestsException":
                claim.release_hand_off()
                return f"Lambda refused the Invoke with {code or 'an error'} ({status})"
            problem = f"{code or 'throttled'} ({status})"
        except Exception as error:  # noqa: BLE001 - a read timeout, a connection closed after sending, ...
            _handed_off_maybe(type(error).__name__, invocation)
            return None
        else:
            logger.info(json.dumps({"handedOffTo": "invocation", "invocation": invocation}))
            return None
        delay = min(2.0**attempt, give_up_at - monotonic())
        logger.warning(json.dumps({"handOffRetry": problem, "attempt": attempt}))
        if attempt == HANDOFF_ATTEMPTS or delay <= 0:
            claim.release_hand_off()
            return f"Lambda did not take the Invoke after {attempt} attempts ({problem})"
        sleep(delay)


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
