"""custom_resource, the resource's rules on plain values: its properties, the polling budget from the function's
environment, the answer for a wait result and its reasons, the continuation of a wait, the 4096-byte response, its
bounded delivery over real HTTP to a loopback ResponseURL, and log redaction."""

from __future__ import annotations

import io
import json
import logging
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import EXPECTED_BODY_KEYS, ResponseRecorder, VirtualClock, description, make_event, properties

from model_packaging_job import contract
from model_packaging_job import custom_resource as cr
from model_packaging_job import packaging_job as pj

PROJECT, JOB = "pcb", "pcb-v3-x86"


# --- parse_properties ----------------------------------------------------------------------------------------------


def props(**extra: Any) -> dict[str, Any]:
    return properties(PROJECT, JOB, **extra)


def test_parse_properties_defaults() -> None:
    parsed = cr.parse_properties(props())
    assert parsed == cr.JobProperties(PROJECT, JOB, True, 2700, None)
    assert parsed.physical_id == "pcb/pcb-v3-x86"


def test_parse_properties_reads_every_property() -> None:
    given = props(WaitForCompletion="false", WaitTimeoutSeconds="900", ExpectedComponentName="com.example.pcb-defects")
    parsed = cr.parse_properties({**given, "ServiceTimeout": "1200"})
    assert parsed == cr.JobProperties(PROJECT, JOB, False, 900, "com.example.pcb-defects", 1200)


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("ProjectName", "pcb line", contract.PROJECT_NAME_RULE),
        ("ProjectName", "a" * 256, contract.PROJECT_NAME_RULE),
        ("ProjectName", 123, contract.PROJECT_NAME_RULE),
        ("JobName", "pcb_v3", contract.JOB_NAME_RULE),
    ],
)
def test_each_name_is_checked_against_its_rule(key: str, value: object, rule: contract.NameRule) -> None:
    # What each rule accepts is contract's (tests/test_contract.py); here: that each property is held to its own.
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(**{key: value}))
    assert str(info.value) == rule.problem(value)


@pytest.mark.parametrize("name", ["com example", "", "x" * 129])
def test_the_expected_component_name_is_checked_under_its_property_name(name: str) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(ExpectedComponentName=name))
    problem = contract.COMPONENT_NAME_RULE.problem(name)
    assert problem is not None
    assert str(info.value) == "ExpectedComponentName" + problem.removeprefix("ComponentName")


@pytest.mark.parametrize("missing", ["ProjectName", "JobName"])
def test_missing_name_is_rejected(missing: str) -> None:
    given = props()
    del given[missing]
    with pytest.raises(cr.PropertyError, match=f"{missing} is required"):
        cr.parse_properties(given)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("True", True), ("FALSE", False), (True, True), (False, False)],
)
def test_wait_for_completion_values(value: object, expected: bool) -> None:
    assert cr.parse_properties(props(WaitForCompletion=value)).wait_for_completion is expected


@pytest.mark.parametrize("value", ["yes", "", "0", 1, None])
def test_wait_for_completion_rejects_other_values(value: object) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(WaitForCompletion=value))
    assert "WaitForCompletion" in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(("value", "expected"), [("60", 60), (60, 60), ("3300", 3300), (3300, 3300), ("900", 900)])
def test_wait_timeout_seconds_bounds_accepted(value: object, expected: int) -> None:
    assert cr.parse_properties(props(WaitTimeoutSeconds=value)).wait_timeout_s == expected


@pytest.mark.parametrize("value", [59, "59", 3301, "3301", 0, "0"])
def test_wait_timeout_seconds_out_of_bounds(value: object) -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(WaitTimeoutSeconds=value))
    message = str(info.value)
    assert "WaitTimeoutSeconds" in message
    assert str(int(value)) in message
    assert "60..3300" in message


@pytest.mark.parametrize("value", ["abc", "1.5", "-60", 60.0, True, None, ""])
def test_wait_timeout_seconds_must_be_whole_seconds(value: object) -> None:
    with pytest.raises(cr.PropertyError, match="WaitTimeoutSeconds must be a whole number of seconds"):
        cr.parse_properties(props(WaitTimeoutSeconds=value))


def test_unknown_property_is_rejected_by_name() -> None:
    with pytest.raises(cr.PropertyError) as info:
        cr.parse_properties(props(Colour="blue"))
    assert str(info.value) == (
        "unknown properties 'Colour'; supported: ProjectName, JobName, WaitForCompletion, WaitTimeoutSeconds, "
        "ExpectedComponentName, Packaging"
    )


def test_properties_must_be_an_object() -> None:
    with pytest.raises(cr.PropertyError, match="must be an object"):
        cr.parse_properties(["ProjectName"])
    with pytest.raises(cr.PropertyError):
        cr.parse_properties(None)


# --- decide --------------------------------------------------------------------------------------------------------


def result_of(outcome: pj.Outcome, desc: dict[str, Any] | None, **kwargs: Any) -> pj.WaitResult:
    return pj.WaitResult(outcome=outcome, description=desc, status=(desc or {}).get("Status", ""), **kwargs)


JOB_PROPS = cr.JobProperties(PROJECT, JOB)


def test_decide_succeeded() -> None:
    decision = cr.decide(JOB_PROPS, result_of("succeeded", description("SUCCEEDED")), 0.2)
    assert decision.status == cr.SUCCESS
    assert decision.reason == ""
    assert list(decision.data) == list(pj.DATA_KEYS)
    assert decision.data["ComponentVersionArn"].startswith("arn:aws:greengrass:")


def test_decide_failed_reason_is_exact() -> None:
    desc = description("FAILED", status_message="Greengrass component creation failed: bucket not found")
    decision = cr.decide(JOB_PROPS, result_of("failed", desc), 1.0)
    assert decision.status == cr.FAILED
    assert decision.reason == pj.failed_reason(PROJECT, JOB, "Greengrass component creation failed: bucket not found")
    assert decision.data["Status"] == "FAILED"


def test_decide_timeout_names_project_job_status_and_minutes() -> None:
    result = result_of("timeout", description("RUNNING"))
    decision = cr.decide(JOB_PROPS, result, 45 * 60)
    assert decision.status == cr.FAILED
    assert decision.reason == pj.timeout_reason(PROJECT, JOB, "RUNNING", 45 * 60)
    assert decision.data["Status"] == "RUNNING"


def test_decide_timeout_before_any_description() -> None:
    decision = cr.decide(JOB_PROPS, result_of("timeout", None, last_error="ThrottlingException (429): slow"), 90)
    assert decision.status == cr.FAILED
    assert decision.reason == pj.timeout_reason(PROJECT, JOB, "", 90, "ThrottlingException (429): slow")
    assert decision.data == cr.empty_data(JOB_PROPS)
    assert (decision.data["ProjectName"], decision.data["JobName"]) == (PROJECT, JOB)


def test_decide_error_uses_the_problem_message() -> None:
    problem = pj.ApiProblem(False, "AccessDeniedException", "the classified message")
    decision = cr.decide(JOB_PROPS, result_of("error", None, problem=problem), 0.1)
    assert decision.status == cr.FAILED
    assert decision.reason == "the classified message"
    assert list(decision.data) == list(pj.DATA_KEYS)


def test_decide_succeeded_without_greengrass_output_fails() -> None:
    decision = cr.decide(JOB_PROPS, result_of("succeeded", description("SUCCEEDED", with_output=False)), 0.1)
    assert decision.status == cr.FAILED
    assert decision.reason == pj.no_output_reason(PROJECT, JOB)
    assert decision.data["ComponentVersionArn"] == ""


def test_decide_succeeded_with_partial_output_fails() -> None:
    desc = description("SUCCEEDED")
    del desc["ModelPackagingOutputDetails"]["Greengrass"]["ComponentVersionArn"]
    assert cr.decide(JOB_PROPS, result_of("succeeded", desc), 0.1).status == cr.FAILED


def test_decide_expected_component_mismatch_fails() -> None:
    job_props = cr.JobProperties(PROJECT, JOB, expected_component_name="com.example.other")
    desc = description("SUCCEEDED", component_name="com.example.pcb-defects")
    decision = cr.decide(job_props, result_of("succeeded", desc), 0.1)
    assert decision.status == cr.FAILED
    assert decision.reason == pj.component_mismatch_reason(PROJECT, JOB, "com.example.other", "com.example.pcb-defects")


def test_decide_expected_component_match_succeeds() -> None:
    job_props = cr.JobProperties(PROJECT, JOB, expected_component_name="com.example.pcb-defects")
    decision = cr.decide(job_props, result_of("succeeded", description("SUCCEEDED")), 0.1)
    assert decision.status == cr.SUCCESS
    assert decision.data["ComponentName"] == "com.example.pcb-defects"


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("failed", "FAILED"), ("not_ready", "RUNNING"), ("not_ready", "CREATED"), ("succeeded", "SUCCEEDED")],
)
def test_decide_without_waiting_never_fails_on_the_job_status(outcome: pj.Outcome, status: str) -> None:
    job_props = cr.JobProperties(PROJECT, JOB, wait_for_completion=False)
    desc = description(status, status_message="boom" if status == "FAILED" else None)
    decision = cr.decide(job_props, result_of(outcome, desc), 0.1)
    assert decision.status == cr.SUCCESS
    assert decision.reason == ""
    assert decision.data["Status"] == status


def test_decide_without_waiting_still_fails_on_api_errors() -> None:
    job_props = cr.JobProperties(PROJECT, JOB, wait_for_completion=False)
    problem = pj.ApiProblem(False, "ValidationException", "rejected")
    assert cr.decide(job_props, result_of("error", None, problem=problem), 0.1).status == cr.FAILED


def test_decide_yield_is_never_success() -> None:
    assert cr.decide(JOB_PROPS, result_of("yield", description("RUNNING")), 1).status == cr.FAILED


# --- continuation --------------------------------------------------------------------------------------------------


def test_wait_state_starts_fresh_without_a_continuation() -> None:
    assert cr.wait_state(make_event(), 123.0, JOB_PROPS) == cr.WaitState(123.0, 1)


def test_continuation_event_carries_the_request_the_wait_and_its_pace() -> None:
    event = make_event()
    state = cr.WaitState(100.0, 1)
    forwarded = cr.continuation_event(event, state, 160.5)
    assert forwarded[cr.CONTINUATION_KEY] == {"StartedAt": 100.0, "Invocation": 2, "NextLookAt": 160.5}
    assert {k: v for k, v in forwarded.items() if k != cr.CONTINUATION_KEY} == event
    assert cr.CONTINUATION_KEY not in event
    # The next invocation reads the state back, and a further hand-off keeps the start and counts on.
    resumed = cr.wait_state(json.loads(json.dumps(forwarded)), 160.0, JOB_PROPS)
    assert resumed == cr.WaitState(100.0, 2, 160.5)
    again = cr.continuation_event(forwarded, resumed, None)
    assert again[cr.CONTINUATION_KEY] == {"StartedAt": 100.0, "Invocation": 3}


NOW = 10_000.0


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("x", "must be an object"),
        ({"StartedAt": "9990", "Invocation": 2}, "StartedAt must be a number"),
        ({"StartedAt": True, "Invocation": 2}, "StartedAt must be a number"),
        ({"StartedAt": 9990.0}, "Invocation must be a whole number"),
        ({"StartedAt": 9990.0, "Invocation": 2.0}, "Invocation must be a whole number"),
        ({"StartedAt": 9990.0, "Invocation": 1}, "Invocation must be a whole number"),
        ({"StartedAt": 9990.0, "Invocation": 101}, "Invocation must be a whole number"),
        ({"StartedAt": NOW + 3600, "Invocation": 2}, "-3600.0 s before this invocation"),
        ({"StartedAt": 1e300, "Invocation": 2}, "s before this invocation"),
        ({"StartedAt": 0, "Invocation": 2}, "10000.0 s before this invocation"),
        ({"StartedAt": NOW - 3601, "Invocation": 2}, "between 0 and 3600 s"),
        ({"StartedAt": 10**400, "Invocation": 2}, "is not a finite time"),
        ({"StartedAt": float("nan"), "Invocation": 2}, "is not a finite time"),
        ({"StartedAt": 9990.0, "Invocation": 2, "NextLookAt": "soon"}, "NextLookAt must be a number"),
        ({"StartedAt": 9990.0, "Invocation": 2, "NextLookAt": 9000.0}, "NextLookAt 9000.0 lies outside the wait"),
    ],
)
def test_a_malformed_or_impossible_wait_state_is_refused(raw: object, says: str) -> None:
    event = make_event()
    event[cr.CONTINUATION_KEY] = raw
    with pytest.raises(cr.StateError, match=re.escape(says)):
        cr.wait_state(event, NOW, JOB_PROPS)


def test_the_window_for_a_continuation_is_the_service_timeout_of_the_request() -> None:
    event = make_event()
    event[cr.CONTINUATION_KEY] = {"StartedAt": NOW - 400, "Invocation": 2}
    short = cr.JobProperties(PROJECT, JOB, service_timeout_s=300)
    with pytest.raises(cr.StateError, match="between 0 and 300 s"):
        cr.wait_state(event, NOW, short)
    assert cr.wait_state(event, NOW, JOB_PROPS) == cr.WaitState(NOW - 400, 2)
    # A start a moment ahead of this host's clock is clock skew, not a forged state.
    event[cr.CONTINUATION_KEY] = {"StartedAt": NOW + 2, "Invocation": 2}
    assert cr.wait_state(event, NOW, JOB_PROPS).started_at == NOW + 2


def test_the_wait_ends_before_cloudformation_s_service_timeout() -> None:
    state = cr.WaitState(1000.0, 1)
    # As the construct synthesizes a no-wait resource: ServiceTimeout 300 s, WaitTimeoutSeconds 45 minutes.
    no_wait = cr.JobProperties(PROJECT, JOB, wait_for_completion=False, service_timeout_s=300)
    deadline, yield_at = cr.wait_window(no_wait, state, 1000.0, 900.0)
    assert deadline == 1000.0 + 300 - cr.SERVICE_TIMEOUT_MARGIN_S
    assert yield_at == 1000.0 + 900.0 - cr.HANDOFF_MARGIN_S
    # As the construct synthesizes a waiting one: ServiceTimeout = wait_timeout + 5 minutes: wait_timeout decides.
    waiting = cr.JobProperties(PROJECT, JOB, wait_timeout_s=1800, service_timeout_s=2100)
    assert cr.wait_window(waiting, state, 1000.0, 900.0)[0] == 1000.0 + 1800
    # Without a ServiceTimeout, CloudFormation waits 3600 s.
    longest = cr.JobProperties(PROJECT, JOB, wait_timeout_s=cr.MAX_WAIT_TIMEOUT_S)
    assert cr.wait_window(longest, state, 1000.0, 900.0)[0] == 1000.0 + cr.MAX_WAIT_TIMEOUT_S


def test_the_service_timeout_comes_from_cloudformation_s_property() -> None:
    assert cr.parse_properties(properties(ServiceTimeout="300")).answer_within_s == 300
    assert cr.parse_properties(properties()).answer_within_s == cr.MAX_SERVICE_TIMEOUT_S


@pytest.mark.parametrize("value", ["0", "3601", "soon", True])
def test_a_service_timeout_cloudformation_would_not_send_counts_as_none(value: object) -> None:
    assert cr.parse_properties(properties(ServiceTimeout=value)).answer_within_s == cr.MAX_SERVICE_TIMEOUT_S


def test_decide_names_the_service_timeout_when_a_no_wait_look_never_succeeded() -> None:
    no_wait = cr.JobProperties(PROJECT, JOB, wait_for_completion=False, service_timeout_s=300)
    result = result_of("timeout", None, last_error="ServiceUnavailableException (503): Unavailable")
    decision = cr.decide(no_wait, result, 240.0)
    assert decision.status == cr.FAILED
    assert decision.reason == (
        "Could not describe model packaging job pcb/pcb-v3-x86 in 4.0 minutes, before CloudFormation's "
        "ServiceTimeout of 300 s; last error ServiceUnavailableException (503): Unavailable. Rerun the deployment "
        "when Lookout for Vision answers again"
    )


def test_an_invocation_too_short_to_wait_in_says_what_it_had_what_it_needs_and_what_to_restore() -> None:
    assert cr.needed_invocation_s(pj.POLL_INTERVAL_S[1]) == 69.0  # the hand-off margin and two looks at 4.5 s
    assert cr.too_short_reason(JOB_PROPS, 30.0, 68.5) == (
        "Cannot wait for model packaging job pcb/pcb-v3-x86: this invocation of the handler function had 30.0 s, and "
        "a wait needs at least 69 s per invocation (60 s to hand the wait on, and room for 2 looks). Restore the "
        "function's timeout (15 minutes as the construct sets it)"
    )


def test_a_bug_of_ours_is_answered_with_its_type_and_where_the_traceback_is_never_its_text() -> None:
    error = RuntimeError("https://example.com/?X-Amz-Signature=00 could be anything")
    assert cr.internal_error_reason(error, "2026/11/29/[$LATEST]abc") == (
        "Internal error in the ModelPackagingJob handler (RuntimeError); see log stream 2026/11/29/[$LATEST]abc"
    )


def test_an_answer_without_a_physical_id_of_its_own_keeps_cloudformation_s_or_a_stable_stand_in() -> None:
    event = make_event(physical_id="ModelPackagingJob21DA863A-3f2a1b9c")
    assert cr.fallback_physical_id(event) == "ModelPackagingJob21DA863A-3f2a1b9c"
    create = make_event()
    assert cr.fallback_physical_id(create) == f"ModelPackagingJob21DA863A-{create['RequestId'][:8]}"
    assert cr.fallback_physical_id({"RequestId": "12345678-abcd"}) == "resource-12345678"


# --- the polling budget --------------------------------------------------------------------------------------------


def test_poll_budget_from_the_environment() -> None:
    assert cr.poll_budget({}) == (None, "")
    assert cr.poll_budget({"DESCRIBE_BUDGET_RPS": "2.5", "DESCRIBE_BUDGET_JOBS": "7"}) == (pj.PollBudget(2.5, 7), "")
    assert cr.poll_budget({"DESCRIBE_BUDGET_JOBS": "12"}) == (pj.PollBudget(4.0, 12), "")


@pytest.mark.parametrize("value", ["", "abc", "0", "-1", "inf", "nan", "1e9"])
def test_an_unusable_budget_rate_falls_back_to_the_default_and_says_so(value: str) -> None:
    budget, problem = cr.poll_budget({"DESCRIBE_BUDGET_RPS": value, "DESCRIBE_BUDGET_JOBS": "3"})
    assert budget == pj.PollBudget(pj.DEFAULT_DESCRIBE_BUDGET_RPS, 3)
    assert problem.startswith(f"DESCRIBE_BUDGET_RPS={value!r} is not a positive number; using 4")


@pytest.mark.parametrize("value", ["", "0", "x", "1.5", "-3", "99999999", "\u0663"])
def test_an_unusable_job_count_falls_back_to_one_job_and_says_so(value: str) -> None:
    budget, problem = cr.poll_budget({"DESCRIBE_BUDGET_RPS": "2", "DESCRIBE_BUDGET_JOBS": value})
    assert budget == pj.PollBudget(2.0, 1)
    assert f"DESCRIBE_BUDGET_JOBS={value!r} is not a job count" in problem


# --- encode_response -----------------------------------------------------------------------------------------------

HEAVY_TEXTS = {
    "ascii": "x" * 50_000,
    "cjk": "名" * 6_000,
    "emoji": "\U0001f600" * 3_000,
    "mixed-emoji": "a\U0001f600" * 3_000,
    "controls": "\x00\x01\x1f" * 3_000,
    "escapes": '"\\\n\t' * 5_000,
    "unpaired-surrogates": "\ud800" * 3_000,
}


def failed_body(message: str, **overrides: Any) -> dict[str, Any]:
    data = pj.to_attributes(description("FAILED", status_message=message))
    body = cr.build_response(make_event(), cr.FAILED, pj.failed_reason(PROJECT, JOB, message), "pcb/pcb-v3-x86", data)
    body.update(overrides)
    return body


def test_small_body_is_encoded_unchanged() -> None:
    body = failed_body("bucket not found")
    assert cr.encode_response(body) == json.dumps(body, separators=(",", ":")).encode()


@pytest.mark.parametrize("name", sorted(HEAVY_TEXTS))
def test_heavy_status_message_and_reason_fit_and_keep_the_reason_start(name: str) -> None:
    text = HEAVY_TEXTS[name]
    encoded = cr.encode_response(failed_body(text))
    assert len(encoded) <= cr.MAX_RESPONSE_BYTES
    parsed = json.loads(encoded)
    assert parsed["Status"] == cr.FAILED
    assert parsed["Reason"].startswith("Model packaging job pcb/pcb-v3-x86 FAILED:")
    assert parsed["PhysicalResourceId"] == "pcb/pcb-v3-x86"
    assert set(parsed["Data"]) == set(pj.DATA_KEYS)


def test_the_reason_carries_no_control_characters() -> None:
    message = "model\x00 failed\x1b[31m at\x07 step\r\n2\x7f\x85!"
    body = cr.build_response(make_event(), cr.FAILED, pj.failed_reason(PROJECT, JOB, message), "pcb/pcb-v3-x86", {})
    assert body["Reason"] == "Model packaging job pcb/pcb-v3-x86 FAILED: model failed [31m at step 2 !"
    # Printable text outside ASCII stays as the job wrote it.
    unicode = cr.build_response(make_event(), cr.FAILED, "Modell für Prüfstand ✓", "x", {})
    assert unicode["Reason"] == "Modell für Prüfstand ✓"


@pytest.mark.parametrize("name", sorted(HEAVY_TEXTS))
def test_shortening_does_not_discard_much_more_than_needed(name: str) -> None:
    encoded = cr.encode_response(failed_body(HEAVY_TEXTS[name]))
    # Inputs many times the limit must still use most of it: the cut is a trim, not a wipe.
    assert len(encoded) >= 0.75 * cr.MAX_RESPONSE_BYTES, (name, len(encoded), json.loads(encoded)["Reason"][:80])


def test_huge_status_message_on_success_keeps_success_and_every_key() -> None:
    data = pj.to_attributes(description("SUCCEEDED", status_message="y" * 100_000))
    body = cr.build_response(make_event(), cr.SUCCESS, "", "pcb/pcb-v3-x86", data)
    encoded = cr.encode_response(body)
    assert len(encoded) <= cr.MAX_RESPONSE_BYTES
    parsed = json.loads(encoded)
    assert parsed["Status"] == cr.SUCCESS
    assert list(parsed["Data"]) == list(pj.DATA_KEYS)
    assert parsed["Data"]["ComponentVersionArn"] == data["ComponentVersionArn"]
    assert parsed["Data"]["StatusMessage"].startswith("yyyy")
    assert parsed["Data"]["StatusMessage"].endswith("(truncated)")


def test_huge_reason_alone_is_cut_keeping_its_start() -> None:
    reason = "Timed out waiting for pcb/pcb-v3-x86 " + "z" * 20_000
    body = failed_body("short", Reason=reason)
    parsed = json.loads(cr.encode_response(body))
    assert parsed["Reason"].startswith("Timed out waiting for pcb/pcb-v3-x86 zzz")
    assert len(parsed["Reason"]) <= cr.MAX_REASON_CHARS
    assert parsed["Data"]["StatusMessage"] == "short"


def test_seeded_random_inputs_always_fit_as_valid_json() -> None:
    rng = random.Random(20261129)
    alphabet = ["a", "Z", "0", " ", '"', "\\", "\n", "\x00", "\x7f", "é", "名", "\u2028", "\U0001f600", "\ud83d"]
    for _ in range(150):
        message = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6000)))
        reason = pj.failed_reason(PROJECT, JOB, message) if rng.random() < 0.8 else ""
        body = failed_body(message, Reason=reason)
        encoded = cr.encode_response(body)
        assert len(encoded) <= cr.MAX_RESPONSE_BYTES
        parsed = json.loads(encoded)
        assert set(parsed) == EXPECTED_BODY_KEYS
        if reason:
            assert parsed["Reason"].startswith("Model packaging job pcb/pcb-v3-x86 FAILED: ")


def test_absurd_identifiers_still_fit_as_a_failed_answer() -> None:
    body = failed_body("m", LogicalResourceId="L" * 10_000, PhysicalResourceId="P" * 10_000)
    encoded = cr.encode_response(body)
    assert len(encoded) <= cr.MAX_RESPONSE_BYTES
    parsed = json.loads(encoded)
    assert parsed["Status"] == cr.FAILED
    assert parsed["Reason"]


# --- send_response -------------------------------------------------------------------------------------------------


def test_send_response_puts_the_body_once_as_a_presigned_url_needs_it() -> None:
    body = cr.encode_response(failed_body("x"))
    with ResponseRecorder() as recorder:
        assert cr.send_response(recorder.url, body, deadline=time.monotonic() + 10) is True
        assert recorder.raw == [body]
        assert recorder.attempts == 1
        headers = {k.lower(): v for k, v in recorder.headers[0].items()}
    # S3 signed the URL without a Content-Type, and checks the path and query byte for byte.
    assert headers.get("content-type", "") == ""
    assert int(headers["content-length"]) == len(body)
    url = urlsplit(recorder.url)
    assert recorder.paths[0] == f"{url.path}?{url.query}"


def test_send_response_retries_server_errors() -> None:
    pauses: list[float] = []
    with ResponseRecorder(fail_first=2) as recorder:
        ok = cr.send_response(recorder.url, b"{}", deadline=time.monotonic() + 30, sleep=pauses.append)
        assert ok is True
        assert recorder.attempts == 3
        assert recorder.raw == [b"{}"]
    assert len(pauses) == 2
    assert pauses[0] < pauses[1]


def test_send_response_backs_off_and_gives_up_at_the_deadline() -> None:
    vclock = VirtualClock()
    with ResponseRecorder(always_fail=True) as recorder:
        sent = cr.send_response(recorder.url, b"{}", deadline=vclock.now() + 10, now=vclock.now, sleep=vclock.sleep)
        assert sent is False
        assert recorder.bodies == []
    # Doubling pauses from half a second, the last one cut to the deadline: the attempt after it would be too late.
    assert vclock.sleeps == [0.5, 1.0, 2.0, 4.0, 2.5]
    assert recorder.attempts == len(vclock.sleeps)


@pytest.mark.parametrize("bad", [" a space", "\x00nul", "\x7fdel"])
def test_send_response_gives_up_at_once_on_a_url_http_client_refuses(bad: str) -> None:
    pauses: list[float] = []
    with ResponseRecorder() as recorder:
        url = recorder.url.replace("/cloudformation-custom-resource", f"/{bad}/cloudformation-custom-resource")
        assert cr.send_response(url, b"{}", deadline=time.monotonic() + 45, sleep=pauses.append) is False
        assert recorder.attempts == 0
    assert pauses == [], "a URL that http.client refuses will not work on a retry"


def test_send_response_gives_up_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    vclock = VirtualClock()
    url = f"http://127.0.0.1:{port}/r?X-Amz-Signature=ab"
    assert cr.send_response(url, b"{}", deadline=vclock.now() + 1, now=vclock.now, sleep=vclock.sleep) is False
    assert vclock.sleeps == [0.5, 0.5]


def test_send_response_does_not_retry_a_client_error() -> None:
    hits: list[str] = []

    class Refuse(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hits.append(self.path)
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    pauses: list[float] = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/expired?X-Amz-Signature=00"
        assert cr.send_response(url, b"{}", deadline=time.monotonic() + 30, sleep=pauses.append) is False
        assert len(hits) == 1
        assert pauses == [], "an expired or forged URL will not work on a retry"
    finally:
        server.shutdown()
        server.server_close()


def test_send_response_with_an_expired_deadline_makes_no_attempt() -> None:
    with ResponseRecorder() as recorder:
        assert cr.send_response(recorder.url, b"{}", deadline=time.monotonic() - 1) is False
        assert recorder.attempts == 0


@pytest.mark.parametrize("url", [None, 42, "", "not a url", "ftp://example.com/x", "file:///etc/passwd", "http://"])
def test_send_response_rejects_unusable_urls_without_raising(url: object) -> None:
    assert cr.send_response(url, b"{}", deadline=time.monotonic() + 1) is False


# --- redaction -----------------------------------------------------------------------------------------------------

PRESIGNED = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation%3A"
    "us-east-1%3A123456789012%3Astack/S/x%7CJob%7Cid?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T160000Z"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20261129%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)
LEGACY = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?AWSAccessKeyId=AKIA&Expires=1&Signature=abc%3D"


@pytest.mark.parametrize(
    "text",
    [
        f"PUT to {PRESIGNED} failed",
        f"url={PRESIGNED}",
        json.dumps({"ResponseURL": PRESIGNED, "RequestType": "Create"}),
        str({"ResponseURL": PRESIGNED, "RequestType": "Create"}),
        f"sending to {LEGACY}",
    ],
)
def test_redact_removes_presigned_urls(text: str) -> None:
    clean = cr.redact(text)
    assert "X-Amz-Signature" not in clean
    assert "Signature=" not in clean
    assert "0123456789abcdef0123456789abcdef" not in clean
    assert "amazonaws.com/" not in clean


def test_redact_removes_a_response_url_value_even_without_a_signature() -> None:
    clean = cr.redact(json.dumps({"ResponseURL": "http://127.0.0.1:8080/secret-path", "RequestId": "r-1"}))
    assert "secret-path" not in clean
    assert "r-1" in clean
    assert "ResponseURL" in clean


@pytest.mark.parametrize("form", ["raw", "repr", "json", "dict"])
def test_redact_finds_the_signature_whatever_quotes_surround_the_url(form: str) -> None:
    url = 'https://cfn.s3.amazonaws.com/arn%3Astack/it\'s-a-"quoted"-stack?' + PRESIGNED.split("?", 1)[1]
    text = {
        "raw": f"PUT {url}",
        "repr": repr(url),
        "json": json.dumps({"ResponseURL": url}),
        "dict": str({"RequestType": "Create", "ResponseURL": url}),
    }[form]
    for clean in (cr.redact(text), cr.redact(text, cr.secret_forms(url))):
        assert "0123456789abcdef0123456789abcdef" not in clean, clean
        assert "AKIAEXAMPLE" not in clean, clean
        assert "X-Amz-Signature" not in clean and "X-Amz-Credential" not in clean, clean
    # Told the request's URL, it leaves none of it, path included.
    assert "quoted" not in cr.redact(text, cr.secret_forms(url))


def test_redact_removes_a_security_token_parameter() -> None:
    text = "PUT https://h/p?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Ftoken&X-Amz-Date=1"
    assert "IQoJb3JpZ2luX2VjEXAMPLE" not in cr.redact(text)


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "Model packaging job pcb/pcb-v3-x86 FAILED: see https://docs.aws.amazon.com/lookout-for-vision/"
    assert cr.redact(text) == text


def test_redacting_filter_scrubs_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(cr.RedactingFilter())
    log = logging.getLogger("test_custom_resource.redaction")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        log.info("answering %s now", PRESIGNED)
        log.info("event %s", {"ResponseURL": PRESIGNED})
        try:
            raise RuntimeError(f"could not reach {PRESIGNED}")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    output = stream.getvalue()
    assert "answering" in output
    assert "RuntimeError" in output
    assert "X-Amz-Signature" not in output
    assert "0123456789abcdef0123456789abcdef" not in output


def test_install_redaction_attaches_one_filter_per_handler() -> None:
    root = logging.Logger("isolated-root")
    first, second = logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO())
    root.addHandler(first)
    root.addHandler(second)
    cr.install_redaction(root)
    cr.install_redaction(root)
    for handler in (first, second):
        assert sum(isinstance(f, cr.RedactingFilter) for f in handler.filters) == 1
