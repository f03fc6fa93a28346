"""crhelper is pinned, and the adapter overrides some of its internals: a different release must fail here, loudly,
before anything subtler breaks."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import logging
import os
import re
import sys
import threading
import time

import boto3
import pytest
from crhelper import CfnResource, log_helper
from support import FakeContext, ResponseRecorder, make_event

from cdk_lookoutvision_packaging import _vendor
from cdk_lookoutvision_packaging_handler import contract
from cdk_lookoutvision_packaging_handler import crhelper_adapter as adapter
from cdk_lookoutvision_packaging_handler.crhelper_adapter import Responder
from cdk_lookoutvision_packaging_handler.response import fallback_physical_id

# Every crhelper function the adapter overrides (the CfnResource internals) or calls (the constructor, the dispatch
# in __call__, the create/update/delete decorators, log_helper.setup), with its signature in the pinned release (a
# default that is a function shows as <function name>).
OVERRIDDEN = {
    "__init__": "(self, json_logging=False, log_level='DEBUG', boto_level='ERROR', polling_interval=2, "
    "sleep_on_delete=120, ssl_verify=None)",
    "__call__": "(self, event, context)",
    "_log_setup": "(self, event, context)",
    "_set_timeout": "(self)",
    "_timeout": "(self)",
    "_send": "(self, status=None, reason='', send_response=<function _send_response>)",
}
CALLED = {
    "CfnResource.create": (CfnResource.create, "(self, func)"),
    "CfnResource.update": (CfnResource.update, "(self, func)"),
    "CfnResource.delete": (CfnResource.delete, "(self, func)"),
    "log_helper.setup": (
        log_helper.setup,
        "(level='DEBUG', formatter_cls=<class 'crhelper.log_helper.JsonFormatter'>, boto_level=None, **kwargs)",
    ),
}

# sha256 of crhelper 2.0.12's modules, as the asset bundles them.
PINNED_MODULES = {
    "__init__.py": "552bc753630a80ff7a0c74835d1d4e6319db0bc8fbc9fb95859b9b04b53b3e7b",
    "log_helper.py": "d7c9f858a9468315cbfe28983ea13c756bfd4d6e2c3d973801ede9c7975b1e66",
    "resource_helper.py": "44f57c03a2b1665ef47b2f0d2360584b79dcefc33d3d0881906a22f0d1a8f724",
    "utils.py": "bf8e833bf1fed51be85b40691e686606214710a9d9acb305d7940d885d5ef338",
}


def _signature(function: object) -> str:
    return re.sub(r"<function (\S+) at 0x[0-9a-f]+>", r"<function \1>", str(inspect.signature(function)))  # type: ignore[arg-type]


def test_the_installed_crhelper_is_the_pinned_release() -> None:
    assert importlib.metadata.version("crhelper") == contract.CRHELPER_VERSION


def test_the_bundled_crhelper_is_the_pinned_release_byte_for_byte() -> None:
    bundled = _vendor.crhelper_dir()
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(bundled.glob("*.py"))}
    assert digests == PINNED_MODULES


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_each_overridden_internal_keeps_its_pinned_signature(name: str) -> None:
    assert _signature(getattr(CfnResource, name)) == OVERRIDDEN[name], (
        f"crhelper's CfnResource.{name} changed; re-check crhelper_adapter.Responder.{name} against it"
    )


@pytest.mark.parametrize("name", sorted(CALLED))
def test_each_crhelper_function_the_adapter_calls_keeps_its_pinned_signature(name: str) -> None:
    function, signature = CALLED[name]
    assert _signature(function) == signature, f"crhelper's {name} changed; re-check crhelper_adapter's call of it"


def test_the_responder_overrides_exactly_the_pinned_internals() -> None:
    overridden = {name for name in vars(Responder) if name in vars(CfnResource) and callable(vars(CfnResource)[name])}
    assert overridden == set(OVERRIDDEN)


def test_a_claimed_answer_is_the_request_s_answer_and_leaves_no_hand_off() -> None:
    responder = Responder()
    assert responder.claim_hand_off() and not responder.answered(), "a hand-off is not an answer"
    responder.release_hand_off()
    # The ResponseURL refuses the connection: the answer is claimed, delivered or not.
    responder._event, responder._context = make_event(response_url="http://127.0.0.1:9/r"), FakeContext(1.5)
    responder._send("FAILED", "the timer's answer")
    assert responder.answered() and not responder.claim_hand_off()


def test_the_timer_fires_its_margin_before_the_deadline_and_never_keeps_the_process_alive() -> None:
    responder = Responder()
    for remaining_s, fires_after_s in ((100.0, 96.0), (1.0, 0.0)):
        responder._context = FakeContext(remaining_s)
        responder._set_timeout()
        timer = responder._timer
        timer.cancel()
        assert (timer.interval, timer.daemon, timer.function) == (
            pytest.approx(fires_after_s, abs=0.05),
            True,
            responder._timeout,
        )


def test_an_answer_that_cannot_be_built_is_still_given_as_a_minimal_failed() -> None:
    with ResponseRecorder() as recorder:
        responder = Responder()
        responder._event, responder._context = make_event(response_url=recorder.url), FakeContext(30.0)
        responder.Status, responder.Reason, responder.Data = "SUCCESS", "", {"Unencodable": object()}
        responder._send()
        [body] = recorder.bodies
        # The timer can fire before the function named the resource: the answer names a stable stand-in.
        responder._claim, responder.PhysicalResourceId, responder.Data = "", None, {}
        responder._send("FAILED", "the timer's answer")
        early = recorder.bodies[-1]
    event = responder._event
    assert (early["Reason"], early["PhysicalResourceId"]) == ("the timer's answer", fallback_physical_id(event))
    assert (body["Status"], body["Reason"], body["Data"]) == ("FAILED", "The handler could not build its answer", {})
    assert body["PhysicalResourceId"] == fallback_physical_id(event)


def test_the_request_s_own_response_url_is_kept_out_of_the_log_even_without_signing_parameters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "http://127.0.0.1:9/private-answer-path?token=abc"
    with caplog.at_level(logging.INFO):
        Responder()(make_event(request_type="Replace", response_url=url), FakeContext(2.0))
        logging.getLogger("any").info("answering %s", url)
    assert "private-answer-path" not in caplog.text and "<redacted>" in caplog.text


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (["Create"], "the event must be a JSON object, got list"),
        ({**make_event(), "StackId": ""}, "the event has no StackId"),
        (make_event(request_type="R" * 50), f"unsupported RequestType {'R' * 40!r}; expected Create, Update or Delete"),
        ({**make_event(), "ResponseURL": None}, "the event has no ResponseURL, so nobody can be answered"),
    ],
)
def test_an_event_crhelper_cannot_handle_is_refused_saying_why(event: object, problem: str) -> None:
    assert adapter._precheck(event) == problem


def sent_budgets(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, object], float]]:
    """Each answer deliver sends instead of PUTting it: its body and how long it may take."""
    sent: list[tuple[dict[str, object], float]] = []

    def send(url: str, encoded: bytes, deadline: float) -> bool:
        sent.append((json.loads(encoded), deadline - time.monotonic()))
        return True

    monkeypatch.setattr(adapter, "send_response", send)
    return sent


def test_the_put_may_take_what_the_invocation_has_left_less_a_second_within_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = sent_budgets(monkeypatch)
    for context in (FakeContext(30.0), FakeContext(1.2), None, FakeContext(100.0)):
        adapter.deliver(make_event(), context, "SUCCESS", "", "pcb/j", {})
    budgets = [budget for _, budget in sent]
    assert budgets == [
        pytest.approx(b, abs=0.01) for b in (29.0, 0.5, adapter.SEND_BUDGET_S - 1, adapter.SEND_BUDGET_S)
    ]
    # A bad request is answered at once, and the timer's or the handler's answer too, within the invocation's time.
    sent.clear()
    replace = make_event(request_type="Replace")
    Responder()(replace, FakeContext(1.2))
    responder = Responder()
    responder._event, responder._context = make_event(), FakeContext(1.2)
    responder._send("FAILED", "the timer's answer")
    [(refused, refused_within), (_, timed_out_within)] = sent
    assert (refused["Status"], refused["PhysicalResourceId"]) == ("FAILED", fallback_physical_id(replace))
    assert refused["Reason"] == "Bad request: unsupported RequestType 'Replace'; expected Create, Update or Delete"
    assert (refused_within, timed_out_within) == (pytest.approx(0.5, abs=0.01), pytest.approx(0.5, abs=0.01))


def test_crhelper_returning_without_an_answer_is_answered_failed_and_an_answer_under_way_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent, claims = sent_budgets(monkeypatch), iter(["", "answer"])

    def returns_without_answering(self: Responder, event: object, context: object) -> None:
        self._event, self._context, self._claim = event, context, next(claims)

    monkeypatch.setattr(CfnResource, "__call__", returns_without_answering)
    Responder()(make_event(), FakeContext(30.0))
    [(body, _)] = sent
    assert (body["Status"], body["Reason"]) == ("FAILED", "The handler ended without an answer; see the function's log")
    # Another thread (the timer) claimed the answer and is still sending it: wait for it, until half a second is left.
    calls = threading.Thread(target=Responder(), args=(make_event(), FakeContext(0.8)), daemon=True)
    started = time.monotonic()
    calls.start()
    calls.join(3.0)
    assert 0.2 < time.monotonic() - started < 0.6 and len(sent) == 1


def test_the_log_is_set_up_on_a_handler_of_its_own_when_the_runtime_gave_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    boto = logging.getLogger("boto")
    monkeypatch.setattr(boto, "level", logging.NOTSET)
    Responder(log_level="INFO")._log_setup(make_event(request_type="Create") | {"RequestId": "r%d-50%"}, None)
    [handler] = logging.root.handlers
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
    assert (logging.root.level, boto.level) == (logging.INFO, logging.ERROR)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    line = json.loads(handler.format(record))
    assert (line["RequestId"], line["RequestType"], line["message"]) == ("r%d-50%", "Create", "hello")


@pytest.mark.parametrize("previous", [None, "1"])
def test_crhelper_makes_no_clients_logs_json_and_leaves_the_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch, previous: str | None
) -> None:
    made: list[object] = []
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: made.append(args))
    monkeypatch.setattr(logging.root, "handlers", [logging.NullHandler()])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    if previous is None:
        monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    else:
        monkeypatch.setenv("AWS_SAM_LOCAL", previous)
    responder = Responder()
    assert (made, os.environ.get("AWS_SAM_LOCAL"), responder._sleep_on_delete) == ([], previous, 0)
    assert isinstance(logging.root.handlers[0].formatter, log_helper.JsonFormatter)
    assert (logging.root.level, logging.getLogger("boto").level, responder._claim) == (logging.INFO, logging.ERROR, "")
