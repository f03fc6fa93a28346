"""The one policy for calling AWS (and the ResponseURL): how a failed call is classified, its backoff, one retry loop.

What differs per call is data (a ``Call``); ``retrying`` and the wait loop in ``waiting`` both use ``classify`` and
``Call.backoff``. The clock is an argument, so that a caller can run on a virtual one.
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

USER_AGENT = "cdk-lookoutvision-packaging/0.1"
# The longest one call may take: the client's connect timeout (3 s) and read timeout (10 s), and a margin.
MAX_CALL_S = 15.0


@dataclass
class Clock:
    """Time, sleep and randomness, injectable so that waits and retries can run on a virtual clock."""

    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class Wording:
    """How advice names the caller's inputs: the construct's properties, or a CLI's options."""

    project_name: str
    job_name: str
    region: str
    timeout_remedy: str = "Raise wait_timeout or rerun the deployment when the job has finished"
    component_version: str = "component_version"


CONSTRUCT_WORDING = Wording("project_name", "job_name", "the Region the stack deploys to")


@dataclass(frozen=True)
class Backoff:
    """The n-th consecutive failure waits a uniform draw from [d/2, d], d = min(cap, base * 2**(n-1)); a Retry-After
    the service sent is a floor."""

    base_s: float = 2.0
    cap_s: float = 30.0

    def delay(self, failures: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(max(failures, 1) - 1, 16))
        return max(rng.uniform(ceiling / 2, ceiling), retry_after_s or 0.0)


BACKOFF = Backoff()


@dataclass(frozen=True)
class Call:
    """One kind of call: its name, what it is about, how its error sentence and a 403's advice start, and whether a
    call whose outcome is unknown (a read timeout, a 5xx) may be repeated (not an asynchronous Invoke)."""

    operation: str
    subject: str
    failure: str
    denied: str
    service: str = "Lookout for Vision"
    repeatable: bool = True
    backoff: Backoff = BACKOFF
    wording: Wording = CONSTRUCT_WORDING
    region: str = ""


Kind = Literal[
    "transient",  # retry while time remains
    "throttled",  # retry, and slow down
    "unknown_outcome",  # the call may have happened; retry only a repeatable call
    "not_found",
    "denied",
    "invalid",  # the service or the client refused the request as it is
    "conflict",
    "refused",  # any other answer the service gave
    "broken",  # credentials, endpoint or client set-up: retrying cannot fix it
]


@dataclass(frozen=True)
class ApiProblem:
    """A failed call, classified, with a message that says what to fix; ``said`` is the service's own message and
    ``resource_type`` the ResourceType a ResourceNotFoundException named."""

    kind: Kind
    code: str
    message: str
    status: int = 0
    said: str = ""
    retry_after_s: float | None = None
    resource_type: str = ""
    repeatable: bool = True

    @property
    def retryable(self) -> bool:
        if self.kind == "unknown_outcome":
            return self.repeatable
        return self.kind in ("transient", "throttled")


class MalformedResponseError(Exception):
    """The API answered 200 without a usable body: transient."""


class CallTimeoutError(TimeoutError):
    """A call past its bound (botocore's read timeout bounds each read, not a trickling body): outcome unknown."""


class HttpStatusError(Exception):
    """The ResponseURL PUT was answered with a status other than 2xx."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def one_line(text: str) -> str:
    return " ".join(text.split())


def client_config(**overrides: Any) -> Any:
    """The botocore Config of every client we make: one attempt per call, since this module owns retries."""
    from botocore.config import Config

    retries = {"total_max_attempts": 1, "mode": "standard"}
    settings = {"connect_timeout": 3, "read_timeout": 10, "retries": retries, "user_agent_extra": USER_AGENT}
    return Config(**(settings | overrides))


def bounded_call(call: Callable[[], T], timeout_s: float, what: str) -> T:
    """``call()``, or CallTimeoutError after ``timeout_s``; an overrunning call's daemon thread is left to end alone."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=run, name="bounded-call", daemon=True).start()
    if not done.wait(max(0.0, timeout_s)):
        raise CallTimeoutError(f"{what} did not complete within {timeout_s:.1f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


# The kind an error answer is, by its code or else its HTTP status (a range), in this order.
_THROTTLED_CODES = frozenset(
    "ThrottlingException Throttling TooManyRequestsException SlowDown RequestLimitExceeded".split()
)
_TRANSIENT_CODES = frozenset(
    "InternalServerException InternalFailure InternalError RequestTimeout RequestTimeoutException ServiceUnavailable "
    "ServiceUnavailableException".split()
)
_ANSWER_RULES: tuple[tuple[Kind, frozenset[str], int, int], ...] = (
    ("throttled", _THROTTLED_CODES, 429, 429),
    ("transient", _TRANSIENT_CODES, 500, 599),
    ("denied", frozenset({"AccessDeniedException"}), 403, 403),
    ("not_found", frozenset({"ResourceNotFoundException"}), 404, 404),
    ("conflict", frozenset({"ConflictException"}), 409, 409),
    ("invalid", frozenset({"ValidationException"}), 400, 400),
)
# Codes that mean the credentials are wrong, not the permissions or the names (AWS answers them with 400 or 403);
# none is retryable. A signature error also stands for a clock more than 5 minutes off: only its message tells.
_SIGNATURE_CODES = frozenset("InvalidSignatureException SignatureDoesNotMatch IncompleteSignature".split())
_CREDENTIAL_RULES: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset("RequestExpired RequestTimeTooSkewed RequestInTheFuture".split()),
        "the request was signed at a time more than 5 minutes away from AWS's clock: fix the clock of the machine "
        "that signs the requests (synchronise it with NTP) and run again",
    ),
    (
        frozenset("ExpiredToken ExpiredTokenException".split()),
        "the AWS credentials have expired: refresh them (a new session token, aws sso login, or a new role session) "
        "and run again",
    ),
    (
        frozenset("UnrecognizedClientException InvalidClientTokenId InvalidAccessKeyId AuthFailure".split()),
        "AWS does not recognise the access key ID or its session token: check the access keys (the key ID, secret "
        "and session token must come from one set of credentials, of this partition)",
    ),
    (
        _SIGNATURE_CODES | {"IncompleteSignatureException"},
        "the request signature does not match: check the secret access key (it must belong to the access key ID)",
    ),
)
CLOCK_SKEW_MESSAGES = ("signature expired", "signature not yet current")


def credential_advice(code: str, message: str) -> str | None:
    if code in _SIGNATURE_CODES and any(text in message.lower() for text in CLOCK_SKEW_MESSAGES):
        return _CREDENTIAL_RULES[0][1]
    return next((advice for codes, advice in _CREDENTIAL_RULES if code in codes), None)


def classify(error: BaseException, call: Call) -> ApiProblem:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        problem = _classify_answer(error.response, call)
    elif isinstance(error, HttpStatusError):
        problem = _classify_answer({"ResponseMetadata": {"HTTPStatusCode": error.status}}, call)
    else:
        problem = _classify_failure(error, call)
    return replace(problem, repeatable=call.repeatable)


def _classify_answer(response: Mapping[str, Any], call: Call) -> ApiProblem:
    err = response.get("Error", {})
    code, said = str(err.get("Code", "")), one_line(str(err.get("Message", "")).strip())
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    # ``ThrottlingException (429): Rate exceeded``; an answer without a code (a proxy's 502) is an HTTP error.
    text = f"{code or 'HTTP error'} ({status})" + (f": {said}" if said else "")
    advice = credential_advice(code, said)
    if advice:
        return ApiProblem("broken", code, f"{call.failure}: {advice} ({text})", status, said)
    rules = _ANSWER_RULES
    kind: Kind = next((kind for kind, codes, low, high in rules if code in codes or low <= status <= high), "refused")
    if kind == "transient" and not call.repeatable:
        kind = "unknown_outcome"
    message = {
        "denied": f"{call.denied} ({said})",
        "refused": f"{call.operation} for {call.subject} failed with {text}",
    }
    problem = ApiProblem(kind, code or f"HTTP{status}", message.get(kind, text), status, said, _retry_after(response))
    return replace(problem, resource_type=str(response.get("ResourceType") or ""))


def _classify_failure(error: BaseException, call: Call) -> ApiProblem:
    from botocore import exceptions as be

    name = type(error).__name__
    if isinstance(error, be.ParamValidationError):
        # botocore refused the request before sending it: the same request will be refused again.
        return ApiProblem("invalid", name, f"{call.failure}: the request is invalid: {one_line(str(error))}")
    if isinstance(error, be.UnknownServiceError):
        return ApiProblem(
            "broken",
            name,
            "this botocore has no lookoutvision service model; set AWS_DATA_PATH to a folder holding "
            "lookoutvision/2020-11-20/service-2.json.gz (the asset and the package carry one)",
        )
    if isinstance(error, be.NoCredentialsError):
        return ApiProblem("broken", name, f"no AWS credentials were found to call {call.service}")
    unresolved = _unresolvable_name(error) if isinstance(error, be.EndpointConnectionError) else None
    if unresolved is not None:
        # A name that does not resolve will not resolve a minute later (a Region without the service, a typo).
        endpoint, host = _endpoint_of(error)
        for_region = f" for Region {call.region}" if call.region else ""
        return ApiProblem(
            "broken",
            name,
            f"Cannot resolve the {call.service} endpoint {endpoint}{for_region}: the name {host} does not resolve in "
            f"DNS ({unresolved}). Check {call.wording.region}, and the endpoint URL if one is set: {call.service} is "
            "offered in only some Regions",
        )
    if isinstance(error, be.ConnectTimeoutError | be.EndpointConnectionError | ConnectionRefusedError):
        return ApiProblem("transient", name, one_line(str(error)) or name)  # never sent: always safe to repeat
    if isinstance(error, MalformedResponseError):
        return ApiProblem("transient", "MalformedResponse", str(error))
    if isinstance(error, http.client.InvalidURL | ValueError):
        return ApiProblem("invalid", name, f"{call.failure}: {name}: {one_line(str(error))}")
    if isinstance(error, be.BotoCoreError | ConnectionError | TimeoutError | OSError | http.client.HTTPException):
        # Sent, or maybe sent: a read timeout, a connection closed or reset, a body that did not parse.
        return ApiProblem("unknown_outcome", name, one_line(str(error)) or name)
    return ApiProblem("refused", name, f"{name}: {error}")


def _retry_after(response: Mapping[str, Any]) -> float | None:
    value: Any = response.get("RetryAfterSeconds")
    if value is None:
        value = (response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}).get("retry-after")
    try:
        seconds = float(value)
    except (TypeError, ValueError):  # None (no Retry-After) too
        return None
    return seconds if 0 <= seconds <= 300 else None


def _endpoint_of(error: BaseException) -> tuple[str, str]:
    url = str(getattr(error, "kwargs", {}).get("endpoint_url") or "")
    parts = urlsplit(url)
    return (f"{parts.scheme}://{parts.netloc}" if parts.netloc else url), parts.hostname or ""


def _unresolvable_name(error: BaseException) -> BaseException | None:
    """The socket.gaierror below a botocore EndpointConnectionError (which also stands for a refused connection),
    or None; a resolver that could not answer (EAI_AGAIN) is left to the retries."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return None if current.errno == socket.EAI_AGAIN else current
        kwargs = getattr(current, "kwargs", None)
        wrapped = kwargs.get("error") if isinstance(kwargs, dict) else None
        pending += [wrapped if isinstance(wrapped, BaseException) else None, current.__cause__, current.__context__]
    return None


@dataclass(frozen=True)
class Attempts:
    """How a call ended under ``retrying``: its value, or the last problem; ``gave_up`` when time (or attempts) ran
    out while the problem was still retryable."""

    value: Any = None
    problem: ApiProblem | None = None
    attempts: int = 0
    gave_up: bool = False


def retrying(
    fn: Callable[[float], T],
    call: Call,
    *,
    clock: Clock,
    give_up_at: float,
    max_attempts: int | None = None,
    on_retry: Callable[[ApiProblem, float], None] | None = None,
) -> Attempts:
    """``fn(timeout_s)`` until it returns, retrying what is retryable while a retry can start before ``give_up_at`` (a
    ``clock.now()`` value) and ``max_attempts`` allows; each attempt gets at most MAX_CALL_S of the time left."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return Attempts(fn(max(0.5, min(MAX_CALL_S, give_up_at - clock.now()))), attempts=attempt)
        except Exception as error:  # noqa: BLE001 - every failure is classified, none escapes unanswered
            problem = classify(error, call)
        if not problem.retryable:
            return Attempts(problem=problem, attempts=attempt)
        delay = call.backoff.delay(attempt, clock.rng, problem.retry_after_s)
        if (max_attempts is not None and attempt >= max_attempts) or clock.now() + delay >= give_up_at:
            return Attempts(problem=problem, attempts=attempt, gave_up=True)
        if on_retry is not None:
            on_retry(problem, delay)
        clock.sleep(delay)
