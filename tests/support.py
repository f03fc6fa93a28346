"""The tests' test doubles: a Lambda context with a real deadline, a loopback Greengrass and a scripted client. The ones
the benchmark uses too (the offline environment, a virtual clock, CloudFormation events and the ResponseURL, the
loopback Lookout for Vision API) live in harness/ and are imported here under their old names."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from harness.clock import VirtualClock as VirtualClock
from harness.cloudformation import FUNCTION_ARN as FUNCTION_ARN
from harness.cloudformation import STACK_ID as STACK_ID
from harness.cloudformation import ResponseRecorder as ResponseRecorder
from harness.cloudformation import make_event as make_event
from harness.cloudformation import properties as properties
from harness.lookoutvision import COMPONENT_ARN as COMPONENT_ARN
from harness.lookoutvision import NOT_FOUND as NOT_FOUND
from harness.lookoutvision import FakeLookoutVision as FakeLookoutVision
from harness.lookoutvision import Step as Step
from harness.lookoutvision import description as description
from harness.lookoutvision import error as error
from harness.lookoutvision import malformed as malformed
from harness.lookoutvision import ok as ok
from harness.lookoutvision import packaged as packaged
from harness.lookoutvision import reset as reset
from harness.lookoutvision import slow as slow
from harness.lookoutvision import trickle as trickle
from harness.loopback import HarnessError as HarnessError
from harness.loopback import LoopbackServer as LoopbackServer
from harness.loopback import json_headers as _json_headers
from harness.loopback import read_body as read_body
from harness.loopback import reply as reply
from harness.loopback import wait_until as wait_until
from harness.offline import AWS_OFFLINE as AWS_OFFLINE
from harness.offline import OFFLINE_ENV as OFFLINE_ENV
from harness.offline import ONLINE_VARS as ONLINE_VARS
from harness.offline import offline_env as offline_env

# What CloudFormation must receive, written out here once as the tests' own expectation (not read from the product).
EXPECTED_BODY_KEYS = frozenset(
    "Status Reason PhysicalResourceId StackId RequestId LogicalResourceId NoEcho Data".split()
)
EXPECTED_DATA_KEYS = frozenset(
    "ComponentVersionArn ComponentName ComponentVersion Status StatusMessage ModelVersion ProjectName JobName "
    "CreationTimestamp LastUpdatedTimestamp".split()
)


class FakeContext:
    """The parts of the Lambda context the handler reads, with a deadline that really runs out."""

    def __init__(self, timeout_s: float = 900.0, function_arn: str = FUNCTION_ARN) -> None:
        self._deadline = time.monotonic() + timeout_s
        self.invoked_function_arn = function_arn
        self.function_name = function_arn.rsplit(":", 1)[-1]
        self.aws_request_id = str(uuid.uuid4())
        self.log_stream_name = "2026/11/29/[$LATEST]0123456789abcdef"
        self.memory_limit_in_mb = 128

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --- starting jobs (StartModelPackagingJob) and Greengrass ----------------------------------------------------------


def component_arn(name: str, version: str) -> str:
    return f"arn:aws:greengrass:us-east-1:123456789012:components:{name}:versions:{version}"


class FakeGreengrass(LoopbackServer):
    """Plays Greengrass V2 DescribeComponent on 127.0.0.1: ``script(arn, states)`` answers each request with the next
    componentState (or Step), the last one repeating; a version nobody scripted is the service's 404, or ``default``
    when one is given."""

    def __init__(self, default: str | None = None) -> None:
        super().__init__()
        self.default = default
        self.scripts: dict[str, list[str | Step]] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def script(self, arn: str, states: Iterable[str | Step]) -> None:
        with self._lock:
            self.scripts[arn] = list(states)

    def calls(self, arn: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if arn is None or r["arn"] == arn)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?")[0]
        prefix, suffix = "/greengrass/v2/components/", "/metadata"
        if not (path.startswith(prefix) and path.endswith(suffix)):
            reply(request, 404, b"{}", _json_headers({"x-amzn-ErrorType": "UnknownOperationException"}))
            return
        arn = unquote(path[len(prefix) : -len(suffix)])
        with self._lock:
            self.requests.append({"arn": arn, "at": time.monotonic(), "headers": dict(request.headers)})
            script = self.scripts.get(arn)
            step = self.default if script is None else (script.pop(0) if len(script) > 1 else script[0])
        if step is None:
            step = error(404, NOT_FOUND, f"Component version {arn} not found")
        if isinstance(step, Step):
            body = json.dumps({"message": step.message, **step.extra}).encode()
            reply(request, step.status, body, _json_headers({"x-amzn-ErrorType": step.error_type, **step.headers}))
            return
        state, _, message = step.partition(":")
        name, version = arn.split(":components:", 1)[1].split(":versions:")
        status = {
            "componentState": state,
            "message": message or "NONE",
            "errors": {"recipe": message} if message else {},
        }
        body = {"arn": arn, "componentName": name, "componentVersion": version, "status": status}
        reply(request, 200, json.dumps(body).encode(), _json_headers())


# --- scripted Lookout for Vision client (appended for the unit tests of packaging_job and step) --------------------

# A step: a description, an exception to raise, or a callable given the virtual time that returns a description.
ScriptStep = Any


class ScriptedClient:
    """Answers describe_model_packaging_job from a script of ScriptSteps on a VirtualClock; the last step repeats (a
    callable step is how a job changes status at a given moment)."""

    def __init__(self, vclock: VirtualClock, steps: list[ScriptStep]) -> None:
        self.vclock = vclock
        self.steps = list(steps)
        self.calls: list[float] = []
        self.params: list[dict[str, str]] = []

    def describe_model_packaging_job(self, **params: str) -> dict[str, Any]:
        self.calls.append(self.vclock.now())
        self.params.append(params)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        desc = step(self.vclock.now()) if callable(step) else step
        return {"ModelPackagingDescription": desc}


def client_error(code: str, status: int, message: str = "something went wrong", **response: Any) -> Any:
    """The ClientError botocore raises for a DescribeModelPackagingJob answered ``status`` with ``code``; ``response``
    adds top-level fields (a modeled ResourceType) or, as HTTPHeaders, headers."""
    from botocore.exceptions import ClientError

    headers = response.pop("HTTPHeaders", {})
    body: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
        **response,
    }
    return ClientError(body, "DescribeModelPackagingJob")


def answered_with(client_error: Any) -> Step:
    """The FakeLookoutVision step whose answer botocore raises as ``client_error`` (its status, code and message)."""
    response = client_error.response
    return error(
        response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]
    )
