"""crhelper is pinned, and the adapter overrides some of its internals: a different release must fail here, loudly,
before anything subtler breaks."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import logging
import re

import pytest
from crhelper import CfnResource, log_helper
from support import FakeContext, ResponseRecorder, make_event

from cdk_lookoutvision_packaging import _vendor
from cdk_lookoutvision_packaging_handler import contract
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
        body = recorder.only
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
