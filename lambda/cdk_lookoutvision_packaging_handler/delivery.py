"""PUT the answer to the presigned ResponseURL (a credential, never logged). Unlike crhelper's sender it gives up: at
its deadline, or at once on a 4xx (an expired URL will not start working) or a URL http.client refuses.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from .outbound import ApiProblem, Backoff, Call, Clock, HttpStatusError, retrying

logger = logging.getLogger(__name__)

PUT_CALL = Call(
    "PUT",
    "the ResponseURL",
    "Could not answer CloudFormation",
    "CloudFormation refused the answer",
    service="CloudFormation",
    backoff=Backoff(base_s=0.5, cap_s=5.0),
)


def _target(response_url: object) -> tuple[str, str, int | None, str] | None:
    """The scheme, host, port and path of an http(s) URL, or None (logged without the URL)."""
    if not isinstance(response_url, str):
        logger.error("No ResponseURL in the event; nobody can be answered")
        return None
    try:
        parts = urlsplit(response_url)
        port = parts.port
    except ValueError:
        logger.error("The ResponseURL is not a valid URL; nobody can be answered")
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        logger.error("The ResponseURL is not an http(s) URL; nobody can be answered")
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def send_response(
    response_url: object,
    body: bytes,
    *,
    deadline: float,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """PUT ``body``, retrying transient failures until ``deadline`` (a ``now()`` value); True when accepted."""
    target = _target(response_url)
    if target is None:
        return False
    scheme, host, port, path = target
    if deadline <= now():
        logger.error("Gave up answering CloudFormation after 0 attempts: out of time")
        return False
    connection = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    retries = itertools.count(1)

    def put(timeout_s: float) -> int:
        conn = connection(host, port, timeout=min(10.0, timeout_s))
        try:
            conn.request("PUT", path, body=body, headers={"Content-Type": "", "Content-Length": str(len(body))})
            status = conn.getresponse().status
        finally:
            conn.close()
        if not 200 <= status < 300:
            raise HttpStatusError(status)
        return status

    def on_retry(problem: ApiProblem, delay: float) -> None:  # the n-th retry follows the n-th attempt
        logger.warning("Answering CloudFormation failed (attempt %d): %s", next(retries), problem.code)

    sent = retrying(put, PUT_CALL, clock=Clock(now=now, sleep=sleep), give_up_at=deadline, on_retry=on_retry)
    if sent.problem is None:
        logger.info("CloudFormation accepted the answer (HTTP %d, attempt %d)", sent.value, sent.attempts)
        return True
    if sent.gave_up:
        logger.error("Gave up answering CloudFormation after %d attempts: out of time", sent.attempts)
    elif sent.problem.status:
        logger.error("CloudFormation refused the answer with HTTP %d; not retrying", sent.problem.status)
    else:
        logger.error("The ResponseURL was rejected as invalid; nobody can be answered")
    return False
