"""The CloudFormation side of the protocol: the real crhelper (with the handler's subclass) answering over HTTP to a
loopback ResponseURL that records every PUT.

The job is played by the loopback Lookout for Vision API through the product's own client. Only the Lambda client
used to continue a wait in a new invocation is replaced, by an in-process double: these tests are about how many
answers leave the function, not about the Lambda API.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from support import (
    COMPONENT_ARN,
    EXPECTED_BODY_KEYS,
    EXPECTED_DATA_KEYS,
    FUNCTION_ARN,
    STACK_ID,
    FakeContext,
    FakeLookoutVision,
    ResponseRecorder,
    description,
    make_event,
    ok,
    properties,
    slow,
)

from model_packaging_job import index
from model_packaging_job import packaging_job as pj

PROJECT, JOB = "pcb", "pcb-v3-x86"
MAX_PROJECT = ("Pcb_defect-line" * 20)[:255]
MAX_JOB = ("X86-v3-" * 10)[:64]
MAX_COMPONENT = ("com.example.pcb-defects." * 6)[:128]


# --- fixtures and helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeLookoutVision() as fake:
        fake.client = index.make_lookoutvision_client(endpoint_url=fake.url)
        monkeypatch.setattr(pj, "POLL_INTERVAL_S", (0.01, 0.03))
        monkeypatch.setattr(pj, "BACKOFF_BASE_S", 0.05)
        monkeypatch.setattr(pj, "BACKOFF_CAP_S", 0.1)
        yield fake


@pytest.fixture
def recorder() -> Any:
    with ResponseRecorder() as rec:
        yield rec


class _FakeLambda:
    """Stands in for the Lambda client the handler uses to continue a wait: records invokes, optionally slow or
    failing."""

    def __init__(self, delay_s: float = 0.0, fail: bool = False, during: Callable[[], None] | None = None) -> None:
        self.delay_s, self.fail, self.during = delay_s, fail, during
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations.append(kwargs)
        time.sleep(self.delay_s)
        if self.during is not None:
            self.during()
        if self.fail:
            error = {"Code": "AccessDeniedException", "Message": "not authorized to perform lambda:InvokeFunction"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}, "Invoke")
        return {"StatusCode": 202}


def _headers(recorder: ResponseRecorder, n: int = 0) -> dict[str, str]:
    return {k.lower(): v for k, v in recorder.headers[n].items()}


def handler_for(api: Any, lambda_client: Any = None, **kwargs: Any) -> Any:
    """The handler, made by the product's own factory, talking to the loopback API (and to ``lambda_client``)."""
    return index.make_handler(lookoutvision=api.client, lambda_client=lambda_client, **kwargs)


def _invoke_in_thread(handler: Any, event: dict[str, Any], context: FakeContext, limit_s: float) -> float:
    """Run the handler in a thread so a hang fails the test instead of stalling it; return how long it ran."""
    started = time.monotonic()
    worker = threading.Thread(target=handler, args=(event, context), daemon=True)
    worker.start()
    worker.join(limit_s)
    assert not worker.is_alive(), f"the handler was still running after {limit_s}s"
    return time.monotonic() - started


# --- the body ------------------------------------------------------------------------------------------------------


def test_success_body_schema_and_headers(api: FakeLookoutVision, recorder: ResponseRecorder) -> None:
    api.script(PROJECT, JOB, [ok(description())])
    event = make_event(response_url=recorder.url)

    handler_for(api)(event, FakeContext(60))

    assert recorder.attempts == 1
    body = recorder.only
    assert set(body) == EXPECTED_BODY_KEYS
    assert body == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": f"{PROJECT}/{JOB}",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": body["Data"],
    }
    assert event["StackId"] == STACK_ID
    assert set(body["Data"]) == EXPECTED_DATA_KEYS
    assert all(isinstance(v, str) for v in body["Data"].values())
    assert body["Data"]["ComponentVersionArn"] == COMPONENT_ARN

    headers = _headers(recorder)
    # A presigned S3 PUT URL is signed without a Content-Type: it must be empty or absent.
    assert headers.get("content-type", "") == ""
    assert int(headers["content-length"]) == len(recorder.raw[0])
    # The presigned path and query must arrive byte for byte, or S3 rejects the signature.
    url = urlsplit(recorder.url)
    assert recorder.paths[0] == f"{url.path}?{url.query}"


def test_failed_body_schema(api: FakeLookoutVision, recorder: ResponseRecorder) -> None:
    api.script(PROJECT, JOB, [ok(description("FAILED", status_message="Out of capacity"))])
    event = make_event(response_url=recorder.url, logical_id="Job2")

    handler_for(api)(event, FakeContext(60))

    body = recorder.only
    assert set(body) == EXPECTED_BODY_KEYS
    assert body["Status"] == "FAILED"
    assert body["Reason"] == f"Model packaging job {PROJECT}/{JOB} FAILED: Out of capacity"
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (STACK_ID, event["RequestId"], "Job2")
    assert body["NoEcho"] is False
    assert set(body["Data"]) == EXPECTED_DATA_KEYS


@pytest.mark.parametrize(
    "message",
    [
        "x" * 100_000,
        "é" * 100_000,
        '"\\' * 50_000,
        "\U0001f600\n\t<>&" * 20_000,
    ],
    ids=["ascii", "latin1", "quotes-backslashes", "emoji-controls"],
)
@pytest.mark.parametrize("status", ["FAILED", "SUCCEEDED"])
def test_body_fits_4096_bytes_with_huge_status_message_and_maximal_names(
    api: FakeLookoutVision, recorder: ResponseRecorder, message: str, status: str
) -> None:
    api.script(
        MAX_PROJECT,
        MAX_JOB,
        [
            ok(
                description(
                    status,
                    project=MAX_PROJECT,
                    job=MAX_JOB,
                    status_message=message,
                    component_name=MAX_COMPONENT,
                )
            )
        ],
    )
    event = make_event(response_url=recorder.url, props=properties(MAX_PROJECT, MAX_JOB))

    handler_for(api)(event, FakeContext(60))

    raw = recorder.raw[0]
    assert len(raw) <= 4096, f"the answer is {len(raw)} bytes"
    body = recorder.only
    assert set(body) == EXPECTED_BODY_KEYS
    assert set(body["Data"]) == EXPECTED_DATA_KEYS
    assert body["PhysicalResourceId"] == f"{MAX_PROJECT}/{MAX_JOB}"
    assert body["Data"]["ProjectName"] == MAX_PROJECT and body["Data"]["JobName"] == MAX_JOB
    assert message.startswith(body["Data"]["StatusMessage"].removesuffix(" ...(truncated)")[:100])
    if status == "FAILED":
        assert body["Status"] == "FAILED"
        assert body["Reason"].startswith(f"Model packaging job {MAX_PROJECT}/{MAX_JOB} FAILED: ")
    else:
        assert body["Status"] == "SUCCESS", body["Reason"]
        assert body["Data"]["ComponentName"] == MAX_COMPONENT
        assert body["Data"]["ComponentVersionArn"].startswith("arn:aws:greengrass:")


# --- exactly one answer --------------------------------------------------------------------------------------------


def test_response_url_failing_twice_is_retried_and_answered_once(api: FakeLookoutVision) -> None:
    api.script(PROJECT, JOB, [ok(description())])
    with ResponseRecorder(fail_first=2) as recorder:
        elapsed = _invoke_in_thread(handler_for(api), make_event(response_url=recorder.url), FakeContext(60), 30)
        time.sleep(0.3)

        assert recorder.attempts == 3
        assert recorder.only["Status"] == "SUCCESS"
        assert elapsed < 10


# Just over the shortest invocation a wait can continue in at the fixture's 0.01-0.03 s pace: a job still RUNNING is
# handed on a fraction of a second in.
HANDS_OFF_AT_ONCE_S = 60.5


def test_the_timer_firing_during_a_hand_off_stays_quiet_and_the_refusal_answers_once(
    api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The timer fires while the hand-off is in flight (here: from inside the Invoke); Lambda then refuses it. The
    # hand-off was claimed first, so the one answer is the refusal's, naming the permission.
    lam = _FakeLambda(fail=True, during=lambda: handler._timeout())
    handler = handler_for(api, lam)
    api.script(PROJECT, JOB, [ok(description("RUNNING"))])

    _invoke_in_thread(handler, make_event(response_url=recorder.url), FakeContext(HANDS_OFF_AT_ONCE_S), 8)
    time.sleep(0.3)

    assert len(lam.invocations) == 1
    assert recorder.attempts == 1
    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "lambda:InvokeFunction" in body["Reason"] and "ran out of time" not in body["Reason"]


def test_timer_firing_during_a_slow_api_call_still_answers_once(
    api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Describe call itself outlives the timer (3 s answer, timer at ~2 s); then the hand-off fails.
    handler = handler_for(api, _FakeLambda(fail=True))
    api.script(PROJECT, JOB, [slow(3.0, ok(description("RUNNING")))])

    elapsed = _invoke_in_thread(handler, make_event(response_url=recorder.url), FakeContext(6), 8)
    time.sleep(0.5)

    assert elapsed < 6
    assert recorder.attempts == 1
    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "ran out of time" in body["Reason"]


def test_failed_hand_off_answers_once_and_the_timer_stays_quiet(
    api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    lam = _FakeLambda(fail=True)
    handler = handler_for(api, lam)
    api.script(PROJECT, JOB, [ok(description("RUNNING"))])

    _invoke_in_thread(handler, make_event(response_url=recorder.url), FakeContext(HANDS_OFF_AT_ONCE_S), 8)
    time.sleep(0.3)

    assert recorder.attempts == 1
    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "lambda:InvokeFunction" in body["Reason"]
    assert body["Data"]["Status"] == "RUNNING"


def test_hand_off_then_continuation_answers_exactly_once_overall(
    api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    lam = _FakeLambda()
    handler = handler_for(api, lam)
    # More RUNNING looks than the first invocation can take in its half second.
    api.script(PROJECT, JOB, [*[ok(description("RUNNING"))] * 60, ok(description())])
    event = make_event(response_url=recorder.url)

    # Barely more time than a wait needs: the first invocation hands the wait off at once and must not answer.
    _invoke_in_thread(handler, event, FakeContext(HANDS_OFF_AT_ONCE_S), 10)
    assert recorder.attempts == 0
    [call] = lam.invocations
    assert call["FunctionName"] == FUNCTION_ARN
    assert call["InvocationType"] == "Event"
    continuation = json.loads(call["Payload"])
    assert continuation["RequestId"] == event["RequestId"]
    assert continuation["ResponseURL"] == event["ResponseURL"]
    assert continuation["LookoutVisionWait"]["Invocation"] == 2

    _invoke_in_thread(handler, continuation, FakeContext(120), 10)
    body = recorder.only
    assert body["Status"] == "SUCCESS"
    assert body["RequestId"] == event["RequestId"]
    assert recorder.attempts == 1


def test_unexpected_exception_answers_once_without_a_stack_trace(
    api: FakeLookoutVision, recorder: ResponseRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError('Traceback (most recent call last):\n  File "packaging_job.py", line 1')

    monkeypatch.setattr(pj, "wait_for_job", broken)
    _invoke_in_thread(handler_for(api), make_event(response_url=recorder.url), FakeContext(60), 10)

    body = recorder.only
    assert body["Status"] == "FAILED"
    assert "RuntimeError" in body["Reason"]
    assert "Traceback" not in body["Reason"] and "\n" not in body["Reason"]
    assert body["PhysicalResourceId"] == f"{PROJECT}/{JOB}"


def test_always_failing_response_url_gives_up_before_the_deadline(api: FakeLookoutVision) -> None:
    api.script(PROJECT, JOB, [ok(description())])
    with ResponseRecorder(always_fail=True) as recorder:
        elapsed = _invoke_in_thread(handler_for(api), make_event(response_url=recorder.url), FakeContext(5), 10)

        assert elapsed < 5, f"the handler ran {elapsed:.2f}s of a 5 s invocation"
        assert recorder.attempts >= 2, "a failing response URL must be retried while time remains"
        assert recorder.bodies == []
        attempts = recorder.attempts
        time.sleep(0.6)
        assert recorder.attempts == attempts, "nothing may keep answering after the handler returned"


# --- log hygiene ---------------------------------------------------------------------------------------------------


class _Capture(logging.Handler):
    """Keeps every record's message and its formatted line (crhelper replaces the formatter of root handlers)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Any:
    root = logging.getLogger()
    level, handler = root.level, _Capture()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
def test_no_log_line_carries_the_response_url(
    api: FakeLookoutVision,
    recorder: ResponseRecorder,
    captured: _Capture,
    monkeypatch: pytest.MonkeyPatch,
    log_level: str,
) -> None:
    handler = handler_for(api, _FakeLambda(fail=True), environ={"LOG_LEVEL": log_level})
    api.script(PROJECT, JOB, [ok(description())])
    api.script(PROJECT, "failed-job", [ok(description("FAILED", job="failed-job", status_message="boom"))])
    api.script(PROJECT, "running-job", [ok(description("RUNNING", job="running-job"))])

    with ResponseRecorder(fail_first=2) as flaky:
        _invoke_in_thread(handler, make_event(response_url=flaky.url), FakeContext(60), 10)
    _invoke_in_thread(
        handler, make_event(response_url=recorder.url, props=properties(job="failed-job")), FakeContext(60), 10
    )
    _invoke_in_thread(
        handler, make_event(response_url=recorder.url, props=properties(job="running-job")), FakeContext(10), 10
    )
    _invoke_in_thread(
        handler, make_event(response_url=recorder.url, props=properties(job="bad name!")), FakeContext(60), 10
    )
    bad = make_event(response_url=recorder.url)
    del bad["StackId"]
    _invoke_in_thread(handler, bad, FakeContext(60), 10)
    with ResponseRecorder(always_fail=True) as dead:
        _invoke_in_thread(handler, make_event(response_url=dead.url), FakeContext(2.5), 5)

    assert len(recorder.bodies) == 4
    assert captured.lines, "the capturing handler saw no log records"
    if log_level == "DEBUG":
        # crhelper logs the whole event at DEBUG: the check below is only meaningful if that line was captured.
        assert any("ResponseURL" in line for line in captured.lines)
    signature = urlsplit(recorder.url).query.rsplit("X-Amz-Signature=", 1)[1]
    for line in captured.lines:
        assert "X-Amz-Signature" not in line, line
        assert signature not in line, line
        assert "X-Amz-Credential" not in line, line
        for url in (recorder.url, flaky.url, dead.url):
            assert urlsplit(url).path not in line, line


def test_logs_are_json_at_info(api: FakeLookoutVision, recorder: ResponseRecorder, captured: _Capture) -> None:
    api.script(PROJECT, JOB, [ok(description())])

    handler_for(api)(make_event(response_url=recorder.url), FakeContext(60))

    assert logging.getLogger().level == logging.INFO
    formatted = captured.lines[1::2]
    assert formatted
    for line in formatted:
        record = json.loads(line)
        assert record["level"] in {"INFO", "WARNING", "ERROR"}
