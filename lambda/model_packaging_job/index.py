"""Lambda entry point of Custom::LookoutVisionModelPackagingJob: crhelper glue around packaging_job and custom_resource.

crhelper drives the request lifecycle. Its unsafe edges are filed off here: exactly one answer per request (its
timeout timer and its error path could otherwise both answer), a sender that gives up before the Lambda deadline
(its own retries forever), responses that fit 4096 bytes, JSON logs at INFO without the ResponseURL, and no polling
rule (a long wait continues in a fresh invocation of this same function instead).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

# botocore dropped lookoutvision in 1.40.61; the asset carries the model under models/. Put it on the data path
# before any boto3 session exists, keeping whatever path the environment already has.
_MODELS = Path(__file__).resolve().parent / "models"
if _MODELS.is_dir():
    _paths = [p for p in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if p]
    if str(_MODELS) not in _paths:
        os.environ["AWS_DATA_PATH"] = os.pathsep.join([str(_MODELS), *_paths])

import boto3  # noqa: E402
import custom_resource as cr  # noqa: E402
import packaging_job as pj  # noqa: E402
from botocore.config import Config  # noqa: E402
from crhelper import CfnResource, log_helper  # noqa: E402

logger = logging.getLogger("model_packaging_job")

REGION = os.environ.get("AWS_REGION", "")


def lookoutvision_client(**kwargs: Any) -> Any:
    """A Lookout for Vision client whose calls fail fast: our wait loop owns retries (with jitter and backoff across
    the whole wait), so botocore makes one attempt per call. AWS_ENDPOINT_URL_LOOKOUTVISION is honoured by botocore."""
    return boto3.session.Session().client(
        pj.SERVICE_NAME, region_name=REGION or None, config=pj.client_config(), **kwargs
    )


class _LazyClient:
    """Creates the client on first use, inside a request: if this botocore cannot load the lookoutvision model,
    the error becomes that request's FAILED answer (naming the model) instead of an import error nobody answers."""

    _client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = lookoutvision_client()
        return getattr(self._client, name)


LOOKOUTVISION: Any = _LazyClient()
_lambda_client: Any = None

# crhelper answers with "timed out" this long before the Lambda deadline if nothing else answered by then.
TIMER_MARGIN_S = 4.0
# At most this long for delivering one answer; always less than what the invocation has left.
SEND_BUDGET_S = 45.0
# Handing the wait on: at most this many Invoke attempts, within this long. Only attempts that cannot have reached
# Lambda, or that Lambda refused outright, are repeated (an asynchronous Invoke is not idempotent).
HANDOFF_ATTEMPTS = 3
HANDOFF_BUDGET_S = 30.0


def _lambda() -> Any:
    global _lambda_client
    if _lambda_client is None:
        _lambda_client = boto3.session.Session().client(
            "lambda",
            region_name=REGION or None,
            # One attempt per call: botocore would retry a read timeout, and so queue the same continuation twice.
            config=Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 1}),
        )
    return _lambda_client


class _Helper(CfnResource):
    """crhelper.CfnResource with one answer per request, a bounded sender and a response that fits."""

    # Set by crhelper for each request; its type stubs leave them out.
    _event: dict[str, Any]
    _context: Any
    _log_level: str
    _boto_level: str
    _sam_local: str | None

    def __init__(self) -> None:
        # crhelper's constructor creates lambda, events and logs clients for its EventBridge poller, which we never
        # use; they cost about a third of the cold start. It skips them when AWS_SAM_LOCAL is set, and reads that
        # variable nowhere else but for polling, which we do not enable.
        previous = os.environ.get("AWS_SAM_LOCAL")
        os.environ["AWS_SAM_LOCAL"] = "true"
        try:
            super().__init__(
                json_logging=True,
                log_level=os.environ.get("LOG_LEVEL", "INFO"),
                boto_level="ERROR",
                sleep_on_delete=0,
            )
        finally:
            if previous is None:
                os.environ.pop("AWS_SAM_LOCAL", None)
            else:
                os.environ["AWS_SAM_LOCAL"] = previous
        self._sam_local = previous
        self._answer_lock = threading.Lock()
        # Who speaks for this request: "" (nobody yet), "answer" (this invocation answered or is answering),
        # "hand-off" (a continuation is being started, or was). One claim wins; the timer, the handler and the
        # fallback all go through it.
        self._claim = ""
        # Set once the claimed answer was delivered (or given up on): the invocation must not end before, or Lambda
        # freezes the timer's thread halfway through its PUT.
        self._delivered = threading.Event()

    def begin(self) -> None:
        with self._answer_lock:
            self._claim = ""
            self._delivered.clear()

    def wait_for_delivery(self, context: Any) -> None:
        """Return once an answer claimed by any thread of this invocation has been sent, or time is up."""
        with self._answer_lock:
            answering = self._claim == "answer"
        if answering:
            self._delivered.wait(max(0.0, context.get_remaining_time_in_millis() / 1000.0 - 0.5))

    def claim_hand_off(self) -> bool:
        """Claim the request for a continuation; False when an answer was claimed first (the timer's)."""
        with self._answer_lock:
            if self._claim:
                return False
            self._claim = "hand-off"
            return True

    def release_hand_off(self) -> None:
        """No continuation was started: this invocation answers after all."""
        with self._answer_lock:
            if self._claim == "hand-off":
                self._claim = ""

    @property
    def finished(self) -> bool:
        with self._answer_lock:
            return bool(self._claim)

    def _log_setup(self, event: dict[str, Any], context: Any) -> None:
        # crhelper puts these ids into its JSON formatter's %-style template: a "%" in one would break every log
        # line of the request, so escape them.
        def safe(value: object) -> str:
            return str(value).replace("%", "%%")

        # crhelper's set-up formats only the root logger's existing handlers. AWS Lambda's Python runtime installs
        # one; a runtime that does not (MiniStack's worker) would drop every line below WARNING.
        if not logging.root.handlers:
            logging.root.addHandler(logging.StreamHandler(sys.stderr))
        log_helper.setup(
            self._log_level,
            boto_level=self._boto_level,
            RequestType=safe(event.get("RequestType")),
            StackId=safe(event.get("StackId")),
            RequestId=safe(event.get("RequestId")),
            LogicalResourceId=safe(event.get("LogicalResourceId")),
            aws_request_id=safe(getattr(context, "aws_request_id", "")),
        )

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
        try:
            self._deliver(status, reason)
        finally:
            self._delivered.set()

    def _deliver(self, status: str | None, reason: str) -> None:
        event = self._event
        try:
            final_status = status or self.Status or cr.FAILED
            final_reason = str(reason if status else self.Reason)
            physical_id = str(self.PhysicalResourceId or "") or fallback_physical_id(event)
            body = cr.build_response(event, final_status, final_reason, physical_id, dict(self.Data or {}))
            deliver(event, body, self._context)
        except Exception:  # we claimed the answer, so we must still give one
            logger.exception("Building the answer failed; answering FAILED with a minimal body")
            minimal = cr.build_response(
                event, cr.FAILED, "The handler could not build its answer", fallback_physical_id(event), {}
            )
            deliver(event, minimal, self._context)


def fallback_physical_id(event: dict[str, Any]) -> str:
    """A physical id for an answer that has none of its own: the one CloudFormation sent, or a stable stand-in."""
    existing = event.get("PhysicalResourceId")
    if isinstance(existing, str) and existing:
        return existing
    logical = event.get("LogicalResourceId")
    request = event.get("RequestId")
    return f"{logical if isinstance(logical, str) and logical else 'resource'}-{str(request)[:8]}"


def deliver(event: dict[str, Any], body: dict[str, Any], context: Any) -> bool:
    encoded = cr.encode_response(body)
    remaining = context.get_remaining_time_in_millis() / 1000.0 if context else SEND_BUDGET_S
    budget = max(0.5, min(SEND_BUDGET_S, remaining - 1.0))
    logger.info(
        json.dumps(
            {
                "answer": json.loads(encoded).get("Status"),
                "reason": json.loads(encoded).get("Reason"),
                "physicalResourceId": json.loads(encoded).get("PhysicalResourceId"),
                "bytes": len(encoded),
            }
        )
    )
    return cr.send_response(event.get("ResponseURL"), encoded, deadline=time.monotonic() + budget)


helper = _Helper()


@helper.create
@helper.update
def create_or_update(event: dict[str, Any], context: Any) -> str:
    try:
        return _gate(event, context)
    except Exception as error:  # our own bug: answer with a clean line, keep the traceback in the log only
        logger.exception("Unexpected error in the handler")
        helper.Status = cr.FAILED
        helper.Reason = (
            f"Internal error in the ModelPackagingJob handler ({type(error).__name__}); "
            f"see log stream {getattr(context, 'log_stream_name', '')}"
        )
        return str(helper.PhysicalResourceId or "") or fallback_physical_id(event)


@helper.delete
def delete(event: dict[str, Any], context: Any) -> str:
    # We never own the packaging job, so there is nothing to clean up, whatever physical id the Create left.
    logger.info("Delete: nothing to clean up; the packaging job belongs to Lookout for Vision")
    return fallback_physical_id(event)


def _gate(event: dict[str, Any], context: Any) -> str:
    """Describe and wait; set the answer on the helper and return the physical id crhelper answers with.

    A failed Create answers with <project>/<job> when the names are valid; a failed Update keeps the old id, so that
    CloudFormation never mistakes a failure for a replacement.
    """
    request_type = event["RequestType"]
    old_id = fallback_physical_id(event)
    helper.PhysicalResourceId = old_id
    try:
        props = cr.parse_properties(event.get("ResourceProperties"))
    except cr.PropertyError as error:
        helper.Status, helper.Reason = cr.FAILED, f"Invalid properties: {error}"
        helper.Data = cr.empty_data()
        return old_id
    failed_id = props.physical_id if request_type == "Create" else old_id
    if request_type == "Create":
        helper.PhysicalResourceId = props.physical_id
    now = time.time()
    try:
        state = cr.wait_state(event, now, props)
    except cr.StateError as error:
        helper.Status, helper.Reason = cr.FAILED, f"Invalid continuation of the wait: {error}"
        helper.Data = cr.empty_data(props)
        return failed_id
    budget, budget_problem = cr.poll_budget(os.environ)
    if budget_problem:
        logger.warning(json.dumps({"pollBudget": budget_problem}))
    remaining_s = context.get_remaining_time_in_millis() / 1000.0
    logger.info(
        json.dumps(
            {
                "request": request_type,
                "logicalResourceId": event.get("LogicalResourceId"),
                "job": props.physical_id,
                "waitForCompletion": props.wait_for_completion,
                "waitTimeoutSeconds": props.wait_timeout_s,
                "invocation": state.invocation,
                "waitedSeconds": round(now - state.started_at, 1),
                "pollShareSeconds": round(budget.share_s, 2) if budget else None,
            }
        )
    )
    deadline, hand_off_at = cr.wait_window(props, state, now, remaining_s)
    needed_s = cr.needed_invocation_s(pj.poll_interval(budget)[1])
    # An invocation too short to wait in takes one look, and answers FAILED if the job still needs waiting for:
    # handing on at once would chain invocations as fast as Lambda starts them.
    too_short = deadline > hand_off_at and remaining_s < needed_s
    yield_at: float | None = hand_off_at
    if too_short:
        deadline, yield_at = now, None

    def on_status(status: str, description: dict[str, Any]) -> None:
        logger.info(
            json.dumps(
                {"job": props.physical_id, "status": status, "waitedSeconds": round(time.time() - state.started_at, 1)}
            )
        )

    def on_retry(problem: pj.ApiProblem, delay: float) -> None:
        logger.warning(json.dumps({"job": props.physical_id, "retrying": problem.code, "inSeconds": round(delay, 1)}))

    result = pj.wait_for_job(
        LOOKOUTVISION,
        props.project_name,
        props.job_name,
        deadline=deadline,
        yield_at=yield_at,
        wait=props.wait_for_completion,
        region=REGION,
        on_status=on_status,
        on_retry=on_retry,
        budget=budget,
        first_call=state.invocation == 1,
        first_look_at=state.next_look_at,
    )
    if too_short and result.outcome == "timeout":
        helper.Status, helper.Reason = cr.FAILED, cr.too_short_reason(props, remaining_s, needed_s)
        helper.Data = cr.result_data(props, result)
        return failed_id
    if result.outcome == "yield":
        refusal = _continue_elsewhere(event, context, state, result.next_look_at)
        if refusal is None:
            return props.physical_id
        helper.Data = cr.result_data(props, result)
        helper.Status = cr.FAILED
        helper.Reason = (
            f"Could not continue waiting for model packaging job {props.physical_id} in a new invocation "
            f"(last status {result.status or 'unknown'}): {refusal}"
        )
        return failed_id
    decision = cr.decide(props, result, time.time() - state.started_at)
    helper.Data = decision.data
    if decision.status == cr.FAILED:
        helper.Status, helper.Reason = cr.FAILED, decision.reason
        return failed_id
    return props.physical_id


def _continue_elsewhere(
    event: dict[str, Any], context: Any, state: cr.WaitState, next_look_at: float | None
) -> str | None:
    """Hand the wait to a new invocation of this function. Returns None when the wait is handed on (or may have
    been: then it must not be started twice), or why Lambda refused it, for this invocation's FAILED answer.

    Claiming the hand-off and claiming the answer are one decision: when the timer answered first, nothing is
    invoked, and once the hand-off is claimed, the timer stays silent.
    """
    if not helper.claim_hand_off():
        logger.info("Not handing the wait on: this request was already answered")
        return None
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    payload = json.dumps(cr.continuation_event(event, state, next_look_at)).encode("utf-8")
    give_up_at = time.monotonic() + HANDOFF_BUDGET_S
    attempt = 0
    while True:
        attempt += 1
        try:
            _lambda().invoke(FunctionName=context.invoked_function_arn, InvocationType="Event", Payload=payload)
        except (EndpointConnectionError, ConnectTimeoutError) as error:
            # Refused, unresolvable or unreachable while connecting: the request was never sent.
            problem = f"{type(error).__name__} connecting to Lambda"
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code") or "")
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if status >= 500:
                _handed_off_maybe(f"Lambda answered {code or 'an error'} ({status})", state)
                return None
            if code == "AccessDeniedException":
                helper.release_hand_off()
                return f"{code}: check that the function may lambda:InvokeFunction itself"
            if status != 429 and code != "TooManyRequestsException":
                helper.release_hand_off()
                return f"Lambda refused the Invoke with {code or 'an error'} ({status})"
            problem = f"{code or 'throttled'} ({status})"
        except Exception as error:  # noqa: BLE001 - a read timeout, a connection closed after sending, ...
            _handed_off_maybe(type(error).__name__, state)
            return None
        else:
            logger.info(json.dumps({"handedOffTo": "invocation", "invocation": state.invocation + 1}))
            return None
        delay = min(2.0**attempt, give_up_at - time.monotonic())
        logger.warning(json.dumps({"handOffRetry": problem, "attempt": attempt}))
        if attempt == HANDOFF_ATTEMPTS or delay <= 0:
            helper.release_hand_off()
            return f"Lambda did not take the Invoke after {attempt} attempts ({problem})"
        time.sleep(delay)


def _handed_off_maybe(problem: str, state: cr.WaitState) -> None:
    """An Invoke whose outcome is unknown: Lambda may have queued it. A second attempt could start a second chain,
    and a FAILED answer could contradict the continuation's, so this invocation stays silent; if no continuation
    runs, CloudFormation fails the resource at its ServiceTimeout."""
    logger.error(
        json.dumps(
            {
                "handOffUnknown": problem,
                "invocation": state.invocation + 1,
                "note": "not retried: Lambda may have queued it; if not, the resource fails at its ServiceTimeout",
            }
        )
    )
    return None


_CRHELPER_KEYS = frozenset({"CrHelperPoll", "CrHelperData", "CrHelperRule", "CrHelperPermission"})


def _precheck(event: Any) -> str | None:
    """Why crhelper cannot handle this event, or None. Events it cannot parse get a direct answer or none at all."""
    if not isinstance(event, dict):
        return f"the event must be a JSON object, got {type(event).__name__}"
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        if not isinstance(event.get(key), str) or not event.get(key):
            return f"the event has no {key}"
    request_type = event.get("RequestType")
    if not isinstance(request_type, str) or request_type not in cr.REQUEST_TYPES:
        return f"unsupported RequestType {str(request_type)[:40]!r}; expected Create, Update or Delete"
    return None


def handler(event: Any, context: Any) -> None:
    cr.install_redaction(response_url=event.get("ResponseURL") if isinstance(event, dict) else None)
    problem = _precheck(event)
    if problem:
        logger.error("Cannot process the request: %s", problem)
        if isinstance(event, dict) and isinstance(event.get("ResponseURL"), str):
            body = cr.build_response(event, cr.FAILED, f"Bad request: {problem}", fallback_physical_id(event), {})
            deliver(event, body, context)
        return
    if not isinstance(event.get("ResponseURL"), str):
        logger.error("Cannot process the request: the event has no ResponseURL, so nobody can be answered")
        return
    # crhelper's own polling keys would make it skip our functions (CrHelperPoll) or answer with foreign data
    # (CrHelperData); we never set them, so an event carrying them is not one crhelper may act on.
    event = {k: v for k, v in event.items() if k not in _CRHELPER_KEYS}
    helper.begin()
    try:
        helper(event, context)
    finally:
        if not helper.finished:
            # crhelper returned without answering (a bug on either side): never leave the stack waiting.
            helper._send(cr.FAILED, "The handler ended without an answer; see the function's log")
        helper.wait_for_delivery(context)
