"""outbound, the one policy for calling AWS: how a failed call is classified and what its message advises, the
backoff, the retry loop and the bound on one call."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from botocore import exceptions as be
from support import VirtualClock, client_error

from cdk_lookoutvision_packaging_handler import outbound as ob

ENDPOINT = "https://lookoutvision.eu-west-9.amazonaws.invalid"
FAILURE = "Cannot do"
CALL = ob.Call("Describe", "t-1", FAILURE, "Grant svc:Describe", region="eu-west-9")
ONCE = ob.Call("Invoke", "the hand-off", "Cannot hand on", "Denied", repeatable=False)
THROTTLED = client_error("ThrottlingException", 429, "Rate exceeded")
RETRIED, UNKNOWN = ("throttled", "transient"), "unknown_outcome"
REFUSED = be.EndpointConnectionError(endpoint_url=ENDPOINT, error=ConnectionRefusedError())
NO_MODEL = (
    "this botocore has no lookoutvision service model; set AWS_DATA_PATH to a folder holding "
    "lookoutvision/2020-11-20/service-2.json.gz (the asset and the package carry one)"
)


def answer(code: str, status: int) -> Any:
    # The message quotes a 429: the service's words never decide.
    return client_error(code, status, "upstream answered (429)")


def unresolvable(errno: int) -> be.EndpointConnectionError:
    """What botocore raises when the endpoint's name does not resolve: urllib3's error, raised from the gaierror."""
    resolution = OSError("Failed to resolve")
    resolution.__cause__ = socket.gaierror(errno, "Name or service not known")
    return be.EndpointConnectionError(endpoint_url=f"{ENDPOINT}/2020-11-20/projects", error=resolution)


@pytest.mark.parametrize(
    ("error", "code", "kind", "once"),
    [
        (answer("ThrottlingException", 400), "ThrottlingException", "throttled", "throttled"),
        (answer("SlowDown", 503), "SlowDown", "throttled", "throttled"),
        (answer("", 429), "HTTP429", "throttled", "throttled"),
        (answer("RequestTimeout", 408), "RequestTimeout", "transient", UNKNOWN),
        (answer("ServiceUnavailableException", 503), "ServiceUnavailableException", "transient", UNKNOWN),
        (answer("", 502), "HTTP502", "transient", UNKNOWN),
        (answer("AccessDeniedException", 400), "AccessDeniedException", "denied", "denied"),
        (answer("", 403), "HTTP403", "denied", "denied"),
        (answer("ResourceNotFoundException", 400), "ResourceNotFoundException", "not_found", "not_found"),
        (answer("", 404), "HTTP404", "not_found", "not_found"),
        (answer("ConflictException", 400), "ConflictException", "conflict", "conflict"),
        (answer("", 409), "HTTP409", "conflict", "conflict"),
        (answer("ValidationException", 422), "ValidationException", "invalid", "invalid"),
        (answer("", 400), "HTTP400", "invalid", "invalid"),
        (answer("", 418), "HTTP418", "refused", "refused"),
        # Never sent, or the resolver could not answer now: safe to repeat.
        (REFUSED, "EndpointConnectionError", "transient", "transient"),
        (unresolvable(socket.EAI_AGAIN), "EndpointConnectionError", "transient", "transient"),
        (be.ConnectTimeoutError(endpoint_url=ENDPOINT), "ConnectTimeoutError", "transient", "transient"),
        # Maybe sent: repeated only when that is safe.
        (be.ReadTimeoutError(endpoint_url=ENDPOINT), "ReadTimeoutError", UNKNOWN, UNKNOWN),
        (be.ConnectionClosedError(endpoint_url=ENDPOINT), "ConnectionClosedError", UNKNOWN, UNKNOWN),
        (ConnectionResetError("reset by peer"), "ConnectionResetError", UNKNOWN, UNKNOWN),
        (ob.CallTimeoutError("too slow"), "CallTimeoutError", UNKNOWN, UNKNOWN),
    ],
)  # fmt: skip
def test_a_failure_is_classified_and_retried_only_when_that_can_help(
    error: Any, code: str, kind: str, once: str
) -> None:
    problem, once_only = ob.classify(error, CALL), ob.classify(error, ONCE)
    assert (problem.kind, problem.code, once_only.kind) == (kind, code, once)
    assert (problem.retryable, once_only.retryable) == (kind in (*RETRIED, UNKNOWN), once in RETRIED)


@pytest.mark.parametrize(
    ("error", "kind", "code", "message"),
    [
        (client_error("AccessDeniedException", 403, "no"), "denied", "AccessDeniedException",
         "Grant svc:Describe (no)"),
        (client_error("SlowDown", 429, "Rate\n  exceeded"), "throttled", "SlowDown", "SlowDown (429): Rate exceeded"),
        (client_error("", 503, ""), "transient", "HTTP503", "HTTP error (503)"),
        (client_error("", 418, "teapot"), "refused", "HTTP418",
         "Describe for t-1 failed with HTTP error (418): teapot"),
        (ob.HttpStatusError(404), "not_found", "HTTP404", "HTTP error (404)"),
        (be.ParamValidationError(report="x"), "invalid", "ParamValidationError",
         "Cannot do: the request is invalid: Parameter validation failed: x"),
        (ValueError("no scheme"), "invalid", "ValueError", "Cannot do: ValueError: no scheme"),
        (ob.MalformedResponseError("no body"), "transient", "MalformedResponse", "no body"),
        (be.NoCredentialsError(), "broken", "NoCredentialsError",
         "no AWS credentials were found to call Lookout for Vision"),
        (be.UnknownServiceError(service_name="lookoutvision", known_service_names="s3"), "broken",
         "UnknownServiceError", NO_MODEL),
        (KeyError("Status"), "refused", "KeyError", "KeyError: 'Status'"),
        (ConnectionResetError(), "unknown_outcome", "ConnectionResetError", "ConnectionResetError"),
        (REFUSED, "transient", "EndpointConnectionError", f'Could not connect to the endpoint URL: "{ENDPOINT}"'),
        (ConnectionRefusedError(), "transient", "ConnectionRefusedError", "ConnectionRefusedError"),
        # Only botocore's EndpointConnectionError is looked into for a name that does not resolve.
        (socket.gaierror(socket.EAI_NONAME, "unknown"), "unknown_outcome", "gaierror",
         f"[Errno {socket.EAI_NONAME}] unknown"),
    ],
)  # fmt: skip
def test_a_failure_reads_as_one_line_that_says_what_happened(
    error: BaseException, kind: str, code: str, message: str
) -> None:
    problem = ob.classify(error, CALL)
    assert (problem.kind, problem.code, problem.message) == (kind, code, message)
    assert str(ob.HttpStatusError(502)) == "HTTP 502"


@pytest.mark.parametrize(
    ("response", "seconds"),
    [
        ({"RetryAfterSeconds": 7}, 7.0),
        ({"HTTPHeaders": {"retry-after": "3"}}, 3.0),
        ({}, None),
        ({"HTTPHeaders": {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}}, None),
        ({"RetryAfterSeconds": 100_000}, None),
        ({"RetryAfterSeconds": 0}, 0.0),
        ({"RetryAfterSeconds": 300}, 300.0),
        ({"RetryAfterSeconds": 301}, None),
    ],
)
def test_retry_after_is_the_modeled_field_or_the_header_when_it_is_a_sane_number(response: Any, seconds: Any) -> None:
    assert ob.classify(client_error("ThrottlingException", 429, **response), CALL).retry_after_s == seconds


def test_a_not_found_without_a_resource_type_names_none() -> None:
    assert ob.classify(client_error("ResourceNotFoundException", 404), CALL).resource_type == ""


def test_the_name_that_does_not_resolve_is_found_through_every_link_and_a_cycle_ends_the_search() -> None:
    hidden = unresolvable(socket.EAI_NONAME)
    hidden.__context__ = ValueError("a sibling looked at first")
    assert ob.classify(hidden, CALL).kind == "broken"
    first, second = OSError("a"), OSError("b")
    first.__context__, second.__context__ = second, first
    looping = be.EndpointConnectionError(endpoint_url=ENDPOINT, error=first)
    assert ob.classify(looping, CALL).kind == "transient"


def test_an_endpoint_that_does_not_resolve_is_final_naming_the_endpoint_the_region_and_the_input() -> None:
    problem = ob.classify(unresolvable(socket.EAI_NONAME), CALL)
    assert (problem.kind, problem.code, problem.retryable) == ("broken", "EndpointConnectionError", False)
    assert problem.message == (
        f"Cannot resolve the Lookout for Vision endpoint {ENDPOINT} for Region eu-west-9: the name "
        f"lookoutvision.eu-west-9.amazonaws.invalid does not resolve in DNS ([Errno {socket.EAI_NONAME}] Name or "
        "service not known). Check the Region the stack deploys to, and the endpoint URL if one is set: Lookout for "
        "Vision is offered in only some Regions"
    )
    cli = ob.Call("X", "x", "x", "x", wording=ob.Wording("--project-name", "--job-name", "--region"))
    message = ob.classify(unresolvable(socket.EAI_NONAME), cli).message
    assert message.startswith(f"Cannot resolve the Lookout for Vision endpoint {ENDPOINT}: the name ")
    assert "Check --region," in message


@pytest.mark.parametrize(
    ("code", "status", "message", "fix"),
    [
        ("ExpiredTokenException", 403, "The security token included in the request is expired", "refresh them"),
        ("ExpiredToken", 400, "The security token included in the request is expired", "refresh them"),
        ("UnrecognizedClientException", 400, "The security token included in the request is invalid.", "access keys"),
        ("InvalidClientTokenId", 403, "The security token included in the request is invalid.", "access keys"),
        ("InvalidSignatureException", 403, "The request signature we calculated does not match", "secret access key"),
        ("SignatureDoesNotMatch", 403, "Signature does not match", "secret access key"),
        ("InvalidSignatureException", 403, "Signature expired: 20261201T100000Z is now earlier", "fix the clock"),
        ("InvalidSignatureException", 400, "Signature not yet current: 20261201T103000Z is later", "fix the clock"),
        ("RequestExpired", 400, "Request has expired.", "fix the clock"),
    ],
)
def test_a_credential_error_says_what_to_fix_not_iam_or_naming(code: str, status: int, message: str, fix: str) -> None:
    problem = ob.classify(client_error(code, status, message), CALL)
    advice = ob.credential_advice(code, message)
    assert advice is not None and fix in advice
    assert (problem.kind, problem.code, problem.said) == ("broken", code, message)
    assert problem.message == f"{FAILURE}: {advice} ({code} ({status}): {message})"


def retrying(*steps: Any, left_s: float = 300.0, **kwargs: Any) -> tuple[ob.Attempts, VirtualClock, list[float]]:
    """``retrying`` an attempt answering the next step (a value, or an exception to raise) on a virtual clock."""
    vclock, bounds, queue = VirtualClock(), [], list(steps)

    def attempt(timeout_s: float) -> Any:
        bounds.append(timeout_s)
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, BaseException):
            raise step
        return step

    return ob.retrying(attempt, CALL, clock=vclock.clock(), give_up_at=vclock.start + left_s, **kwargs), vclock, bounds


@pytest.mark.parametrize(
    ("steps", "kwargs", "value", "attempts", "gave_up"),
    [
        ([THROTTLED, client_error("", 503), "ok"], {}, "ok", 3, False),
        ([client_error("AccessDeniedException", 403), "ok"], {}, None, 1, False),
        ([THROTTLED], {"max_attempts": 3}, None, 3, True),
        # A retry the service asks for at the very moment the time is up is not made.
        ([client_error("ThrottlingException", 429, RetryAfterSeconds=20)], {"left_s": 20.0}, None, 1, True),
        ([THROTTLED], {"left_s": 60.0}, None, None, True),  # no retry starts after the time it was given
    ],
    ids=["retried-until-it-succeeds", "final", "max-attempts", "retry-after-the-end", "out-of-time"],
)
def test_retrying_repeats_what_is_retryable_with_backoff_within_its_limits(
    steps: list[Any], kwargs: dict[str, Any], value: Any, attempts: int | None, gave_up: bool
) -> None:
    delays: list[float] = []
    ended, vclock, bounds = retrying(*steps, on_retry=lambda _, delay: delays.append(delay), **kwargs)
    assert (ended.value, ended.gave_up, ended.attempts) == (value, gave_up, attempts or len(bounds))
    assert (
        ended.problem is None
        if value
        else ended.problem is not None and ended.problem.code == steps[-1 if gave_up else 0].response["Error"]["Code"]
    )
    assert delays == vclock.sleeps and len(delays) == ended.attempts - 1
    assert vclock.now() < vclock.start + kwargs.get("left_s", 300.0)


def test_each_attempt_gets_one_call_s_time_never_more_than_is_left_and_always_a_little() -> None:
    assert [retrying("ok", left_s=left)[2] for left in (300.0, 4.0, -10.0)] == [[ob.MAX_CALL_S], [4.0], [0.5]]


def test_a_bounded_call_returns_raises_or_is_cut_off_at_its_bound() -> None:
    assert ob.bounded_call(lambda: 42, 5.0, "answer") == 42
    with pytest.raises(KeyError):
        ob.bounded_call(lambda: {}["missing"], 5.0, "lookup")
    release, started, before = threading.Event(), time.monotonic(), set(threading.enumerate())
    with pytest.raises(ob.CallTimeoutError, match=r"^Hang did not complete within 0\.2 s$"):
        ob.bounded_call(lambda: release.wait(30.0), 0.2, "Hang")
    # Cut off at its bound, and the call left behind never keeps the process from ending.
    [left] = [thread for thread in threading.enumerate() if thread not in before]
    assert time.monotonic() - started < 0.6 and (left.name, left.daemon) == ("bounded-call", True)
    release.set()


def test_every_client_fails_fast_and_makes_one_attempt_since_this_module_owns_retries() -> None:
    config = ob.client_config()
    assert (config.connect_timeout, config.read_timeout) == (3, 10)
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert ob.USER_AGENT in config.user_agent_extra
