"""Bad input: hypothesis builds CloudFormation events (non-objects; missing, mistyped, huge, unicode and encoded
identifiers and names; unknown RequestTypes and properties; garbage ResponseURLs; crhelper's keys and a wait state;
valid names whose jobs end in every status or error) and the handler in process answers each, one handler per log
level serving every example as a warm container does. For every event it never raises; it answers at most once, and
exactly once (or hands on) when the ResponseURL is usable; an answer is JSON of at most 4096 bytes with the eight
keys and the event's identifiers, a FAILED one has a one-line Reason that names what was wrong; only valid names reach
the API, as given; every log record can be formatted and none shows the ResponseURL.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import Capture, FakeLambda, Gate
from support import (
    EXPECTED_BODY_KEYS,
    EXPECTED_DATA_KEYS,
    FUNCTION_ARN,
    NOT_FOUND,
    STACK_ID,
    FakeGreengrass,
    FakeLookoutVision,
    ResponseRecorder,
    answered_with,
    client_error,
    description,
    ok,
)

from cdk_lookoutvision_packaging_handler import contract, index, outbound
from cdk_lookoutvision_packaging_handler import job as jobs

PROJECT, JOB = "pcb", "pcb-v3-x86"
ID_KEYS = ("StackId", "RequestId", "LogicalResourceId")
# An invocation this long hands a wait on 10 s in, on the virtual clock: a RUNNING job is handed on at once.
HANDS_ON_S = 70.0
# Echoed identifiers up to this many JSON bytes leave room for a whole answer in 4096 bytes; beyond it the handler
# may shorten them, or give up the Status, to fit.
MODEST_ID_BYTES = 512
FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

# --- strategies: each built once, at import (hypothesis labels some by identity, and a strategy built anew for each
# example would make the examples differ from one run to the next) ------------------------------------------------


def weighted(*options: tuple[int, Any]) -> st.SearchStrategy[Any]:
    """One of the options, each ``weight`` times as likely; plain values stand for themselves."""
    pool = [value if isinstance(value, st.SearchStrategy) else st.just(value) for _, value in options]
    indices = [index for index, (weight, _) in enumerate(options) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(lambda index: pool[index])


finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers(-(2**64), 2**64) | finite | st.text(max_size=10)
small_objects = st.dictionaries(st.text(max_size=8), scalars, max_size=3)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)
# What a JSON event can put where a string belongs, booleans aside.
wrong_types = st.none() | st.integers(-(2**64), 2**64) | finite | st.lists(scalars, max_size=3) | small_objects
PIECES = [
    *r"../ .. / \ ..%2F %2e%2e %2E%2E%2F %2F %252e%252e%252f %5C %00 % %% %s %(message)s %u002e ..;/ ?x=1".split(),
    *"\u202e \u200f \u200b \ufeff \x00 \n \r\n \t \u2028 שלום مرحبا \U0001f600 \ud800 \udfff İ ß".split(" "),
    *'\uff11\uff12 ٣ 漢 \x1b[31m {0} <b> "\\'.split(),
]
# Up to ~100 kB, built from a short unit so that hypothesis draws little data.
huge = st.builds(
    lambda unit, size: (unit * (size // len(unit) + 1))[:size],
    st.sampled_from(["a", "é", "\U0001f600", *PIECES[:6]]) | st.text(min_size=1, max_size=4),
    st.sampled_from([256, 1_000, 4_097, 65_536]) | st.integers(100, 100_000),
)
odd_strings = st.one_of(
    st.lists(st.sampled_from(["", "pcb", "x86", "-v3", *PIECES]), min_size=1, max_size=4).map("".join),
    st.text(max_size=16).map(lambda text: quote(text, safe="")),
    st.text(min_size=1, max_size=30),
    st.text(alphabet=st.characters(min_codepoint=0x10000), min_size=1, max_size=8),
    huge,
)
weird = odd_strings | wrong_types
not_none = wrong_types.filter(lambda value: value is not None)
valid_projects = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,40}", fullmatch=True) | st.sampled_from(["P" * 255, "a-_"])
valid_jobs = st.from_regex(r"[a-zA-Z0-9-]{1,64}", fullmatch=True) | st.sampled_from(["-", "J" * 64])
valid_components = st.from_regex(r"[a-zA-Z0-9._-]{1,128}", fullmatch=True) | st.sampled_from(["C" * 128, ".."])
seconds = st.integers(60, 3300)
seconds_text = seconds.map(str)


def unlike(pattern: str) -> Any:
    return lambda text: not re.fullmatch(pattern, text.strip().lower())


# Options and whether a value breaks the option's rule (the names are judged by the contract's rules, which
# tests/unit/test_contract.py pins to tables: a generated string may well be a valid name).
OPTIONS = {
    "WaitForCompletion": (
        st.sampled_from([True, False, "true", "false", "True", "FALSE"]),
        st.sampled_from(["yes", "1", 1, 0, " true", ""]) | not_none | st.text(max_size=8).filter(unlike("true|false")),
    ),
    "WaitTimeoutSeconds": (
        seconds | seconds_text,
        st.sampled_from(["59", "3301", "0", "1e3", "60s", "120.0", "\uff11\uff12\uff10", "", 120.0, True, None])
        | st.integers(-(2**40), 59) | st.integers(3301, 2**40) | st.text(max_size=8).filter(unlike("[0-9]+")),
    ),
    "Packaging": (None, json_values.filter(lambda value: value is not None)),
}  # fmt: skip
OPTION_VALUES = {
    key: weighted(
        (3, MISSING),
        (2, bad.map(lambda value: (value, True))),
        *([(3, good.map(lambda v: (v, False)))] if good is not None else []),
    )
    for key, (good, bad) in OPTIONS.items()
}
# Each name, and whether it is required.
NAMES = (
    ("ProjectName", weighted((4, valid_projects), (1, MISSING), (5, weird)), contract.PROJECT_NAME_RULE, True),
    ("JobName", weighted((4, valid_jobs), (1, MISSING), (5, weird)), contract.JOB_NAME_RULE, True),
    (
        "ExpectedComponentName",
        weighted((3, MISSING), (2, valid_components), (2, odd_strings), (1, not_none)),
        contract.COMPONENT_NAME_RULE,
        False,
    ),
)
non_objects = scalars | st.lists(json_values, max_size=3)
not_properties = scalars | st.lists(scalars, max_size=3) | huge
service_timeouts = weighted((1, MISSING), (1, st.sampled_from(["3000", 3000, "x", None])))
old_properties = weighted((1, MISSING), (1, json_values))
ENVELOPE_KEYS = frozenset({*ID_KEYS, "RequestType", "ServiceToken", "ResourceType", "ResourceProperties"})
UNKNOWN = st.sampled_from(["projectName", "ResponseURL", "__proto__", "JobName "]) | st.text(max_size=20)
unknown_properties = st.dictionaries(
    UNKNOWN.filter(lambda key: key not in contract.PROPERTIES and key not in contract.CFN_PROPERTIES), json_values,
    min_size=1, max_size=3,
)  # fmt: skip
extra_keys = st.dictionaries(
    (st.sampled_from(["LookoutVisionWait", "OldResourceProperties", "Extra"]) | st.text(max_size=12)).filter(
        lambda key: key not in ENVELOPE_KEYS | {"PhysicalResourceId", "ResponseURL"}
    ),
    json_values,
    max_size=3,
)
CRHELPER_KEYS = ("CrHelperPoll", "CrHelperData", "CrHelperRule", "CrHelperPermission")
crhelper_keys = st.dictionaries(st.sampled_from(CRHELPER_KEYS), json_values, min_size=1, max_size=4)
URL_KINDS = weighted(*[(1, kind) for kind in "missing null number list empty text ftp hostless port ipv6".split()])
urls = weighted((3, "usable"), (1, "HTTP-scheme"), (1, URL_KINDS))
mostly_usable = weighted((8, "usable"), (1, URL_KINDS))


def _reaches_no_host(text: str) -> bool:
    try:
        parts = urlsplit(text)
        return not (parts.scheme.lower() in ("http", "https") and parts.hostname)
    except ValueError:
        return True


garbage_urls = st.text(max_size=40).filter(_reaches_no_host)
request_types = weighted((4, "Create"), (3, "Update"), (2, "Delete"))
bad_request_types = st.sampled_from([MISSING, "create", "Replace", "", " Create", "Delete\x00", "\u202eCreate"]) | weird
old_ids = weighted((3, f"{PROJECT}/{JOB}"), (1, "pcb/old"), (1, MISSING), (1, weird))
modest_old_ids = weighted((3, f"{PROJECT}/{JOB}"), (1, "pcb/old"), (1, MISSING), (1, st.text(max_size=40) | not_none))
ENVELOPE_FAULTS = "none object request-type ids url extra-keys crhelper-keys mixed".split()
OUTCOMES = "succeeded failed no-output running created unknown-status no-project no-job access-denied validation"
WAITING = ("running", "created")
status_messages = weighted(
    (2, st.none()),
    (3, st.text(max_size=200)),
    (1, huge),
    (1, st.lists(st.sampled_from(PIECES), max_size=8).map("".join)),
)
VALID_OPTIONS = {
    "WaitForCompletion": weighted((4, MISSING), (1, True), (1, "true"), (2, False), (1, "false")),
    "WaitTimeoutSeconds": weighted((3, MISSING), (1, seconds), (1, seconds_text)),
    "ServiceTimeout": weighted((3, MISSING), (1, "3000")),
}


@dataclass
class Case:
    """One event; ``url`` says what ResponseURL it gets once the bench knows the recorder."""

    event: Any
    url: str = "usable"
    bad: set[str] = field(default_factory=set)  # what is wrong with it, as words its Reason may use
    outcome: str = ""  # valid events: what the loopback API plays for the job, and its values
    job: dict[str, Any] = field(default_factory=dict)
    lambda_fails: bool = True
    log_level: str = "INFO"


def envelope(draw: st.DrawFn, request_type: Any, props: Any, physical_ids: st.SearchStrategy[Any]) -> dict[str, Any]:
    """An event around ``props``; an Update or Delete gets an old physical id from ``physical_ids``."""
    event = {"RequestType": request_type, "ServiceToken": FUNCTION_ARN, "StackId": STACK_ID}
    event |= {"RequestId": str(draw(st.uuids())), "LogicalResourceId": draw(st.sampled_from(["Job21DA863A", "J"]))}
    event |= {"ResourceType": contract.RESOURCE_TYPE, "ResourceProperties": props}
    if request_type in ("Update", "Delete"):
        event["PhysicalResourceId"] = draw(physical_ids)
    return event


def present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not MISSING}


@st.composite
def envelope_cases(draw: st.DrawFn) -> Case:
    fault, level = draw(st.sampled_from(ENVELOPE_FAULTS)), draw(st.sampled_from(["INFO", "DEBUG"]))
    if fault == "object":
        return Case(draw(non_objects), "missing", log_level=level)
    mixed = fault == "mixed"
    request_type = draw(
        bad_request_types if fault == "request-type" or (mixed and draw(st.booleans())) else request_types
    )
    event = envelope(
        draw, request_type, {"ServiceToken": FUNCTION_ARN, "ProjectName": PROJECT, "JobName": JOB}, old_ids
    )
    for key in sorted(draw(st.sets(st.sampled_from(ID_KEYS), min_size=1))) if fault in ("ids", "mixed") else ():
        event[key] = draw(st.sampled_from([MISSING, ""]) | weird)
    if fault == "extra-keys" or (mixed and draw(st.booleans())):
        event |= draw(extra_keys)
    if fault == "crhelper-keys":
        event |= draw(crhelper_keys)
    url = draw(urls if fault in ("url", "mixed") else mostly_usable)
    if url == "text":
        event["ResponseURL"] = draw(garbage_urls)
    bad = {key for key in ID_KEYS if not (isinstance(event.get(key), str) and event[key])}
    bad |= {"RequestType"} if request_type not in ("Create", "Update", "Delete") else set()
    return Case(present(event), url, bad, log_level=level)


@st.composite
def property_cases(draw: st.DrawFn) -> Case:
    props: Any = {"ServiceToken": FUNCTION_ARN}
    bad: set[str] = set()
    for key, strategy, rule, required in NAMES:
        props[key] = value = draw(strategy)
        if (required and value is MISSING) or (value is not MISSING and rule.problem(value)):
            bad.add(key)
    for key, strategy in OPTION_VALUES.items():
        drawn = draw(strategy)
        props[key], wrong = (MISSING, False) if drawn is MISSING else drawn
        bad |= {key} if wrong else set()
    props["ServiceTimeout"] = draw(service_timeouts)
    if draw(st.integers(0, 3)) == 0:
        props |= draw(unknown_properties)
        bad.add("unknown propert")
    props = present(props)
    shape = draw(st.integers(0, 9))  # one in ten not an object, one in ten absent
    if shape < 2:
        props, bad = (MISSING if shape else draw(not_properties)), {"ResourceProperties"}
    event = envelope(draw, draw(request_types), props, modest_old_ids)
    if event["RequestType"] == "Update":
        event["OldResourceProperties"] = draw(old_properties)
    return Case(present(event), bad=bad, log_level=draw(st.sampled_from(["INFO", "DEBUG"])))


@st.composite
def valid_cases(draw: st.DrawFn) -> Case:
    job = {"project": draw(valid_projects), "job": draw(valid_jobs), "component": draw(valid_components)}
    props = {"ServiceToken": FUNCTION_ARN, "ProjectName": job["project"], "JobName": job["job"]}
    props |= {key: draw(strategy) for key, strategy in VALID_OPTIONS.items()}
    props["ExpectedComponentName"] = draw(weighted((3, MISSING), (1, job["component"]), (1, valid_components)))
    event = envelope(draw, draw(request_types), present(props), modest_old_ids)
    job["message"] = draw(status_messages)
    outcome = draw(st.sampled_from(OUTCOMES.split()))
    level = draw(st.sampled_from(["INFO", "DEBUG"]))
    return Case(present(event), outcome=outcome, job=job, lambda_fails=draw(st.booleans()), log_level=level)


# --- the bench -----------------------------------------------------------------------------------------------------


@dataclass
class Run:
    url: Any
    answers: list[tuple[bytes, dict[str, Any]]]
    puts: int
    api_calls: list[tuple[str, str]]
    paths: list[str]
    invokes: list[dict[str, Any]]

    @property
    def only(self) -> dict[str, Any]:
        assert len(self.answers) == 1, f"expected one answer, got {len(self.answers)}"
        return self.answers[0][1]


class Bench:
    """The loopback servers, one handler per log level and the log capture, shared by every example."""

    def __init__(self, api: FakeLookoutVision, recorder: ResponseRecorder, capture: Capture, **clients: Any) -> None:
        self.api, self.recorder, self.capture, self.lam = api, recorder, capture, FakeLambda()
        self.paths: list[str] = []  # every request the API saw, routed or not
        levels = ("INFO", "DEBUG")
        self.gates = {level: Gate(lam=self.lam, environ={"LOG_LEVEL": level}, **clients) for level in levels}
        base, self.query = recorder.url.split("?", 1)
        self.base = base.split("://", 1)[1]

    def url(self, kind: str, token: str) -> Any:
        rest = f"{self.base}/{token}?{self.query}"
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
        self.lam.refuse, self.lam.invocations = case.lambda_fails, []
        self.capture.lines, self.capture.formatted, self.capture.errors = [], [], []
        answers, puts, calls, paths = (
            len(self.recorder.bodies),
            self.recorder.attempts,
            len(self.api.requests),
            len(self.paths),
        )
        self.gates[case.log_level](case.event, HANDS_ON_S if case.outcome in WAITING else 900)
        with self.recorder._lock:
            new = list(zip(self.recorder.paths, self.recorder.raw, self.recorder.bodies, strict=True))[answers:]
            puts = self.recorder.attempts - puts
        assert all(token in path for path, _, _ in new), "an answer went to another event's URL"
        api_calls = [(r["project"], r["job"]) for r in self.api.requests[calls:]]
        run = Run(url, [(raw, body) for _, raw, body in new], puts, api_calls, self.paths[paths:], self.lam.invocations)
        check_run(self, case, run, token)
        return run


@pytest.fixture
def bench(
    api: FakeLookoutVision,
    gg: FakeGreengrass,
    client: Any,
    greengrass: Any,
    recorder: ResponseRecorder,
    captured: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> Bench:
    gg.default = "DEPLOYABLE"
    bench = Bench(api, recorder, captured, lookoutvision=client, greengrass=greengrass)
    handle = api._handle

    def recorded(request: Any) -> None:
        bench.paths.append(request.path)
        handle(request)

    monkeypatch.setattr(api, "_handle", recorded)
    return bench


# --- the oracle ----------------------------------------------------------------------------------------------------


def modest(event: Any) -> bool:
    """Whether the event's echoed identifiers leave room for a whole answer in 4096 bytes."""
    return all(len(json.dumps(event.get(key, ""))) <= MODEST_ID_BYTES for key in (*ID_KEYS, "PhysicalResourceId"))


def check_run(bench: Bench, case: Case, run: Run, token: str) -> None:
    """What holds for every event, whatever it is."""
    assert run.puts == len(run.answers) <= 1, f"{run.puts} PUTs, {len(run.answers)} answers"
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
    if event.get("RequestType") == "Delete" and not case.bad & {*ID_KEYS, "RequestType"}:
        # A Delete, whatever its properties, calls nothing (the job and its component stay) and succeeds.
        assert (run.paths, run.invokes) == ([], []), run.paths
        for _, body in run.answers if modest(event) else ():
            assert body["Status"] == "SUCCESS", body["Reason"]
            assert_kept_id(event, body)
    # Whatever reached the API is a valid name, sent as such: ../ and encoded names never do.
    assert len(run.paths) == len(run.api_calls), f"API requests outside the Describe route: {run.paths}"
    for project, job in run.api_calls:
        assert contract.PROJECT_NAME_RULE.problem(project) is None and contract.JOB_NAME_RULE.problem(job) is None
    assert not [path for path in run.paths if re.search(r"\.\.|%2f|%2e|%25", path, re.IGNORECASE)], run.paths
    bench.capture.assert_clean(bench.recorder.url)
    for line in bench.capture.formatted:  # each line one JSON object
        assert json.loads(line)["level"] in {"DEBUG", "INFO", "WARNING", "ERROR"}, line
    assert not [line for line in bench.capture.lines if token in line], "a log line shows the ResponseURL"


def assert_names(reason: str, words: set[str]) -> None:
    """The Reason says what was wrong: it names one of the event's actual problems."""
    head = reason.split("; supported:")[0]  # the list of supported properties names them all
    assert any(word in head for word in words), f"the Reason {reason!r} names none of {sorted(words)}"


def assert_kept_id(event: dict[str, Any], body: dict[str, Any]) -> None:
    old = event.get("PhysicalResourceId")
    if isinstance(old, str) and old:
        assert body["PhysicalResourceId"] == old, "a Delete or a failed Update keeps the old physical id"


# --- the tests -----------------------------------------------------------------------------------------------------


def test_fuzz_event_envelope(bench: Bench) -> None:
    bench.api.script(PROJECT, JOB, [ok(description())])

    @FUZZ
    @given(case=envelope_cases())
    def check(case: Case) -> None:
        run = bench.run(case)
        event = case.event
        if not isinstance(event, dict) or case.bad or not isinstance(event.get("ResponseURL"), str):
            assert run.api_calls == [], "a request the handler cannot process reached the API"
            for _, body in run.answers:
                assert body["Status"] == "FAILED"
                if modest(event):
                    assert_names(body["Reason"], case.bad)
        elif event["RequestType"] == "Delete":
            return  # checked for every event
        elif "LookoutVisionWait" in event:  # a wait state nobody can trust: no look, no hand-off
            assert run.api_calls == [] and run.invokes == []
            assert all(b["Reason"].startswith("Invalid continuation of the wait: ") for _, b in run.answers)
        else:  # whatever else it carries, crhelper's keys among them: one Describe with the exact names, SUCCESS
            assert run.api_calls == [(PROJECT, JOB)], f"the API saw {run.api_calls}"
            if run.answers and modest(event):
                assert (run.only["Status"], run.only["PhysicalResourceId"]) == ("SUCCESS", f"{PROJECT}/{JOB}")
                assert set(run.only["Data"]) == EXPECTED_DATA_KEYS

    check()


def test_fuzz_resource_properties(bench: Bench) -> None:
    @FUZZ
    @given(case=property_cases())
    def check(case: Case) -> None:
        with bench.api._lock:  # no job exists: valid names are answered 404
            bench.api.scripts.clear()
            bench.api.projects.clear()
        run = bench.run(case)
        event, body = case.event, run.only
        if event["RequestType"] == "Delete":
            return  # checked for every event
        if case.bad:
            assert run.api_calls == [], f"properties with problems {sorted(case.bad)} reached the API"
            assert body["Status"] == "FAILED"
            assert_names(body["Reason"], case.bad)
        else:
            project, job = event["ResourceProperties"]["ProjectName"], event["ResourceProperties"]["JobName"]
            assert run.api_calls == [(project, job)], f"the API saw {run.api_calls}, not {(project, job)}"
            assert body["Status"] == "FAILED" and "does not exist" in body["Reason"], body["Reason"]
            assert event["RequestType"] != "Create" or body["PhysicalResourceId"] == f"{project}/{job}"
        if event["RequestType"] != "Create":
            assert_kept_id(event, body)

    check()


def play(api: FakeLookoutVision, outcome: str, job: dict[str, Any]) -> None:
    """Script the job's outcome; a missing job is in a project that exists, a missing project has no jobs."""
    project, name, message, component = job["project"], job["job"], job["message"], job["component"]
    with api._lock:
        api.scripts.clear()
        api.projects.clear()
    steps = {
        "succeeded": ok(description("SUCCEEDED", project, name, message, component, component_version="2.1.0")),
        "failed": ok(description("FAILED", project, name, message, component)),
        "no-output": ok(description("SUCCEEDED", project, name, message, with_output=False)),
        "running": ok(description("RUNNING", project, name, message)),
        "created": ok(description("CREATED", project, name, message)),
        "unknown-status": ok(description("STOPPING", project, name, message)),
        **{failure: answered_with(final_error(failure, project, name)) for failure in ("access-denied", "validation")},
        "no-job": ok(description(project=project, job=f"{name}-elsewhere")),
    }
    if outcome != "no-project":
        api.script(project, f"{name}-elsewhere" if outcome == "no-job" else name, [steps[outcome]])


def final_error(outcome: str, project: str, job: str) -> Any:
    """What botocore raises for the service's answer to a Describe that fails at once."""
    return {
        "access-denied": client_error("AccessDeniedException", 403, "User is not authorized to perform this action"),
        "validation": client_error("ValidationException", 400, "1 validation error detected: Value at 'jobName'"),
        "no-project": client_error(NOT_FOUND, 404, f"Project {project} not found", ResourceType="PROJECT"),
        "no-job": client_error(NOT_FOUND, 404, f"Job {job} not found", ResourceType="MODEL_PACKAGE_JOB"),
    }[outcome]


STATUS_OF = {"succeeded": "SUCCEEDED", "no-output": "SUCCEEDED", "failed": "FAILED", "running": "RUNNING"}
STATUS_OF |= {"created": "CREATED", "unknown-status": "STOPPING"}
MUST_SAY = {
    **dict.fromkeys(WAITING, "lambda:InvokeFunction"),
    "no-output": "no Greengrass output",
    "unknown-status": "STOPPING",
}
FINAL = ("access-denied", "validation", "no-project", "no-job")


def test_fuzz_valid_events(bench: Bench) -> None:
    @FUZZ
    @given(case=valid_cases())
    def check(case: Case) -> None:
        play(bench.api, case.outcome, case.job)
        run = bench.run(case)
        # crhelper logs the whole event at DEBUG: the check that no line shows the ResponseURL is not vacuous.
        assert case.log_level == "INFO" or any("ResponseURL" in line for line in bench.capture.lines)
        event, props, outcome = case.event, case.event["ResourceProperties"], case.outcome
        project, job = case.job["project"], case.job["job"]
        if event["RequestType"] == "Delete":
            return  # checked for every event
        assert run.api_calls and set(run.api_calls) == {(project, job)}, f"the API saw {run.api_calls}"
        wait = props.get("WaitForCompletion", True) in (True, "true")
        if outcome in WAITING and wait and not case.lambda_fails:
            # The wait goes on in a new invocation of the same function, which will answer; this one must not.
            [invoke] = run.invokes
            assert (invoke["FunctionName"], invoke["InvocationType"], run.answers) == (FUNCTION_ARN, "Event", [])
            payload = json.loads(invoke["Payload"])
            assert (payload["RequestId"], payload["ResponseURL"]) == (event["RequestId"], run.url)
            return
        assert len(run.api_calls) == 1 or (outcome in WAITING and wait), "a job needing no wait was looked at again"
        body, expected = run.only, props.get("ExpectedComponentName")
        reason, data = body["Reason"], body["Data"]
        if outcome == "succeeded" and expected not in (None, case.job["component"]):
            assert body["Status"] == "FAILED"
            assert_names(reason, {"expected_component_name"})
        elif not wait and outcome in STATUS_OF:
            assert (body["Status"], data["Status"]) == ("SUCCESS", STATUS_OF[outcome]), reason
        elif outcome == "succeeded":
            assert body["Status"] == "SUCCESS", reason
            assert (data["ComponentName"], data["ComponentVersion"]) == (case.job["component"], "2.1.0")
            assert data["ComponentVersionArn"].startswith("arn:aws:greengrass:")
            assert data["CreationTimestamp"] == "2026-11-29T15:00:00Z"
        elif outcome == "failed":
            # The job's own message, on one printable line, maybe shortened to fit.
            message = json.loads(json.dumps(case.job["message"])) or "(no StatusMessage)"
            full = re.sub("[\x00-\x1f\x7f-\x9f]", " ", f"Model packaging job {project}/{job} FAILED: {message}")
            kept = " ".join(reason.removesuffix(" ...(truncated)").split())
            assert body["Status"] == "FAILED" and " ".join(full.split()).startswith(kept), reason
            assert reason.startswith(f"Model packaging job {project}/{job} FAILED:"), reason
        elif outcome in FINAL:  # the service's error reaches its classification intact; the job was never described
            call = jobs.describe_call(project, job, index.REGION)
            problem = outbound.classify(final_error(outcome, project, job), call)
            assert (body["Status"], reason) == ("FAILED", jobs.explain(problem, call, project, job).message)
            assert data == {**dict.fromkeys(EXPECTED_DATA_KEYS, ""), "ProjectName": project, "JobName": job}
        else:
            assert body["Status"] == "FAILED", f"{outcome} answered {body}"
            assert_names(reason, {MUST_SAY[outcome]})
        if body["Status"] == "SUCCESS" or event["RequestType"] == "Create":
            assert body["PhysicalResourceId"] == f"{project}/{job}"
        else:
            assert_kept_id(event, body)
        if body["Status"] == "SUCCESS":
            assert set(data) == EXPECTED_DATA_KEYS and (data["ProjectName"], data["JobName"]) == (project, job)

    check()
