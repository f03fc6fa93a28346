"""The one place that knows crhelper (pinned to contract.CRHELPER_VERSION): its CfnResource drives the request, with
its unsafe edges replaced.

- One answer per request: its timer and its answer path could both PUT. One claim under one lock makes the answer,
  the timer's and the hand-off exclude each other; the invocation returns only after a claimed answer was delivered
  (Lambda would freeze the timer's thread mid-PUT).
- A sender that gives up (``delivery``) and a body that fits 4096 bytes (``response``); no ResponseURL in any log
  line, from crhelper's first on (``redaction``).
- No poller: ``AWS_SAM_LOCAL`` is set while its constructor runs, so it makes none of the poller's clients (a third
  of the cold start), and its polling keys are dropped from every event (they could skip our functions).
- ``_log_setup`` escapes ``%`` in its %-style template and adds a root handler when the runtime has none;
  ``_set_timeout`` fires ``TIMER_MARGIN_S`` before the deadline (crhelper's 0.5 s is too late for a PUT).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

from crhelper import CfnResource, log_helper

from . import response as cr
from .delivery import send_response
from .redaction import install_redaction

logger = logging.getLogger(__name__)

# crhelper answers with "ran out of time" this long before the Lambda deadline if nothing else answered by then.
TIMER_MARGIN_S = 4.0
# At most this long for delivering one answer; always less than what the invocation has left.
SEND_BUDGET_S = 45.0
_CRHELPER_KEYS = frozenset({"CrHelperPoll", "CrHelperData", "CrHelperRule", "CrHelperPermission"})


class Responder(CfnResource):
    """crhelper.CfnResource with one answer per request, a bounded sender and a response that fits."""

    # Set by crhelper for each request; its type stubs leave them out.
    _event: dict[str, Any]
    _context: Any
    _log_level: str
    _boto_level: str

    def __init__(self, log_level: str = "INFO") -> None:
        previous = os.environ.get("AWS_SAM_LOCAL")
        os.environ["AWS_SAM_LOCAL"] = "true"
        try:
            super().__init__(json_logging=True, log_level=log_level, boto_level="ERROR", sleep_on_delete=0)
        finally:
            if previous is None:
                os.environ.pop("AWS_SAM_LOCAL", None)
            else:
                os.environ["AWS_SAM_LOCAL"] = previous
        self._answer_lock = threading.Lock()
        # Who speaks for this request: "" (nobody yet), "answer" or "hand-off" (a continuation). One claim wins.
        self._claim = ""
        self._delivered = threading.Event()

    def answer(self, status: str, reason: str, physical_id: str, data: dict[str, str]) -> str:
        self.Status, self.Reason, self.Data, self.PhysicalResourceId = status, reason, data, physical_id
        return physical_id

    def answered(self) -> bool:
        with self._answer_lock:
            return self._claim == "answer"

    def claim_hand_off(self) -> bool:
        with self._answer_lock:
            if self._claim:
                return False
            self._claim = "hand-off"
            return True

    def release_hand_off(self) -> None:
        with self._answer_lock:
            if self._claim == "hand-off":
                self._claim = ""

    def __call__(self, event: Any, context: Any) -> None:
        install_redaction(response_url=event.get("ResponseURL") if isinstance(event, dict) else None)
        problem = _precheck(event)
        if problem:
            logger.error("Cannot process the request: %s", problem)
            if isinstance(event, dict) and isinstance(event.get("ResponseURL"), str):
                deliver(event, context, cr.FAILED, f"Bad request: {problem}", "", {})
            return
        with self._answer_lock:
            self._claim = ""
            self._delivered.clear()
        super().__call__({k: v for k, v in event.items() if k not in _CRHELPER_KEYS}, context)
        with self._answer_lock:
            claim = self._claim
        if not claim:
            # crhelper returned without answering (a bug on either side): never leave the stack waiting.
            self._send(cr.FAILED, "The handler ended without an answer; see the function's log")
        if claim != "hand-off":
            self._delivered.wait(max(0.0, context.get_remaining_time_in_millis() / 1000.0 - 0.5))

    def _log_setup(self, event: dict[str, Any], context: Any) -> None:
        fields = {key: event.get(key) for key in ("RequestType", "StackId", "RequestId", "LogicalResourceId")}
        fields["aws_request_id"] = getattr(context, "aws_request_id", "")
        if not logging.root.handlers:
            logging.root.addHandler(logging.StreamHandler(sys.stderr))
        safe = {key: str(value).replace("%", "%%") for key, value in fields.items()}
        log_helper.setup(self._log_level, boto_level=self._boto_level, **safe)

    def _set_timeout(self) -> None:
        remaining = self._context.get_remaining_time_in_millis() / 1000.0
        self._timer = threading.Timer(max(0.0, remaining - TIMER_MARGIN_S), self._timeout)
        self._timer.daemon = True
        self._timer.start()

    def _timeout(self) -> None:
        logger.error("The invocation is about to time out without an answer; answering FAILED")
        self._send(cr.FAILED, "The handler ran out of time before it could answer; see the function's log")

    def _send(self, status: str | None = None, reason: str = "", send_response: Any = None) -> None:
        with self._answer_lock:
            if self._claim:
                logger.info("Not answering: this request is already answered or handed off")
                return
            self._claim = "answer"
        event, context = self._event, self._context
        try:
            final_reason = str(reason if status else self.Reason)
            physical_id, data = str(self.PhysicalResourceId or ""), dict(self.Data or {})
            deliver(event, context, status or self.Status or cr.FAILED, final_reason, physical_id, data)
        except Exception:  # we claimed the answer, so we must still give one
            logger.exception("Building the answer failed; answering FAILED with a minimal body")
            deliver(event, context, cr.FAILED, "The handler could not build its answer", "", {})
        finally:
            self._delivered.set()


def deliver(
    event: dict[str, Any], context: Any, status: str, reason: str, physical_id: str, data: dict[str, str]
) -> bool:
    """Build, fit and PUT the answer; an empty ``physical_id`` is CloudFormation's or a stable stand-in."""
    body = cr.build_response(event, status, reason, physical_id or cr.fallback_physical_id(event), data)
    encoded = cr.encode_response(body)
    remaining = context.get_remaining_time_in_millis() / 1000.0 if context else SEND_BUDGET_S
    budget = max(0.5, min(SEND_BUDGET_S, remaining - 1.0))
    sent = json.loads(encoded)
    # The log's name for each field of the answer as sent (after any shortening).
    shown = {"answer": "Status", "reason": "Reason", "physicalResourceId": "PhysicalResourceId"}
    logger.info(json.dumps({**{name: sent.get(key) for name, key in shown.items()}, "bytes": len(encoded)}))
    return send_response(event.get("ResponseURL"), encoded, deadline=time.monotonic() + budget)


def _precheck(event: Any) -> str | None:
    """Why crhelper cannot handle this event (it gets a direct answer, or none without a ResponseURL), or None."""
    if not isinstance(event, dict):
        return f"the event must be a JSON object, got {type(event).__name__}"
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        if not isinstance(event.get(key), str) or not event.get(key):
            return f"the event has no {key}"
    request_type = event.get("RequestType")
    if not isinstance(request_type, str) or request_type not in cr.REQUEST_TYPES:
        return f"unsupported RequestType {str(request_type)[:40]!r}; expected Create, Update or Delete"
    if not isinstance(event.get("ResponseURL"), str):
        return "the event has no ResponseURL, so nobody can be answered"
    return None
