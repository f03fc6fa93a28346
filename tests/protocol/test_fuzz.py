"""Bad input: hypothesis builds CloudFormation events that are odd in their envelope (not an object; missing, mistyped,
huge, unicode or encoded identifiers; unknown RequestTypes; extra keys, crhelper's and a wait state among them;
ResponseURLs that cannot be answered) or in their properties (names and options that keep or break their rules, unknown
keys), for a job that ends in any status or error, and one handler per log level serves every example as a warm
container does. For every event the handler never raises; it answers at most once, and exactly once (or hands the wait
on) when the ResponseURL is usable; an answer is JSON of at most 4096 bytes with the eight keys and the event's
identifiers, a FAILED one has a one-line Reason; only valid names reach the API, as given; every log record can be
formatted and none shows the ResponseURL. Which properties are valid is tests/unit's (test_properties): here the
handler's own parser judges each event, and the oracle checks what the whole handler does with its verdict.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import Mock
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import Gate, refused
from support import (
    EXPECTED_BODY_KEYS,
    FUNCTION_ARN,
    STACK_ID,
    FakeLookoutVision,
    description,
    error,
    ok,
)

from cdk_lookoutvision_packaging_handler import contract
from cdk_lookoutvision_packaging_handler.properties import PropertyError, parse_properties

PROJECT, JOB = "pcb", "pcb-v3-x86"
ID_KEYS = ("StackId", "RequestId", "LogicalResourceId")
# An invocation this long hands a wait on 10 s in, on the virtual clock: a RUNNING job is handed on at once.
HANDS_ON_S = 70.0
# Echoed identifiers up to this many JSON bytes leave room for a whole answer in 4096 bytes; beyond it the handler
# may shorten them, or give up the Status, to fit.
MODEST_ID_BYTES = 512
# `make mutation` asks for fewer (FUZZ_EXAMPLES): every mutant that survives would run all of them.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "250")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

# The strategies are each built once, at import: hypothesis labels some by identity, and a strategy built anew for
# each example would make the examples differ from one run to the next.

PIECES = [
    *r"../ .. / \ ..%2F %2e%2e %2E%2E%2F %2F %252e%252e%252f %5C %00 % %% %s %(message)s %u002e ..;/ ?x=1".split(),
    *"\u202e \u200f \u200b \ufeff \x00 \n \r\n \t \u2028 שלום مرحبا \U0001f600 \ud800 \udfff İ ß".split(" "),
    *'\uff11\uff12 ٣ 漢 \x1b[31m {0} <b> "\\'.split(),
]
scalars = st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    scalars | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
)
# Up to ~100 kB, built from a short unit so that hypothesis draws little data.
huge = st.builds(
    lambda unit, size: (unit * (size // len(unit) + 1))[:size],
    st.sampled_from(["a", "é", "\U0001f600", *PIECES[:6]]) | st.text(min_size=1, max_size=4),
    st.sampled_from([256, 1_000, 4_097, 65_536]) | st.integers(100, 100_000),
)
# What a JSON event can hold where a string belongs: path tricks, encodings, unicode, huge text, any other JSON.
junk = st.one_of(
    st.lists(st.sampled_from(["", "pcb", "x86", "-v3", *PIECES]), min_size=1, max_size=4).map("".join),
    st.text(max_size=16).map(lambda text: quote(text, safe="")),
    st.text(min_size=1, max_size=30),
    huge,
    json_values,
)
projects = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,40}", fullmatch=True) | st.just("P" * 255)
job_names = st.from_regex(r"[a-zA-Z0-9-]{1,64}", fullmatch=True)
components = st.from_regex(r"[a-zA-Z0-9._-]{1,128}", fullmatch=True)
seconds = st.integers(60, 3300)
# Each option left out or given a value that keeps its rules (ServiceTimeout is CloudFormation's: any value passes),
# and what may replace a property: values near the rules' edges, or anything.
OPTIONS = {
    "WaitForCompletion": st.just(MISSING) | st.sampled_from([True, False, "true", "false", "True", "FALSE"]),
    "WaitTimeoutSeconds": st.just(MISSING) | seconds | seconds.map(str),
    "ServiceTimeout": st.sampled_from([MISSING, "3000", 3000, "x", None]),
}
EDGES = ["yes", 1, 0, " true", "", "59", "3301", "1e3", "60s", "120.0", "\uff11\uff12\uff10", 120.0, 59, 3301, "-"]
spoilers = st.sampled_from([MISSING, *EDGES]) | junk
not_properties = scalars | st.lists(scalars, max_size=3) | huge
SPOILED = ["ProjectName", "JobName", "ExpectedComponentName", "WaitForCompletion", "WaitTimeoutSeconds", "Packaging"]
RESERVED = {*ID_KEYS, "RequestType", "ServiceToken", "ResourceType", "ResourceProperties", "PhysicalResourceId"}
RESERVED |= {"ResponseURL", "LookoutVisionWait"}
crhelper_keys = st.dictionaries(
    st.sampled_from(["CrHelperPoll", "CrHelperData", "CrHelperRule", "CrHelperPermission"]), json_values, min_size=1
)
extra_keys = st.dictionaries(
    st.sampled_from(["OldResourceProperties", "Extra"]) | st.text(max_size=12).filter(lambda key: key not in RESERVED),
    json_values,
    min_size=1,
    max_size=3,
)
unknown_properties = st.dictionaries(
    st.sampled_from(["projectName", "ResponseURL", "__proto__", "JobName "]) | st.text(max_size=20),
    json_values,
    min_size=1,
    max_size=3,
).filter(lambda props: not set(props) & {*contract.PROPERTIES, *contract.CFN_PROPERTIES})
request_types = st.sampled_from(["Create", "Update", "Delete"])
bad_request_types = st.sampled_from([MISSING, "create", "Replace", "", " Create", "Delete\x00", "\u202eCreate"]) | junk
modest_old_ids = st.sampled_from([f"{PROJECT}/{JOB}", "pcb/old", MISSING]) | st.text(max_size=40)
old_ids = modest_old_ids | junk
bad_ids = st.sampled_from([MISSING, ""]) | junk
garbage_urls = st.text(max_size=40).filter(lambda text: "://" not in text)
bad_urls = st.sampled_from("HTTP-scheme missing null number list empty text ftp hostless port ipv6".split())
ENVELOPE_FAULTS = "none object request-type ids url crhelper-keys wait-state extra-keys mixed".split()
# Half the properties keep their rules; the rest have a problem, which may turn out to be none.
faults = st.sampled_from([*["none"] * 5, "spoiled", "spoiled", "unknown", "absent", "not an object"])
outcomes = st.sampled_from(
    "succeeded failed no-output running created unknown-status no-project no-job access-denied validation".split()
)
old_properties = st.just(MISSING) | json_values
WAITING = ("running", "created")
status_messages = st.none() | st.text(max_size=200) | huge | st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


@dataclass
class Case:
    """One event; ``url`` says what ResponseURL it gets once the bench knows the recorder."""

    event: Any
    url: str = "usable"
    bad: set[str] = field(default_factory=set)  # what is wrong with its envelope, as words its Reason may use
    outcome: str = ""  # what the loopback API plays for the job, and its values
    job: dict[str, Any] = field(default_factory=dict)
    verdict: Any = None  # the properties as the handler's parser reads them, or its PropertyError
    lambda_fails: bool = True
    log_level: str = "INFO"


def present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not MISSING}


def envelope(draw: st.DrawFn, request_type: Any, props: Any, physical_ids: Any = old_ids) -> dict[str, Any]:
    """An event around ``props``; an Update or Delete gets an old physical id from ``physical_ids``."""
    event = {"RequestType": request_type, "ServiceToken": FUNCTION_ARN, "StackId": STACK_ID}
    event |= {"RequestId": str(draw(st.uuids())), "LogicalResourceId": draw(st.sampled_from(["Job21DA863A", "J"]))}
    event |= {"ResourceType": contract.RESOURCE_TYPE, "ResourceProperties": props}
    if request_type in ("Update", "Delete"):
        event["PhysicalResourceId"] = draw(physical_ids)
    return event


@st.composite
def envelope_cases(draw: st.DrawFn) -> Case:
    """Properties that are fine, in an envelope with one fault, or several."""
    fault, level = draw(st.sampled_from(ENVELOPE_FAULTS)), draw(st.sampled_from(["INFO", "DEBUG"]))
    if fault == "object":
        return Case(draw(scalars | st.lists(json_values, max_size=3)), "missing", log_level=level)
    mixed = fault == "mixed"
    request_type = draw(
        bad_request_types if fault == "request-type" or (mixed and draw(st.booleans())) else request_types
    )
    event = envelope(draw, request_type, {"ServiceToken": FUNCTION_ARN, "ProjectName": PROJECT, "JobName": JOB})
    for key in sorted(draw(st.sets(st.sampled_from(ID_KEYS), min_size=1))) if fault in ("ids", "mixed") else ():
        event[key] = draw(bad_ids)
    event |= draw(crhelper_keys) if fault == "crhelper-keys" else {}
    event |= {"LookoutVisionWait": draw(json_values)} if fault == "wait-state" else {}
    event |= draw(extra_keys) if fault in ("extra-keys", "mixed") else {}
    url = draw(bad_urls) if fault in ("url", "mixed") else "usable"
    if url == "text":
        event["ResponseURL"] = draw(garbage_urls)
    bad = {key for key in ID_KEYS if not (isinstance(event.get(key), str) and event[key])}
    bad |= {"RequestType"} if request_type not in ("Create", "Update", "Delete") else set()
    return Case(present(event), url, bad, log_level=level)


@st.composite
def property_cases(draw: st.DrawFn) -> Case:
    """A well-formed envelope around properties that keep or break their rules, and what the job does."""
    job = {"project": draw(projects), "job": draw(job_names), "component": draw(components)}
    props = {"ServiceToken": FUNCTION_ARN, "ProjectName": job["project"], "JobName": job["job"]}
    props |= {key: draw(strategy) for key, strategy in OPTIONS.items()}
    props["ExpectedComponentName"] = draw(st.sampled_from([MISSING, job["component"]]) | components)
    fault = draw(faults)
    for key in draw(st.sets(st.sampled_from(SPOILED), min_size=1, max_size=2)) if fault == "spoiled" else ():
        props[key] = draw(spoilers)
    props |= draw(unknown_properties) if fault == "unknown" else {}
    props = MISSING if fault == "absent" else draw(not_properties) if fault == "not an object" else present(props)
    event = envelope(draw, draw(request_types), props, modest_old_ids)
    if event["RequestType"] == "Update":
        event["OldResourceProperties"] = draw(old_properties)
    try:  # the handler's parser judges the properties as the Lambda runtime decodes them
        verdict: Any = parse_properties(json.loads(json.dumps(present(event).get("ResourceProperties"))))
        job |= {"project": verdict.project_name, "job": verdict.job_name}
    except PropertyError as problem:
        verdict = problem
    job["message"] = draw(status_messages)
    outcome, lambda_fails, level = draw(outcomes), draw(st.booleans()), draw(st.sampled_from(["INFO", "DEBUG"]))
    return Case(present(event), outcome=outcome, job=job, lambda_fails=lambda_fails, log_level=level, verdict=verdict)


@dataclass
class Run:
    """What one invocation did: its ResponseURL, each answer (as sent, and parsed), its Invokes and its Describes."""

    url: Any
    answers: list[tuple[bytes, dict[str, Any]]]
    invokes: list[dict[str, Any]]
    api_calls: list[tuple[str, str]]


class Bench:
    """The gate's loopback servers and log capture, and one handler of its per log level, shared by every example."""

    def __init__(self, gate: Gate) -> None:
        self.gate, self.gates = gate, {level: gate.again(environ={"LOG_LEVEL": level}) for level in ("INFO", "DEBUG")}

    def url(self, kind: str, token: str) -> Any:
        base, query = self.gate.recorder.url.split("?", 1)
        rest = f"{base.split('://', 1)[1]}/{token}?{query}"
        path = rest.split("/", 1)[1]
        return {
            "usable": f"http://{rest}", "HTTP-scheme": f"HTTP://{rest}", "missing": MISSING, "null": None, "number": 1,
            "list": [f"http://{rest}"], "empty": "", "ftp": f"ftp://{rest}", "hostless": f"http:///{path}",
            "port": f"http://127.0.0.1:99999/{path}", "ipv6": f"http://[::1/{path}",
        }[kind]  # fmt: skip

    def run(self, case: Case) -> Run:
        """One invocation of ``case``'s event, checked against what holds for every event."""
        token = uuid.uuid4().hex
        url = case.event["ResponseURL"] if case.url == "text" else self.url(case.url, token)
        if isinstance(case.event, dict) and case.url != "text":
            case.event = present({**case.event, "ResponseURL": url})
        # The event as the Lambda runtime decodes it (a surrogate pair written as two escapes becomes one character).
        case.event = json.loads(json.dumps(case.event))
        gate, recorder, api, capture = self.gates[case.log_level], self.gate.recorder, self.gate.api, self.gate.capture
        gate.lam.invoke = Mock(side_effect=refused if case.lambda_fails else None)
        capture.lines, capture.errors = [], []
        recorder.requests, recorder.attempts = [], 0
        api.requests, api.starts = [], []
        gate(case.event, HANDS_ON_S if case.outcome in WAITING else 900)
        assert all(token in put["path"] for put in recorder.requests), "an answer went to another event's URL"
        calls = [(request["project"], request["job"]) for request in api.requests]
        answers = list(zip((put["raw"] for put in recorder.requests), recorder.bodies, strict=True))
        run = Run(url, answers, [call.kwargs for call in gate.lam.invoke.call_args_list], calls)
        check_run(self.gate, case, run, token)
        return run


@pytest.fixture
def bench(gate: Gate) -> Bench:
    gate.gg.default = "DEPLOYABLE"
    return Bench(gate)


def modest(event: Any) -> bool:
    """Whether the event's echoed identifiers leave room for a whole answer in 4096 bytes."""
    return all(len(json.dumps(event.get(key, ""))) <= MODEST_ID_BYTES for key in (*ID_KEYS, "PhysicalResourceId"))


def check_run(gate: Gate, case: Case, run: Run, token: str) -> None:
    """What holds for every event, whatever it is."""
    assert gate.recorder.attempts == len(run.answers) <= 1, f"{gate.recorder.attempts} PUTs, {len(run.answers)} answers"
    if case.url == "usable":
        handed_on = int(bool(run.invokes) and not case.lambda_fails)
        assert len(run.answers) + handed_on == 1, "an answerable event got no answer"
    elif case.url != "HTTP-scheme":
        assert run.answers == [], "an event without a usable ResponseURL was answered"
    event = case.event if isinstance(case.event, dict) else {}
    for raw, body in run.answers:
        assert len(raw) <= 4096 and json.loads(raw) == body and set(body) == EXPECTED_BODY_KEYS, raw[:300]
        assert body["Status"] in ("SUCCESS", "FAILED") and body["PhysicalResourceId"] and body["NoEcho"] is False
        for key in ID_KEYS:
            sent = event.get(key)
            if isinstance(sent, str):
                assert body[key] == sent if modest(event) else sent.startswith(body[key]), f"{key} is not the event's"
        reason = body["Reason"]
        if body["Status"] == "FAILED":
            assert reason.strip() and len(reason.splitlines()) == 1 and "\n" not in reason, f"{reason!r}"
            assert "Traceback" not in reason and not reason.startswith("Internal error"), reason
    if event.get("RequestType") == "Delete" and not case.bad:
        # A Delete, whatever its properties, calls nothing (the job and its component stay), succeeds and keeps its id.
        assert (gate.api.requests, run.invokes) == ([], []), gate.api.requests
        old = event.get("PhysicalResourceId")
        for _, body in run.answers:
            assert body["Status"] == "SUCCESS" or not modest(event), body["Reason"]
            assert body["PhysicalResourceId"] == old or not (isinstance(old, str) and old and modest(event))
    # No event here starts a job, and whatever reached the API is a valid name, sent as such: ../ and encoded names
    # never do.
    assert gate.api.starts == [], "a job was started"
    for project, job in run.api_calls:
        assert contract.PROJECT_NAME_RULE.problem(project) is None and contract.JOB_NAME_RULE.problem(job) is None
    paths = [request["path"] for request in gate.api.requests]
    assert not [path for path in paths if re.search(r"\.\.|%2f|%2e|%25", path, re.IGNORECASE)], paths
    gate.capture.assert_clean(gate.recorder.url)
    for line in gate.capture.lines:  # each line one JSON object
        assert json.loads(line)["level"] in {"DEBUG", "INFO", "WARNING", "ERROR"}, line
    assert not [line for line in gate.capture.lines if token in line], "a log line shows the ResponseURL"


def test_fuzz_event_envelope(bench: Bench) -> None:
    bench.gate.api.script(PROJECT, JOB, [ok(description())])

    @FUZZ
    @given(case=envelope_cases())
    def check(case: Case) -> None:
        run = bench.run(case)
        event = case.event
        if not isinstance(event, dict) or case.bad or not isinstance(event.get("ResponseURL"), str):
            assert run.api_calls == [], "a request the handler cannot process reached the API"
            for _, body in run.answers:
                assert body["Status"] == "FAILED"
                # The Reason says what was wrong: it names one of the event's actual problems.
                assert not modest(event) or any(word in body["Reason"] for word in case.bad), body["Reason"]
        elif event["RequestType"] == "Delete":
            return  # checked for every event
        elif "LookoutVisionWait" in event:  # a wait state nobody can trust: FAILED, with no look and no hand-off
            assert run.api_calls == [] and run.invokes == []
            assert all(body["Status"] == "FAILED" for _, body in run.answers)
        else:  # whatever else it carries, crhelper's keys among them: one Describe with the exact names, SUCCESS
            assert run.api_calls == [(PROJECT, JOB)], f"the API saw {run.api_calls}"
            if run.answers and modest(event):
                [body] = bench.gate.recorder.bodies
                assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", f"{PROJECT}/{JOB}")

    check()


# What a look that does not wait says the job's Status is (one that waits answers SUCCESS only for a job that
# succeeded); what each FAILED Reason says is tests/unit's.
STATUS_OF = {"succeeded": "SUCCEEDED", "no-output": "SUCCEEDED", "failed": "FAILED", "running": "RUNNING"}
STATUS_OF |= {"created": "CREATED", "unknown-status": "STOPPING"}


def play(api: FakeLookoutVision, outcome: str, job: dict[str, Any]) -> None:
    """Script the job's outcome; a missing job is in a project that exists, a missing project has no jobs."""
    project, name = job["project"], job["job"] if outcome != "no-job" else f"{job['job']}-elsewhere"
    with api._lock:
        api.scripts.clear()
        api.projects.clear()
    if outcome in STATUS_OF:
        output = outcome != "no-output"
        step = ok(description(STATUS_OF[outcome], project, name, job["message"], job["component"], "2.1.0", output))
    elif outcome == "access-denied":
        step = error(403, "AccessDeniedException", "User is not authorized")
    elif outcome == "validation":
        step = error(400, "ValidationException", "1 validation error detected")
    else:  # no job of that name, or no project
        step = ok(description(project=project, job=name))
    if outcome != "no-project":
        api.script(project, name, [step])


def test_fuzz_resource_properties(bench: Bench) -> None:
    @settings(FUZZ, max_examples=400)
    @given(case=property_cases())
    def check(case: Case) -> None:
        play(bench.gate.api, case.outcome, case.job)
        run = bench.run(case)
        event, outcome, props = case.event, case.outcome, case.verdict
        # crhelper logs the whole event at DEBUG: the check that no line shows the ResponseURL is not vacuous.
        assert case.log_level == "INFO" or any("ResponseURL" in line for line in bench.gate.capture.lines)
        if event["RequestType"] == "Delete":
            return  # checked for every event
        if isinstance(props, PropertyError):
            assert run.api_calls == [], f"properties with a problem reached the API: {props}"
            [body] = bench.gate.recorder.bodies
            assert body["Status"] == "FAILED" and body["Reason"].startswith("Invalid properties: "), body
            return
        assert set(run.api_calls) == {(props.project_name, props.job_name)}, f"the API saw {run.api_calls}"
        wait = props.wait_for_completion
        if outcome in WAITING and wait and not case.lambda_fails:
            # The wait goes on in a new invocation of the same function, which will answer; this one must not.
            [invoke] = run.invokes
            assert (invoke["FunctionName"], invoke["InvocationType"], run.answers) == (FUNCTION_ARN, "Event", [])
            payload = json.loads(invoke["Payload"])
            assert (payload["RequestId"], payload["ResponseURL"]) == (event["RequestId"], run.url)
            return
        mismatch = outcome == "succeeded" and props.expected_component_name not in (None, case.job["component"])
        success = not mismatch and (outcome == "succeeded" or (not wait and outcome in STATUS_OF))
        [body] = bench.gate.recorder.bodies
        assert body["Status"] == ("SUCCESS" if success else "FAILED"), f"{outcome} answered {body}"
        assert not success or (body["Data"]["Status"], tuple(body["Data"])) == (STATUS_OF[outcome], contract.DATA_KEYS)

    check()
