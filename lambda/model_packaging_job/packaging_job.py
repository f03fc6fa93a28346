"""Describe an Amazon Lookout for Vision model packaging job, classify its status and errors, and wait for it.

This is the one implementation of those ideas: the Lambda handler, the pipeline CLI and the benchmark all use it.
It depends on the standard library and botocore only, and takes its clock, sleep and randomness as arguments so a
caller can drive it with a virtual clock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from .contract import (
    DATA_KEYS,
    DEFAULT_DESCRIBE_BUDGET_RPS,
    OUTPUT_KEYS,
)

SERVICE_NAME = "lookoutvision"
API_VERSION = "2020-11-20"
DESCRIBE_ACTION = "lookoutvision:DescribeModelPackagingJob"

WAITING_STATUSES = frozenset({"CREATED", "RUNNING"})
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


# Poll interval bounds while a job is CREATED or RUNNING: uniform jitter keeps many waiters from polling in step,
# and the upper bound keeps the time to notice a status change under 5 seconds.
POLL_INTERVAL_S = (2.0, 4.5)
# Backoff on throttling and transient failures: exponential with jitter, capped.
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 30.0
# Throttling pressure: many waiters share one account quota (100 jobs in a stack poll at once). Each throttle
# raises a wait's pressure by one (up to PRESSURE_MAX) and each accepted call lowers it by PRESSURE_RELIEF; every
# poll and throttle retry is stretched by 2**pressure (up to PACE_CAP_S). Unthrottled waits are unaffected.
PRESSURE_MAX = 3.0
PRESSURE_RELIEF = 0.125
PACE_CAP_S = 60.0
# A job's share of the budget is one call every jobs / budget seconds; its polls are drawn from
# [share, share * SHARE_JITTER] (or POLL_INTERVAL_S, whichever is slower), so the fleet's mean rate stays under
# the budget whatever the jobs' phases.
SHARE_JITTER = 1.5
_THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})


USER_AGENT = "cdk-lookoutvision-packaging/0.1"


def client_config(**overrides: Any) -> Any:
    """The botocore Config of every Lookout for Vision client we make (handler, CLI): calls fail fast and make one
    attempt, because wait_for_job owns retries, with jitter and backoff across the whole wait."""
    from botocore.config import Config

    settings: dict[str, Any] = {
        "connect_timeout": 3,
        "read_timeout": 10,
        "retries": {"total_max_attempts": 1, "mode": "standard"},
        "user_agent_extra": USER_AGENT,
    }
    settings.update(overrides)
    return Config(**settings)


# --- status --------------------------------------------------------------------------------------------------------

Phase = Literal["waiting", "succeeded", "failed", "unknown"]


def classify_status(status: str | None) -> Phase:
    """Map a job Status to what a waiter does next."""
    if status in WAITING_STATUSES:
        return "waiting"
    if status == SUCCEEDED:
        return "succeeded"
    if status == FAILED:
        return "failed"
    return "unknown"


# --- describing ----------------------------------------------------------------------------------------------------


class MalformedResponseError(Exception):
    """The API answered 200 without a usable ModelPackagingDescription (a cut-off or garbled body): transient."""


class CallTimeoutError(TimeoutError):
    """A call that did not complete within its bound, such as a response that trickles in a byte at a time
    (botocore's read timeout applies to each read, not to the call): transient."""


# The longest one Describe call may take: the client's connect timeout (3 s) and read timeout (10 s), and a margin.
MAX_CALL_S = 15.0


def bounded_call(call: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """``call()``, or CallTimeoutError once ``timeout_s`` seconds passed. The call runs on a daemon thread, which is
    left to end on its own when it overruns (its result is then dropped)."""
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
    return outcome["value"]


def describe(client: Any, project_name: str, job_name: str, timeout_s: float | None = None) -> dict[str, Any]:
    """One DescribeModelPackagingJob call, bounded as a whole by ``timeout_s`` when given; returns the
    ModelPackagingDescription."""

    def call() -> Any:
        return client.describe_model_packaging_job(ProjectName=project_name, JobName=job_name)

    response = call() if timeout_s is None else bounded_call(call, timeout_s, "DescribeModelPackagingJob")
    description = response.get("ModelPackagingDescription")
    if not isinstance(description, dict):
        raise MalformedResponseError("DescribeModelPackagingJob returned no ModelPackagingDescription")
    return description


def _iso_utc(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return str(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if value is None:
        return ""
    return str(value)


def greengrass_output(description: Mapping[str, Any]) -> dict[str, Any]:
    """The Greengrass output details of a job, or {} when the job has none (yet)."""
    details = description.get("ModelPackagingOutputDetails") or {}
    greengrass = details.get("Greengrass") or {}
    return greengrass if isinstance(greengrass, dict) else {}


def to_attributes(description: Mapping[str, Any], project_name: str = "", job_name: str = "") -> dict[str, str]:
    """Flatten a ModelPackagingDescription to the documented keys; every key present, "" where there is no value."""
    output = greengrass_output(description)
    values: dict[str, Any] = {
        "ComponentVersionArn": output.get("ComponentVersionArn"),
        "ComponentName": output.get("ComponentName"),
        "ComponentVersion": output.get("ComponentVersion"),
        "Status": description.get("Status"),
        "StatusMessage": description.get("StatusMessage"),
        "ModelVersion": description.get("ModelVersion"),
        "ProjectName": description.get("ProjectName") or project_name,
        "JobName": description.get("JobName") or job_name,
        "CreationTimestamp": _iso_utc(description.get("CreationTimestamp")),
        "LastUpdatedTimestamp": _iso_utc(description.get("LastUpdatedTimestamp")),
    }
    return {key: "" if values[key] is None else str(values[key]) for key in DATA_KEYS}


# --- errors --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wording:
    """How a message's advice names the caller's inputs: the construct's properties, or a CLI's options."""

    project_name: str
    job_name: str
    region: str
    # What to do when the wait timed out.
    timeout_remedy: str = "Raise wait_timeout or rerun the deployment when the job has finished"


# The construct's terms: what the handler's answers say.
CONSTRUCT_WORDING = Wording("project_name", "job_name", "the Region the stack deploys to")


@dataclass(frozen=True)
class ApiProblem:
    """A failed API call, classified: retry while time remains, or stop with a message that says what to fix."""

    retryable: bool
    code: str
    message: str
    retry_after_s: float | None = None
    # Whether the service throttled the call (a throttling code, or HTTP 429): the wait slows down its polling.
    throttled: bool = False
    # The exception that was classified (None when none was), so that a caller with other terms than the
    # construct's can have the same message in its own words: classify_error(problem.error, ..., wording).
    error: BaseException | None = field(default=None, compare=False, repr=False)


_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Codes that mean the credentials are wrong, not the permissions or the names: AWS answers them with 400 or 403,
# and the status alone would blame IAM or the naming rules. Each group has its own fix; none is retryable.
_EXPIRED_CREDENTIAL_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})
_UNKNOWN_CREDENTIAL_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId", "AuthFailure"}
)
_SIGNATURE_CODES = frozenset(
    {"InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature", "IncompleteSignatureException"}
)
_CLOCK_SKEW_CODES = frozenset({"RequestExpired", "RequestTimeTooSkewed", "RequestInTheFuture"})
# InvalidSignatureException also stands for a clock that is off by more than 5 minutes; only its message tells.
_CLOCK_SKEW_MESSAGES = ("signature expired", "signature not yet current")


def _error_text(code: str, status: int, message: str) -> str:
    """``ThrottlingException (429): Rate exceeded``; an answer without a code (a proxy's 502) is an HTTP error."""
    text = f"{code or 'HTTP error'} ({status})"
    return f"{text}: {message}" if message else text


def _credential_problem(code: str, message: str) -> str | None:
    """What is wrong with the credentials and what to do about it, or None when ``code`` is not about them."""
    if code in _CLOCK_SKEW_CODES or (
        code in _SIGNATURE_CODES and any(text in message.lower() for text in _CLOCK_SKEW_MESSAGES)
    ):
        return (
            "the request was signed at a time more than 5 minutes away from AWS's clock: fix the clock of the "
            "machine that signs the requests (synchronise it with NTP) and run again"
        )
    if code in _EXPIRED_CREDENTIAL_CODES:
        return (
            "the AWS credentials have expired: refresh them (a new session token, aws sso login, or a new role "
            "session) and run again"
        )
    if code in _UNKNOWN_CREDENTIAL_CODES:
        return (
            "AWS does not recognise the access key ID or its session token: check the access keys (the key ID, "
            "secret and session token must come from one set of credentials, of this partition)"
        )
    if code in _SIGNATURE_CODES:
        return "the request signature does not match: check the secret access key (it must belong to the access key ID)"
    return None


def _unresolvable_name(error: BaseException) -> BaseException | None:
    """The DNS failure behind a connection error when the name does not resolve; None for anything else.

    botocore raises EndpointConnectionError for a refused connection and for a name that does not resolve alike;
    the socket.gaierror lies below it (urllib3's NameResolutionError, raised from it). A resolver that could not
    answer (EAI_AGAIN, "temporary failure") is left to the retries, like a refused connection.
    """
    import socket

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


def _endpoint_of(error: BaseException) -> tuple[str, str]:
    """The endpoint (scheme and host) of a botocore connection error, and its host name."""
    from urllib.parse import urlsplit

    kwargs = getattr(error, "kwargs", None)
    url = str(kwargs.get("endpoint_url") or "") if isinstance(kwargs, dict) else ""
    parts = urlsplit(url)
    return (f"{parts.scheme}://{parts.netloc}" if parts.netloc else url), parts.hostname or ""


def classify_error(
    error: BaseException,
    project_name: str,
    job_name: str,
    region: str = "",
    wording: Wording = CONSTRUCT_WORDING,
) -> ApiProblem:
    """Turn an exception from a Describe call into an ApiProblem, its advice in ``wording``'s terms."""
    return replace(_classify(error, project_name, job_name, region, wording), error=error)


def _classify(error: BaseException, project_name: str, job_name: str, region: str, wording: Wording) -> ApiProblem:
    from botocore.exceptions import (  # local: keeps this module importable for pure unit use
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
        UnknownServiceError,
    )

    where = f" in {region}" if region else ""
    job = f"{project_name}/{job_name}"
    w = wording
    if isinstance(error, MalformedResponseError):
        return ApiProblem(True, "MalformedResponse", str(error))
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        message = str(err.get("Message", "")).strip()
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        retry_after = _retry_after(error.response)
        credentials = _credential_problem(code, message)
        if credentials:
            detail = _error_text(code, status, message)
            return ApiProblem(
                False, code, f"Cannot describe model packaging job {job}{where}: {credentials} ({detail})"
            )
        if code in _RETRYABLE_CODES or status == 429 or status >= 500:
            throttled = code in _THROTTLING_CODES or status == 429
            return ApiProblem(True, code, _error_text(code, status, message), retry_after, throttled)
        if code == "AccessDeniedException" or status == 403:
            return ApiProblem(
                False,
                code,
                f"Access denied describing model packaging job {job}{where}: grant {DESCRIBE_ACTION} "
                f'on Resource "*" to the caller, and check SCPs and permission boundaries ({message})',
            )
        if code == "ResourceNotFoundException" or status == 404:
            resource_type = str(error.response.get("ResourceType") or "")
            if resource_type == "PROJECT":
                text = f"Lookout for Vision project '{project_name}' does not exist{where}: check {w.project_name}"
            elif resource_type == "MODEL_PACKAGE_JOB":
                text = (
                    f"Model packaging job '{job_name}' does not exist in project '{project_name}'{where}: "
                    f"check {w.job_name} (ListModelPackagingJobs lists the project's jobs)"
                )
            else:
                text = (
                    f"Model packaging job {job} was not found{where}: check {w.project_name}, {w.job_name} "
                    f"and {w.region}"
                )
            return ApiProblem(False, code, f"{text} ({message})" if message else text)
        if code == "ValidationException" or status == 400:
            return ApiProblem(
                False,
                code,
                f"Lookout for Vision rejected the request for {job}: {message}. "
                f"Check {w.project_name} and {w.job_name} against the naming rules",
            )
        return ApiProblem(
            False, code, f"DescribeModelPackagingJob for {job} failed with {_error_text(code, status, message)}"
        )
    if isinstance(error, UnknownServiceError):
        return ApiProblem(
            False,
            "UnknownServiceError",
            "this botocore has no lookoutvision service model; set AWS_DATA_PATH to a folder holding "
            "lookoutvision/2020-11-20/service-2.json.gz (the asset and the package carry one)",
        )
    if isinstance(error, NoCredentialsError):
        return ApiProblem(False, "NoCredentialsError", "no AWS credentials were found to call Lookout for Vision")
    if isinstance(error, EndpointConnectionError):
        # A name that does not resolve will not resolve a minute later: a Region without Lookout for Vision, or a
        # mistyped endpoint URL. Waiting out the timeout would only hide that.
        unresolved = _unresolvable_name(error)
        if unresolved is not None:
            endpoint, host = _endpoint_of(error)
            for_region = f" for Region {region}" if region else ""
            return ApiProblem(
                False,
                type(error).__name__,
                f"Cannot resolve the Lookout for Vision endpoint {endpoint}{for_region}: the name {host} does not "
                f"resolve in DNS ({unresolved}). Check {w.region}, and the endpoint URL if one is set: Lookout for "
                "Vision is offered in only some Regions",
            )
    if isinstance(error, ConnectTimeoutError | ReadTimeoutError | EndpointConnectionError | ConnectionClosedError):
        return ApiProblem(True, type(error).__name__, str(error))
    if isinstance(error, ConnectionError | TimeoutError):
        return ApiProblem(True, type(error).__name__, str(error))
    from botocore.exceptions import BotoCoreError

    if isinstance(error, BotoCoreError):
        # Response parsing and HTTP-level failures (a malformed body, a reset) are transient more often than not.
        return ApiProblem(True, type(error).__name__, str(error))
    return ApiProblem(False, type(error).__name__, f"{type(error).__name__}: {error}")


def _retry_after(response: Mapping[str, Any]) -> float | None:
    value = response.get("RetryAfterSeconds")
    if value is None:
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
        value = headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return seconds if seconds is not None and 0 <= seconds <= 300 else None


# --- reasons -------------------------------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace, line breaks included, becomes one space."""
    return " ".join(text.split())


def failed_reason(project_name: str, job_name: str, status_message: str) -> str:
    message = one_line(status_message or "") or "(no StatusMessage)"
    return f"Model packaging job {project_name}/{job_name} FAILED: {message}"


def timeout_reason(
    project_name: str,
    job_name: str,
    last_status: str,
    waited_s: float,
    last_error: str = "",
    *,
    waited: str | None = None,
    wording: Wording = CONSTRUCT_WORDING,
) -> str:
    """Why a wait ended at its deadline; ``waited`` replaces the minutes waited (the CLI says more)."""
    text = (
        f"Timed out after {waited or f'{waited_s / 60.0:.1f} minutes'} waiting for model packaging job "
        f"{project_name}/{job_name}; last status {last_status or 'unknown'}"
    )
    if last_error:
        text += f"; last error {last_error}"
    return f"{text}. {wording.timeout_remedy}"


# The Greengrass output of a job: the component a deployment would use. A SUCCEEDED job must name it to pass a gate.


def has_greengrass_output(attributes: Mapping[str, str]) -> bool:
    """Whether a job's attributes (to_attributes) name the component it produced. A SUCCEEDED job without it fails
    the gate (no_output_reason): the custom resource answers FAILED and the CLI's wait exits 1."""
    return all(attributes.get(key) for key in OUTPUT_KEYS)


def no_output_reason(project_name: str, job_name: str) -> str:
    return (
        f"Model packaging job {project_name}/{job_name} SUCCEEDED but reported no Greengrass output details "
        "(ModelPackagingOutputDetails.Greengrass.ComponentVersionArn is missing); only Greengrass packaging "
        "jobs can be gated"
    )


def component_mismatch_reason(project_name: str, job_name: str, expected: str, actual: str) -> str:
    return (
        f"Model packaging job {project_name}/{job_name} produced component '{actual}', but expected_component_name "
        f"is '{expected}': set expected_component_name to the job's ComponentName"
    )


def unknown_status_reason(project_name: str, job_name: str, status: str) -> str:
    return f"Model packaging job {project_name}/{job_name} reported an unknown status {status!r}"


# --- waiting -------------------------------------------------------------------------------------------------------

Outcome = Literal["succeeded", "failed", "not_ready", "timeout", "yield", "error"]


@dataclass
class WaitResult:
    """How a wait ended, what it last saw and what it cost."""

    outcome: Outcome
    description: dict[str, Any] | None = None
    status: str = ""
    api_calls: int = 0
    problem: ApiProblem | None = None
    last_error: str = ""
    statuses: list[str] = field(default_factory=list)
    # With outcome "yield": when the wait would have taken its next look, for the invocation that continues it.
    next_look_at: float | None = None

    @property
    def reason_detail(self) -> str:
        return self.problem.message if self.problem else ""


@dataclass(frozen=True)
class PollBudget:
    """How many Describe calls per second ``jobs`` waits may make together: each wait takes an equal share."""

    requests_per_second: float = DEFAULT_DESCRIBE_BUDGET_RPS
    jobs: int = 1

    @property
    def share_s(self) -> float:
        """The mean time between one wait's calls that keeps all ``jobs`` waits within the budget."""
        return self.jobs / self.requests_per_second

    @property
    def staggers_start(self) -> bool:
        """Whether the waits' first calls must be spread out: all ``jobs`` first calls at once would exceed one
        second's worth of the budget (CloudFormation creates a stack's resources concurrently)."""
        return self.share_s > 1.0


def poll_interval(
    budget: PollBudget | None = None, poll_interval_s: tuple[float, float] | None = None
) -> tuple[float, float]:
    """The range a wait draws its unthrottled poll delays from: ``poll_interval_s`` (default POLL_INTERVAL_S), or the
    wait's share of ``budget`` when that is slower."""
    low, high = poll_interval_s or POLL_INTERVAL_S
    if budget is not None:
        low, high = max(low, budget.share_s), max(high, budget.share_s * SHARE_JITTER)
    return low, high


@dataclass
class Clock:
    """Time, sleep and randomness, injectable so that waits can run on a virtual clock."""

    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)


def wait_for_job(
    client: Any,
    project_name: str,
    job_name: str,
    *,
    deadline: float,
    yield_at: float | None = None,
    wait: bool = True,
    clock: Clock | None = None,
    region: str = "",
    on_status: Callable[[str, dict[str, Any]], None] | None = None,
    on_retry: Callable[[ApiProblem, float], None] | None = None,
    poll_interval_s: tuple[float, float] | None = None,
    budget: PollBudget | None = None,
    first_call: bool = True,
    first_look_at: float | None = None,
) -> WaitResult:
    """Describe the job until it is terminal.

    Ends with ``succeeded`` or ``failed`` for a terminal job; ``not_ready`` when ``wait`` is False and the job is
    still CREATED or RUNNING; ``timeout`` at ``deadline``; ``yield`` at ``yield_at`` (the caller continues the wait
    elsewhere); ``error`` for a problem that retrying cannot fix. Times are ``clock.now()`` values. Throttling,
    5xx and connection errors are retried with jittered exponential backoff while time remains. While the job is
    CREATED or RUNNING, each delay is drawn uniformly from ``poll_interval_s`` (default POLL_INTERVAL_S), or from
    the wait's share of ``budget`` when that is slower, stretched by the wait's throttling pressure. With a budget
    whose jobs' first calls would not fit one second of it, the first call of the wait (``first_call``: this is not
    a continuation) comes at a random moment within one share, so that concurrent waits start spread out. A
    continuation passes ``first_look_at``, the ``next_look_at`` its predecessor yielded with, and takes its first look
    no earlier, so that the wait keeps its pace across invocations.

    Every call is bounded as a whole: it ends before ``yield_at``, or one call's time (MAX_CALL_S) after
    ``deadline`` when there is no ``yield_at``, and a call cut short counts as a transient failure.
    """
    clock = clock or Clock()
    result = WaitResult(outcome="timeout")
    failures = 0
    pressure = 0.0
    interval = poll_interval(budget, poll_interval_s)
    pace_cap = max(PACE_CAP_S, interval[1])
    call_limit = yield_at if yield_at is not None else deadline + MAX_CALL_S

    def paced(delay: float) -> float:
        return min(pace_cap, delay * 2**pressure)

    def observe() -> float | None:
        """Describe once; return the delay before the next look, or None when the wait is over."""
        nonlocal failures, pressure
        try:
            result.api_calls += 1
            description = describe(client, project_name, job_name, min(MAX_CALL_S, call_limit - clock.now()))
        except Exception as error:  # noqa: BLE001 - every failure is classified, none escapes unanswered
            problem = classify_error(error, project_name, job_name, region)
            if not problem.retryable:
                result.outcome, result.problem = "error", problem
                return None
            failures += 1
            result.last_error = problem.message
            backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(failures - 1, 10))
            delay = clock.rng.uniform(backoff / 2, backoff)
            if problem.throttled:
                pressure = min(PRESSURE_MAX, pressure + 1.0)
                delay = max(delay, paced(clock.rng.uniform(*interval)))
            if problem.retry_after_s is not None:
                delay = max(delay, problem.retry_after_s)
            if on_retry:
                on_retry(problem, delay)
            return delay
        failures = 0
        pressure = max(0.0, pressure - PRESSURE_RELIEF)
        status = str(description.get("Status") or "")
        if status != result.status or not result.statuses:
            result.statuses.append(status)
            if on_status:
                on_status(status, description)
        result.description, result.status = description, status
        phase = classify_status(status)
        if phase in ("succeeded", "failed"):
            result.outcome = phase
            return None
        if not wait:
            result.outcome = "not_ready"
            return None
        if phase == "unknown":
            result.outcome = "error"
            result.problem = ApiProblem(False, "UnknownStatus", unknown_status_reason(project_name, job_name, status))
            return None
        return paced(clock.rng.uniform(*interval))

    # Never past the deadline or the hand-off: the wait must still take its first look in this invocation.
    end = deadline if yield_at is None else min(deadline, yield_at)
    pause = 0.0
    if first_look_at is not None:
        pause = first_look_at - clock.now()
    elif budget is not None and first_call and budget.staggers_start:
        pause = clock.rng.uniform(0.0, budget.share_s)
    pause = min(pause, end - clock.now())
    if pause > 0:
        clock.sleep(pause)
    while True:
        delay = observe()
        if delay is None:
            return result
        now = clock.now()
        if now >= deadline:
            result.outcome = "timeout"
            return result
        if yield_at is not None and now + delay >= yield_at:
            result.outcome, result.next_look_at = "yield", now + delay
            return result
        # Never sleep past the deadline: the look taken at the deadline decides between success and timeout.
        clock.sleep(min(delay, deadline - now))
