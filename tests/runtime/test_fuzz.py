"""Bad input: hypothesis builds CloudFormation events, and the synthesized function answers
each of them, run under awslambdaric by the stand-in of tests/lambda_runtime.py (one invocation per event).

- ``test_fuzz_event_envelope``: the event around the properties (non-object events; missing, empty, mistyped, huge
  and unicode StackId/RequestId/LogicalResourceId; unknown RequestTypes; missing, mistyped and garbage ResponseURLs;
  extra top-level keys), with valid properties and a job that has SUCCEEDED.
- ``test_fuzz_resource_properties``: ResourceProperties that are not an object, miss or mistype properties, carry
  unknown ones, huge or unicode values, and names with ``../``, ``%2F``, ``%2e%2e`` or other URL-encoded characters.
- ``test_fuzz_valid_events``: valid names and options whose jobs the loopback API answers SUCCEEDED, FAILED,
  RUNNING, 403, 404 or 400, with huge and unicode StatusMessages. These run on a copy of the asset that polls at
  the fast pace of FAST_PACE, so that a job still RUNNING is handed on a fraction of a second in.

For every event: the invocation returns before its deadline (never raises, never hangs); at most one answer reaches
the ResponseURL, and exactly one whenever the event is an object with a usable http(s) ResponseURL (``_precheck``
answers FAILED even without StackId, RequestId or LogicalResourceId, as long as it has somewhere to answer); each
answer is valid JSON of at most 4096 bytes with the eight keys; a FAILED Reason is one non-empty line without a
traceback that names what was wrong; valid names reach the API exactly as given; invalid names (``../`` and friends)
never reach it; no answer is the handler's "Internal error" (a bug of ours). No line the invocation logged carries
the ResponseURL, its path or its signature. awslambdaric formats a record inside the logging call, so a record that
cannot be formatted raises in the handler, and the invocation's status or its answer shows it. The totals go to
the reliability report (tests/reliability_report.py).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import reliability_report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_runtime import Invocation, InvokeCall, LambdaHarness, SynthesizedApp, prepare_task_root, wait_until
from support import (
    EXPECTED_BODY_KEYS,
    EXPECTED_DATA_KEYS,
    FUNCTION_ARN,
    STACK_ID,
    FakeLookoutVision,
    ResponseRecorder,
    description,
    error,
    make_event,
    ok,
    properties,
)

from model_packaging_job import contract
from model_packaging_job.contract import RESOURCE_TYPE

# Examples per test; together at least 1,000 events per run.
ENVELOPE_EXAMPLES = 400
PROPERTIES_EXAMPLES = 450
VALID_EXAMPLES = 350

# A job that must be waited for gets an invocation just over the shortest one a wait can continue in at FAST_PACE
# (60 s hand-off margin plus two looks), so it is handed on half a second in. Every other event gets the template's
# timeout, as Lambda gives it: a look slowed by a busy machine must not turn into a hand-off.
CONTEXT_TIMEOUT_S = 60.5
WAITING = ("running", "created")
# No event may take longer than this (none waits for anything but a loopback call).
HANG_LIMIT_S = CONTEXT_TIMEOUT_S + 5.0
MAX_RESPONSE_BYTES = 4096
# Echoed identifiers up to this many JSON bytes leave room for the whole answer in 4096 bytes; beyond it the handler
# may have to give up the Status to fit, so only the shape of the answer is checked.
MODEST_ID_BYTES = 512

ID_KEYS = ("StackId", "RequestId", "LogicalResourceId")
REQUEST_TYPES = ("Create", "Update", "Delete")
OUR_PROPERTIES = contract.PROPERTIES
CFN_PROPERTIES = tuple(sorted(contract.CFN_PROPERTIES))
CRHELPER_KEYS = ("CrHelperPoll", "CrHelperData", "CrHelperRule", "CrHelperPermission")

# The naming rules are the contract's, written once there; tests/unit/test_contract.py checks them against a table of
# valid and invalid names, so the oracle does not inherit a bug in them unnoticed.
PROJECT_NAME = re.compile(contract.PROJECT_NAME_RULE.pattern)
JOB_NAME = re.compile(contract.JOB_NAME_RULE.pattern)
COMPONENT_NAME = re.compile(contract.COMPONENT_NAME_RULE.pattern)

FUZZ_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "print_blob": False,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# --- strategies ----------------------------------------------------------------------------------------------------


def weighted(*options: tuple[int, Any]) -> st.SearchStrategy[Any]:
    """One of the options, each ``weight`` times as likely; plain values stand for themselves. (st.one_of does not
    weight repeated branches; sampled_from over repeated indices does.)"""
    pool = [value if isinstance(value, st.SearchStrategy) else st.just(value) for _, value in options]
    indices = [index for index, (weight, _) in enumerate(options) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(lambda index: pool[index])


def _repeat(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
# Everything a JSON event can put where a string belongs.
wrong_types = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=8), json_scalars, max_size=3),
)
# Up to ~100 kB, built from a short unit so that hypothesis draws little data.
huge_strings = st.builds(
    _repeat,
    st.sampled_from(["a", "7", "é", "\U0001f600", "../", "%2F", "\u202e", "\x00", "\ud800", "漢", '"\\'])
    | st.text(min_size=1, max_size=4),
    st.sampled_from([65, 256, 1_000, 4_097, 65_536, 100_000]) | st.integers(100, 100_000),
)
TRAVERSAL = [
    *r"../ .. ./ / \ ..\ ..%2F ..%2f %2e%2e %2E%2E%2F %2F %252e%252e%252f %5C %00 % %% %s %(message)s".split(),
    *"%u002e%u002e ..;/ ?x=1 #frag \uff0e\uff0e\uff0f \u2024\u2024/".split(),
]
traversal_names = st.builds(
    lambda before, piece, after: before + piece + after,
    st.sampled_from(["", "pcb", "pcb-v3-x86"]),
    st.sampled_from(TRAVERSAL),
    st.sampled_from(["", "x86", "../../etc/passwd", "modelpackagingjobs/pcb-v3-x86", "%2F..", "?ProjectName=pcb"]),
)
url_encoded_names = st.one_of(
    st.text(max_size=16).map(lambda s: quote(s, safe="")),
    st.text(max_size=16).map(lambda s: quote(quote(s, safe=""), safe="")),
    st.sampled_from(["pcb%2Fpcb-v3-x86", "pcb%20", "%70%63%62", "pcb+x86", "p%c3%a9"]),
)
UNICODE_PIECES = [
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",  # zero width space
    "\ufeff",
    "\x00",
    "\n",
    "\r\n",
    "\t",
    " ",
    "\u2028",
    "שלום",
    "مرحبا",
    "\U0001f600",
    "\U00010000",
    "\ud800",  # lone surrogates: JSON can carry them as \ud800 escapes
    "\udfff",
    "İ",
    "ß",
    "\uff11\uff12\uff13",  # fullwidth digits
    "٣",
]
unicode_names = st.one_of(
    st.text(min_size=1, max_size=30),
    st.text(alphabet=st.characters(min_codepoint=0x10000), min_size=1, max_size=10),
    st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=4),
    st.builds(
        lambda before, piece, after: before + piece + after,
        st.sampled_from(["", "pcb", "pcb-v3"]),
        st.sampled_from(UNICODE_PIECES),
        st.sampled_from(["", "x86", "-v3"]),
    ),
)
weird_names = st.one_of(
    traversal_names, url_encoded_names, unicode_names, huge_strings, wrong_types, st.text(max_size=30)
)
valid_projects = st.one_of(
    st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,40}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9_-]{200,254}", fullmatch=True),
    st.sampled_from(["pcb", "0", "P" * 255, "pcb_defect-line", "a-_"]),
)
valid_jobs = st.one_of(
    st.from_regex(r"[a-zA-Z0-9-]{1,64}", fullmatch=True),
    st.sampled_from(["pcb-v3-x86", "-", "9", "J" * 64]),
)
valid_components = st.one_of(
    st.from_regex(r"[a-zA-Z0-9._-]{1,128}", fullmatch=True),
    st.sampled_from(["com.example.pcb-defects", "C" * 128, "..", "_"]),
)
status_messages = weighted(
    (2, st.none()),
    (3, st.text(max_size=200)),
    (1, huge_strings),
    (
        1,
        st.lists(
            st.sampled_from([*UNICODE_PIECES, "%s", "%(message)s", "{0}", "\x1b[31m", "<b>", '"', "\\"]), max_size=8
        ).map("".join),
    ),
)
wait_flags = weighted(
    (3, MISSING),
    (3, st.sampled_from([True, False, "true", "false", "True", "FALSE"])),
    (
        2,
        st.sampled_from(["yes", "no", "1", "0", 1, 0, " true", "maybe", "", None, [], {}])
        | wrong_types
        | st.text(max_size=8),
    ),
)
wait_timeouts = weighted(
    (3, MISSING),
    (3, st.integers(60, 3300) | st.integers(60, 3300).map(str)),
    (
        2,
        st.sampled_from(
            [*"59 3301 0 -60 1e3 60s 0120 0000060 120.0 \uff11\uff12\uff10".split(), "", " 120 ", 120.0, 120.5]
        )
        | wrong_types
        | st.text(max_size=8)
        | st.integers(-(2**40), 2**40),
    ),
)
expected_components = weighted((4, MISSING), (2, valid_components), (2, weird_names))
extra_property_names = st.one_of(
    st.sampled_from(
        [*"projectName Project Jobname ResponseURL __proto__ RequestType ../JobName %2F".split(), "", "JobName "]
    ),
    st.text(max_size=20),
    huge_strings,
).filter(lambda key: key not in OUR_PROPERTIES and key not in CFN_PROPERTIES)


@st.composite
def resource_properties(draw: st.DrawFn) -> Any:
    """ResourceProperties: an object with missing, extra, mistyped, huge or unicode values; or not an object."""
    shape = draw(weighted((8, "object"), (1, "not-an-object"), (1, "absent")))
    if shape == "absent":
        return MISSING
    if shape == "not-an-object":
        return draw(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.text(max_size=20),
                st.lists(json_scalars, max_size=3),
                huge_strings,
            )
        )
    props: dict[str, Any] = {}
    values = {
        "ServiceToken": weighted((4, FUNCTION_ARN), (1, MISSING), (1, json_values)),
        "ProjectName": weighted((4, valid_projects), (1, MISSING), (5, weird_names)),
        "JobName": weighted((4, valid_jobs), (1, MISSING), (5, weird_names)),
        "WaitForCompletion": wait_flags,
        "WaitTimeoutSeconds": wait_timeouts,
        "ExpectedComponentName": expected_components,
        "ServiceTimeout": weighted((4, MISSING), (1, st.sampled_from(["3000", 3000, "x", None]))),
    }
    for key, strategy in values.items():
        value = draw(strategy)
        if value is not MISSING:
            props[key] = value
    if draw(st.integers(0, 3)) == 0:
        props.update(draw(st.dictionaries(extra_property_names, json_values, min_size=1, max_size=3)))
    return props


def judge_properties(props: Any) -> tuple[set[str], set[str]]:
    """What is wrong with ResourceProperties: (must fail, may fail), each as words a Reason may use to say so."""
    if not isinstance(props, dict):
        return {"ResourceProperties"}, set()
    bad: set[str] = set()
    either: set[str] = set()
    if any(key not in OUR_PROPERTIES and key not in CFN_PROPERTIES for key in props):
        bad.add("unknown propert")
    for key, rule, max_len in (
        ("ProjectName", PROJECT_NAME, contract.PROJECT_NAME_RULE.max_len),
        ("JobName", JOB_NAME, contract.JOB_NAME_RULE.max_len),
    ):
        value = props.get(key, MISSING)
        if not (isinstance(value, str) and len(value) <= max_len and rule.fullmatch(value)):
            bad.add(key)
    verdicts = {
        "WaitForCompletion": _wait_flag_verdict(props.get("WaitForCompletion", MISSING)),
        "WaitTimeoutSeconds": _timeout_verdict(props.get("WaitTimeoutSeconds", MISSING)),
        "ExpectedComponentName": _component_verdict(props.get("ExpectedComponentName", MISSING)),
    }
    bad |= {key for key, verdict in verdicts.items() if verdict == "bad"}
    either |= {key for key, verdict in verdicts.items() if verdict == "either"}
    return bad, either


def _wait_flag_verdict(value: Any) -> str:
    if value is MISSING or isinstance(value, bool):
        return "ok"
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return "ok"
        return "either" if value.strip().lower() in ("true", "false", "yes", "no", "1", "0") else "bad"
    return "either" if isinstance(value, int) and value in (0, 1) else "bad"


def _timeout_verdict(value: Any) -> str:
    if value is MISSING:
        return "ok"
    if isinstance(value, bool):
        return "bad"
    if isinstance(value, int):
        return "ok" if 60 <= value <= 3300 else "bad"
    if isinstance(value, float):
        return "either" if value.is_integer() and 60 <= value <= 3300 else "bad"
    if isinstance(value, str):
        try:
            seconds = int(value.strip())
        except ValueError:
            return "bad"
        if not 60 <= seconds <= 3300:
            return "bad"
        return "ok" if re.fullmatch(r"[1-9][0-9]*", value) else "either"
    return "bad"


def _component_verdict(value: Any) -> str:
    if value is MISSING:
        return "ok"
    if value is None:
        return "either"
    short = isinstance(value, str) and len(value) <= contract.COMPONENT_NAME_RULE.max_len
    return "ok" if short and COMPONENT_NAME.fullmatch(str(value)) else "bad"


# ResponseURL shapes: "usable" points at the recorder; the others must not be answered (and must not crash).
URL_KINDS = weighted(
    (3, "usable"),
    (1, "usable-upper-scheme"),
    (1, "missing"),
    (1, "null"),
    (1, "number"),
    (1, "bool"),
    (1, "list"),
    (1, "object"),
    (1, "empty"),
    (1, "text"),
    (1, "ftp"),
    (1, "hostless"),
    (1, "port-out-of-range"),
    (1, "broken-ipv6"),
    (1, "scheme-relative"),
    (1, "file"),
)


def _never_reaches_a_host(text: str) -> bool:
    """Garbage ResponseURLs must not send the handler to a real host (no network here, and retries take 30 s)."""
    try:
        parts = urlsplit(text)
        return not (parts.scheme in ("http", "https") and parts.hostname)
    except ValueError:
        return True


garbage_urls = st.text(max_size=40).filter(_never_reaches_a_host)
id_percent_strings = st.sampled_from(["%", "%s", "%(message)s", "%2F", "100%", "%d%%", "arn:aws:%2e%2e"])
bad_request_types = st.one_of(
    st.sampled_from(
        ["create", "CREATE", "Replace", "Read", "", " Create", "Create\n", "Delete\x00", "\u202eCreate", "Créate"]
    ),
    st.text(max_size=40),
    wrong_types,
    huge_strings,
)
lookoutvision_wait_values = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "StartedAt": st.one_of(
                st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**40), 2**40), json_scalars
            ),
            "Invocation": st.one_of(st.integers(-(2**40), 2**40), json_scalars),
        },
    ),
)
top_level_extras = st.dictionaries(
    st.one_of(
        st.sampled_from([*CRHELPER_KEYS, *"LookoutVisionWait OldResourceProperties PhysicalResourceId Extra".split()]),
        st.text(max_size=12),
    ).filter(lambda key: key not in ("RequestType", "ResponseURL", "ResourceProperties", *ID_KEYS)),
    st.one_of(json_values, lookoutvision_wait_values),
    max_size=3,
)


@dataclass
class Case:
    """One generated event; ``url_kind`` says what to put in its ResponseURL once the test knows the recorder."""

    event: Any
    url_kind: str = "usable"
    garbage_url: str = ""
    # Valid events only: what the loopback API plays for the job, and the values it uses.
    outcome: str = ""
    project: str = ""
    job: str = ""
    component: str = ""
    status_message: str | None = None
    lambda_fails: bool = True
    log_level: str = "INFO"


ID_DEFAULTS: dict[str, st.SearchStrategy[str]] = {
    "StackId": st.just(STACK_ID),
    "RequestId": st.uuids().map(str),
    "LogicalResourceId": st.sampled_from(["ModelPackagingJob21DA863A", "Job2"]),
}
# One fault class per event (plus "mixed", where every part varies at once), so that each class, and each way of
# combining them, turns up many times in every run.
ENVELOPE_FAULTS = tuple(
    "none not-an-object request-type missing-id unicode-ids percent-ids huge-ids response-url extra-keys crhelper-keys "
    "mixed mixed".split()
)
missing_ids = st.one_of(st.just(MISSING), st.just(""), wrong_types)
odd_ids = st.one_of(unicode_names, id_percent_strings, huge_strings)
crhelper_extras = st.dictionaries(st.sampled_from(CRHELPER_KEYS), json_values, min_size=1, max_size=4)


@st.composite
def envelope_cases(draw: st.DrawFn) -> Case:
    log_level = draw(st.sampled_from(["INFO", "DEBUG"]))
    fault = draw(st.sampled_from(ENVELOPE_FAULTS))
    mixed = fault == "mixed"
    if fault == "not-an-object" or (mixed and draw(st.integers(0, 9)) == 0):
        non_object = draw(st.one_of(json_scalars, st.lists(json_values, max_size=3)))
        return Case(event=non_object, url_kind="none", log_level=log_level)
    valid_types = weighted((3, "Create"), (2, "Update"), (2, "Delete"))
    if fault == "request-type" or (mixed and draw(st.booleans())):
        request_type = draw(st.one_of(st.just(MISSING), bad_request_types))
    else:
        request_type = draw(valid_types)
    event: dict[str, Any] = {"RequestType": request_type, "ServiceToken": FUNCTION_ARN}
    for key, default in ID_DEFAULTS.items():
        event[key] = draw(default)
    if fault == "missing-id":
        event[draw(st.sampled_from(ID_KEYS))] = draw(missing_ids)
    elif fault == "unicode-ids":
        for key in draw(st.sets(st.sampled_from(ID_KEYS), min_size=1)):
            event[key] = draw(st.text(min_size=1, max_size=40) | unicode_names)
    elif fault == "percent-ids":
        for key in draw(st.sets(st.sampled_from(ID_KEYS), min_size=1)):
            event[key] = draw(id_percent_strings)
    elif fault == "huge-ids":
        for key in draw(st.sets(st.sampled_from(ID_KEYS), min_size=2)):
            event[key] = draw(huge_strings)
    elif mixed:
        for key in ID_KEYS:
            event[key] = draw(weighted((4, st.just(event[key])), (1, missing_ids), (1, odd_ids)))
    event["ResourceType"] = RESOURCE_TYPE
    event["ResourceProperties"] = {"ServiceToken": FUNCTION_ARN, "ProjectName": "pcb", "JobName": "pcb-v3-x86"}
    if request_type in ("Update", "Delete"):
        physical: Any = weighted((4, "pcb/pcb-v3-x86"), (1, MISSING), (1, wrong_types), (1, st.text(max_size=30)))
        event["PhysicalResourceId"] = draw(huge_strings if fault == "huge-ids" else physical)
    if fault == "extra-keys" or (mixed and draw(st.booleans())):
        event.update(draw(top_level_extras))
    if fault == "crhelper-keys":
        event.update(draw(crhelper_extras))
    event = {key: value for key, value in event.items() if value is not MISSING}
    if fault == "response-url" or mixed:
        url_kind = draw(URL_KINDS)
    else:
        url_kind = draw(weighted((8, "usable"), (1, URL_KINDS)))
    garbage = draw(garbage_urls) if url_kind == "text" else ""
    return Case(event=event, url_kind=url_kind, garbage_url=garbage, log_level=log_level)


@st.composite
def property_cases(draw: st.DrawFn) -> Case:
    request_type = draw(weighted((4, "Create"), (3, "Update"), (1, "Delete")))
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": FUNCTION_ARN,
        "StackId": STACK_ID,
        "RequestId": draw(st.uuids().map(str)),
        "LogicalResourceId": "ModelPackagingJob21DA863A",
        "ResourceType": RESOURCE_TYPE,
    }
    props = draw(resource_properties())
    if props is not MISSING:
        event["ResourceProperties"] = props
    if request_type in ("Update", "Delete"):
        physical = draw(
            weighted((3, "pcb/pcb-v3-x86"), (1, MISSING), (1, st.text(min_size=1, max_size=40)), (1, wrong_types))
        )
        if physical is not MISSING:
            event["PhysicalResourceId"] = physical
        if request_type == "Update" and draw(st.booleans()):
            event["OldResourceProperties"] = draw(
                st.one_of(resource_properties(), json_values).filter(lambda v: v is not MISSING)
            )
    return Case(event=event, log_level=draw(st.sampled_from(["INFO", "DEBUG"])))


OUTCOMES = tuple(
    "succeeded failed no-output running created unknown-status project-404 job-404 access-denied validation-400".split()
)


@st.composite
def valid_cases(draw: st.DrawFn) -> Case:
    project, job = draw(valid_projects), draw(valid_jobs)
    request_type = draw(weighted((5, "Create"), (3, "Update"), (1, "Delete")))
    component = draw(valid_components)
    props: dict[str, Any] = {"ServiceToken": FUNCTION_ARN, "ProjectName": project, "JobName": job}
    options = {
        "WaitForCompletion": weighted((4, MISSING), (1, True), (1, "true"), (2, False), (1, "false")),
        "WaitTimeoutSeconds": weighted((3, MISSING), (1, st.integers(60, 3300)), (1, st.integers(60, 3300).map(str))),
        "ExpectedComponentName": weighted((3, MISSING), (1, component), (1, valid_components)),
        "ServiceTimeout": weighted((3, MISSING), (1, "3000")),
    }
    for key, strategy in options.items():
        value = draw(strategy)
        if value is not MISSING:
            props[key] = value
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": FUNCTION_ARN,
        "StackId": STACK_ID,
        "RequestId": draw(st.uuids().map(str)),
        "LogicalResourceId": draw(st.sampled_from(["ModelPackagingJob21DA863A", "Job2", "J"])),
        "ResourceType": RESOURCE_TYPE,
        "ResourceProperties": props,
    }
    if request_type in ("Update", "Delete"):
        physical = draw(
            weighted((2, f"{project}/{job}"), (2, "pcb/old-job"), (1, st.text(min_size=1, max_size=40)), (1, MISSING))
        )
        if physical is not MISSING:
            event["PhysicalResourceId"] = physical
    return Case(
        event=event,
        outcome=draw(st.sampled_from(OUTCOMES)),
        project=project,
        job=job,
        component=component,
        status_message=draw(status_messages),
        lambda_fails=draw(st.booleans()),
        log_level=draw(st.sampled_from(["INFO", "DEBUG"])),
    )


# --- the bench: the synthesized function under awslambdaric, one invocation per event -----------------------------

# Appended to the copy of the asset that the valid events run on: a fast poll and backoff pace, so that a job still
# waiting is handed on after a few looks, not after 9 s.
FAST_PACE = {
    "model_packaging_job/waiting.py": "\nPOLL_INTERVAL_S = (0.01, 0.02)  # tests/runtime/test_fuzz.py\n",
    "model_packaging_job/outbound.py": "\nBACKOFF = Backoff(0.01, 0.05)  # tests/runtime/test_fuzz.py\n",
}
# With the template's budget (4 requests/s for its one job) a wait looks every 0.25-0.375 s; 100/s leaves FAST_PACE.
FAST_BUDGET = {"DESCRIBE_BUDGET_RPS": "100"}
ANSWER_LINE = "CloudFormation accepted the answer"  # the last line of an answered invocation


@dataclass
class Run:
    answers: list[tuple[bytes, dict[str, Any]]]
    put_attempts: int
    stray_paths: list[str]
    api_calls: list[tuple[str, str]]
    api_paths: list[str]
    lines: list[str]
    invokes: list[InvokeCall]
    invocation: Invocation
    hung: bool


class Bench:
    """One loopback API and ResponseURL, and the function at each log level (as LOG_LEVEL configures it), shared by
    the examples of a test; ``paced`` runs the copy of the asset with FAST_PACE."""

    def __init__(self, suite: str, functions: Functions, paced: bool) -> None:
        self.suite, self.api, self.recorder = suite, functions.api, functions.recorder
        self.functions, self.paced = functions, paced
        base, self.query = self.recorder.url.split("?", 1)
        self.base_path = urlsplit(base).path
        self.netloc_and_base = base.split("://", 1)[1]
        self.signature = self.query.rsplit("X-Amz-Signature=", 1)[1]
        self.secrets = ["X-Amz-Signature", "X-Amz-Credential", self.signature, self.base_path]
        self.events = self.answers = self.hangs = self.lines_checked = 0
        self.started = time.monotonic()

    def response_url(self, kind: str, token: str, garbage: str) -> Any:
        """The ResponseURL of one event; every URL-like shape carries the event's token and a presigned query."""
        rest = f"{self.netloc_and_base}/{token}?{self.query}"
        path_and_query = rest.split("/", 1)[1]
        shapes: dict[str, Any] = {
            "usable": f"http://{rest}",
            "usable-upper-scheme": f"HTTP://{rest}",
            "missing": MISSING,
            "none": MISSING,
            "null": None,
            "number": 443,
            "bool": True,
            "list": [f"http://{rest}"],
            "object": {"url": f"http://{rest}"},
            "empty": "",
            "text": garbage,
            "ftp": f"ftp://{rest}",
            "hostless": f"http:///{path_and_query}",
            "port-out-of-range": f"http://127.0.0.1:99999/{path_and_query}",
            "broken-ipv6": f"http://[::1/{path_and_query}",
            "scheme-relative": f"//{rest}",
            "file": f"file:///{path_and_query}",
        }
        return shapes[kind]

    def run(self, case: Case, token: str) -> Run:
        harness = self.functions.harness(case.log_level, self.paced)
        invoke_api, recorder = harness.invoke_api, self.recorder
        invoke_api.faults.clear()
        if case.lambda_fails:
            invoke_api.fail_next(3, 403, "AccessDeniedException", "not authorized to perform: lambda:InvokeFunction")
        with recorder._lock:
            answers_before, attempts_before = len(recorder.paths), recorder.attempts
        calls_before, paths_before = len(self.api.requests), len(self.functions.paths)
        invokes_before = len(invoke_api.calls)
        timeout_s = CONTEXT_TIMEOUT_S if case.outcome in WAITING else None
        invocation = harness.function.invoke(case.event, timeout_s=timeout_s)
        hung = not invocation.done.wait(HANG_LIMIT_S) or invocation.status == "timed_out"
        with recorder._lock:
            new = list(zip(recorder.paths, recorder.raw, recorder.bodies, strict=True))[answers_before:]
            attempts = recorder.attempts - attempts_before
        answers = [(raw, body) for path, raw, body in new if token in path]

        def lines() -> list[str]:
            return harness.function.log_lines([invocation.request_id])

        if answers:  # its last line is logged before the invocation returns: let the reader take it off the pipe
            wait_until(lambda: any(ANSWER_LINE in line for line in lines()), 5, "the answer's log line", poll_s=0.002)
        run = Run(
            answers=answers,
            put_attempts=attempts,
            stray_paths=[path for path, _, _ in new if token not in path],
            api_calls=[(r["project"], r["job"]) for r in self.api.requests[calls_before:]],
            api_paths=self.functions.paths[paths_before:],
            lines=lines(),
            invokes=invoke_api.calls[invokes_before:],
            invocation=invocation,
            hung=hung,
        )
        self.functions.tokens.append(token)
        self.events += 1
        self.answers += len(answers)
        self.hangs += int(hung)
        self.lines_checked += len(run.lines)
        return run

    def report(self) -> None:
        elapsed = time.monotonic() - self.started
        print(
            f"\nfuzz [{self.suite}]: {self.events} events, {self.answers} answers, {self.hangs} hangs, "
            f"{self.lines_checked} log lines checked, {elapsed:.1f} s"
        )
        reliability_report.record_fuzz(events=self.events, answers=self.answers, hangs=self.hangs)
        reliability_report.record_log_lines(self.lines_checked)


class Functions:
    """The function of the synthesized gate stack, at INFO and DEBUG, as synthesized and paced: one execution
    environment each, one loopback Lookout for Vision and ResponseURL for all, and an Invoke API that records a
    hand-off without running it (the continuation would wait for a job that never finishes)."""

    def __init__(self, app: SynthesizedApp, work: Path) -> None:
        self.app, self.work = app, work
        self.api, self.recorder = FakeLookoutVision(), ResponseRecorder()
        self.paths: list[str] = []  # every request the API saw, routed or not
        self.tokens: list[str] = []
        original = self.api._handle

        def handle(request: Any) -> None:
            self.paths.append(request.path)
            original(request)

        self.api._handle = handle  # type: ignore[method-assign]
        self._harnesses: dict[tuple[str, bool], LambdaHarness] = {}
        self._paced_root: Path | None = None

    def harness(self, log_level: str, paced: bool) -> LambdaHarness:
        key = (log_level, paced)
        if key not in self._harnesses:
            name = f"{log_level.lower()}{'-paced' if paced else ''}"
            if paced and self._paced_root is None:
                self._paced_root = prepare_task_root(self.app.function, self.work / "paced-task", FAST_PACE)
            harness = LambdaHarness(
                self.app.function,
                self.work / name,
                lookoutvision=self.api,
                task_root=self._paced_root if paced else None,
                max_concurrency=1,
                extra_environment={"LOG_LEVEL": log_level, **(FAST_BUDGET if paced else {})},
            ).__enter__()
            harness.invoke_api.queue = False
            harness.function.prewarm(1)
            # The first look of an environment makes its boto3 client; not within an event's half-second window.
            self.api.script("warm-up", "warm-up", [ok(description(project="warm-up", job="warm-up"))])
            with ResponseRecorder() as warm:
                event = make_event("Create", warm.url, properties("warm-up", "warm-up"))
                assert harness.function.invoke(event).done.wait(60) and warm.only["Status"] == "SUCCESS"
            self._harnesses[key] = harness
        return self._harnesses[key]

    def lines(self) -> list[str]:
        return [line for h in self._harnesses.values() for line in h.function.log_lines()]

    def close(self) -> None:
        for harness in self._harnesses.values():
            harness.__exit__()


@pytest.fixture(scope="module")
def functions(gate_app: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Functions]:
    functions = Functions(gate_app, tmp_path_factory.mktemp("fuzz"))
    with functions.api, functions.recorder:
        try:
            yield functions
        finally:
            functions.close()


@pytest.fixture
def bench(request: pytest.FixtureRequest, functions: Functions) -> Iterator[Bench]:
    suite = request.node.name.removeprefix("test_fuzz_")
    bench = Bench(suite, functions, paced=suite == "valid_events")
    with functions.api._lock:  # each test scripts its own jobs
        functions.api.scripts.clear()
        functions.api.projects.clear()
    with functions.recorder._lock:
        before = len(functions.recorder.paths)
    yield bench
    bench.report()
    with functions.recorder._lock:
        answers = len(functions.recorder.paths) - before
    assert answers == bench.answers, "an answer arrived after its event was done"


# --- checks --------------------------------------------------------------------------------------------------------


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value))


def _modest(event: dict[str, Any]) -> bool:
    """Whether the event's echoed identifiers leave room for a full answer in 4096 bytes."""
    return all(_json_bytes(event.get(key, "")) <= MODEST_ID_BYTES for key in (*ID_KEYS, "PhysicalResourceId"))


def check_run(bench: Bench, case: Case, run: Run, token: str, url: Any, usable: str) -> None:
    """What holds for every event, whatever it is."""
    invocation = run.invocation
    assert not run.hung, f"the invocation did not end within {HANG_LIMIT_S} s: {invocation.status}"
    assert invocation.status == "success", f"the handler ended {invocation.status}: {invocation.result[:500]!r}"
    assert not run.stray_paths, f"answers for other events arrived meanwhile: {run.stray_paths}"
    assert run.put_attempts == len(run.answers), "the ResponseURL got more PUTs than recorded answers"
    assert len(run.answers) <= 1, f"{len(run.answers)} answers for one event: {[b for _, b in run.answers]}"
    handed_off = [call.status for call in run.invokes] == [202]
    if usable == "yes":
        assert len(run.answers) + int(handed_off) == 1, "an answerable event got no answer"
    elif usable == "no":
        assert run.answers == [], "an event without a usable ResponseURL was answered"
    event = case.event if isinstance(case.event, dict) else {}
    for raw, body in run.answers:
        check_body(raw, body, event)
    # ../ and encoded names never reach the API: whatever reached it is a valid name, sent as such.
    assert len(run.api_paths) == len(run.api_calls), f"API requests outside the Describe route: {run.api_paths}"
    for project, job in run.api_calls:
        assert contract.PROJECT_NAME_RULE.problem(project) is None, f"ProjectName {project!r} reached the API"
        assert contract.JOB_NAME_RULE.problem(job) is None, f"JobName {job!r} reached the API"
    for path in run.api_paths:
        lowered = path.lower()
        assert ".." not in path and "%2f" not in lowered and "%2e" not in lowered and "%25" not in lowered, path
    check_logs(bench, run, token, url)


def check_body(raw: bytes, body: dict[str, Any], event: dict[str, Any]) -> None:
    assert len(raw) <= MAX_RESPONSE_BYTES, f"the answer is {len(raw)} bytes"
    assert json.loads(raw) == body
    assert set(body) == EXPECTED_BODY_KEYS, f"answer keys {sorted(body)}"
    assert body["Status"] in ("SUCCESS", "FAILED"), body["Status"]
    for key in ("Reason", "PhysicalResourceId", *ID_KEYS):
        assert isinstance(body[key], str), f"{key} is {type(body[key]).__name__}"
    assert body["PhysicalResourceId"], "an empty PhysicalResourceId"
    assert body["NoEcho"] is False
    assert isinstance(body["Data"], dict)
    for key in ID_KEYS:
        sent = event.get(key)
        if isinstance(sent, str):
            assert sent.startswith(body[key]), f"{key} {body[key]!r} is not the event's"
            if _modest(event):
                assert body[key] == sent, f"{key} {body[key]!r} is not the event's {sent!r}"
    if body["Status"] == "FAILED":
        reason = body["Reason"]
        assert reason.strip(), "a FAILED answer without a Reason"
        assert "\n" not in reason and "\r" not in reason and len(reason.splitlines()) == 1, f"multi-line {reason!r}"
        assert "Traceback" not in reason and 'File "' not in reason, f"a traceback in the Reason: {reason!r}"
        assert not reason.startswith("Internal error"), f"the event hit a bug of the handler: {reason!r}"


def check_logs(bench: Bench, run: Run, token: str, url: Any) -> None:
    """No line the invocation logged (telemetry frames, stdout and stderr) carries the URL or its secrets."""
    forbidden = [*bench.secrets, token]
    if isinstance(url, str) and token in url:
        forbidden += [url, urlsplit(url.replace("[", "")).path]
    for line in run.lines:
        for secret in forbidden:
            assert secret not in line, f"{secret[:60]!r} in log line {line[:300]!r}"


def assert_names(reason: str, words: set[str]) -> None:
    """The Reason says what was wrong: it names one of the event's actual problems."""
    head = reason.split("; supported:")[0]  # the list of supported properties names them all
    assert any(word in head for word in words), f"the Reason {reason!r} names none of {sorted(words)}"


def the_answer(run: Run) -> dict[str, Any]:
    assert len(run.answers) == 1, f"expected one answer, got {len(run.answers)}"
    return run.answers[0][1]


# --- the tests -----------------------------------------------------------------------------------------------------


def _usable(kind: str) -> str:
    return {"usable": "yes", "usable-upper-scheme": "either"}.get(kind, "no")


def _prepare(bench: Bench, case: Case) -> tuple[str, Any]:
    token = uuid.uuid4().hex
    url = bench.response_url(case.url_kind, token, case.garbage_url)
    if isinstance(case.event, dict):
        case.event.pop("ResponseURL", None)
        if url is not MISSING:
            case.event["ResponseURL"] = url
    # The event as the Lambda runtime decodes it (a surrogate pair written as two escapes becomes one character).
    case.event = json.loads(json.dumps(case.event))
    return token, url


def test_fuzz_event_envelope(bench: Bench) -> None:
    bench.api.script("pcb", "pcb-v3-x86", [ok(description("SUCCEEDED"))])

    @settings(max_examples=ENVELOPE_EXAMPLES, **FUZZ_SETTINGS)
    @given(case=envelope_cases())
    def check(case: Case) -> None:
        token, url = _prepare(bench, case)
        run = bench.run(case, token)
        event = case.event
        if not isinstance(event, dict):
            check_run(bench, case, run, token, url, "no")
            assert run.api_calls == [] and run.api_paths == []
            return
        usable = _usable(case.url_kind)
        check_run(bench, case, run, token, url, usable)
        problems = {key for key in ID_KEYS if not (isinstance(event.get(key), str) and event.get(key))}
        request_type = event.get("RequestType")
        if not (isinstance(request_type, str) and request_type in REQUEST_TYPES):
            problems.add("RequestType")
        if problems:
            assert run.api_paths == [], "a request the handler cannot process reached the API"
            for _, body in run.answers:
                assert body["Status"] == "FAILED"
                if _modest(event):
                    assert_names(body["Reason"], problems)
            return
        reserved = {key for key in CRHELPER_KEYS if key in event}
        if request_type == "Delete":
            assert run.api_paths == [], "a Delete called the API"
            for _, body in run.answers:
                if body["Status"] == "FAILED" and reserved:
                    assert_names(body["Reason"], {"CrHelper"})
                elif _modest(event):
                    assert body["Status"] == "SUCCESS", f"a Delete answered {body}"
            return
        if usable == "yes" and not (reserved and run.api_calls == [] and the_answer(run)["Status"] == "FAILED"):
            # Create or Update of a job that has SUCCEEDED: one Describe with the exact names, then SUCCESS. (An event
            # carrying crhelper's own keys may instead be refused outright, naming them; it may not skip the gate.)
            assert run.api_calls == [("pcb", "pcb-v3-x86")], f"the API saw {run.api_calls}"
            body = the_answer(run)
            if _modest(event):
                assert body["Status"] == "SUCCESS", f"{request_type} of a SUCCEEDED job answered {body}"
                assert body["PhysicalResourceId"] == "pcb/pcb-v3-x86"
                assert set(body["Data"]) == EXPECTED_DATA_KEYS
        elif reserved and run.answers:
            assert_names(the_answer(run)["Reason"], {"CrHelper"})
        else:
            assert run.api_calls in ([], [("pcb", "pcb-v3-x86")]), f"the API saw {run.api_calls}"

    check()


def test_fuzz_resource_properties(bench: Bench) -> None:
    @settings(max_examples=PROPERTIES_EXAMPLES, **FUZZ_SETTINGS)
    @given(case=property_cases())
    def check(case: Case) -> None:
        token, url = _prepare(bench, case)
        run = bench.run(case, token)
        check_run(bench, case, run, token, url, "yes")
        event = case.event
        body = the_answer(run)
        request_type = event["RequestType"]
        props = event.get("ResourceProperties", MISSING)
        old_id = event.get("PhysicalResourceId")
        if request_type == "Delete":
            assert run.api_paths == [], "a Delete called the API"
            assert body["Status"] == "SUCCESS", f"a Delete answered {body}"
            if isinstance(old_id, str) and old_id:
                assert body["PhysicalResourceId"] == old_id
            return
        bad, either = judge_properties(props)
        names_ok = isinstance(props, dict) and not ({"ProjectName", "JobName"} & bad)
        if not names_ok:
            assert run.api_paths == [], f"invalid names reached the API: {run.api_paths}"
        if bad or (either and not run.api_calls):
            assert run.api_paths == [], f"properties with problems {sorted(bad | either)} reached the API"
            assert body["Status"] == "FAILED", f"properties with problems {sorted(bad | either)} answered {body}"
            assert_names(body["Reason"], bad | either)
        else:
            project, job = props["ProjectName"], props["JobName"]
            assert run.api_calls == [(project, job)], f"the API saw {run.api_calls}, not {(project, job)}"
            # Nothing is scripted in this test: the loopback API answers 404 for every job.
            assert body["Status"] == "FAILED", body
            assert "does not exist" in body["Reason"] and project in body["Reason"], body["Reason"]
            if request_type == "Create":
                assert body["PhysicalResourceId"] == f"{project}/{job}"
        if body["Status"] == "FAILED" and request_type == "Update" and isinstance(old_id, str) and old_id:
            assert body["PhysicalResourceId"] == old_id, "a failed Update must keep the old physical id"

    check()


def _script(api: FakeLookoutVision, case: Case) -> None:
    project, job, component = case.project, case.job, case.component
    with api._lock:
        api.scripts.pop((project, job), None)
        if case.outcome == "project-404":
            api.projects.discard(project)
            for key in [key for key in api.scripts if key[0] == project]:
                del api.scripts[key]
    make: dict[str, Callable[[], Any]] = {
        "succeeded": lambda: ok(
            description(
                "SUCCEEDED", project, job, case.status_message, component_name=component, component_version="2.1.0"
            )
        ),
        "failed": lambda: ok(description("FAILED", project, job, case.status_message, component_name=component)),
        "no-output": lambda: ok(description("SUCCEEDED", project, job, case.status_message, with_output=False)),
        "running": lambda: ok(description("RUNNING", project, job, case.status_message)),
        "created": lambda: ok(description("CREATED", project, job, case.status_message)),
        "unknown-status": lambda: ok(description("STOPPING", project, job, case.status_message)),
        "access-denied": lambda: error(403, "AccessDeniedException", "User is not authorized to perform this action"),
        "validation-400": lambda: error(400, "ValidationException", "1 validation error detected"),
    }
    if case.outcome == "job-404":
        api.script(project, f"{job}-elsewhere", [ok(description("SUCCEEDED", project, f"{job}-elsewhere"))])
    elif case.outcome != "project-404":
        api.script(project, job, [make[case.outcome]()])


def test_fuzz_valid_events(bench: Bench) -> None:
    @settings(max_examples=VALID_EXAMPLES, **FUZZ_SETTINGS)
    @given(case=valid_cases())
    def check(case: Case) -> None:
        _script(bench.api, case)
        token, url = _prepare(bench, case)
        run = bench.run(case, token)
        check_run(bench, case, run, token, url, "yes")
        event, props = case.event, case.event["ResourceProperties"]
        project, job, request_type = case.project, case.job, event["RequestType"]
        old_id = event.get("PhysicalResourceId")
        if request_type == "Delete":
            assert run.api_paths == [], "a Delete called the API"
            body = the_answer(run)
            assert body["Status"] == "SUCCESS", body
            if isinstance(old_id, str):
                assert body["PhysicalResourceId"] == old_id
            return
        assert run.api_calls and set(run.api_calls) == {(project, job)}, f"the API saw {run.api_calls}"
        wait = props.get("WaitForCompletion", True) in (True, "true")
        expected = props.get("ExpectedComponentName")
        if case.outcome in WAITING and wait and not case.lambda_fails:
            # The wait continues in a new invocation of the same function, which will answer; this one must not.
            assert run.answers == []
            [invoke] = run.invokes
            assert (invoke.function_name, invoke.invocation_type, invoke.status) == (FUNCTION_ARN, "Event", 202)
            payload = invoke.event
            assert payload["RequestId"] == event["RequestId"] and payload["ResponseURL"] == url
            return
        if not (case.outcome in WAITING and wait):
            assert len(run.api_calls) == 1, f"a job that needs no waiting was described {len(run.api_calls)} times"
        body = the_answer(run)
        reason = body["Reason"]
        status_of = {"running": "RUNNING", "created": "CREATED", "unknown-status": "STOPPING"}
        if case.outcome == "succeeded" and expected is not None and expected != case.component:
            assert body["Status"] == "FAILED", body
            assert_names(reason, {"expected_component_name"})
        elif not wait and case.outcome in ("succeeded", "failed", "no-output", *status_of):
            assert body["Status"] == "SUCCESS", f"WaitForCompletion false must report the state, got {body}"
            assert (
                body["Data"]["Status"]
                == {"succeeded": "SUCCEEDED", "no-output": "SUCCEEDED", "failed": "FAILED", **status_of}[case.outcome]
            )
        elif case.outcome == "succeeded":
            assert body["Status"] == "SUCCESS", body
            assert body["Data"]["ComponentName"] == case.component
            assert body["Data"]["ComponentVersion"] == "2.1.0"
            assert body["Data"]["ComponentVersionArn"].startswith("arn:aws:greengrass:")
            assert body["Data"]["CreationTimestamp"] == "2026-11-29T15:00:00Z"
        else:
            assert body["Status"] == "FAILED", f"{case.outcome} answered {body}"
            must_say = {
                "failed": f"Model packaging job {project}/{job} FAILED:",
                "no-output": "no Greengrass output",
                "running": "lambda:InvokeFunction",
                "created": "lambda:InvokeFunction",
                "unknown-status": "STOPPING",
                "project-404": "does not exist",
                "job-404": "does not exist",
                "access-denied": "lookoutvision:DescribeModelPackagingJob",
                "validation-400": "rejected",
            }[case.outcome]
            assert_names(reason, {must_say})
            if case.outcome == "failed":
                # "Model packaging job <project>/<job> FAILED: <StatusMessage>", on one line, maybe shortened.
                message = json.loads(json.dumps(case.status_message)) or "(no StatusMessage)"
                # Control characters (U+0000-U+001F, U+007F-U+009F) become spaces before the runs collapse.
                printable = re.sub(
                    "[\x00-\x1f\x7f-\x9f]", " ", f"Model packaging job {project}/{job} FAILED: {message}"
                )
                full = " ".join(printable.split())
                kept = " ".join(reason.removesuffix(" ...(truncated)").split())
                assert full.startswith(kept) and len(kept) >= len(must_say), f"{reason!r} is not the job's own"
        if body["Status"] == "SUCCESS" or request_type == "Create":
            assert body["PhysicalResourceId"] == f"{project}/{job}"
        elif isinstance(old_id, str):
            assert body["PhysicalResourceId"] == old_id, "a failed Update must keep the old physical id"
        if body["Status"] == "SUCCESS":
            assert set(body["Data"]) == EXPECTED_DATA_KEYS
            assert all(isinstance(value, str) for value in body["Data"].values())
            assert (body["Data"]["ProjectName"], body["Data"]["JobName"]) == (project, job)

    check()


def test_fuzz_zz_no_log_line_of_the_fuzz_carries_a_response_url(functions: Functions) -> None:
    """Every line the fuzzed functions logged, against every event's token (a uuid4 hex in its ResponseURL's path):
    a line read off the pipe after its event was checked is checked here."""
    secrets = Bench("all", functions, paced=False).secrets
    tokens = set(functions.tokens)
    lines = functions.lines()
    assert len(lines) > len(tokens) > 1000
    leaks = [
        line for line in lines if tokens & set(re.findall("[0-9a-f]{32}", line)) or any(s in line for s in secrets)
    ]
    assert leaks == [], f"{len(leaks)} log lines carry a ResponseURL's secrets, e.g. {leaks[:3]}"
