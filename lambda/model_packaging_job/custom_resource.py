"""The custom resource's rules: its properties, what to answer for a wait result, the response body and its delivery.

Nothing here talks to Lookout for Vision (packaging_job does) or knows crhelper (index does), so every rule can be
tested on plain values.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import packaging_job as pj
from .contract import (
    BUDGET_JOBS_ENV,
    BUDGET_RPS_ENV,
    CFN_PROPERTIES,
    COMPONENT_NAME_RULE,
    DATA_KEYS,
    DEFAULT_DESCRIBE_BUDGET_RPS,
    DEFAULT_WAIT_TIMEOUT_S,
    DESCRIBE_BUDGET_RPS_RANGE,
    EXPECTED_COMPONENT_NAME,
    JOB_NAME,
    JOB_NAME_RULE,
    MAX_BUDGET_JOBS,
    MAX_SERVICE_TIMEOUT_S,
    MAX_WAIT_TIMEOUT_S,
    MIN_WAIT_TIMEOUT_S,
    PACKAGING,
    PROJECT_NAME,
    PROJECT_NAME_RULE,
    PROPERTIES,
    SERVICE_TIMEOUT,
    WAIT_FOR_COMPLETION,
    WAIT_TIMEOUT_SECONDS,
)
from .packaging import Packaging, PackagingError
from .packaging import parse as parse_packaging

logger = logging.getLogger(__name__)

SUCCESS = "SUCCESS"
FAILED = "FAILED"

MAX_RESPONSE_BYTES = 4096
MAX_REASON_CHARS = 1000
# Stop polling this long before the Lambda deadline, to leave time for one slow API call, the hand-off and an answer.
HANDOFF_MARGIN_S = 60.0
# An invocation must have room for this many looks at the wait's pace before its hand-off point; a shorter one (a
# function whose timeout was lowered below what a wait needs) answers FAILED instead of handing off at once, which
# would chain invocations as fast as Lambda starts them.
MIN_LOOKS_PER_INVOCATION = 2
# CloudFormation fails a custom resource that has not answered ServiceTimeout seconds after it sent the request,
# with a generic message of its own. The wait ends this long before then, so that our reason is the one it shows.
SERVICE_TIMEOUT_MARGIN_S = 60
# How far a continuation's StartedAt may lie in the future of this invocation's clock (clock skew between hosts).
CLOCK_SKEW_S = 5.0
# The key a continuation invocation carries its wait state under.
CONTINUATION_KEY = "LookoutVisionWait"
# A continuation's count is at most this: a wait ends within MAX_SERVICE_TIMEOUT_S, and every invocation it continues
# in lasts longer than HANDOFF_MARGIN_S, so a real chain has fewer than 60 links.
MAX_INVOCATIONS = 100

REQUEST_TYPES = frozenset({"Create", "Update", "Delete"})


class PropertyError(ValueError):
    """A ResourceProperties problem, phrased as what to fix."""


@dataclass(frozen=True)
class JobProperties:
    project_name: str
    job_name: str
    wait_for_completion: bool = True
    wait_timeout_s: int = DEFAULT_WAIT_TIMEOUT_S
    expected_component_name: str | None = None
    # CloudFormation's own ServiceTimeout property (seconds), when the template sets one.
    service_timeout_s: int | None = None
    # The job's configuration, when the resource starts the job itself.
    packaging: Packaging | None = None

    @property
    def physical_id(self) -> str:
        return f"{self.project_name}/{self.job_name}"

    @property
    def answer_within_s(self) -> int:
        """How long CloudFormation waits for the answer after sending the request."""
        return self.service_timeout_s if self.service_timeout_s is not None else MAX_SERVICE_TIMEOUT_S


def parse_properties(properties: object) -> JobProperties:
    """Validate ResourceProperties; raise PropertyError naming the property and the rule it breaks."""
    if not isinstance(properties, Mapping):
        raise PropertyError(f"ResourceProperties must be an object, got {type(properties).__name__}")
    unknown = sorted(str(k) for k in properties if k not in CFN_PROPERTIES and k not in PROPERTIES)
    if unknown:
        shown = ", ".join(repr(name[:64]) for name in unknown[:5])
        raise PropertyError(f"unknown properties {shown}; supported: {', '.join(PROPERTIES)}")
    for required in (PROJECT_NAME, JOB_NAME):
        if required not in properties:
            raise PropertyError(f"{required} is required")
    project_name, job_name = properties[PROJECT_NAME], properties[JOB_NAME]
    for rule, value in ((PROJECT_NAME_RULE, project_name), (JOB_NAME_RULE, job_name)):
        problem = rule.problem(value)
        if problem:
            raise PropertyError(problem)
    wait = _parse_bool(WAIT_FOR_COMPLETION, properties.get(WAIT_FOR_COMPLETION, True))
    timeout = _parse_int(WAIT_TIMEOUT_SECONDS, properties.get(WAIT_TIMEOUT_SECONDS, DEFAULT_WAIT_TIMEOUT_S))
    if not MIN_WAIT_TIMEOUT_S <= timeout <= MAX_WAIT_TIMEOUT_S:
        raise PropertyError(
            f"{WAIT_TIMEOUT_SECONDS} {timeout} is outside {MIN_WAIT_TIMEOUT_S}..{MAX_WAIT_TIMEOUT_S} (1 to 55 minutes)"
        )
    expected = properties.get(EXPECTED_COMPONENT_NAME)
    if expected is not None:
        problem = COMPONENT_NAME_RULE.problem(expected)
        if problem:
            raise PropertyError(problem.replace(COMPONENT_NAME_RULE.label, EXPECTED_COMPONENT_NAME, 1))
    packaging = None
    if properties.get(PACKAGING) is not None:
        try:
            packaging = parse_packaging(properties[PACKAGING])
        except PackagingError as error:
            raise PropertyError(f"{PACKAGING}: {error}") from None
        if expected is not None and expected != packaging.component_name:
            raise PropertyError(
                f"{EXPECTED_COMPONENT_NAME} {expected!r} differs from the component the job is started with "
                f"({packaging.component_name!r}); leave {EXPECTED_COMPONENT_NAME} out"
            )
        expected = packaging.component_name
    return JobProperties(
        str(project_name),
        str(job_name),
        wait,
        timeout,
        expected,
        _service_timeout(properties.get(SERVICE_TIMEOUT)),
        packaging,
    )


def _service_timeout(value: object) -> int | None:
    """CloudFormation's ServiceTimeout in seconds; None when absent or not one CloudFormation accepts (it validates
    its own property, 1 to 3600, before it sends the request: such a value never comes from it)."""
    try:
        seconds = _parse_int(SERVICE_TIMEOUT, value)
    except PropertyError:
        return None
    return seconds if 1 <= seconds <= MAX_SERVICE_TIMEOUT_S else None


def _parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise PropertyError(f"{name} must be true or false, got {_short_repr(value)}")


def _parse_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise PropertyError(f"{name} must be a whole number of seconds, got {_short_repr(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,6}", value.strip()):
        return int(value.strip())
    raise PropertyError(f"{name} must be a whole number of seconds, got {_short_repr(value)}")


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --- decisions -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The answer for one request."""

    status: str
    reason: str
    data: dict[str, str]


def empty_data(props: JobProperties | None = None) -> dict[str, str]:
    data = dict.fromkeys(DATA_KEYS, "")
    if props:
        data["ProjectName"], data["JobName"] = props.project_name, props.job_name
    return data


def result_data(props: JobProperties, result: pj.WaitResult) -> dict[str, str]:
    """The attributes of what the wait last saw; every key empty but the names when it saw nothing."""
    if result.description:
        return pj.to_attributes(result.description, props.project_name, props.job_name)
    return empty_data(props)


def decide(props: JobProperties, result: pj.WaitResult, waited_s: float) -> Decision:
    """Turn a wait result into SUCCESS or FAILED with the attributes and a reason that says what happened."""
    p, j = props.project_name, props.job_name
    data = result_data(props, result)
    if result.outcome == "error":
        detail = result.problem.message if result.problem else "unknown error"
        return Decision(FAILED, detail, data)
    expected = props.expected_component_name
    if expected is not None and data["ComponentName"] and data["ComponentName"] != expected:
        return Decision(FAILED, pj.component_mismatch_reason(p, j, expected, data["ComponentName"]), data)
    if not props.wait_for_completion and result.outcome in ("succeeded", "failed", "not_ready"):
        # The caller asked for the current state, not a gate: report it, whatever it is.
        return Decision(SUCCESS, "", data)
    if result.outcome == "failed":
        return Decision(FAILED, pj.failed_reason(p, j, data["StatusMessage"]), data)
    if result.outcome == "timeout" and not props.wait_for_completion:
        # Only transient errors can keep a no-wait look from answering; wait_timeout is not what bounds it.
        return Decision(FAILED, no_wait_timeout_reason(props, waited_s, result.last_error), data)
    if result.outcome == "timeout":
        return Decision(FAILED, pj.timeout_reason(p, j, result.status, waited_s, result.last_error), data)
    if result.outcome != "succeeded":
        return Decision(FAILED, f"Model packaging job {p}/{j}: the wait ended unexpectedly ({result.outcome})", data)
    if not pj.has_greengrass_output(data):
        return Decision(FAILED, pj.no_output_reason(p, j), data)
    return Decision(SUCCESS, "", data)


def internal_error_reason(error: BaseException, log_stream: str) -> str:
    """The Reason for a bug of ours: its type and where its traceback is, never its text (which may be anything)."""
    return f"Internal error in the ModelPackagingJob handler ({type(error).__name__}); see log stream {log_stream}"


def fallback_physical_id(event: Mapping[str, Any]) -> str:
    """A physical id for an answer that has none of its own: the one CloudFormation sent, or a stable stand-in."""
    existing = event.get("PhysicalResourceId")
    if isinstance(existing, str) and existing:
        return existing
    logical = event.get("LogicalResourceId")
    request = event.get("RequestId")
    return f"{logical if isinstance(logical, str) and logical else 'resource'}-{str(request)[:8]}"


def no_wait_timeout_reason(props: JobProperties, waited_s: float, last_error: str) -> str:
    return (
        f"Could not describe model packaging job {props.physical_id} in {waited_s / 60.0:.1f} minutes, before "
        f"CloudFormation's ServiceTimeout of {props.answer_within_s} s; last error {last_error or 'unknown'}. "
        "Rerun the deployment when Lookout for Vision answers again"
    )


def too_short_reason(props: JobProperties, remaining_s: float, needed_s: float) -> str:
    return (
        f"Cannot wait for model packaging job {props.physical_id}: this invocation of the handler function had "
        f"{remaining_s:.1f} s, and a wait needs at least {math.ceil(needed_s)} s per invocation "
        f"({HANDOFF_MARGIN_S:.0f} s to hand the wait on, and room for {MIN_LOOKS_PER_INVOCATION} looks). "
        "Restore the function's timeout "
        "(15 minutes as the construct sets it)"
    )


# --- the polling budget --------------------------------------------------------------------------------------------


def poll_budget(environ: Mapping[str, str]) -> tuple[pj.PollBudget | None, str]:
    """The polling budget the function was configured with, and a warning when part of it is unusable.

    None when neither variable is set (a function configured without a budget polls at POLL_INTERVAL_S alone).
    An unusable value falls back to the default budget or to one job, and says so: a wait must not fail over it.
    """
    raw_rps, raw_jobs = environ.get(BUDGET_RPS_ENV), environ.get(BUDGET_JOBS_ENV)
    if raw_rps is None and raw_jobs is None:
        return None, ""
    problems: list[str] = []
    rps = DEFAULT_DESCRIBE_BUDGET_RPS
    if raw_rps is not None:
        try:
            parsed = float(raw_rps)
        except ValueError:
            parsed = float("nan")
        low, high = DESCRIBE_BUDGET_RPS_RANGE
        if low <= parsed <= high:
            rps = parsed
        else:
            problems.append(f"{BUDGET_RPS_ENV}={_short_repr(raw_rps)} is not a positive number; using {rps:g}")
    jobs = 1
    if raw_jobs is not None:
        text = raw_jobs.strip()
        if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_BUDGET_JOBS:
            jobs = int(text)
        else:
            problems.append(
                f"{BUDGET_JOBS_ENV}={_short_repr(raw_jobs)} is not a job count (1-{MAX_BUDGET_JOBS}); using 1"
            )
    return pj.PollBudget(rps, jobs), "; ".join(problems)


# --- continuation --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitState:
    """Carried from one invocation to the next while a long wait continues."""

    started_at: float
    invocation: int = 1
    # When the previous invocation would have taken its next look: the continuation keeps the wait's pace.
    next_look_at: float | None = None


class StateError(ValueError):
    """A continuation whose wait state cannot be trusted, phrased as what is wrong with it."""


def _state_time(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StateError(f"{CONTINUATION_KEY}.{key} must be a number of seconds, got {_short_repr(value)}")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise StateError(f"{CONTINUATION_KEY}.{key} {_short_repr(value)} is not a finite time")
    return seconds


def wait_state(event: Mapping[str, Any], now: float, props: JobProperties) -> WaitState:
    """The wait state of this invocation: a fresh one for CloudFormation's own request, the carried one for a
    continuation. Raises StateError when a continuation's state cannot belong to this request: a StartedAt outside
    the time CloudFormation waits for an answer, a count that is not a whole number, a next look outside the wait."""
    if CONTINUATION_KEY not in event:
        return WaitState(now, 1)
    raw = event[CONTINUATION_KEY]
    if not isinstance(raw, Mapping):
        raise StateError(f"{CONTINUATION_KEY} must be an object, got {type(raw).__name__}")
    started = _state_time(raw, "StartedAt")
    oldest = now - props.answer_within_s
    if not oldest <= started <= now + CLOCK_SKEW_S:
        raise StateError(
            f"{CONTINUATION_KEY}.StartedAt {started:.1f} is {now - started:.1f} s before this invocation; a "
            f"continuation of this request starts between 0 and {props.answer_within_s} s (its ServiceTimeout) after it"
        )
    invocation = raw.get("Invocation")
    if isinstance(invocation, bool) or not isinstance(invocation, int) or not 2 <= invocation <= MAX_INVOCATIONS:
        raise StateError(
            f"{CONTINUATION_KEY}.Invocation must be a whole number from 2 to {MAX_INVOCATIONS}, "
            f"got {_short_repr(invocation)}"
        )
    next_look: float | None = None
    if raw.get("NextLookAt") is not None:
        next_look = _state_time(raw, "NextLookAt")
        if not started <= next_look <= started + props.answer_within_s:
            raise StateError(
                f"{CONTINUATION_KEY}.NextLookAt {next_look:.1f} lies outside the wait, which began at {started:.1f}"
            )
    return WaitState(started, invocation, next_look)


def wait_window(props: JobProperties, state: WaitState, now: float, remaining_s: float) -> tuple[float, float]:
    """When the whole wait ends and when this invocation, with ``remaining_s`` left before its Lambda deadline, hands
    the wait to the next one. The wait ends wait_timeout after the first invocation began, and always
    SERVICE_TIMEOUT_MARGIN_S before CloudFormation's ServiceTimeout would fail the resource with its own message."""
    within = min(props.wait_timeout_s, props.answer_within_s - SERVICE_TIMEOUT_MARGIN_S)
    return state.started_at + within, now + remaining_s - HANDOFF_MARGIN_S


def needed_invocation_s(pace_high_s: float) -> float:
    """The shortest invocation a wait can continue in: the hand-off margin plus room for its looks."""
    return HANDOFF_MARGIN_S + MIN_LOOKS_PER_INVOCATION * pace_high_s


def continuation_event(event: Mapping[str, Any], state: WaitState, next_look_at: float | None) -> dict[str, Any]:
    """The event to invoke ourselves with: the original request plus where the wait stands."""
    forwarded = {k: v for k, v in event.items() if k != CONTINUATION_KEY}
    carried: dict[str, Any] = {"StartedAt": state.started_at, "Invocation": state.invocation + 1}
    if next_look_at is not None:
        carried["NextLookAt"] = next_look_at
    forwarded[CONTINUATION_KEY] = carried
    return forwarded


# --- the response --------------------------------------------------------------------------------------------------


def clean_reason(text: str) -> str:
    """One line of printable text: control characters (NUL, escapes, line breaks) become spaces, runs collapse."""
    return pj.one_line("".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text))


def build_response(
    event: Mapping[str, Any], status: str, reason: str, physical_id: str, data: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "Status": status,
        "Reason": clean_reason(reason),
        "PhysicalResourceId": physical_id,
        "StackId": _as_text(event.get("StackId")),
        "RequestId": _as_text(event.get("RequestId")),
        "LogicalResourceId": _as_text(event.get("LogicalResourceId")),
        "NoEcho": False,
        "Data": dict(data),
    }


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _shorten(text: str, by_bytes: int) -> str:
    """Cut ``text`` so its JSON encoding shrinks by at least ``by_bytes``, keeping its start and marking the cut."""
    marker = " ...(truncated)"

    def encoded_len(value: str) -> int:
        return len(json.dumps(value)) - 2

    keep_target = max(0, encoded_len(text) - by_bytes - len(marker))
    # JSON escapes make encoded length and character count differ (up to 12 bytes for one astral character), so
    # search for the longest prefix that fits instead of guessing a ratio.
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if encoded_len(text[:middle]) <= keep_target:
            low = middle
        else:
            high = middle - 1
    return text[:low] + marker if low < len(text) else text


def encode_response(body: dict[str, Any], limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """Serialize the body so it fits CloudFormation's 4096-byte limit.

    Cuts the Reason to MAX_REASON_CHARS, then shortens Data.StatusMessage, then the Reason. If the body still does
    not fit (only absurd identifiers can do that), answers FAILED with the data dropped rather than not at all.
    """
    body = dict(body)
    body["Data"] = dict(body.get("Data") or {})
    if len(body["Reason"]) > MAX_REASON_CHARS:
        body["Reason"] = body["Reason"][: MAX_REASON_CHARS - 15] + " ...(truncated)"
    encoded = _encode(body)
    for path in (("Data", "StatusMessage"), ("Reason",)):
        if len(encoded) <= limit:
            return encoded
        holder = body["Data"] if path[0] == "Data" else body
        key = path[-1]
        if isinstance(holder.get(key), str) and holder[key]:
            holder[key] = _shorten(holder[key], len(encoded) - limit)
            encoded = _encode(body)
    if len(encoded) <= limit:
        return encoded
    body.update(Status=FAILED, Data={}, Reason="The response did not fit in 4096 bytes; see the function's log")
    encoded = _encode(body)
    if len(encoded) > limit:
        for key in ("PhysicalResourceId", "LogicalResourceId", "StackId", "RequestId"):
            body[key] = _prefix_within(body[key], 256)
        encoded = _encode(body)
    return encoded


def _prefix_within(text: str, max_encoded: int) -> str:
    """The longest prefix of ``text`` whose JSON encoding is at most ``max_encoded`` bytes."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(json.dumps(text[:middle])) - 2 <= max_encoded:
            low = middle
        else:
            high = middle - 1
    return text[:low]


# --- delivery ------------------------------------------------------------------------------------------------------


def send_response(
    response_url: object,
    body: bytes,
    *,
    deadline: float,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """PUT the body to the presigned ResponseURL, retrying transient failures until ``deadline`` (a ``now()`` value).

    Returns whether CloudFormation accepted it. Unlike crhelper's sender it gives up: at the deadline, or at once on
    a 4xx (an expired or forged URL will not start working). The URL itself is never logged: it is a credential.
    """
    if not isinstance(response_url, str):
        logger.error("No ResponseURL in the event; nobody can be answered")
        return False
    try:
        parts = urlsplit(response_url)
        port = parts.port
    except ValueError:
        logger.error("The ResponseURL is not a valid URL; nobody can be answered")
        return False
    if parts.scheme not in ("https", "http") or not parts.hostname:
        logger.error("The ResponseURL is not an http(s) URL; nobody can be answered")
        return False
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    attempt, pause = 0, 0.5
    while True:
        attempt += 1
        remaining = deadline - now()
        if remaining <= 0:
            logger.error("Gave up answering CloudFormation after %d attempts: out of time", attempt - 1)
            return False
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(parts.hostname, port, timeout=max(0.5, min(10.0, remaining)))
        try:
            conn.request("PUT", path, body=body, headers={"Content-Type": "", "Content-Length": str(len(body))})
            status = conn.getresponse().status
        except (ValueError, http.client.InvalidURL):
            # The URL will not become valid by retrying (InvalidURL is an HTTPException, not a ValueError).
            logger.error("The ResponseURL was rejected as invalid; nobody can be answered")
            return False
        except (OSError, http.client.HTTPException) as error:
            logger.warning("Answering CloudFormation failed (attempt %d): %s", attempt, type(error).__name__)
            status = 0
        finally:
            conn.close()
        if 200 <= status < 300:
            logger.info("CloudFormation accepted the answer (HTTP %d, attempt %d)", status, attempt)
            return True
        if 400 <= status < 500:
            logger.error("CloudFormation refused the answer with HTTP %d; not retrying", status)
            return False
        if status:
            logger.warning("Answering CloudFormation got HTTP %d (attempt %d)", status, attempt)
        wait = min(pause, deadline - now())
        if wait <= 0:
            logger.error("Gave up answering CloudFormation after %d attempts: out of time", attempt)
            return False
        sleep(wait)
        pause = min(pause * 2, 5.0)


# --- log hygiene ---------------------------------------------------------------------------------------------------

_SECRET_URL = re.compile(r"https?://[^\s'\"]*(?:X-Amz-Signature|Signature=|X-Amz-Credential)[^\s'\"]*", re.IGNORECASE)
_RESPONSE_URL_FIELD = re.compile(r"""(['"]?ResponseURL['"]?\s*[:=]\s*)(['"])[^'"]*\2""")
# The query parameters that make a presigned URL a credential, found whatever quotes or escapes surround the URL (a
# URL holding both quote characters defeats the two patterns above). A value ends at "&", whitespace, a quote or a
# backslash.
_PRESIGNED_PARAMETER = re.compile(
    r"(?:X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId)(?:=|%3D)[^&\s'\"\\]*",
    re.IGNORECASE,
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove ``secrets`` (the current request's ResponseURL in each form a log line may print it), ResponseURL
    values, presigned URLs and, wherever they stand, their signing parameters from a log message."""
    for secret in secrets:
        text = text.replace(secret, "<redacted>")
    text = _RESPONSE_URL_FIELD.sub(r"\1\2<redacted>\2", text)
    text = _SECRET_URL.sub("<redacted-url>", text)
    return _PRESIGNED_PARAMETER.sub("<redacted>", text)


def secret_forms(url: str) -> tuple[str, ...]:
    """``url`` as it may appear in a log line: raw, JSON-escaped, repr-escaped, and its path alone, longest first."""
    try:
        path = urlsplit(url).path
    except ValueError:  # an unparseable URL (a broken IPv6 host) is still redacted whole
        path = ""
    forms = {url, json.dumps(url)[1:-1], repr(url)[1:-1], path if len(path) > 1 else ""}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


class RedactingFilter(logging.Filter):
    """Scrubs presigned URLs, and the current request's ResponseURL in any form, from every record that reaches a
    handler, whatever logged it."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop the log line
            message = str(record.msg)
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def install_redaction(root: logging.Logger | None = None, *, response_url: object = None) -> None:
    """Attach the filter to every handler of the root logger (handler filters see records from all loggers), set to
    hide ``response_url`` (the current request's) wherever it appears."""
    root = root or logging.getLogger()
    secrets = secret_forms(response_url) if isinstance(response_url, str) and response_url else ()
    for handler in root.handlers:
        existing = [f for f in handler.filters if isinstance(f, RedactingFilter)]
        if not existing:
            existing = [RedactingFilter()]
            handler.addFilter(existing[0])
        for redacting in existing:
            redacting.secrets = secrets
