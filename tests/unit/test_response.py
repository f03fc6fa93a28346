"""response: the answer's body, its Reason on one printable line, and the cut that makes it fit 4096 bytes."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from support import EXPECTED_BODY_KEYS, description, make_event

from cdk_lookoutvision_packaging_handler import response as rs
from cdk_lookoutvision_packaging_handler.contract import DATA_KEYS
from cdk_lookoutvision_packaging_handler.job import to_attributes

ID = "pcb/pcb-v3-x86"
FAILED = f"Model packaging job {ID} FAILED:"
HEAVY = ["x" * 50_000, "名" * 6_000, "\U0001f600" * 3_000, "a\U0001f600" * 3_000, "\x00\x01\x1f" * 3_000]
HEAVY += ['"\\\n\t' * 5_000, "\ud800" * 3_000]


def body(message: str, status: str = rs.FAILED, **overrides: Any) -> dict[str, Any]:
    data = to_attributes(description(status, status_message=message))
    reason = f"{FAILED} {message}" if status == rs.FAILED else ""
    return {**rs.build_response(make_event(), status, reason, ID, data), **overrides}


def test_the_body_names_the_request_and_its_reason_on_one_printable_line_and_a_small_one_is_kept() -> None:
    event = make_event(physical_id="old")
    built = rs.build_response(event, rs.SUCCESS, "model\x00 failed\x1b[31m at\x07 step\r\n2\x7f\x85!", ID, {"A": "b"})
    ids = {key: event[key] for key in ("StackId", "RequestId", "LogicalResourceId")}
    head = {"Status": "SUCCESS", "Reason": "model failed [31m at step 2 !", "PhysicalResourceId": ID}
    assert built == {**head, **ids, "NoEcho": False, "Data": {"A": "b"}}
    assert rs.encode_response(built) == json.dumps(built, separators=(",", ":")).encode()
    # Printable text outside ASCII stays as written; a missing id is "", any other value its text.
    odd = rs.build_response({"RequestId": 7}, rs.FAILED, "Modell für Prüfstand ✓", "x", {})
    assert (odd["Reason"], odd["RequestId"], odd["StackId"]) == ("Modell für Prüfstand ✓", "7", "")
    # An answer without a physical id of its own keeps CloudFormation's, or a stable stand-in.
    assert rs.fallback_physical_id(make_event(physical_id="Job-3f2a1b9c")) == "Job-3f2a1b9c"
    create = make_event()
    assert rs.fallback_physical_id(create) == f"ModelPackagingJob21DA863A-{create['RequestId'][:8]}"
    assert rs.fallback_physical_id({"RequestId": "12345678-abcd", "PhysicalResourceId": ""}) == "resource-12345678"
    assert rs.fallback_physical_id({"RequestId": "12345678-abcd", "LogicalResourceId": 7}) == "resource-12345678"


@pytest.mark.parametrize("text", HEAVY)
def test_a_heavy_status_message_and_reason_fit_keeping_the_reason_s_start_and_most_of_the_room(text: str) -> None:
    encoded = rs.encode_response(body(text))
    # Inputs many times the limit still use most of it: the cut is a trim, not a wipe.
    assert 0.75 * rs.MAX_RESPONSE_BYTES <= len(encoded) <= rs.MAX_RESPONSE_BYTES
    parsed = json.loads(encoded)
    assert (parsed["Status"], parsed["PhysicalResourceId"], tuple(parsed["Data"])) == (rs.FAILED, ID, DATA_KEYS)
    assert parsed["Reason"].startswith(FAILED)


def test_a_huge_status_message_is_cut_first_a_huge_reason_to_its_limit_and_absurd_ids_fail_but_fit() -> None:
    success = body("y" * 100_000, status=rs.SUCCESS)
    parsed = json.loads(rs.encode_response(success))
    assert parsed["Status"] == rs.SUCCESS
    assert {**parsed["Data"], "StatusMessage": ""} == {**success["Data"], "StatusMessage": ""}
    assert parsed["Data"]["StatusMessage"].startswith("yyyy")
    assert parsed["Data"]["StatusMessage"].endswith("y ...(truncated)")
    reason = "Timed out waiting for pcb/pcb-v3-x86 " + "z" * 20_000
    parsed = json.loads(rs.encode_response(body("short", Reason=reason)))
    assert (parsed["Reason"], parsed["Data"]["StatusMessage"]) == (reason[:985] + " ...(truncated)", "short")
    huge = body("m", status=rs.SUCCESS, LogicalResourceId="L" * 10_000, PhysicalResourceId="P" * 10_000)
    encoded = rs.encode_response(huge)
    reason = "The response did not fit in 4096 bytes; see the function's log"
    cut = {"PhysicalResourceId": "P" * 256, "LogicalResourceId": "L" * 256}
    assert json.loads(encoded) == {**huge, "Status": rs.FAILED, "Reason": reason, "Data": {}, **cut}
    assert len(encoded) <= rs.MAX_RESPONSE_BYTES


def test_seeded_random_inputs_always_fit_as_valid_json() -> None:
    rng = random.Random(20261129)
    alphabet = ["a", "Z", "0", " ", '"', "\\", "\n", "\x00", "\x7f", "é", "名", "\u2028", "\U0001f600", "\ud83d"]
    for _ in range(150):
        message = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6000)))
        reason = f"{FAILED} {message}" if rng.random() < 0.8 else ""
        encoded = rs.encode_response(body(message, Reason=reason))
        parsed = json.loads(encoded)
        assert len(encoded) <= rs.MAX_RESPONSE_BYTES and set(parsed) == EXPECTED_BODY_KEYS
        assert parsed["Reason"].startswith(FAILED if reason else "")


def test_an_answer_of_exactly_the_limit_is_sent_whole_and_one_byte_more_is_cut_to_exactly_the_limit() -> None:
    room = rs.MAX_RESPONSE_BYTES - len(rs.encode_response(body("", status=rs.SUCCESS)))
    exact = body("s" * room, status=rs.SUCCESS)
    assert rs.encode_response(exact) == rs._encode(exact) and len(rs._encode(exact)) == rs.MAX_RESPONSE_BYTES
    assert len(rs.encode_response(body("s" * (room + 1), status=rs.SUCCESS))) == rs.MAX_RESPONSE_BYTES
    reason = "r" * rs.MAX_REASON_CHARS
    assert json.loads(rs.encode_response(body("m", Reason=reason)))["Reason"] == reason
    # Identifiers too long to answer with are cut only if even the FAILED answer without Data is over the limit.
    no_fit = "The response did not fit in 4096 bytes; see the function's log"
    failed = {**body("m", LogicalResourceId="L" * 3000), "Status": rs.FAILED, "Data": {}, "Reason": no_fit}
    longest = "L" * (3000 + rs.MAX_RESPONSE_BYTES - len(rs._encode(failed)))
    assert json.loads(rs.encode_response(body("m", LogicalResourceId=longest)))["LogicalResourceId"] == longest
